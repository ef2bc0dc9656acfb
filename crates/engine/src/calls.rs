//! The calls the loader makes into the widget's one `call` export,
//! numbered: the page API (`window.dangol`) and the loader's own reports
//! (a request's answer, a page signal, an action on an offer). A number
//! rather than a name keeps the names and the comparisons between them
//! out of the wasm. The build writes [`NAMES`] into the loader in place of
//! `"DANGOL_CALLS"`, and the loader calls `call(NAMES.indexOf(name), …)`;
//! the widget matches the constants below.

/// The calls by name, each at its number.
pub const NAMES: [&str; 19] = [
    "grant",
    "deny",
    "consentStatus",
    "consentPurposes",
    "decisions",
    "track",
    "dataLayer",
    "consentMode",
    "set",
    "export",
    "navigate",
    "forget",
    "identify",
    "on",
    "refresh",
    "destroy",
    "answer",
    "page",
    "offer",
];

/// `dangol.consent.grant(purposes?)`.
pub const GRANT: u32 = 0;
/// `dangol.consent.deny()`.
pub const DENY: u32 = 1;
/// `dangol.consent.status()`.
pub const CONSENT_STATUS: u32 = 2;
/// `dangol.consent.purposes()`.
pub const CONSENT_PURPOSES: u32 = 3;
/// `dangol.decisions()`.
pub const DECISIONS: u32 = 4;
/// `dangol.track(name, props)`.
pub const TRACK: u32 = 5;
/// A GA4 event the loader copied out of `dataLayer`.
pub const DATA_LAYER: u32 = 6;
/// A Google Consent Mode call the loader read from `dataLayer`.
pub const CONSENT_MODE: u32 = 7;
/// `dangol.set(attributes)`.
pub const SET: u32 = 8;
/// `dangol.export()`.
pub const EXPORT: u32 = 9;
/// A single-page app changed its route.
pub const NAVIGATE: u32 = 10;
/// `dangol.forget()`.
pub const FORGET: u32 = 11;
/// `dangol.identify(customer, proof)`.
pub const IDENTIFY: u32 = 12;
/// `dangol.on(name, callback)`.
pub const ON: u32 = 13;
/// `dangol.refresh()`.
pub const REFRESH: u32 = 14;
/// `dangol.destroy()`.
pub const DESTROY: u32 = 15;
/// The loader's answer to a request: `(id, value)`.
pub const ANSWER: u32 = 16;
/// One of the page's signals: `(kind, value)`.
pub const PAGE: u32 = 17;
/// An action on an offer: `(handle, [code, arg])`.
pub const OFFER: u32 = 18;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_numbered_by_its_place_in_the_names() {
        let numbered = [
            (GRANT, "grant"),
            (DENY, "deny"),
            (CONSENT_STATUS, "consentStatus"),
            (CONSENT_PURPOSES, "consentPurposes"),
            (DECISIONS, "decisions"),
            (TRACK, "track"),
            (DATA_LAYER, "dataLayer"),
            (CONSENT_MODE, "consentMode"),
            (SET, "set"),
            (EXPORT, "export"),
            (NAVIGATE, "navigate"),
            (FORGET, "forget"),
            (IDENTIFY, "identify"),
            (ON, "on"),
            (REFRESH, "refresh"),
            (DESTROY, "destroy"),
            (ANSWER, "answer"),
            (PAGE, "page"),
            (OFFER, "offer"),
        ];
        assert_eq!(numbered.len(), NAMES.len());
        for (number, name) in numbered {
            assert_eq!(NAMES[number as usize], name);
        }
    }
}
