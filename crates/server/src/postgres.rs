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

    async fn migrate(&self) -> Result<(), StoreError> {
        // Servers starting together migrate one at a time.
        run_migrations(
            &self.pool,
            crate::migrations::MIGRATIONS,
            Some("SELECT pg_advisory_xact_lock(7291004)"),
        )
        .await
    }
}

crate::sql::sql_store!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    "BEGIN",
    " FOR UPDATE"
);
