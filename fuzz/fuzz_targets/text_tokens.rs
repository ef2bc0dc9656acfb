//! Any template and any declared values through the text tokens: never a
//! panic, a template without `{{` comes back unchanged, and no token is
//! expanded twice (a value that looks like a token stays as typed, less
//! control characters).
#![no_main]

use dangol_engine::text::{PlainNumbers, fill, has_tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (template, value) = text
        .split_once('\0')
        .unwrap_or((&text, "{{declared.name}}"));
    let attrs = dangol_engine::json!({
        "declared": {"name": value, "points": value.len()},
        "cart": {"value": 59000.5, "items": 2}
    });
    for currency in [None, Some("KRW"), Some("USD"), Some("XYZ")] {
        let out = fill(template, &attrs, currency, &PlainNumbers);
        if !has_tokens(template) {
            assert_eq!(out, template);
        }
        if template == "{{declared.name}}" {
            // As typed, less control characters, at most 200 characters;
            // blank is no value.
            let expected: String = value.chars().filter(|c| !c.is_control()).take(200).collect();
            let expected = if expected.trim().is_empty() {
                String::new()
            } else {
                expected
            };
            assert_eq!(out, expected, "a value is inserted once, as typed");
        }
    }
});
