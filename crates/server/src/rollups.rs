//! Rollups: what results, insights and reach read, kept per shopper so
//! the dashboard's cost grows with shoppers and days, not with events.
//!
//! Raw events stay the source of truth. Storing a batch marks its shopper
//! pending; a background job (and every dashboard read, before it reads)
//! makes each pending shopper's rollups again from all their stored
//! events: touches per campaign variant and day (results), the stage each
//! day ended in and offers seen (insights), and the engine's profile
//! (reach). Making a shopper again from scratch keeps late and retried
//! batches exact, whatever order they arrive in. An erased id is never
//! rolled up again; retention marks the shoppers it trims.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dangol_engine::config::{ATTRIBUTION_HOURS, SiteConfig};
use dangol_engine::event::Event;
use dangol_engine::profile::ProfileConfig;
use serde_json::{Value, json};

use crate::store::{ShopperRollup, Store, StoreError};
use crate::{insights, results};

/// Shoppers made per step of the job.
const STEP: u32 = 500;

/// Events read and made together within a step, at most (unless one
/// shopper has more): what a step holds in memory is bounded by events,
/// not by shoppers (500 shoppers of a few thousand events each are over a
/// million events held at once).
const GROUP_EVENTS: u64 = 20_000;

/// `pending` in runs of consecutive shoppers with at most [`GROUP_EVENTS`]
/// events together (a shopper with more is a run alone), by `counts`
/// (shoppers not in it have none).
fn groups<'p>(
    pending: &'p [crate::store::Pending],
    counts: &std::collections::HashMap<String, u64>,
) -> Vec<&'p [crate::store::Pending]> {
    let mut out = Vec::new();
    let (mut start, mut events) = (0, 0u64);
    for (i, p) in pending.iter().enumerate() {
        let n = counts.get(&p.anon).copied().unwrap_or(0);
        if i > start && events + n > GROUP_EVENTS {
            out.push(&pending[start..i]);
            (start, events) = (i, 0);
        }
        events += n;
    }
    if start < pending.len() {
        out.push(&pending[start..]);
    }
    out
}

/// A site's profile thresholds (the engine's defaults when its settings
/// name none) and its saved audience groups.
pub async fn profile_config(
    store: &dyn Store,
    site: &str,
) -> Result<(ProfileConfig, dangol_engine::json::Value), StoreError> {
    let settings = crate::admin::sites::stored_settings(store, site)
        .await?
        .map(|(map, _)| map)
        .unwrap_or_default();
    let config = crate::admin::sites::compose(site, &settings, Vec::new(), 1);
    let mut cfg = SiteConfig::from_value(&config.into())
        .map(|c| c.profile)
        .unwrap_or_default();
    // As the widget has it: the fitted model with the published config.
    cfg.churn = crate::churn::stored_model(store, site).await?;
    let groups = settings
        .get("saved_groups")
        .cloned()
        .unwrap_or(json!({}))
        .into();
    Ok((cfg, groups))
}

/// The attribution window of the site's published config (the engine's
/// default before the first publish).
pub async fn attribution_ms(store: &dyn Store, site: &str) -> Result<i64, StoreError> {
    let hours = match store.published(site).await? {
        Some(p) => serde_json::from_str::<Value>(&p.body)
            .ok()
            .and_then(|v| v["attribution_hours"].as_i64())
            .unwrap_or(i64::from(ATTRIBUTION_HOURS)),
        None => i64::from(ATTRIBUTION_HOURS),
    };
    Ok(hours.clamp(0, 24 * 365) * 3_600_000)
}

/// One day's count of something, for one shopper or summed over many.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// What is counted (see [`counts`]).
    pub kind: String,
    /// The campaign, a stage or a number of offers.
    pub a: String,
    /// The variant, or "".
    pub b: String,
    /// The count.
    pub n: i64,
    /// A sum of money (revenue), where the count has one.
    pub x: f64,
}

/// A group's entries by day: the first entry that day and the first
/// purchase after it.
type Entries = BTreeMap<i64, (i64, Option<i64>)>;

fn enter(entries: &mut Entries, day: i64, at: i64, bought: Option<i64>) {
    let e = entries.entry(day).or_insert((at, bought));
    if at < e.0 {
        *e = (at, bought);
    }
}

/// What one shopper adds to the per-day counts, from their touches and
/// days and the attribution window, so that summing the counts of any
/// window of days gives that window's results and insights:
///
/// - `v.exposures`, `v.clicks`, `v.dismissals`, `v.claims`,
///   `v.conversions` (with revenue): per variant and day, as they happened;
/// - `v.seen`, `v.clicked`, `v.converted`: one shopper, on the last day
///   they were seen (and clicked, or converted) — in a window exactly when
///   that day is;
/// - `g.treated`, `g.holdout` (campaign "" for the global holdout) and
///   `g.personalised`: one shopper on their last day of entering the group,
///   and `….conv` whether they bought within the window after their first
///   entry *in the window*: that entry is their first on or after the
///   window's first day, so each entry day carries the change from the next
///   entry's answer, and any window's sum is the answer of its first entry;
/// - `shopper`: one shopper, on their last active day;
/// - `stage` (a = the stage) and `offers` (a = offers seen): per shopper-day.
pub fn counts(
    touches: &[results::Touch],
    days: &[insights::ShopperDay],
    window_ms: i64,
) -> Vec<Count> {
    let mut out = Vec::new();
    let mut push = |day: i64, kind: &str, a: &str, b: &str, n: i64, x: f64| {
        if n != 0 || x != 0.0 {
            out.push(Count {
                day,
                kind: kind.to_string(),
                a: a.to_string(),
                b: b.to_string(),
                n,
                x,
            });
        }
    };
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let mut last: BTreeMap<(&str, &str), [Option<i64>; 3]> = BTreeMap::new();
    let mut groups: BTreeMap<(&str, &str), Entries> = BTreeMap::new();
    for t in touches {
        let (c, v) = (t.campaign.as_str(), t.variant.as_str());
        if v.is_empty() {
            if let Some(at) = t.entered_ms {
                enter(
                    groups.entry((c, "g.holdout")).or_default(),
                    t.day,
                    at,
                    t.bought_ms,
                );
            }
            continue;
        }
        push(t.day, "v.exposures", c, v, n(t.exposures), 0.0);
        push(t.day, "v.clicks", c, v, n(t.clicks), 0.0);
        push(t.day, "v.dismissals", c, v, n(t.dismissals), 0.0);
        push(t.day, "v.claims", c, v, n(t.claims), 0.0);
        push(t.day, "v.conversions", c, v, n(t.conversions), t.revenue);
        for &answer in &t.answers {
            if let Some(kind) = results::ANSWER_KINDS.get(usize::from(answer)) {
                push(t.day, kind, c, v, 1, 0.0);
            }
        }
        let l = last.entry((c, v)).or_default();
        for (i, happened) in [t.exposures > 0, t.clicks > 0, t.conversions > 0]
            .into_iter()
            .enumerate()
        {
            if happened {
                l[i] = Some(l[i].map_or(t.day, |d| d.max(t.day)));
            }
        }
        if t.exposures > 0
            && let Some(at) = t.entered_ms
        {
            enter(
                groups.entry((c, "g.treated")).or_default(),
                t.day,
                at,
                t.bought_ms,
            );
            enter(
                groups.entry(("", "g.personalised")).or_default(),
                t.day,
                at,
                t.bought_ms,
            );
        }
    }
    for ((c, v), [seen, clicked, converted]) in last {
        if let Some(seen) = seen {
            push(seen, "v.seen", c, v, 1, 0.0);
            if let Some(d) = clicked {
                push(seen.min(d), "v.clicked", c, v, 1, 0.0);
            }
            if let Some(d) = converted {
                push(seen.min(d), "v.converted", c, v, 1, 0.0);
            }
        }
    }
    for ((c, kind), entries) in groups {
        let entries: Vec<(i64, bool)> = entries
            .into_iter()
            .map(|(day, (at, bought))| (day, bought.is_some_and(|b| b - at <= window_ms)))
            .collect();
        let Some(&(last_day, _)) = entries.last() else {
            continue;
        };
        push(last_day, kind, c, "", 1, 0.0);
        let conv = format!("{kind}.conv");
        for (i, (day, converted)) in entries.iter().enumerate() {
            let next = entries.get(i + 1).map_or(0, |(_, c)| i64::from(*c));
            push(*day, &conv, c, "", i64::from(*converted) - next, 0.0);
        }
    }
    if let Some(last) = days.last() {
        push(last.day, "shopper", "", "", 1, 0.0);
    }
    for d in days {
        push(d.day, "stage", d.stage, "", 1, 0.0);
        if d.offers > 0 {
            push(d.day, "offers", &d.offers.to_string(), "", 1, 0.0);
        }
    }
    out
}

/// The lifecycle stage a stored profile (the engine's stored form) is in.
pub fn stage_in(profile: &str) -> Option<String> {
    let v: Value = serde_json::from_str(profile).ok()?;
    v.get("stage")?.as_str().map(str::to_string)
}

/// One shopper's rollups from all their events (in time order).
pub fn shopper(anon: &str, events: &[Event], cfg: &ProfileConfig) -> ShopperRollup {
    let (days, profile) = insights::shopper_days(events, cfg);
    let last = days.last().and_then(|_| {
        events
            .iter()
            .rev()
            .find(|e| insights::TYPES.contains(&e.kind.as_str()))
            .map(|e| e.ts)
    });
    ShopperRollup {
        anon: anon.to_string(),
        touches: results::touches(anon, events),
        days,
        profile: last.map(|last_ms| crate::store::StoredProfile {
            last_ms,
            json: profile.to_value().to_string(),
            segment_form: profile.segment_form(),
        }),
    }
}

/// One step at a time in this process: the job and a dashboard read that
/// catches up take turns instead of making the same shoppers twice.
static STEPPING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes up to one step of pending shoppers again; returns how many.
pub async fn step(store: &dyn Store) -> Result<usize, StoreError> {
    let _turn = STEPPING.lock().await;
    'again: loop {
        let pending = store.pending(STEP).await?;
        let mut done = 0;
        for site_pending in pending.chunk_by(|a, b| a.site == b.site) {
            let site = site_pending[0].site.as_str();
            // Counts made with another attribution window are made again,
            // every shopper of the site (marked pending by the rebuild).
            let window = attribution_ms(store, site).await?;
            if store.rollup_window(site).await? != Some(window) {
                store.rebuild_rollups(site, window).await?;
                continue 'again;
            }
            let (cfg, _) = profile_config(store, site).await?;
            let anons: Vec<String> = site_pending.iter().map(|p| p.anon.clone()).collect();
            let counts = store
                .event_counts(site, &anons)
                .await?
                .into_iter()
                .collect();
            for group in groups(site_pending, &counts) {
                let anons: Vec<String> = group.iter().map(|p| p.anon.clone()).collect();
                let events = store.shopper_events(site, &anons).await?;
                let rollups: Vec<ShopperRollup> = events
                    .chunk_by(|a, b| a.anon == b.anon)
                    .map(|run| shopper(&run[0].anon, run, &cfg))
                    .collect();
                drop(events);
                store.put_rollups(site, window, group, &rollups).await?;
                done += group.len();
            }
        }
        return Ok(done);
    }
}

/// Makes every pending shopper again, or as many as `budget` allows.
pub async fn catch_up(store: &dyn Store, budget: Duration) -> Result<(), StoreError> {
    let start = Instant::now();
    while start.elapsed() < budget {
        if step(store).await? == 0 {
            break;
        }
    }
    Ok(())
}

/// What a dashboard read does first: one step of pending shoppers (after
/// the job's step, if one is running), so what was just stored shows,
/// while a read under a stream of events stays as quick as a step. What
/// is still pending then follows within the job's next steps.
pub async fn before_read(store: &dyn Store) -> Result<(), StoreError> {
    step(store).await.map(|_| ())
}

/// Keeps the rollups current while the server runs, and the database
/// kept up (see [`crate::store::EventStore::maintain`]) every ten seconds.
pub async fn rollup_loop(store: Arc<dyn Store>) {
    let mut kept_up = Instant::now();
    loop {
        if kept_up.elapsed() > Duration::from_secs(10) {
            if let Err(e) = store.maintain(crate::now_ms()).await {
                tracing::warn!(error = %e, "database upkeep failed");
            }
            kept_up = Instant::now();
        }
        match step(store.as_ref()).await {
            Ok(0) => tokio::time::sleep(Duration::from_millis(500)).await,
            Ok(_) => tokio::task::yield_now().await,
            Err(e) => {
                tracing::error!(error = %e, "could not roll up pending shoppers");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn ev(id: &str, kind: &str, ts: i64, campaign: Option<&str>, variant: Option<&str>) -> Event {
        let mut e = Event::page_view(id.into(), ts, "s1".into());
        e.kind = kind.into();
        e.campaign = campaign.map(Into::into);
        e.variant = variant.map(Into::into);
        e
    }

    #[test]
    fn a_step_reads_shoppers_in_runs_of_bounded_events() {
        let pending: Vec<crate::store::Pending> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|anon| crate::store::Pending {
                site: "demo".into(),
                anon: (*anon).into(),
                marked: 1,
            })
            .collect();
        // `b` alone is over the bound; `e` has no events left; `c` and `d`
        // fill a run exactly.
        let counts: std::collections::HashMap<String, u64> = [
            ("a", 10),
            ("b", GROUP_EVENTS + 1),
            ("c", GROUP_EVENTS - 5),
            ("d", 5),
            ("f", 1),
        ]
        .into_iter()
        .map(|(a, n)| (a.to_string(), n))
        .collect();
        let runs: Vec<Vec<&str>> = groups(&pending, &counts)
            .iter()
            .map(|run| run.iter().map(|p| p.anon.as_str()).collect())
            .collect();
        assert_eq!(runs, [vec!["a"], vec!["b"], vec!["c", "d", "e"], vec!["f"]]);
        assert!(groups(&[], &counts).is_empty());
    }

    #[test]
    fn a_shopper_rolls_up_into_touches_days_and_a_profile() {
        let t0 = 20_000 * DAY + 3_600_000;
        let events = vec![
            ev("1", "page_view", t0, None, None),
            ev("2", "exposure", t0 + 1_000, Some("c"), Some("a")),
            ev("3", "exposure", t0 + 2_000, Some("c"), Some("a")),
            ev("4", "click", t0 + 3_000, Some("c"), Some("a")),
            ev("5", "holdout", t0 + 4_000, Some("d"), None),
            ev("6", "purchase", t0 + DAY, None, None),
            ev("7", "exposure", t0 + DAY + 5_000, Some("c"), Some("a")),
        ];
        let r = shopper("s1", &events, &ProfileConfig::default());
        // Campaign c on two days, the holdout of d on one.
        assert_eq!(r.touches.len(), 3);
        let first = &r.touches[0];
        assert_eq!(
            (first.campaign.as_str(), first.variant.as_str()),
            ("c", "a")
        );
        assert_eq!((first.day, first.exposures, first.clicks), (20_000, 2, 1));
        assert_eq!(first.entered_ms, Some(t0 + 1_000));
        // The first purchase after entering, a day later.
        assert_eq!(first.bought_ms, Some(t0 + DAY));
        // The second day's entry came after the purchase: none after it.
        assert_eq!(r.touches[1].bought_ms, None);
        assert_eq!(r.touches[2].variant, "");
        assert_eq!(r.touches[2].entered_ms, Some(t0 + 4_000));
        // Two days, two offers on the first and one on the second; the
        // purchase made the shopper active.
        let days: Vec<(i64, u64)> = r.days.iter().map(|d| (d.day, d.offers)).collect();
        assert_eq!(days, vec![(20_000, 2), (20_001, 1)]);
        assert_eq!(r.days[1].stage, "active");
        let profile = r.profile.expect("a profile");
        assert_eq!(profile.last_ms, t0 + DAY + 5_000);
        assert!(profile.json.contains("\"orders\""), "{}", profile.json);
        let form = dangol_engine::profile::Profile::from_segment_form(&profile.segment_form)
            .expect("the segment form reads");
        assert_eq!(form.orders, 1);
        // The results of the rollups are the results of the events.
        let from_rollups = results::from_counts(&counts(&r.touches, &r.days, DAY), &[]);
        assert_eq!(from_rollups, results::compute(&events, &[], DAY));
        assert_eq!(from_rollups.campaigns[0].treated.converted, 1);
    }

    /// Any window's results, summed from the per-day counts, are the
    /// results of that window's events: shoppers counted once, each
    /// group's conversions judged from the first entry in the window.
    #[test]
    fn summing_any_window_of_counts_gives_that_windows_results() {
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let t0 = 20_000 * DAY;
        let mut events = Vec::new();
        for s in 0..40 {
            let anon = format!("shopper{s:02}");
            for i in 0..12 {
                let ts = t0 + next(20) as i64 * DAY + next(DAY as u64) as i64;
                let campaign = ["c", "d"][next(2) as usize];
                let variant = ["a", "b"][next(2) as usize];
                let (kind, campaign, variant) = match next(9) {
                    0 => ("holdout", Some(campaign), None),
                    1 => ("global_holdout", None, None),
                    2 | 3 => ("purchase", None, None),
                    4 => ("click", Some(campaign), Some(variant)),
                    5 => ("conversion", Some(campaign), Some(variant)),
                    _ => ("exposure", Some(campaign), Some(variant)),
                };
                let mut e = Event::page_view(format!("{anon}-{i}"), ts, anon.clone());
                e.kind = kind.into();
                e.campaign = campaign.map(Into::into);
                e.variant = variant.map(Into::into);
                e.price = Some(1000.0 * (1 + next(9)) as f64);
                events.push(e);
            }
        }
        let window = 2 * DAY;
        let mut all = Vec::new();
        let mut sorted = events.clone();
        sorted.sort_by(|a, b| (&a.anon, a.ts).cmp(&(&b.anon, b.ts)));
        for own in sorted.chunk_by(|a, b| a.anon == b.anon) {
            all.extend(counts(&results::touches(&own[0].anon, own), &[], window));
        }
        for first in 0..21 {
            let from = 20_000 + first;
            let kept: Vec<Count> = all.iter().filter(|c| c.day >= from).cloned().collect();
            let inside: Vec<Event> = events
                .iter()
                .filter(|e| e.ts.div_euclid(DAY) >= from)
                .cloned()
                .collect();
            let mut expected = results::compute(&inside, &[], window);
            let mut got = results::from_counts(&kept, &[]);
            // The same sums, made in another order.
            for r in [&mut expected, &mut got] {
                for c in &mut r.campaigns {
                    for v in &mut c.variants {
                        v.revenue = v.revenue.round();
                        v.revenue_per_shopper = (v.revenue_per_shopper * 1e6).round();
                    }
                }
            }
            assert_eq!(got, expected, "window from day {from}");
            assert!(first > 15 || !got.campaigns.is_empty());
        }
    }

    #[test]
    fn a_shopper_without_events_the_replay_reads_has_no_profile() {
        let r = shopper(
            "s1",
            &[ev("1", "feedback", 0, None, None)],
            &ProfileConfig::default(),
        );
        assert!(r.touches.is_empty() && r.days.is_empty() && r.profile.is_none());
    }
}
