//! Any text as a site config: parsed, compiled, written in the compact form
//! and read back, and decided with, never a panic; every problem is
//! reported, not thrown.
#![no_main]

use dangol_engine::condition::NativeRegex;
use dangol_engine::config::{SiteConfig, compact};
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Shopper, decide_page};
use dangol_engine::ledger::Ledger;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(config) = SiteConfig::from_json(&text).and_then(|c| c.compile(&NativeRegex)) else {
        return;
    };
    // Whatever compiles, the widget reads back from the compact form.
    let text = compact::write(&config, "l1");
    let config = match compact::read(&text, &NativeRegex) {
        Ok(back) => back,
        Err(e) => panic!("a compiled config does not read back: {e}"),
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
        .chain(config.config().placements.iter().map(|p| p.id.clone()))
        .collect();
    let refs: Vec<&str> = placements.iter().map(String::as_str).collect();
    let decisions = decide_page(
        &config,
        &refs,
        &shopper,
        &Moment::utc(1_795_617_000_000),
        &mut SplitMix64::new(7),
        &NativeRegex,
    );
    for d in decisions {
        let _ = d.to_value();
    }
});
