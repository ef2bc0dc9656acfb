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

/// All the case file's conditions compiled together, sharing one set of
/// paths as a config's audiences do: looking the paths up once per set of
/// attributes gives the same answer as looking them up in every test, for
/// every condition against every case's attributes.
#[test]
fn shared_paths_answer_as_looking_each_test_up_does() {
    use dangol_engine::condition::{Condition, Paths};
    let cases: Vec<dangol_engine::json::Value> =
        serde_json::from_str(include_str!("../../../tests/cases/conditions.json")).unwrap();
    let mut paths = Paths::default();
    let conditions: Vec<Condition> = cases
        .iter()
        .filter_map(|case| Condition::compile_with(&case[1], &NativeRegex, &mut paths).ok())
        .collect();
    assert!(conditions.len() >= 90, "only {} compiled", conditions.len());
    let groups = dangol_engine::json!({"beta": ["a1", 7], "staff": ["x"]});
    let (mut checked, mut matched) = (0, 0);
    for case in &cases {
        let attributes = &case[2];
        let resolved = paths.resolve(attributes);
        for condition in &conditions {
            let shared = condition.eval_resolved(&resolved, attributes, &groups, &NativeRegex);
            let alone = condition.eval(attributes, &groups, &NativeRegex);
            assert_eq!(shared, alone, "case {} disagrees", case[0]);
            checked += 1;
            matched += usize::from(shared);
        }
    }
    // Both answers occur, so the comparison means something.
    assert!(matched > 0 && matched < checked, "{matched} of {checked}");
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
