//! The impression, dismissal and conversion ledger that caps and message
//! pressure need. It is part of the shopper's profile, so it stays bounded:
//! only the last week's impressions are kept (at most [`MAX_SHOWS`] per
//! campaign) and at most [`MAX_CAMPAIGNS`] campaigns are remembered.

use crate::json::{Map, Value};

use crate::config::Caps;
use crate::time::Moment;

/// Impressions kept per campaign, so no count cap may exceed it (the
/// config check refuses larger caps).
pub const MAX_SHOWS: usize = 12;
/// Campaigns remembered; the least recently active is forgotten first.
pub const MAX_CAMPAIGNS: usize = 24;
/// Impressions older than this are dropped (a week plus a day of slack for
/// time-zone changes).
const KEEP_MS: i64 = 8 * 86_400_000;

/// What one shopper saw of one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// The campaign.
    pub campaign: String,
    /// The variant seen last, for attributing a conversion.
    pub variant: String,
    /// Recent impression times (ms), oldest first.
    pub shows: Vec<i64>,
    /// Impressions ever.
    pub lifetime: u32,
    /// The last dismissal.
    pub last_dismiss_ms: Option<i64>,
    /// Whether the shopper converted on it.
    pub converted: bool,
    /// The last activity of any kind, for forgetting the stalest entry.
    pub last_ms: i64,
    /// The last impression (ms; 0: never), kept after `shows` forgets it.
    pub seen_ms: i64,
    /// The last click on the offer's call to action or a card (0: never).
    pub click_ms: i64,
    /// The last coupon claimed from it (0: never).
    pub claim_ms: i64,
}

/// Which cap stopped a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cap {
    /// `caps.per_session`.
    PerSession,
    /// `caps.per_day`.
    PerDay,
    /// `caps.per_week`.
    PerWeek,
    /// `caps.lifetime`.
    Lifetime,
    /// `caps.min_gap_minutes`.
    MinGap,
    /// `caps.dismiss_cooldown_hours`.
    DismissCooldown,
    /// `caps.stop_after_conversion`.
    Converted,
}

impl Cap {
    /// The cap's stable name, as in the config's `caps` object.
    pub fn name(self) -> &'static str {
        match self {
            Cap::PerSession => "per_session",
            Cap::PerDay => "per_day",
            Cap::PerWeek => "per_week",
            Cap::Lifetime => "lifetime",
            Cap::MinGap => "min_gap",
            Cap::DismissCooldown => "dismiss_cooldown",
            Cap::Converted => "converted",
        }
    }
}

/// The shopper's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    entries: Vec<Entry>,
}

impl Ledger {
    /// The entry of one campaign.
    pub fn entry(&self, campaign: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.campaign == campaign)
    }

    /// Every entry.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn entry_mut(&mut self, campaign: &str, now_ms: i64) -> &mut Entry {
        let index = match self.entries.iter().position(|e| {
            e.campaign == campaign
                || (campaign.len() > 64 && campaign.starts_with(e.campaign.as_str()))
        }) {
            Some(i) => i,
            None => {
                if self.entries.len() >= MAX_CAMPAIGNS
                    && let Some(stalest) =
                        (0..self.entries.len()).min_by_key(|&i| self.entries[i].last_ms)
                {
                    self.entries.swap_remove(stalest);
                }
                // Campaign ids are at most 64 characters of [A-Za-z0-9_-]; a
                // longer one cannot match a config and is cut to bound the size.
                let mut id = campaign.to_string();
                if id.len() > 64 {
                    let mut end = 64;
                    while !id.is_char_boundary(end) {
                        end -= 1;
                    }
                    id.truncate(end);
                }
                self.entries.push(Entry {
                    campaign: id,
                    ..Entry::default()
                });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        entry.last_ms = entry.last_ms.max(now_ms);
        entry
    }

    /// The shopper saw the campaign at `now_ms`.
    pub fn record_show(&mut self, campaign: &str, variant: &str, now_ms: i64) {
        let entry = self.entry_mut(campaign, now_ms);
        if entry.variant != variant {
            entry.variant = variant.chars().take(64).collect();
        }
        entry.shows.retain(|&t| now_ms - t < KEEP_MS);
        if entry.shows.len() >= MAX_SHOWS {
            entry.shows.remove(0);
        }
        entry.shows.push(now_ms);
        entry.lifetime = entry.lifetime.saturating_add(1);
        entry.seen_ms = entry.seen_ms.max(now_ms);
    }

    /// The shopper clicked the campaign's offer.
    pub fn record_click(&mut self, campaign: &str, now_ms: i64) {
        let entry = self.entry_mut(campaign, now_ms);
        entry.click_ms = entry.click_ms.max(now_ms);
    }

    /// The shopper claimed the campaign's coupon.
    pub fn record_claim(&mut self, campaign: &str, now_ms: i64) {
        let entry = self.entry_mut(campaign, now_ms);
        entry.claim_ms = entry.claim_ms.max(now_ms);
    }

    /// Adds what another device's ledger holds (the same customer, signed
    /// in there): impressions of both count toward caps and pressure, the
    /// later dismissal and any conversion hold. Entries are matched by
    /// campaign; the most recent impressions of both are kept.
    pub fn merge(&mut self, other: &Ledger) {
        for o in &other.entries {
            let e = self.entry_mut(&o.campaign, o.last_ms);
            let mut shows: Vec<i64> = e.shows.iter().chain(&o.shows).copied().collect();
            shows.sort_unstable();
            let start = shows.len().saturating_sub(MAX_SHOWS);
            e.shows = shows.split_off(start);
            e.lifetime = e.lifetime.saturating_add(o.lifetime);
            e.last_dismiss_ms = e.last_dismiss_ms.max(o.last_dismiss_ms);
            e.seen_ms = e.seen_ms.max(o.seen_ms);
            e.click_ms = e.click_ms.max(o.click_ms);
            e.claim_ms = e.claim_ms.max(o.claim_ms);
            e.converted |= o.converted;
            if e.variant.is_empty() || o.last_ms > e.last_ms {
                e.variant.clone_from(&o.variant);
            }
        }
    }

    /// The shopper dismissed the campaign.
    pub fn record_dismiss(&mut self, campaign: &str, now_ms: i64) {
        self.entry_mut(campaign, now_ms).last_dismiss_ms = Some(now_ms);
    }

    /// The shopper converted on the campaign.
    pub fn record_conversion(&mut self, campaign: &str, now_ms: i64) {
        self.entry_mut(campaign, now_ms).converted = true;
    }

    /// The offer seen last within `window_ms` before `now_ms`: the campaign
    /// and variant a purchase now is attributed to.
    pub fn last_seen(&self, now_ms: i64, window_ms: i64) -> Option<(&str, &str)> {
        self.entries
            .iter()
            .filter_map(|e| e.shows.iter().max().map(|&t| (t, e)))
            .filter(|(t, _)| *t <= now_ms && now_ms - t <= window_ms)
            .max_by_key(|(t, _)| *t)
            .map(|(_, e)| (e.campaign.as_str(), e.variant.as_str()))
    }

    /// The first cap that stops `campaign` now, if any.
    pub fn capped(&self, campaign: &str, caps: &Caps, m: &Moment) -> Option<Cap> {
        let entry = self.entry(campaign)?;
        if caps.stop_after_conversion && entry.converted {
            return Some(Cap::Converted);
        }
        if let (Some(hours), Some(at)) = (caps.dismiss_cooldown_hours, entry.last_dismiss_ms)
            && m.now_ms - at < i64::from(hours) * 3_600_000
        {
            return Some(Cap::DismissCooldown);
        }
        if let (Some(limit), Some(&last)) = (caps.min_gap_minutes, entry.shows.last())
            && m.now_ms - last < i64::from(limit) * 60_000
        {
            return Some(Cap::MinGap);
        }
        let over = |limit: Option<u32>, count: usize| limit.is_some_and(|l| count >= l as usize);
        if over(caps.lifetime, entry.lifetime as usize) {
            return Some(Cap::Lifetime);
        }
        if over(
            caps.per_session,
            count(&entry.shows, |t| t >= m.session_start_ms),
        ) {
            return Some(Cap::PerSession);
        }
        let today = m.day_of(m.now_ms);
        if over(caps.per_day, count(&entry.shows, |t| m.day_of(t) == today)) {
            return Some(Cap::PerDay);
        }
        let week = m.week_of(m.now_ms);
        if over(caps.per_week, count(&entry.shows, |t| m.week_of(t) == week)) {
            return Some(Cap::PerWeek);
        }
        None
    }

    /// Offers shown this session, across all campaigns.
    pub fn shows_this_session(&self, m: &Moment) -> usize {
        self.entries
            .iter()
            .map(|e| count(&e.shows, |t| t >= m.session_start_ms))
            .sum()
    }

    /// Offers shown today (local), across all campaigns.
    pub fn shows_today(&self, m: &Moment) -> usize {
        let today = m.day_of(m.now_ms);
        self.entries
            .iter()
            .map(|e| count(&e.shows, |t| m.day_of(t) == today))
            .sum()
    }

    /// The ledger as JSON, for first-party storage.
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.entries
                .iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.set("c", Value::from(e.campaign.as_str()));
                    if !e.variant.is_empty() {
                        m.set("v", Value::from(e.variant.as_str()));
                    }
                    m.set("s", Value::from(e.shows.clone()));
                    m.set("n", Value::from(e.lifetime));
                    if let Some(d) = e.last_dismiss_ms {
                        m.set("d", Value::from(d));
                    }
                    if e.converted {
                        m.set("x", Value::Bool(true));
                    }
                    // The last impression, click and claim (0: never).
                    m.set("f", Value::from(vec![e.seen_ms, e.click_ms, e.claim_ms]));
                    m.set("t", Value::from(e.last_ms));
                    Value::Object(m)
                })
                .collect(),
        )
    }

    /// A ledger of these entries, at most [`MAX_CAMPAIGNS`] of them (the
    /// first ones).
    pub fn from_entries(mut entries: Vec<Entry>) -> Self {
        entries.truncate(MAX_CAMPAIGNS);
        Self { entries }
    }

    /// Reads what [`Ledger::to_value`] wrote; unreadable parts are dropped
    /// and the bounds are enforced again.
    pub fn from_value(value: &Value) -> Self {
        let mut entries: Vec<Entry> = value
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| {
                let mut shows: Vec<i64> = v["s"]
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_i64)
                    .collect();
                insertion_sort(&mut shows, |a, b| a > b);
                let excess = shows.len().saturating_sub(MAX_SHOWS);
                shows.drain(..excess);
                // Written before `f` was kept: the last impression still held.
                let at = |i: usize| v["f"][i].as_i64().unwrap_or(0);
                let seen_ms = at(0).max(shows.last().copied().unwrap_or(0));
                Some(Entry {
                    campaign: v["c"].as_str()?.to_string(),
                    variant: v["v"]
                        .as_str()
                        .unwrap_or_default()
                        .chars()
                        .take(64)
                        .collect(),
                    shows,
                    lifetime: v["n"]
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    last_dismiss_ms: v["d"].as_i64(),
                    converted: v["x"].as_bool().unwrap_or(false),
                    last_ms: v["t"].as_i64().unwrap_or(0),
                    seen_ms,
                    click_ms: at(1),
                    claim_ms: at(2),
                })
            })
            .collect();
        while entries.len() > MAX_CAMPAIGNS {
            if let Some(stalest) = (0..entries.len()).min_by_key(|&i| entries[i].last_ms) {
                entries.remove(stalest);
            }
        }
        Self { entries }
    }
}

/// Sorts small slices in place, keeping equal items in order. `after(a, b)`
/// says whether `a` belongs after `b`. The lists here hold tens of items, so
/// this beats shipping the standard library's sorts in the wasm.
pub(crate) fn insertion_sort<T>(items: &mut [T], after: impl Fn(&T, &T) -> bool) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && after(&items[j - 1], &items[j]) {
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

fn count(shows: &[i64], keep: impl Fn(i64) -> bool) -> usize {
    shows.iter().filter(|&&t| keep(t)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    // 2026-11-25 (Wednesday) 14:30 UTC.
    const NOW: i64 = 1_795_617_000_000;

    fn caps() -> Caps {
        Caps::default()
    }

    #[test]
    fn per_day_caps_reset_at_the_shoppers_local_midnight() {
        let seoul = |now_ms| Moment {
            now_ms,
            utc_offset_minutes: 540,
            session_start_ms: now_ms,
        };
        let mut ledger = Ledger::default();
        // NOW is 23:30 in Seoul; the impression is at 23:50 there.
        ledger.record_show("c", "a", NOW + 20 * 60_000);
        let per_day = Caps {
            per_day: Some(1),
            ..caps()
        };
        assert_eq!(
            ledger.capped("c", &per_day, &seoul(NOW + 25 * 60_000)),
            Some(Cap::PerDay)
        );
        // 00:01 in Seoul: a new day there, still the same day in UTC.
        assert_eq!(
            ledger.capped("c", &per_day, &seoul(NOW + 31 * 60_000)),
            None
        );
        let utc = Moment::utc(NOW + 31 * 60_000);
        assert_eq!(ledger.capped("c", &per_day, &utc), Some(Cap::PerDay));
    }

    #[test]
    fn ids_are_kept_short() {
        let mut ledger = Ledger::default();
        ledger.record_show(&"x".repeat(500), "a", NOW);
        assert_eq!(ledger.entries()[0].campaign.len(), 64);
    }

    #[test]
    fn per_week_caps_reset_on_monday() {
        let mut ledger = Ledger::default();
        let per_week = Caps {
            per_week: Some(2),
            ..caps()
        };
        ledger.record_show("c", "a", NOW); // Wednesday
        ledger.record_show("c", "a", NOW + 24 * H); // Thursday
        assert_eq!(
            ledger.capped("c", &per_week, &Moment::utc(NOW + 3 * 24 * H)),
            Some(Cap::PerWeek)
        ); // Saturday
        assert_eq!(
            ledger.capped("c", &per_week, &Moment::utc(NOW + 5 * 24 * H)),
            None
        ); // Monday
    }

    #[test]
    fn session_lifetime_gap_dismiss_and_conversion_caps() {
        let mut ledger = Ledger::default();
        ledger.record_show("c", "a", NOW);
        let m = Moment {
            now_ms: NOW + 10 * 60_000,
            utc_offset_minutes: 0,
            session_start_ms: NOW - 60_000,
        };
        assert_eq!(
            ledger.capped(
                "c",
                &Caps {
                    per_session: Some(1),
                    ..caps()
                },
                &m
            ),
            Some(Cap::PerSession)
        );
        let next_session = Moment {
            session_start_ms: NOW + 5 * 60_000,
            ..m
        };
        assert_eq!(
            ledger.capped(
                "c",
                &Caps {
                    per_session: Some(1),
                    ..caps()
                },
                &next_session
            ),
            None
        );
        assert_eq!(
            ledger.capped(
                "c",
                &Caps {
                    lifetime: Some(1),
                    ..caps()
                },
                &m
            ),
            Some(Cap::Lifetime)
        );
        assert_eq!(
            ledger.capped(
                "c",
                &Caps {
                    min_gap_minutes: Some(30),
                    ..caps()
                },
                &m
            ),
            Some(Cap::MinGap)
        );
        assert_eq!(
            ledger.capped(
                "c",
                &Caps {
                    min_gap_minutes: Some(5),
                    ..caps()
                },
                &m
            ),
            None
        );
        ledger.record_dismiss("c", NOW);
        let cooldown = Caps {
            dismiss_cooldown_hours: Some(24),
            ..caps()
        };
        assert_eq!(
            ledger.capped("c", &cooldown, &m),
            Some(Cap::DismissCooldown)
        );
        assert_eq!(
            ledger.capped("c", &cooldown, &Moment::utc(NOW + 25 * H)),
            None
        );
        ledger.record_conversion("c", NOW);
        let stop = Caps {
            stop_after_conversion: true,
            ..caps()
        };
        assert_eq!(
            ledger.capped("c", &stop, &Moment::utc(NOW + 1000 * H)),
            Some(Cap::Converted)
        );
        assert_eq!(ledger.capped("other", &stop, &m), None);
    }

    #[test]
    fn the_ledger_stays_bounded_and_round_trips() {
        let mut ledger = Ledger::default();
        for i in 0..(MAX_CAMPAIGNS as i64 + 20) {
            for j in 0..(MAX_SHOWS as i64 + 10) {
                ledger.record_show(&format!("c{i}"), "a", NOW + i * 1000 + j);
            }
        }
        assert_eq!(ledger.entries().len(), MAX_CAMPAIGNS);
        assert!(ledger.entries().iter().all(|e| e.shows.len() <= MAX_SHOWS));
        assert!(
            ledger.entry("c0").is_none(),
            "the stalest campaign was forgotten"
        );
        let last = format!("c{}", MAX_CAMPAIGNS + 19);
        assert_eq!(
            ledger.entry(&last).map(|e| e.lifetime),
            Some(MAX_SHOWS as u32 + 10)
        );
        // Old impressions fall out of the window.
        ledger.record_show(&last, "a", NOW + 9 * 24 * H);
        assert_eq!(ledger.entry(&last).map(|e| e.shows.len()), Some(1));
        let back = Ledger::from_value(&ledger.to_value());
        assert_eq!(back, ledger);
        assert_eq!(Ledger::from_value(&crate::json!("junk")), Ledger::default());
    }

    #[test]
    fn insertion_sort_is_stable() {
        let mut items = [(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        insertion_sort(&mut items, |x, y| x.0 > y.0);
        assert_eq!(items, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
    }

    #[test]
    fn pressure_counts_every_campaign() {
        let mut ledger = Ledger::default();
        ledger.record_show("a", "a", NOW - 2 * H);
        ledger.record_show("b", "a", NOW - H);
        ledger.record_show("b", "a", NOW - 30 * H);
        let m = Moment {
            now_ms: NOW,
            utc_offset_minutes: 0,
            session_start_ms: NOW - 90 * 60_000,
        };
        assert_eq!(ledger.shows_this_session(&m), 1);
        assert_eq!(ledger.shows_today(&m), 2);
    }

    #[test]
    fn purchases_go_to_the_last_offer_seen_within_the_window() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.last_seen(NOW, 24 * H), None);
        ledger.record_show("a", "x", NOW - 3 * H);
        ledger.record_show("b", "y", NOW - 2 * H);
        ledger.record_show("a", "z", NOW - 30 * H);
        assert_eq!(ledger.last_seen(NOW, 24 * H), Some(("b", "y")));
        assert_eq!(ledger.last_seen(NOW, H), None);
        // Stored and read back, the variant stays.
        let again = Ledger::from_value(&ledger.to_value());
        assert_eq!(again.last_seen(NOW, 24 * H), Some(("b", "y")));
        // A show in the future (clock change) is not a cause.
        ledger.record_show("c", "w", NOW + H);
        assert_eq!(ledger.last_seen(NOW, 24 * H), Some(("b", "y")));
    }
}
