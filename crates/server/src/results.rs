//! What worked: per campaign and variant, exposures, shoppers, clicks,
//! dismissals, claims, redemptions, conversions and revenue; conversion
//! rates with 95 % Wilson intervals; uplift against the campaign's holdout
//! and the global holdout with Newcombe's interval for a difference; a daily
//! series; the bandit's Beta posteriors; and for feedback questions the
//! answers' distribution, mean and net promoter score with 95 % intervals,
//! and the mean answer per day.
//!
//! Pure functions over stored events, so the arithmetic is unit-tested.

use std::collections::BTreeMap;

use crate::rollups::Count;

use dangol_engine::event::Event;
use serde::Serialize;

use crate::store::DailyRow;

/// Event types results read.
pub const TYPES: &[&str] = &[
    "exposure",
    "click",
    "dismiss",
    "claim",
    "conversion",
    "holdout",
    "global_holdout",
    "purchase",
    "feedback",
];

/// The largest answer a feedback question takes (0–10, net promoter score).
pub const MAX_ANSWER: u8 = 10;

/// The rollup count kinds of feedback answers, index = the answer.
pub const ANSWER_KINDS: [&str; 11] = [
    "f.0", "f.1", "f.2", "f.3", "f.4", "f.5", "f.6", "f.7", "f.8", "f.9", "f.10",
];

const Z: f64 = 1.959_963_984_540_054;
const DAY_MS: i64 = 86_400_000;

/// A share with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// The point estimate.
    pub value: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// `k` of `n` with the Wilson score interval; `None` for `n = 0`.
pub fn wilson(k: u64, n: u64) -> Option<Rate> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k.min(n) as f64, n as f64);
    let p = k / n;
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Some(Rate {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// The difference `a - b` with Newcombe's hybrid score interval.
pub fn difference(a: Rate, b: Rate) -> Rate {
    let d = a.value - b.value;
    Rate {
        value: d,
        low: d - ((a.value - a.low).powi(2) + (b.high - b.value).powi(2)).sqrt(),
        high: d + ((a.high - a.value).powi(2) + (b.value - b.low).powi(2)).sqrt(),
    }
}

/// One variant's numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VariantResult {
    /// The variant.
    pub variant: String,
    /// Offers seen.
    pub exposures: u64,
    /// Distinct shoppers who saw it.
    pub shoppers: u64,
    /// Calls to action clicked.
    pub clicks: u64,
    /// Overlays closed.
    pub dismissals: u64,
    /// Coupon codes claimed.
    pub claims: u64,
    /// Coupon codes redeemed at checkout.
    pub redemptions: u64,
    /// Purchases attributed to it (last offer seen).
    pub conversions: u64,
    /// Distinct shoppers with an attributed purchase.
    pub converted: u64,
    /// Revenue of attributed purchases.
    pub revenue: f64,
    /// Shoppers who clicked, of those who saw it.
    pub click_rate: Option<Rate>,
    /// Converted shoppers, of those who saw it.
    pub conversion_rate: Option<Rate>,
    /// Revenue per shopper who saw it.
    pub revenue_per_shopper: f64,
    /// The bandit's Beta(α, β) for this variant.
    pub posterior: (f64, f64),
    /// Answers to a feedback question, when it is one and was answered.
    pub feedback: Option<Feedback>,
}

/// What shoppers answered a feedback question. The dashboard shows the
/// mean for ratings (1–5), the net promoter score for 0–10 questions and
/// the distribution for choices (the answer is the choice's index).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feedback {
    /// Answers given.
    pub answers: u64,
    /// How many gave each answer: index = the answer, 0 to 10.
    pub distribution: Vec<u64>,
    /// The mean answer, with its 95 % interval (normal approximation).
    pub mean: Rate,
    /// Promoters (9–10) minus detractors (0–6), as a share of answers
    /// (−1 to 1), with its 95 % interval: for 0–10 questions.
    pub nps: Rate,
}

/// The feedback figures of a distribution (index = answer); `None` when
/// nobody answered.
pub fn feedback(distribution: &[u64]) -> Option<Feedback> {
    let n: u64 = distribution.iter().sum();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = distribution
        .iter()
        .enumerate()
        .map(|(a, k)| a as f64 * *k as f64)
        .sum::<f64>()
        / nf;
    let half = if n < 2 {
        0.0
    } else {
        let var = distribution
            .iter()
            .enumerate()
            .map(|(a, k)| *k as f64 * (a as f64 - mean).powi(2))
            .sum::<f64>()
            / (nf - 1.0);
        Z * (var / nf).sqrt()
    };
    let count = |range: std::ops::RangeInclusive<usize>| -> f64 {
        distribution
            .iter()
            .enumerate()
            .filter(|(a, _)| range.contains(a))
            .map(|(_, k)| *k as f64)
            .sum::<f64>()
            / nf
    };
    let (promoters, detractors) = (count(9..=10), count(0..=6));
    let nps = promoters - detractors;
    let nps_half = Z * ((promoters + detractors - nps * nps).max(0.0) / nf).sqrt();
    Some(Feedback {
        answers: n,
        distribution: distribution.to_vec(),
        mean: Rate {
            value: mean,
            low: mean - half,
            high: mean + half,
        },
        nps: Rate {
            value: nps,
            low: (nps - nps_half).max(-1.0),
            high: (nps + nps_half).min(1.0),
        },
    })
}

/// A group compared in an uplift: shoppers and those who bought within the
/// attribution window after entering it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Group {
    /// Distinct shoppers in the group.
    pub shoppers: u64,
    /// Of them, those who bought within the window.
    pub converted: u64,
    /// Their purchase rate.
    pub rate: Option<Rate>,
}

/// One day of one campaign.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Day {
    /// UTC date, `YYYY-MM-DD`.
    pub day: String,
    /// Exposures that day.
    pub exposures: u64,
    /// Conversions that day.
    pub conversions: u64,
    /// Revenue that day.
    pub revenue: f64,
    /// Feedback answers that day.
    pub answers: u64,
    /// Their mean.
    pub mean_answer: Option<f64>,
}

/// One campaign's numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CampaignResult {
    /// The campaign.
    pub campaign: String,
    /// Per variant, in id order.
    pub variants: Vec<VariantResult>,
    /// Shoppers who saw any variant.
    pub treated: Group,
    /// Shoppers kept in the campaign's holdout.
    pub holdout: Group,
    /// Treated minus holdout purchase rate, when both have shoppers.
    pub uplift: Option<Rate>,
    /// Per UTC day.
    pub daily: Vec<Day>,
}

/// The whole site.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Results {
    /// Per campaign, in id order.
    pub campaigns: Vec<CampaignResult>,
    /// Shoppers who saw any offer.
    pub personalised: Group,
    /// Shoppers in the global holdout (no personalisation at all).
    pub global_holdout: Group,
    /// Personalised minus global holdout purchase rate.
    pub uplift: Option<Rate>,
    /// Events browsers had to drop from a full outbox (reported with later
    /// batches), so the counts above may miss that many.
    pub dropped_events: u64,
}

/// The UTC date of a time (milliseconds since the epoch); times beyond
/// what a calendar date holds (±9999 years) read as the epoch.
pub fn utc_date(ms: i64) -> time::Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date()
}

/// UTC `YYYY-MM-DD` of a time (milliseconds since the epoch).
pub fn utc_day(ms: i64) -> String {
    let date = utc_date(ms);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// One shopper's activity in one campaign variant (or holdout) on one UTC
/// day: what results need of the raw events, kept per shopper-day (see
/// `rollups`), so results cost what shoppers and days cost, not events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Touch {
    /// The pseudonymous id.
    pub anon: String,
    /// The campaign; empty for the global holdout.
    pub campaign: String,
    /// The variant; empty for the campaign's (or the global) holdout.
    pub variant: String,
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// The first exposure that day (or, for a holdout, the first time kept out).
    pub entered_ms: Option<i64>,
    /// The shopper's first purchase at or after `entered_ms`, on any day.
    pub bought_ms: Option<i64>,
    /// Offers seen.
    pub exposures: u64,
    /// Calls to action clicked.
    pub clicks: u64,
    /// Overlays closed.
    pub dismissals: u64,
    /// Coupon codes claimed.
    pub claims: u64,
    /// Attributed purchases.
    pub conversions: u64,
    /// Their revenue.
    pub revenue: f64,
    /// Feedback answers given (0–10).
    pub answers: Vec<u8>,
}

/// The touches of one shopper's events (any order; other shoppers' events
/// and types results do not read are ignored), in key order.
pub fn touches(anon: &str, events: &[Event]) -> Vec<Touch> {
    let mut purchases: Vec<i64> = events
        .iter()
        .filter(|e| e.anon == anon && e.kind == "purchase")
        .map(|e| e.ts)
        .collect();
    purchases.sort_unstable();
    let mut map: BTreeMap<(&str, &str, i64), Touch> = BTreeMap::new();
    for e in events.iter().filter(|e| e.anon == anon) {
        let day = e.ts.div_euclid(DAY_MS);
        let (campaign, variant) = match (e.kind.as_str(), e.campaign.as_deref()) {
            ("global_holdout", _) => ("", ""),
            ("holdout", Some(c)) if !c.is_empty() => (c, ""),
            ("exposure" | "click" | "dismiss" | "claim" | "conversion" | "feedback", Some(c)) => {
                match e.variant.as_deref() {
                    Some(v) if !v.is_empty() && !c.is_empty() => (c, v),
                    _ => continue,
                }
            }
            _ => continue,
        };
        let t = map
            .entry((campaign, variant, day))
            .or_insert_with(|| Touch {
                anon: anon.to_string(),
                campaign: campaign.to_string(),
                variant: variant.to_string(),
                day,
                ..Touch::default()
            });
        match e.kind.as_str() {
            "click" => t.clicks += 1,
            "dismiss" => t.dismissals += 1,
            "claim" => t.claims += 1,
            "feedback" => {
                if let Some(a) = e.answer.filter(|a| *a <= MAX_ANSWER) {
                    t.answers.push(a);
                }
            }
            "conversion" => {
                t.conversions += 1;
                t.revenue += e.price.filter(|p| p.is_finite() && *p > 0.0).unwrap_or(0.0);
            }
            kind => {
                if kind == "exposure" {
                    t.exposures += 1;
                }
                t.entered_ms = Some(t.entered_ms.map_or(e.ts, |at| at.min(e.ts)));
            }
        }
    }
    map.into_values()
        .map(|mut t| {
            t.bought_ms = t.entered_ms.and_then(|at| {
                let i = purchases.partition_point(|p| *p < at);
                purchases.get(i).copied()
            });
            t
        })
        .collect()
}

/// Daily counts of `events` per campaign, variant and type, with revenue:
/// what is kept of them after retention.
pub fn daily_rows(events: &[Event]) -> Vec<DailyRow> {
    let mut map: BTreeMap<(String, &str, &str, &str), (u64, f64)> = BTreeMap::new();
    for e in events {
        let key = (
            utc_day(e.ts),
            e.campaign.as_deref().unwrap_or(""),
            e.variant.as_deref().unwrap_or(""),
            e.kind.as_str(),
        );
        let entry = map.entry(key).or_default();
        entry.0 += 1;
        entry.1 += e.price.filter(|p| p.is_finite() && *p > 0.0).unwrap_or(0.0);
    }
    map.into_iter()
        .map(|((day, campaign, variant, kind), (n, revenue))| DailyRow {
            day,
            campaign: campaign.to_string(),
            variant: variant.to_string(),
            kind: kind.to_string(),
            n,
            revenue,
        })
        .collect()
}

/// Adds daily counts archived after retention to `results`: counts,
/// revenue and the daily series. Shoppers, rates and uplift need raw
/// events and cover the retention window only.
pub fn add_archived(results: &mut Results, archived: &[DailyRow]) {
    results.dropped_events += archived
        .iter()
        .filter(|r| r.kind == "outbox_dropped")
        .map(|r| r.n)
        .sum::<u64>();
    for row in archived.iter().filter(|r| !r.campaign.is_empty()) {
        let campaign = match results
            .campaigns
            .iter_mut()
            .position(|c| c.campaign == row.campaign)
        {
            Some(i) => &mut results.campaigns[i],
            None => {
                results.campaigns.push(CampaignResult {
                    campaign: row.campaign.clone(),
                    ..CampaignResult::default()
                });
                results
                    .campaigns
                    .sort_by(|a, b| a.campaign.cmp(&b.campaign));
                let i = results
                    .campaigns
                    .iter()
                    .position(|c| c.campaign == row.campaign)
                    .unwrap_or(0);
                &mut results.campaigns[i]
            }
        };
        let day = match campaign.daily.iter().position(|d| d.day == row.day) {
            Some(i) => i,
            None => {
                campaign.daily.push(Day {
                    day: row.day.clone(),
                    ..Day::default()
                });
                campaign.daily.sort_by(|a, b| a.day.cmp(&b.day));
                campaign
                    .daily
                    .iter()
                    .position(|d| d.day == row.day)
                    .unwrap_or(0)
            }
        };
        match row.kind.as_str() {
            "exposure" => campaign.daily[day].exposures += row.n,
            "conversion" => {
                campaign.daily[day].conversions += row.n;
                campaign.daily[day].revenue += row.revenue;
            }
            _ => {}
        }
        if row.variant.is_empty() {
            continue;
        }
        let v = match campaign
            .variants
            .iter()
            .position(|v| v.variant == row.variant)
        {
            Some(i) => &mut campaign.variants[i],
            None => {
                campaign.variants.push(VariantResult {
                    variant: row.variant.clone(),
                    posterior: (1.0, 1.0),
                    ..VariantResult::default()
                });
                campaign.variants.sort_by(|a, b| a.variant.cmp(&b.variant));
                let i = campaign
                    .variants
                    .iter()
                    .position(|v| v.variant == row.variant)
                    .unwrap_or(0);
                &mut campaign.variants[i]
            }
        };
        match row.kind.as_str() {
            "exposure" => v.exposures += row.n,
            "click" => v.clicks += row.n,
            "dismiss" => v.dismissals += row.n,
            "claim" => v.claims += row.n,
            "conversion" => {
                v.conversions += row.n;
                v.revenue += row.revenue;
            }
            _ => {}
        }
    }
}

/// Computes the results from `events` (sorted or not), the redeemed
/// coupons per campaign and variant, and the attribution window: each
/// shopper's touches and what they add to the per-day counts, then
/// [`from_counts`] — the way the server reads them from its rollups.
pub fn compute(events: &[Event], redemptions: &[(String, String, u64)], window_ms: i64) -> Results {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by(|a, b| a.anon.cmp(&b.anon));
    let mut all = Vec::new();
    for run in sorted.chunk_by(|a, b| a.anon == b.anon) {
        let own: Vec<Event> = run.iter().map(|e| (*e).clone()).collect();
        all.extend(crate::rollups::counts(
            &touches(&run[0].anon, &own),
            &[],
            window_ms,
        ));
    }
    from_counts(&all, redemptions)
}

/// One campaign's day, summed from its counts.
#[derive(Default)]
struct DayTally {
    exposures: i64,
    conversions: i64,
    revenue: f64,
    answers: i64,
    answer_sum: f64,
}

fn group_of(shoppers: i64, converted: i64) -> Group {
    let (shoppers, converted) = (
        u64::try_from(shoppers).unwrap_or(0),
        u64::try_from(converted).unwrap_or(0),
    );
    Group {
        shoppers,
        converted,
        rate: wilson(converted, shoppers),
    }
}

/// The results from the per-day counts of a window (see
/// [`crate::rollups::counts`]) and the redeemed coupons per campaign and
/// variant.
pub fn from_counts(counts: &[Count], redemptions: &[(String, String, u64)]) -> Results {
    // Summed over the window: per (kind, a, b), and per (campaign, day)
    // for the daily series.
    let mut sums: BTreeMap<(&str, &str, &str), (i64, f64)> = BTreeMap::new();
    let mut days: BTreeMap<(&str, i64), DayTally> = BTreeMap::new();
    for c in counts {
        let s = sums
            .entry((c.kind.as_str(), c.a.as_str(), c.b.as_str()))
            .or_default();
        s.0 += c.n;
        s.1 += c.x;
        match c.kind.as_str() {
            "v.exposures" => days.entry((c.a.as_str(), c.day)).or_default().exposures += c.n,
            "v.conversions" => {
                let d = days.entry((c.a.as_str(), c.day)).or_default();
                d.conversions += c.n;
                d.revenue += c.x;
            }
            kind => {
                if let Some(answer) = ANSWER_KINDS.iter().position(|k| *k == kind) {
                    let d = days.entry((c.a.as_str(), c.day)).or_default();
                    d.answers += c.n;
                    d.answer_sum += answer as f64 * c.n as f64;
                }
            }
        }
    }
    let get = |kind: &str, a: &str, b: &str| sums.get(&(kind, a, b)).copied().unwrap_or_default();
    let count = |kind: &str, a: &str, b: &str| u64::try_from(get(kind, a, b).0).unwrap_or(0);
    let mut campaigns: BTreeMap<&str, CampaignResult> = BTreeMap::new();
    let entry = |c: &str| -> CampaignResult {
        CampaignResult {
            campaign: c.to_string(),
            ..CampaignResult::default()
        }
    };
    let mut out = Results::default();
    for (&(kind, a, b), _) in sums.iter().filter(|(_, (n, x))| *n != 0 || *x != 0.0) {
        if kind.starts_with("v.") {
            let result = campaigns.entry(a).or_insert_with(|| entry(a));
            if result.variants.iter().any(|v| v.variant == b) {
                continue;
            }
            let shoppers = count("v.seen", a, b);
            let converted = count("v.converted", a, b);
            let revenue = get("v.conversions", a, b).1;
            result.variants.push(VariantResult {
                variant: b.to_string(),
                exposures: count("v.exposures", a, b),
                shoppers,
                clicks: count("v.clicks", a, b),
                dismissals: count("v.dismissals", a, b),
                claims: count("v.claims", a, b),
                redemptions: redemptions
                    .iter()
                    .filter(|(c, v, _)| c == a && v == b)
                    .map(|(_, _, n)| *n)
                    .sum(),
                conversions: count("v.conversions", a, b),
                converted,
                revenue,
                click_rate: wilson(count("v.clicked", a, b), shoppers),
                conversion_rate: wilson(converted, shoppers),
                revenue_per_shopper: if shoppers == 0 {
                    0.0
                } else {
                    revenue / shoppers as f64
                },
                posterior: (
                    1.0 + converted as f64,
                    1.0 + shoppers.saturating_sub(converted) as f64,
                ),
                feedback: feedback(
                    &ANSWER_KINDS
                        .iter()
                        .map(|kind| count(kind, a, b))
                        .collect::<Vec<u64>>(),
                ),
            });
        } else if let Some(group) = kind.strip_prefix("g.").filter(|g| !g.ends_with(".conv")) {
            let shoppers = get(kind, a, "").0;
            let converted = get(&format!("{kind}.conv"), a, "").0;
            let g = group_of(shoppers, converted);
            match (group, a) {
                ("personalised", _) => out.personalised = g,
                ("holdout", "") => out.global_holdout = g,
                ("holdout", c) => campaigns.entry(c).or_insert_with(|| entry(c)).holdout = g,
                (_, c) => campaigns.entry(c).or_insert_with(|| entry(c)).treated = g,
            }
        }
    }
    for ((c, day), d) in days {
        if d.exposures + d.conversions + d.answers == 0 {
            continue;
        }
        if let Some(result) = campaigns.get_mut(c) {
            result.daily.push(Day {
                day: utc_day(day * DAY_MS),
                exposures: u64::try_from(d.exposures).unwrap_or(0),
                conversions: u64::try_from(d.conversions).unwrap_or(0),
                revenue: d.revenue,
                answers: u64::try_from(d.answers).unwrap_or(0),
                mean_answer: (d.answers > 0).then(|| d.answer_sum / d.answers as f64),
            });
        }
    }
    for mut result in campaigns.into_values() {
        result.variants.sort_by(|a, b| a.variant.cmp(&b.variant));
        result.uplift = match (result.treated.rate, result.holdout.rate) {
            (Some(t), Some(h)) => Some(difference(t, h)),
            _ => None,
        };
        out.campaigns.push(result);
    }
    out.uplift = match (out.personalised.rate, out.global_holdout.rate) {
        (Some(p), Some(g)) => Some(difference(p, g)),
        _ => None,
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(
        kind: &str,
        anon: &str,
        ts: i64,
        campaign: Option<&str>,
        variant: Option<&str>,
        price: Option<f64>,
    ) -> Event {
        Event {
            id: format!("{kind}-{anon}-{ts}"),
            kind: kind.into(),
            ts,
            anon: anon.into(),
            campaign: campaign.map(Into::into),
            variant: variant.map(Into::into),
            item: None,
            category: None,
            price,
            answer: None,
        }
    }

    #[test]
    fn feedback_reports_the_distribution_mean_and_net_promoter_score() {
        // Seven answers on a 0-10 question: three promoters (10, 10, 9),
        // two passives (8, 7), two detractors (6, 3).
        let mut dist = vec![0u64; 11];
        for a in [10, 10, 9, 8, 7, 6, 3] {
            dist[a] += 1;
        }
        let f = feedback(&dist).unwrap();
        assert_eq!(f.answers, 7);
        assert!((f.mean.value - 53.0 / 7.0).abs() < 1e-12);
        // Sample sd of the answers is 2.5071..., so the half-width is
        // 1.96 * 2.5071 / sqrt(7).
        let half = Z * 2.507_133_9 / 7f64.sqrt();
        assert!((f.mean.high - f.mean.value - half).abs() < 1e-6, "{f:?}");
        assert!((f.nps.value - 1.0 / 7.0).abs() < 1e-12);
        let var = (3.0 / 7.0 + 2.0 / 7.0 - (1.0f64 / 7.0).powi(2)) / 7.0;
        assert!((f.nps.high - (1.0 / 7.0 + Z * var.sqrt()).min(1.0)).abs() < 1e-12);
        assert!(f.nps.low >= -1.0);
        assert_eq!(feedback(&[0; 11]), None);
        // One answer: no spread to speak of.
        let one = feedback(&[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(
            (one.mean.low, one.mean.value, one.mean.high),
            (4.0, 4.0, 4.0)
        );
    }

    #[test]
    fn feedback_events_count_per_question_and_per_day() {
        let t0 = 1_795_617_000_000;
        let mut events = Vec::new();
        for (i, answer) in [5u8, 4, 4, 2].into_iter().enumerate() {
            let anon = format!("s{i}");
            let at = t0 + i as i64 * DAY_MS / 2;
            events.push(ev("exposure", &anon, at, Some("stars"), Some("a"), None));
            let mut e = ev("feedback", &anon, at + 1000, Some("stars"), Some("a"), None);
            e.answer = Some(answer);
            events.push(e);
        }
        // An answer out of range is not counted.
        let mut bad = ev("feedback", "s9", t0, Some("stars"), Some("a"), None);
        bad.answer = Some(42);
        events.push(bad);
        let r = compute(&events, &[], DAY_MS);
        let v = &r.campaigns[0].variants[0];
        let f = v.feedback.as_ref().unwrap();
        assert_eq!(f.answers, 4);
        assert_eq!(f.distribution[..6], [0, 0, 1, 0, 2, 1]);
        assert!((f.mean.value - 3.75).abs() < 1e-12);
        let days: Vec<(u64, Option<f64>)> = r.campaigns[0]
            .daily
            .iter()
            .map(|d| (d.answers, d.mean_answer))
            .collect();
        // 14:30 UTC and every twelve hours: the days hold 5, then 4 and 4, then 2.
        assert_eq!(days, [(1, Some(5.0)), (2, Some(4.0)), (1, Some(2.0))]);
    }

    #[test]
    fn archived_days_add_counts_and_series_but_not_shoppers() {
        let t0 = 1_795_617_000_000;
        let old = vec![
            ev(
                "exposure",
                "a1",
                t0 - 100 * DAY_MS,
                Some("c"),
                Some("x"),
                None,
            ),
            ev(
                "exposure",
                "a2",
                t0 - 100 * DAY_MS,
                Some("c"),
                Some("x"),
                None,
            ),
            ev(
                "conversion",
                "a1",
                t0 - 100 * DAY_MS,
                Some("c"),
                Some("x"),
                Some(9.0),
            ),
            ev("page_view", "a1", t0 - 100 * DAY_MS, None, None, None),
        ];
        let rows = daily_rows(&old);
        assert_eq!(rows.len(), 3);
        let recent = vec![ev("exposure", "a3", t0, Some("c"), Some("x"), None)];
        let mut r = compute(&recent, &[], DAY_MS);
        add_archived(&mut r, &rows);
        let c = &r.campaigns[0];
        assert_eq!(
            (
                c.variants[0].exposures,
                c.variants[0].conversions,
                c.variants[0].revenue
            ),
            (3, 1, 9.0)
        );
        assert_eq!(
            c.variants[0].shoppers, 1,
            "shoppers come from raw events only"
        );
        assert_eq!(c.daily.len(), 2);
        assert_eq!(c.daily[0].exposures, 2);
    }

    #[test]
    fn wilson_matches_known_values() {
        // 10 of 100: 0.0552 to 0.1744 (Wilson, 95 %).
        let r = wilson(10, 100).unwrap();
        assert!(
            (r.low - 0.0552).abs() < 5e-4 && (r.high - 0.1744).abs() < 5e-4,
            "{r:?}"
        );
        let zero = wilson(0, 20).unwrap();
        assert_eq!(zero.low, 0.0);
        assert!(zero.high > 0.1 && zero.high < 0.2);
        assert_eq!(wilson(3, 0), None);
        // Newcombe: 56/70 vs 48/80 gives 0.2 with about [0.0524, 0.3339].
        let d = difference(wilson(56, 70).unwrap(), wilson(48, 80).unwrap());
        assert!((d.value - 0.2).abs() < 1e-9);
        assert!(
            (d.low - 0.0524).abs() < 2e-3 && (d.high - 0.3339).abs() < 2e-3,
            "{d:?}"
        );
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_795_617_000_000), "2026-11-25");
        assert_eq!(utc_day(951_782_400_000), "2000-02-29");
    }

    #[test]
    fn variants_holdouts_and_uplift_are_counted_per_shopper() {
        let h = 3_600_000;
        let t0 = 1_795_617_000_000;
        let events = vec![
            ev("exposure", "a1", t0, Some("c"), Some("x"), None),
            ev("exposure", "a1", t0 + 10, Some("c"), Some("x"), None),
            ev("click", "a1", t0 + 20, Some("c"), Some("x"), None),
            ev(
                "conversion",
                "a1",
                t0 + h,
                Some("c"),
                Some("x"),
                Some(50_000.0),
            ),
            ev("purchase", "a1", t0 + h, None, None, Some(50_000.0)),
            ev("exposure", "a2", t0, Some("c"), Some("y"), None),
            ev("dismiss", "a2", t0 + 5, Some("c"), Some("y"), None),
            // Bought two days later: outside a one-day window.
            ev("purchase", "a2", t0 + 48 * h, None, None, Some(10_000.0)),
            ev("holdout", "h1", t0, Some("c"), None, None),
            ev("holdout", "h2", t0, Some("c"), None, None),
            ev("purchase", "h1", t0 + 2 * h, None, None, Some(20_000.0)),
            ev("global_holdout", "g1", t0, None, None, None),
        ];
        let r = compute(&events, &[("c".into(), "x".into(), 1)], 24 * h);
        let c = &r.campaigns[0];
        assert_eq!(c.campaign, "c");
        let x = &c.variants[0];
        assert_eq!(
            (
                x.exposures,
                x.shoppers,
                x.clicks,
                x.conversions,
                x.converted
            ),
            (2, 1, 1, 1, 1)
        );
        assert_eq!(
            (x.revenue, x.redemptions, x.posterior),
            (50_000.0, 1, (2.0, 1.0))
        );
        assert_eq!(x.conversion_rate.unwrap().value, 1.0);
        let y = &c.variants[1];
        assert_eq!(
            (y.exposures, y.dismissals, y.converted, y.posterior),
            (1, 1, 0, (1.0, 2.0))
        );
        assert_eq!((c.treated.shoppers, c.treated.converted), (2, 1));
        assert_eq!((c.holdout.shoppers, c.holdout.converted), (2, 1));
        assert_eq!(c.uplift.unwrap().value, 0.0);
        assert_eq!(c.daily.len(), 1);
        assert_eq!((c.daily[0].exposures, c.daily[0].conversions), (3, 1));
        assert_eq!((r.personalised.shoppers, r.global_holdout.shoppers), (2, 1));
        assert_eq!(r.uplift.unwrap().value, 0.5);
    }
}
