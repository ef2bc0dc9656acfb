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
            let mut tx = self.pool.begin().await.map_err(db)?;
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

/// The UTC year and month of a time (Howard Hinnant's civil-from-days).
fn year_month(ms: i64) -> (i64, i64) {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m)
}

/// The first millisecond of a month (UTC), by days-from-civil.
fn month_start(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400_000
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
