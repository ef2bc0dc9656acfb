//! The site config: what the server publishes and the widget decides with.
//!
//! A config is read from a JSON value ([`SiteConfig::from_value`]) and then
//! [compiled](SiteConfig::compile): conditions are compiled once and every
//! campaign is checked. A campaign that fails a check is reported (the error
//! names the campaign and the field) and skipped; the rest still work.
//! Unknown fields are ignored, so an older widget keeps working with a
//! config published by a newer server.

use crate::json::Value;
use serde::Serialize;

pub mod compact;
mod compile;
mod parse;
pub mod trust;

pub use compile::{CONTEXTUAL_ROOTS, CompiledCampaign, CompiledConfig};

/// The config schema this engine reads.
pub const SCHEMA: u64 = 1;

/// The published config of one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteConfig {
    /// The schema version (see [`SCHEMA`]).
    pub schema: u64,
    /// The site's id, e.g. `"demo"`.
    pub site: String,
    /// The published version; grows by one with each publish.
    pub version: u64,
    /// Where offers can appear. Inline slots need no declaration: a campaign
    /// naming an undeclared placement renders inline into that slot.
    pub placements: Vec<Placement>,
    /// Campaigns; higher `priority` wins, then config order.
    pub campaigns: Vec<Campaign>,
    /// Site-wide message pressure across all campaigns.
    pub pressure: Pressure,
    /// Share of shoppers (0–1) who get no personalisation at all: the
    /// control group that measures total uplift.
    pub global_holdout: f64,
    /// Saved groups for `$inGroup`: group id → array of values.
    pub saved_groups: Value,
    /// The loyalty tier table, lowest first.
    pub tiers: Vec<Tier>,
    /// The language of the widget's own words (`"ko"` or `"en"`) when the
    /// page's `lang` names neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The site's currency (ISO 4217, e.g. `"KRW"`) for amounts in text tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Hours after an exposure in which a purchase counts as a conversion
    /// of that offer (the last offer seen wins). Default 24.
    pub attribution_hours: u32,
    /// Thresholds for sessions, RFM, lifecycle and affinity.
    #[serde(skip)]
    pub profile: crate::profile::ProfileConfig,
}

/// A place on the page where offers appear.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// The id campaigns refer to; for inline slots, `data-dangol-slot`.
    pub id: String,
    /// Inline, or one of the overlays.
    pub kind: PlacementKind,
    /// When an overlay opens; inline placements render on page load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

/// How a placement shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementKind {
    /// Into a `<div data-dangol-slot>` the page reserved.
    Inline,
    /// A dialog over the page.
    Modal,
    /// A small note in a corner.
    Toast,
    /// A bar along the bottom edge.
    Bar,
}

/// What opens an overlay.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// As soon as the page loads.
    PageLoad,
    /// The pointer leaves through the top edge (desktop) or a fast scroll up.
    ExitIntent,
    /// The page has been visible this many seconds.
    Dwell {
        /// Seconds of visible time.
        seconds: u32,
    },
    /// The shopper scrolled this far down.
    Scroll {
        /// Percent of the page height.
        percent: u32,
    },
    /// No input for this many seconds.
    Inactivity {
        /// Seconds without input.
        seconds: u32,
    },
    /// On the shopper's Nth page view of the session.
    NthPageView {
        /// The page view number (1 = first).
        n: u32,
    },
    /// A returning shopper whose cart is not empty.
    ReturningWithCart,
}

/// Site-wide limits on how many offers one shopper sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Pressure {
    /// Most offers per session, across all campaigns.
    pub per_session: Option<u32>,
    /// Most offers per local day, across all campaigns.
    pub per_day: Option<u32>,
}

/// One loyalty tier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tier {
    /// The id used in `declared.tier`, e.g. `"gold"`.
    pub id: String,
    /// The name shown to shoppers.
    pub name: String,
    /// Points needed to reach it.
    pub points: f64,
    /// What it unlocks, for shoppers.
    pub perks: String,
}

/// One campaign: who sees it, where, when, how often, and what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// Unique within the site.
    pub id: String,
    /// A name for people; not shown to shoppers.
    pub name: String,
    /// The placements it may fill.
    pub placements: Vec<String>,
    /// A GrowthBook-style condition on the attributes; `{}` targets everyone.
    pub condition: Value,
    /// When it runs.
    pub schedule: Schedule,
    /// Higher wins a placement; ties go to the campaign listed first.
    pub priority: i64,
    /// Campaigns of one exclusion group never show together on a page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Per-shopper frequency caps.
    pub caps: Caps,
    /// Share of targeted shoppers (0–1) kept out to measure uplift.
    pub holdout: f64,
    /// How variants are allocated.
    pub allocation: Allocation,
    /// Hash seed for sticky bucketing; defaults to the campaign id.
    pub seed: String,
    /// Hash version for bucketing (see [`crate::bucket::hash`]).
    pub hash_version: u32,
    /// At least one; all of one content type.
    pub variants: Vec<Variant>,
    /// How the server issues codes; required for coupon campaigns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon: Option<CouponPolicy>,
}

/// How the server issues a coupon campaign's codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CouponPolicy {
    /// Most codes the campaign hands out in all.
    pub budget: u32,
    /// Days a code stays valid after it is claimed.
    pub valid_days: u32,
    /// Text before the random part of each code, e.g. `WELCOME`.
    pub prefix: String,
}

/// When a campaign runs, in the shopper's local time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Schedule {
    /// Not before this time (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<i64>,
    /// Not at or after this time (ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    /// Local weekdays it runs on, 1 = Monday … 7 = Sunday; empty = every day.
    pub weekdays: Vec<u8>,
    /// Local hours `[from, to)`, 0–24; `from > to` wraps past midnight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<(u8, u8)>,
}

/// Per-shopper frequency caps of one campaign. `None` means no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Caps {
    /// Most impressions per session.
    pub per_session: Option<u32>,
    /// Most impressions per local day.
    pub per_day: Option<u32>,
    /// Most impressions per local week (Monday to Sunday).
    pub per_week: Option<u32>,
    /// Most impressions ever.
    pub lifetime: Option<u32>,
    /// Minutes that must pass between two impressions.
    pub min_gap_minutes: Option<u32>,
    /// Hours to stay away after the shopper dismissed it.
    pub dismiss_cooldown_hours: Option<u32>,
    /// Never again once the shopper converted on it.
    pub stop_after_conversion: bool,
}

/// How a campaign splits shoppers between its variants.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Allocation {
    /// Fixed weights (equal when absent), sticky per shopper by hashing
    /// the pseudonymous id with the campaign seed.
    Fixed {
        /// One weight per variant, summing to 1.
        #[serde(skip_serializing_if = "Option::is_none")]
        weights: Option<Vec<f64>>,
    },
    /// Thompson sampling over per-variant Beta(α, β) posteriors that the
    /// server computes and ships in the config.
    Bandit {
        /// `(α, β)` per variant.
        posteriors: Vec<(f64, f64)>,
        /// Every variant keeps at least this share of traffic.
        min_share: f64,
    },
}

/// One variant of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// Unique within the campaign.
    pub id: String,
    /// What the shopper sees.
    pub content: Content,
}

/// The content types a variant can carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// A banner: optional image, headline, body and call to action.
    Banner(Banner),
    /// A coupon whose code the server issues when the shopper reveals it.
    Coupon(Coupon),
    /// Where the shopper stands in the loyalty programme.
    LoyaltyPrompt(LoyaltyPrompt),
    /// One question; the answer becomes an event.
    FeedbackQuestion(FeedbackQuestion),
    /// A row of product cards ranked on the shopper's device from the
    /// site's published recommendations model (inline slots only).
    Recommendations(Recommendations),
}

impl Content {
    /// A copy with every shopper-facing text passed through `f` (text
    /// tokens are filled this way, see [`crate::text::fill`]). URLs and ids
    /// are left alone.
    pub fn map_text(&self, f: impl Fn(&str) -> String) -> Content {
        match self {
            Content::Banner(b) => Content::Banner(Banner {
                headline: f(&b.headline),
                body: f(&b.body),
                cta: b.cta.as_ref().map(|c| Cta {
                    text: f(&c.text),
                    url: c.url.clone(),
                }),
                ..b.clone()
            }),
            Content::Coupon(c) => Content::Coupon(Coupon {
                headline: f(&c.headline),
                value: f(&c.value),
                body: f(&c.body),
                reveal: f(&c.reveal),
                terms: f(&c.terms),
            }),
            Content::LoyaltyPrompt(p) => Content::LoyaltyPrompt(LoyaltyPrompt {
                headline: f(&p.headline),
                body: f(&p.body),
            }),
            Content::FeedbackQuestion(q) => Content::FeedbackQuestion(FeedbackQuestion {
                question: f(&q.question),
                scale: match &q.scale {
                    Scale::Choice { choices } => Scale::Choice {
                        choices: choices.iter().map(|c| f(c)).collect(),
                    },
                    other => other.clone(),
                },
            }),
            Content::Recommendations(r) => Content::Recommendations(Recommendations {
                headline: f(&r.headline),
                ..r.clone()
            }),
        }
    }

    /// The content type's name, as in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Banner(_) => "banner",
            Content::Coupon(_) => "coupon",
            Content::LoyaltyPrompt(_) => "loyalty_prompt",
            Content::FeedbackQuestion(_) => "feedback_question",
            Content::Recommendations(_) => "recommendations",
        }
    }
}

/// A banner offer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Banner {
    /// Always shown; plain text.
    pub headline: String,
    /// Plain text under the headline.
    pub body: String,
    /// An optional image (http(s) or relative URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// An optional call to action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cta: Option<Cta>,
    /// A theme name the widget maps to styles (`"light"`, `"dark"`, `"accent"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
}

/// A call-to-action link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cta {
    /// The link text.
    pub text: String,
    /// http(s) or relative only.
    pub url: String,
}

/// A coupon offer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coupon {
    /// E.g. "A little something for you".
    pub headline: String,
    /// The value as shown, e.g. "10% off" or "₩5,000 off over ₩50,000".
    pub value: String,
    /// Plain text under the value.
    pub body: String,
    /// The reveal button's text.
    pub reveal: String,
    /// Fine print.
    pub terms: String,
}

/// A loyalty prompt; the numbers come from declared attributes and the
/// site's tier table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoyaltyPrompt {
    /// E.g. "{{declared.name | \"You\"}}, you're close to Gold".
    pub headline: String,
    /// Plain text under the progress.
    pub body: String,
}

/// A feedback question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackQuestion {
    /// The question.
    pub question: String,
    /// How it is answered.
    pub scale: Scale,
}

/// A row of recommended products. Which products is worked out on the
/// shopper's device (see [`crate::recs`]): related to what they viewed,
/// have in the cart or bought, with personalisation consent; the page's
/// category's best-sellers otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendations {
    /// Above the row, e.g. "You might also like".
    pub headline: String,
    /// Cards in the row: 1 to [`MAX_RECOMMENDED`].
    pub count: u32,
    /// At most this many cards of one category, so the row is not all
    /// one kind of thing.
    pub per_category: u32,
    /// How the cards are chosen (variants of one campaign may differ, so
    /// a bandit or a split test finds which works better).
    pub strategy: Strategy,
}

/// How a recommendations row chooses its cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// What goes with the shopper's own items (with personalisation
    /// consent), best-sellers after.
    Related,
    /// Best-sellers only, the page's category's first, for everyone.
    BestSellers,
}

/// The most cards a recommendations row shows.
pub const MAX_RECOMMENDED: u32 = 12;

/// How a feedback question is answered. No free text ever leaves the browser.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scale {
    /// 1 to 5 stars.
    Rating,
    /// 0 to 10, net promoter score.
    Nps,
    /// One of a few fixed choices.
    Choice {
        /// 2 to 6 choices.
        choices: Vec<String>,
    },
}

/// Languages the widget's own words come in.
pub const LOCALES: &[&str] = &["ko", "en"];

/// Default conversion attribution window, in hours.
pub const ATTRIBUTION_HOURS: u32 = 24;

/// The themes a banner may name.
pub const THEMES: &[&str] = &["light", "dark", "accent"];

/// Ids of campaigns, variants and placements: 1-64 of `[A-Za-z0-9_-]`.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Only `http:`, `https:` or scheme-less (relative) URLs are allowed, so a
/// config can never smuggle `javascript:` or `data:` links into a page.
pub fn is_safe_url(url: &str) -> bool {
    let url = url.trim_ascii();
    if url.is_empty() || url.chars().any(|c| c.is_control()) {
        return false;
    }
    // A scheme is whatever comes before the first ':' if no '/', '?' or '#'
    // comes earlier.
    let bytes = url.as_bytes();
    match bytes
        .iter()
        .position(|b| matches!(b, b':' | b'/' | b'?' | b'#'))
    {
        Some(i) if bytes[i] == b':' => {
            // `http` or `https` in either case: of all bytes only `H` and
            // `h` give `h` with the lowercase bit set, and so on.
            let scheme = &bytes[..i];
            matches!(scheme.len(), 4 | 5)
                && scheme.iter().zip(b"https").all(|(a, b)| a | 0x20 == *b)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_urls_are_http_https_or_relative() {
        for ok in [
            "/a",
            "a/b",
            "https://shop.example/x",
            " https://shop.example/x\t",
            "HTTP://x",
            "HtTpS://x",
            "?q=1",
            "#top",
            "//cdn.example/x.png",
        ] {
            assert!(is_safe_url(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            " JavaScript:x",
            // Only ASCII white space is taken off, as browsers do; what is
            // left before the colon is not http(s).
            "\u{a0}javascript:x",
            "data:text/html,x",
            "vbscript:x",
            "httpx:y",
            "htt:x",
            "https2:x",
            "ftp://x",
            "",
            "a\nb",
        ] {
            assert!(!is_safe_url(bad), "{bad}");
        }
    }

    #[test]
    fn map_text_reaches_every_shopper_facing_text_and_no_url() {
        let banner = Content::Banner(Banner {
            headline: "h".into(),
            body: "b".into(),
            image: Some("/i.png".into()),
            cta: Some(Cta {
                text: "t".into(),
                url: "/u".into(),
            }),
            theme: None,
        });
        let Content::Banner(out) = banner.map_text(|s| format!("[{s}]")) else {
            panic!("not a banner");
        };
        assert_eq!((out.headline.as_str(), out.body.as_str()), ("[h]", "[b]"));
        assert_eq!(out.image.as_deref(), Some("/i.png"));
        let cta = out.cta.unwrap();
        assert_eq!((cta.text.as_str(), cta.url.as_str()), ("[t]", "/u"));
        let q = Content::FeedbackQuestion(FeedbackQuestion {
            question: "q".into(),
            scale: Scale::Choice {
                choices: vec!["x".into(), "y".into()],
            },
        });
        let Content::FeedbackQuestion(out) = q.map_text(|s| s.to_uppercase()) else {
            panic!("not a question");
        };
        assert_eq!(out.question, "Q");
        assert_eq!(
            out.scale,
            Scale::Choice {
                choices: vec!["X".into(), "Y".into()]
            }
        );
    }

    #[test]
    fn identifiers_are_short_and_plain() {
        assert!(is_identifier("home-hero_2"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier(&"x".repeat(65)));
    }
}
