//! Decisions: which campaign and variant each placement shows, and why
//! every other campaign did not.
//!
//! The order of the gates is fixed and each one leaves a reason:
//! 1. the global holdout (no personalisation at all for the control group);
//! 2. schedule; 3. consent for behavioural audiences; 4. the audience
//!    condition; 5. the shopper's caps;
//! 6. a higher-priority campaign already won the placement;
//! 7. another campaign of the same exclusion group is on the page;
//! 8. site-wide message pressure;
//! 9. the campaign's holdout (the slot falls through to the next campaign,
//!    which is what the held-out shopper would have seen without it);
//! 10. the variant: sticky by hash, or Thompson sampling.

use crate::json::{Map, Value};
use serde::Serialize;

use crate::bucket;
use crate::condition::{RegexEngine, Resolved};
use crate::config::{
    Allocation, CompiledCampaign, CompiledConfig, PlacementKind, Schedule, Trigger,
};
use crate::consent::Consent;
use crate::event::Event;
use crate::ledger::{Cap, Ledger};
use crate::random::{Random, beta};
use crate::time::Moment;
use crate::trigger::PageSignals;

/// Why a campaign was or was not shown. Tests assert on these and the
/// shopper-facing "why this offer?" is built from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// Shown: it targeted the shopper and won the placement.
    Shown {
        /// The campaign.
        campaign: String,
        /// The variant shown.
        variant: String,
    },
    /// The audience condition did not match.
    NotTargeted {
        /// The campaign.
        campaign: String,
    },
    /// Outside its dates, weekdays or hours.
    OutOfSchedule {
        /// The campaign.
        campaign: String,
    },
    /// A frequency cap stopped it.
    Capped {
        /// The campaign.
        campaign: String,
        /// Which cap.
        cap: Cap,
    },
    /// The site-wide limit of offers per session or day was reached.
    PressureLimit {
        /// The campaign.
        campaign: String,
        /// `per_session` or `per_day`.
        limit: &'static str,
    },
    /// The shopper is in this campaign's holdout.
    Holdout {
        /// The campaign.
        campaign: String,
    },
    /// The shopper is in the global holdout: no personalisation at all.
    GlobalHoldout,
    /// A higher-priority campaign won the placement.
    LostToPriority {
        /// The campaign.
        campaign: String,
        /// The campaign that won.
        winner: String,
    },
    /// Another campaign of its exclusion group is on the page.
    ExclusionGroup {
        /// The campaign.
        campaign: String,
        /// The group.
        group: String,
        /// The campaign of the group that is shown.
        winner: String,
    },
    /// Its audience needs behavioural data and the shopper has not consented.
    NeedsConsent {
        /// The campaign.
        campaign: String,
    },
    /// No campaign names this placement.
    NoCampaigns,
}

/// What a placement shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chosen {
    /// The winning campaign.
    pub campaign_id: String,
    /// The variant shown.
    pub variant_id: String,
    /// The variant's position in the campaign.
    pub variant_index: usize,
    /// The content's type, as in the config (`"banner"`, `"coupon"`…).
    /// The content itself stays in the config
    /// ([`CompiledConfig::content`]), so a decision copies none of it.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The decision for one placement, with a reason for every campaign considered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The placement decided for.
    pub placement: String,
    /// The offer, if any campaign won.
    pub chosen: Option<Chosen>,
    /// Reasons in evaluation order.
    pub reasons: Vec<Reason>,
    /// Campaigns whose holdout the shopper is in, for measuring uplift.
    pub held_out: Vec<String>,
}

impl Decision {
    /// The chosen offer, if any.
    pub fn chosen(&self) -> Option<&Chosen> {
        self.chosen.as_ref()
    }

    /// The decision as JSON for "why this offer?": placement, the chosen
    /// campaign and variant, and every reason. Built by hand so the widget
    /// needs no serde serializer; it matches the `Serialize` output.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.set("placement", Value::from(self.placement.as_str()));
        let chosen = self.chosen.as_ref().map_or(Value::Null, |c| {
            let mut m = Map::new();
            m.set("campaign_id", Value::from(c.campaign_id.as_str()));
            m.set("variant_id", Value::from(c.variant_id.as_str()));
            m.set("type", Value::from(c.kind));
            Value::Object(m)
        });
        out.set("chosen", chosen);
        let reasons = self.reasons.iter().map(Reason::to_value).collect();
        out.set("reasons", Value::Array(reasons));
        let held: Vec<Value> = self
            .held_out
            .iter()
            .map(|c| Value::from(c.as_str()))
            .collect();
        out.set("held_out", Value::Array(held));
        Value::Object(out)
    }
}

impl Reason {
    /// The reason's stable name, as in its JSON form.
    pub fn name(&self) -> &'static str {
        match self {
            Reason::Shown { .. } => "shown",
            Reason::NotTargeted { .. } => "not_targeted",
            Reason::OutOfSchedule { .. } => "out_of_schedule",
            Reason::Capped { .. } => "capped",
            Reason::PressureLimit { .. } => "pressure_limit",
            Reason::Holdout { .. } => "holdout",
            Reason::GlobalHoldout => "global_holdout",
            Reason::LostToPriority { .. } => "lost_to_priority",
            Reason::ExclusionGroup { .. } => "exclusion_group",
            Reason::NeedsConsent { .. } => "needs_consent",
            Reason::NoCampaigns => "no_campaigns",
        }
    }

    /// The reason as JSON, e.g. `{"reason": "capped", "campaign": "c", "cap": "per_day"}`.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.set("reason", Value::from(self.name()));
        let mut put = |k: &str, v: &str| {
            m.set(k, Value::from(v));
        };
        match self {
            Reason::Shown { campaign, variant } => {
                put("campaign", campaign);
                put("variant", variant);
            }
            Reason::NotTargeted { campaign }
            | Reason::OutOfSchedule { campaign }
            | Reason::Holdout { campaign }
            | Reason::NeedsConsent { campaign } => put("campaign", campaign),
            Reason::Capped { campaign, cap } => {
                put("campaign", campaign);
                put("cap", cap.name());
            }
            Reason::PressureLimit { campaign, limit } => {
                put("campaign", campaign);
                put("limit", limit);
            }
            Reason::LostToPriority { campaign, winner } => {
                put("campaign", campaign);
                put("winner", winner);
            }
            Reason::ExclusionGroup {
                campaign,
                group,
                winner,
            } => {
                put("campaign", campaign);
                put("group", group);
                put("winner", winner);
            }
            Reason::GlobalHoldout | Reason::NoCampaigns => {}
        }
        Value::Object(m)
    }
}

/// The shopper as decisions see them.
pub struct Shopper<'a> {
    /// From [`crate::attributes::build`].
    pub attributes: &'a Value,
    /// The pseudonymous id; `None` before consent.
    pub id: Option<&'a str>,
    /// The consent state.
    pub consent: Consent,
    /// Impressions, dismissals and conversions.
    pub ledger: &'a Ledger,
}

/// Decides every placement of a page in order. Offers chosen earlier on
/// the page count towards pressure and exclusion groups for later ones.
pub fn decide_page(
    config: &CompiledConfig,
    placements: &[&str],
    shopper: &Shopper<'_>,
    moment: &Moment,
    rng: &mut dyn Random,
    regex: &dyn RegexEngine,
) -> Vec<Decision> {
    let mut page = PageState::new(config, shopper);
    placements
        .iter()
        .map(|p| decide_one(config, p, shopper, moment, rng, regex, &mut page))
        .collect()
}

/// The overlay placements of `config` a page may still decide for, with
/// their kind and trigger (page load when none is set): those not
/// `settled` on the page (shown, waiting for their trigger or closed by
/// the shopper) whose trigger can still fire, given `signals`. A page
/// decides its inline slots first: overlays get what pressure leaves.
pub fn open_overlays(
    config: &CompiledConfig,
    settled: impl Fn(&str) -> bool,
    signals: &PageSignals,
) -> Vec<(String, PlacementKind, Trigger)> {
    config
        .config()
        .placements
        .iter()
        .filter(|p| p.kind != PlacementKind::Inline && !settled(&p.id))
        .map(|p| (p.id.clone(), p.kind, p.trigger.unwrap_or(Trigger::PageLoad)))
        .filter(|(_, _, t)| t.may_fire_later(signals))
        .collect()
}

/// The events a page's round of `decisions`, after the `earlier` ones on
/// the same page, records at `now` (each with an id from `id`): a
/// `global_holdout` the first time the shopper is in the global holdout's
/// control group on the page, and a `holdout` for every campaign whose
/// holdout the shopper is in, so results compare each against what was
/// not shown.
pub fn round_events(
    decisions: &[Decision],
    earlier: &[Decision],
    now: i64,
    id: &mut dyn FnMut() -> String,
) -> Vec<Event> {
    let held = |d: &Decision| d.reasons.iter().any(|r| matches!(r, Reason::GlobalHoldout));
    let mut events = Vec::new();
    if decisions.iter().any(held) && !earlier.iter().any(held) {
        events.push(Event::global_holdout(id(), now, String::new()));
    }
    for campaign in decisions.iter().flat_map(|d| &d.held_out) {
        events.push(Event::holdout(id(), now, String::new(), campaign));
    }
    events
}

/// Decides one placement on its own.
pub fn decide(
    config: &CompiledConfig,
    placement: &str,
    shopper: &Shopper<'_>,
    moment: &Moment,
    rng: &mut dyn Random,
    regex: &dyn RegexEngine,
) -> Decision {
    decide_one(
        config,
        placement,
        shopper,
        moment,
        rng,
        regex,
        &mut PageState::new(config, shopper),
    )
}

/// One page's decisions: the shopper's attribute paths, looked up once for
/// every placement, and what earlier placements took.
struct PageState<'v> {
    resolved: Resolved<'v>,
    shown: usize,
    groups: Vec<(String, String)>,
    campaigns: Vec<String>,
}

impl<'v> PageState<'v> {
    fn new(config: &CompiledConfig, shopper: &Shopper<'v>) -> Self {
        PageState {
            resolved: config.paths().resolve(shopper.attributes),
            shown: 0,
            groups: Vec::new(),
            campaigns: Vec::new(),
        }
    }
}

/// Seed suffixes: hashing the same id for different purposes must not
/// correlate the outcomes.
const HOLDOUT_SALT: &str = "__holdout";
const GLOBAL_HOLDOUT_SEED: &str = "__global_holdout";

/// A number in [0, 1) for this shopper and seed: sticky by hash when there
/// is an id, otherwise (no consent, so no id) fresh for this page.
fn unit(seed: &str, id: Option<&str>, version: u32, rng: &mut dyn Random) -> f64 {
    match id.and_then(|id| bucket::hash(seed, id, version)) {
        Some(n) => n,
        None => rng.next_f64(),
    }
}

fn decide_one(
    config: &CompiledConfig,
    placement: &str,
    shopper: &Shopper<'_>,
    moment: &Moment,
    rng: &mut dyn Random,
    regex: &dyn RegexEngine,
    page: &mut PageState<'_>,
) -> Decision {
    let mut decision = Decision {
        placement: placement.to_string(),
        chosen: None,
        reasons: Vec::new(),
        held_out: Vec::new(),
    };
    let site = config.config();
    // 1. The global holdout is decided once per shopper, by hash.
    if site.global_holdout > 0.0
        && let Some(id) = shopper.id
        && bucket::hash(GLOBAL_HOLDOUT_SEED, id, 2).is_some_and(|n| n < site.global_holdout)
    {
        decision.reasons.push(Reason::GlobalHoldout);
        return decision;
    }
    for compiled in config.campaigns_for(placement) {
        let campaign = &compiled.campaign;
        let id = || campaign.id.clone();
        // A campaign fills at most one placement per page.
        if page.campaigns.contains(&campaign.id) {
            continue;
        }
        // 2-5: is this campaign allowed for this shopper right now?
        if !in_schedule(&campaign.schedule, moment) {
            decision
                .reasons
                .push(Reason::OutOfSchedule { campaign: id() });
            continue;
        }
        if compiled.behavioural && shopper.consent != Consent::Granted {
            decision
                .reasons
                .push(Reason::NeedsConsent { campaign: id() });
            continue;
        }
        if !compiled.condition.eval_resolved(
            &page.resolved,
            shopper.attributes,
            &site.saved_groups,
            regex,
        ) {
            decision
                .reasons
                .push(Reason::NotTargeted { campaign: id() });
            continue;
        }
        if let Some(cap) = shopper.ledger.capped(&campaign.id, &campaign.caps, moment) {
            decision.reasons.push(Reason::Capped {
                campaign: id(),
                cap,
            });
            continue;
        }
        // 6-8: does it still fit on this page?
        if let Some(chosen) = &decision.chosen {
            decision.reasons.push(Reason::LostToPriority {
                campaign: id(),
                winner: chosen.campaign_id.clone(),
            });
            continue;
        }
        if let Some(group) = &campaign.group
            && let Some((_, winner)) = page.groups.iter().find(|(g, _)| g == group)
        {
            decision.reasons.push(Reason::ExclusionGroup {
                campaign: id(),
                group: group.clone(),
                winner: winner.clone(),
            });
            continue;
        }
        if let Some(limit) = pressure_limit(config, shopper.ledger, moment, page.shown) {
            decision.reasons.push(Reason::PressureLimit {
                campaign: id(),
                limit,
            });
            continue;
        }
        // 9. The campaign's own holdout: fall through to the next campaign.
        if campaign.holdout > 0.0 {
            let seed = crate::cat::cat(&[&campaign.seed, HOLDOUT_SALT]);
            if unit(&seed, shopper.id, campaign.hash_version, rng) < campaign.holdout {
                decision.reasons.push(Reason::Holdout { campaign: id() });
                decision.held_out.push(id());
                continue;
            }
        }
        // 10. The variant.
        let index = choose_variant(compiled, shopper.id, rng);
        let Some(variant) = campaign.variants.get(index) else {
            continue;
        };
        decision.reasons.push(Reason::Shown {
            campaign: id(),
            variant: variant.id.clone(),
        });
        decision.chosen = Some(Chosen {
            campaign_id: id(),
            variant_id: variant.id.clone(),
            variant_index: index,
            kind: variant.content.kind(),
        });
        page.shown += 1;
        page.campaigns.push(id());
        if let Some(group) = &campaign.group {
            page.groups.push((group.clone(), id()));
        }
    }
    if decision.reasons.is_empty() {
        decision.reasons.push(Reason::NoCampaigns);
    }
    decision
}

/// Why a coupon claim for `variant` of `compiled` by the shopper `id` must
/// be refused, as far as the server can know: the campaign's dates, the
/// global holdout and the campaign's own holdout (both by hash of the id),
/// and, for fixed allocations, the variant the id is bucketed into. The
/// audience, weekdays, hours, caps and pressure depend on what only the
/// shopper's browser knows and are not checked here; a claim without an id
/// (no measurement consent) can be checked against the dates only.
pub fn claim_refusal(
    config: &CompiledConfig,
    compiled: &CompiledCampaign,
    variant: &str,
    id: Option<&str>,
    now_ms: i64,
) -> Option<ClaimRefusal> {
    let campaign = &compiled.campaign;
    let s = &campaign.schedule;
    if s.start_ms.is_some_and(|start| now_ms < start) {
        return Some(ClaimRefusal::NotStarted);
    }
    if s.end_ms.is_some_and(|end| now_ms >= end) {
        return Some(ClaimRefusal::Ended);
    }
    let id = id?;
    let global = config.config().global_holdout;
    if global > 0.0 && bucket::hash(GLOBAL_HOLDOUT_SEED, id, 2).is_some_and(|n| n < global) {
        return Some(ClaimRefusal::GlobalHoldout);
    }
    if campaign.holdout > 0.0 {
        let seed = crate::cat::cat(&[&campaign.seed, HOLDOUT_SALT]);
        if bucket::hash(&seed, id, campaign.hash_version).is_some_and(|n| n < campaign.holdout) {
            return Some(ClaimRefusal::Holdout);
        }
    }
    if let Allocation::Fixed { .. } = campaign.allocation {
        // Sticky by hash: the id sees exactly one variant.
        let mut unused = crate::random::SplitMix64::new(0);
        let index = choose_variant(compiled, Some(id), &mut unused);
        let assigned = &campaign.variants.get(index)?.id;
        if assigned != variant {
            return Some(ClaimRefusal::OtherVariant(assigned.clone()));
        }
    }
    None
}

/// See [`claim_refusal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefusal {
    /// Before the campaign's `start_ms`.
    NotStarted,
    /// At or after its `end_ms`.
    Ended,
    /// The id is in the site's global holdout: it is shown no offers.
    GlobalHoldout,
    /// The id is in the campaign's holdout: it is never shown the campaign.
    Holdout,
    /// The id is bucketed into another variant (named).
    OtherVariant(String),
}

impl ClaimRefusal {
    /// A machine code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            ClaimRefusal::NotStarted => "not_started",
            ClaimRefusal::Ended => "ended",
            ClaimRefusal::GlobalHoldout => "global_holdout",
            ClaimRefusal::Holdout => "holdout",
            ClaimRefusal::OtherVariant(_) => "other_variant",
        }
    }
}

fn in_schedule(s: &Schedule, m: &Moment) -> bool {
    if s.start_ms.is_some_and(|start| m.now_ms < start)
        || s.end_ms.is_some_and(|end| m.now_ms >= end)
    {
        return false;
    }
    if !s.weekdays.is_empty() && !s.weekdays.iter().any(|&d| d == m.weekday()) {
        return false;
    }
    match s.hours {
        None => true,
        Some((from, to)) => {
            let h = m.local_hour();
            if from <= to {
                (from..to).contains(&h)
            } else {
                // Wraps past midnight, e.g. 22 to 6.
                h >= from || h < to
            }
        }
    }
}

fn pressure_limit(
    config: &CompiledConfig,
    ledger: &Ledger,
    m: &Moment,
    shown_on_page: usize,
) -> Option<&'static str> {
    let pressure = config.config().pressure;
    if let Some(limit) = pressure.per_session
        && ledger.shows_this_session(m) + shown_on_page >= limit as usize
    {
        return Some("per_session");
    }
    if let Some(limit) = pressure.per_day
        && ledger.shows_today(m) + shown_on_page >= limit as usize
    {
        return Some("per_day");
    }
    None
}

fn choose_variant(compiled: &CompiledCampaign, id: Option<&str>, rng: &mut dyn Random) -> usize {
    let campaign = &compiled.campaign;
    let n = campaign.variants.len();
    if n <= 1 {
        return 0;
    }
    match &campaign.allocation {
        Allocation::Fixed { weights } => {
            let ranges = bucket::bucket_ranges(n, 1.0, weights.as_deref());
            let x = unit(&campaign.seed, id, campaign.hash_version, rng);
            bucket::choose_variation(x, &ranges).unwrap_or(0)
        }
        Allocation::Bandit {
            posteriors,
            min_share,
        } => {
            // Exploration floor: with probability min_share × n pick any
            // variant uniformly, so each keeps at least min_share of traffic.
            if rng.next_f64() < min_share * n as f64 {
                return ((rng.next_f64() * n as f64) as usize).min(n - 1);
            }
            let mut best = (0, f64::MIN);
            for i in 0..n {
                let (a, b) = posteriors.get(i).copied().unwrap_or((1.0, 1.0));
                let draw = beta(a, b, rng);
                if draw > best.1 {
                    best = (i, draw);
                }
            }
            best.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::NativeRegex;
    use crate::config::SiteConfig;
    use crate::json;
    use crate::random::SplitMix64;

    const NOW: i64 = 1_795_617_000_000; // Wednesday 14:30 UTC

    fn compiled(config: Value) -> CompiledConfig {
        let c = SiteConfig::compile_value(&config, &NativeRegex).unwrap();
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        c
    }

    fn banner(id: &str, extra: Value) -> Value {
        let mut c = json!({"id": id, "placement": "hero",
            "variants": [{"id": "a", "content": {"type": "banner", "headline": id}}]});
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    }

    fn site(campaigns: Value) -> Value {
        json!({"site": "s", "version": 1, "campaigns": campaigns})
    }

    fn run(config: &CompiledConfig, attrs: Value, consent: Consent, ledger: &Ledger) -> Decision {
        let shopper = Shopper {
            attributes: &attrs,
            id: (consent == Consent::Granted).then_some("shopper-0001"),
            consent,
            ledger,
        };
        decide(
            config,
            "hero",
            &shopper,
            &Moment::utc(NOW),
            &mut SplitMix64::new(1),
            &NativeRegex,
        )
    }

    /// The decision for `placement` of a consented shopper `id` with no
    /// attributes and nothing seen yet, at `now`, the draws seeded by `seed`.
    fn decide_for(
        config: &CompiledConfig,
        placement: &str,
        id: &str,
        now: i64,
        seed: u64,
    ) -> Decision {
        let ledger = Ledger::default();
        let attrs = json!({});
        let shopper = Shopper {
            attributes: &attrs,
            id: Some(id),
            consent: Consent::Granted,
            ledger: &ledger,
        };
        decide(
            config,
            placement,
            &shopper,
            &Moment::utc(now),
            &mut SplitMix64::new(seed),
            &NativeRegex,
        )
    }

    #[test]
    fn reasons_as_json_match_their_serde_form() {
        let reasons = [
            Reason::Shown {
                campaign: "c".into(),
                variant: "v".into(),
            },
            Reason::NotTargeted {
                campaign: "c".into(),
            },
            Reason::OutOfSchedule {
                campaign: "c".into(),
            },
            Reason::Capped {
                campaign: "c".into(),
                cap: Cap::DismissCooldown,
            },
            Reason::PressureLimit {
                campaign: "c".into(),
                limit: "per_day",
            },
            Reason::Holdout {
                campaign: "c".into(),
            },
            Reason::GlobalHoldout,
            Reason::LostToPriority {
                campaign: "c".into(),
                winner: "w".into(),
            },
            Reason::ExclusionGroup {
                campaign: "c".into(),
                group: "g".into(),
                winner: "w".into(),
            },
            Reason::NeedsConsent {
                campaign: "c".into(),
            },
            Reason::NoCampaigns,
        ];
        for r in reasons {
            assert_eq!(
                r.to_value(),
                serde_json::from_value::<Value>(serde_json::to_value(&r).unwrap()).unwrap()
            );
        }
    }

    #[test]
    fn the_highest_priority_matching_campaign_wins_and_others_say_why() {
        let cfg = compiled(site(json!([
            banner("low", json!({"priority": 1})),
            banner(
                "shoes",
                json!({"priority": 5, "condition": {"page.path": {"$regex": "^/shoes"}}})
            ),
            banner("high", json!({"priority": 9})),
        ])));
        let d = run(
            &cfg,
            json!({"page": {"path": "/"}}),
            Consent::Granted,
            &Ledger::default(),
        );
        assert_eq!(d.chosen().unwrap().campaign_id, "high");
        assert_eq!(
            d.reasons,
            vec![
                Reason::Shown {
                    campaign: "high".into(),
                    variant: "a".into()
                },
                Reason::NotTargeted {
                    campaign: "shoes".into()
                },
                Reason::LostToPriority {
                    campaign: "low".into(),
                    winner: "high".into()
                },
            ]
        );
    }

    #[test]
    fn behavioural_audiences_need_consent_and_contextual_ones_do_not() {
        let cfg = compiled(site(json!([
            banner(
                "dormant",
                json!({"priority": 2, "condition": {"lifecycle": "dormant"}})
            ),
            banner("home", json!({"condition": {"page.path": "/"}})),
        ])));
        let attrs = json!({"page": {"path": "/"}, "lifecycle": "dormant"});
        let d = run(&cfg, attrs.clone(), Consent::Unknown, &Ledger::default());
        assert_eq!(d.chosen().unwrap().campaign_id, "home");
        assert_eq!(
            d.reasons[0],
            Reason::NeedsConsent {
                campaign: "dormant".into()
            }
        );
        let d = run(&cfg, attrs, Consent::Granted, &Ledger::default());
        assert_eq!(d.chosen().unwrap().campaign_id, "dormant");
    }

    #[test]
    fn schedule_dates_weekdays_and_wrapping_hours() {
        let cases = [
            (json!({"start_ms": NOW + 1}), false),
            (json!({"end_ms": NOW}), false),
            (json!({"start_ms": NOW, "end_ms": NOW + 1}), true),
            (json!({"weekdays": [3]}), true),
            (json!({"weekdays": [1, 2, 4, 5, 6, 7]}), false),
            (json!({"hours": [14, 15]}), true),
            (json!({"hours": [15, 14]}), false),
            (json!({"hours": [22, 15]}), true),
        ];
        for (schedule, shown) in cases {
            let cfg = compiled(site(json!([banner(
                "c",
                json!({"schedule": schedule.clone()})
            )])));
            let d = run(&cfg, json!({}), Consent::Granted, &Ledger::default());
            assert_eq!(d.chosen().is_some(), shown, "{schedule}");
            if !shown {
                assert_eq!(
                    d.reasons,
                    vec![Reason::OutOfSchedule {
                        campaign: "c".into()
                    }]
                );
            }
        }
    }

    #[test]
    fn a_capped_campaign_gives_way_to_the_next() {
        let cfg = compiled(site(json!([
            banner("first", json!({"priority": 2, "caps": {"per_day": 1}})),
            banner("second", json!({})),
        ])));
        let mut ledger = Ledger::default();
        ledger.record_show("first", "a", NOW - 60_000);
        let d = run(&cfg, json!({}), Consent::Granted, &ledger);
        assert_eq!(d.chosen().unwrap().campaign_id, "second");
        assert_eq!(
            d.reasons[0],
            Reason::Capped {
                campaign: "first".into(),
                cap: Cap::PerDay
            }
        );
    }

    #[test]
    fn pressure_limits_stop_offers_across_campaigns_and_placements() {
        let mut config = site(json!([
            banner("a", json!({"placements": ["hero"]})),
            banner("b", json!({"placements": ["side"]})),
        ]));
        config["pressure"] = json!({"per_session": 1});
        let cfg = compiled(config);
        let attrs = json!({});
        let ledger = Ledger::default();
        let shopper = Shopper {
            attributes: &attrs,
            id: Some("x-000000000001"),
            consent: Consent::Granted,
            ledger: &ledger,
        };
        let ds = decide_page(
            &cfg,
            &["hero", "side"],
            &shopper,
            &Moment::utc(NOW),
            &mut SplitMix64::new(3),
            &NativeRegex,
        );
        assert_eq!(ds[0].chosen().unwrap().campaign_id, "a");
        assert!(ds[1].chosen().is_none());
        assert_eq!(
            ds[1].reasons,
            vec![Reason::PressureLimit {
                campaign: "b".into(),
                limit: "per_session"
            }]
        );
    }

    #[test]
    fn an_exclusion_group_allows_one_campaign_per_page() {
        let cfg = compiled(site(json!([
            banner("a", json!({"placements": ["hero"], "group": "promo"})),
            banner("b", json!({"placements": ["side"], "group": "promo"})),
            banner("c", json!({"placements": ["side"]})),
        ])));
        let attrs = json!({});
        let ledger = Ledger::default();
        let shopper = Shopper {
            attributes: &attrs,
            id: Some("x-000000000001"),
            consent: Consent::Granted,
            ledger: &ledger,
        };
        let ds = decide_page(
            &cfg,
            &["hero", "side"],
            &shopper,
            &Moment::utc(NOW),
            &mut SplitMix64::new(3),
            &NativeRegex,
        );
        assert_eq!(ds[1].chosen().unwrap().campaign_id, "c");
        assert_eq!(
            ds[1].reasons[0],
            Reason::ExclusionGroup {
                campaign: "b".into(),
                group: "promo".into(),
                winner: "a".into()
            }
        );
    }

    #[test]
    fn a_page_decides_the_overlays_it_has_not_settled_whose_trigger_can_still_fire() {
        let mut config = site(json!([banner("a", json!({}))]));
        config["placements"] = json!([
            {"id": "exit", "kind": "modal", "trigger": {"type": "exit_intent"}},
            {"id": "dwell", "kind": "toast", "trigger": {"type": "dwell", "seconds": 30}},
            {"id": "second", "kind": "bar", "trigger": {"type": "nth_page_view", "n": 2}},
            {"id": "now", "kind": "modal"},
            {"id": "hero", "kind": "inline"}
        ]);
        let cfg = compiled(config);
        let first_page = PageSignals {
            session_page_views: 1,
            ..PageSignals::default()
        };
        let open =
            |settled: &[&str], signals: &PageSignals| -> Vec<(String, PlacementKind, Trigger)> {
                open_overlays(&cfg, |p| settled.contains(&p), signals)
            };
        assert_eq!(
            open(&[], &first_page),
            vec![
                (
                    "exit".to_string(),
                    PlacementKind::Modal,
                    Trigger::ExitIntent
                ),
                (
                    "dwell".to_string(),
                    PlacementKind::Toast,
                    Trigger::Dwell { seconds: 30 }
                ),
                ("now".to_string(), PlacementKind::Modal, Trigger::PageLoad),
            ],
            "no inline slot, and the second page's bar cannot open on the first"
        );
        let names = |list: Vec<(String, PlacementKind, Trigger)>| -> Vec<String> {
            list.into_iter().map(|(p, _, _)| p).collect()
        };
        assert_eq!(names(open(&["exit", "now"], &first_page)), ["dwell"]);
        let second_page = PageSignals {
            session_page_views: 2,
            ..first_page
        };
        assert_eq!(
            names(open(&["exit", "dwell", "now"], &second_page)),
            ["second"]
        );
    }

    #[test]
    fn a_page_records_the_global_holdout_once_and_every_campaign_held_out() {
        let decision = |reasons: Vec<Reason>, held_out: &[&str]| Decision {
            placement: "p".into(),
            chosen: None,
            reasons,
            held_out: held_out.iter().map(|c| c.to_string()).collect(),
        };
        let mut next = 0;
        let mut id = || {
            next += 1;
            format!("e{next}")
        };
        let global = decision(vec![Reason::GlobalHoldout], &[]);
        let held = decision(
            vec![Reason::Holdout {
                campaign: "spring".into(),
            }],
            &["spring", "vip"],
        );
        let kinds = |events: &[Event]| -> Vec<(String, Option<String>)> {
            events
                .iter()
                .map(|e| (e.kind.clone(), e.campaign.clone()))
                .collect()
        };
        let first = round_events(&[global.clone(), held.clone()], &[], NOW, &mut id);
        assert_eq!(
            kinds(&first),
            [
                ("global_holdout".to_string(), None),
                ("holdout".to_string(), Some("spring".to_string())),
                ("holdout".to_string(), Some("vip".to_string())),
            ]
        );
        assert_eq!(
            first
                .iter()
                .map(|e| (e.id.as_str(), e.ts))
                .collect::<Vec<_>>(),
            [("e1", NOW), ("e2", NOW), ("e3", NOW)]
        );
        // A later round on the same page (a slot added, a new route's
        // leftovers): the global holdout is not counted again.
        let earlier = [global.clone(), held];
        let later = round_events(std::slice::from_ref(&global), &earlier, NOW + 1, &mut id);
        assert!(later.is_empty(), "{later:?}");
        assert!(round_events(&[decision(vec![], &[])], &[], NOW, &mut id).is_empty());
    }

    #[test]
    fn the_global_holdout_gets_no_personalisation_at_all() {
        let mut config = site(json!([banner("a", json!({}))]));
        config["global_holdout"] = json!(1.0);
        let cfg = compiled(config);
        let d = run(&cfg, json!({}), Consent::Granted, &Ledger::default());
        assert!(d.chosen().is_none());
        assert_eq!(d.reasons, vec![Reason::GlobalHoldout]);
    }

    #[test]
    fn claims_are_refused_outside_the_dates_in_a_holdout_or_for_another_variant() {
        let mut config = site(json!([{
            "id": "vip", "placement": "p", "holdout": 0.5,
            "schedule": {"start_ms": 1_000, "end_ms": 2_000},
            "variants": [
                {"id": "a", "content": {"type": "banner", "headline": "A"}},
                {"id": "b", "content": {"type": "banner", "headline": "B"}}
            ]
        }]));
        let compiled = compiled(config.clone());
        let c = &compiled.campaigns()[0];
        let refuse = |id: Option<&str>, variant: &str, now: i64| {
            claim_refusal(&compiled, c, variant, id, now)
        };
        assert_eq!(refuse(None, "a", 999), Some(ClaimRefusal::NotStarted));
        assert_eq!(refuse(None, "a", 2_000), Some(ClaimRefusal::Ended));
        assert_eq!(
            refuse(None, "a", 1_500),
            None,
            "without an id only the dates"
        );
        // Over many ids: about half held out, the rest each allowed exactly
        // the variant deciding shows them.
        let (mut held, mut allowed) = (0, 0);
        for i in 0..2_000 {
            let id = format!("anon{i:016}");
            let shopper_sees = {
                decide_for(&compiled, "p", &id, 1_500, i)
                    .chosen()
                    .map(|ch| ch.variant_id.clone())
            };
            match (refuse(Some(&id), "a", 1_500), refuse(Some(&id), "b", 1_500)) {
                (Some(ClaimRefusal::Holdout), Some(ClaimRefusal::Holdout)) => {
                    held += 1;
                    assert_eq!(shopper_sees, None, "{id}");
                }
                (None, Some(ClaimRefusal::OtherVariant(v)))
                | (Some(ClaimRefusal::OtherVariant(v)), None) => {
                    allowed += 1;
                    assert_eq!(shopper_sees, Some(v), "{id}");
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        assert!((800..1_200).contains(&held), "{held} held out");
        assert_eq!(held + allowed, 2_000);
        // The global holdout comes first.
        config["global_holdout"] = json!(1.0);
        let compiled = super::tests::compiled(config);
        let c = &compiled.campaigns()[0];
        assert_eq!(
            claim_refusal(&compiled, c, "a", Some("anon0000000000000001"), 1_500),
            Some(ClaimRefusal::GlobalHoldout)
        );
    }

    #[test]
    fn a_campaign_holdout_falls_through_to_the_next_campaign() {
        let cfg = compiled(site(json!([
            banner("held", json!({"priority": 2, "holdout": 1.0})),
            banner("next", json!({})),
        ])));
        let d = run(&cfg, json!({}), Consent::Granted, &Ledger::default());
        assert_eq!(d.chosen().unwrap().campaign_id, "next");
        assert_eq!(d.held_out, ["held"]);
        assert_eq!(
            d.reasons[0],
            Reason::Holdout {
                campaign: "held".into()
            }
        );
    }

    #[test]
    fn fixed_allocation_is_sticky_per_shopper_and_follows_the_weights() {
        let cfg = compiled(site(json!([banner(
            "c",
            json!({
                "allocation": {"weights": [0.2, 0.8]},
                "variants": [{"id": "a", "content": {"type": "banner", "headline": "A"}},
                             {"id": "b", "content": {"type": "banner", "headline": "B"}}]
            })
        )])));
        let mut counts = [0usize; 2];
        for i in 0..4000 {
            let id = format!("shopper-{i:08}");
            let first = decide_for(&cfg, "hero", &id, NOW, i);
            let again = decide_for(&cfg, "hero", &id, NOW + 1, i + 99);
            let v = first.chosen().unwrap().variant_index;
            assert_eq!(v, again.chosen().unwrap().variant_index, "sticky for {id}");
            counts[v] += 1;
        }
        let share_b = counts[1] as f64 / 4000.0;
        assert!((share_b - 0.8).abs() < 0.03, "share of b: {share_b}");
    }

    #[test]
    fn a_decision_names_its_content_and_the_config_gives_it() {
        let cfg = compiled(site(json!([{
            "id": "mix", "placement": "p",
            "variants": [
                {"id": "a", "content": {"type": "banner", "headline": "A"}},
                {"id": "b", "content": {"type": "banner", "headline": "B"}}
            ]
        }, {
            "id": "code", "placement": "q", "coupon": {"budget": 100},
            "variants": [
                {"id": "c", "content": {"type": "coupon", "headline": "C", "value": "10%", "reveal": "SAVE"}}
            ]
        }])));
        let mut seen = [false; 2];
        let mut kinds = std::collections::BTreeSet::new();
        for i in 0..64 {
            let id = format!("anon{i:016}");
            for placement in ["p", "q"] {
                let d = decide_for(&cfg, placement, &id, NOW, i);
                let chosen = d.chosen().unwrap();
                let content = cfg
                    .content(&chosen.campaign_id, chosen.variant_index)
                    .unwrap();
                assert_eq!(chosen.kind, content.kind());
                let campaign = cfg
                    .campaigns()
                    .iter()
                    .find(|c| c.campaign.id == chosen.campaign_id)
                    .unwrap();
                let want = &campaign.campaign.variants[chosen.variant_index];
                assert_eq!((&want.id, &want.content), (&chosen.variant_id, content));
                assert_eq!(d.to_value()["chosen"]["type"], json!(chosen.kind));
                kinds.insert(chosen.kind);
                if placement == "p" {
                    seen[chosen.variant_index] = true;
                }
            }
        }
        assert_eq!(seen, [true, true], "both variants were chosen");
        assert_eq!(kinds, ["banner", "coupon"].into());
        assert_eq!(cfg.content("mix", 2), None);
        assert_eq!(cfg.content("other", 0), None);
    }
}
