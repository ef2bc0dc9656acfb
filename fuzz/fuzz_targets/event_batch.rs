//! Any text as an event batch, as the server reads it: never a panic, and
//! every accepted event passes the privacy check and round-trips.
#![no_main]

use dangol_engine::event::parse_batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let now = 1_795_617_000_000;
    if let Ok(events) = parse_batch(&value, now) {
        for event in events.into_iter().flatten() {
            assert!(
                event.check(now).is_ok(),
                "an accepted event fails its own check"
            );
            let again = serde_json::json!({"events": [event.to_value()]});
            let back = parse_batch(&again, now).expect("a batch of one accepted event");
            assert_eq!(back.len(), 1);
            assert_eq!(back[0].as_ref().ok(), Some(&event), "the event round-trips");
        }
    }
});
