//! Consent: what the widget may do with what it knows about the shopper.

use serde::{Deserialize, Serialize};

use crate::json::Value;

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

/// The two purposes a shopper consents to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purposes {
    /// Keep the profile and use behaviour in decisions.
    pub personalisation: Consent,
    /// Send events to the shop's server.
    pub measurement: Consent,
}

impl Purposes {
    /// Both purposes with one answer.
    pub fn both(answer: Consent) -> Self {
        Self {
            personalisation: answer,
            measurement: answer,
        }
    }

    /// May anything be written to storage (the choice and the id)?
    pub fn may_store_anything(self) -> bool {
        self.personalisation.may_store() || self.measurement.may_store()
    }

    /// The stored form of the shop's own choice, e.g. `p=granted;m=denied`.
    pub fn encode(self) -> String {
        crate::cat::cat(&[
            "p=",
            self.personalisation.as_str(),
            ";m=",
            self.measurement.as_str(),
        ])
    }

    /// Reads [`Purposes::encode`]; the older single word applies to both.
    pub fn decode(text: Option<&str>) -> Self {
        let Some(text) = text else {
            return Self::default();
        };
        let mut out = Self::both(Consent::parse(Some(text)));
        for part in crate::cat::split(text, b';') {
            match crate::cat::split_once(part, b'=') {
                Some(("p", v)) => out.personalisation = Consent::parse(Some(v)),
                Some(("m", v)) => out.measurement = Consent::parse(Some(v)),
                _ => {}
            }
        }
        out
    }
}

/// What each consent source says; `None` where a source is absent or
/// has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Signals {
    /// The shop's own `dangol.consent.grant()` / `deny()`.
    pub own: Option<Purposes>,
    /// IAB TCF v2.2 through `__tcfapi`.
    pub tcf: Option<Purposes>,
    /// Google Consent Mode v2 (`personalization_storage`, `analytics_storage`).
    pub consent_mode: Option<Purposes>,
    /// Global Privacy Control (`navigator.globalPrivacyControl`).
    pub gpc: bool,
}

/// Combines the sources. Precedence, highest first:
/// 1. the shop's own call (the shop speaks for itself);
/// 2. IAB TCF v2.2, when a CMP has answered;
/// 3. Google Consent Mode v2;
/// 4. otherwise unknown: contextual decisions only, nothing stored or sent.
///
/// Global Privacy Control then overrides measurement: when the browser sends
/// it, nothing is sent, whatever else says yes.
pub fn resolve(signals: &Signals) -> Purposes {
    let mut purposes = signals
        .own
        .or(signals.tcf)
        .or(signals.consent_mode)
        .unwrap_or_default();
    if signals.gpc {
        purposes.measurement = Consent::Denied;
    }
    purposes
}

/// TCF v2.2 purpose consents (index = purpose number) to dangol's purposes:
/// purposes 1, 5 and 6 → personalisation; 1 and 8 → measurement.
pub fn from_tcf(consented: impl Fn(u8) -> bool) -> Purposes {
    let answer = |yes: bool| {
        if yes {
            Consent::Granted
        } else {
            Consent::Denied
        }
    };
    Purposes {
        personalisation: answer(consented(1) && consented(5) && consented(6)),
        measurement: answer(consented(1) && consented(8)),
    }
}

/// What `dangol.consent.grant(purposes)` grants: both purposes without a
/// list (`None`), else exactly those it names, the others refused. Each
/// name the widget does not know goes to `unknown` (a name, or `(not a
/// string)`) and the rest of the list still counts; a list that is not an
/// array drops the call.
pub fn granted(
    purposes: Option<&Value>,
    mut unknown: impl FnMut(&str),
) -> Result<Purposes, &'static str> {
    let Some(purposes) = purposes else {
        return Ok(Purposes::both(Consent::Granted));
    };
    let names = purposes
        .as_array()
        .ok_or("purposes must be an array of names; the call was dropped")?;
    let mut chosen = Purposes::both(Consent::Denied);
    for name in names {
        match name.as_str() {
            Some("personalisation") => chosen.personalisation = Consent::Granted,
            Some("measurement") => chosen.measurement = Consent::Granted,
            other => unknown(other.unwrap_or("(not a string)")),
        }
    }
    Ok(chosen)
}

/// A consent manager's `tcData` (TCF v2.2, from `__tcfapi`'s
/// `addEventListener`), read field by field: `event_status` and
/// `gdpr_applies` as given, whether `publisher.consents` lists any purpose,
/// and `consented(publisher, n)`: purpose `n` in `publisher.consents`
/// (`true`) or in `purpose.consents` (`false`).
///
/// `None` while the manager has not answered for this shopper (any status
/// but `tcloaded` or `useractioncomplete`, such as `cmpuishown`) or when
/// GDPR does not apply: no signal then. dangol acts for the shop itself,
/// the publisher, so the publisher's consents count, and the vendor-facing
/// purpose consents where the manager lists none for the publisher.
pub fn from_tc_data(
    event_status: &str,
    gdpr_applies: Option<bool>,
    publisher_listed: bool,
    consented: impl Fn(bool, u8) -> bool,
) -> Option<Purposes> {
    if !matches!(event_status, "tcloaded" | "useractioncomplete") || gdpr_applies == Some(false) {
        return None;
    }
    Some(from_tcf(|n| consented(publisher_listed, n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_call_grants_what_it_lists_and_refuses_the_rest() {
        use crate::json;
        let grant = |v: Option<Value>| {
            let mut unknown = Vec::new();
            granted(v.as_ref(), |name| unknown.push(name.to_string())).map(|p| (p, unknown))
        };
        let yes = Purposes::both(Consent::Granted);
        let no = Purposes::both(Consent::Denied);
        let measurement_only = Purposes {
            personalisation: Consent::Denied,
            measurement: Consent::Granted,
        };
        assert_eq!(grant(None), Ok((yes, vec![])));
        assert_eq!(
            grant(Some(json!(["measurement"]))),
            Ok((measurement_only, vec![]))
        );
        assert_eq!(
            grant(Some(json!(["personalisation", "measurement"]))),
            Ok((yes, vec![]))
        );
        // An empty list grants nothing: both purposes refused.
        assert_eq!(grant(Some(json!([]))), Ok((no, vec![])));
        // Unknown names are reported; the known ones still count.
        assert_eq!(
            grant(Some(json!(["ads", "measurement", 7]))),
            Ok((
                measurement_only,
                vec!["ads".to_string(), "(not a string)".to_string()]
            ))
        );
        // Not a list: the call is dropped, with the reason.
        for bad in [json!("measurement"), json!({"measurement": true})] {
            let e = grant(Some(bad)).unwrap_err();
            assert!(e.contains("array of names"), "{e}");
        }
    }

    #[test]
    fn a_consent_manager_counts_once_it_answered_and_the_publishers_own_consents_first() {
        let publisher = [1, 5, 6];
        let purpose = [1, 8];
        let tc = |publisher_listed: bool| {
            move |p: bool, n: u8| {
                assert_eq!(p, publisher_listed, "read from the other list");
                if p {
                    publisher.contains(&n)
                } else {
                    purpose.contains(&n)
                }
            }
        };
        let personalised = Purposes {
            personalisation: Consent::Granted,
            measurement: Consent::Denied,
        };
        let measured = Purposes {
            personalisation: Consent::Denied,
            measurement: Consent::Granted,
        };
        for status in ["tcloaded", "useractioncomplete"] {
            assert_eq!(
                from_tc_data(status, Some(true), true, tc(true)),
                Some(personalised)
            );
            assert_eq!(
                from_tc_data(status, None, true, tc(true)),
                Some(personalised)
            );
            assert_eq!(
                from_tc_data(status, Some(true), false, tc(false)),
                Some(measured)
            );
        }
        // Still asking the shopper, or a status no version defines.
        for status in ["cmpuishown", "", "TCLOADED"] {
            assert_eq!(from_tc_data(status, Some(true), true, tc(true)), None);
        }
        // GDPR does not apply: the manager says nothing about this shopper.
        assert_eq!(from_tc_data("tcloaded", Some(false), true, tc(true)), None);
        // Nothing consented at all is a refusal, not silence.
        assert_eq!(
            from_tc_data("useractioncomplete", Some(true), false, |_, _| false),
            Some(Purposes::both(Consent::Denied))
        );
    }

    #[test]
    fn the_shops_own_call_wins_then_tcf_then_consent_mode() {
        let yes = Purposes::both(Consent::Granted);
        let no = Purposes::both(Consent::Denied);
        let all = Signals {
            own: Some(no),
            tcf: Some(yes),
            consent_mode: Some(yes),
            gpc: false,
        };
        assert_eq!(resolve(&all), no);
        assert_eq!(resolve(&Signals { own: None, ..all }), yes);
        assert_eq!(
            resolve(&Signals {
                own: None,
                tcf: None,
                consent_mode: Some(no),
                gpc: false
            }),
            no
        );
        assert_eq!(resolve(&Signals::default()), Purposes::default());
    }

    #[test]
    fn gpc_turns_measurement_off_whatever_else_says() {
        let signals = Signals {
            own: Some(Purposes::both(Consent::Granted)),
            gpc: true,
            ..Signals::default()
        };
        let p = resolve(&signals);
        assert_eq!(
            (p.personalisation, p.measurement),
            (Consent::Granted, Consent::Denied)
        );
    }

    #[test]
    fn tcf_purposes_map_to_personalisation_and_measurement() {
        let p = from_tcf(|n| [1, 5, 6].contains(&n));
        assert_eq!(
            (p.personalisation, p.measurement),
            (Consent::Granted, Consent::Denied)
        );
        let m = from_tcf(|n| [1, 8].contains(&n));
        assert_eq!(
            (m.personalisation, m.measurement),
            (Consent::Denied, Consent::Granted)
        );
        let none = from_tcf(|n| n != 1);
        assert_eq!(none, Purposes::both(Consent::Denied));
    }

    #[test]
    fn the_stored_choice_round_trips() {
        let p = Purposes {
            personalisation: Consent::Granted,
            measurement: Consent::Denied,
        };
        assert_eq!(p.encode(), "p=granted;m=denied");
        assert_eq!(Purposes::decode(Some(&p.encode())), p);
        assert_eq!(
            Purposes::decode(Some("granted")),
            Purposes::both(Consent::Granted)
        );
        assert_eq!(Purposes::decode(None), Purposes::default());
    }

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
