//! Targeting conditions in GrowthBook's MongoDB-style JSON language.
//!
//! The meaning follows GrowthBook's documented semantics, with strict types:
//! a number never equals a string and booleans are not ordered against
//! numbers. A missing attribute is `null`, `{}` matches everything, an
//! unknown operator never matches and an invalid regex never matches.
//!
//! Regular expressions go through [`RegexEngine`] so the widget can use the
//! browser's own `RegExp` (JavaScript semantics, no regex engine in the
//! wasm), while native builds use the `regex` crate.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Matches a pattern against a text. Returns `None` when the pattern is not a
/// valid regular expression (such a condition never matches).
pub trait RegexEngine {
    /// Does `pattern` match anywhere in `text`?
    fn is_match(&self, pattern: &str, text: &str, case_insensitive: bool) -> Option<bool>;

    /// Lower-cases text for the case-insensitive operators (`$ini`,
    /// `$nini`, `$alli`). The widget uses JavaScript's `toLowerCase`, which
    /// GrowthBook's semantics assume and which spares the wasm Rust's
    /// Unicode case tables.
    fn lowercase(&self, text: &str) -> String {
        text.to_lowercase()
    }
}

/// A regex engine that knows no patterns: every `$regex` is treated as
/// invalid and so never matches. Useful where no regex is expected.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRegex;

impl RegexEngine for NoRegex {
    fn is_match(&self, _pattern: &str, _text: &str, _case_insensitive: bool) -> Option<bool> {
        None
    }
}

/// The `regex` crate, for native builds.
#[cfg(feature = "native-regex")]
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeRegex;

#[cfg(feature = "native-regex")]
impl RegexEngine for NativeRegex {
    fn is_match(&self, pattern: &str, text: &str, case_insensitive: bool) -> Option<bool> {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .build()
            .ok()
            .map(|re| re.is_match(text))
    }
}

/// Evaluates `condition` against `attributes` with the native regex engine.
///
/// `saved_groups` is an object of group id → array of values (`{}` when
/// there are none), used by `$inGroup` and `$notInGroup`.
///
/// ```
/// use dangol_engine::condition::eval_condition;
/// use serde_json::json;
/// let attrs = json!({"cart": {"value": 52000}, "tier": "gold"});
/// assert!(eval_condition(&attrs, &json!({"cart.value": {"$gte": 50000}}), &json!({})));
/// assert!(!eval_condition(&attrs, &json!({"tier": {"$in": ["vip"]}}), &json!({})));
/// ```
#[cfg(feature = "native-regex")]
pub fn eval_condition(attributes: &Value, condition: &Value, saved_groups: &Value) -> bool {
    eval_condition_with(attributes, condition, saved_groups, &NativeRegex)
}

/// Evaluates `condition` against `attributes`, matching regexes with `regex`.
pub fn eval_condition_with(
    attributes: &Value,
    condition: &Value,
    saved_groups: &Value,
    regex: &dyn RegexEngine,
) -> bool {
    let eval = Eval {
        groups: saved_groups,
        regex,
    };
    match condition {
        Value::Object(map) => eval.condition(attributes, map),
        _ => false,
    }
}

/// Checks that a condition has a shape that can be evaluated: an object
/// whose logical operators hold what they must. Returns the dotted path of
/// the first problem and what is wrong with it.
pub fn validate(condition: &Value) -> Result<(), (String, String)> {
    match condition {
        Value::Object(map) => validate_object(map, ""),
        other => Err((
            String::new(),
            format!(
                "a condition must be a JSON object, found {}",
                type_name(other)
            ),
        )),
    }
}

fn validate_object(map: &Map<String, Value>, prefix: &str) -> Result<(), (String, String)> {
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match key.as_str() {
            "$and" | "$or" | "$nor" => {
                let Value::Array(items) = value else {
                    return Err((path, format!("`{key}` needs an array of conditions")));
                };
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(inner) = item else {
                        return Err((format!("{path}[{i}]"), "must be a condition object".into()));
                    };
                    validate_object(inner, &format!("{path}[{i}]"))?;
                }
            }
            "$not" => {
                let Value::Object(inner) = value else {
                    return Err((path, "`$not` needs a condition object".into()));
                };
                validate_object(inner, &path)?;
            }
            _ if key.is_empty() => return Err((path, "an attribute path may not be empty".into())),
            _ => {}
        }
    }
    Ok(())
}

struct Eval<'a> {
    groups: &'a Value,
    regex: &'a dyn RegexEngine,
}

impl Eval<'_> {
    /// A condition object: every entry must hold.
    fn condition(&self, attrs: &Value, cond: &Map<String, Value>) -> bool {
        cond.iter().all(|(key, value)| match key.as_str() {
            "$or" => self.any(attrs, value),
            "$nor" => !self.any(attrs, value),
            "$and" => self.all(attrs, value),
            "$not" => match value {
                Value::Object(inner) => !self.condition(attrs, inner),
                _ => false,
            },
            path => self.value(value, get_path(attrs, path)),
        })
    }

    fn any(&self, attrs: &Value, conds: &Value) -> bool {
        match conds {
            Value::Array(items) if items.is_empty() => true,
            Value::Array(items) => items.iter().any(|c| match c {
                Value::Object(m) => self.condition(attrs, m),
                _ => false,
            }),
            _ => false,
        }
    }

    fn all(&self, attrs: &Value, conds: &Value) -> bool {
        match conds {
            Value::Array(items) => items.iter().all(|c| match c {
                Value::Object(m) => self.condition(attrs, m),
                _ => false,
            }),
            _ => false,
        }
    }

    /// One expected value against one actual value: either an operator
    /// object (all keys start with `$`) or an implicit equality.
    fn value(&self, expected: &Value, actual: &Value) -> bool {
        match expected {
            Value::Object(ops) if is_operator_object(ops) => {
                ops.iter().all(|(op, arg)| self.operator(op, actual, arg))
            }
            _ => json_eq(actual, expected),
        }
    }

    fn operator(&self, op: &str, actual: &Value, arg: &Value) -> bool {
        match op {
            "$eq" => json_eq(actual, arg),
            "$ne" => !json_eq(actual, arg),
            "$lt" => compare(actual, arg) == Some(Ordering::Less),
            "$lte" => matches!(compare(actual, arg), Some(Ordering::Less | Ordering::Equal)),
            "$gt" => compare(actual, arg) == Some(Ordering::Greater),
            "$gte" => matches!(
                compare(actual, arg),
                Some(Ordering::Greater | Ordering::Equal)
            ),
            "$veq" | "$vne" | "$vgt" | "$vgte" | "$vlt" | "$vlte" => version_op(op, actual, arg),
            "$in" => is_in(actual, arg, None),
            "$nin" => matches!(arg, Value::Array(_)) && !is_in(actual, arg, None),
            "$ini" => is_in(actual, arg, Some(self.regex)),
            "$nini" => matches!(arg, Value::Array(_)) && !is_in(actual, arg, Some(self.regex)),
            "$all" => self.all_of(actual, arg, false),
            "$alli" => self.all_of(actual, arg, true),
            "$elemMatch" => self.elem_match(actual, arg),
            "$size" => match actual {
                Value::Array(items) => self.value(arg, &Value::from(items.len())),
                _ => false,
            },
            "$exists" => match arg {
                Value::Bool(true) => !actual.is_null(),
                Value::Bool(false) => actual.is_null(),
                _ => false,
            },
            "$type" => arg.as_str() == Some(type_name(actual)),
            "$regex" | "$regexi" => match (actual, arg) {
                (Value::String(text), Value::String(pattern)) => self
                    .regex
                    .is_match(pattern, text, op == "$regexi")
                    .unwrap_or(false),
                _ => false,
            },
            "$not" => !self.value(arg, actual),
            "$inGroup" | "$notInGroup" => {
                let empty = Value::Array(Vec::new());
                let group = arg
                    .as_str()
                    .and_then(|id| self.groups.get(id))
                    .unwrap_or(&empty);
                is_in(actual, group, None) == (op == "$inGroup")
            }
            _ => false,
        }
    }

    fn all_of(&self, actual: &Value, arg: &Value, fold: bool) -> bool {
        let (Value::Array(have), Value::Array(want)) = (actual, arg) else {
            return false;
        };
        want.iter().all(|w| {
            have.iter().any(|h| {
                if fold {
                    eq_fold(h, w, self.regex)
                } else {
                    self.value(w, h)
                }
            })
        })
    }

    fn elem_match(&self, actual: &Value, arg: &Value) -> bool {
        let (Value::Array(items), Value::Object(cond)) = (actual, arg) else {
            return false;
        };
        // Logical operators inside `$elemMatch` combine conditions on each
        // element; other operators apply to the element itself.
        let logical = cond
            .keys()
            .any(|k| matches!(k.as_str(), "$and" | "$or" | "$nor"));
        if is_operator_object(cond) && !logical {
            items.iter().any(|item| self.value(arg, item))
        } else {
            items.iter().any(|item| self.condition(item, cond))
        }
    }
}

/// Looks up a dotted path; anything missing is `null`.
fn get_path<'v>(attrs: &'v Value, path: &str) -> &'v Value {
    const NULL: Value = Value::Null;
    let mut current = attrs;
    for part in path.split('.') {
        match current {
            Value::Object(map) => match map.get(part) {
                Some(next) => current = next,
                None => return &NULL,
            },
            _ => return &NULL,
        }
    }
    current
}

fn is_operator_object(map: &Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| k.starts_with('$'))
}

/// The JavaScript/JSON type name used by `$type`.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Deep, strictly typed equality; numbers compare by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn eq_fold(a: &Value, b: &Value, text: &dyn RegexEngine) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => text.lowercase(x) == text.lowercase(y),
        _ => json_eq(a, b),
    }
}

/// Orders two values of the same kind (numbers or strings); anything else
/// has no order.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `$in`: membership, or intersection when the attribute is an array.
/// With `fold`, strings compare case-insensitively.
fn is_in(actual: &Value, list: &Value, fold: Option<&dyn RegexEngine>) -> bool {
    let Value::Array(list) = list else {
        return false;
    };
    let eq = |x: &Value, y: &Value| match fold {
        Some(text) => eq_fold(x, y, text),
        None => json_eq(x, y),
    };
    match actual {
        Value::Array(items) => items.iter().any(|i| list.iter().any(|l| eq(i, l))),
        _ => list.iter().any(|l| eq(actual, l)),
    }
}

fn version_op(op: &str, actual: &Value, arg: &Value) -> bool {
    let a = padded_version(actual);
    let b = padded_version(arg);
    let ord = a.cmp(&b);
    match op {
        "$veq" => ord == Ordering::Equal,
        "$vne" => ord != Ordering::Equal,
        "$vgt" => ord == Ordering::Greater,
        "$vgte" => ord != Ordering::Less,
        "$vlt" => ord == Ordering::Less,
        _ => ord != Ordering::Greater,
    }
}

/// Makes version strings comparable as plain strings: strips a leading `v`
/// and build metadata, marks releases as later than their pre-releases
/// (`~` sorts after letters) and left-pads numeric parts to five places.
fn padded_version(value: &Value) -> String {
    let raw = match value {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => number_text(n),
        _ => "0".to_string(),
    };
    let trimmed = raw.strip_prefix('v').unwrap_or(&raw);
    let trimmed = trimmed.split('+').next().unwrap_or("");
    let mut parts: Vec<String> = trimmed.split(['-', '.']).map(str::to_string).collect();
    if parts.len() == 3 {
        parts.push("~".to_string());
    }
    parts
        .iter()
        .map(|p| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                format!("{p:>5}")
            } else {
                p.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A number as JavaScript would print it for the usual version-like values
/// (`1` → "1", `1.25` → "1.25"), without pulling float formatting into the
/// wasm: up to six decimals, trailing zeros trimmed.
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let sign = if f < 0.0 { "-" } else { "" };
    let scaled = (f.abs() * 1e6).round() as u64;
    let (whole, frac) = (scaled / 1_000_000, scaled % 1_000_000);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{frac:06}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(attrs: Value, cond: Value) -> bool {
        eval_condition(&attrs, &cond, &json!({}))
    }

    #[test]
    fn empty_condition_matches_everything() {
        assert!(check(json!({}), json!({})));
        assert!(check(json!({"a": 1}), json!({})));
    }

    #[test]
    fn dotted_paths_reach_nested_attributes_and_missing_ones_are_null() {
        let attrs = json!({"cart": {"value": 52000, "items": 3}});
        assert!(check(attrs.clone(), json!({"cart.value": 52000})));
        assert!(!check(attrs.clone(), json!({"cart.value": 1})));
        assert!(check(attrs.clone(), json!({"cart.missing": null})));
        assert!(check(
            attrs.clone(),
            json!({"cart.value.deeper": {"$exists": false}})
        ));
        assert!(check(attrs, json!({"cart.items": {"$exists": true}})));
    }

    #[test]
    fn a_number_never_equals_a_string() {
        assert!(!check(json!({"a": 1}), json!({"a": "1"})));
        assert!(!check(json!({"a": "1"}), json!({"a": {"$eq": 1}})));
        assert!(check(json!({"a": 1}), json!({"a": 1.0})));
    }

    #[test]
    fn comparisons_need_the_same_kind_of_value() {
        assert!(check(json!({"n": 5}), json!({"n": {"$gt": 4, "$lte": 5}})));
        assert!(!check(json!({"n": true}), json!({"n": {"$gt": 0}})));
        assert!(check(
            json!({"s": "b"}),
            json!({"s": {"$gt": "a", "$lt": "c"}})
        ));
        assert!(!check(json!({"s": "5"}), json!({"s": {"$lt": 9}})));
    }

    #[test]
    fn in_against_an_array_attribute_means_intersection() {
        assert!(check(
            json!({"tags": ["a", "b"]}),
            json!({"tags": {"$in": ["b", "z"]}})
        ));
        assert!(!check(
            json!({"tags": ["a", "b"]}),
            json!({"tags": {"$in": ["z"]}})
        ));
        assert!(check(
            json!({"tags": ["a"]}),
            json!({"tags": {"$nin": ["z"]}})
        ));
        assert!(check(json!({"c": "X"}), json!({"c": {"$ini": ["x"]}})));
        assert!(!check(json!({"c": "X"}), json!({"c": {"$in": "X"}})));
    }

    #[test]
    fn logical_operators_combine_conditions() {
        let attrs = json!({"a": 1, "b": 2});
        assert!(check(attrs.clone(), json!({"$or": [{"a": 2}, {"b": 2}]})));
        assert!(!check(attrs.clone(), json!({"$nor": [{"a": 2}, {"b": 2}]})));
        assert!(check(attrs.clone(), json!({"$and": [{"a": 1}, {"b": 2}]})));
        assert!(check(attrs.clone(), json!({"$not": {"a": 2}})));
        assert!(check(attrs.clone(), json!({"$or": []})));
        assert!(check(attrs, json!({"a": {"$not": {"$gt": 5}}})));
    }

    #[test]
    fn elem_match_works_on_primitives_and_objects() {
        let attrs = json!({"nums": [1, 5, 9], "items": [{"cat": "shoes", "price": 10}]});
        assert!(check(
            attrs.clone(),
            json!({"nums": {"$elemMatch": {"$gt": 8}}})
        ));
        assert!(!check(
            attrs.clone(),
            json!({"nums": {"$elemMatch": {"$gt": 9}}})
        ));
        assert!(check(
            attrs.clone(),
            json!({"items": {"$elemMatch": {"cat": "shoes", "price": {"$lt": 20}}}})
        ));
        assert!(check(
            attrs,
            json!({"items": {"$elemMatch": {"$or": [{"cat": "bags"}, {"price": 10}]}}})
        ));
    }

    #[test]
    fn size_all_and_type() {
        let attrs = json!({"xs": ["a", "b", "c"]});
        assert!(check(attrs.clone(), json!({"xs": {"$size": 3}})));
        assert!(check(attrs.clone(), json!({"xs": {"$size": {"$gt": 2}}})));
        assert!(check(attrs.clone(), json!({"xs": {"$all": ["a", "c"]}})));
        assert!(!check(attrs.clone(), json!({"xs": {"$all": ["a", "z"]}})));
        assert!(check(attrs.clone(), json!({"xs": {"$alli": ["A"]}})));
        assert!(check(attrs.clone(), json!({"xs": {"$type": "array"}})));
        assert!(check(attrs, json!({"missing": {"$type": "null"}})));
    }

    #[test]
    fn regex_uses_the_plugged_engine_and_invalid_patterns_never_match() {
        let attrs = json!({"path": "/demo/product/42"});
        assert!(check(
            attrs.clone(),
            json!({"path": {"$regex": "^/demo/product/\\d+$"}})
        ));
        assert!(check(
            attrs.clone(),
            json!({"path": {"$regexi": "PRODUCT"}})
        ));
        assert!(!check(
            attrs.clone(),
            json!({"path": {"$regex": "(unclosed"}})
        ));
        assert!(!eval_condition_with(
            &attrs,
            &json!({"path": {"$regex": "demo"}}),
            &json!({}),
            &NoRegex
        ));
    }

    #[test]
    fn versions_compare_with_prerelease_before_release() {
        assert!(check(
            json!({"v": "1.2.3-beta"}),
            json!({"v": {"$vlt": "1.2.3"}})
        ));
        assert!(check(
            json!({"v": "v1.10.0"}),
            json!({"v": {"$vgt": "1.9.9"}})
        ));
        assert!(check(
            json!({"v": "1.2.3+build7"}),
            json!({"v": {"$veq": "1.2.3"}})
        ));
    }

    #[test]
    fn numeric_versions_read_as_javascript_prints_them() {
        assert!(check(json!({"v": 2}), json!({"v": {"$vgt": "1.9"}})));
        assert!(check(json!({"v": 1.25}), json!({"v": {"$veq": "1.25"}})));
        assert!(check(json!({"v": "1.2"}), json!({"v": {"$veq": 1.2}})));
        assert_eq!(
            number_text(&serde_json::Number::from_f64(-0.5).unwrap()),
            "-0.5"
        );
    }

    #[test]
    fn saved_groups_and_unknown_operators() {
        let groups = json!({"vips": ["u1", "u2"]});
        let attrs = json!({"id": "u2"});
        assert!(eval_condition(
            &attrs,
            &json!({"id": {"$inGroup": "vips"}}),
            &groups
        ));
        assert!(!eval_condition(
            &attrs,
            &json!({"id": {"$notInGroup": "vips"}}),
            &groups
        ));
        assert!(!eval_condition(
            &attrs,
            &json!({"id": {"$inGroup": "nobody"}}),
            &groups
        ));
        assert!(!check(attrs, json!({"id": {"$bogus": 1}})));
    }

    #[test]
    fn validation_names_the_path_of_a_malformed_condition() {
        assert!(validate(&json!({"a": 1, "$or": [{"b": 2}]})).is_ok());
        let (path, message) = validate(&json!({"$or": [{"b": 2}, 3]})).unwrap_err();
        assert_eq!(path, "$or[1]");
        assert!(message.contains("condition object"));
        let (path, _) = validate(&json!({"$and": {"a": 1}})).unwrap_err();
        assert_eq!(path, "$and");
        assert!(validate(&json!([1])).is_err());
    }
}
