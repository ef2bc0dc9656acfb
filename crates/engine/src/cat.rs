//! Text made without `core::fmt`: the widget's wasm carries no formatting
//! machinery, so the engine's messages and keys that the widget reaches are
//! joined from pieces, and numbers written digit by digit.

/// The pieces, one after another.
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// `n`'s digits in `base` (10 or 16, lowercase) after `out`, with zeros in
/// front up to `width` digits.
fn put(out: &mut String, mut n: u64, base: u64, width: usize) {
    // A u64 has at most 20 decimal digits.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n > 0 || at == digits.len() {
        at -= 1;
        digits[at] = b"0123456789abcdef"[(n % base) as usize];
        n /= base;
    }
    for _ in digits.len() - at..width {
        out.push('0');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// A whole number in decimal.
pub fn int(n: i64) -> String {
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    put(&mut out, n.unsigned_abs(), 10, 0);
    out
}

/// A whole number in decimal, at least `width` digits (zeros in front).
pub fn int_padded(n: u64, width: usize) -> String {
    let mut out = String::new();
    put(&mut out, n, 10, width);
    out
}

/// An unsigned whole number in decimal.
pub fn uint(n: u64) -> String {
    int_padded(n, 0)
}

/// The whole number a string of ASCII digits (1–9 of them) spells.
pub fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// `n` in lowercase hex, at least `width` digits (zeros in front).
pub fn hex(n: u64, width: usize) -> String {
    let mut out = String::new();
    put(&mut out, n, 16, width);
    out
}

/// Where `needle` first occurs in `text`, as a byte offset (always on a
/// character boundary: a match of valid UTF-8 in valid UTF-8 starts at
/// one). A plain scan, linear for the short needles the engine looks for,
/// which keeps the Two-Way searcher of `str::find` out of the wasm.
pub fn find(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    text.as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// `text` cut at each `sep`, an ASCII byte: `str::split` with that
/// character, by a plain scan (the standard library's character searcher
/// and `memchr` stay out of the widget's wasm).
pub fn split(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let text = rest?;
        let (part, after) = match split_once(text, sep) {
            Some((part, after)) => (part, Some(after)),
            None => (text, None),
        };
        rest = after;
        Some(part)
    })
}

/// `text` before and after its first `sep`, an ASCII byte: `str::split_once`
/// with that character, by a plain scan.
pub fn split_once(text: &str, sep: u8) -> Option<(&str, &str)> {
    debug_assert!(sep.is_ascii());
    let at = text.bytes().position(|b| b == sep)?;
    Some((&text[..at], &text[at + 1..]))
}

/// `text` without the `byte`s (ASCII) at its start.
pub fn trim_start(text: &str, byte: u8) -> &str {
    debug_assert!(byte.is_ascii());
    &text[text.bytes().take_while(|&b| b == byte).count()..]
}

/// `text` without the `byte`s (ASCII) at its end.
pub fn trim_end(text: &str, byte: u8) -> &str {
    debug_assert!(byte.is_ascii());
    &text[..text.len() - text.bytes().rev().take_while(|&b| b == byte).count()]
}

/// `text` with each `from` (an ASCII byte) replaced by `to`.
pub fn replace(text: &str, from: u8, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in split(text, from).enumerate() {
        if i > 0 {
            out.push_str(to);
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_and_trimming_by_a_byte_agree_with_the_standard_library() {
        let texts = [
            "",
            ".",
            "a",
            "a.b",
            ".a.",
            "a..b",
            "한.글.날",
            "utm_source=a+b&x",
            "??q",
            "//",
            "1.500",
        ];
        for text in texts {
            for sep in ['.', '&', '=', '+', '?', '/', '0'] {
                let byte = sep as u8;
                assert_eq!(
                    split(text, byte).collect::<Vec<_>>(),
                    text.split(sep).collect::<Vec<_>>(),
                    "`{text}` split at {sep}"
                );
                assert_eq!(split_once(text, byte), text.split_once(sep), "`{text}`");
                assert_eq!(trim_start(text, byte), text.trim_start_matches(sep));
                assert_eq!(trim_end(text, byte), text.trim_end_matches(sep));
                assert_eq!(replace(text, byte, " "), text.replace(sep, " "));
            }
        }
    }

    #[test]
    fn find_agrees_with_the_standard_library() {
        let texts = ["", "a", "abc", "{{name}}", "x{{ {{y}}", "한글날 {{", "aaab"];
        let needles = ["", "a", "{{", "}}", "글날", "aab", "abcd", "b"];
        for text in texts {
            for needle in needles {
                assert_eq!(
                    find(text, needle),
                    text.find(needle),
                    "`{needle}` in `{text}`"
                );
            }
        }
    }

    #[test]
    fn numbers_read_as_format_writes_them() {
        for n in [0, 7, -7, 10, 1_000_000, i64::MAX, i64::MIN, -1] {
            assert_eq!(int(n), n.to_string());
        }
        for n in [0, 9, u64::MAX, i64::MAX as u64 + 1] {
            assert_eq!(uint(n), n.to_string());
        }
        assert_eq!(int_padded(42, 6), format!("{:06}", 42));
        assert_eq!(int_padded(1_234_567, 6), "1234567");
        for n in [0u64, 255, 0xdead_beef, u64::MAX] {
            assert_eq!(hex(n, 16), format!("{n:016x}"));
        }
        assert_eq!(hex(0, 0), "0");
        assert_eq!(hex(0xabc, 1), "abc");
        assert_eq!(int_padded(0, 0), "0");
        assert_eq!(int_padded(7, 25), format!("{:025}", 7));
        assert_eq!(cat(&["a", "", "bc"]), "abc");
        assert_eq!(digits("012"), Some(12));
        assert_eq!(digits("123456789"), Some(123_456_789));
        for bad in ["", "1x", "-1", " 1", "1234567890"] {
            assert_eq!(digits(bad), None, "{bad}");
        }
    }
}
