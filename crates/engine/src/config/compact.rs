//! The compact form of a checked config: what the server publishes to the
//! widget, so the browser carries no config reader, validator or condition
//! compiler, and a stored config is ready to decide after one linear read.
//!
//! The server reads and checks the JSON config once per publish
//! ([`SiteConfig::compile_value`]) and [writes](write) the result: only the
//! usable campaigns, already in decision order, with their conditions
//! compiled (paths split, version literals padded, literal patterns
//! recognised) and the attribute paths the conditions share. The widget
//! [reads](read) it back. Fields the widget never uses (a campaign's source
//! condition) are left out. The form starts with [`FORMAT`]: a widget reads
//! only the format it knows, and a server that changes it bumps it.
//!
//! The reader still refuses what would make deciding fail (no variants, a
//! weight list of the wrong length) and unsafe links, so a config changed
//! in storage or on the way cannot break or misuse the page.

use crate::json::Value;

use super::compile::{CompiledCampaign, CompiledConfig};
use super::{
    Allocation, Banner, Campaign, Caps, Content, Coupon, CouponPolicy, Cta, FeedbackQuestion,
    LoyaltyPrompt, Placement, PlacementKind, Pressure, Recommendations, Scale, Schedule,
    SiteConfig, Strategy, Tier, Trigger, Variant, is_safe_url,
};
use crate::churn::{BgNbd, ChurnModel, GammaGamma};
use crate::condition::{Condition, Paths, RegexEngine};
use crate::profile::ProfileConfig;
use crate::wire::{Reader, Writer, unbase64};

/// The compact form's version; the first thing in it.
pub const FORMAT: u64 = 1;

/// Why a compact config could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactError {
    /// Not base64 text.
    NotBase64,
    /// A format this engine does not know (newer, or not a compact config).
    Format(u64),
    /// Bytes that do not read as a config, at this byte offset.
    Corrupt(usize),
}

impl CompactError {
    /// What is wrong, in words (made without `core::fmt`, for the widget).
    pub fn message(&self) -> String {
        use crate::cat::{cat, uint};
        match self {
            CompactError::NotBase64 => "it is not base64 text".into(),
            CompactError::Format(n) => cat(&[
                "its format ",
                &uint(*n),
                " is not the one this widget reads (1)",
            ]),
            CompactError::Corrupt(at) => cat(&["it is corrupt at byte ", &uint(*at as u64)]),
        }
    }
}

impl std::fmt::Display for CompactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Writes a checked config in the compact form (base64 text), of the line
/// of publishes `lineage` (see [`CompiledConfig::is_older_than`]).
pub fn write(config: &CompiledConfig, lineage: &str) -> String {
    let mut w = Writer::default();
    w.u(FORMAT);
    w.s(lineage);
    let c = config.config();
    w.u(c.schema);
    w.s(&c.site);
    w.u(c.version);
    w.list(&c.placements, |w, p| {
        w.s(&p.id);
        w.u(p.kind as u64);
        w.opt(p.trigger.as_ref(), write_trigger);
    });
    w.opt(c.pressure.per_session.as_ref(), |w, n| w.u((*n).into()));
    w.opt(c.pressure.per_day.as_ref(), |w, n| w.u((*n).into()));
    w.n(c.global_holdout);
    w.value(&c.saved_groups);
    w.list(&c.tiers, |w, t| {
        w.s(&t.id);
        w.s(&t.name);
        w.n(t.points);
        w.s(&t.perks);
    });
    w.opt(c.locale.as_ref(), |w, s| w.s(s));
    w.opt(c.currency.as_ref(), |w, s| w.s(s));
    w.u(c.attribution_hours.into());
    let custom = c.profile != ProfileConfig::default();
    w.opt(custom.then_some(&c.profile), write_profile);
    config.paths().write(&mut w);
    w.list(config.campaigns(), |w, compiled| {
        write_campaign(w, &compiled.campaign);
        compiled.condition.write(w);
        w.b(compiled.behavioural);
        w.u(compiled.index as u64);
    });
    let p = &c.profile;
    if p.at_risk_p_alive.is_some() || p.churn.is_some() {
        w.opt(p.at_risk_p_alive.as_ref(), |w, x| w.n(*x));
        w.opt(p.churn.as_ref(), write_churn);
    }
    w.finish()
}

/// Reads a config [written](write) by the server, compiling its regexes
/// with `regex`.
pub fn read(text: &str, regex: &dyn RegexEngine) -> Result<CompiledConfig, CompactError> {
    read_as(text, regex, |config| config)
}

/// [`read`], with the config handed to `hold` as soon as it is read, before
/// it is checked whole: what the read gives back (or, when the form turns
/// out corrupt, drops) is what `hold` made of it. A caller that never frees
/// its configs (the widget, whose page keeps its config for its life) holds
/// them so that no read, failed or not, frees one.
pub fn read_as<T>(
    text: &str,
    regex: &dyn RegexEngine,
    hold: impl FnOnce(CompiledConfig) -> T,
) -> Result<T, CompactError> {
    let bytes = unbase64(text.trim_ascii()).ok_or(CompactError::NotBase64)?;
    let mut r = Reader::new(&bytes);
    match r.u() {
        FORMAT => {}
        _ if r.failed() => return Err(CompactError::Corrupt(0)),
        other => return Err(CompactError::Format(other)),
    }
    let mut config = read_config(&mut r, regex);
    config.source = text.to_string();
    let config = hold(config);
    let at = r.position();
    r.finish(config).ok_or(CompactError::Corrupt(at))
}

fn read_config(r: &mut Reader<'_>, regex: &dyn RegexEngine) -> CompiledConfig {
    let lineage = r.s();
    let schema = r.u();
    let site = r.s();
    let version = r.u();
    let placements = r.list(|r| Placement {
        id: r.s(),
        kind: match r.u() {
            0 => PlacementKind::Inline,
            1 => PlacementKind::Modal,
            2 => PlacementKind::Toast,
            3 => PlacementKind::Bar,
            _ => {
                r.fail();
                PlacementKind::Inline
            }
        },
        trigger: r.opt(read_trigger),
    });
    let pressure = Pressure {
        per_session: r.opt(Reader::u32),
        per_day: r.opt(Reader::u32),
    };
    let global_holdout = r.n();
    let saved_groups = r.value();
    let tiers = r.list(|r| Tier {
        id: r.s(),
        name: r.s(),
        points: r.n(),
        perks: r.s(),
    });
    let locale = r.opt(Reader::s);
    let currency = r.opt(Reader::s);
    let attribution_hours = r.u32();
    let mut profile = r.opt(read_profile).unwrap_or_default();
    let paths = Paths::read(r);
    let campaigns = r.list(|r| CompiledCampaign {
        campaign: read_campaign(r),
        condition: Condition::read(r, regex),
        behavioural: r.b(),
        index: r.u() as usize,
    });
    // The churn model and its threshold close the form, and only when the
    // site has them: a form without them reads as before.
    if !r.at_end() {
        profile.at_risk_p_alive = r.opt(Reader::n);
        profile.churn = r.opt(read_churn);
        // No writer ends a form with an empty tail.
        if profile.at_risk_p_alive.is_none() && profile.churn.is_none() {
            r.fail();
        }
    }
    let config = SiteConfig {
        schema,
        site,
        version,
        placements,
        campaigns: Vec::new(),
        pressure,
        global_holdout,
        saved_groups,
        tiers,
        locale,
        currency,
        attribution_hours,
        profile,
    };
    CompiledConfig::assemble(config, lineage, campaigns, paths)
}

fn write_trigger(w: &mut Writer, t: &Trigger) {
    let (kind, n) = match *t {
        Trigger::PageLoad => (0, None),
        Trigger::ExitIntent => (1, None),
        Trigger::Dwell { seconds } => (2, Some(seconds)),
        Trigger::Scroll { percent } => (3, Some(percent)),
        Trigger::Inactivity { seconds } => (4, Some(seconds)),
        Trigger::NthPageView { n } => (5, Some(n)),
        Trigger::ReturningWithCart => (6, None),
    };
    w.u(kind);
    if let Some(n) = n {
        w.u(n.into());
    }
}

fn read_trigger(r: &mut Reader<'_>) -> Trigger {
    match r.u() {
        0 => Trigger::PageLoad,
        1 => Trigger::ExitIntent,
        2 => Trigger::Dwell { seconds: r.u32() },
        3 => Trigger::Scroll { percent: r.u32() },
        4 => Trigger::Inactivity { seconds: r.u32() },
        5 => Trigger::NthPageView { n: r.u32() },
        6 => Trigger::ReturningWithCart,
        _ => {
            r.fail();
            Trigger::PageLoad
        }
    }
}

fn write_profile(w: &mut Writer, p: &ProfileConfig) {
    w.u(p.session_timeout_minutes.into());
    for list in [&p.recency_days, &p.frequency_orders, &p.monetary] {
        list.iter().for_each(|x| w.n(*x));
    }
    for x in [
        p.dormant_days,
        p.at_risk_factor,
        p.at_risk_min_days,
        p.affinity_half_life_days,
    ] {
        w.n(x);
    }
    w.u(p.loyal_orders.into());
    w.u(p.vip_rfm_total.into());
    w.u(p.long_dwell_seconds.into());
    w.u(p.cart_abandon_minutes.into());
}

fn write_churn(w: &mut Writer, m: &ChurnModel) {
    let BgNbd { r, alpha, a, b } = m.bgnbd;
    [r, alpha, a, b].into_iter().for_each(|x| w.n(x));
    w.opt(m.spend.as_ref(), |w, g| {
        [g.p, g.q, g.v].into_iter().for_each(|x| w.n(x));
    });
}

fn read_churn(r: &mut Reader<'_>) -> ChurnModel {
    let bgnbd = BgNbd {
        r: r.n(),
        alpha: r.n(),
        a: r.n(),
        b: r.n(),
    };
    let spend = r.opt(|r| GammaGamma {
        p: r.n(),
        q: r.n(),
        v: r.n(),
    });
    ChurnModel { bgnbd, spend }
}

fn read_profile(r: &mut Reader<'_>) -> ProfileConfig {
    let session_timeout_minutes = r.u32();
    let mut four = || [r.n(), r.n(), r.n(), r.n()];
    let (recency_days, frequency_orders, monetary) = (four(), four(), four());
    let [
        dormant_days,
        at_risk_factor,
        at_risk_min_days,
        affinity_half_life_days,
    ] = four();
    ProfileConfig {
        session_timeout_minutes,
        recency_days,
        frequency_orders,
        monetary,
        dormant_days,
        at_risk_factor,
        at_risk_min_days,
        affinity_half_life_days,
        loyal_orders: r.u32(),
        vip_rfm_total: r.u8(),
        long_dwell_seconds: r.u32(),
        cart_abandon_minutes: r.u32(),
        // Read at the end of the form (see `read`).
        at_risk_p_alive: None,
        churn: None,
    }
}

fn write_campaign(w: &mut Writer, c: &Campaign) {
    w.s(&c.id);
    w.s(&c.name);
    w.list(&c.placements, |w, p| w.s(p));
    let s = &c.schedule;
    w.opt(s.start_ms.as_ref(), |w, t| w.i(*t));
    w.opt(s.end_ms.as_ref(), |w, t| w.i(*t));
    w.list(&s.weekdays, |w, d| w.u((*d).into()));
    w.opt(s.hours.as_ref(), |w, (from, to)| {
        w.u((*from).into());
        w.u((*to).into());
    });
    w.i(c.priority);
    w.opt(c.group.as_ref(), |w, g| w.s(g));
    let caps = &c.caps;
    for cap in [
        caps.per_session,
        caps.per_day,
        caps.per_week,
        caps.lifetime,
        caps.min_gap_minutes,
        caps.dismiss_cooldown_hours,
    ] {
        w.opt(cap.as_ref(), |w, n| w.u((*n).into()));
    }
    w.b(caps.stop_after_conversion);
    w.n(c.holdout);
    match &c.allocation {
        Allocation::Fixed { weights } => {
            w.b(false);
            w.opt(weights.as_ref(), |w, list| w.list(list, |w, x| w.n(*x)));
        }
        Allocation::Bandit {
            posteriors,
            min_share,
        } => {
            w.b(true);
            w.list(posteriors, |w, (a, b)| {
                w.n(*a);
                w.n(*b);
            });
            w.n(*min_share);
        }
    }
    w.s(&c.seed);
    w.u(c.hash_version.into());
    w.list(&c.variants, |w, v| {
        w.s(&v.id);
        write_content(w, &v.content);
    });
    w.opt(c.coupon.as_ref(), |w, p| {
        w.u(p.budget.into());
        w.u(p.valid_days.into());
        w.s(&p.prefix);
    });
}

fn read_campaign(r: &mut Reader<'_>) -> Campaign {
    let id = r.s();
    let name = r.s();
    let placements = r.list(Reader::s);
    let schedule = Schedule {
        start_ms: r.opt(Reader::i),
        end_ms: r.opt(Reader::i),
        weekdays: r.list(Reader::u8),
        hours: r.opt(|r| (r.u8(), r.u8())),
    };
    let priority = r.i();
    let group = r.opt(Reader::s);
    let mut cap = || r.opt(Reader::u32);
    let caps = Caps {
        per_session: cap(),
        per_day: cap(),
        per_week: cap(),
        lifetime: cap(),
        min_gap_minutes: cap(),
        dismiss_cooldown_hours: cap(),
        stop_after_conversion: r.b(),
    };
    let holdout = r.n();
    let allocation = if r.b() {
        Allocation::Bandit {
            posteriors: r.list(|r| (r.n(), r.n())),
            min_share: r.n(),
        }
    } else {
        Allocation::Fixed {
            weights: r.opt(|r| r.list(Reader::n)),
        }
    };
    let seed = r.s();
    let hash_version = r.u32();
    let variants = r.list(|r| Variant {
        id: r.s(),
        content: read_content(r),
    });
    let coupon = r.opt(|r| CouponPolicy {
        budget: r.u32(),
        valid_days: r.u32(),
        prefix: r.s(),
    });
    // What deciding relies on: variants, and one weight or posterior each.
    let n = variants.len();
    let fits = match &allocation {
        Allocation::Fixed { weights } => weights.as_ref().is_none_or(|w| w.len() == n),
        Allocation::Bandit { posteriors, .. } => posteriors.is_empty() || posteriors.len() == n,
    };
    if n == 0 || !fits {
        r.fail();
    }
    Campaign {
        id,
        name,
        placements,
        condition: Value::Null,
        schedule,
        priority,
        group,
        caps,
        holdout,
        allocation,
        seed,
        hash_version,
        variants,
        coupon,
    }
}

fn write_content(w: &mut Writer, content: &Content) {
    match content {
        Content::Banner(b) => {
            w.u(0);
            w.s(&b.headline);
            w.s(&b.body);
            w.opt(b.image.as_ref(), |w, s| w.s(s));
            w.opt(b.cta.as_ref(), |w, c| {
                w.s(&c.text);
                w.s(&c.url);
            });
            w.opt(b.theme.as_ref(), |w, s| w.s(s));
        }
        Content::Coupon(c) => {
            w.u(1);
            for text in [&c.headline, &c.value, &c.body, &c.reveal, &c.terms] {
                w.s(text);
            }
        }
        Content::LoyaltyPrompt(p) => {
            w.u(2);
            w.s(&p.headline);
            w.s(&p.body);
        }
        Content::FeedbackQuestion(q) => {
            w.u(3);
            w.s(&q.question);
            match &q.scale {
                Scale::Rating => w.u(0),
                Scale::Nps => w.u(1),
                Scale::Choice { choices } => {
                    w.u(2);
                    w.list(choices, |w, c| w.s(c));
                }
            }
        }
        Content::Recommendations(r) => {
            w.u(4);
            w.s(&r.headline);
            w.u(r.count.into());
            w.u(r.per_category.into());
            w.b(r.strategy == Strategy::BestSellers);
        }
    }
}

fn read_content(r: &mut Reader<'_>) -> Content {
    // Links and images only http(s) or relative, as publishing checked.
    let url = |r: &mut Reader<'_>| {
        let url = r.s();
        if !is_safe_url(&url) {
            r.fail();
        }
        url
    };
    match r.u() {
        0 => Content::Banner(Banner {
            headline: r.s(),
            body: r.s(),
            image: r.opt(url),
            cta: r.opt(|r| Cta {
                text: r.s(),
                url: url(r),
            }),
            theme: r.opt(Reader::s),
        }),
        1 => Content::Coupon(Coupon {
            headline: r.s(),
            value: r.s(),
            body: r.s(),
            reveal: r.s(),
            terms: r.s(),
        }),
        2 => Content::LoyaltyPrompt(LoyaltyPrompt {
            headline: r.s(),
            body: r.s(),
        }),
        4 => Content::Recommendations(Recommendations {
            headline: r.s(),
            count: r.u32(),
            per_category: r.u32(),
            strategy: if r.b() {
                Strategy::BestSellers
            } else {
                Strategy::Related
            },
        }),
        kind => {
            if kind != 3 {
                r.fail();
            }
            Content::FeedbackQuestion(FeedbackQuestion {
                question: r.s(),
                scale: match r.u() {
                    0 => Scale::Rating,
                    1 => Scale::Nps,
                    kind => {
                        if kind != 2 {
                            r.fail();
                        }
                        Scale::Choice {
                            choices: r.list(Reader::s),
                        }
                    }
                },
            })
        }
    }
}

#[cfg(test)]
mod tests;
