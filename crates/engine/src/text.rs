//! Text tokens in offer copy: `{{declared.name | "there"}}`,
//! `{{cart.value}}`, `{{declared.points | number}}`.
//!
//! A token names an attribute path (the same contract conditions see, see
//! [`crate::attributes`]), then optional filters separated by `|`:
//!
//! - `"text"`: the fallback when the attribute is missing, `null` or empty;
//! - `number`: a number with the locale's grouping (`1,200`);
//! - `currency`: an amount in the site's currency (`₩59,000`, `$12.50`).
//!
//! Money attributes (`cart.value`, `revenue`, `aov`) are formatted as
//! currency without asking; other numbers get the locale's grouping.
//!
//! The result is always plain text: it is written with `textContent`, never
//! parsed as HTML. Substitution is a single pass, so a value that itself
//! contains `{{…}}` is shown as typed and never expanded. A token that is
//! not closed stays as it was written; a missing attribute without a
//! fallback becomes empty text.

use crate::json::Value;

/// Formats numbers for the shopper's locale. The widget uses the
/// browser's `Intl.NumberFormat`; [`PlainNumbers`] serves native builds
/// and tests.
pub trait NumberFormat {
    /// `n` with the locale's grouping and at most two decimals.
    fn number(&self, n: f64) -> String;
    /// `n` as an amount of `currency` (ISO 4217, e.g. `KRW`).
    fn currency(&self, n: f64, currency: &str) -> String;
}

/// Attribute paths that hold money.
const MONEY: &[&str] = &["cart.value", "revenue", "aov"];

/// Longest text a token may produce; longer values are cut.
const MAX_VALUE_CHARS: usize = 200;

/// Fills the tokens of `template` from `attributes`. `currency` is the
/// site's currency; without one, amounts are plain grouped numbers.
pub fn fill(
    template: &str,
    attributes: &Value,
    currency: Option<&str>,
    fmt: &dyn NumberFormat,
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = crate::cat::find(rest, "{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = crate::cat::find(after, "}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&token(&after[..end], attributes, currency, fmt));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Whether `template` has any token, so callers can skip the work.
pub fn has_tokens(template: &str) -> bool {
    crate::cat::find(template, "{{").is_some()
}

fn token(body: &str, attributes: &Value, currency: Option<&str>, fmt: &dyn NumberFormat) -> String {
    let mut parts = split_filters(body).into_iter();
    let path = parts.next().unwrap_or_default().trim_ascii();
    let mut value = lookup(attributes, path);
    // Text shows without control characters, at most 200 characters of it;
    // what is blank then is no value (the fallback shows).
    let shown: String;
    if let Value::String(s) = value {
        shown = s
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_VALUE_CHARS)
            .collect();
        if shown.chars().all(char::is_whitespace) {
            value = &Value::Null;
        }
    } else {
        shown = String::new();
    }
    let mut style = if MONEY.contains(&path) {
        Style::Currency
    } else {
        Style::Number
    };
    let mut fallback = None;
    for filter in parts {
        let filter = filter.trim_ascii();
        match filter {
            "number" => style = Style::Number,
            "currency" => style = Style::Currency,
            quoted if quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"') => {
                fallback = Some(&quoted[1..quoted.len() - 1]);
            }
            _ => {}
        }
    }
    let text = match value {
        Value::String(_) => shown,
        Value::Number(n) => match (n.as_f64(), style, currency) {
            (Some(x), Style::Currency, Some(code)) => fmt.currency(x, code),
            (Some(x), _, _) => fmt.number(x),
            (None, _, _) => String::new(),
        },
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        _ => fallback.unwrap_or_default().to_string(),
    };
    clip(text)
}

#[derive(Clone, Copy)]
enum Style {
    Number,
    Currency,
}

/// Splits on `|` outside double quotes, so a fallback may contain `|`.
fn split_filters(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut from = 0;
    // Bytes: `"` and `|` are ASCII, never part of another character.
    for (i, c) in body.bytes().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'|' if !quoted => {
                parts.push(&body[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[from..]);
    parts
}

fn lookup<'v>(attributes: &'v Value, path: &str) -> &'v Value {
    const NULL: Value = Value::Null;
    if path.is_empty() {
        return &NULL;
    }
    let mut current = attributes;
    for part in crate::cat::split(path, b'.') {
        match crate::condition::step(current, part) {
            Some(next) => current = next,
            None => return &NULL,
        }
    }
    match current {
        Value::Object(_) | Value::Array(_) => &NULL,
        v => v,
    }
}

fn clip(mut text: String) -> String {
    // Where character MAX_VALUE_CHARS starts: the bytes that start one.
    let mut starts = text.bytes().enumerate().filter(|(_, b)| b & 0xc0 != 0x80);
    if let Some((cut, _)) = starts.nth(MAX_VALUE_CHARS) {
        text.truncate(cut);
    }
    text
}

/// Grouped numbers for native builds and tests: `,` groups of three and
/// `.` decimals, and the symbols of common currencies (`₩`, `$`, `€`,
/// `¥`, `£`); other currencies are shown with their code.
pub struct PlainNumbers;

impl NumberFormat for PlainNumbers {
    fn number(&self, n: f64) -> String {
        grouped(n, 2, true)
    }

    fn currency(&self, n: f64, currency: &str) -> String {
        let (symbol, decimals) = match currency {
            "KRW" => ("₩", 0),
            "JPY" => ("¥", 0),
            "USD" => ("$", 2),
            "EUR" => ("€", 2),
            "GBP" => ("£", 2),
            other => return format!("{} {other}", grouped(n, 2, false)),
        };
        let sign = if n < 0.0 { "-" } else { "" };
        format!("{sign}{symbol}{}", grouped(n.abs(), decimals, false))
    }
}

/// `n` rounded to `decimals` places, with `,` between groups of three;
/// with `trim`, trailing zeros of the fraction are dropped.
fn grouped(n: f64, decimals: u32, trim: bool) -> String {
    if !n.is_finite() {
        return String::new();
    }
    let scale = 10f64.powi(decimals as i32);
    let scaled = (n.abs() * scale).round();
    let whole = (scaled / scale).trunc() as u64;
    let frac = (scaled - whole as f64 * scale) as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    if n < 0.0 && scaled > 0.0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let mut f = if decimals == 0 {
        String::new()
    } else {
        format!("{frac:0width$}", width = decimals as usize)
    };
    while trim && f.ends_with('0') {
        f.pop();
    }
    if !f.is_empty() {
        out.push('.');
        out.push_str(&f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn attrs() -> Value {
        json!({
            "declared": {"name": "Minji", "points": 1200, "blank": "  ", "tricky": "{{declared.points}}",
                         "html": "<img src=x onerror=alert(1)>"},
            "cart": {"value": 59000.0, "items": 2},
            "aov": 12.5
        })
    }

    fn fill_krw(t: &str) -> String {
        fill(t, &attrs(), Some("KRW"), &PlainNumbers)
    }

    /// The value a declared name shows as, by the rule: control characters
    /// dropped, the first 200 characters kept, and blank (only whitespace)
    /// is no value (the fallback shows).
    fn shown(value: &str) -> String {
        fill(
            "{{declared.name | \"friend\"}}",
            &json!({"declared": {"name": value}}),
            None,
            &PlainNumbers,
        )
    }

    #[test]
    fn control_characters_never_reach_an_offer_and_a_blank_name_is_no_name() {
        // Found by the `text_tokens` fuzz target: 200 form feeds and a
        // letter. Clipped, only the form feeds were left, shown as a name.
        let crash = format!("{}x", "\u{c}".repeat(200));
        assert_eq!(shown(&crash), "x");
        assert_eq!(shown(&"\u{c}".repeat(200)), "friend");
        assert_eq!(shown(&format!("{}x", " ".repeat(200))), "friend");
        assert_eq!(shown("Min\u{0}ji\u{7}"), "Minji");
        assert_eq!(shown("Min\nji"), "Minji");
        assert_eq!(shown(" Minji "), " Minji ");
        // A fallback is clipped to 200 characters too, not bytes.
        let template = format!("{{{{declared.nick | \"{}\"}}}}", "한".repeat(250));
        let long = fill(&template, &json!({}), None, &PlainNumbers);
        assert_eq!(long, "한".repeat(200));
        // The replayed fuzz input, through the target's own oracle.
        let case = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/regressions/text_tokens/form-feeds-then-a-letter"
        ))
        .unwrap();
        let text = String::from_utf8_lossy(&case);
        let (template, value) = text.split_once('\0').unwrap();
        assert_eq!(template, "{{declared.name}}");
        let out = fill(
            template,
            &json!({"declared": {"name": value}}),
            None,
            &PlainNumbers,
        );
        assert_eq!(out, "x");
    }

    #[test]
    fn tokens_take_attributes_and_fallbacks() {
        assert_eq!(fill_krw("Hi {{declared.name | \"there\"}}!"), "Hi Minji!");
        assert_eq!(fill_krw("Hi {{declared.nick | \"there\"}}!"), "Hi there!");
        assert_eq!(fill_krw("Hi {{declared.blank|\"there\"}}!"), "Hi there!");
        assert_eq!(fill_krw("Hi {{ declared.nick }}!"), "Hi !");
        assert_eq!(fill_krw("{{declared.nick | \"a | b\"}}"), "a | b");
        // A value of only white space, ideographic or not, is no value.
        let spaces = json!({"declared": {"name": "\u{3000}\u{a0} "}});
        let greeting = fill(
            "Hi {{declared.name | \"there\"}}!",
            &spaces,
            None,
            &PlainNumbers,
        );
        assert_eq!(greeting, "Hi there!");
        // A number in the path reaches a list's element.
        let list = json!({"bought_a_year_ago": ["swimwear", "coat"]});
        let first = fill("{{bought_a_year_ago.0}}", &list, None, &PlainNumbers);
        assert_eq!(first, "swimwear");
        let third = fill(
            "{{bought_a_year_ago.2 | \"x\"}}",
            &list,
            None,
            &PlainNumbers,
        );
        assert_eq!(third, "x");
    }

    #[test]
    fn numbers_and_money_are_formatted() {
        assert_eq!(fill_krw("{{declared.points}} points"), "1,200 points");
        assert_eq!(fill_krw("Cart: {{cart.value}}"), "Cart: ₩59,000");
        assert_eq!(fill_krw("{{cart.items}} items"), "2 items");
        assert_eq!(
            fill("{{aov}}", &attrs(), Some("USD"), &PlainNumbers),
            "$12.50"
        );
        assert_eq!(
            fill(
                "{{cart.value | number}}",
                &attrs(),
                Some("USD"),
                &PlainNumbers
            ),
            "59,000"
        );
        assert_eq!(
            fill("{{cart.value}}", &attrs(), None, &PlainNumbers),
            "59,000"
        );
        assert_eq!(
            fill(
                "{{declared.points | currency}}",
                &attrs(),
                Some("EUR"),
                &PlainNumbers
            ),
            "€1,200.00"
        );
        assert_eq!(grouped(1234567.891, 2, true), "1,234,567.89");
        assert_eq!(grouped(-1000.0, 0, true), "-1,000");
        assert_eq!(grouped(0.004, 2, true), "0");
        assert_eq!(grouped(3.1, 2, false), "3.10");
        assert_eq!(grouped(f64::NAN, 2, true), "");
    }

    #[test]
    fn values_are_never_expanded_twice_and_stay_text() {
        // A declared value that looks like a token is shown as typed.
        assert_eq!(fill_krw("Hi {{declared.tricky}}"), "Hi {{declared.points}}");
        // Markup is just characters; rendering writes textContent.
        assert_eq!(
            fill_krw("{{declared.html}}"),
            "<img src=x onerror=alert(1)>"
        );
    }

    #[test]
    fn broken_tokens_stay_as_written() {
        assert_eq!(fill_krw("50% {{off"), "50% {{off");
        assert_eq!(fill_krw("{{}}x"), "x");
        assert_eq!(fill_krw("{{{{declared.name}}}}"), "}}");
        assert_eq!(fill_krw("{{declared}}"), "");
        assert_eq!(fill_krw("no tokens"), "no tokens");
        assert!(!has_tokens("no tokens"));
    }

    #[test]
    fn long_values_are_cut() {
        let a = json!({"declared": {"name": "가".repeat(500)}});
        let out = fill("{{declared.name}}", &a, None, &PlainNumbers);
        assert_eq!(out.chars().count(), MAX_VALUE_CHARS);
    }
}
