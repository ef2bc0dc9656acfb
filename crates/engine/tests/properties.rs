//! Properties that must hold for every config and every shopper history:
//! caps and pressure are never exceeded, the same seed gives the same
//! decisions, and a shopper in a holdout never sees that campaign.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and bench code: a panic is a failure

use dangol_engine::bucket;
use dangol_engine::condition::NativeRegex;
use dangol_engine::config::{CompiledConfig, SiteConfig};
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Shopper, decide_page};
use dangol_engine::json;
use dangol_engine::json::Value;
use dangol_engine::ledger::Ledger;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;
use proptest::prelude::*;

const START: i64 = 1_795_617_000_000;
const PLACEMENTS: [&str; 3] = ["hero", "side", "foot"];

#[derive(Debug, Clone)]
struct Spec {
    per_session: Option<u32>,
    per_day: Option<u32>,
    lifetime: Option<u32>,
    holdout: f64,
    placement: usize,
}

fn campaign_spec() -> impl Strategy<Value = Spec> {
    (
        proptest::option::of(1u32..4),
        proptest::option::of(1u32..5),
        proptest::option::of(1u32..8),
        prop_oneof![Just(0.0), Just(0.3), Just(1.0)],
        0usize..3,
    )
        .prop_map(
            |(per_session, per_day, lifetime, holdout, placement)| Spec {
                per_session,
                per_day,
                lifetime,
                holdout,
                placement,
            },
        )
}

fn config(specs: &[Spec], pressure: (Option<u32>, Option<u32>)) -> CompiledConfig {
    let campaigns: Vec<Value> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "id": format!("c{i}"),
                "placements": [PLACEMENTS[s.placement]],
                "priority": i,
                "holdout": s.holdout,
                "caps": {"per_session": s.per_session, "per_day": s.per_day, "lifetime": s.lifetime},
                "variants": [{"id": "a", "content": {"type": "banner", "headline": "x"}},
                             {"id": "b", "content": {"type": "banner", "headline": "y"}}]
            })
        })
        .collect();
    let value = json!({"site": "p", "version": 1, "campaigns": campaigns,
        "pressure": {"per_session": pressure.0, "per_day": pressure.1}});
    SiteConfig::compile_value(&value, &NativeRegex).expect("generated configs are valid")
}

/// Page views: minutes since the previous view (a gap over 30 starts a
/// new session).
fn visits() -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(prop_oneof![1u32..20, 31u32..300, 600u32..3000], 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_decision_exceeds_a_cap_or_the_pressure_limit(
        specs in proptest::collection::vec(campaign_spec(), 1..6),
        pressure in (proptest::option::of(1u32..5), proptest::option::of(1u32..8)),
        gaps in visits(),
        offset in -600i32..=600,
        seed in any::<u64>(),
    ) {
        let cfg = config(&specs, pressure);
        let mut ledger = Ledger::default();
        // An independent, unbounded log of every impression: (campaign, time).
        let mut log: Vec<(usize, i64)> = Vec::new();
        let mut now = START;
        let mut session_start = START;
        let mut rng = SplitMix64::new(seed);
        for gap in gaps {
            let next = now + i64::from(gap) * 60_000;
            if gap > 30 { session_start = next; }
            now = next;
            let m = Moment { now_ms: now, utc_offset_minutes: offset, session_start_ms: session_start };
            let attrs = json!({});
            let shopper = Shopper { attributes: &attrs, id: Some("prop-shopper-01"), consent: Consent::Granted, ledger: &ledger };
            let decisions = decide_page(&cfg, &PLACEMENTS, &shopper, &m, &mut rng, &NativeRegex);
            for d in &decisions {
                if let Some(c) = d.chosen() {
                    let i: usize = c.campaign_id[1..].parse().unwrap();
                    log.push((i, now));
                }
            }
            for d in &decisions {
                if let Some(c) = d.chosen() { ledger.record_show(&c.campaign_id, "a", now); }
            }
            let today = m.day_of(now);
            let in_session = |t: i64| t >= session_start;
            let on_day = |t: i64| m.day_of(t) == today;
            for (i, s) in specs.iter().enumerate() {
                let mine: Vec<i64> = log.iter().filter(|(c, _)| *c == i).map(|(_, t)| *t).collect();
                if let Some(cap) = s.per_session { prop_assert!(mine.iter().filter(|t| in_session(**t)).count() <= cap as usize); }
                if let Some(cap) = s.per_day { prop_assert!(mine.iter().filter(|t| on_day(**t)).count() <= cap as usize); }
                if let Some(cap) = s.lifetime { prop_assert!(mine.len() <= cap as usize); }
            }
            if let Some(limit) = pressure.0 { prop_assert!(log.iter().filter(|(_, t)| in_session(*t)).count() <= limit as usize); }
            if let Some(limit) = pressure.1 { prop_assert!(log.iter().filter(|(_, t)| on_day(*t)).count() <= limit as usize); }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions(
        specs in proptest::collection::vec(campaign_spec(), 1..6),
        seed in any::<u64>(),
        with_id in any::<bool>(),
    ) {
        let cfg = config(&specs, (None, None));
        let ledger = Ledger::default();
        let attrs = json!({});
        let consent = if with_id { Consent::Granted } else { Consent::Unknown };
        let shopper = Shopper { attributes: &attrs, id: with_id.then_some("same-seed-0001"), consent, ledger: &ledger };
        let m = Moment::utc(START);
        let a = decide_page(&cfg, &PLACEMENTS, &shopper, &m, &mut SplitMix64::new(seed), &NativeRegex);
        let b = decide_page(&cfg, &PLACEMENTS, &shopper, &m, &mut SplitMix64::new(seed), &NativeRegex);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn a_shopper_in_a_holdout_never_sees_that_campaign(
        id in "[a-z0-9]{8,20}",
        share in 0.05f64..0.95,
        seeds in proptest::collection::vec(any::<u64>(), 1..20),
    ) {
        let mut value = json!({"site": "p", "version": 1, "campaigns": [{
            "id": "held", "placement": "hero", "holdout": share,
            "variants": [{"id": "a", "content": {"type": "banner", "headline": "x"}}]}]});
        value["campaigns"][0]["seed"] = json!("held");
        let cfg = SiteConfig::compile_value(&value, &NativeRegex).unwrap();
        // Independently: the holdout is hash("<seed>__holdout", id) < share.
        let in_holdout = bucket::hash("held__holdout", &id, 2).unwrap() < share;
        let ledger = Ledger::default();
        let attrs = json!({});
        for seed in seeds {
            let shopper = Shopper { attributes: &attrs, id: Some(&id), consent: Consent::Granted, ledger: &ledger };
            let d = decide_page(&cfg, &["hero"], &shopper, &Moment::utc(START), &mut SplitMix64::new(seed), &NativeRegex);
            let shown = d[0].chosen().is_some();
            prop_assert_eq!(shown, !in_holdout);
            prop_assert_eq!(d[0].held_out.contains(&"held".to_string()), in_holdout);
        }
    }
}

#[test]
fn thompson_sampling_concentrates_on_the_best_variant() {
    // Three variants convert at 2 %, 4 % and 8 %. Every 500 impressions the
    // server-side step updates Beta(1 + conversions, 1 + misses) posteriors
    // and ships them in the config, as dangol-server does.
    let rates = [0.02, 0.04, 0.08];
    let mut exposures = [0u32; 3];
    let mut conversions = [0u32; 3];
    let mut world = SplitMix64::new(2026);
    let mut rng = SplitMix64::new(11);
    let mut last_round = [0u32; 3];
    let ledger = Ledger::default();
    let attrs = json!({});
    for round in 0..40 {
        let posteriors: Vec<Value> = (0..3)
            .map(|i| json!([1 + conversions[i], 1 + exposures[i] - conversions[i]]))
            .collect();
        let value = json!({"site": "p", "version": round, "campaigns": [{
            "id": "bandit", "placement": "hero",
            "allocation": {"type": "bandit", "posteriors": posteriors, "min_share": 0.02},
            "variants": [{"id": "a", "content": {"type": "banner", "headline": "a"}},
                         {"id": "b", "content": {"type": "banner", "headline": "b"}},
                         {"id": "c", "content": {"type": "banner", "headline": "c"}}]}]});
        let cfg = SiteConfig::compile_value(&value, &NativeRegex).unwrap();
        let mut this_round = [0u32; 3];
        for _ in 0..500 {
            let shopper = Shopper {
                attributes: &attrs,
                id: None,
                consent: Consent::Unknown,
                ledger: &ledger,
            };
            let d = decide_page(
                &cfg,
                &["hero"],
                &shopper,
                &Moment::utc(START),
                &mut rng,
                &NativeRegex,
            );
            let v = d[0].chosen().unwrap().variant_index;
            exposures[v] += 1;
            this_round[v] += 1;
            if dangol_engine::random::Random::next_f64(&mut world) < rates[v] {
                conversions[v] += 1;
            }
        }
        last_round = this_round;
    }
    let share_best = f64::from(last_round[2]) / 500.0;
    println!("exposures {exposures:?}, conversions {conversions:?}, last round {last_round:?}");
    assert!(
        share_best > 0.8,
        "the best variant got {share_best} of the last round"
    );
    // The exploration floor keeps every variant alive.
    assert!(last_round.iter().all(|&n| n >= 2), "{last_round:?}");
}
