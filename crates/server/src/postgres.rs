//! The scale-out store: PostgreSQL (or a Postgres-wire database). Several
//! stateless servers share one database; ids and codes are made unique by
//! the database's constraints, not by the servers.

use dangol_engine::event::Event;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::store::{
    Claim, ClaimRequest, IssuedCoupon, Published, Redeem, Site, StoreError, StoredEvent,
};

/// Append-only, numbered migrations.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_subjects.sql")),
    (3, include_str!("../migrations/postgres/0003_coupons.sql")),
    (4, include_str!("../migrations/postgres/0004_answers.sql")),
    (5, include_str!("../migrations/postgres/0005_signing.sql")),
    (6, include_str!("../migrations/postgres/0006_admin.sql")),
    (
        7,
        include_str!("../migrations/postgres/0007_daily_stats.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_coupon_pool.sql"),
    ),
    (
        9,
        include_str!("../migrations/postgres/0009_api_tokens.sql"),
    ),
    (10, include_str!("../migrations/postgres/0010_erased.sql")),
    (
        11,
        include_str!("../migrations/postgres/0011_token_expiry.sql"),
    ),
    (12, include_str!("../migrations/postgres/0012_roles.sql")),
];

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

    async fn migrate(&self) -> Result<(), StoreError> {
        // Servers starting together migrate one at a time.
        run_migrations(
            &self.pool,
            MIGRATIONS,
            Some("SELECT pg_advisory_xact_lock(7291004)"),
        )
        .await
    }
}

crate::sql::sql_store!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow, "BEGIN");

#[cfg(test)]
mod tests {
    #[test]
    fn both_stores_have_the_same_numbered_migrations() {
        let numbers = |m: &[(i64, &str)]| m.iter().map(|(n, _)| *n).collect::<Vec<_>>();
        assert_eq!(
            numbers(super::MIGRATIONS),
            numbers(crate::sqlite::MIGRATIONS)
        );
        let expected: Vec<i64> = (1..=super::MIGRATIONS.len() as i64).collect();
        assert_eq!(
            numbers(super::MIGRATIONS),
            expected,
            "numbered from 1, no gaps"
        );
        // Each dialect's files exist for every number.
        for dialect in ["sqlite", "postgres"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            assert_eq!(
                std::fs::read_dir(&dir).unwrap().count(),
                super::MIGRATIONS.len(),
                "{dialect}"
            );
        }
    }
}
