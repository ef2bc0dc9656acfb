//! The shopper's first-party profile, kept in the browser with consent.
//!
//! It is built incrementally from events and holds aggregates and decayed
//! counters, never a raw log, so it stays small (under [`MAX_BYTES`] as
//! JSON whatever the history). Time comes in with every event.

mod segment_form;
mod store;

use crate::json::{Map, Value};

use crate::attributes::Facts;
use crate::ledger::Ledger;

pub use store::PROFILE_SCHEMA;

/// The stored profile never grows past this many bytes of JSON.
pub const MAX_BYTES: usize = 16 * 1024;

const DAY_MS: f64 = 86_400_000.0;
/// Categories, brands and items remembered; the weakest are forgotten.
pub(crate) const MAX_SCORES: usize = 12;
/// "About a year ago" for the seasonal repeat: 11 to 13 months, in ms.
const A_YEAR_AGO_FROM: i64 = 335 * 86_400_000;
const A_YEAR_AGO_TO: i64 = 395 * 86_400_000;
/// Cart lines kept.
pub(crate) const MAX_CART: usize = 20;
/// Transaction ids remembered to count a purchase once.
pub(crate) const MAX_TRANSACTIONS: usize = 12;
/// Longest text kept for an id (item, category, brand, transaction).
pub(crate) const MAX_ID_LEN: usize = 48;

/// Thresholds from the site config (`profile` object).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileConfig {
    /// Minutes of inactivity that end a session.
    pub session_timeout_minutes: u32,
    /// Recency thresholds in days since the last purchase, best first:
    /// within `[0]` scores 5, within `[1]` 4, `[2]` 3, `[3]` 2, else 1.
    pub recency_days: [f64; 4],
    /// Frequency thresholds in orders: at least `[3]` scores 5, `[2]` 4,
    /// `[1]` 3, `[0]` 2, else 1.
    pub frequency_orders: [f64; 4],
    /// Monetary thresholds in revenue, scored like frequency.
    pub monetary: [f64; 4],
    /// No visit for this many days: dormant.
    pub dormant_days: f64,
    /// A repeat buyer whose time since the last purchase exceeds this many
    /// times their usual gap (and at least `at_risk_min_days`): at risk.
    pub at_risk_factor: f64,
    /// See `at_risk_factor`.
    pub at_risk_min_days: f64,
    /// Orders that make a shopper loyal.
    pub loyal_orders: u32,
    /// R + F + M at least this (and two orders or more): vip.
    pub vip_rfm_total: u8,
    /// Half-life of category and brand affinity, in days.
    pub affinity_half_life_days: f64,
    /// Engaged seconds in a session without a purchase that count as
    /// "long dwell without purchase".
    pub long_dwell_seconds: u32,
    /// Minutes without cart activity after which a non-empty cart counts
    /// as abandoned.
    pub cart_abandon_minutes: u32,
    /// With a fitted `churn` model: a repeat buyer whose chance of still
    /// being a customer (`p_alive`) is below this is at risk, in place of
    /// the gap rule above.
    pub at_risk_p_alive: Option<f64>,
    /// The site's fitted churn model, published with the config: the
    /// shopper's `p_alive`, `expected_orders_90d` and `clv_90d` are worked
    /// out from their own history.
    pub churn: Option<crate::churn::ChurnModel>,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        Self {
            session_timeout_minutes: 30,
            recency_days: [7.0, 30.0, 90.0, 180.0],
            frequency_orders: [1.0, 2.0, 4.0, 8.0],
            monetary: [50_000.0, 150_000.0, 400_000.0, 1_000_000.0],
            dormant_days: 30.0,
            at_risk_factor: 2.0,
            at_risk_min_days: 14.0,
            loyal_orders: 3,
            vip_rfm_total: 13,
            affinity_half_life_days: 14.0,
            long_dwell_seconds: 180,
            cart_abandon_minutes: 30,
            at_risk_p_alive: None,
            churn: None,
        }
    }
}

/// A lifecycle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// First session, no order yet.
    #[default]
    New,
    /// Came back or bought.
    Active,
    /// Several orders.
    Loyal,
    /// Top RFM.
    Vip,
    /// A repeat buyer overdue for their next order.
    AtRisk,
    /// Came back after a long absence (the stage at the start of this visit).
    Dormant,
}

impl Stage {
    /// The stage's name in attributes and events.
    pub fn name(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Active => "active",
            Stage::Loyal => "loyal",
            Stage::Vip => "vip",
            Stage::AtRisk => "at_risk",
            Stage::Dormant => "dormant",
        }
    }

    /// Reads [`Stage::name`]; anything else is `None`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Stage::New,
            Stage::Active,
            Stage::Loyal,
            Stage::Vip,
            Stage::AtRisk,
            Stage::Dormant,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// One cart line.
#[derive(Debug, Clone, PartialEq)]
pub struct CartLine {
    /// The site's product id.
    pub item: String,
    /// Unit price.
    pub price: f64,
    /// Quantity.
    pub quantity: u32,
}

/// A decayed score for a category, brand or item.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The id.
    pub key: String,
    /// The score as of `at_ms`.
    pub value: f64,
    /// When the score was last updated.
    pub at_ms: i64,
}

/// What happened, as the profile needs it. The widget maps page calls,
/// GA4 `dataLayer` pushes and its own offer events to these.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A page view; `sale` when the page is a sale or outlet page.
    PageView {
        /// The page's category, if the shop marks it.
        category: Option<String>,
        /// A sale or outlet page.
        sale: bool,
    },
    /// A product page or product view.
    ViewItem {
        /// The site's product id.
        item: String,
        /// Its category.
        category: Option<String>,
        /// Its brand.
        brand: Option<String>,
    },
    /// Added to the cart.
    AddToCart {
        /// The product.
        item: String,
        /// Its category.
        category: Option<String>,
        /// Unit price.
        price: f64,
        /// Quantity.
        quantity: u32,
    },
    /// Removed from the cart.
    RemoveFromCart {
        /// The product.
        item: String,
    },
    /// An order. A transaction id seen before is counted once.
    Purchase {
        /// The shop's order id.
        transaction_id: Option<String>,
        /// Order value.
        value: f64,
        /// Categories of the items bought.
        categories: Vec<String>,
        /// The items bought (the site's product ids).
        items: Vec<String>,
        /// A coupon was used.
        coupon: bool,
    },
    /// Visible, engaged time on a page.
    Engaged {
        /// Seconds.
        seconds: u32,
    },
    /// The shopper saw an offer.
    Exposure {
        /// The campaign.
        campaign: String,
        /// The variant.
        variant: String,
    },
    /// The shopper dismissed an offer.
    Dismiss {
        /// The campaign.
        campaign: String,
    },
    /// The shopper converted on an offer.
    Convert {
        /// The campaign.
        campaign: String,
    },
    /// The shopper clicked an offer.
    Click {
        /// The campaign.
        campaign: String,
    },
    /// The shopper claimed an offer's coupon.
    Claim {
        /// The campaign.
        campaign: String,
    },
}

/// A lifecycle stage change, to be recorded as an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageChange {
    /// The stage before.
    pub from: Stage,
    /// The stage now.
    pub to: Stage,
}

/// The shopper's profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    /// First activity (ms).
    pub first_seen_ms: i64,
    /// Last activity (ms).
    pub last_seen_ms: i64,
    /// Start of the current session (ms).
    pub session_start_ms: i64,
    /// The last activity before the current session began (ms).
    pub previous_visit_ms: Option<i64>,
    /// Page views ever.
    pub visits: u32,
    /// Sessions ever.
    pub sessions: u32,
    /// Page views per local hour of day, for the usual visit hour.
    pub hours: [u16; 24],
    /// Orders.
    pub orders: u32,
    /// Revenue.
    pub revenue: f64,
    /// Last order (ms).
    pub last_purchase_ms: Option<i64>,
    /// Mean days between orders.
    pub purchase_gap_days: Option<f64>,
    /// Recent transaction ids, newest last.
    pub transactions: Vec<String>,
    /// Decayed category affinity.
    pub categories: Vec<Score>,
    /// Decayed brand affinity.
    pub brands: Vec<Score>,
    /// Views per item since it was last bought.
    pub item_views: Vec<Score>,
    /// Items bought, by how often and how lately (never recommended back).
    pub bought: Vec<Score>,
    /// Categories bought, each with its last purchase (for the seasonal
    /// repeat: the same category bought about a year ago).
    pub bought_categories: Vec<Score>,
    /// Decayed price signals: coupon use, sale pages, repeat views without
    /// buying, items removed from the cart.
    pub price_signals: f64,
    /// When `price_signals` was last updated.
    pub price_signals_ms: i64,
    /// The cart.
    pub cart: Vec<CartLine>,
    /// Last cart activity (ms).
    pub cart_ms: i64,
    /// Engaged seconds in this session.
    pub session_engaged_s: u32,
    /// Page views in this session.
    pub session_views: u32,
    /// Whether this session has an order.
    pub session_purchased: bool,
    /// The lifecycle stage as of the latest event.
    pub stage: Stage,
    /// The stage before the last change.
    pub previous_stage: Option<Stage>,
    /// Impressions, dismissals and conversions for caps.
    pub ledger: Ledger,
}

fn clip(id: &str) -> String {
    let mut end = id.len().min(MAX_ID_LEN);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    id[..end].to_string()
}

fn decayed(value: f64, from_ms: i64, to_ms: i64, half_life_days: f64) -> f64 {
    if half_life_days <= 0.0 || to_ms <= from_ms {
        return value;
    }
    let days = (to_ms - from_ms) as f64 / DAY_MS;
    value * (-(days / half_life_days) * std::f64::consts::LN_2).exp()
}

/// Adds `amount` to `key`'s decayed score, keeping the strongest few.
fn bump(scores: &mut Vec<Score>, key: &str, amount: f64, now: i64, half_life: f64) {
    let key = clip(key);
    match scores.iter_mut().find(|s| s.key == key) {
        Some(s) => {
            s.value = decayed(s.value, s.at_ms, now, half_life) + amount;
            s.at_ms = now;
        }
        None => scores.push(Score {
            key,
            value: amount,
            at_ms: now,
        }),
    }
    if scores.len() > MAX_SCORES {
        let weakest = (0..scores.len()).min_by(|&a, &b| {
            let va = decayed(scores[a].value, scores[a].at_ms, now, half_life);
            let vb = decayed(scores[b].value, scores[b].at_ms, now, half_life);
            va.total_cmp(&vb)
        });
        if let Some(i) = weakest {
            scores.remove(i);
        }
    }
}

/// Adds `other`'s scores into `scores`, each pair decayed to the later of
/// their times, keeping the strongest [`MAX_SCORES`].
fn merge_scores(scores: &mut Vec<Score>, other: &[Score], half_life: f64) {
    for o in other {
        match scores.iter_mut().find(|s| s.key == o.key) {
            Some(s) => {
                let at = s.at_ms.max(o.at_ms);
                s.value = decayed(s.value, s.at_ms, at, half_life)
                    + decayed(o.value, o.at_ms, at, half_life);
                s.at_ms = at;
            }
            None => scores.push(o.clone()),
        }
    }
    let now = scores.iter().map(|s| s.at_ms).max().unwrap_or(0);
    while scores.len() > MAX_SCORES {
        let weakest = (0..scores.len()).min_by(|&a, &b| {
            let va = decayed(scores[a].value, scores[a].at_ms, now, half_life);
            let vb = decayed(scores[b].value, scores[b].at_ms, now, half_life);
            va.total_cmp(&vb)
        });
        if let Some(i) = weakest {
            scores.remove(i);
        }
    }
}

fn score_1_to_5(value: f64, thresholds: &[f64; 4], higher_is_better: bool) -> u8 {
    if higher_is_better {
        1 + thresholds.iter().filter(|t| value >= **t).count() as u8
    } else {
        1 + thresholds.iter().filter(|t| value <= **t).count() as u8
    }
}

impl Profile {
    /// Applies one event at `now_ms` (local offset for the usual hour) and
    /// returns the stage change it caused, if any.
    pub fn apply(
        &mut self,
        input: &Input,
        cfg: &ProfileConfig,
        now_ms: i64,
        utc_offset_minutes: i32,
    ) -> Option<StageChange> {
        self.touch(cfg, now_ms);
        let half_life = cfg.affinity_half_life_days;
        match input {
            Input::PageView { category, sale } => {
                self.visits = self.visits.saturating_add(1);
                self.session_views = self.session_views.saturating_add(1);
                let local = now_ms + i64::from(utc_offset_minutes) * 60_000;
                let hour = (local.rem_euclid(86_400_000) / 3_600_000) as usize;
                if let Some(h) = self.hours.get_mut(hour) {
                    *h = h.saturating_add(1);
                }
                if self.hours.contains(&u16::MAX) {
                    self.hours.iter_mut().for_each(|h| *h /= 2);
                }
                if let Some(c) = category {
                    bump(&mut self.categories, c, 0.5, now_ms, half_life);
                }
                if *sale {
                    self.price_signal(0.5, now_ms, half_life);
                }
            }
            Input::ViewItem {
                item,
                category,
                brand,
            } => {
                if let Some(c) = category {
                    bump(&mut self.categories, c, 1.0, now_ms, half_life);
                }
                if let Some(b) = brand {
                    bump(&mut self.brands, b, 1.0, now_ms, half_life);
                }
                bump(&mut self.item_views, item, 1.0, now_ms, half_life);
                let views = self
                    .item_views
                    .iter()
                    .find(|s| s.key == clip(item))
                    .map_or(0.0, |s| s.value);
                // The same item viewed again and again without buying.
                if views >= 3.0 {
                    self.price_signal(0.5, now_ms, half_life);
                }
            }
            Input::AddToCart {
                item,
                category,
                price,
                quantity,
            } => {
                if let Some(c) = category {
                    bump(&mut self.categories, c, 3.0, now_ms, half_life);
                }
                let item = clip(item);
                let room = self.cart.len() < MAX_CART;
                match self.cart.iter_mut().find(|l| l.item == item) {
                    Some(line) => line.quantity = line.quantity.saturating_add(*quantity),
                    None if room => self.cart.push(CartLine {
                        item,
                        price: price.max(0.0),
                        quantity: *quantity,
                    }),
                    None => {}
                }
                self.cart_ms = now_ms;
            }
            Input::RemoveFromCart { item } => {
                let item = clip(item);
                let before = self.cart.len();
                self.cart.retain(|l| l.item != item);
                if self.cart.len() < before {
                    self.price_signal(1.0, now_ms, half_life);
                }
                self.cart_ms = now_ms;
            }
            Input::Purchase {
                transaction_id,
                value,
                categories,
                items,
                coupon,
            } => {
                if let Some(id) = transaction_id {
                    let id = clip(id);
                    if self.transactions.contains(&id) {
                        return self.restage(cfg, now_ms);
                    }
                    self.transactions.push(id);
                    if self.transactions.len() > MAX_TRANSACTIONS {
                        self.transactions.remove(0);
                    }
                }
                if let Some(last) = self.last_purchase_ms {
                    let gap = (now_ms - last).max(0) as f64 / DAY_MS;
                    let n = f64::from(self.orders.saturating_sub(1).max(1));
                    self.purchase_gap_days = Some(match self.purchase_gap_days {
                        Some(mean) if self.orders >= 2 => mean + (gap - mean) / (n + 1.0),
                        _ => gap,
                    });
                }
                self.orders = self.orders.saturating_add(1);
                self.revenue += value.max(0.0);
                self.last_purchase_ms = Some(now_ms);
                self.session_purchased = true;
                for c in categories {
                    bump(&mut self.categories, c, 5.0, now_ms, half_life);
                    bump(&mut self.bought_categories, c, 1.0, now_ms, half_life);
                }
                for item in items {
                    bump(&mut self.bought, item, 1.0, now_ms, half_life);
                }
                if *coupon {
                    self.price_signal(2.0, now_ms, half_life);
                }
                self.cart.clear();
                self.cart_ms = now_ms;
                self.item_views.clear();
            }
            Input::Engaged { seconds } => {
                self.session_engaged_s = self.session_engaged_s.saturating_add(*seconds);
            }
            Input::Exposure { campaign, variant } => {
                self.ledger.record_show(campaign, variant, now_ms)
            }
            Input::Dismiss { campaign } => self.ledger.record_dismiss(campaign, now_ms),
            Input::Convert { campaign } => self.ledger.record_conversion(campaign, now_ms),
            Input::Click { campaign } => self.ledger.record_click(campaign, now_ms),
            Input::Claim { campaign } => self.ledger.record_claim(campaign, now_ms),
        }
        self.restage(cfg, now_ms)
    }

    fn price_signal(&mut self, amount: f64, now: i64, half_life: f64) {
        self.price_signals =
            decayed(self.price_signals, self.price_signals_ms, now, half_life) + amount;
        self.price_signals_ms = now;
    }

    /// Starts a new session when the previous one timed out.
    fn touch(&mut self, cfg: &ProfileConfig, now_ms: i64) {
        let timeout = i64::from(cfg.session_timeout_minutes) * 60_000;
        if self.sessions == 0 {
            self.first_seen_ms = now_ms;
            self.sessions = 1;
            self.session_start_ms = now_ms;
        } else if now_ms - self.last_seen_ms >= timeout {
            self.sessions = self.sessions.saturating_add(1);
            self.start_session(now_ms);
        }
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
    }

    /// A session starting at `now_ms` after the last activity.
    fn start_session(&mut self, now_ms: i64) {
        self.previous_visit_ms = Some(self.last_seen_ms);
        self.session_start_ms = now_ms;
        self.session_engaged_s = 0;
        self.session_views = 0;
        self.session_purchased = false;
    }

    /// The profile as the shopper would find it coming back at `now_ms`,
    /// without counting a visit: when their last activity is a session
    /// ago, a session starts now (the last activity becomes the previous
    /// visit and the session's counts start again) and the lifecycle stage
    /// is worked out anew, as the widget works them out on the shopper's
    /// next page. The server's segments read shoppers so: the ones who
    /// left age into "dormant" or "no visit for two weeks" without doing
    /// anything.
    pub fn return_at(&mut self, cfg: &ProfileConfig, now_ms: i64) {
        let timeout = i64::from(cfg.session_timeout_minutes) * 60_000;
        if self.sessions == 0 || now_ms - self.last_seen_ms < timeout {
            return;
        }
        self.start_session(now_ms);
        self.last_seen_ms = now_ms;
        self.restage(cfg, now_ms);
    }

    fn restage(&mut self, cfg: &ProfileConfig, now_ms: i64) -> Option<StageChange> {
        let stage = self.stage_at(cfg, now_ms);
        if stage == self.stage {
            return None;
        }
        let change = StageChange {
            from: self.stage,
            to: stage,
        };
        self.previous_stage = Some(self.stage);
        self.stage = stage;
        Some(change)
    }

    /// This device's profile with what the customer's other devices add
    /// (their profile as the server rebuilt it from their events, never
    /// this device's, so nothing counts twice):
    ///
    /// - counts add up (visits, sessions, page views per hour, orders,
    ///   revenue), the first activity is the earlier, the last the later;
    /// - the current session (its start, views, engaged time, purchase) is
    ///   this device's, and an activity elsewhere between this device's
    ///   last visit and this session counts as the previous visit;
    /// - affinities (categories, brands, item views) and price signals add
    ///   up after decaying to the later of their times;
    /// - the usual gap between orders is the mean over both devices' gaps;
    /// - transactions are the union: an order seen on both counts once;
    /// - the cart is the one touched last, on whichever device;
    /// - the offer ledger adds impressions, so caps and pressure hold
    ///   across devices;
    /// - the lifecycle stage is worked out again from the merged facts.
    pub fn merged(&self, other: &Profile, cfg: &ProfileConfig, now_ms: i64) -> Profile {
        let mut m = self.clone();
        if other.visits == 0 && other.orders == 0 && other.ledger.entries().is_empty() {
            return m;
        }
        let half_life = cfg.affinity_half_life_days;
        m.first_seen_ms = match (self.first_seen_ms, other.first_seen_ms) {
            (0, o) => o,
            (s, 0) => s,
            (s, o) => s.min(o),
        };
        m.last_seen_ms = self.last_seen_ms.max(other.last_seen_ms);
        if other.last_seen_ms > 0 && other.last_seen_ms < self.session_start_ms {
            m.previous_visit_ms = self.previous_visit_ms.max(Some(other.last_seen_ms));
        }
        m.visits = self.visits.saturating_add(other.visits);
        m.sessions = self.sessions.saturating_add(other.sessions);
        for (h, o) in m.hours.iter_mut().zip(other.hours) {
            *h = h.saturating_add(o);
        }
        m.orders = self.orders.saturating_add(other.orders);
        m.revenue = self.revenue + other.revenue;
        m.last_purchase_ms = self.last_purchase_ms.max(other.last_purchase_ms);
        let gaps = |p: &Profile| {
            p.purchase_gap_days
                .map(|g| (g, f64::from(p.orders.saturating_sub(1).max(1))))
        };
        m.purchase_gap_days = match (gaps(self), gaps(other)) {
            (Some((a, na)), Some((b, nb))) => Some((a * na + b * nb) / (na + nb)),
            (a, b) => a.or(b).map(|(g, _)| g),
        };
        for t in &other.transactions {
            if m.transactions.contains(t) {
                // The same order seen on both devices counts once.
                m.orders = m.orders.saturating_sub(1);
            } else {
                m.transactions.push(t.clone());
            }
        }
        let start = m.transactions.len().saturating_sub(MAX_TRANSACTIONS);
        m.transactions.drain(..start);
        merge_scores(&mut m.categories, &other.categories, half_life);
        merge_scores(&mut m.brands, &other.brands, half_life);
        merge_scores(&mut m.item_views, &other.item_views, half_life);
        merge_scores(&mut m.bought, &other.bought, half_life);
        merge_scores(
            &mut m.bought_categories,
            &other.bought_categories,
            half_life,
        );
        let at = self.price_signals_ms.max(other.price_signals_ms);
        m.price_signals = decayed(self.price_signals, self.price_signals_ms, at, half_life)
            + decayed(other.price_signals, other.price_signals_ms, at, half_life);
        m.price_signals_ms = at;
        if other.cart_ms > self.cart_ms {
            m.cart.clone_from(&other.cart);
            m.cart_ms = other.cart_ms;
        }
        m.ledger.merge(&other.ledger);
        m.stage = m.stage_at(cfg, now_ms);
        m
    }

    /// RFM scores, 1–5 each, at `now_ms`.
    pub fn rfm(&self, cfg: &ProfileConfig, now_ms: i64) -> (u8, u8, u8) {
        let r = match self.last_purchase_ms {
            Some(t) => score_1_to_5(
                (now_ms - t).max(0) as f64 / DAY_MS,
                &cfg.recency_days,
                false,
            ),
            None => 1,
        };
        let f = score_1_to_5(f64::from(self.orders), &cfg.frequency_orders, true);
        let m = score_1_to_5(self.revenue, &cfg.monetary, true);
        (r, f, m)
    }

    /// The lifecycle stage at `now_ms`, by the rules in order:
    /// 1. dormant: this visit came after `dormant_days` without one;
    /// 2. vip: R + F + M ≥ `vip_rfm_total` with two orders or more;
    /// 3. at_risk: a repeat buyer past `at_risk_factor` × their usual gap
    ///    (or, with a churn model and `at_risk_p_alive`, whose `p_alive`
    ///    is below it);
    /// 4. loyal: `loyal_orders` orders or more;
    /// 5. active: an order, or a second session;
    /// 6. new: everyone else.
    pub fn stage_at(&self, cfg: &ProfileConfig, now_ms: i64) -> Stage {
        let away_days = self
            .previous_visit_ms
            .map(|prev| (self.session_start_ms - prev).max(0) as f64 / DAY_MS);
        // A visit after a long absence stays "dormant" for its session, so
        // "welcome back" campaigns can key on it.
        if away_days.is_some_and(|d| d >= cfg.dormant_days) && !self.session_purchased {
            return Stage::Dormant;
        }
        let (r, f, m) = self.rfm(cfg, now_ms);
        if self.orders >= 2 && r + f + m >= cfg.vip_rfm_total {
            return Stage::Vip;
        }
        if self.orders >= 2
            && let (Some(last), Some(gap)) = (self.last_purchase_ms, self.purchase_gap_days)
        {
            let since = (now_ms - last).max(0) as f64 / DAY_MS;
            let at_risk = match (cfg.at_risk_p_alive, &cfg.churn) {
                (Some(threshold), Some(model)) => model
                    .p_alive(self.orders, Some(last), Some(gap), now_ms)
                    .is_some_and(|p| p < threshold),
                _ => since > (gap * cfg.at_risk_factor).max(cfg.at_risk_min_days),
            };
            if at_risk {
                return Stage::AtRisk;
            }
        }
        if self.orders >= cfg.loyal_orders {
            return Stage::Loyal;
        }
        if self.orders >= 1 || self.sessions >= 2 {
            return Stage::Active;
        }
        Stage::New
    }

    /// Whether an input repeats something already counted (a purchase
    /// whose transaction id was seen): such a call is dropped whole, so the
    /// order is neither counted nor sent twice.
    pub fn is_repeat(&self, input: &Input) -> bool {
        match input {
            Input::Purchase {
                transaction_id: Some(id),
                ..
            } => self.transactions.contains(&clip(id)),
            _ => false,
        }
    }

    /// The usual local hour of visits, if there is a history.
    pub fn usual_hour(&self) -> Option<u8> {
        let (hour, count) = self.hours.iter().enumerate().max_by_key(|(_, c)| **c)?;
        (*count > 0).then_some(hour as u8)
    }

    /// The seasonal repeat's categories and the follow-ups' campaigns, as
    /// [`Facts::bought_a_year_ago`] and [`Facts::campaigns`] hold them.
    #[inline(never)]
    fn follow_ups(&self, now_ms: i64) -> (Value, Value) {
        let mut year_ago = Vec::new();
        for s in &self.bought_categories {
            if (A_YEAR_AGO_FROM..=A_YEAR_AGO_TO).contains(&(now_ms - s.at_ms)) {
                year_ago.push(Value::from(s.key.as_str()));
            }
        }
        let mut campaigns = Map::new();
        for e in self.ledger.entries() {
            let mut m = Map::new();
            for (key, at) in [
                ("days_since_seen", e.seen_ms),
                ("days_since_clicked", e.click_ms),
                ("days_since_claimed", e.claim_ms),
            ] {
                if at != 0 {
                    m.set(key, Value::from((now_ms - at).max(0) as f64 / DAY_MS));
                }
            }
            m.set("converted", Value::Bool(e.converted));
            campaigns.set(&e.campaign, Value::Object(m));
        }
        (Value::Array(year_ago), Value::Object(campaigns))
    }

    /// The attribute facts at `now_ms` (see [`crate::attributes`]).
    pub fn facts(&self, cfg: &ProfileConfig, now_ms: i64) -> Facts {
        let half_life = cfg.affinity_half_life_days;
        let mut affinity: Vec<(f64, &str)> = self
            .categories
            .iter()
            .map(|s| (decayed(s.value, s.at_ms, now_ms, half_life), s.key.as_str()))
            .filter(|(v, _)| *v >= 0.5)
            .collect();
        crate::ledger::insertion_sort(&mut affinity, |a, b| a.0 < b.0);
        let price = decayed(self.price_signals, self.price_signals_ms, now_ms, half_life);
        let cart_value = self
            .cart
            .iter()
            .map(|l| l.price * f64::from(l.quantity))
            .sum();
        let (year_ago, campaigns) = self.follow_ups(now_ms);
        Facts {
            visits: self.visits,
            sessions: self.sessions,
            days_since_last_visit: self
                .previous_visit_ms
                .map(|p| (self.session_start_ms - p).max(0) as f64 / DAY_MS),
            days_since_last_purchase: self
                .last_purchase_ms
                .map(|p| (now_ms - p).max(0) as f64 / DAY_MS),
            lifecycle: (self.sessions > 0).then(|| self.stage.name().to_string()),
            rfm: (self.sessions > 0).then(|| self.rfm(cfg, now_ms)),
            orders: self.orders,
            revenue: self.revenue,
            aov: if self.orders > 0 {
                self.revenue / f64::from(self.orders)
            } else {
                0.0
            },
            cart_items: self.cart.iter().map(|l| l.quantity).sum(),
            cart_value,
            affinity: affinity
                .iter()
                .take(3)
                .map(|(_, k)| (*k).to_string())
                .collect(),
            price_sensitivity: 1.0 - (-price / 4.0).exp(),
            viewed_without_buying: self
                .item_views
                .iter()
                .filter(|s| decayed(s.value, s.at_ms, now_ms, half_life) >= 2.0)
                .count() as u32,
            cart_abandoned: !self.cart.is_empty()
                && now_ms - self.cart_ms >= i64::from(cfg.cart_abandon_minutes) * 60_000,
            long_dwell_without_purchase: self.session_engaged_s >= cfg.long_dwell_seconds
                && !self.session_purchased,
            previous_lifecycle: self.previous_stage.map(|s| s.name().to_string()),
            usual_hour: self.usual_hour(),
            bought_a_year_ago: year_ago,
            campaigns,
            churn: cfg.churn.and_then(|m| {
                m.figures(
                    self.orders,
                    self.revenue,
                    self.last_purchase_ms,
                    self.purchase_gap_days,
                    now_ms,
                )
            }),
        }
    }

    /// The profile as JSON: what `dangol.export()` shows and what the
    /// identity build sends and keeps of the other devices.
    pub fn to_value(&self) -> Value {
        store::to_value(self)
    }

    /// The profile as first-party storage keeps it (compact, as base64
    /// text).
    pub fn to_text(&self) -> String {
        store::to_text(self)
    }

    /// Reads what [`Profile::to_text`] wrote; `None` for anything else.
    pub fn from_text(text: &str) -> Option<Self> {
        store::from_text(text)
    }

    /// The profile stored as `text` (see [`Profile::to_text`]) as JSON
    /// (see [`Profile::to_value`]); `null` when the text is not one.
    pub fn text_to_value(text: &str) -> Value {
        Self::from_text(text).map_or(Value::Null, |p| p.to_value())
    }

    /// Only the items of a stored profile: what was viewed, is in the cart
    /// and was bought (what recommendations read), the rest left empty.
    pub fn items_from_value(value: &Value) -> Self {
        store::items_from_value(value)
    }

    /// Reads what [`Profile::to_value`] wrote, migrating older schemas.
    /// Anything unreadable is an error, and the caller starts afresh.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        store::from_value(value)
    }
}

#[cfg(test)]
mod tests;
