//! `cargo xtask test`: everything CI checks, in one command.

use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::run::{sh, step};
use crate::{bench, postgres, root, tools, widget};

/// The shipped bundle (the loader, which holds the glue, and the wasm,
/// gzipped as served) may not grow past
/// this ceiling, the target of 81,920 bytes (48,000 is the goal; `cargo
/// xtask bench` reports where it stands).
/// Overlays, triggers, text tokens, two languages and the exposure rule
/// took it from 121 KB to 134 KB; the persisted outbox with its cross-tab
/// lock to 140 KB. Rebuilding the standard library with trapping panics
/// and shortening the wasm's import and export names brought it to 122 KB.
/// The shopper's session as the engine's state machine, with what consent
/// on real deployments needs (one id under a consent manager, every tab
/// stopping on a withdrawal, erasure on `deny()`, bounded `dataLayer`
/// reading), cost 5.6 KB; typed offer actions and leaving publish-only
/// config checks to the server won 2.6 KB of it back; refusing patterns
/// that backtrack catastrophically in the widget too (a crafted URL must
/// not hang a tab) cost 2.4 KB: 126.6 KB. The server publishing the
/// config checked and compiled in a compact form, so the widget carries no
/// config reader, validator or condition compiler: 113.6 KB. Insertion-
/// ordered JSON maps (IndexMap) instead of BTreeMap: 112.3 KB. Gzip
/// copies made by Zopfli instead of zlib's best level: 107.5 KB. Overlays,
/// coupons, loyalty and feedback prompts and the words of "Why this
/// offer?" moved to a second module loaded on first use (not counted
/// here; `cargo xtask bench` reports it as `bundle_lazy_gzip_bytes`):
/// 98.7 KB. The engine's own JSON value and the churn figures: 95.8 KB.
/// The loader carrying out the widget's I/O (requests, the signature
/// check, timers, the page's listeners), so the wasm holds no future or
/// closure: 87.1 KB. Banners in slots drawn by the loader from the text
/// the wasm filled, and no Two-Way searcher or integer parser in the wasm:
/// under 81.9 KB.
pub const BUNDLE_GZIP_BUDGET: u64 = 81_920;

/// The first load of pages with `data-identify` (the identity build:
/// `dangol.identify`, linking the id, merging the other devices' profile),
/// which only shops that sign shoppers in load. 4.3 KB above the default
/// bundle when first measured.
pub const IDENTITY_BUNDLE_GZIP_BUDGET: u64 = 86_528;

pub fn run() -> Result<()> {
    let started = Instant::now();
    let mut passed = 0u32;
    let mut stage = |title: &str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        step(title);
        let t = Instant::now();
        f()?;
        passed += 1;
        println!("--- ok: {title} ({:.0?})", t.elapsed());
        Ok(())
    };

    stage("cargo fmt --check", &mut || {
        sh(Command::new("cargo").args(["fmt", "--all", "--check"]))
    })?;
    stage("install what is missing", &mut || {
        tools::ensure_wasm_target()?;
        tools::ensure_wasm_bindgen()?;
        tools::ensure_node()?;
        tools::ensure_npm_tools()?;
        tools::ensure_chromium()?;
        tools::ensure_firefox()?;
        Ok(())
    })?;
    stage("clippy (native, all targets)", &mut || {
        sh(Command::new("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    stage("clippy (widget as wasm32)", &mut || {
        sh(Command::new("cargo").args([
            "clippy",
            "--package",
            "dangol",
            "--all-targets",
            // The bench and dashboard-preview exports too, and the browser
            // tests (every renderer in one module).
            "--features",
            "bench,preview",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    stage(
        "clippy (the shipped widget's modules as wasm32)",
        &mut || {
            // The first module, which hands offers to the second and the
            // profile's JSON form to the third, its identity build, the
            // second and third on their own, and the packs' decoder.
            for features in ["", "identity", "more", "rare"] {
                sh(Command::new("cargo").args([
                    "clippy",
                    "--package",
                    "dangol",
                    "--lib",
                    "--features",
                    features,
                    "--target",
                    "wasm32-unknown-unknown",
                    "--",
                    "-D",
                    "warnings",
                ]))?;
            }
            // The decoder of the packed modules, as the loader runs it.
            sh(Command::new("cargo").args([
                "clippy",
                "--package",
                "dangol-unpack",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
            ]))
        },
    )?;
    stage("engine builds for wasm32 on its own", &mut || {
        sh(Command::new("cargo").args([
            "check",
            "--package",
            "dangol-engine",
            "--target",
            "wasm32-unknown-unknown",
        ]))
    })?;
    stage(
        "native tests (the server's suite on SQLite and PostgreSQL)",
        &mut || {
            let cluster = postgres::Cluster::start()?;
            let mut cmd = Command::new("cargo");
            cmd.args(["test", "--workspace"]);
            if let Some(c) = &cluster {
                cmd.env("DANGOL_TEST_POSTGRES_URL", &c.url);
            }
            sh(&mut cmd)
        },
    )?;
    stage(
        "widget tests in headless Chromium (wasm-bindgen-test)",
        &mut || {
            let (_, driver) = tools::ensure_chromium()?;
            sh(Command::new("cargo")
                .env("CHROMEDRIVER", driver)
                .env(
                    "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                    "wasm-bindgen-test-runner",
                )
                .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
                .args([
                    "test",
                    "--package",
                    "dangol",
                    "--features",
                    "full",
                    "--target",
                    "wasm32-unknown-unknown",
                ]))
        },
    )?;
    stage("fuzz smoke (each target a few seconds)", &mut || {
        crate::fuzz::run(5)
    })?;
    stage("widget bundle and its size budget", &mut || {
        widget::build()?;
        let (raw, gzip) = bench::bundle_sizes()?;
        println!("bundle: {raw} bytes raw, {gzip} bytes gzip (budget {BUNDLE_GZIP_BUDGET})");
        if gzip > BUNDLE_GZIP_BUDGET {
            bail!("the bundle is {gzip} bytes gzipped, over the budget of {BUNDLE_GZIP_BUDGET}");
        }
        let identity = bench::bundle_identity_gzip_bytes()?;
        println!(
            "with data-identify: {identity} bytes gzip (budget {IDENTITY_BUNDLE_GZIP_BUDGET})"
        );
        if identity > IDENTITY_BUNDLE_GZIP_BUDGET {
            bail!(
                "the identity build's first load is {identity} bytes gzipped, over the budget of {IDENTITY_BUNDLE_GZIP_BUDGET}"
            );
        }
        Ok(())
    })?;
    stage(
        "end-to-end tests (real server, headless Chromium and Firefox)",
        &mut || {
            sh(Command::new("cargo").args(["build", "--package", "dangol-server"]))?;
            let (chromium, _) = tools::ensure_chromium()?;
            let firefox = tools::ensure_firefox()?;
            let root = root();
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| root.join("target"));
            let mut files: Vec<_> = std::fs::read_dir(root.join("tests/e2e"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("no end-to-end tests found in tests/e2e");
            }
            sh(Command::new("node")
                .env("DANGOL_SERVER_BIN", target.join("debug/dangol-server"))
                .env("DANGOL_ROOT", &root)
                .env("CHROMIUM_PATH", chromium)
                .env("FIREFOX_PATH", firefox)
                .args(["--test", "--test-concurrency=1"])
                .args(&files))
        },
    )?;

    println!(
        "\nxtask test: all {passed} stages passed in {:.0?}",
        started.elapsed()
    );
    Ok(())
}
