//! Any bytes as a stored profile (what any script on the shop's origin
//! could leave in localStorage): read as the widget reads it, never a
//! panic; what reads keeps the profile's bounds and round-trips.
#![no_main]

use dangol_engine::profile::Profile;
use dangol_engine::wire::base64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = base64(data);
    if let Some(profile) = Profile::from_text(&text) {
        assert!(profile.categories.len() <= 12 && profile.cart.len() <= 20);
        assert!(profile.revenue.is_finite());
        assert_eq!(
            Profile::from_text(&profile.to_text()).as_ref(),
            Some(&profile),
            "a profile read round-trips"
        );
    }
    // And as text, not base64 at all.
    if let Ok(raw) = std::str::from_utf8(data) {
        let _ = Profile::from_text(raw);
    }
});
