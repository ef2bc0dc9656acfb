//! The segment SQL both stores share (see `crate::sql`).

/// Implements `SegmentStore` for `$store` over database `$db` (after
/// `sql_store!` and `webhook_store!`, whose helpers it uses). `$ids` is the
/// database's table of the ids in one bound list (a column `value`) with
/// the list's placeholder as `{}`, and `$list` makes that bound list from
/// ids. `$lock` (when `Some`) is the statement that begins a transaction
/// changing a site's members (`$1` the site): it must make such
/// transactions of one site (a refresh's ranges, an erasure) run one at a
/// time, as SQLite's `BEGIN IMMEDIATE` already does, so that the members
/// each one reads are the members it changes. `$lazy` (when `Some`) makes
/// a refresh's transaction commit without waiting for the disk (the next
/// refresh makes whatever a crash lost again).
macro_rules! segment_store {
    ($store:ty, $db:ty, $begin:expr, $ids:literal, $list:path, $lock:expr, $lazy:expr) => {
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

        /// Begins a change of the site's members in `tx`: it waits for any
        /// other of the same site (see `$lock`).
        async fn members_changing(
            tx: &mut sqlx::Transaction<'_, $db>,
            site: &str,
        ) -> Result<(), StoreError> {
            if let Some(statement) = $lock {
                sqlx::query(statement).bind(site).execute(&mut **tx).await.map_err(db)?;
            }
            Ok(())
        }

        /// Adds `counts` (entered, exited) to the segment's day and, when
        /// `sent` holds who entered and who left, queues a webhook for each.
        async fn record_changes(
            tx: &mut sqlx::Transaction<'_, $db>,
            site: &str,
            segment: &str,
            counts: (u64, u64),
            sent: Option<(&[&str], &[&str])>,
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
                for table in ["segment_runs", "segment_days"] {
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
                members_changing(&mut tx, site).await?;
                if let Some(statement) = $lazy {
                    sqlx::query(statement).execute(&mut *tx).await.map_err(db)?;
                }
                // The runs that hold members of the range: the last one
                // starting at or before it when it reaches into it, and
                // every one starting in it (a run starting at `through`
                // holds only ids past it).
                let within = if through.is_some() { " AND after_anon < $4" } else { "" };
                let overlapping = format!(
                    "SELECT after_anon, packed FROM segment_runs
                     WHERE site = $1 AND segment = $2 AND after_anon >= COALESCE(
                       (SELECT MAX(after_anon) FROM segment_runs
                        WHERE site = $1 AND segment = $2 AND after_anon <= $3), '')
                       AND last_anon > $3{within}
                     ORDER BY after_anon"
                );
                let mut counts = Vec::with_capacity(segments.len());
                let mut changed_any = false;
                for s in segments {
                    let mut query = sqlx::query(&overlapping).bind(site).bind(s.segment).bind(after);
                    if let Some(through) = through {
                        query = query.bind(through);
                    }
                    let rows = query.fetch_all(&mut *tx).await.map_err(db)?;
                    let runs: Vec<(String, String)> =
                        rows.iter().map(|r| (r.get("after_anon"), r.get("packed"))).collect();
                    let keys: Vec<&str> = runs.iter().map(|(key, _)| key.as_str()).collect();
                    let mut members = Vec::new();
                    for (key, packed) in &runs {
                        members.extend($crate::segments::runs::read(s.segment, key, packed)?);
                    }
                    let first_key = keys.first().copied().unwrap_or_default();
                    let split = $crate::segments::runs::split(members, after, through);
                    let (before, beyond) = (split.before, split.beyond);
                    let changed = $crate::segments::runs::change(split.inside, s.matching, now_ms);
                    let (now, entered, left) = (changed.members, changed.entered, changed.left);
                    // Members change one transaction at a time, so what
                    // was read is what is changed: two servers refreshing
                    // together change each membership once between them.
                    let aligned = keys.len() == 1 && keys[0] == after && beyond.is_empty();
                    let unchanged = entered.is_empty() && left.is_empty();
                    if !(unchanged && (aligned || (keys.is_empty() && now.is_empty()))) {
                        // Written again as runs that never straddle the
                        // range: what came before it, the range, what
                        // follows it.
                        if !keys.is_empty() {
                            let sql = format!(
                                "DELETE FROM segment_runs WHERE site = $1 AND segment = $2
                                   AND after_anon IN (SELECT value FROM {})",
                                format!($ids, "$3")
                            );
                            sqlx::query(&sql)
                                .bind(site)
                                .bind(s.segment)
                                .bind($list(&keys))
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                        }
                        for (key, run) in [
                            (first_key, &before),
                            (after, &now),
                            (through.unwrap_or_default(), &beyond),
                        ] {
                            if run.is_empty() {
                                continue;
                            }
                            sqlx::query(
                                "INSERT INTO segment_runs (site, segment, after_anon, last_anon, packed)
                                 VALUES ($1, $2, $3, $4, $5)",
                            )
                            .bind(site)
                            .bind(s.segment)
                            .bind(key)
                            .bind(run.last().map(|(anon, _)| *anon).unwrap_or_default())
                            .bind($crate::segments::runs::pack(run))
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                        changed_any = true;
                    }
                    let (n_entered, n_exited) = (entered.len() as u64, left.len() as u64);
                    if n_entered > 0 || n_exited > 0 {
                        record_changes(
                            &mut tx,
                            site,
                            s.segment,
                            (n_entered, n_exited),
                            s.notify.then_some((entered.as_slice(), left.as_slice())),
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
                // The run that may hold the first members after `after`,
                // then the runs that follow, until the page is full.
                let mut run = sqlx::query(
                    "SELECT after_anon, packed FROM segment_runs
                     WHERE site = $1 AND segment = $2 AND after_anon >= COALESCE(
                       (SELECT MAX(after_anon) FROM segment_runs
                        WHERE site = $1 AND segment = $2 AND after_anon < $3), '')
                       AND last_anon > $3
                     ORDER BY after_anon LIMIT 1",
                )
                .bind(site)
                .bind(segment)
                .bind(after)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                let mut page: Vec<(String, i64)> = Vec::new();
                while let Some(row) = run {
                    let key: String = row.get("after_anon");
                    let packed: String = row.get("packed");
                    let members = $crate::segments::runs::read(segment, &key, &packed)?;
                    page.extend(
                        members
                            .into_iter()
                            .filter(|(anon, _)| anon.as_bytes() > after.as_bytes())
                            .take(limit as usize - page.len())
                            .map(|(anon, at)| (anon.to_string(), at)),
                    );
                    if page.len() >= limit as usize {
                        break;
                    }
                    run = sqlx::query(
                        "SELECT after_anon, packed FROM segment_runs
                         WHERE site = $1 AND segment = $2 AND after_anon > $3
                         ORDER BY after_anon LIMIT 1",
                    )
                    .bind(site)
                    .bind(segment)
                    .bind(&key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                }
                // The customers they identified as, for this page's ids.
                let ids: Vec<&str> = page.iter().map(|(anon, _)| anon.as_str()).collect();
                let sql = format!(
                    "SELECT anon, customer FROM identities
                     WHERE site = $1 AND anon IN (SELECT value FROM {})",
                    format!($ids, "$2")
                );
                let customers: std::collections::HashMap<String, String> = if ids.is_empty() {
                    Default::default()
                } else {
                    sqlx::query(&sql)
                        .bind(site)
                        .bind($list(&ids))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| (r.get("anon"), r.get("customer")))
                        .collect()
                };
                Ok(page
                    .into_iter()
                    .map(|(anon, entered)| {
                        let customer = customers.get(&anon).cloned();
                        (anon, entered, customer)
                    })
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
