//! Segments: a named condition (the campaigns' GrowthBook-style language)
//! over what the server knows of each shopper, the profile the engine's own
//! code rebuilt from their events (lifecycle, RFM, orders and revenue,
//! cart, affinities, days since the last visit). Membership is worked out
//! again every few minutes and on demand, a few sampling buckets at a time
//! (memory stays bounded however many shoppers), and each change is stored
//! with the day's counts and, in the same transaction, sent as a
//! `segment.entered` or `segment.left` webhook. A segment's first fill is
//! its baseline and sends none.
//!
//! Built-in segments follow the CRM practices the product is built around:
//! newly dormant, at risk, lapsed VIP, a cart abandoned and not recovered
//! within a day, and one purchase without a second.

pub mod admin;
pub(crate) mod sql;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dangol_engine::condition::{Condition, NativeRegex};
use dangol_engine::profile::Profile;
use serde_json::{Value, json};

use crate::store::{Store, StoreError};

/// The built-in segments: id, name, condition.
pub const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "newly-dormant",
        "Newly dormant",
        r#"{"lifecycle": "dormant", "days_since_last_visit": {"$lte": 60}}"#,
    ),
    ("at-risk", "At risk", r#"{"lifecycle": "at_risk"}"#),
    (
        "lapsed-vip",
        "Lapsed VIP",
        r#"{"rfm.m": {"$gte": 4}, "lifecycle": {"$in": ["at_risk", "dormant"]}}"#,
    ),
    (
        "cart-not-recovered",
        "Abandoned cart, not back within a day",
        r#"{"cart.abandoned": true, "days_since_last_visit": {"$gte": 1}}"#,
    ),
    (
        "one-purchase-no-second",
        "One purchase, no second after two weeks",
        r#"{"orders": 1, "days_since_last_visit": {"$gte": 14}}"#,
    ),
];

/// A range of buckets and, for each segment, who of its shoppers matches.
type Matched = ((u32, u32), Vec<Vec<String>>);

/// Buckets (of 1024) read together in a refresh.
const BUCKETS_PER_READ: u32 = 16;

/// A site's segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The site.
    pub site: String,
    /// Letters, digits, `-` or `_`.
    pub id: String,
    /// For people.
    pub name: String,
    /// The condition, as JSON.
    pub condition: Value,
    /// One of [`BUILTIN`].
    pub builtin: bool,
    /// When it was made.
    pub created_ms: i64,
    /// When membership was last worked out.
    pub refreshed_ms: Option<i64>,
    /// Members at that time.
    pub members: u64,
}

/// One day of a segment: who entered, who left, members at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentDay {
    /// Days since the epoch (UTC).
    pub day: i64,
    /// Shoppers who entered.
    pub entered: u64,
    /// Shoppers who left.
    pub exited: u64,
    /// Members at the day's last refresh.
    pub members: u64,
}

/// What one page of a refresh changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Shoppers who now match.
    pub entered: Vec<String>,
    /// Shoppers who no longer match (or have no profile any more).
    pub exited: Vec<String>,
}

/// Segments and their members.
#[async_trait]
pub trait SegmentStore: Send + Sync {
    /// Adds or changes a segment (name and condition).
    async fn put_segment(&self, segment: &Segment) -> Result<(), StoreError>;
    /// A site's segments, built-in first.
    async fn segments(&self, site: &str) -> Result<Vec<Segment>, StoreError>;
    /// Removes a segment with its members and history.
    async fn delete_segment(&self, site: &str, id: &str) -> Result<bool, StoreError>;
    /// Members of the segment in sampling buckets `from..to`.
    async fn members_in(
        &self,
        site: &str,
        segment: &str,
        buckets: (u32, u32),
    ) -> Result<Vec<String>, StoreError>;
    /// Applies `changes` at `now_ms` (members, the day's counts and, when
    /// `notify`, a webhook per change), in one transaction.
    async fn apply_changes(
        &self,
        site: &str,
        segment: &str,
        changes: &Changes,
        now_ms: i64,
        notify: bool,
    ) -> Result<(), StoreError>;
    /// Marks a refresh done: the member count and the day's.
    async fn refreshed(&self, site: &str, segment: &str, now_ms: i64) -> Result<u64, StoreError>;
    /// Up to `limit` members after `after` (by id): a page of an export,
    /// with when each entered and the customer they identified as.
    async fn members(
        &self,
        site: &str,
        segment: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, i64, Option<String>)>, StoreError>;
    /// The segment's days from `from_day` on.
    async fn segment_days(
        &self,
        site: &str,
        segment: &str,
        from_day: i64,
    ) -> Result<Vec<SegmentDay>, StoreError>;
}

/// The site's segments, with the built-in ones made on first use.
pub async fn of_site(
    store: &dyn Store,
    site: &str,
    now_ms: i64,
) -> Result<Vec<Segment>, StoreError> {
    let mut list = store.segments(site).await?;
    let mut added = false;
    for (id, name, condition) in BUILTIN {
        if !list.iter().any(|s| s.id == *id) {
            store
                .put_segment(&Segment {
                    site: site.to_string(),
                    id: (*id).to_string(),
                    name: (*name).to_string(),
                    condition: serde_json::from_str(condition).unwrap_or(json!({})),
                    builtin: true,
                    created_ms: now_ms,
                    refreshed_ms: None,
                    members: 0,
                })
                .await?;
            added = true;
        }
    }
    if added {
        list = store.segments(site).await?;
    }
    Ok(list)
}

/// Works out the segment's members again from every rolled-up profile;
/// the member count. Changes since the last refresh are stored (and sent as
/// webhooks unless this is the segment's first fill).
pub async fn refresh(store: &dyn Store, segment: &Segment, now_ms: i64) -> Result<u64, StoreError> {
    let counts = refresh_site(store, &segment.site, std::slice::from_ref(segment), now_ms).await?;
    Ok(counts.first().copied().unwrap_or(0))
}

/// Works out several segments of one site in one pass over its shoppers:
/// each stored profile is read once for all of them, on the blocking pool
/// and both halves of a page at once. Their member counts, in order.
pub async fn refresh_site(
    store: &dyn Store,
    site: &str,
    segments: &[Segment],
    now_ms: i64,
) -> Result<Vec<u64>, StoreError> {
    let (cfg, groups) = crate::rollups::profile_config(store, site).await?;
    let churn = crate::churn::stored_model(store, site).await?;
    let conditions: Arc<Vec<dangol_engine::json::Value>> = Arc::new(
        segments
            .iter()
            .map(|s| s.condition.clone().into())
            .collect(),
    );
    let (cfg, groups) = (Arc::new(cfg), Arc::new(groups));
    let ranges: Vec<(u32, u32)> = (0..1024)
        .step_by(BUCKETS_PER_READ as usize)
        .map(|from| (from, from + BUCKETS_PER_READ))
        .collect();
    // Three stages overlap: while one range's profiles are matched on the
    // blocking pool, the previous range's changes are stored and the next
    // range's profiles read.
    let mut profiles = store.profiles(site, i64::MIN, ranges[0]).await?;
    let mut matched: Option<Matched> = None;
    for (at, &buckets) in ranges.iter().enumerate() {
        let matching = {
            let profiles = std::mem::take(&mut profiles);
            let (conditions, cfg, groups, churn) =
                (conditions.clone(), cfg.clone(), groups.clone(), churn);
            tokio::task::spawn_blocking(move || {
                matching_of(
                    &profiles,
                    &conditions,
                    &cfg,
                    churn.as_ref(),
                    &groups,
                    now_ms,
                )
            })
        };
        let meanwhile = async {
            if let Some((buckets, matching)) = matched.take() {
                store_changes(store, site, segments, buckets, matching, now_ms).await?;
            }
            match ranges.get(at + 1) {
                Some(&next) => store.profiles(site, i64::MIN, next).await,
                None => Ok(Vec::new()),
            }
        };
        let (matching, next) = tokio::join!(matching, meanwhile);
        let matching = matching
            .map_err(|e| StoreError::Database(format!("a segment refresh stopped: {e}")))?;
        profiles = next?;
        matched = Some((buckets, matching));
    }
    if let Some((buckets, matching)) = matched {
        store_changes(store, site, segments, buckets, matching, now_ms).await?;
    }
    let mut counts = Vec::with_capacity(segments.len());
    for segment in segments {
        counts.push(store.refreshed(site, &segment.id, now_ms).await?);
    }
    Ok(counts)
}

/// Stores who entered and left each segment among the shoppers of
/// `buckets`, given who of them matches each segment now.
async fn store_changes(
    store: &dyn Store,
    site: &str,
    segments: &[Segment],
    buckets: (u32, u32),
    matching: Vec<Vec<String>>,
    now_ms: i64,
) -> Result<(), StoreError> {
    for (segment, matched) in segments.iter().zip(matching) {
        let members = store.members_in(site, &segment.id, buckets).await?;
        let changes = changes_of(matched, &members);
        if !changes.entered.is_empty() || !changes.exited.is_empty() {
            let notify = segment.refreshed_ms.is_some();
            store
                .apply_changes(site, &segment.id, &changes, now_ms, notify)
                .await?;
        }
    }
    Ok(())
}

/// For each condition, the shoppers of `profiles` it matches now (sorted);
/// the profiles are read once, in two halves on two threads.
fn matching_of(
    profiles: &[(String, String)],
    conditions: &[dangol_engine::json::Value],
    cfg: &dangol_engine::profile::ProfileConfig,
    churn: Option<&dangol_engine::churn::ChurnModel>,
    groups: &dangol_engine::json::Value,
    now_ms: i64,
) -> Vec<Vec<String>> {
    let half = profiles.len().div_ceil(2);
    let work = |chunk: &[(String, String)]| -> Vec<Vec<String>> {
        // Compiled here: a compiled condition stays on its thread. Each was
        // checked when saved; one that no longer compiles matches no one.
        let compiled: Vec<Option<Condition>> = conditions
            .iter()
            .map(|c| Condition::compile(c, &NativeRegex).ok())
            .collect();
        let mut out = vec![Vec::new(); conditions.len()];
        for (anon, stored) in chunk {
            let attrs = attributes_of(stored, cfg, churn, now_ms);
            for (i, c) in compiled.iter().enumerate() {
                if c.as_ref()
                    .is_some_and(|c| c.eval(&attrs, groups, &NativeRegex))
                {
                    out[i].push(anon.clone());
                }
            }
        }
        out
    };
    let (a, b) = profiles.split_at(half.min(profiles.len()));
    let (mut left, right) = std::thread::scope(|scope| {
        let other = scope.spawn(|| work(b));
        let mine = work(a);
        (mine, other.join().unwrap_or_default())
    });
    for (l, r) in left.iter_mut().zip(right) {
        l.extend(r);
        l.sort_unstable();
    }
    left
}

/// The attributes a condition sees for the shopper whose stored profile is
/// `stored`, now, with the churn model's figures where one is fitted.
fn attributes_of(
    stored: &str,
    cfg: &dangol_engine::profile::ProfileConfig,
    churn: Option<&dangol_engine::churn::ChurnModel>,
    now_ms: i64,
) -> dangol_engine::json::Value {
    let profile = serde_json::from_str::<dangol_engine::json::Value>(stored)
        .ok()
        .and_then(|v| Profile::from_value(&v).ok())
        .unwrap_or_default();
    let mut facts = profile.facts(cfg, now_ms);
    facts.churn = churn.and_then(|m| {
        m.figures(
            profile.orders,
            profile.revenue,
            profile.last_purchase_ms,
            profile.purchase_gap_days,
            now_ms,
        )
    });
    dangol_engine::attributes::build(
        &dangol_engine::attributes::PageContext::default(),
        &facts,
        &dangol_engine::json::Map::new(),
        dangol_engine::consent::Consent::Granted,
        &dangol_engine::time::Moment::utc(now_ms),
    )
}

/// Who enters and who leaves: `matching` (sorted) against `members`.
pub fn changes_of(matching: Vec<String>, members: &[String]) -> Changes {
    let mut current: Vec<&str> = members.iter().map(String::as_str).collect();
    current.sort_unstable();
    let exited = current
        .iter()
        .filter(|m| matching.binary_search_by(|x| x.as_str().cmp(m)).is_err())
        .map(|m| m.to_string())
        .collect();
    let entered = matching
        .into_iter()
        .filter(|m| current.binary_search(&m.as_str()).is_err())
        .collect();
    Changes { entered, exited }
}

/// Refreshes every segment of every site, for as long as the server runs:
/// each `every` (membership follows time as well as events: a shopper
/// becomes dormant without doing anything).
pub async fn segment_loop(store: Arc<dyn Store>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = refresh_all(store.as_ref(), crate::now_ms()).await {
            tracing::error!(error = %e, "could not refresh segments");
        }
    }
}

/// Refreshes every segment of every site; how many segments.
pub async fn refresh_all(store: &dyn Store, now_ms: i64) -> Result<usize, StoreError> {
    crate::rollups::catch_up(store, Duration::from_secs(30)).await?;
    let mut n = 0;
    for site in store.sites().await? {
        let segments = of_site(store, &site.id, now_ms).await?;
        refresh_site(store, &site.id, &segments, now_ms).await?;
        n += segments.len();
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_page_finds_who_entered_and_who_left() {
        let matching = vec!["a".to_string(), "c".to_string()];
        let members = vec!["gone".to_string(), "c".to_string(), "b".to_string()];
        let changes = changes_of(matching, &members);
        assert_eq!(changes.entered, ["a"]);
        assert_eq!(changes.exited, ["b", "gone"]);
    }

    #[test]
    fn one_pass_over_the_profiles_serves_every_condition() {
        let cfg = dangol_engine::profile::ProfileConfig::default();
        let empty = Profile::default().to_value().to_string();
        let profiles: Vec<(String, String)> =
            (0..5).map(|i| (format!("s{i}"), empty.clone())).collect();
        let conditions = vec![
            dangol_engine::json!({"orders": 0}),
            dangol_engine::json!({"orders": {"$gte": 1}}),
            dangol_engine::json!({"nonsense": {"$frob": 1}}),
        ];
        let out = matching_of(
            &profiles,
            &conditions,
            &cfg,
            None,
            &dangol_engine::json!({}),
            0,
        );
        assert_eq!(out[0], ["s0", "s1", "s2", "s3", "s4"]);
        assert!(out[1].is_empty());
        assert!(
            out[2].is_empty(),
            "a condition that does not compile matches no one"
        );
    }

    #[test]
    fn every_built_in_condition_compiles() {
        for (id, _, condition) in BUILTIN {
            let v: Value = serde_json::from_str(condition).unwrap();
            assert!(
                Condition::compile(&v.into(), &NativeRegex).is_ok(),
                "built-in segment {id}"
            );
            assert!(dangol_engine::config::is_identifier(id));
        }
    }
}
