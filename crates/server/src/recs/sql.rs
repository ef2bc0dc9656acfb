//! The recommendations SQL both stores share (see `crate::sql`).

/// Implements `RecsStore` for `$store`.
macro_rules! recs_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::recs::RecsStore for $store {
            async fn put_recs_model(
                &self,
                site: &str,
                model: &$crate::recs::Stored,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO recs_models (site, model, built_ms, items, events)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (site) DO UPDATE SET model = excluded.model,
                       built_ms = excluded.built_ms, items = excluded.items,
                       events = excluded.events",
                )
                .bind(site)
                .bind(&model.model)
                .bind(model.built_ms)
                .bind(model.items as i64)
                .bind(model.events as i64)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn recs_model(
                &self,
                site: &str,
            ) -> Result<Option<$crate::recs::Stored>, StoreError> {
                let row = sqlx::query(
                    "SELECT model, built_ms, items, events FROM recs_models WHERE site = $1",
                )
                .bind(site)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.map(|r| $crate::recs::Stored {
                    model: r.get("model"),
                    built_ms: r.get("built_ms"),
                    items: r.get::<i64, _>("items") as u64,
                    events: r.get::<i64, _>("events") as u64,
                }))
            }
        }
    };
}

pub(crate) use recs_store;
