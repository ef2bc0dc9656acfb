//! The SQL both stores share. SQLite and PostgreSQL take the same
//! statements (positional `$n` parameters, `ON CONFLICT`, `CAST`), so one
//! body implements [`crate::store::Store`] for each; only connecting and
//! migrating differ, in `sqlite.rs` and `postgres.rs`.

/// Implements `Store` for `$store` (with a `pool` field) over database
/// `$db` whose rows are `$row`; `$begin` starts a transaction that will
/// write (SQLite's `BEGIN IMMEDIATE` takes the write lock up front, so a
/// transaction that reads first never fails to upgrade under load).
macro_rules! sql_store {
    ($store:ty, $db:ty, $row:ty, $begin:expr, $for_update:expr) => {
        /// Runs the numbered, append-only migrations not yet applied, each
        /// in its own transaction. `lock` (a statement) serialises servers
        /// migrating one database together.
        async fn run_migrations(
            pool: &sqlx::Pool<$db>,
            migrations: &[(i64, &str)],
            lock: Option<&str>,
        ) -> Result<(), StoreError> {
            let begin = || async {
                let mut tx = pool.begin_with($begin).await.map_err(db)?;
                if let Some(lock) = lock {
                    sqlx::query(lock).execute(&mut *tx).await.map_err(db)?;
                }
                Ok::<_, StoreError>(tx)
            };
            let mut tx = begin().await?;
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS schema_checksums (version BIGINT PRIMARY KEY, checksum TEXT NOT NULL)",
            )
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            for (version, sql) in migrations {
                let mut tx = begin().await?;
                let done: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                let sum = crate::migrations::checksum(sql);
                let kept: Option<String> =
                    sqlx::query_scalar("SELECT checksum FROM schema_checksums WHERE version = $1")
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                match (done, kept) {
                    (None, _) => {
                        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
                        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                            .bind(version)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                    }
                    (Some(_), Some(kept)) if kept != sum => {
                        return Err(StoreError::Database(format!(
                            "migration {version} was changed after it was applied to this database \
                             (applied {kept}, now {sum}); restore its text and add a new migration instead"
                        )));
                    }
                    _ => {}
                }
                // Applied before checksums were kept: what is there now is
                // taken as what ran.
                sqlx::query(
                    "INSERT INTO schema_checksums (version, checksum) VALUES ($1, $2)
                     ON CONFLICT (version) DO NOTHING",
                )
                .bind(version)
                .bind(&sum)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
            }
            Ok(())
        }

        /// An event from a row of `events`.
        fn event_of(r: &$row) -> Event {
            Event {
                id: r.get("id"),
                kind: r.get("type"),
                ts: r.get("ts"),
                anon: r.get("anon"),
                campaign: r.get("campaign"),
                variant: r.get("variant"),
                item: r.get("item"),
                category: r.get("category"),
                price: r.get("price"),
                answer: r
                    .get::<Option<i64>, _>("answer")
                    .and_then(|a| u8::try_from(a).ok()),
            }
        }

        /// An API token from a row of `api_tokens`.
        fn api_token_row(r: &$row) -> $crate::store::ApiToken {
            $crate::store::ApiToken {
                name: r.get("name"),
                created_by: r.get("created_by"),
                created_ms: r.get("created_ms"),
                expires_ms: r.get("expires_ms"),
                site: r.get("site"),
                role: r.get("role"),
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::SiteStore for $store {
            async fn site(&self, id: &str) -> Result<Option<Site>, StoreError> {
                let row = sqlx::query("SELECT id, name, allowed_origins FROM sites WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                let Some(row) = row else { return Ok(None) };
                let origins: String = row.get("allowed_origins");
                Ok(Some(Site {
                    id: row.get("id"),
                    name: row.get("name"),
                    allowed_origins: serde_json::from_str(&origins)
                        .map_err(|e| StoreError::Corrupt(format!("allowed_origins of `{id}`: {e}")))?,
                }))
            }

            async fn put_site(&self, site: &Site, now_ms: i64) -> Result<(), StoreError> {
                let origins = serde_json::to_string(&site.allowed_origins)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO sites (id, name, allowed_origins, created_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, allowed_origins = excluded.allowed_origins",
                )
                .bind(&site.id)
                .bind(&site.name)
                .bind(origins)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn set_redeem_key(&self, site: &str, key_hash: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE sites SET redeem_key_hash = $2 WHERE id = $1")
                    .bind(site)
                    .bind(key_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn signing_key(&self, site: &str) -> Result<Option<String>, StoreError> {
                let row: Option<Option<String>> =
                    sqlx::query_scalar("SELECT signing_key FROM sites WHERE id = $1")
                        .bind(site)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(row.flatten())
            }

            async fn set_signing_key_if_missing(
                &self,
                site: &str,
                key_hex: &str,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE sites SET signing_key = $2 WHERE id = $1 AND signing_key IS NULL")
                    .bind(site)
                    .bind(key_hex)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn redeem_key(&self, site: &str) -> Result<Option<String>, StoreError> {
                let row: Option<Option<String>> =
                    sqlx::query_scalar("SELECT redeem_key_hash FROM sites WHERE id = $1")
                        .bind(site)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(row.flatten())
            }

            async fn sites(&self) -> Result<Vec<Site>, StoreError> {
                let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM sites ORDER BY id")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let mut out = Vec::new();
                for id in ids {
                    if let Some(site) = self.site(&id).await? {
                        out.push(site);
                    }
                }
                Ok(out)
            }

            async fn site_settings(
                &self,
                site: &str,
            ) -> Result<Option<$crate::store::SiteSettings>, StoreError> {
                let row = sqlx::query("SELECT settings, retention_days FROM sites WHERE id = $1")
                    .bind(site)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(row.map(|r| $crate::store::SiteSettings {
                    settings: r.get::<String, _>("settings"),
                    retention_days: u32::try_from(r.get::<i64, _>("retention_days")).unwrap_or(90),
                }))
            }

            async fn put_site_settings(
                &self,
                site: &str,
                settings: &str,
                retention_days: u32,
            ) -> Result<(), StoreError> {
                let done = sqlx::query("UPDATE sites SET settings = $2, retention_days = $3 WHERE id = $1")
                    .bind(site)
                    .bind(settings)
                    .bind(i64::from(retention_days))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::UnknownSite(site.to_string()));
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::ConfigStore for $store {
            async fn publish(
                &self,
                site: &str,
                render: &(dyn Fn(u64) -> String + Send + Sync),
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let exists: Option<String> = sqlx::query_scalar("SELECT id FROM sites WHERE id = $1")
                    .bind(site)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                if exists.is_none() {
                    return Err(StoreError::UnknownSite(site.to_string()));
                }
                let last: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM config_versions WHERE site = $1")
                        .bind(site)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                let version = u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1;
                let stored = i64::try_from(version).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO config_versions (site, version, body, created_ms) VALUES ($1, $2, $3, $4)",
                )
                .bind(site)
                .bind(stored)
                .bind(render(version))
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(version)
            }

            async fn published(&self, site: &str) -> Result<Option<Published>, StoreError> {
                let row = sqlx::query(
                    "SELECT version, body FROM config_versions WHERE site = $1 ORDER BY version DESC LIMIT 1",
                )
                .bind(site)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.map(|r| Published {
                    version: u64::try_from(r.get::<i64, _>("version")).unwrap_or(0),
                    body: r.get("body"),
                }))
            }

            async fn campaigns(&self, site: &str) -> Result<Vec<$crate::store::Draft>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, body, updated_ms FROM campaigns WHERE site = $1 ORDER BY created_ms, id",
                )
                .bind(site)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::store::Draft {
                        id: r.get("id"),
                        body: r.get("body"),
                        updated_ms: r.get("updated_ms"),
                    })
                    .collect())
            }

            async fn put_campaign(
                &self,
                site: &str,
                id: &str,
                body: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO campaigns (site, id, body, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (site, id) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
                )
                .bind(site)
                .bind(id)
                .bind(body)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn delete_campaign(&self, site: &str, id: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM campaigns WHERE site = $1 AND id = $2")
                    .bind(site)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn versions(&self, site: &str) -> Result<Vec<$crate::store::VersionRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT version, created_ms FROM config_versions WHERE site = $1 ORDER BY version DESC",
                )
                .bind(site)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        $crate::store::VersionRow {
                            version: u64::try_from(r.get::<i64, _>("version")).unwrap_or(0),
                            published_ms: r.get::<i64, _>("created_ms"),
                        }
                    })
                    .collect())
            }

            async fn version(&self, site: &str, version: u64) -> Result<Option<Published>, StoreError> {
                let Ok(v) = i64::try_from(version) else {
                    return Ok(None);
                };
                let row = sqlx::query("SELECT body FROM config_versions WHERE site = $1 AND version = $2")
                    .bind(site)
                    .bind(v)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(row.map(|r| Published {
                    version,
                    body: r.get("body"),
                }))
            }
        }

        /// Rows a single `INSERT` of events carries (12 parameters each, under
        /// SQLite's limit of 32,766).
        const ROWS_PER_INSERT: usize = 2000;

        /// Inserts `events[i]` for each `i` of `rows` (in that order), those
        /// whose id is new; the ids stored.
        async fn insert_event_rows<'c, E>(
            executor: E,
            site: &str,
            events: &[Event],
            rows: &[usize],
            now_ms: i64,
        ) -> Result<Vec<String>, StoreError>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let mut query = sqlx::QueryBuilder::<$db>::new(
                "INSERT INTO events (site, id, type, ts, anon, campaign, variant, item, category, price, answer, received_ms) ",
            );
            query.push_values(rows.iter().map(|&i| &events[i]), |mut row, e| {
                row.push_bind(site)
                    .push_bind(&e.id)
                    .push_bind(&e.kind)
                    .push_bind(e.ts)
                    .push_bind(&e.anon)
                    .push_bind(&e.campaign)
                    .push_bind(&e.variant)
                    .push_bind(&e.item)
                    .push_bind(&e.category)
                    .push_bind(e.price)
                    .push_bind(e.answer.map(i64::from))
                    .push_bind(now_ms);
            });
            // Any unique key: (site, id) in SQLite, (site, id, ts) in
            // PostgreSQL's partitioned table.
            query.push(" ON CONFLICT DO NOTHING RETURNING id");
            Ok(query
                .build()
                .fetch_all(executor)
                .await
                .map_err(db)?
                .into_iter()
                .map(|r| r.get::<String, _>("id"))
                .collect())
        }

        #[async_trait::async_trait]
        impl $crate::store::EventStore for $store {
            async fn insert_events(
                &self,
                site: &str,
                events: &[Event],
                now_ms: i64,
            ) -> Result<Vec<bool>, StoreError> {
                let fresh = self.store_events(site, events, now_ms).await?;
                // Their shoppers' rollups are made again (see `rollups`).
                let changed: Vec<&str> = events
                    .iter()
                    .zip(&fresh)
                    .filter(|(_, new)| **new)
                    .map(|(e, _)| e.anon.as_str())
                    .collect();
                $crate::store::RollupStore::mark_pending(self, site, &changed).await?;
                Ok(fresh)
            }

            async fn store_events(
                &self,
                site: &str,
                events: &[Event],
                now_ms: i64,
            ) -> Result<Vec<bool>, StoreError> {
                // One statement per batch, rows in id order: concurrent batches
                // that share ids (retries to two replicas) then wait on each
                // other instead of deadlocking. An id repeated within the batch
                // is stored once, as its first copy.
                let mut order: Vec<usize> = (0..events.len()).collect();
                order.sort_by(|&a, &b| events[a].id.cmp(&events[b].id).then(a.cmp(&b)));
                order.dedup_by(|b, a| events[*a].id == events[*b].id);
                if order.is_empty() {
                    return Ok(Vec::new());
                }
                // A large batch (an order import) goes in as one transaction of
                // several statements: the indexes' pages are written to the log
                // once per transaction, not once per statement.
                let mut stored = std::collections::HashSet::new();
                if order.len() <= ROWS_PER_INSERT {
                    stored.extend(insert_event_rows(&self.pool, site, events, &order, now_ms).await?);
                } else {
                    let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                    for part in order.chunks(ROWS_PER_INSERT) {
                        stored.extend(insert_event_rows(&mut *tx, site, events, part, now_ms).await?);
                    }
                    tx.commit().await.map_err(db)?;
                }
                let mut fresh = vec![false; events.len()];
                for i in order {
                    fresh[i] = stored.contains(&events[i].id);
                }
                Ok(fresh)
            }

            async fn register_subject(
                &self,
                site: &str,
                anon: &str,
                key_hash: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO subjects (site, anon, key_hash, created_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (site, anon) DO NOTHING",
                )
                .bind(site)
                .bind(anon)
                .bind(key_hash)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn subject_key(&self, site: &str, anon: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT key_hash FROM subjects WHERE site = $1 AND anon = $2")
                    .bind(site)
                    .bind(anon)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn is_erased(&self, site: &str, anon_hash: &str) -> Result<bool, StoreError> {
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT erased_ms FROM erased WHERE site = $1 AND anon_hash = $2",
                )
                .bind(site)
                .bind(anon_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(found.is_some())
            }

            async fn erase_subject(&self, site: &str, anon: &str) -> Result<u64, StoreError> {
                // 1. The tombstone commits first: a batch stored after this
                //    sees it (and takes its events back out, see
                //    `routes::store_batch`); one stored before it is deleted
                //    below.
                let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(anon.as_bytes()));
                let now = $crate::now_ms();
                let first = sqlx::query(
                    "INSERT INTO erased (site, anon_hash, erased_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (site, anon_hash) DO NOTHING",
                )
                .bind(site)
                .bind(&hash)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db)?
                .rows_affected()
                    == 1;
                // 2. Then everything tied to the id.
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let events = sqlx::query("DELETE FROM events WHERE site = $1 AND anon = $2")
                    .bind(site)
                    .bind(anon)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
                sqlx::query("DELETE FROM subjects WHERE site = $1 AND anon = $2")
                    .bind(site)
                    .bind(anon)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                retract(&mut tx, site, &[anon]).await?;
                sqlx::query("DELETE FROM rollup_pending WHERE site = $1 AND anon = $2")
                    .bind(site)
                    .bind(anon)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                // Issued codes stay (they count against budgets and the shop may
                // still redeem them) but no longer point at the id.
                sqlx::query("UPDATE coupons SET anon = 'erased:' || code WHERE site = $1 AND anon = $2")
                    .bind(site)
                    .bind(anon)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                // The id leaves its segments now, not at the next refresh:
                // an export made meanwhile must not list it. Each is a
                // `segment.left`, as a refresh would have sent (a tool that
                // follows only segments drops the id too).
                // The run of each segment that would hold the id, read
                // and written while no refresh of the site changes runs (a
                // range written from what it read before would bring the
                // id back).
                members_changing(&mut tx, site).await?;
                let holding = sqlx::query(
                    "SELECT r.segment, r.after_anon, r.packed FROM segment_runs r
                     WHERE r.site = $1 AND r.after_anon = (
                       SELECT MAX(after_anon) FROM segment_runs
                       WHERE site = $1 AND segment = r.segment AND after_anon < $2)
                       AND r.last_anon >= $2",
                )
                .bind(site)
                .bind(anon)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                let mut segments: Vec<String> = Vec::new();
                for row in &holding {
                    let (segment, key): (String, String) = (row.get("segment"), row.get("after_anon"));
                    let packed: String = row.get("packed");
                    let mut members = $crate::segments::runs::read(&segment, &key, &packed)?;
                    if !$crate::segments::runs::remove(&mut members, anon) {
                        continue;
                    }
                    let query = match members.last() {
                        None => sqlx::query(
                            "DELETE FROM segment_runs WHERE site = $1 AND segment = $2 AND after_anon = $3",
                        )
                        .bind(site)
                        .bind(&segment)
                        .bind(&key),
                        Some((last, _)) => sqlx::query(
                            "UPDATE segment_runs SET last_anon = $4, packed = $5
                             WHERE site = $1 AND segment = $2 AND after_anon = $3",
                        )
                        .bind(site)
                        .bind(&segment)
                        .bind(&key)
                        .bind(*last)
                        .bind($crate::segments::runs::pack(&members)),
                    };
                    query.execute(&mut *tx).await.map_err(db)?;
                    segments.push(segment);
                }
                let left = [anon];
                for segment in &segments {
                    sqlx::query(
                        "UPDATE segments SET members = members - 1
                         WHERE site = $1 AND id = $2 AND members > 0",
                    )
                    .bind(site)
                    .bind(segment)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    record_changes(&mut tx, site, segment, (0, 1), Some((&[], &left)), now)
                        .await?;
                }
                let customer: Option<String> = sqlx::query_scalar(
                    "DELETE FROM identities WHERE site = $1 AND anon = $2 RETURNING customer",
                )
                .bind(site)
                .bind(anon)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                // 3. Tools downstream erase too: `customer.erased`, with
                //    the erasure (once; a retried erasure that still found
                //    events, after a crash between 1 and 2, says it again).
                if first || events > 0 || customer.is_some() {
                    let data = serde_json::json!({
                        "site": site, "anon": anon, "customer_id": customer, "erased_ms": now,
                    });
                    enqueue_webhooks(&mut tx, site, None, "customer.erased", &data, now).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(events)
            }

            async fn events(
                &self,
                site: &str,
                anon: Option<&str>,
                limit: u32,
            ) -> Result<Vec<StoredEvent>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, type, ts, anon, campaign, variant, item, category, price, answer, received_ms
                     FROM events WHERE site = $1 AND (CAST($2 AS TEXT) IS NULL OR anon = CAST($2 AS TEXT))
                     ORDER BY received_ms DESC, ts DESC LIMIT $3",
                )
                .bind(site)
                .bind(anon)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .into_iter()
                    .map(|r| StoredEvent {
                        event: event_of(&r),
                        received_ms: r.get("received_ms"),
                    })
                    .collect())
            }

            async fn maintain(&self, now_ms: i64) -> Result<(), StoreError> {
                self.upkeep(now_ms).await
            }

            async fn drop_partitions_before(&self, before_ms: i64) -> Result<u64, StoreError> {
                self.drop_event_partitions(before_ms).await
            }

            async fn purge_site_events(
                &self,
                site: &str,
                before_ms: i64,
                keep: &[&str],
            ) -> Result<u64, StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("DELETE FROM events WHERE site = ");
                query.push_bind(site).push(" AND ts < ").push_bind(before_ms);
                if !keep.is_empty() {
                    query.push(" AND type NOT IN (");
                    let mut list = query.separated(", ");
                    for k in keep {
                        list.push_bind(*k);
                    }
                    query.push(")");
                }
                let done = query.build().execute(&self.pool).await.map_err(db)?;
                Ok(done.rows_affected())
            }

            async fn purge_identities(
                &self,
                site: &str,
                before_ms: i64,
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let mut changed = 0;
                // Erase keys of ids with nothing left (events go first).
                changed += sqlx::query(
                    "DELETE FROM subjects WHERE site = $1 AND created_ms < $2
                     AND NOT EXISTS (SELECT 1 FROM events e WHERE e.site = subjects.site AND e.anon = subjects.anon)",
                )
                .bind(site)
                .bind(before_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
                // Codes done with (redeemed or expired) no longer name the id.
                changed += sqlx::query(
                    "UPDATE coupons SET anon = 'retired:' || code
                     WHERE site = $1 AND claimed_ms < $2 AND (redeemed_ms IS NOT NULL OR expires_ms <= $3)
                     AND anon NOT LIKE 'retired:%' AND anon NOT LIKE 'erased:%'",
                )
                .bind(site)
                .bind(before_ms)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
                changed += sqlx::query("DELETE FROM erased WHERE site = $1 AND erased_ms < $2")
                    .bind(site)
                    .bind(before_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
                tx.commit().await.map_err(db)?;
                Ok(changed)
            }

            async fn archive_events(
                &self,
                site: &str,
                rows: &[$crate::store::DailyRow],
                ids: &[String],
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                for r in rows {
                    sqlx::query(
                        "INSERT INTO daily_stats (site, day, campaign, variant, kind, n, revenue)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (site, day, campaign, variant, kind)
                         DO UPDATE SET n = daily_stats.n + excluded.n, revenue = daily_stats.revenue + excluded.revenue",
                    )
                    .bind(site)
                    .bind(&r.day)
                    .bind(&r.campaign)
                    .bind(&r.variant)
                    .bind(&r.kind)
                    .bind(i64::try_from(r.n).unwrap_or(i64::MAX))
                    .bind(r.revenue)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                let mut deleted = 0;
                for chunk in ids.chunks(500) {
                    let mut query = sqlx::QueryBuilder::<$db>::new("DELETE FROM events WHERE site = ");
                    query.push_bind(site).push(" AND id IN (");
                    let mut list = query.separated(", ");
                    for id in chunk {
                        list.push_bind(id);
                    }
                    query.push(")");
                    deleted += query.build().execute(&mut *tx).await.map_err(db)?.rows_affected();
                }
                tx.commit().await.map_err(db)?;
                Ok(deleted)
            }

            async fn daily_stats(
                &self,
                site: &str,
                from: &str,
                to: &str,
            ) -> Result<Vec<$crate::store::DailyRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT day, campaign, variant, kind, n, revenue FROM daily_stats
                     WHERE site = $1 AND day >= $2 AND day <= $3 ORDER BY day, campaign, variant, kind",
                )
                .bind(site)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::store::DailyRow {
                        day: r.get("day"),
                        campaign: r.get("campaign"),
                        variant: r.get("variant"),
                        kind: r.get("kind"),
                        n: u64::try_from(r.get::<i64, _>("n")).unwrap_or(0),
                        revenue: r.get("revenue"),
                    })
                    .collect())
            }

            async fn events_between(
                &self,
                site: &str,
                types: &[&str],
                from_ms: i64,
                to_ms: i64,
            ) -> Result<Vec<Event>, StoreError> {
                // The types go in as one JSON-free list: a few fixed names.
                let mut out = Vec::new();
                for kind in types {
                    let rows = sqlx::query(
                        "SELECT id, type, ts, anon, campaign, variant, item, category, price, answer
                         FROM events WHERE site = $1 AND type = $2 AND ts >= $3 AND ts < $4",
                    )
                    .bind(site)
                    .bind(*kind)
                    .bind(from_ms)
                    .bind(to_ms)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    out.extend(rows.iter().map(event_of));
                }
                out.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.id.cmp(&b.id)));
                Ok(out)
            }
        }

        /// `anon IN (…)` for a list of ids.
        fn push_anons<'q>(query: &mut sqlx::QueryBuilder<'q, $db>, anons: &'q [&'q str]) {
            query.push(" AND anon IN (");
            let mut list = query.separated(", ");
            for anon in anons {
                list.push_bind(*anon);
            }
            list.push_unseparated(")");
        }

        /// Per-day counts to add: (day, kind, a, b) to (count, money).
        type Deltas = std::collections::BTreeMap<(i64, String, String, String), (i64, f64)>;

        /// Adds what `counts` count, times `sign`, to `deltas`.
        fn tally(deltas: &mut Deltas, counts: Vec<$crate::rollups::Count>, sign: i64) {
            for c in counts {
                let d = deltas.entry((c.day, c.kind, c.a, c.b)).or_default();
                d.0 += sign * c.n;
                d.1 += sign as f64 * c.x;
            }
        }

        /// Adds `deltas` to the site's per-day counts (see `rollup_counts`).
        async fn add_counts(
            conn: &mut <$db as sqlx::Database>::Connection,
            site: &str,
            deltas: &Deltas,
        ) -> Result<(), StoreError> {
            let rows: Vec<_> = deltas
                .iter()
                .filter(|(_, (n, x))| *n != 0 || *x != 0.0)
                .collect();
            for chunk in rows.chunks(1000) {
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO rollup_counts (site, day, kind, a, b, n, x) ",
                );
                query.push_values(chunk, |mut row, ((day, kind, a, b), (n, x))| {
                    row.push_bind(site)
                        .push_bind(*day)
                        .push_bind(kind.clone())
                        .push_bind(a.clone())
                        .push_bind(b.clone())
                        .push_bind(*n)
                        .push_bind(*x);
                });
                query.push(
                    " ON CONFLICT (site, day, kind, a, b) DO UPDATE SET n = rollup_counts.n + excluded.n, x = rollup_counts.x + excluded.x",
                );
                query.build().execute(&mut *conn).await.map_err(db)?;
            }
            Ok(())
        }

        /// The attribution window a site's counts are made with.
        async fn window_of(
            conn: &mut <$db as sqlx::Database>::Connection,
            site: &str,
        ) -> Result<Option<i64>, StoreError> {
            sqlx::query_scalar("SELECT window_ms FROM rollup_sites WHERE site = $1")
                .bind(site)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)
        }

        /// Takes the rollups of these shoppers out, and what they added
        /// to the per-day counts with them.
        async fn retract(
            conn: &mut <$db as sqlx::Database>::Connection,
            site: &str,
            anons: &[&str],
        ) -> Result<(), StoreError> {
            let mut deltas = Deltas::new();
            retract_into(&mut *conn, site, anons, &mut deltas).await?;
            add_counts(&mut *conn, site, &deltas).await
        }

        /// Takes the rollups of these shoppers out and adds to `deltas`
        /// what taking them out of the per-day counts needs: a caller that
        /// also adds counts applies both in one sorted statement, so two
        /// servers rolling up at once lock count rows in the same order.
        async fn retract_into(
            conn: &mut <$db as sqlx::Database>::Connection,
            site: &str,
            anons: &[&str],
            deltas: &mut Deltas,
        ) -> Result<(), StoreError> {
            if anons.is_empty() {
                return Ok(());
            }
            let window = window_of(&mut *conn, site).await?.unwrap_or(0);
            let mut touches: std::collections::BTreeMap<String, Vec<$crate::results::Touch>> =
                std::collections::BTreeMap::new();
            let mut query = sqlx::QueryBuilder::<$db>::new(
                "SELECT anon, campaign, variant, day, entered_ms, bought_ms, exposures, clicks,
                 dismissals, claims, conversions, revenue, answers FROM rollup_touches WHERE site = ",
            );
            query.push_bind(site);
            push_anons(&mut query, anons);
            for r in query.build().fetch_all(&mut *conn).await.map_err(db)? {
                let t = touch_of(&r);
                touches.entry(t.anon.clone()).or_default().push(t);
            }
            let mut days: std::collections::BTreeMap<String, Vec<$crate::insights::ShopperDay>> =
                std::collections::BTreeMap::new();
            let mut query = sqlx::QueryBuilder::<$db>::new(
                "SELECT anon, day, stage, offers FROM rollup_days WHERE site = ",
            );
            query.push_bind(site);
            push_anons(&mut query, anons);
            for r in query.build().fetch_all(&mut *conn).await.map_err(db)? {
                let anon: String = r.get("anon");
                let stage: String = r.get("stage");
                days.entry(anon.clone()).or_default().push($crate::insights::ShopperDay {
                    anon,
                    day: r.get("day"),
                    stage: $crate::insights::STAGES
                        .iter()
                        .find(|s| **s == stage)
                        .copied()
                        .unwrap_or("new"),
                    offers: u64::try_from(r.get::<i64, _>("offers")).unwrap_or(0),
                });
            }
            for anon in anons {
                let t = touches.remove(*anon).unwrap_or_default();
                let d = days.remove(*anon).unwrap_or_default();
                tally(deltas, $crate::rollups::counts(&t, &d, window), -1);
            }
            for table in ["rollup_touches", "rollup_days", "rollup_profiles", "segment_facts"] {
                let mut query =
                    sqlx::QueryBuilder::<$db>::new(format!("DELETE FROM {table} WHERE site = "));
                query.push_bind(site);
                push_anons(&mut query, anons);
                query.build().execute(&mut *conn).await.map_err(db)?;
            }
            Ok(())
        }

        /// A touch from a row of `rollup_touches`.
        fn touch_of(r: &$row) -> $crate::results::Touch {
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            $crate::results::Touch {
                anon: r.get("anon"),
                campaign: r.get("campaign"),
                variant: r.get("variant"),
                day: r.get("day"),
                entered_ms: r.get("entered_ms"),
                bought_ms: r.get("bought_ms"),
                exposures: n(r.get("exposures")),
                clicks: n(r.get("clicks")),
                dismissals: n(r.get("dismissals")),
                claims: n(r.get("claims")),
                conversions: n(r.get("conversions")),
                revenue: r.get("revenue"),
                answers: r
                    .get::<String, _>("answers")
                    .split(',')
                    .filter_map(|a| a.parse::<u8>().ok())
                    .collect(),
            }
        }

        /// The lifecycle stage each of these shoppers' stored profile is in.
        async fn stages_of(
            conn: &mut <$db as sqlx::Database>::Connection,
            site: &str,
            anons: &[&str],
        ) -> Result<std::collections::HashMap<String, String>, StoreError> {
            let mut query =
                sqlx::QueryBuilder::<$db>::new("SELECT anon, profile FROM rollup_profiles WHERE site = ");
            query.push_bind(site);
            push_anons(&mut query, anons);
            let rows = query.build().fetch_all(&mut *conn).await.map_err(db)?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let stage = $crate::rollups::stage_in(&r.get::<String, _>("profile"))?;
                    Some((r.get::<String, _>("anon"), stage))
                })
                .collect())
        }

        /// Which of these ids were erased (their tombstones).
        async fn erased_among<'a>(
            conn: &mut <$db as sqlx::Database>::Connection,
            site: &str,
            anons: &[&'a str],
        ) -> Result<Vec<&'a str>, StoreError> {
            if anons.is_empty() {
                return Ok(Vec::new());
            }
            let hashes: Vec<(String, &str)> = anons
                .iter()
                .map(|a| (hex::encode(<sha2::Sha256 as sha2::Digest>::digest(a.as_bytes())), *a))
                .collect();
            let mut query =
                sqlx::QueryBuilder::<$db>::new("SELECT anon_hash FROM erased WHERE site = ");
            query.push_bind(site).push(" AND anon_hash IN (");
            let mut list = query.separated(", ");
            for (hash, _) in &hashes {
                list.push_bind(hash.clone());
            }
            query.push(")");
            let found: std::collections::HashSet<String> = query
                .build()
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.get::<String, _>("anon_hash"))
                .collect();
            Ok(hashes
                .into_iter()
                .filter(|(h, _)| found.contains(h))
                .map(|(_, a)| a)
                .collect())
        }

        /// A shopper's sampling bucket, 0-1023, from a hash of the id.
        fn bucket(anon: &str) -> i64 {
            let hash = <sha2::Sha256 as sha2::Digest>::digest(anon.as_bytes());
            i64::from(u16::from_be_bytes([hash[0], hash[1]]) % 1024)
        }

        #[async_trait::async_trait]
        impl $crate::store::RollupStore for $store {
            async fn mark_pending(&self, site: &str, anons: &[&str]) -> Result<(), StoreError> {
                let mut anons: Vec<&str> = anons.iter().copied().filter(|a| !a.is_empty()).collect();
                anons.sort_unstable();
                anons.dedup();
                if anons.is_empty() {
                    return Ok(());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO rollup_pending (site, anon, marked) ",
                );
                query.push_values(&anons, |mut row, anon| {
                    row.push_bind(site).push_bind(*anon).push_bind(0i64);
                });
                query.push(
                    " ON CONFLICT (site, anon) DO UPDATE SET marked = rollup_pending.marked + 1",
                );
                query.build().execute(&self.pool).await.map_err(db)?;
                Ok(())
            }

            async fn pending(&self, limit: u32) -> Result<Vec<$crate::store::Pending>, StoreError> {
                let rows = sqlx::query(
                    "SELECT site, anon, marked FROM rollup_pending ORDER BY site, anon LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .iter()
                    .map(|r| $crate::store::Pending {
                        site: r.get("site"),
                        anon: r.get("anon"),
                        marked: r.get("marked"),
                    })
                    .collect())
            }

            async fn shopper_events(
                &self,
                site: &str,
                anons: &[String],
            ) -> Result<Vec<Event>, StoreError> {
                let mut out = Vec::new();
                for chunk in anons.chunks(500) {
                    let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id, type, ts, anon, campaign, variant, item, category, price, answer
                         FROM events WHERE site = ",
                    );
                    query.push_bind(site);
                    push_anons(&mut query, &chunk);
                    query.push(" ORDER BY anon, ts, id");
                    let rows = query.build().fetch_all(&self.pool).await.map_err(db)?;
                    out.extend(rows.iter().map(event_of));
                }
                Ok(out)
            }

            async fn event_counts(
                &self,
                site: &str,
                anons: &[String],
            ) -> Result<Vec<(String, u64)>, StoreError> {
                let mut out = Vec::new();
                for chunk in anons.chunks(500) {
                    let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT anon, COUNT(*) AS n FROM events WHERE site = ",
                    );
                    query.push_bind(site);
                    push_anons(&mut query, &chunk);
                    query.push(" GROUP BY anon");
                    let rows = query.build().fetch_all(&self.pool).await.map_err(db)?;
                    out.extend(rows.iter().map(|r| {
                        (r.get::<String, _>("anon"), r.get::<i64, _>("n").max(0) as u64)
                    }));
                }
                Ok(out)
            }

            async fn put_rollups(
                &self,
                site: &str,
                window_ms: i64,
                done: &[$crate::store::Pending],
                rollups: &[$crate::store::ShopperRollup],
            ) -> Result<(), StoreError> {
                for chunk in done.chunks(500) {
                    let asked: Vec<&str> = chunk.iter().map(|p| p.anon.as_str()).collect();
                    let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                    // Their marks, locked: a shopper is rolled up by one
                    // transaction at a time, and one whose mark another
                    // transaction cleared meanwhile is left as it made it.
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "SELECT anon FROM rollup_pending WHERE site = ",
                    );
                    query.push_bind(site);
                    push_anons(&mut query, &asked);
                    query.push($for_update);
                    let locked: std::collections::HashSet<String> = query
                        .build()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| r.get::<String, _>("anon"))
                        .collect();
                    let anons: Vec<&str> =
                        asked.iter().copied().filter(|a| locked.contains(*a)).collect();
                    if anons.is_empty() {
                        tx.commit().await.map_err(db)?;
                        continue;
                    }
                    // Counts made with another window would not add up.
                    if window_of(&mut tx, site).await? != Some(window_ms) {
                        return Err(StoreError::Database(format!(
                            "the rollups of `{site}` are not made with a {window_ms} ms window; rebuild them first"
                        )));
                    }
                    let erased = erased_among(&mut tx, site, &anons).await?;
                    let stages_before = stages_of(&mut tx, site, &anons).await?;
                    let mut deltas = Deltas::new();
                    retract_into(&mut tx, site, &anons, &mut deltas).await?;
                    let mine: Vec<&$crate::store::ShopperRollup> = rollups
                        .iter()
                        .filter(|r| anons.contains(&r.anon.as_str()) && !erased.contains(&r.anon.as_str()))
                        .collect();
                    for r in &mine {
                        tally(&mut deltas, $crate::rollups::counts(&r.touches, &r.days, window_ms), 1);
                    }
                    let touches: Vec<&$crate::results::Touch> =
                        mine.iter().flat_map(|r| &r.touches).collect();
                    for rows in touches.chunks(1000) {
                        let mut query = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO rollup_touches (site, anon, campaign, variant, day, entered_ms, bought_ms,
                             exposures, clicks, dismissals, claims, conversions, revenue, answers) ",
                        );
                        query.push_values(rows, |mut row, t| {
                            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                            row.push_bind(site)
                                .push_bind(&t.anon)
                                .push_bind(&t.campaign)
                                .push_bind(&t.variant)
                                .push_bind(t.day)
                                .push_bind(t.entered_ms)
                                .push_bind(t.bought_ms)
                                .push_bind(n(t.exposures))
                                .push_bind(n(t.clicks))
                                .push_bind(n(t.dismissals))
                                .push_bind(n(t.claims))
                                .push_bind(n(t.conversions))
                                .push_bind(t.revenue)
                                .push_bind(
                                    t.answers
                                        .iter()
                                        .map(u8::to_string)
                                        .collect::<Vec<_>>()
                                        .join(","),
                                );
                        });
                        query.build().execute(&mut *tx).await.map_err(db)?;
                    }
                    let days: Vec<&$crate::insights::ShopperDay> =
                        mine.iter().flat_map(|r| &r.days).collect();
                    for rows in days.chunks(2000) {
                        let mut query = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO rollup_days (site, anon, day, stage, offers) ",
                        );
                        query.push_values(rows, |mut row, d| {
                            row.push_bind(site)
                                .push_bind(&d.anon)
                                .push_bind(d.day)
                                .push_bind(d.stage)
                                .push_bind(i64::try_from(d.offers).unwrap_or(i64::MAX));
                        });
                        query.build().execute(&mut *tx).await.map_err(db)?;
                    }
                    add_counts(&mut tx, site, &deltas).await?;
                    let profiles: Vec<(&str, &$crate::store::StoredProfile)> = mine
                        .iter()
                        .filter_map(|r| r.profile.as_ref().map(|p| (r.anon.as_str(), p)))
                        .collect();
                    // A shopper whose stage moved (not one rolled up for the
                    // first time) is sent on as `lifecycle.changed`.
                    for (anon, profile) in &profiles {
                        let (Some(from), Some(to)) =
                            (stages_before.get(*anon), $crate::rollups::stage_in(&profile.json))
                        else {
                            continue;
                        };
                        if *from != to {
                            let customer: Option<String> = sqlx::query_scalar(
                                "SELECT customer FROM identities WHERE site = $1 AND anon = $2",
                            )
                            .bind(site)
                            .bind(*anon)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db)?;
                            let now = $crate::now_ms();
                            let data = serde_json::json!({
                                "site": site, "anon": anon, "customer_id": customer,
                                "from": from, "to": to, "at_ms": now,
                            });
                            enqueue_webhooks(&mut tx, site, None, "lifecycle.changed", &data, now).await?;
                        }
                    }
                    for rows in profiles.chunks(1000) {
                        let mut query = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO rollup_profiles (site, anon, last_ms, bucket, profile) ",
                        );
                        query.push_values(rows, |mut row, (anon, profile)| {
                            row.push_bind(site)
                                .push_bind(*anon)
                                .push_bind(profile.last_ms)
                                .push_bind(bucket(anon))
                                .push_bind(&profile.json);
                        });
                        query.build().execute(&mut *tx).await.map_err(db)?;
                        let mut query = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO segment_facts (site, anon, facts) ",
                        );
                        query.push_values(rows, |mut row, (anon, profile)| {
                            row.push_bind(site)
                                .push_bind(*anon)
                                .push_bind(&profile.segment_form);
                        });
                        query.build().execute(&mut *tx).await.map_err(db)?;
                    }
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "DELETE FROM rollup_pending WHERE site = ",
                    );
                    query.push_bind(site).push(" AND (anon, marked) IN (");
                    query.push_values(chunk, |mut row, p| {
                        row.push_bind(&p.anon).push_bind(p.marked);
                    });
                    query.push(")");
                    query.build().execute(&mut *tx).await.map_err(db)?;
                    tx.commit().await.map_err(db)?;
                    // An erasure whose tombstone committed while this ran
                    // takes out what it finds after the tombstone; what was
                    // written here after that goes now.
                    let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                    let late = erased_among(&mut tx, site, &anons).await?;
                    retract(&mut tx, site, &late).await?;
                    tx.commit().await.map_err(db)?;
                }
                Ok(())
            }

            async fn touches(
                &self,
                site: &str,
                from_day: i64,
            ) -> Result<Vec<$crate::results::Touch>, StoreError> {
                let rows = sqlx::query(
                    "SELECT anon, campaign, variant, day, entered_ms, bought_ms, exposures, clicks,
                     dismissals, claims, conversions, revenue, answers
                     FROM rollup_touches WHERE site = $1 AND day >= $2",
                )
                .bind(site)
                .bind(from_day)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows.iter().map(touch_of).collect())
            }

            async fn counts(
                &self,
                site: &str,
                from_day: i64,
            ) -> Result<Vec<$crate::rollups::Count>, StoreError> {
                let rows = sqlx::query(
                    "SELECT day, kind, a, b, n, x FROM rollup_counts
                     WHERE site = $1 AND day >= $2 AND (n <> 0 OR x <> 0)",
                )
                .bind(site)
                .bind(from_day)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .iter()
                    .map(|r| $crate::rollups::Count {
                        day: r.get("day"),
                        kind: r.get("kind"),
                        a: r.get("a"),
                        b: r.get("b"),
                        n: r.get("n"),
                        x: r.get("x"),
                    })
                    .collect())
            }

            async fn rollup_window(&self, site: &str) -> Result<Option<i64>, StoreError> {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                window_of(&mut conn, site).await
            }

            async fn rebuild_rollups(&self, site: &str, window_ms: i64) -> Result<(), StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                for table in [
                    "rollup_counts",
                    "rollup_touches",
                    "rollup_days",
                    "rollup_profiles",
                    "segment_facts",
                ] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE site = $1"))
                        .bind(site)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                sqlx::query(
                    "INSERT INTO rollup_pending (site, anon, marked)
                     SELECT DISTINCT site, anon, 0 FROM events WHERE site = $1 AND anon <> ''
                     ON CONFLICT (site, anon) DO UPDATE SET marked = rollup_pending.marked + 1",
                )
                .bind(site)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query(
                    "INSERT INTO rollup_sites (site, window_ms) VALUES ($1, $2)
                     ON CONFLICT (site) DO UPDATE SET window_ms = excluded.window_ms",
                )
                .bind(site)
                .bind(window_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn profiles(
                &self,
                site: &str,
                since_ms: i64,
                buckets: (u32, u32),
            ) -> Result<Vec<(String, String)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT anon, profile FROM rollup_profiles
                     WHERE site = $1 AND bucket >= $2 AND bucket < $3 AND last_ms >= $4",
                )
                .bind(site)
                .bind(i64::from(buckets.0))
                .bind(i64::from(buckets.1))
                .bind(since_ms)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows.iter().map(|r| (r.get("anon"), r.get("profile"))).collect())
            }

            async fn rollup_status(&self, site: &str) -> Result<(u64, u64), StoreError> {
                let count = |sql: &'static str| async move {
                    let n: i64 = sqlx::query_scalar(sql)
                        .bind(site)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok::<u64, StoreError>(u64::try_from(n).unwrap_or(0))
                };
                Ok((
                    count("SELECT COUNT(*) FROM rollup_pending WHERE site = $1").await?,
                    count("SELECT COUNT(*) FROM rollup_profiles WHERE site = $1").await?,
                ))
            }

            async fn purge_rollups(&self, site: &str, before_ms: i64) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                sqlx::query(
                    "INSERT INTO rollup_pending (site, anon, marked)
                     SELECT DISTINCT site, anon, 0 FROM events WHERE site = $1 AND ts < $2 AND anon <> ''
                     ON CONFLICT (site, anon) DO UPDATE SET marked = rollup_pending.marked + 1",
                )
                .bind(site)
                .bind(before_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let day = before_ms.div_euclid(86_400_000);
                let mut gone = 0;
                for sql in [
                    "DELETE FROM rollup_touches WHERE site = $1 AND day < $2",
                    "DELETE FROM rollup_days WHERE site = $1 AND day < $2",
                    "DELETE FROM rollup_counts WHERE site = $1 AND day < $2",
                ] {
                    gone += sqlx::query(sql)
                        .bind(site)
                        .bind(day)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?
                        .rows_affected();
                }
                // A shopper whose last event is past the retention has
                // nothing left to roll up; their other rows went above.
                let stale: Vec<String> = sqlx::query_scalar(
                    "SELECT anon FROM rollup_profiles WHERE site = $1 AND last_ms < $2",
                )
                .bind(site)
                .bind(before_ms)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
                for chunk in stale.chunks(500) {
                    let anons: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    retract(&mut tx, site, &anons).await?;
                    gone += anons.len() as u64;
                }
                tx.commit().await.map_err(db)?;
                Ok(gone)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::CouponStore for $store {
            async fn claim_coupon(&self, req: ClaimRequest<'_>) -> Result<Claim, StoreError> {
                let existing = |row: Option<$row>| {
                    row.map(|r| IssuedCoupon {
                        code: r.get("code"),
                        campaign: r.get("campaign"),
                        variant: r.get("variant"),
                        expires_ms: r.get("expires_ms"),
                        redeemed_ms: r.get("redeemed_ms"),
                    })
                };
                let select = "SELECT code, campaign, variant, expires_ms, redeemed_ms FROM coupons
                              WHERE site = $1 AND campaign = $2 AND anon = $3";
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let found = sqlx::query(select)
                    .bind(req.site)
                    .bind(req.campaign)
                    .bind(req.anon)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                if let Some(c) = existing(found) {
                    return Ok(Claim::Existing(c));
                }
                sqlx::query(
                    "INSERT INTO coupon_budgets (site, campaign, issued) VALUES ($1, $2, 0)
                     ON CONFLICT (site, campaign) DO NOTHING",
                )
                .bind(req.site)
                .bind(req.campaign)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let counted = sqlx::query(
                    "UPDATE coupon_budgets SET issued = issued + 1
                     WHERE site = $1 AND campaign = $2 AND issued < $3",
                )
                .bind(req.site)
                .bind(req.campaign)
                .bind(i64::from(req.budget))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if counted.rows_affected() == 0 {
                    return Ok(Claim::Exhausted);
                }
                // A campaign with uploaded codes hands those out, one each.
                let pooled: Option<String> = sqlx::query_scalar(
                    "SELECT code FROM coupon_pool WHERE site = $1 AND campaign = $2 LIMIT 1",
                )
                .bind(req.site)
                .bind(req.campaign)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                let mut code = req.code.clone();
                if pooled.is_some() {
                    let mut taken = None;
                    // A concurrent claim may take the same free code first: try the next.
                    for _ in 0..8 {
                        let Some(free): Option<String> = sqlx::query_scalar(
                            "SELECT code FROM coupon_pool WHERE site = $1 AND campaign = $2 AND assigned = 0
                             ORDER BY code LIMIT 1",
                        )
                        .bind(req.site)
                        .bind(req.campaign)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?
                        else {
                            break;
                        };
                        let done = sqlx::query(
                            "UPDATE coupon_pool SET assigned = 1 WHERE site = $1 AND code = $2 AND assigned = 0",
                        )
                        .bind(req.site)
                        .bind(&free)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        if done.rows_affected() == 1 {
                            taken = Some(free);
                            break;
                        }
                    }
                    match taken {
                        Some(c) => code = c,
                        None => {
                            tx.rollback().await.map_err(db)?;
                            return Ok(Claim::Exhausted);
                        }
                    }
                }
                let coupon = IssuedCoupon {
                    code,
                    campaign: req.campaign.to_string(),
                    variant: req.variant.to_string(),
                    expires_ms: req.now_ms + req.valid_ms,
                    redeemed_ms: None,
                };
                let inserted = sqlx::query(
                    "INSERT INTO coupons (site, code, campaign, variant, anon, claimed_ms, expires_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (site, campaign, anon) DO NOTHING",
                )
                .bind(req.site)
                .bind(&coupon.code)
                .bind(req.campaign)
                .bind(req.variant)
                .bind(req.anon)
                .bind(req.now_ms)
                .bind(coupon.expires_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if inserted.rows_affected() == 0 {
                    // The same id claimed at the same moment elsewhere: undo this
                    // budget step and hand back that code.
                    tx.rollback().await.map_err(db)?;
                    let found = sqlx::query(select)
                        .bind(req.site)
                        .bind(req.campaign)
                        .bind(req.anon)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                    return existing(found)
                        .map(Claim::Existing)
                        .ok_or_else(|| StoreError::Corrupt("a concurrent claim vanished".into()));
                }
                tx.commit().await.map_err(db)?;
                Ok(Claim::New(coupon))
            }

            async fn redeem_coupon(
                &self,
                site: &str,
                code: &str,
                now_ms: i64,
            ) -> Result<Redeem, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let done = sqlx::query(
                    "UPDATE coupons SET redeemed_ms = $3
                     WHERE site = $1 AND code = $2 AND redeemed_ms IS NULL AND expires_ms > $3",
                )
                .bind(site)
                .bind(code)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let row = sqlx::query(
                    "SELECT code, campaign, variant, expires_ms, redeemed_ms FROM coupons
                     WHERE site = $1 AND code = $2",
                )
                .bind(site)
                .bind(code)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                let Some(r) = row else {
                    return Ok(Redeem::Unknown);
                };
                let coupon = IssuedCoupon {
                    code: r.get("code"),
                    campaign: r.get("campaign"),
                    variant: r.get("variant"),
                    expires_ms: r.get("expires_ms"),
                    redeemed_ms: r.get("redeemed_ms"),
                };
                if done.rows_affected() == 1 {
                    let data = serde_json::json!({
                        "site": site,
                        "code": coupon.code,
                        "campaign": coupon.campaign,
                        "variant": coupon.variant,
                        "redeemed_ms": now_ms,
                    });
                    enqueue_webhooks(&mut tx, site, None, "coupon.redeemed", &data, now_ms).await?;
                }
                tx.commit().await.map_err(db)?;
                Ok(if done.rows_affected() == 1 {
                    Redeem::Redeemed(coupon)
                } else if let Some(at) = coupon.redeemed_ms {
                    Redeem::AlreadyUsed(at)
                } else {
                    Redeem::Expired
                })
            }

            async fn add_pool_codes(
                &self,
                site: &str,
                campaign: &str,
                codes: &[String],
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let mut added = 0;
                for chunk in codes.chunks(500) {
                    let mut query = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO coupon_pool (site, campaign, code, assigned) ",
                    );
                    query.push_values(chunk, |mut row, code| {
                        row.push_bind(site).push_bind(campaign).push_bind(code).push_bind(0i64);
                    });
                    query.push(" ON CONFLICT (site, code) DO NOTHING");
                    added += query.build().execute(&mut *tx).await.map_err(db)?.rows_affected();
                }
                tx.commit().await.map_err(db)?;
                Ok(added)
            }

            async fn pool_size(&self, site: &str, campaign: &str) -> Result<(u64, u64), StoreError> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN assigned = 0 THEN 1 ELSE 0 END), 0) AS free
                     FROM coupon_pool WHERE site = $1 AND campaign = $2",
                )
                .bind(site)
                .bind(campaign)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                let count = |k: &str| u64::try_from(row.get::<i64, _>(k)).unwrap_or(0);
                Ok((count("total"), count("free")))
            }

            async fn redemptions(&self, site: &str) -> Result<Vec<(String, String, u64)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT campaign, variant, COUNT(*) AS n FROM coupons
                     WHERE site = $1 AND redeemed_ms IS NOT NULL GROUP BY campaign, variant",
                )
                .bind(site)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        (
                            r.get("campaign"),
                            r.get("variant"),
                            u64::try_from(r.get::<i64, _>("n")).unwrap_or(0),
                        )
                    })
                    .collect())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AdminStore for $store {
            async fn put_api_token(
                &self,
                token_hash: &str,
                name: &str,
                created_by: &str,
                now_ms: i64,
                expires_ms: Option<i64>,
                scope: (&str, &str),
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO api_tokens (token_hash, name, created_by, created_ms, expires_ms, site, role)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT DO NOTHING",
                )
                .bind(token_hash)
                .bind(name)
                .bind(created_by)
                .bind(now_ms)
                .bind(expires_ms)
                .bind(scope.0)
                .bind(scope.1)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn api_token(
                &self,
                token_hash: &str,
                now_ms: i64,
            ) -> Result<Option<$crate::store::ApiToken>, StoreError> {
                let row = sqlx::query(
                    "SELECT name, created_by, created_ms, expires_ms, site, role FROM api_tokens
                     WHERE token_hash = $1 AND (expires_ms IS NULL OR expires_ms > $2)",
                )
                .bind(token_hash)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.map(|r| api_token_row(&r)))
            }

            async fn set_role(
                &self,
                email: &str,
                site: &str,
                role: Option<&str>,
            ) -> Result<(), StoreError> {
                match role {
                    Some(role) => sqlx::query(
                        "INSERT INTO admin_roles (email, site, role) VALUES ($1, $2, $3)
                         ON CONFLICT (email, site) DO UPDATE SET role = excluded.role",
                    )
                    .bind(email)
                    .bind(site)
                    .bind(role),
                    None => sqlx::query("DELETE FROM admin_roles WHERE email = $1 AND site = $2")
                        .bind(email)
                        .bind(site),
                }
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn roles_of(&self, email: &str) -> Result<Vec<(String, String)>, StoreError> {
                let rows = sqlx::query("SELECT site, role FROM admin_roles WHERE email = $1 ORDER BY site")
                    .bind(email)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(rows.into_iter().map(|r| (r.get("site"), r.get("role"))).collect())
            }

            async fn roles(&self) -> Result<Vec<$crate::store::RoleGrant>, StoreError> {
                let rows = sqlx::query("SELECT email, site, role FROM admin_roles ORDER BY email, site")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(rows
                    .into_iter()
                    .map(|r| $crate::store::RoleGrant {
                        email: r.get("email"),
                        site: r.get("site"),
                        role: r.get("role"),
                    })
                    .collect())
            }

            async fn api_tokens(&self) -> Result<Vec<$crate::store::ApiToken>, StoreError> {
                let rows = sqlx::query(
                    "SELECT name, created_by, created_ms, expires_ms, site, role FROM api_tokens ORDER BY name",
                )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(rows
                    .into_iter()
                    .map(|r| api_token_row(&r))
                    .collect())
            }

            async fn delete_api_token(&self, name: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_admin(
                &self,
                email: &str,
                password_hash: &str,
                now_ms: i64,
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                // A new password ends every session signed in with the old one.
                sqlx::query(
                    "DELETE FROM admin_sessions WHERE email = $1
                     AND EXISTS (SELECT 1 FROM admins WHERE email = $1 AND password_hash <> $2)",
                )
                .bind(email)
                .bind(password_hash)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query(
                    "INSERT INTO admins (email, password_hash, created_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash",
                )
                .bind(email)
                .bind(password_hash)
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn admin_hash(&self, email: &str) -> Result<Option<String>, StoreError> {
                sqlx::query_scalar("SELECT password_hash FROM admins WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn create_session(&self, s: &$crate::store::Session) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO admin_sessions (token_hash, email, csrf, created_ms, expires_ms)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&s.token_hash)
                .bind(&s.email)
                .bind(&s.csrf)
                .bind(s.created_ms)
                .bind(s.expires_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                // Expired sessions go while new ones come.
                sqlx::query("DELETE FROM admin_sessions WHERE expires_ms < $1")
                    .bind(s.created_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn session(&self, token_hash: &str) -> Result<Option<$crate::store::Session>, StoreError> {
                let row = sqlx::query(
                    "SELECT token_hash, email, csrf, created_ms, expires_ms FROM admin_sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.map(|r| $crate::store::Session {
                    token_hash: r.get("token_hash"),
                    email: r.get("email"),
                    csrf: r.get("csrf"),
                    created_ms: r.get("created_ms"),
                    expires_ms: r.get("expires_ms"),
                }))
            }

            async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_store;
