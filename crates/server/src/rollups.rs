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

use std::sync::Arc;
use std::time::{Duration, Instant};

use dangol_engine::config::SiteConfig;
use dangol_engine::event::Event;
use dangol_engine::profile::ProfileConfig;
use serde_json::{Value, json};

use crate::store::{ShopperRollup, Store, StoreError};
use crate::{insights, results};

/// Shoppers made per step of the job.
const STEP: u32 = 500;

/// A site's profile thresholds (the engine's defaults when its settings
/// name none) and its saved audience groups.
pub async fn profile_config(
    store: &dyn Store,
    site: &str,
) -> Result<(ProfileConfig, Value), StoreError> {
    let settings = match store.site_settings(site).await? {
        Some(stored) => match serde_json::from_str(&stored.settings) {
            Ok(Value::Object(map)) => map,
            _ => return Err(StoreError::Corrupt(format!("settings of `{site}`"))),
        },
        None => serde_json::Map::new(),
    };
    let config = crate::admin::sites::compose(site, &settings, Vec::new(), 1);
    let cfg = SiteConfig::from_value(&config)
        .map(|c| c.profile)
        .unwrap_or_default();
    let groups = settings.get("saved_groups").cloned().unwrap_or(json!({}));
    Ok((cfg, groups))
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
        profile: last.map(|ts| (ts, profile.to_value().to_string())),
    }
}

/// One step at a time in this process: the job and a dashboard read that
/// catches up take turns instead of making the same shoppers twice.
static STEPPING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes up to one step of pending shoppers again; returns how many.
pub async fn step(store: &dyn Store) -> Result<usize, StoreError> {
    let _turn = STEPPING.lock().await;
    let pending = store.pending(STEP).await?;
    let mut done = 0;
    for site_pending in pending.chunk_by(|a, b| a.site == b.site) {
        let site = site_pending[0].site.as_str();
        let (cfg, _) = profile_config(store, site).await?;
        let anons: Vec<String> = site_pending.iter().map(|p| p.anon.clone()).collect();
        let events = store.shopper_events(site, &anons).await?;
        let rollups: Vec<ShopperRollup> = events
            .chunk_by(|a, b| a.anon == b.anon)
            .map(|run| shopper(&run[0].anon, run, &cfg))
            .collect();
        store.put_rollups(site, site_pending, &rollups).await?;
        done += site_pending.len();
    }
    Ok(done)
}

/// Makes every pending shopper again, or as many as `budget` allows: the
/// dashboard calls it before reading, so what was stored is what it shows.
pub async fn catch_up(store: &dyn Store, budget: Duration) -> Result<(), StoreError> {
    let start = Instant::now();
    while start.elapsed() < budget {
        if step(store).await? == 0 {
            break;
        }
    }
    Ok(())
}

/// How long a dashboard read waits for pending shoppers at most; past it,
/// it reads the rollups as they are (the job goes on).
pub const READ_BUDGET: Duration = Duration::from_secs(2);

/// Keeps the rollups current while the server runs.
pub async fn rollup_loop(store: Arc<dyn Store>) {
    loop {
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
        let (last, profile) = r.profile.expect("a profile");
        assert_eq!(last, t0 + DAY + 5_000);
        assert!(profile.contains("\"orders\""), "{profile}");
        // The results of the rollups are the results of the events.
        let from_rollups = results::from_touches(&r.touches, &[], DAY);
        assert_eq!(from_rollups, results::compute(&events, &[], DAY));
        assert_eq!(from_rollups.campaigns[0].treated.converted, 1);
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
