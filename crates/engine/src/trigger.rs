//! When an overlay opens: the config's [`Trigger`]s checked against what
//! the widget observed on the page. The widget gathers the signals
//! (visible time, scroll depth, idle time, exit intent) and asks here; the
//! rule itself lives in the engine so it is tested natively.

use crate::config::Trigger;

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
