//! The webhook SQL both stores share (see `crate::sql`).

/// Implements `WebhookStore` for `$store` over database `$db`, and defines
/// `enqueue_webhooks`, which the store's own transactions call so a message
/// commits with what it reports.
macro_rules! webhook_store {
    ($store:ty, $db:ty, $begin:expr) => {
        /// Queues an event for the site's endpoints that receive it (or
        /// only `only`), inside `tx`; how many messages.
        async fn enqueue_webhooks(
            tx: &mut sqlx::Transaction<'_, $db>,
            site: &str,
            only: Option<&str>,
            event_type: &str,
            data: &serde_json::Value,
            now_ms: i64,
        ) -> Result<u64, StoreError> {
            let rows = sqlx::query("SELECT id, events FROM webhook_endpoints WHERE site = $1")
                .bind(site)
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?;
            let id = $crate::webhooks::message_id();
            let body = $crate::webhooks::payload(event_type, data, now_ms);
            let mut queued = 0;
            for r in rows {
                let endpoint: String = r.get("id");
                let events: String = r.get("events");
                let wanted = match only {
                    Some(only) => only == endpoint,
                    None => events.split(',').any(|e| e == event_type),
                };
                if !wanted {
                    continue;
                }
                queued += sqlx::query(
                    "INSERT INTO webhook_messages
                     (site, endpoint, id, event_type, payload, created_ms, state, next_ms, attempts)
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $6, 0)",
                )
                .bind(site)
                .bind(&endpoint)
                .bind(&id)
                .bind(event_type)
                .bind(&body)
                .bind(now_ms)
                .execute(&mut **tx)
                .await
                .map_err(db)?
                .rows_affected();
            }
            Ok(queued)
        }

        fn endpoint_from(r: &<$db as sqlx::Database>::Row) -> $crate::webhooks::Endpoint {
            let events: String = r.get("events");
            let previous: Option<String> = r.get("previous_secret");
            let until: Option<i64> = r.get("previous_until_ms");
            let disabled_ms: Option<i64> = r.get("disabled_ms");
            let reason: Option<String> = r.get("disabled_reason");
            $crate::webhooks::Endpoint {
                site: r.get("site"),
                id: r.get("id"),
                url: r.get("url"),
                events: events
                    .split(',')
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .collect(),
                description: r.get("description"),
                secret: r.get("secret"),
                previous: previous.zip(until),
                created_ms: r.get("created_ms"),
                disabled: disabled_ms.map(|at| (at, reason.unwrap_or_default())),
            }
        }

        const ENDPOINT_COLUMNS: &str = "site, id, url, events, description, secret, previous_secret,
             previous_until_ms, created_ms, disabled_ms, disabled_reason";

        #[async_trait::async_trait]
        impl $crate::webhooks::WebhookStore for $store {
            async fn put_endpoint(
                &self,
                e: &$crate::webhooks::Endpoint,
            ) -> Result<(), StoreError> {
                let (disabled_ms, reason) = e.disabled.clone().unzip();
                sqlx::query(
                    "INSERT INTO webhook_endpoints
                     (site, id, url, events, description, secret, created_ms, disabled_ms, disabled_reason)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (site, id) DO UPDATE SET url = excluded.url,
                       events = excluded.events, description = excluded.description,
                       disabled_ms = excluded.disabled_ms, disabled_reason = excluded.disabled_reason",
                )
                .bind(&e.site)
                .bind(&e.id)
                .bind(&e.url)
                .bind(e.events.join(","))
                .bind(&e.description)
                .bind(&e.secret)
                .bind(e.created_ms)
                .bind(disabled_ms)
                .bind(reason)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn endpoint(
                &self,
                site: &str,
                id: &str,
            ) -> Result<Option<$crate::webhooks::Endpoint>, StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE site = $1 AND id = $2"
                ))
                .bind(site)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.as_ref().map(endpoint_from))
            }

            async fn endpoints(
                &self,
                site: &str,
            ) -> Result<Vec<$crate::webhooks::Endpoint>, StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE site = $1
                     ORDER BY created_ms, id"
                ))
                .bind(site)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows.iter().map(endpoint_from).collect())
            }

            async fn delete_endpoint(&self, site: &str, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                for table in ["webhook_attempts", "webhook_messages"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE site = $1 AND endpoint = $2"))
                        .bind(site)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                }
                let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE site = $1 AND id = $2")
                    .bind(site)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected();
                tx.commit().await.map_err(db)?;
                Ok(gone == 1)
            }

            async fn rotate_secret(
                &self,
                site: &str,
                id: &str,
                secret: &str,
                previous_until_ms: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE webhook_endpoints SET previous_secret = secret, previous_until_ms = $4,
                       secret = $3 WHERE site = $1 AND id = $2",
                )
                .bind(site)
                .bind(id)
                .bind(secret)
                .bind(previous_until_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn enqueue(
                &self,
                site: &str,
                endpoint: Option<&str>,
                event_type: &str,
                data: &serde_json::Value,
                now_ms: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                let queued = enqueue_webhooks(&mut tx, site, endpoint, event_type, data, now_ms).await?;
                tx.commit().await.map_err(db)?;
                Ok(queued)
            }

            async fn take_due(
                &self,
                now_ms: i64,
                lease_until_ms: i64,
                limit: u32,
            ) -> Result<Vec<$crate::webhooks::Due>, StoreError> {
                // A message another worker took meanwhile no longer passes
                // `next_ms <= now` when this update gets to it.
                let rows = sqlx::query(
                    "UPDATE webhook_messages SET next_ms = $2
                     WHERE state = 'pending' AND next_ms <= $1
                       AND (site, endpoint, id) IN (
                         SELECT m.site, m.endpoint, m.id FROM webhook_messages m
                         JOIN webhook_endpoints e ON e.site = m.site AND e.id = m.endpoint
                         WHERE m.state = 'pending' AND m.next_ms <= $1 AND e.disabled_ms IS NULL
                         ORDER BY m.next_ms LIMIT $3)
                     RETURNING site, endpoint, id, payload, attempts",
                )
                .bind(now_ms)
                .bind(lease_until_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let attempts: i32 = r.get("attempts");
                        $crate::webhooks::Due {
                            site: r.get("site"),
                            endpoint: r.get("endpoint"),
                            id: r.get("id"),
                            payload: r.get("payload"),
                            attempts: u32::try_from(attempts).unwrap_or(0),
                        }
                    })
                    .collect())
            }

            async fn record_attempts(
                &self,
                done: &[(
                    $crate::webhooks::Due,
                    $crate::webhooks::Attempt,
                    $crate::webhooks::Outcome,
                )],
            ) -> Result<(), StoreError> {
                use $crate::webhooks::Outcome;
                if done.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin_with($begin).await.map_err(db)?;
                for (due, attempt, outcome) in done {
                    sqlx::query(
                        "INSERT INTO webhook_attempts (site, endpoint, id, attempt, at_ms, status, error, took_ms)
                         SELECT $1, $2, $3, COALESCE(MAX(attempt), 0) + 1, $4, $5, $6, $7
                         FROM webhook_attempts WHERE site = $1 AND endpoint = $2 AND id = $3",
                    )
                    .bind(&due.site)
                    .bind(&due.endpoint)
                    .bind(&due.id)
                    .bind(attempt.at_ms)
                    .bind(attempt.status.map(i32::from))
                    .bind(attempt.error.as_deref())
                    .bind(attempt.took_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    let (state, next_ms, delivered_ms) = match outcome {
                        Outcome::Delivered => ("delivered", attempt.at_ms, Some(attempt.at_ms + attempt.took_ms)),
                        Outcome::Retry(at) => ("pending", *at, None),
                        Outcome::GiveUp(_) => ("failed", attempt.at_ms, None),
                    };
                    sqlx::query(
                        "UPDATE webhook_messages SET state = $4, next_ms = $5, delivered_ms = $6,
                           attempts = attempts + 1
                         WHERE site = $1 AND endpoint = $2 AND id = $3 AND state = 'pending'",
                    )
                    .bind(&due.site)
                    .bind(&due.endpoint)
                    .bind(&due.id)
                    .bind(state)
                    .bind(next_ms)
                    .bind(delivered_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if let Outcome::GiveUp(reason) = outcome {
                        sqlx::query(
                            "UPDATE webhook_endpoints SET disabled_ms = $3, disabled_reason = $4
                             WHERE site = $1 AND id = $2 AND disabled_ms IS NULL",
                        )
                        .bind(&due.site)
                        .bind(&due.endpoint)
                        .bind(attempt.at_ms + attempt.took_ms)
                        .bind(reason)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(())
            }

            async fn messages(
                &self,
                site: &str,
                endpoint: &str,
                state: Option<&str>,
                limit: u32,
            ) -> Result<Vec<$crate::webhooks::Message>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, event_type, payload, created_ms, state, attempts, next_ms, delivered_ms
                     FROM webhook_messages
                     WHERE site = $1 AND endpoint = $2 AND (CAST($3 AS TEXT) IS NULL OR state = CAST($3 AS TEXT))
                     ORDER BY created_ms DESC, id DESC LIMIT $4",
                )
                .bind(site)
                .bind(endpoint)
                .bind(state)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let attempts: i32 = r.get("attempts");
                        $crate::webhooks::Message {
                            id: r.get("id"),
                            event_type: r.get("event_type"),
                            payload: r.get("payload"),
                            created_ms: r.get("created_ms"),
                            state: r.get("state"),
                            attempts: u32::try_from(attempts).unwrap_or(0),
                            next_ms: r.get("next_ms"),
                            delivered_ms: r.get("delivered_ms"),
                        }
                    })
                    .collect())
            }

            async fn message_counts(
                &self,
                site: &str,
                endpoint: &str,
            ) -> Result<[u64; 3], StoreError> {
                let rows = sqlx::query(
                    "SELECT state, COUNT(*) AS n FROM webhook_messages
                     WHERE site = $1 AND endpoint = $2 GROUP BY state",
                )
                .bind(site)
                .bind(endpoint)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut counts = [0u64; 3];
                for r in rows {
                    let state: String = r.get("state");
                    let n: i64 = r.get("n");
                    let i = match state.as_str() {
                        "pending" => 0,
                        "delivered" => 1,
                        _ => 2,
                    };
                    counts[i] = u64::try_from(n).unwrap_or(0);
                }
                Ok(counts)
            }

            async fn attempts(
                &self,
                site: &str,
                endpoint: &str,
                id: &str,
            ) -> Result<Vec<$crate::webhooks::Attempt>, StoreError> {
                let rows = sqlx::query(
                    "SELECT attempt, at_ms, status, error, took_ms FROM webhook_attempts
                     WHERE site = $1 AND endpoint = $2 AND id = $3 ORDER BY attempt",
                )
                .bind(site)
                .bind(endpoint)
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let attempt: i32 = r.get("attempt");
                        let status: Option<i32> = r.get("status");
                        $crate::webhooks::Attempt {
                            attempt: u32::try_from(attempt).unwrap_or(0),
                            at_ms: r.get("at_ms"),
                            status: status.and_then(|s| u16::try_from(s).ok()),
                            error: r.get("error"),
                            took_ms: r.get("took_ms"),
                        }
                    })
                    .collect())
            }

            async fn replay(
                &self,
                site: &str,
                endpoint: &str,
                id: &str,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE webhook_messages SET state = 'pending', next_ms = $4, attempts = 0,
                       delivered_ms = NULL
                     WHERE site = $1 AND endpoint = $2 AND id = $3",
                )
                .bind(site)
                .bind(endpoint)
                .bind(id)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use webhook_store;
