//! Any bytes as a compact config (what the widget reads from the network
//! or storage): read, and decided with when it reads, never a panic, never
//! unbounded recursion or allocation.
#![no_main]

use dangol_engine::condition::NativeRegex;
use dangol_engine::config::compact;
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Shopper, decide_page};
use dangol_engine::ledger::Ledger;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;
use dangol_engine::wire::base64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = compact::read(&base64(data), &NativeRegex) else {
        return;
    };
    let attributes = serde_json::json!({"page": {"path": "/"}, "cart": {"items": 1}});
    let ledger = Ledger::default();
    let shopper = Shopper {
        attributes: &attributes,
        id: Some("anon0123456789abcdef"),
        consent: Consent::Granted,
        ledger: &ledger,
    };
    let placements: Vec<String> = config
        .campaigns()
        .iter()
        .flat_map(|c| c.campaign.placements.clone())
        .collect();
    let refs: Vec<&str> = placements.iter().map(String::as_str).collect();
    for d in decide_page(
        &config,
        &refs,
        &shopper,
        &Moment::utc(1_795_617_000_000),
        &mut SplitMix64::new(7),
        &NativeRegex,
    ) {
        let _ = d.to_value();
    }
});
