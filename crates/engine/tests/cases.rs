//! The expected-results files in `tests/cases/`, run natively.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and bench code: a panic is a failure

use dangol_engine::condition::NativeRegex;
use dangol_engine::spec;

#[test]
fn every_condition_case_holds_natively() {
    let (count, failures) = spec::condition_cases(
        include_str!("../../../tests/cases/conditions.json"),
        &NativeRegex,
    )
    .expect("the case file parses");
    assert!(count >= 100, "only {count} condition cases");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_bucketing_case_holds_natively() {
    let (count, failures) = spec::bucket_cases(include_str!("../../../tests/cases/bucket.json"))
        .expect("the case file parses");
    assert!(count >= 60, "only {count} bucketing cases");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_decision_case_holds_natively() {
    let (count, failures) = spec::decide_cases(
        include_str!("../../../tests/cases/decide.json"),
        &NativeRegex,
    )
    .expect("the case file parses");
    assert!(count >= 40, "only {count} decision cases");
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
