//! When an overlay opens: the config's [`Trigger`]s checked against what
//! the widget observed on the page. The widget gathers the signals
//! (visible time, scroll depth, idle time, exit intent) and asks here; the
//! rule itself lives in the engine so it is tested natively.

use crate::config::Trigger;
use crate::profile::Profile;

/// What the widget observed on this page so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageSignals {
    /// Seconds the page has been visible.
    pub visible_seconds: u32,
    /// Deepest scroll, in percent of the page height.
    pub scroll_pct: u32,
    /// Seconds since the last pointer, key, touch or scroll input.
    pub idle_seconds: u32,
    /// The shopper showed exit intent on this page.
    pub exit_intent: bool,
    /// This page's number within the session (1 = the first page).
    pub session_page_views: u32,
    /// Sessions the shopper has had, this one included (0 without consent).
    pub sessions: u32,
    /// Items in the cart (0 without consent).
    pub cart_items: u32,
}

/// What the binding watched on the page, in the clock's units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageActivity {
    /// Milliseconds the page has been visible so far.
    pub visible_ms: i64,
    /// Milliseconds since the last pointer, key, touch or scroll input.
    pub idle_ms: i64,
    /// Deepest scroll, in percent of the page height.
    pub scroll_pct: u32,
    /// The pointer left through the top of the window.
    pub exit_intent: bool,
}

/// Whole seconds of `ms`; a clock that went back counts as none.
fn seconds(ms: i64) -> u32 {
    u32::try_from(ms.max(0) / 1000).unwrap_or(u32::MAX)
}

/// Exit intent on a phone, where no pointer leaves through the top of the
/// window: a fast scroll back up (more than 600 px, about a screen, in
/// under 400 ms) after the shopper read at least 30 % down the page.
/// `from` and `to` are the scroll offset and the clock at the last scroll
/// and at this one.
pub fn scrolled_to_leave(from: (f64, i64), to: (f64, i64), deepest_pct: u32) -> bool {
    from.0 - to.0 > 600.0 && to.1 - from.1 < 400 && deepest_pct >= 30
}

/// What the shopper did on one page, as the widget's listeners report it,
/// on the widget's clock: the input to overlay triggers ([`PageWatch::at`])
/// and to engaged time.
pub struct PageWatch {
    /// Visible time on this page before `visible_since`, in milliseconds.
    pub visible_ms: i64,
    /// When the page last became visible, for engaged time.
    pub visible_since: Option<i64>,
    /// The shopper's last pointer, key, touch or scroll input.
    pub last_input_ms: i64,
    /// The last scroll position and when it was reached.
    pub last_scroll: (f64, i64),
    /// The deepest scroll on this page, in percent of the page height.
    pub max_scroll_pct: u32,
    /// Whether the shopper showed exit intent on this page.
    pub exit_intent: bool,
}

impl PageWatch {
    /// A page loaded at `now`, not yet visible.
    pub fn new(now: i64) -> PageWatch {
        PageWatch {
            visible_ms: 0,
            visible_since: None,
            last_input_ms: now,
            last_scroll: (0.0, 0),
            max_scroll_pct: 0,
            exit_intent: false,
        }
    }

    /// The page at `now`, for the session's trigger signals.
    pub fn at(&self, now: i64) -> PageActivity {
        PageActivity {
            visible_ms: self.visible_ms + self.visible_since.map_or(0, |since| now - since),
            idle_ms: now - self.last_input_ms,
            scroll_pct: self.max_scroll_pct,
            exit_intent: self.exit_intent,
        }
    }

    /// A new route in a single-page app: a new page, with its own scroll,
    /// visible time and exit intent.
    pub fn new_page(&mut self, now: i64) {
        self.max_scroll_pct = 0;
        self.exit_intent = false;
        self.visible_ms = 0;
        if self.visible_since.is_some() {
            self.visible_since = Some(now);
        }
    }

    /// The page scrolled to `depth` percent, `y` pixels down, at `now`:
    /// whether that was a phone's scroll away (see [`scrolled_to_leave`])
    /// and the page's first exit intent (see [`PageWatch::left`]).
    pub fn scrolled(&mut self, depth: u32, y: f64, now: i64) -> bool {
        let last = std::mem::replace(&mut self.last_scroll, (y, now));
        self.max_scroll_pct = self.max_scroll_pct.max(depth);
        self.last_input_ms = now;
        scrolled_to_leave(last, (y, now), self.max_scroll_pct) && self.left()
    }

    /// The shopper showed exit intent (the pointer left through the top
    /// edge, or a phone's scroll away): whether it is the first time on
    /// this page. Exit intent is recorded once per page.
    pub fn left(&mut self) -> bool {
        !std::mem::replace(&mut self.exit_intent, true)
    }

    /// The page became visible or hidden at `now`; when hidden, the
    /// seconds it was visible since it last became so (engaged time).
    pub fn visibility(&mut self, visible: bool, now: i64) -> Option<u32> {
        match (self.visible_since.take(), visible) {
            (Some(since), false) => {
                self.visible_ms += (now - since).max(0);
                Some(u32::try_from(((now - since) / 1000).max(0)).unwrap_or(u32::MAX))
            }
            (Some(since), true) => {
                self.visible_since = Some(since);
                None
            }
            (None, true) => {
                self.visible_since = Some(now);
                None
            }
            (None, false) => None,
        }
    }
}

impl PageSignals {
    /// The signals of `page`, with what the profile adds: the page's
    /// number in the session, and the sessions and cart items only when
    /// `personalised` (without personalisation consent no trigger may tell
    /// a returning shopper or their cart apart).
    pub fn new(page: PageActivity, profile: &Profile, personalised: bool) -> PageSignals {
        PageSignals {
            visible_seconds: seconds(page.visible_ms),
            scroll_pct: page.scroll_pct,
            idle_seconds: seconds(page.idle_ms),
            exit_intent: page.exit_intent,
            session_page_views: profile.session_views.max(1),
            sessions: if personalised { profile.sessions } else { 0 },
            cart_items: if personalised {
                profile.cart.len() as u32
            } else {
                0
            },
        }
    }
}

impl Trigger {
    /// Whether the trigger has fired, given the page's signals.
    pub fn fires(&self, s: &PageSignals) -> bool {
        match *self {
            Trigger::PageLoad => true,
            Trigger::ExitIntent => s.exit_intent,
            Trigger::Dwell { seconds } => s.visible_seconds >= seconds,
            Trigger::Scroll { percent } => s.scroll_pct >= percent,
            Trigger::Inactivity { seconds } => s.idle_seconds >= seconds,
            Trigger::NthPageView { n } => s.session_page_views == n,
            // The first page of a later session, with items still in the cart.
            Trigger::ReturningWithCart => {
                s.sessions >= 2 && s.session_page_views == 1 && s.cart_items > 0
            }
        }
    }

    /// Whether the trigger can still fire later on this page: a trigger
    /// that cannot needs no more watching.
    pub fn may_fire_later(&self, s: &PageSignals) -> bool {
        match self {
            Trigger::NthPageView { .. } | Trigger::ReturningWithCart | Trigger::PageLoad => {
                self.fires(s)
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CartLine;

    #[test]
    fn a_returning_shoppers_sessions_and_cart_count_only_with_personalisation() {
        let profile = Profile {
            sessions: 3,
            session_views: 1,
            cart: vec![CartLine {
                item: "knit-01".into(),
                price: 59000.0,
                quantity: 1,
            }],
            ..Profile::default()
        };
        let page = PageActivity {
            visible_ms: 20_999,
            idle_ms: 4_000,
            scroll_pct: 60,
            exit_intent: true,
        };
        let with = PageSignals::new(page, &profile, true);
        assert_eq!(
            with,
            PageSignals {
                visible_seconds: 20,
                scroll_pct: 60,
                idle_seconds: 4,
                exit_intent: true,
                session_page_views: 1,
                sessions: 3,
                cart_items: 1,
            }
        );
        assert!(Trigger::ReturningWithCart.fires(&with));
        let without = PageSignals::new(page, &profile, false);
        assert_eq!(
            without,
            PageSignals {
                sessions: 0,
                cart_items: 0,
                ..with
            }
        );
        assert!(!Trigger::ReturningWithCart.fires(&without));
        assert!(Trigger::ExitIntent.fires(&without));
    }

    #[test]
    fn a_fast_scroll_back_up_after_reading_down_the_page_is_exit_intent() {
        let t = 1_000_000;
        assert!(scrolled_to_leave((2000.0, t), (1300.0, t + 250), 45));
        // Slow, short, or before reading far enough: reading, not leaving.
        assert!(!scrolled_to_leave((2000.0, t), (1300.0, t + 400), 45));
        assert!(!scrolled_to_leave((2000.0, t), (1400.0, t + 250), 45));
        assert!(!scrolled_to_leave((2000.0, t), (1300.0, t + 250), 29));
        // Scrolling down is never leaving.
        assert!(!scrolled_to_leave((1300.0, t), (2000.0, t + 100), 90));
    }

    #[test]
    fn a_page_watch_counts_visible_time_idle_time_scroll_and_starts_over_on_a_new_route() {
        let t = 1_000_000;
        let mut w = PageWatch::new(t);
        assert_eq!(
            w.at(t + 5_000),
            PageActivity {
                idle_ms: 5_000,
                ..PageActivity::default()
            }
        );
        // Visible for 12.5 s, hidden, visible again for 3 s.
        assert_eq!(w.visibility(true, t), None);
        assert_eq!(
            w.visibility(true, t + 1_000),
            None,
            "still the same visible stretch"
        );
        assert_eq!(w.visibility(false, t + 12_500), Some(12));
        assert_eq!(w.visibility(false, t + 13_000), None);
        assert_eq!(w.visibility(true, t + 20_000), None);
        assert_eq!(w.at(t + 23_000).visible_ms, 15_500);
        // Reading down, then a fast scroll back up: exit intent on a phone.
        assert!(!w.scrolled(40, 2_000.0, t + 22_000));
        assert!(w.scrolled(40, 1_200.0, t + 22_200));
        let now = w.at(t + 23_000);
        assert_eq!(
            (now.scroll_pct, now.idle_ms, now.exit_intent),
            (40, 800, true)
        );
        // Exit intent counts once per page, however the shopper shows it.
        assert!(!w.scrolled(40, 2_000.0, t + 24_000));
        assert!(!w.scrolled(40, 1_000.0, t + 24_100), "a second scroll away");
        assert!(!w.left(), "the pointer leaving after the scroll away");
        // A hidden page's time since it was hidden does not count.
        let mut hidden = PageWatch::new(t);
        hidden.visibility(true, t);
        hidden.visibility(false, t + 2_000);
        assert_eq!(hidden.at(t + 60_000).visible_ms, 2_000);
        // A new route: its own scroll, time and exit intent.
        w.new_page(t + 30_000);
        let fresh = w.at(t + 31_000);
        assert_eq!(
            (fresh.visible_ms, fresh.scroll_pct, fresh.exit_intent),
            (1_000, 0, false)
        );
        assert!(w.left(), "the new route's first exit intent");
        assert!(!w.left());
        // A clock that went back never makes engaged time negative.
        let mut back = PageWatch::new(t);
        back.visibility(true, t);
        assert_eq!(back.visibility(false, t - 5_000), Some(0));
        assert_eq!(back.at(t).visible_ms, 0);
    }

    /// One thing the page's listeners report, `dt` milliseconds after the
    /// one before.
    #[derive(Debug, Clone)]
    enum Seen {
        Visible(bool),
        Scroll(u32, f64),
        Leave,
        Input,
        NewRoute,
    }

    fn seen() -> impl proptest::strategy::Strategy<Value = (i64, Seen)> {
        use proptest::prelude::*;
        let what = prop_oneof![
            any::<bool>().prop_map(Seen::Visible),
            (0u32..=100, 0.0f64..20_000.0).prop_map(|(d, y)| Seen::Scroll(d, y)),
            Just(Seen::Leave),
            Just(Seen::Input),
            Just(Seen::NewRoute),
        ];
        (0i64..5_000, what)
    }

    proptest::proptest! {
        /// On a clock that only goes forward: the visible time never
        /// exceeds the time since the page (or its route) began, engaged
        /// seconds add up to no more than the visible time, and idle time
        /// and scroll depth stay within their bounds. Exit intent is
        /// reported at most once per page, and every page that showed it
        /// reported it.
        #[test]
        fn a_page_watch_never_counts_more_time_than_passed(steps in proptest::collection::vec(seen(), 0..60)) {
            let t0 = 1_000_000;
            let mut w = PageWatch::new(t0);
            let (mut now, mut began, mut engaged_ms) = (t0, t0, 0i64);
            let mut exits = 0;
            for (dt, what) in steps {
                now += dt;
                match what {
                    Seen::Visible(v) => {
                        if let Some(s) = w.visibility(v, now) {
                            engaged_ms += i64::from(s) * 1000;
                        }
                    }
                    Seen::Scroll(depth, y) => exits += u32::from(w.scrolled(depth, y, now)),
                    Seen::Leave => exits += u32::from(w.left()),
                    Seen::Input => w.last_input_ms = now,
                    Seen::NewRoute => {
                        w.new_page(now);
                        began = now;
                        engaged_ms = 0;
                        exits = 0;
                    }
                }
                let a = w.at(now);
                proptest::prop_assert_eq!(exits, u32::from(a.exit_intent));
                proptest::prop_assert!(a.visible_ms >= 0 && a.visible_ms <= now - began, "{a:?}");
                proptest::prop_assert!(engaged_ms <= a.visible_ms.max(0) + 1, "{engaged_ms} > {a:?}");
                proptest::prop_assert!(a.idle_ms >= 0 && a.idle_ms <= now - t0);
                proptest::prop_assert!(a.scroll_pct <= 100);
            }
        }
    }

    #[test]
    fn a_clock_that_went_back_counts_no_seconds_and_the_first_page_is_one() {
        let page = PageActivity {
            visible_ms: -5_000,
            idle_ms: i64::MIN,
            ..PageActivity::default()
        };
        let s = PageSignals::new(page, &Profile::default(), true);
        assert_eq!((s.visible_seconds, s.idle_seconds), (0, 0));
        assert_eq!(s.session_page_views, 1);
        assert!(Trigger::NthPageView { n: 1 }.fires(&s));
        let long = PageActivity {
            visible_ms: i64::MAX,
            ..page
        };
        assert_eq!(
            PageSignals::new(long, &Profile::default(), true).visible_seconds,
            u32::MAX
        );
    }

    #[test]
    fn each_trigger_fires_on_its_own_signal() {
        let quiet = PageSignals {
            session_page_views: 1,
            sessions: 1,
            ..PageSignals::default()
        };
        assert!(Trigger::PageLoad.fires(&quiet));
        let cases = [
            (
                Trigger::ExitIntent,
                PageSignals {
                    exit_intent: true,
                    ..quiet
                },
            ),
            (
                Trigger::Dwell { seconds: 20 },
                PageSignals {
                    visible_seconds: 20,
                    ..quiet
                },
            ),
            (
                Trigger::Scroll { percent: 50 },
                PageSignals {
                    scroll_pct: 64,
                    ..quiet
                },
            ),
            (
                Trigger::Inactivity { seconds: 30 },
                PageSignals {
                    idle_seconds: 31,
                    ..quiet
                },
            ),
            (
                Trigger::NthPageView { n: 3 },
                PageSignals {
                    session_page_views: 3,
                    ..quiet
                },
            ),
            (
                Trigger::ReturningWithCart,
                PageSignals {
                    sessions: 2,
                    cart_items: 1,
                    ..quiet
                },
            ),
        ];
        for (trigger, signals) in cases {
            assert!(!trigger.fires(&quiet), "{trigger:?} fired on a quiet page");
            assert!(trigger.fires(&signals), "{trigger:?} did not fire");
        }
    }

    #[test]
    fn page_count_triggers_are_settled_at_load() {
        let second = PageSignals {
            session_page_views: 2,
            sessions: 3,
            cart_items: 2,
            ..PageSignals::default()
        };
        // Returning with a cart means the first page of the new session.
        assert!(!Trigger::ReturningWithCart.fires(&second));
        assert!(!Trigger::ReturningWithCart.may_fire_later(&second));
        assert!(!Trigger::NthPageView { n: 3 }.may_fire_later(&second));
        assert!(Trigger::NthPageView { n: 2 }.fires(&second));
        assert!(Trigger::Dwell { seconds: 5 }.may_fire_later(&second));
        // Without consent there is no cart and no session count.
        let anonymous = PageSignals {
            session_page_views: 1,
            ..PageSignals::default()
        };
        assert!(!Trigger::ReturningWithCart.fires(&anonymous));
    }
}
