//! Runs the expected-results files in `tests/cases/` (the spec of the
//! condition language and of bucketing) against any [`RegexEngine`]. The
//! same files run natively (the `regex` crate) and in the browser (the
//! widget's `RegExp`), so both builds provably agree.
//!
//! Each runner returns the failures as readable lines; an empty list means
//! every case passed.

use crate::json::Value;

use crate::bucket;
use crate::condition::{Condition, RegexEngine, eval_condition_with};
use crate::config::{SiteConfig, compact};
use crate::consent::Consent;
use crate::decide::{Reason, Shopper, decide_page};
use crate::ledger::Ledger;
use crate::random::SplitMix64;
use crate::time::Moment;
use crate::wire::{Reader, Writer, unbase64};

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
        // Compiled, written in the compact form and read back (regexes
        // compiled again by the reader's engine), it answers alike.
        let mut w = Writer::default();
        Condition::compile_lenient(&case[1], regex).write(&mut w);
        let bytes = unbase64(&w.finish()).unwrap_or_default();
        let mut reader = Reader::new(&bytes);
        let back = Condition::read(&mut reader, regex);
        match reader.finish(back) {
            Some(back) if Some(back.eval(&case[2], groups, regex)) == want => {}
            Some(_) => failures.push(format!("{name}: differs read back from the compact form")),
            None => failures.push(format!("{name}: unreadable in the compact form")),
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

/// A reason in the case files' short form, e.g. `capped:c:per_day`.
pub fn reason_text(reason: &Reason) -> String {
    let v = reason.to_value();
    let mut parts = vec![reason.name().to_string()];
    for key in ["campaign", "variant", "cap", "limit", "group", "winner"] {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            parts.push(s.to_string());
        }
    }
    parts.join(":")
}

/// Decisions: config, attributes, consent, id, moment, ledger, placements
/// and seed in; the chosen campaign, variant, reasons and holdouts out.
pub fn decide_cases(json: &str, regex: &dyn RegexEngine) -> Result<(usize, Vec<String>), String> {
    let cases: Vec<Value> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let config = match SiteConfig::compile_value(&case["config"], regex) {
            Ok(c) if c.problems().is_empty() => c,
            Ok(c) => {
                failures.push(format!("{name}: config problems {:?}", c.problems()));
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: config error {e}"));
                continue;
            }
        };
        let m = &case["moment"];
        let moment = Moment {
            now_ms: m["now_ms"].as_i64().unwrap_or(0),
            utc_offset_minutes: m["utc_offset_minutes"].as_i64().unwrap_or(0) as i32,
            session_start_ms: m["session_start_ms"].as_i64().unwrap_or(0),
        };
        let mut ledger = Ledger::default();
        let l = &case["ledger"];
        let pairs = |key: &str| -> Vec<(String, i64)> {
            l[key]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_i64()?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (c, t) in pairs("shows") {
            ledger.record_show(&c, "a", t);
        }
        for (c, t) in pairs("dismissals") {
            ledger.record_dismiss(&c, t);
        }
        for c in l["conversions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            ledger.record_conversion(c.as_str().unwrap_or(""), moment.now_ms);
        }
        let consent = Consent::parse(case["consent"].as_str());
        let shopper = Shopper {
            attributes: &case["attributes"],
            id: case["id"].as_str(),
            consent,
            ledger: &ledger,
        };
        let placements: Vec<&str> = case["placements"]
            .as_array()
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // As the server compiled it, and as the widget reads it back from
        // the compact form the server publishes: both decide alike.
        let compact = match compact::read(&compact::write(&config, "l1"), regex) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: compact form unreadable: {e}"));
                continue;
            }
        };
        for (config, form) in [(&config, ""), (&compact, " (compact)")] {
            let name = format!("{name}{form}");
            let mut rng = SplitMix64::new(case["seed"].as_u64().unwrap_or(0));
            let decisions = decide_page(config, &placements, &shopper, &moment, &mut rng, regex);
            let expected = case["expect"].as_array().cloned().unwrap_or_default();
            if expected.len() != decisions.len() {
                failures.push(format!(
                    "{name}: {} decisions for {} expectations",
                    decisions.len(),
                    expected.len()
                ));
                continue;
            }
            for (d, want) in decisions.iter().zip(&expected) {
                let chosen = d.chosen().map(|c| c.campaign_id.as_str());
                if chosen != want["chosen"].as_str() {
                    failures.push(format!(
                        "{name} [{}]: chose {chosen:?}, expected {}",
                        d.placement, want["chosen"]
                    ));
                }
                if let Some(v) = want["variant"].as_str()
                    && d.chosen().map(|c| c.variant_id.as_str()) != Some(v)
                {
                    failures.push(format!(
                        "{name} [{}]: variant {:?}, expected {v}",
                        d.placement,
                        d.chosen().map(|c| &c.variant_id)
                    ));
                }
                let got: Vec<String> = d.reasons.iter().map(reason_text).collect();
                let want_reasons: Vec<String> = want["reasons"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if got != want_reasons {
                    failures.push(format!(
                        "{name} [{}]: reasons {got:?}, expected {want_reasons:?}",
                        d.placement
                    ));
                }
                if let Some(held) = want["held_out"].as_array() {
                    let want_held: Vec<&str> = held.iter().filter_map(Value::as_str).collect();
                    if d.held_out != want_held {
                        failures.push(format!(
                            "{name} [{}]: held out {:?}, expected {want_held:?}",
                            d.placement, d.held_out
                        ));
                    }
                }
            }
        }
    }
    Ok((cases.len(), failures))
}
