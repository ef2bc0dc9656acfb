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
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_subjects.sql")),
    (3, include_str!("../migrations/postgres/0003_coupons.sql")),
    (4, include_str!("../migrations/postgres/0004_answers.sql")),
    (5, include_str!("../migrations/postgres/0005_signing.sql")),
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SELECT pg_advisory_xact_lock(7291004)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await.map_err(db)?;
            // Servers starting together migrate one at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7291004)")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if done.is_none() {
                sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(db)?;
                sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            tx.commit().await.map_err(db)?;
        }
        Ok(())
    }
}

crate::sql::sql_store!(PgStore, sqlx::Postgres, sqlx::postgres::PgRow);
