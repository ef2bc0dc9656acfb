//! Shared by the config targets: decides every placement a config names for
//! a consenting shopper and turns each decision into JSON.

use dangol_engine::condition::NativeRegex;
use dangol_engine::config::CompiledConfig;
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Shopper, decide_page};
use dangol_engine::ledger::Ledger;
use dangol_engine::random::SplitMix64;
use dangol_engine::time::Moment;

pub fn decide_everywhere(config: &CompiledConfig) {
    let attributes = dangol_engine::json!({"page": {"path": "/"}, "cart": {"items": 1}});
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
        config,
        &refs,
        &shopper,
        &Moment::utc(1_795_617_000_000),
        &mut SplitMix64::new(7),
        &NativeRegex,
    );
    for d in decisions {
        let _ = d.to_value();
    }
}
