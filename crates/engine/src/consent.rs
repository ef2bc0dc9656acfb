//! Consent: what the widget may do with what it knows about the shopper.

use serde::{Deserialize, Serialize};

/// The shopper's choice, as far as the widget knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// No choice yet: decide from the current page only; store and send nothing.
    #[default]
    Unknown,
    /// Personalisation and measurement allowed.
    Granted,
    /// Refused or withdrawn: store and send nothing, and wipe what was kept.
    Denied,
}

impl Consent {
    /// May the widget write to the browser's storage?
    pub fn may_store(self) -> bool {
        self == Consent::Granted
    }

    /// May events about the shopper leave the browser?
    pub fn may_send(self) -> bool {
        self == Consent::Granted
    }

    /// Must pending events be thrown away rather than kept for later?
    pub fn must_discard(self) -> bool {
        self == Consent::Denied
    }

    /// The stable name used in storage and in the JS API.
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::Unknown => "unknown",
            Consent::Granted => "granted",
            Consent::Denied => "denied",
        }
    }

    /// Reads what [`Consent::as_str`] wrote; anything else is `Unknown`.
    pub fn parse(text: Option<&str>) -> Self {
        match text {
            Some("granted") => Consent::Granted,
            Some("denied") => Consent::Denied,
            _ => Consent::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_consent_stores_or_sends() {
        assert!(!Consent::Unknown.may_store() && !Consent::Unknown.may_send());
        assert!(!Consent::Denied.may_store() && !Consent::Denied.may_send());
        assert!(Consent::Granted.may_store() && Consent::Granted.may_send());
    }

    #[test]
    fn unknown_keeps_pending_events_and_denied_discards_them() {
        assert!(!Consent::Unknown.must_discard());
        assert!(Consent::Denied.must_discard());
    }

    #[test]
    fn the_stored_name_round_trips_and_junk_is_unknown() {
        for c in [Consent::Unknown, Consent::Granted, Consent::Denied] {
            assert_eq!(Consent::parse(Some(c.as_str())), c);
        }
        assert_eq!(Consent::parse(Some("yes")), Consent::Unknown);
        assert_eq!(Consent::parse(None), Consent::Unknown);
    }
}
