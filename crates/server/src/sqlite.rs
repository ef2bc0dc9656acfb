//! The embedded default store: one SQLite file in WAL mode.

use std::path::Path;
use std::str::FromStr;

use dangol_engine::event::Event;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::store::{
    Claim, ClaimRequest, IssuedCoupon, Published, Redeem, Site, StoreError, StoredEvent,
};

/// How long a statement waits for another connection's lock before it
/// fails as busy.
const BUSY_TIMEOUT_MS: u64 = 5_000;

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
            .busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
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

    /// Folds the write-ahead log back into the database and truncates it:
    /// under a steady stream of reads and writes SQLite's automatic
    /// checkpoints never find a moment to reset the log, which then grows
    /// without bound.
    ///
    /// Never at the writers' expense: a truncating checkpoint holds off
    /// every writer while it waits for readers of older snapshots, which
    /// with the usual busy timeout (5 s) made writes under load fail as
    /// "database is locked". So the log is first folded back without
    /// blocking anyone, and truncated only when that folded all of it,
    /// with no waiting: when a writer or a reader is in the way the log
    /// stays for the next time (ten seconds later), as it would under a
    /// stream anyway.
    async fn upkeep(&self, _now_ms: i64) -> Result<(), StoreError> {
        let (busy, log, folded): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        if busy != 0 || log <= 0 || folded < log {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await.map_err(db)?;
        sqlx::query("PRAGMA busy_timeout = 0")
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        // Busy (someone in the way) is an answer, not an error.
        let truncated = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .await;
        let restored = sqlx::query(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"))
            .execute(&mut *conn)
            .await;
        if restored.is_err() {
            // A connection that would fail at once when busy does not go
            // back to the pool.
            drop(conn.detach());
        }
        truncated.map_err(db)?;
        restored.map_err(db)?;
        Ok(())
    }

    /// SQLite keeps one events table: nothing to drop.
    async fn drop_event_partitions(&self, _before_ms: i64) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        run_migrations(&self.pool, crate::migrations::MIGRATIONS, None).await
    }
}

crate::sql::sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    "BEGIN IMMEDIATE",
    ""
);

crate::webhooks::sql::webhook_store!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");
crate::segments::sql::segment_store!(
    SqliteStore,
    sqlx::Sqlite,
    "BEGIN IMMEDIATE",
    "json_each({})",
    json_list,
    None::<&str>,
    None::<&str>
);

/// Ids bound as one parameter: a JSON array, read by `json_each`.
fn json_list(ids: &[&str]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}
crate::identity::sql::identity_store!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");
crate::churn::sql::churn_store!(SqliteStore, sqlx::Sqlite);
crate::catalog::sql::catalog_store!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");
crate::recs::sql::recs_store!(SqliteStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_migration_changed_after_it_ran_stops_the_server_by_name() {
        let store = SqliteStore::in_memory().await.unwrap();
        // Running them again changes nothing.
        run_migrations(&store.pool, crate::migrations::MIGRATIONS, None)
            .await
            .unwrap();
        let mut changed = crate::migrations::MIGRATIONS.to_vec();
        changed[1].1 = "-- edited after the fact\nCREATE TABLE x (y TEXT);";
        let err = run_migrations(&store.pool, &changed, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("migration 2 was changed after it was applied"),
            "{err}"
        );
        // A database from before checksums were kept takes what is there.
        sqlx::query("DELETE FROM schema_checksums")
            .execute(&store.pool)
            .await
            .unwrap();
        run_migrations(&store.pool, crate::migrations::MIGRATIONS, None)
            .await
            .unwrap();
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_checksums")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(kept as usize, crate::migrations::MIGRATIONS.len());
    }

    #[tokio::test]
    async fn members_stored_before_runs_move_into_runs_in_order_and_read_back_whole() {
        use crate::segments::SegmentStore;
        let options = SqliteConnectOptions::from_str("sqlite::memory:").unwrap();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        let before: Vec<_> = crate::migrations::MIGRATIONS
            .iter()
            .copied()
            .filter(|(n, _)| *n < 23)
            .collect();
        run_migrations(&pool, &before, None).await.unwrap();
        // 40,000 members of one segment, a few whose ids sort apart by
        // byte and by letter, and one member of another segment.
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 39999)
             INSERT INTO segment_members (site, segment, anon, entered_ms)
             SELECT 'demo', 'big', printf('m-%06d', i), i FROM n",
        )
        .execute(&pool)
        .await
        .unwrap();
        for (segment, anon, at) in [
            ("big", "M_x", -1),
            ("big", "Zz", -2),
            ("big", "m_0", -3),
            ("other", "m-000001", 7),
        ] {
            sqlx::query("INSERT INTO segment_members (site, segment, anon, entered_ms) VALUES ('demo', $1, $2, $3)")
                .bind(segment)
                .bind(anon)
                .bind(at)
                .execute(&pool)
                .await
                .unwrap();
        }
        run_migrations(&pool, crate::migrations::MIGRATIONS, None)
            .await
            .unwrap();
        let runs: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM segment_runs WHERE segment = 'big'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(runs, 3, "16,384 members a run");
        let bounds: Vec<(String, String)> = sqlx::query_as(
            "SELECT after_anon, last_anon FROM segment_runs WHERE segment = 'big' ORDER BY after_anon",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let bounds: Vec<(&str, &str)> = bounds
            .iter()
            .map(|(a, l)| (a.as_str(), l.as_str()))
            .collect();
        assert_eq!(
            bounds,
            [
                ("", "m-016381"),
                ("m-016381", "m-032765"),
                ("m-032765", "m_0")
            ]
        );
        let store = SqliteStore { pool };
        let all = store.members("demo", "big", "", 100_000).await.unwrap();
        let mut expected: Vec<(String, i64)> =
            (0..40_000).map(|i| (format!("m-{i:06}"), i)).collect();
        expected.extend([
            ("M_x".to_string(), -1),
            ("Zz".into(), -2),
            ("m_0".into(), -3),
        ]);
        expected.sort();
        let got: Vec<(String, i64)> = all.into_iter().map(|(a, at, _)| (a, at)).collect();
        assert_eq!(got.len(), expected.len());
        assert!(
            got == expected,
            "every member once, in byte order, with when they entered"
        );
        // Pages across runs.
        let page = store.members("demo", "big", "m-016383", 3).await.unwrap();
        let ids: Vec<&str> = page.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(ids, ["m-016384", "m-016385", "m-016386"]);
        let other = store.members("demo", "other", "", 10).await.unwrap();
        assert_eq!(other, [("m-000001".to_string(), 7, None)]);
    }

    #[tokio::test]
    async fn a_refresh_that_finds_the_same_members_writes_no_run() {
        use crate::segments::{RangeMembers, SegmentStore};
        let store = SqliteStore::in_memory().await.unwrap();
        sqlx::query(
            "CREATE TABLE run_writes (n INTEGER NOT NULL);
             INSERT INTO run_writes VALUES (0);
             CREATE TRIGGER run_inserted AFTER INSERT ON segment_runs
             BEGIN UPDATE run_writes SET n = n + 1; END;
             CREATE TRIGGER run_deleted AFTER DELETE ON segment_runs
             BEGIN UPDATE run_writes SET n = n + 1; END;
             CREATE TRIGGER run_updated AFTER UPDATE ON segment_runs
             BEGIN UPDATE run_writes SET n = n + 1; END;",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let writes = || async {
            sqlx::query_scalar::<_, i64>("SELECT n FROM run_writes")
                .fetch_one(&store.pool)
                .await
                .unwrap()
        };
        let ids: Vec<String> = (0..30).map(|i| format!("shopper-{i:02}")).collect();
        // Three ranges, as a refresh works through them; every shopper matches.
        let ranges = [
            (String::new(), Some(ids[9].clone()), &ids[..10]),
            (ids[9].clone(), Some(ids[19].clone()), &ids[10..20]),
            (ids[19].clone(), None, &ids[20..]),
        ];
        let refresh = || async {
            let mut changed = Vec::new();
            for (after, through, matching) in &ranges {
                let segment = [RangeMembers {
                    segment: "s",
                    matching,
                    notify: true,
                }];
                let range = (after.as_str(), through.as_deref());
                changed.extend(
                    store
                        .set_members_between("demo", range, &segment, 1)
                        .await
                        .unwrap(),
                );
            }
            changed
        };
        assert_eq!(refresh().await, [(10, 0); 3]);
        assert_eq!(writes().await, 3, "a run a range");
        assert_eq!(refresh().await, [(0, 0); 3]);
        assert_eq!(writes().await, 3, "nothing written again");
        let members = store.members("demo", "s", "", 100).await.unwrap();
        assert_eq!(
            members.iter().map(|m| &m.0).collect::<Vec<_>>(),
            ids.iter().collect::<Vec<_>>()
        );
    }

    /// A table of its own, so the test needs nothing else of the schema.
    async fn write_rows(pool: &SqlitePool, from: i64, n: i64) -> Result<(), sqlx::Error> {
        sqlx::query("CREATE TABLE IF NOT EXISTS upkeep_rows (n INTEGER PRIMARY KEY, pad TEXT)")
            .execute(pool)
            .await?;
        for i in from..from + n {
            sqlx::query("INSERT INTO upkeep_rows (n, pad) VALUES ($1, hex(randomblob(200)))")
                .bind(i)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upkeep_never_holds_writers_while_a_reader_keeps_an_old_snapshot_and_truncates_once_free()
     {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dangol.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let wal = dir.path().join("dangol.db-wal");
        write_rows(&store.pool, 0, 50).await.unwrap();
        // A dashboard read in progress: a read transaction on the
        // snapshot of now, while writes go on after it.
        let mut reader = store.pool.acquire().await.unwrap();
        sqlx::query("BEGIN").execute(&mut *reader).await.unwrap();
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upkeep_rows")
            .fetch_one(&mut *reader)
            .await
            .unwrap();
        assert_eq!(seen, 50);
        write_rows(&store.pool, 50, 50).await.unwrap();
        // Upkeep and a write together, the reader still reading: both
        // finish long before the busy timeout, which they would wait out
        // (and the write then fail as "database is locked") if the
        // checkpoint waited for the reader while holding writers off.
        let both = async {
            let (upkept, written) = tokio::join!(store.upkeep(0), write_rows(&store.pool, 100, 20));
            upkept.unwrap();
            written.unwrap();
        };
        tokio::time::timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS / 2), both)
            .await
            .expect("upkeep or the write waited for the reader");
        assert!(
            std::fs::metadata(&wal).unwrap().len() > 0,
            "the reader still needs the log"
        );
        sqlx::query("COMMIT").execute(&mut *reader).await.unwrap();
        drop(reader);
        // Nobody in the way: the whole log is folded back and truncated,
        // and every row is there.
        store.upkeep(0).await.unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upkeep_rows")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(rows, 120);
    }

    #[tokio::test]
    async fn after_the_upgrade_segments_wait_until_every_profile_has_its_facts() {
        use crate::segments::SegmentStore;
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .unwrap()
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        // A database as the version before segment facts left it: a
        // shopper who bought, rolled up into a profile.
        let before = &crate::migrations::MIGRATIONS[..21];
        assert_eq!(before.last().unwrap().0, 21);
        run_migrations(&pool, before, None).await.unwrap();
        let now = crate::now_ms();
        for sql in [
            "INSERT INTO sites (id, name, created_ms) VALUES ('demo', 'Demo', 0)".to_string(),
            format!(
                "INSERT INTO events (site, id, type, ts, anon, price, received_ms) VALUES
                 ('demo', 'e1', 'page_view', {t}, 'up-shopper-0001', NULL, {t}),
                 ('demo', 'e2', 'purchase', {t}, 'up-shopper-0001', 30000, {t})",
                t = now - 60_000
            ),
            "INSERT INTO rollup_profiles (site, anon, last_ms, bucket, profile)
             VALUES ('demo', 'up-shopper-0001', 0, 1, '{\"v\":1,\"orders\":1}')"
                .to_string(),
        ] {
            sqlx::query(&sql).execute(&pool).await.unwrap();
        }
        let store = SqliteStore { pool };
        store.migrate().await.unwrap();
        assert_eq!(store.facts_missing("demo").await.unwrap(), 1);
        let segment = crate::segments::Segment {
            site: "demo".into(),
            id: "buyers".into(),
            name: "Buyers".into(),
            condition: serde_json::json!({"orders": {"$gte": 1}}),
            builtin: false,
            created_ms: now,
            refreshed_ms: None,
            members: 0,
        };
        store.put_segment(&segment).await.unwrap();
        let err = crate::segments::refresh(&store, &segment, now)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 more shoppers"), "{err}");
        // The upgrade marked the shopper for the rollup job, which makes
        // their facts; then the segment fills.
        crate::rollups::catch_up(&store, std::time::Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(store.facts_missing("demo").await.unwrap(), 0);
        assert_eq!(
            crate::segments::refresh(&store, &segment, now)
                .await
                .unwrap(),
            1
        );
        let members = store.members("demo", "buyers", "", 10).await.unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].0, "up-shopper-0001");
    }
}
