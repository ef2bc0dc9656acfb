//! The catalog SQL both stores share (see `crate::sql`).

/// Implements `CatalogStore` for `$store` over database `$db`; `$begin`
/// starts a transaction that will write (see `crate::sql`: a feed reads
/// before it writes, and SQLite's deferred transaction would then fail to
/// take the write lock while the server is ingesting events).
macro_rules! catalog_store {
    ($store:ty, $db:ty, $begin:expr) => {
        #[async_trait::async_trait]
        impl $crate::catalog::CatalogStore for $store {
            async fn put_items(
                &self,
                site: &str,
                items: &[$crate::catalog::Item],
                feed_ms: i64,
            ) -> Result<u64, StoreError> {
                if items.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let mut known = sqlx::QueryBuilder::<$db>::new(
                    "SELECT COUNT(*) FROM catalog_items WHERE site = ",
                );
                known.push_bind(site).push(" AND item_id IN (");
                let mut list = known.separated(", ");
                for item in items {
                    list.push_bind(&item.id);
                }
                list.push_unseparated(")");
                let known: i64 = known
                    .build_query_scalar()
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO catalog_items (site, item_id, name, url, image, price, \
                     sale_price, category, brand, in_stock, feed_ms) ",
                );
                query.push_values(items, |mut row, item| {
                    row.push_bind(site)
                        .push_bind(&item.id)
                        .push_bind(&item.name)
                        .push_bind(&item.url)
                        .push_bind(&item.image)
                        .push_bind(item.price)
                        .push_bind(item.sale_price)
                        .push_bind(&item.category)
                        .push_bind(&item.brand)
                        .push_bind(i64::from(item.in_stock))
                        .push_bind(feed_ms);
                });
                query.push(
                    " ON CONFLICT (site, item_id) DO UPDATE SET name = excluded.name, \
                     url = excluded.url, image = excluded.image, price = excluded.price, \
                     sale_price = excluded.sale_price, category = excluded.category, \
                     brand = excluded.brand, in_stock = excluded.in_stock, \
                     feed_ms = excluded.feed_ms",
                );
                query.build().execute(&mut *tx).await.map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(items.len() as u64 - known as u64)
            }

            async fn touch_items(
                &self,
                site: &str,
                ids: &[String],
                feed_ms: i64,
            ) -> Result<(), StoreError> {
                if ids.is_empty() {
                    return Ok(());
                }
                let mut query =
                    sqlx::QueryBuilder::<$db>::new("UPDATE catalog_items SET feed_ms = ");
                query.push_bind(feed_ms);
                query
                    .push(" WHERE site = ")
                    .push_bind(site)
                    .push(" AND item_id IN (");
                let mut list = query.separated(", ");
                for id in ids {
                    list.push_bind(id);
                }
                list.push_unseparated(")");
                query.build().execute(&self.pool).await.map_err(db)?;
                Ok(())
            }

            async fn retire_unlisted(&self, site: &str, feed_ms: i64) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE catalog_items SET in_stock = 0
                     WHERE site = $1 AND feed_ms < $2 AND in_stock = 1",
                )
                .bind(site)
                .bind(feed_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected())
            }

            async fn catalog_page(
                &self,
                site: &str,
                after: &str,
                limit: u32,
            ) -> Result<Vec<$crate::catalog::Item>, StoreError> {
                let rows = sqlx::query(
                    "SELECT item_id, name, url, image, price, sale_price, category, brand, in_stock
                     FROM catalog_items WHERE site = $1 AND item_id > $2
                     ORDER BY item_id LIMIT $3",
                )
                .bind(site)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .iter()
                    .map(|r| $crate::catalog::Item {
                        id: r.get("item_id"),
                        name: r.get("name"),
                        url: r.get("url"),
                        image: r.get("image"),
                        price: r.get("price"),
                        sale_price: r.get("sale_price"),
                        category: r.get("category"),
                        brand: r.get("brand"),
                        in_stock: r.get::<i64, _>("in_stock") != 0,
                    })
                    .collect())
            }

            async fn catalog_counts(&self, site: &str) -> Result<(u64, u64), StoreError> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS items, COUNT(CASE WHEN in_stock = 1 THEN 1 END) AS in_stock
                     FROM catalog_items WHERE site = $1",
                )
                .bind(site)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                let items: i64 = row.get("items");
                let in_stock: i64 = row.get("in_stock");
                Ok((items as u64, in_stock as u64))
            }
        }
    };
}

pub(crate) use catalog_store;
