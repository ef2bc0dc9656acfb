//! The segment SQL both stores share (see `crate::sql`).

/// Implements `SegmentStore` for `$store` over database `$db` (after
/// `sql_store!` and `webhook_store!`, whose helpers it uses). `$ids` is the
/// database's table of the ids in one bound list (a column `value`) with
/// the list's placeholder as `{}`, and `$list` makes that bound list from
/// ids. `$agg` gathers the column `anon` of the rows selected into one JSON
/// array of text. `$refreshing` (when `Some`) is the statement that begins
/// a transaction changing a site's members (`$1` the site): it must make
/// such transactions of one site run one at a time, as SQLite's
/// `BEGIN IMMEDIATE` already does, so that the members each one reads are
/// the members it changes.
macro_rules! segment_store {
    ($store:ty, $db:ty, $begin:expr, $ids:literal, $list:path, $agg:literal, $refreshing:expr) => {
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

        /// Runs a statement that enters or removes members: the ids it
        /// changed (only when `returning`, the statement then ends in
        /// `RETURNING anon`) and how many.
        async fn run_changing<'q>(
            query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            tx: &mut sqlx::Transaction<'_, $db>,
            returning: bool,
        ) -> Result<(Vec<String>, u64), StoreError> {
            if returning {
                let rows = query.fetch_all(&mut **tx).await.map_err(db)?;
                let ids: Vec<String> = rows.iter().map(|r| r.get::<String, _>("anon")).collect();
                let n = ids.len() as u64;
                Ok((ids, n))
            } else {
                let n = query.execute(&mut **tx).await.map_err(db)?.rows_affected();
                Ok((Vec::new(), n))
            }
        }

        /// Adds `counts` (entered, exited) to the segment's day and, when
        /// `sent` holds who entered and who left, queues a webhook for each.
        async fn record_changes(
            tx: &mut sqlx::Transaction<'_, $db>,
            site: &str,
            segment: &str,
            counts: (u64, u64),
            sent: Option<(&Vec<String>, &Vec<String>)>,
            now_ms: i64,
        ) -> Result<(), StoreError> {
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
            .bind(i64::try_from(counts.0).unwrap_or(i64::MAX))
            .bind(i64::try_from(counts.1).unwrap_or(i64::MAX))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
            if let Some((entered, exited)) = sent {
                for (kind, list) in [("segment.entered", entered), ("segment.left", exited)] {
                    for anon in list {
                        let data = serde_json::json!({
                            "site": site, "segment": segment, "anon": anon, "at_ms": now_ms,
                        });
                        enqueue_webhooks(tx, site, None, kind, &data, now_ms).await?;
                    }
                }
            }
            Ok(())
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

            async fn segment_facts(
                &self,
                site: &str,
                after: &str,
                limit: u32,
            ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT anon, facts FROM segment_facts
                     WHERE site = $1 AND anon > $2 ORDER BY anon LIMIT $3",
                )
                .bind(site)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows.iter().map(|r| (r.get("anon"), r.get("facts"))).collect())
            }

            async fn facts_missing(&self, site: &str) -> Result<u64, StoreError> {
                // Profiles and their facts are written together, so only a
                // shopper still waiting for the rollup job can lack them.
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM rollup_pending q
                     WHERE q.site = $1
                       AND EXISTS (SELECT 1 FROM rollup_profiles p
                                   WHERE p.site = q.site AND p.anon = q.anon)
                       AND NOT EXISTS (SELECT 1 FROM segment_facts f
                                       WHERE f.site = q.site AND f.anon = q.anon)",
                )
                .bind(site)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn set_members_between(
                &self,
                site: &str,
                (after, through): (&str, Option<&str>),
                segments: &[$crate::segments::RangeMembers<'_>],
                now_ms: i64,
            ) -> Result<Vec<(u64, u64)>, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                if let Some(statement) = $refreshing {
                    sqlx::query(statement).bind(site).execute(&mut *tx).await.map_err(db)?;
                }
                let within = if through.is_some() { " AND anon <= $4" } else { "" };
                let current = format!(
                    "SELECT {} FROM segment_members
                     WHERE site = $1 AND segment = $2 AND anon > $3{within}",
                    $agg
                );
                let mut counts = Vec::with_capacity(segments.len());
                let mut changed_any = false;
                for s in segments {
                    // Who is a member now, as one JSON array (a row per
                    // member would cost more than the comparison).
                    let mut query = sqlx::query_scalar::<_, Option<String>>(&current)
                        .bind(site)
                        .bind(s.segment)
                        .bind(after);
                    if let Some(through) = through {
                        query = query.bind(through);
                    }
                    let members: Vec<String> = match query.fetch_one(&mut *tx).await.map_err(db)? {
                        Some(json) => serde_json::from_str(&json).map_err(|e| {
                            StoreError::Database(format!("the members of `{}` did not read: {e}", s.segment))
                        })?,
                        None => Vec::new(),
                    };
                    let (enter, leave) = $crate::segments::differences(&members, s.matching);
                    // Members change one transaction at a time, so what
                    // was read is what is changed: two servers refreshing
                    // together change each membership once between them.
                    // The ids only when sent.
                    let returning = if s.notify { " RETURNING anon" } else { "" };
                    let (mut exited, n_exited) = if leave.is_empty() {
                        (Vec::new(), 0)
                    } else {
                        let leave_ids = $list(&leave);
                        let sql = format!(
                            "DELETE FROM segment_members
                             WHERE site = $1 AND segment = $2
                               AND anon IN (SELECT value FROM {}){returning}",
                            format!($ids, "$3")
                        );
                        let query = sqlx::query(&sql).bind(site).bind(s.segment).bind(&leave_ids);
                        run_changing(query, &mut tx, s.notify).await?
                    };
                    let (mut entered, n_entered) = if enter.is_empty() {
                        (Vec::new(), 0)
                    } else {
                        let enter_ids = $list(&enter);
                        let sql = format!(
                            "INSERT INTO segment_members (site, segment, anon, entered_ms)
                             SELECT $1, $2, value, $3 FROM {}{returning}",
                            format!($ids, "$4")
                        );
                        let query = sqlx::query(&sql)
                            .bind(site)
                            .bind(s.segment)
                            .bind(now_ms)
                            .bind(&enter_ids);
                        run_changing(query, &mut tx, s.notify).await?
                    };
                    if n_entered > 0 || n_exited > 0 {
                        changed_any = true;
                        entered.sort_unstable();
                        exited.sort_unstable();
                        record_changes(
                            &mut tx,
                            site,
                            s.segment,
                            (n_entered, n_exited),
                            s.notify.then_some((&entered, &exited)),
                            now_ms,
                        )
                        .await?;
                    }
                    counts.push((n_entered, n_exited));
                }
                if changed_any {
                    tx.commit().await.map_err(db)?;
                } else {
                    tx.rollback().await.map_err(db)?;
                }
                Ok(counts)
            }

            async fn refreshed(
                &self,
                site: &str,
                segment: &str,
                now_ms: i64,
                members: u64,
            ) -> Result<(), StoreError> {
                let n = i64::try_from(members).unwrap_or(i64::MAX);
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
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
                Ok(())
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
