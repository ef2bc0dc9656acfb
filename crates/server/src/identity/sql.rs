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

            async fn link_unerased(
                &self,
                site: &str,
                pairs: &[(String, String)],
                now_ms: i64,
            ) -> Result<Vec<String>, StoreError> {
                use sha2::Digest;
                let mut erased = Vec::new();
                for chunk in pairs.chunks(500) {
                    let hashes: Vec<String> = chunk
                        .iter()
                        .map(|(anon, _)| hex::encode(sha2::Sha256::digest(anon.as_bytes())))
                        .collect();
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT anon_hash FROM erased WHERE site = ",
                    );
                    query.push_bind(site).push(" AND anon_hash IN (");
                    let mut list = query.separated(", ");
                    for h in &hashes {
                        list.push_bind(h);
                    }
                    list.push_unseparated(")");
                    let gone: std::collections::HashSet<String> = query
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| r.get::<String, _>("anon_hash"))
                        .collect();
                    let keep: Vec<&(String, String)> = chunk
                        .iter()
                        .zip(&hashes)
                        .filter_map(|(pair, h)| {
                            if gone.contains(h) {
                                erased.push(pair.0.clone());
                                None
                            } else {
                                Some(pair)
                            }
                        })
                        .collect();
                    if keep.is_empty() {
                        continue;
                    }
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO identities (site, anon, customer, linked_ms) ",
                    );
                    query.push_values(keep, |mut row, (anon, customer)| {
                        row.push_bind(site)
                            .push_bind(anon)
                            .push_bind(customer)
                            .push_bind(now_ms);
                    });
                    query.push(
                        " ON CONFLICT (site, anon) DO UPDATE SET customer = excluded.customer",
                    );
                    query.build().execute(&self.pool).await.map_err(db)?;
                }
                Ok(erased)
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
