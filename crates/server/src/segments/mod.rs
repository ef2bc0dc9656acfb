//! Segments: a named condition (the campaigns' GrowthBook-style language)
//! over what the server knows of each shopper, the profile the engine's own
//! code rebuilt from their events (lifecycle, RFM, orders and revenue,
//! cart, affinities, days since the last visit). Membership is worked out
//! again every few minutes and on demand, in one pass over the shoppers in
//! id order, a range of them at a time (memory stays bounded however many
//! shoppers). What a refresh reads of each shopper is the compact segment
//! form of their profile the rollup job keeps beside it (no JSON is
//! parsed), and each range's members are set in the database in one
//! statement each way: each change is stored with the day's counts and,
//! in the same transaction, sent as a `segment.entered` or `segment.left`
//! webhook. A segment's first fill is its baseline and sends none.
//!
//! Built-in segments follow the CRM practices the product is built around:
//! newly dormant, at risk, lapsed VIP, a cart abandoned and not recovered
//! within a day, and one purchase without a second.

pub mod admin;
pub(crate) mod runs;
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

/// Shoppers of a range (after one id, up to another or to the end) and,
/// for each segment, who of them matches.
type Matched = (String, Option<String>, Vec<Vec<String>>);

/// Shoppers read together in a refresh.
const SHOPPERS_PER_READ: u32 = 16_384;

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

/// One segment's side of a range of shoppers in a refresh.
#[derive(Debug, Clone, Copy)]
pub struct RangeMembers<'a> {
    /// The segment.
    pub segment: &'a str,
    /// Who of the range's shoppers match it now.
    pub matching: &'a [String],
    /// Send a webhook for each change (not on the segment's first fill).
    pub notify: bool,
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
    /// Up to `limit` shoppers of the site after `after` (by id) with what
    /// segments read of each (`Profile::segment_form`), in id order.
    async fn segment_facts(
        &self,
        site: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// How many of the site's rolled-up shoppers have no segment facts yet
    /// (after an upgrade, until the rollup job has made them again).
    async fn facts_missing(&self, site: &str) -> Result<u64, StoreError>;
    /// Makes each segment's members among the shoppers after `range.0`
    /// and up to `range.1` (by id; to the end when `None`) exactly its
    /// `matching` (ids in that range), at `now_ms`, with the day's counts
    /// and, where `notify`, a webhook per change, all in one transaction:
    /// for each segment, how many entered and how many left (what this
    /// call really changed).
    async fn set_members_between(
        &self,
        site: &str,
        range: (&str, Option<&str>),
        segments: &[RangeMembers<'_>],
        now_ms: i64,
    ) -> Result<Vec<(u64, u64)>, StoreError>;
    /// Marks a refresh done, with its member count (the segment's and the
    /// day's).
    async fn refreshed(
        &self,
        site: &str,
        segment: &str,
        now_ms: i64,
        members: u64,
    ) -> Result<(), StoreError>;
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

/// Works out several segments of one site in one pass over its shoppers,
/// in id order: each shopper's segment facts are read once for all of
/// them and matched on the blocking pool, both halves of a range at once.
/// Their member counts, in order. While the rollup job is still making
/// facts for shoppers rolled up before they existed, nothing is changed
/// and the refresh is refused as not ready (a refresh then would see those
/// shoppers as gone).
pub async fn refresh_site(
    store: &dyn Store,
    site: &str,
    segments: &[Segment],
    now_ms: i64,
) -> Result<Vec<u64>, StoreError> {
    let running = site_lock(store, site);
    let _alone = running.lock().await;
    refresh_site_alone(store, site, segments, now_ms).await
}

/// A lock per store and site for the refreshes this process runs: a
/// refresh asked for while another of the same site runs waits for it,
/// and the schedule passes over a site being refreshed (two refreshes
/// side by side would each do all the reading and matching, taking turns
/// on every range). Servers sharing a database change members one range
/// at a time between them anyway (see
/// [`SegmentStore::set_members_between`]).
fn site_lock(store: &dyn Store, site: &str) -> Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, PoisonError, Weak};
    type Locks = HashMap<(usize, String), Weak<tokio::sync::Mutex<()>>>;
    static LOCKS: std::sync::LazyLock<Mutex<Locks>> = std::sync::LazyLock::new(Default::default);
    let key = (
        std::ptr::from_ref(store).cast::<()>() as usize,
        site.to_string(),
    );
    let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
        return lock;
    }
    // Only sites with a refresh running or waiting keep an entry.
    locks.retain(|_, lock| lock.strong_count() > 0);
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    locks.insert(key, Arc::downgrade(&lock));
    lock
}

/// [`refresh_site`], with the site's lock held.
async fn refresh_site_alone(
    store: &dyn Store,
    site: &str,
    segments: &[Segment],
    now_ms: i64,
) -> Result<Vec<u64>, StoreError> {
    let missing = store.facts_missing(site).await?;
    if missing > 0 {
        return Err(StoreError::NotReady(format!(
            "segments of `{site}` wait for the rollup job to make the segment facts of {missing} more shoppers"
        )));
    }
    let (cfg, groups) = crate::rollups::profile_config(store, site).await?;
    let churn = crate::churn::stored_model(store, site).await?;
    let conditions: Arc<Vec<dangol_engine::json::Value>> = Arc::new(
        segments
            .iter()
            .map(|s| s.condition.clone().into())
            .collect(),
    );
    let (cfg, groups) = (Arc::new(cfg), Arc::new(groups));
    // Three stages overlap: while one range's shoppers are matched on the
    // blocking pool, the previous range's changes are stored and the next
    // range's shoppers read (on another connection). A range ends at its
    // last shopper's id when it is full (more may follow) and runs to the
    // end otherwise, so members with no facts any more (erased, past the
    // retention) leave too.
    let mut after = String::new();
    let mut shoppers = store.segment_facts(site, &after, SHOPPERS_PER_READ).await?;
    let mut matched: Option<Matched> = None;
    let mut counts = vec![0u64; segments.len()];
    loop {
        let through = (shoppers.len() == SHOPPERS_PER_READ as usize)
            .then(|| shoppers.last().map(|(anon, _)| anon.clone()))
            .flatten();
        let matching = {
            let shoppers = std::mem::take(&mut shoppers);
            let (conditions, cfg, groups, churn) =
                (conditions.clone(), cfg.clone(), groups.clone(), churn);
            tokio::task::spawn_blocking(move || {
                matching_of(
                    &shoppers,
                    &conditions,
                    &cfg,
                    churn.as_ref(),
                    &groups,
                    now_ms,
                )
            })
        };
        let changes = async {
            match matched.take() {
                Some(range) => store_changes(store, site, segments, range, now_ms).await,
                None => Ok(()),
            }
        };
        let next = async {
            match &through {
                Some(last) => store.segment_facts(site, last, SHOPPERS_PER_READ).await,
                None => Ok(Vec::new()),
            }
        };
        let (matching, changed, next) = tokio::join!(matching, changes, next);
        let matching = matching
            .map_err(|e| StoreError::Database(format!("a segment refresh stopped: {e}")))?;
        changed?;
        shoppers = next?;
        let next_after = through.clone();
        for (count, matching) in counts.iter_mut().zip(&matching) {
            *count += matching.len() as u64;
        }
        matched = Some((std::mem::take(&mut after), through, matching));
        match next_after {
            Some(last) => after = last,
            None => break,
        }
    }
    if let Some(range) = matched {
        store_changes(store, site, segments, range, now_ms).await?;
    }
    // Each range's members became exactly its matching shoppers, one
    // range at a time: the members are the matching shoppers of them all.
    for (segment, members) in segments.iter().zip(&counts) {
        store.refreshed(site, &segment.id, now_ms, *members).await?;
    }
    Ok(counts)
}

/// Stores who entered and left each segment among the shoppers of a
/// range, given who of them matches each segment now.
async fn store_changes(
    store: &dyn Store,
    site: &str,
    segments: &[Segment],
    (after, through, matching): Matched,
    now_ms: i64,
) -> Result<(), StoreError> {
    let ranges: Vec<RangeMembers<'_>> = segments
        .iter()
        .zip(&matching)
        .map(|(segment, matching)| RangeMembers {
            segment: &segment.id,
            matching,
            notify: segment.refreshed_ms.is_some(),
        })
        .collect();
    store
        .set_members_between(site, (&after, through.as_deref()), &ranges, now_ms)
        .await?;
    Ok(())
}

/// For each condition, the shoppers it matches now (in id order), from
/// their segment facts; the shoppers are matched in two halves on two
/// threads. Facts that do not read match no condition.
fn matching_of(
    shoppers: &[(String, Vec<u8>)],
    conditions: &[dangol_engine::json::Value],
    cfg: &dangol_engine::profile::ProfileConfig,
    churn: Option<&dangol_engine::churn::ChurnModel>,
    groups: &dangol_engine::json::Value,
    now_ms: i64,
) -> Vec<Vec<String>> {
    let half = shoppers.len().div_ceil(2);
    let work = |chunk: &[(String, Vec<u8>)]| -> Vec<Vec<String>> {
        // Compiled here: a compiled condition stays on its thread. Each was
        // checked when saved; one that no longer compiles matches no one.
        let compiled: Vec<Option<Condition>> = conditions
            .iter()
            .map(|c| Condition::compile(c, &NativeRegex).ok())
            .collect();
        // Only the attributes the conditions read are made.
        let mut roots: Vec<&str> = compiled
            .iter()
            .flatten()
            .flat_map(Condition::paths)
            .filter_map(|path| path.first().map(String::as_str))
            .collect();
        roots.sort_unstable();
        roots.dedup();
        let mut out = vec![Vec::new(); conditions.len()];
        for (anon, facts) in chunk {
            let Some(attrs) = attributes_of(facts, cfg, churn, now_ms, &roots) else {
                continue;
            };
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
    let (a, b) = shoppers.split_at(half.min(shoppers.len()));
    let (mut left, right) = std::thread::scope(|scope| {
        let other = scope.spawn(|| work(b));
        let mine = work(a);
        (mine, other.join().unwrap_or_default())
    });
    for (l, r) in left.iter_mut().zip(right) {
        l.extend(r);
    }
    left
}

/// The attributes a condition sees for the shopper whose segment facts are
/// `facts`, now, with the churn model's figures where one is fitted; of
/// them, those named in `roots`.
fn attributes_of(
    facts: &[u8],
    cfg: &dangol_engine::profile::ProfileConfig,
    churn: Option<&dangol_engine::churn::ChurnModel>,
    now_ms: i64,
    roots: &[&str],
) -> Option<dangol_engine::json::Value> {
    // A few roots: compared by length first, most names never by bytes.
    let want = |key: &str| roots.iter().any(|r| r.len() == key.len() && *r == key);
    let mut profile = Profile::from_segment_form(facts)?;
    // As if they came back now: those who left age into "dormant" and "no
    // visit for a day" without doing anything.
    profile.return_at(cfg, now_ms);
    let mut facts = profile.facts(cfg, now_ms);
    let figures = ["clv_90d", "expected_orders_90d", "p_alive"];
    facts.churn = churn
        .filter(|_| figures.iter().any(|f| want(f)))
        .and_then(|m| {
            m.figures(
                profile.orders,
                profile.revenue,
                profile.last_purchase_ms,
                profile.purchase_gap_days,
                now_ms,
            )
        });
    // What the server knows of a shopper is their facts (and that they
    // consented, or there would be no events): the page, the device and
    // declared attributes are the browser's alone, and segment conditions
    // are refused when they read them.
    let mut attrs = dangol_engine::json::Map::with_capacity(roots.len());
    if want("consent") {
        attrs.set(
            "consent",
            dangol_engine::consent::Consent::Granted.as_str().into(),
        );
    }
    dangol_engine::attributes::put_facts_where(&mut attrs, &facts, want);
    Some(dangol_engine::json::Value::Object(attrs))
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

/// Refreshes every segment of every site but those being refreshed
/// already; how many segments.
pub async fn refresh_all(store: &dyn Store, now_ms: i64) -> Result<usize, StoreError> {
    crate::rollups::catch_up(store, Duration::from_secs(30)).await?;
    let mut n = 0;
    for site in store.sites().await? {
        let running = site_lock(store, &site.id);
        let Ok(_alone) = running.try_lock() else {
            tracing::info!("segments of `{}` are being refreshed already", site.id);
            continue;
        };
        let segments = of_site(store, &site.id, now_ms).await?;
        match refresh_site_alone(store, &site.id, &segments, now_ms).await {
            Ok(_) => n += segments.len(),
            Err(StoreError::NotReady(why)) => tracing::info!("{why}"),
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_schedule_passes_over_a_site_being_refreshed_and_a_refresh_asked_for_waits() {
        let store: Arc<dyn Store> =
            Arc::new(crate::sqlite::SqliteStore::in_memory().await.unwrap());
        let site = crate::store::Site {
            id: "demo".into(),
            name: "Demo".into(),
            allowed_origins: Vec::new(),
        };
        store.put_site(&site, 0).await.unwrap();
        let now = crate::now_ms();
        let builtin = BUILTIN.len();
        assert_eq!(refresh_all(store.as_ref(), now).await.unwrap(), builtin);
        // A refresh of the site running (its lock held): the schedule
        // passes over it, and one asked for waits until it is done.
        let running = site_lock(store.as_ref(), "demo");
        let held = running.lock().await;
        assert_eq!(refresh_all(store.as_ref(), now).await.unwrap(), 0);
        let segments = of_site(store.as_ref(), "demo", now).await.unwrap();
        let asked = tokio::spawn({
            let store = store.clone();
            async move { refresh_site(store.as_ref(), "demo", &segments, now).await }
        });
        // Alone it takes milliseconds (no shoppers); it cannot finish
        // while the lock is held.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!asked.is_finished(), "it waits for the running refresh");
        drop(held);
        assert_eq!(asked.await.unwrap().unwrap().len(), builtin);
        // Another store's site of the same id is its own.
        let other: Arc<dyn Store> =
            Arc::new(crate::sqlite::SqliteStore::in_memory().await.unwrap());
        other.put_site(&site, 0).await.unwrap();
        let _held = running.lock().await;
        assert_eq!(refresh_all(other.as_ref(), now).await.unwrap(), builtin);
    }

    #[test]
    fn one_pass_over_the_shoppers_serves_every_condition() {
        let cfg = dangol_engine::profile::ProfileConfig::default();
        let empty = Profile::default().segment_form();
        let mut shoppers: Vec<(String, Vec<u8>)> =
            (0..5).map(|i| (format!("s{i}"), empty.clone())).collect();
        shoppers.push(("s5".into(), b"not a segment form".to_vec()));
        let conditions = vec![
            dangol_engine::json!({"orders": 0}),
            dangol_engine::json!({"orders": {"$gte": 1}}),
            dangol_engine::json!({"nonsense": {"$frob": 1}}),
        ];
        let out = matching_of(
            &shoppers,
            &conditions,
            &cfg,
            None,
            &dangol_engine::json!({}),
            0,
        );
        assert_eq!(
            out[0],
            ["s0", "s1", "s2", "s3", "s4"],
            "facts that do not read match nothing"
        );
        assert!(out[1].is_empty());
        assert!(
            out[2].is_empty(),
            "a condition that does not compile matches no one"
        );
    }

    #[test]
    fn segments_see_the_attributes_campaigns_see_for_every_root_the_server_knows() {
        use dangol_engine::profile::Input;
        let cfg = dangol_engine::profile::ProfileConfig::default();
        let t0 = 1_795_617_000_000_i64;
        let mut p = Profile::default();
        let inputs = [
            Input::PageView {
                category: Some("knit".into()),
                sale: true,
            },
            Input::AddToCart {
                item: "knit-1".into(),
                category: Some("knit".into()),
                price: 39_000.0,
                quantity: 2,
            },
            Input::Exposure {
                campaign: "welcome".into(),
                variant: "a".into(),
            },
            Input::Click {
                campaign: "welcome".into(),
            },
            Input::Purchase {
                transaction_id: Some("t-1".into()),
                value: 78_000.0,
                categories: vec!["knit".into()],
                items: vec!["knit-1".into()],
                coupon: true,
            },
        ];
        for (i, input) in inputs.iter().enumerate() {
            p.apply(input, &cfg, t0 + i as i64 * 86_400_000, 540);
        }
        let now = t0 + 30 * 86_400_000;
        let churn = dangol_engine::churn::ChurnModel {
            bgnbd: dangol_engine::churn::BgNbd {
                r: 0.24,
                alpha: 4.4,
                a: 0.79,
                b: 2.4,
            },
            spend: Some(dangol_engine::churn::GammaGamma {
                p: 6.25,
                q: 3.74,
                v: 15.4,
            }),
        };
        let mut every: Vec<&str> = crate::insights::KNOWN_ROOTS
            .iter()
            .chain(crate::insights::CHURN_ROOTS)
            .copied()
            .collect();
        every.push("consent");
        every.sort_unstable();
        let seen = attributes_of(&p.segment_form(), &cfg, Some(&churn), now, &every).unwrap();
        // Only what conditions read is made.
        let some = attributes_of(
            &p.segment_form(),
            &cfg,
            Some(&churn),
            now,
            &["orders", "p_alive"],
        );
        let some = some.unwrap();
        let keys: Vec<&str> = some
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["orders", "p_alive"]);
        assert_eq!(some.get("p_alive"), seen.get("p_alive"));
        // What the widget would see on the shopper's next page, now.
        p.return_at(&cfg, now);
        let mut facts = p.facts(&cfg, now);
        facts.churn = churn.figures(
            p.orders,
            p.revenue,
            p.last_purchase_ms,
            p.purchase_gap_days,
            now,
        );
        let widget = dangol_engine::attributes::build(
            &dangol_engine::attributes::PageContext::default(),
            &facts,
            &dangol_engine::json::Map::new(),
            dangol_engine::consent::Consent::Granted,
            &dangol_engine::time::Moment::utc(now),
        );
        let roots = crate::insights::KNOWN_ROOTS
            .iter()
            .chain(crate::insights::CHURN_ROOTS);
        for root in roots {
            assert_eq!(seen.get(*root), widget.get(*root), "`{root}`");
        }
        assert!(
            seen.get("campaigns")
                .is_some_and(|c| c.get("welcome").is_some())
        );
        assert_eq!(seen.get("orders"), Some(&dangol_engine::json!(1)));
        assert_eq!(
            seen.get("days_since_last_visit"),
            Some(&dangol_engine::json!(26.0)),
            "away since the last input"
        );
        assert!(seen.get("p_alive").is_some(), "{seen:?}");
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
