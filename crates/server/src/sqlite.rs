//! The embedded default store: one SQLite file in WAL mode.

use std::path::Path;
use std::str::FromStr;

use dangol_engine::event::Event;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::store::{
    Claim, ClaimRequest, IssuedCoupon, Published, Redeem, Site, StoreError, StoredEvent,
};

/// Append-only, numbered migrations.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_subjects.sql")),
    (3, include_str!("../migrations/sqlite/0003_coupons.sql")),
    (4, include_str!("../migrations/sqlite/0004_answers.sql")),
    (5, include_str!("../migrations/sqlite/0005_signing.sql")),
    (6, include_str!("../migrations/sqlite/0006_admin.sql")),
    (7, include_str!("../migrations/sqlite/0007_daily_stats.sql")),
    (8, include_str!("../migrations/sqlite/0008_coupon_pool.sql")),
    (9, include_str!("../migrations/sqlite/0009_api_tokens.sql")),
    (10, include_str!("../migrations/sqlite/0010_erased.sql")),
    (
        11,
        include_str!("../migrations/sqlite/0011_token_expiry.sql"),
    ),
    (12, include_str!("../migrations/sqlite/0012_roles.sql")),
];

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        // The database holds the sites' signing secrets: readable by this
        // user only. SQLite gives its -wal and -shm files the database
        // file's mode, so creating it private first covers all three.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| StoreError::Database(format!("creating {}: {e}", path.display())))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                |e| StoreError::Database(format!("making {} private: {e}", path.display())),
            )?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL never corrupts the database; a power cut may
            // lose the last moments of commits, a crash of the server loses none.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5))
            .foreign_keys(true);
        Self::connect(options, 8).await
    }

    /// A private in-memory database, for tests.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(db)?
            .foreign_keys(true);
        // One connection: each in-memory connection is its own database.
        Self::connect(options, 1).await
    }

    async fn connect(options: SqliteConnectOptions, max: u32) -> Result<Self, StoreError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .map_err(db)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        run_migrations(&self.pool, MIGRATIONS, None).await
    }
}

crate::sql::sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    "BEGIN IMMEDIATE"
);
