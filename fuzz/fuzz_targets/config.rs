//! Any text as a site config: parsed, compiled, written in the compact form
//! and read back, and decided with, never a panic; every problem is
//! reported, not thrown.
#![no_main]

use dangol_engine::condition::NativeRegex;
use dangol_engine::config::{SiteConfig, compact};
use libfuzzer_sys::fuzz_target;

#[path = "decide_everywhere.rs"]
mod decide_everywhere;

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
    decide_everywhere::decide_everywhere(&config);
});
