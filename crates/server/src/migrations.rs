//! The database's migrations: one numbered, append-only list that both
//! stores run (SQLite and PostgreSQL take the same statements). Each
//! applied migration's SHA-256 is kept, and a server refuses to start when
//! an applied migration's text has changed since: what ran on a database is
//! never silently different from what the code says ran.

use sha2::{Digest, Sha256};

/// Every migration, by number.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_subjects.sql")),
    (3, include_str!("../migrations/0003_coupons.sql")),
    (4, include_str!("../migrations/0004_answers.sql")),
    (5, include_str!("../migrations/0005_signing.sql")),
    (6, include_str!("../migrations/0006_admin.sql")),
    (7, include_str!("../migrations/0007_daily_stats.sql")),
    (8, include_str!("../migrations/0008_coupon_pool.sql")),
    (9, include_str!("../migrations/0009_api_tokens.sql")),
    (10, include_str!("../migrations/0010_erased.sql")),
    (11, include_str!("../migrations/0011_token_expiry.sql")),
    (12, include_str!("../migrations/0012_roles.sql")),
    (13, include_str!("../migrations/0013_rollups.sql")),
    (14, include_str!("../migrations/0014_event_partitions.sql")),
    (15, include_str!("../migrations/0015_webhooks.sql")),
    (16, include_str!("../migrations/0016_segments.sql")),
    (17, include_str!("../migrations/0017_identity.sql")),
    (18, include_str!("../migrations/0018_feedback_rollups.sql")),
    (19, include_str!("../migrations/0019_churn_models.sql")),
    (20, include_str!("../migrations/0020_catalog.sql")),
    (21, include_str!("../migrations/0021_recs_models.sql")),
    (22, include_str!("../migrations/0022_segment_facts.sql")),
    (23, include_str!("../migrations/0023_segment_runs.sql")),
];

/// Where PostgreSQL runs its own text of a migration (`migrations/postgres/`).
const POSTGRES: &[(i64, &str)] = &[
    (
        14,
        include_str!("../migrations/postgres/0014_event_partitions.sql"),
    ),
    (
        22,
        include_str!("../migrations/postgres/0022_segment_facts.sql"),
    ),
    (
        23,
        include_str!("../migrations/postgres/0023_segment_runs.sql"),
    ),
];

/// Every migration as PostgreSQL runs it.
pub(crate) fn postgres() -> Vec<(i64, &'static str)> {
    MIGRATIONS
        .iter()
        .map(|&(n, sql)| {
            let own = POSTGRES.iter().find(|(m, _)| *m == n);
            (n, own.map_or(sql, |(_, sql)| *sql))
        })
        .collect()
}

/// A migration text's checksum (SHA-256, hex).
pub(crate) fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps_and_each_file_is_listed() {
        let numbers: Vec<i64> = MIGRATIONS.iter().map(|(n, _)| *n).collect();
        let expected: Vec<i64> = (1..=MIGRATIONS.len() as i64).collect();
        assert_eq!(numbers, expected);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let files = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count();
        assert_eq!(files, MIGRATIONS.len());
        // PostgreSQL's own texts replace migrations that exist for both.
        let own = std::fs::read_dir(dir.join("postgres")).unwrap().count();
        assert_eq!(own, POSTGRES.len());
        assert!(POSTGRES.iter().all(|(n, _)| numbers.contains(n)));
        assert_eq!(postgres().len(), MIGRATIONS.len());
    }
}
