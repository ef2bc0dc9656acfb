//! The segment SQL both stores share (see `crate::sql`).

/// Implements `SegmentStore` for `$store` over database `$db` (after
/// `sql_store!` and `webhook_store!`, whose helpers it uses).
macro_rules! segment_store {
    ($store:ty, $db:ty, $begin:expr) => {
        /// Memberships one statement enters or removes (5 parameters each,
        /// far under SQLite's limit of 32,766).
        const MEMBERS_PER_STATEMENT: usize = 2000;

        /// Runs `query`, which ends `RETURNING anon`, in `tx`: the ids it
        /// returned.
        async fn returned_anons(
            mut query: sqlx::QueryBuilder<'_, $db>,
            tx: &mut sqlx::Transaction<'_, $db>,
        ) -> Result<Vec<String>, StoreError> {
            Ok(query
                .build()
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.get::<String, _>("anon"))
                .collect())
        }

        fn segment_from(r: &<$db as sqlx::Database>::Row) -> $crate::segments::Segment {
            let condition: String = r.get("condition");
            let builtin: i32 = r.get("builtin");
            let members: i64 = r.get("members");
            $crate::segments::Segment {
                site: r.get("site"),
                id: r.get("id"),
                name: r.get("name"),
                condition: serde_json::from_str(&condition).unwrap_or(serde_json::Value::Null),
                builtin: builtin != 0,
                created_ms: r.get("created_ms"),
                refreshed_ms: r.get("refreshed_ms"),
                members: u64::try_from(members).unwrap_or(0),
            }
        }

        #[async_trait::async_trait]
        impl $crate::segments::SegmentStore for $store {
            async fn put_segment(&self, s: &$crate::segments::Segment) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO segments (site, id, name, condition, builtin, created_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (site, id) DO UPDATE SET name = excluded.name,
                       condition = excluded.condition",
                )
                .bind(&s.site)
                .bind(&s.id)
                .bind(&s.name)
                .bind(s.condition.to_string())
                .bind(i32::from(s.builtin))
                .bind(s.created_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn segments(&self, site: &str) -> Result<Vec<$crate::segments::Segment>, StoreError> {
                let rows = sqlx::query(
                    "SELECT site, id, name, condition, builtin, created_ms, refreshed_ms, members
                     FROM segments WHERE site = $1 ORDER BY builtin DESC, created_ms, id",
                )
                .bind(site)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows.iter().map(segment_from).collect())
            }

            async fn delete_segment(&self, site: &str, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                for table in ["segment_members", "segment_days"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE site = $1 AND segment = $2"))
                        .bind(site)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                let gone = sqlx::query("DELETE FROM segments WHERE site = $1 AND id = $2")
                    .bind(site)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
                tx.commit().await.map_err(db)?;
                Ok(gone == 1)
            }

            async fn members_in(
                &self,
                site: &str,
                segment: &str,
                buckets: (u32, u32),
            ) -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query(
                    "SELECT anon FROM segment_members
                     WHERE site = $1 AND segment = $2 AND bucket >= $3 AND bucket < $4",
                )
                .bind(site)
                .bind(segment)
                .bind(i64::from(buckets.0))
                .bind(i64::from(buckets.1))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows.iter().map(|r| r.get("anon")).collect())
            }

            async fn apply_changes(
                &self,
                site: &str,
                segment: &str,
                changes: &$crate::segments::Changes,
                now_ms: i64,
                notify: bool,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                // Only what this transaction really changed counts and is
                // sent: two servers refreshing together change each
                // membership once between them.
                // Many rows per statement: a first fill enters most of the
                // site's shoppers at once.
                let mut entered: Vec<String> = Vec::new();
                let mut exited: Vec<String> = Vec::new();
                for part in changes.entered.chunks(MEMBERS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO segment_members (site, segment, anon, bucket, entered_ms) ",
                    );
                    query.push_values(part, |mut row, anon| {
                        row.push_bind(site)
                            .push_bind(segment)
                            .push_bind(anon)
                            .push_bind(bucket(anon))
                            .push_bind(now_ms);
                    });
                    query.push(" ON CONFLICT (site, segment, anon) DO NOTHING RETURNING anon");
                    entered.extend(returned_anons(query, &mut tx).await?);
                }
                for part in changes.exited.chunks(MEMBERS_PER_STATEMENT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "DELETE FROM segment_members WHERE site = ",
                    );
                    query
                        .push_bind(site)
                        .push(" AND segment = ")
                        .push_bind(segment)
                        .push(" AND anon IN (");
                    let mut list = query.separated(", ");
                    for anon in part {
                        list.push_bind(anon);
                    }
                    list.push_unseparated(") RETURNING anon");
                    exited.extend(returned_anons(query, &mut tx).await?);
                }
                // In the order asked (RETURNING promises none).
                let order = |asked: &[String], done: Vec<String>| -> Vec<String> {
                    let done: std::collections::HashSet<String> = done.into_iter().collect();
                    asked.iter().filter(|a| done.contains(*a)).cloned().collect()
                };
                let entered = order(&changes.entered, entered);
                let exited = order(&changes.exited, exited);
                sqlx::query(
                    "INSERT INTO segment_days (site, segment, day, entered, exited, members)
                     VALUES ($1, $2, $3, $4, $5, 0)
                     ON CONFLICT (site, segment, day) DO UPDATE SET
                       entered = segment_days.entered + excluded.entered,
                       exited = segment_days.exited + excluded.exited",
                )
                .bind(site)
                .bind(segment)
                .bind(now_ms.div_euclid(86_400_000))
                .bind(entered.len() as i64)
                .bind(exited.len() as i64)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if notify {
                    for (kind, list) in [("segment.entered", &entered), ("segment.left", &exited)] {
                        for anon in list {
                            let data = serde_json::json!({
                                "site": site, "segment": segment, "anon": anon, "at_ms": now_ms,
                            });
                            enqueue_webhooks(&mut tx, site, None, kind, &data, now_ms).await?;
                        }
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn refreshed(&self, site: &str, segment: &str, now_ms: i64) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM segment_members WHERE site = $1 AND segment = $2",
                )
                .bind(site)
                .bind(segment)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query("UPDATE segments SET refreshed_ms = $3, members = $4 WHERE site = $1 AND id = $2")
                    .bind(site)
                    .bind(segment)
                    .bind(now_ms)
                    .bind(n)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                sqlx::query(
                    "INSERT INTO segment_days (site, segment, day, entered, exited, members)
                     VALUES ($1, $2, $3, 0, 0, $4)
                     ON CONFLICT (site, segment, day) DO UPDATE SET members = excluded.members",
                )
                .bind(site)
                .bind(segment)
                .bind(now_ms.div_euclid(86_400_000))
                .bind(n)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn members(
                &self,
                site: &str,
                segment: &str,
                after: &str,
                limit: u32,
            ) -> Result<Vec<(String, i64, Option<String>)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT m.anon, m.entered_ms, i.customer FROM segment_members m
                     LEFT JOIN identities i ON i.site = m.site AND i.anon = m.anon
                     WHERE m.site = $1 AND m.segment = $2 AND m.anon > $3 ORDER BY m.anon LIMIT $4",
                )
                .bind(site)
                .bind(segment)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get("anon"), r.get("entered_ms"), r.get("customer")))
                    .collect())
            }

            async fn segment_days(
                &self,
                site: &str,
                segment: &str,
                from_day: i64,
            ) -> Result<Vec<$crate::segments::SegmentDay>, StoreError> {
                let rows = sqlx::query(
                    "SELECT day, entered, exited, members FROM segment_days
                     WHERE site = $1 AND segment = $2 AND day >= $3 ORDER BY day",
                )
                .bind(site)
                .bind(segment)
                .bind(from_day)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let n = |r: &<$db as sqlx::Database>::Row, c: &str| -> u64 {
                    u64::try_from(r.get::<i64, _>(c)).unwrap_or(0)
                };
                Ok(rows
                    .iter()
                    .map(|r| $crate::segments::SegmentDay {
                        day: r.get("day"),
                        entered: n(r, "entered"),
                        exited: n(r, "exited"),
                        members: n(r, "members"),
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use segment_store;
