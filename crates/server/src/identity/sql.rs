//! The identity SQL both stores share (see `crate::sql`).

/// Implements `IdentityStore` for `$store` over database `$db`.
macro_rules! identity_store {
    ($store:ty, $db:ty, $begin:expr) => {
        #[async_trait::async_trait]
        impl $crate::identity::IdentityStore for $store {
            async fn set_identity_secret(
                &self,
                site: &str,
                secret: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO identity_secrets (site, secret, created_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (site) DO UPDATE SET secret = excluded.secret,
                       created_ms = excluded.created_ms",
                )
                .bind(site)
                .bind(secret)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn identity_secret(&self, site: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT secret FROM identity_secrets WHERE site = $1")
                    .bind(site)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn link(
                &self,
                site: &str,
                anon: &str,
                customer: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO identities (site, anon, customer, linked_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (site, anon) DO UPDATE SET customer = excluded.customer,
                       linked_ms = excluded.linked_ms",
                )
                .bind(site)
                .bind(anon)
                .bind(customer)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn customer_of(&self, site: &str, anon: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT customer FROM identities WHERE site = $1 AND anon = $2")
                    .bind(site)
                    .bind(anon)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn ids_of(&self, site: &str, customer: &str) -> Result<Vec<String>, StoreError> {
                sqlx::query_scalar(
                    "SELECT anon FROM identities WHERE site = $1 AND customer = $2 ORDER BY linked_ms, anon",
                )
                .bind(site)
                .bind(customer)
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }
        }
    };
}

pub(crate) use identity_store;
