//! `cargo xtask fuzz [SECONDS]`: every fuzz target in `fuzz/` for a while
//! (60 s each by default); `cargo xtask test` runs each for a few seconds.
//!
//! cargo-fuzz drives libFuzzer with sanitizer flags that stable Rust only
//! takes with `RUSTC_BOOTSTRAP=1`; the fuzz crate is its own workspace with
//! its own lockfile, so this never touches the main build. Each run starts
//! from the committed seeds (`fuzz/seeds/<target>`) and replays every
//! committed regression case (`fuzz/regressions/<target>`): a crash found
//! once is copied there and stays a test.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::root;
use crate::run::{has, output, sh, step};

/// The targets, as named in `fuzz/Cargo.toml`.
pub const TARGETS: &[&str] = &[
    "condition",
    "config",
    "compact_config",
    "event_batch",
    "text_tokens",
    "stored_profile",
];

/// cargo-fuzz, installed when missing.
fn ensure_cargo_fuzz() -> Result<()> {
    let listed = output(Command::new("cargo").args(["fuzz", "--version"])).unwrap_or_default();
    if !listed.contains("cargo-fuzz") {
        step("installing cargo-fuzz");
        sh(Command::new("cargo").args(["install", "cargo-fuzz", "--version", "0.13.2"]))?;
    }
    Ok(())
}

/// Runs every target for `seconds`; prints what each ran.
pub fn run(seconds: u32) -> Result<()> {
    if !has("cargo") {
        bail!("cargo is not on PATH");
    }
    ensure_cargo_fuzz()?;
    let dir = root().join("fuzz");
    step("building the fuzz targets");
    sh(Command::new("cargo")
        .current_dir(&dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "build", "-O"]))?;
    for target in TARGETS {
        step(&format!("fuzzing `{target}` for {seconds} s"));
        let work =
            std::env::temp_dir().join(format!("dangol-fuzz-{target}-{}", std::process::id()));
        std::fs::create_dir_all(&work)?;
        let seeds: PathBuf = dir.join("seeds").join(target);
        let regressions: PathBuf = dir.join("regressions").join(target);
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", "-O", target])
            .arg(&work)
            .arg(&seeds);
        if regressions.is_dir() {
            cmd.arg(&regressions);
        }
        cmd.args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
            "-rss_limit_mb=2048",
        ]);
        let result = sh(&mut cmd);
        let _ = std::fs::remove_dir_all(&work);
        result?;
    }
    Ok(())
}
