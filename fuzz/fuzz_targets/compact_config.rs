//! Any bytes as a compact config (what the widget reads from the network
//! or storage): read, and decided with when it reads, never a panic, never
//! unbounded recursion or allocation.
#![no_main]

use dangol_engine::condition::NativeRegex;
use dangol_engine::config::compact;
use dangol_engine::wire::base64;
use libfuzzer_sys::fuzz_target;

#[path = "decide_everywhere.rs"]
mod decide_everywhere;

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = compact::read(&base64(data), &NativeRegex) {
        decide_everywhere::decide_everywhere(&config);
    }
});
