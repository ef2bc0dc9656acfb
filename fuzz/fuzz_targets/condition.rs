//! Any JSON as a condition, compiled and evaluated against any attributes:
//! never a panic, and a condition that compiled evaluates to a plain bool.
#![no_main]

use dangol_engine::condition::{Condition, NativeRegex};
use libfuzzer_sys::fuzz_target;
use dangol_engine::json::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // "condition\0attributes"
    let (cond, attrs) = text.split_once('\0').unwrap_or((&text, "{}"));
    let Ok(cond) = serde_json::from_str::<Value>(cond) else {
        return;
    };
    let attrs = serde_json::from_str::<Value>(attrs).unwrap_or(Value::Null);
    let groups = dangol_engine::json!({"g": [1, "a", true]});
    if let Ok(c) = Condition::compile(&cond, &NativeRegex) {
        let _ = c.eval(&attrs, &groups, &NativeRegex);
        let _ = c.paths();
    }
    let lenient = Condition::compile_lenient(&cond, &NativeRegex);
    let _ = lenient.eval(&attrs, &groups, &NativeRegex);
});
