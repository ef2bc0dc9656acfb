//! Runs the expected-results files in `tests/cases/` (the spec of the
//! condition language and of bucketing) against any [`RegexEngine`]. The
//! same files run natively (the `regex` crate) and in the browser (the
//! widget's `RegExp`), so both builds provably agree.
//!
//! Each runner returns the failures as readable lines; an empty list means
//! every case passed.

use serde_json::Value;

use crate::bucket;
use crate::condition::{RegexEngine, eval_condition_with};

/// Conditions: `[name, condition, attributes, expected, saved_groups?]`.
pub fn condition_cases(
    json: &str,
    regex: &dyn RegexEngine,
) -> Result<(usize, Vec<String>), String> {
    let cases: Vec<Value> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case[0].as_str().unwrap_or("?");
        let empty = Value::Object(Default::default());
        let groups = case.get(4).unwrap_or(&empty);
        let want = case[3].as_bool();
        let got = eval_condition_with(&case[2], &case[1], groups, regex);
        if want != Some(got) {
            failures.push(format!("{name}: expected {want:?}, got {got}"));
        }
    }
    Ok((cases.len(), failures))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn ranges(value: &Value) -> Vec<(f64, f64)> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|r| {
                    (
                        r[0].as_f64().unwrap_or(f64::NAN),
                        r[1].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Bucketing: `hash`, `bucket_ranges`, `choose_variation`, `in_namespace`
/// and `equal_weights` sections.
pub fn bucket_cases(json: &str) -> Result<(usize, Vec<String>), String> {
    let spec: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut count = 0;
    let mut failures = Vec::new();
    let section = |name: &str| spec[name].as_array().cloned().unwrap_or_default();
    for c in section("hash") {
        count += 1;
        let (seed, value) = (c[0].as_str().unwrap_or(""), c[1].as_str().unwrap_or(""));
        let version = c[2]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(u32::MAX);
        let got = bucket::hash(seed, value, version);
        let ok = match (c[3].as_f64(), got) {
            (Some(want), Some(got)) => close(want, got),
            (None, None) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "hash({seed:?}, {value:?}, {version}): expected {}, got {got:?}",
                c[3]
            ));
        }
    }
    for c in section("bucket_ranges") {
        count += 1;
        let args = &c[1];
        let n = args[0].as_u64().map_or(0, |n| n as usize);
        let weights: Option<Vec<f64>> = args[2]
            .as_array()
            .map(|w| w.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect());
        let got =
            bucket::bucket_ranges(n, args[1].as_f64().unwrap_or(f64::NAN), weights.as_deref());
        let want = ranges(&c[2]);
        let ok = got.len() == want.len()
            && got
                .iter()
                .zip(&want)
                .all(|(g, w)| close(g.0, w.0) && close(g.1, w.1));
        if !ok {
            failures.push(format!(
                "bucket_ranges {}: expected {want:?}, got {got:?}",
                c[0]
            ));
        }
    }
    for c in section("choose_variation") {
        count += 1;
        let got = bucket::choose_variation(c[1].as_f64().unwrap_or(f64::NAN), &ranges(&c[2]));
        let want = c[3].as_u64().map(|v| v as usize);
        if got != want {
            failures.push(format!(
                "choose_variation {}: expected {want:?}, got {got:?}",
                c[0]
            ));
        }
    }
    for c in section("in_namespace") {
        count += 1;
        let ns = &c[1];
        let namespace = (
            ns[0].as_str().unwrap_or(""),
            ns[1].as_f64().unwrap_or(f64::NAN),
            ns[2].as_f64().unwrap_or(f64::NAN),
        );
        let got = bucket::in_namespace(c[0].as_str().unwrap_or(""), namespace);
        if Some(got) != c[2].as_bool() {
            failures.push(format!(
                "in_namespace({}, {ns}): expected {}, got {got}",
                c[0], c[2]
            ));
        }
    }
    for c in section("equal_weights") {
        count += 1;
        let got = bucket::equal_weights(c[0].as_i64().unwrap_or(0));
        let want: Vec<f64> = c[1]
            .as_array()
            .map(|w| w.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        if got.len() != want.len() || !got.iter().zip(&want).all(|(a, b)| close(*a, *b)) {
            failures.push(format!(
                "equal_weights({}): expected {want:?}, got {got:?}",
                c[0]
            ));
        }
    }
    Ok((count, failures))
}
