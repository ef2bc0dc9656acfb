//! The engine stays pure: no browser, async runtime or database crates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and bench code: a panic is a failure

use std::process::Command;

#[test]
fn the_engine_depends_on_no_browser_runtime_or_database_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--package",
            "dangol-engine",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--all-features",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"dangol-engine"), "{tree}");
    assert!(crates.contains(&"serde_json"), "the tree is real: {tree}");
    for banned in [
        "web-sys",
        "js-sys",
        "wasm-bindgen",
        "tokio",
        "sqlx",
        "getrandom",
        "rand",
    ] {
        assert!(
            !crates.contains(&banned),
            "dangol-engine depends on {banned}:\n{tree}"
        );
    }
}
