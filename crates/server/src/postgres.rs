//! The scale-out store: PostgreSQL (or a Postgres-wire database). Several
//! stateless servers share one database; ids and codes are made unique by
//! the database's constraints, not by the servers.

use dangol_engine::event::Event;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::store::{
    Claim, ClaimRequest, IssuedCoupon, Published, Redeem, Site, StoreError, StoredEvent,
};

/// PostgreSQL storage.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and migrates the schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await
            .map_err(db)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates the event partitions of this month and the next two (the
    /// migration made those before). A month whose events already sit in
    /// the catch-all partition cannot get its own: it is logged and its
    /// events stay where they are.
    async fn ensure_partitions(&self, now_ms: i64) -> Result<(), StoreError> {
        let (mut year, mut month) = year_month(now_ms);
        for _ in 0..3 {
            let (from, to) = (month_start(year, month), month_start_after(year, month));
            let name = format!("events_{year:04}_{month:02}");
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES FROM ({from}) TO ({to})"
            );
            if let Err(e) = sqlx::query(&sql).execute(&self.pool).await {
                tracing::warn!(partition = %name, error = %e, "could not create an event partition");
            }
            (year, month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
        }
        Ok(())
    }

    async fn upkeep(&self, now_ms: i64) -> Result<(), StoreError> {
        self.ensure_partitions(now_ms).await
    }

    /// Drops the monthly event partitions that end before `before_ms`.
    async fn drop_event_partitions(&self, before_ms: i64) -> Result<u64, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'events'::regclass",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut dropped = 0;
        for name in names {
            let Some((year, month)) = name
                .strip_prefix("events_")
                .and_then(|rest| rest.split_once('_'))
                .and_then(|(y, m)| Some((y.parse::<i64>().ok()?, m.parse::<i64>().ok()?)))
            else {
                continue;
            };
            if month_start_after(year, month) > before_ms {
                continue;
            }
            // Servers sharing the database drop each month once.
            let mut tx = self.pool.begin().await.map_err(db)?;
            sqlx::query("SELECT pg_advisory_xact_lock(7291005)")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let there: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(&name)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if !there {
                tx.commit().await.map_err(db)?;
                continue;
            }
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query(&format!("DROP TABLE {name}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            tracing::info!(partition = %name, events = n, "dropped an event partition past every site's retention");
            dropped += u64::try_from(n).unwrap_or(0);
        }
        Ok(dropped)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        // Servers starting together migrate one at a time.
        run_migrations(
            &self.pool,
            &crate::migrations::postgres(),
            Some("SELECT pg_advisory_xact_lock(7291004)"),
        )
        .await?;
        self.ensure_partitions(crate::now_ms()).await
    }
}

crate::sql::sql_store!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    "BEGIN",
    " FOR UPDATE"
);

crate::webhooks::sql::webhook_store!(PgStore, sqlx::Postgres, "BEGIN");
crate::segments::sql::segment_store!(
    PgStore,
    sqlx::Postgres,
    "BEGIN",
    "unnest({}::text[]) AS ids(value)",
    text_array,
    // One at a time per site, as under SQLite's `BEGIN IMMEDIATE`.
    Some("SELECT pg_advisory_xact_lock(hashtextextended('dangol segment members ' || $1, 0))"),
    // Members and their day counts are worked out again by the next
    // refresh: a crash may lose the last changes (with their webhooks, in
    // the same transaction) but never half of one, so a refresh's commits
    // need not wait for the disk.
    Some("SELECT set_config('synchronous_commit', 'off', true)")
);

/// Ids bound as one parameter: a `text[]`.
fn text_array<'a>(ids: &'a [&'a str]) -> &'a [&'a str] {
    ids
}
crate::identity::sql::identity_store!(PgStore, sqlx::Postgres, "BEGIN");
crate::churn::sql::churn_store!(PgStore, sqlx::Postgres);
crate::catalog::sql::catalog_store!(PgStore, sqlx::Postgres, "BEGIN");
crate::recs::sql::recs_store!(PgStore);

/// The UTC year and month of a time (milliseconds since the epoch).
fn year_month(ms: i64) -> (i64, i64) {
    let date = crate::results::utc_date(ms);
    (i64::from(date.year()), i64::from(u8::from(date.month())))
}

/// The first millisecond of a month (UTC).
fn month_start(year: i64, month: i64) -> i64 {
    let date = i32::try_from(year)
        .ok()
        .zip(
            u8::try_from(month)
                .ok()
                .and_then(|m| time::Month::try_from(m).ok()),
        )
        .and_then(|(y, m)| time::Date::from_calendar_date(y, m, 1).ok())
        .unwrap_or(time::Date::MIN);
    date.midnight().assume_utc().unix_timestamp() * 1000
}

/// The first millisecond of the month after.
fn month_start_after(year: i64, month: i64) -> i64 {
    if month == 12 {
        month_start(year + 1, 1)
    } else {
        month_start(year, month + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_and_end_on_utc_midnights() {
        // 2026-12-01T00:00:00Z and 2027-01-01T00:00:00Z.
        assert_eq!(month_start(2026, 12), 1_796_083_200_000);
        assert_eq!(month_start_after(2026, 12), 1_798_761_600_000);
        assert_eq!(month_start(2024, 3) - month_start(2024, 2), 29 * 86_400_000);
        assert_eq!(year_month(1_796_083_200_000), (2026, 12));
        assert_eq!(year_month(1_796_083_199_999), (2026, 11));
    }
}
