//! `cargo xtask bench`: named figures, unit in the name, written to
//! `target/bench/report.json` and printed as a table.

use std::io::Read;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::{sh, step};
use crate::{root, tools, widget};

/// Cargo's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The mean of a criterion benchmark, in nanoseconds.
fn criterion_mean_ns(path: &Path) -> Result<f64> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading criterion's estimates at {}", path.display()))?;
    let estimates: Value = serde_json::from_str(&text)?;
    estimates["mean"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no mean in {}", path.display()))
}

/// Raw and gzip sizes of the shipped bundle (the loader, which holds the
/// glue, and the wasm), gzip as the server sends it (the Zopfli copies next
/// to each file).
pub fn bundle_sizes() -> Result<(u64, u64)> {
    let mut raw = 0u64;
    let mut gzip = 0u64;
    for file in widget::bundle_files() {
        let bytes = read(&file)?;
        raw += bytes.len() as u64;
        gzip += widget::gzip(&bytes)?.len() as u64;
    }
    Ok((raw, gzip))
}

/// The first load's gzip size with `data-identify` (loader + the identity
/// build's glue + wasm).
pub fn bundle_identity_gzip_bytes() -> Result<u64> {
    let mut total = 0u64;
    for file in widget::identity_bundle_files() {
        total += widget::gzip(&read(&file)?)?.len() as u64;
    }
    Ok(total)
}

/// The second module's size (glue + wasm, gzipped as served): what a page
/// loads on first use of an overlay, a coupon, a loyalty or feedback
/// prompt, a recommendations row, or "Why this offer?".
pub fn bundle_lazy_gzip_bytes() -> Result<u64> {
    let mut total = 0u64;
    for file in widget::lazy_files() {
        total += widget::gzip(&read(&file)?)?.len() as u64;
    }
    Ok(total)
}

/// The third module's size (glue + wasm, gzipped as served): what a page
/// loads on first use of `dangol.export()`, or once to upgrade a profile
/// an earlier widget stored as JSON.
pub fn bundle_rare_gzip_bytes() -> Result<u64> {
    let mut total = 0u64;
    for file in widget::rare_files() {
        total += widget::gzip(&read(&file)?)?.len() as u64;
    }
    Ok(total)
}

/// The bundle's brotli size (quality 11): what a browser that accepts
/// brotli downloads.
pub fn bundle_brotli_bytes() -> Result<u64> {
    let mut total = 0u64;
    for file in widget::bundle_files() {
        total += widget::brotli(&read(&file)?)?.len() as u64;
    }
    Ok(total)
}

fn read(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

/// Random hex from the OS.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if ok.is_err() {
        // No /dev/urandom: fall back to the clock, good enough for a demo token.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        buf = t
            .to_le_bytes()
            .iter()
            .cycle()
            .take(bytes)
            .copied()
            .collect();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tools the widget's build and browser figures need, then the
/// shipped widget built into `pkg/`.
fn build_widget() -> Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_node()?;
    tools::ensure_npm_tools()?;
    widget::build()
}

/// The first load's sizes: raw, gzip and brotli.
fn bundle_figures(report: &mut Map<String, Value>) -> Result<()> {
    let (raw, gzip) = bundle_sizes()?;
    report.insert("bundle_raw_bytes".into(), Value::from(raw));
    report.insert("bundle_gzip_bytes".into(), Value::from(gzip));
    report.insert(
        "bundle_brotli_bytes".into(),
        Value::from(bundle_brotli_bytes()?),
    );
    Ok(())
}

pub fn run() -> Result<()> {
    build_widget()?;

    step("measuring");
    let mut report = Map::new();
    bundle_figures(&mut report)?;
    report.insert(
        "bundle_lazy_gzip_bytes".into(),
        Value::from(bundle_lazy_gzip_bytes()?),
    );
    report.insert(
        "bundle_rare_gzip_bytes".into(),
        Value::from(bundle_rare_gzip_bytes()?),
    );
    // The recommendations row's code is in the second module (with the
    // other rarely used paths): a page with a row loads that module.
    report.insert(
        "recs_module_gzip_bytes".into(),
        Value::from(bundle_lazy_gzip_bytes()?),
    );
    report.insert(
        "bundle_identity_gzip_bytes".into(),
        Value::from(bundle_identity_gzip_bytes()?),
    );

    step("engine benchmarks (criterion)");
    sh(Command::new("cargo").args(["bench", "--package", "dangol-engine", "--bench", "engine"]))?;
    let criterion = target_dir().join("criterion");
    for (bench, figure, scale) in [
        (
            "engine_eval_100_conditions",
            "engine_eval_100_conditions_ns",
            1.0,
        ),
        (
            "engine_decide_100_campaigns",
            "engine_decide_100_campaigns_ns",
            1.0,
        ),
        (
            "engine_compile_100_campaigns",
            "engine_compile_100_campaigns_us",
            1e-3,
        ),
        (
            "engine_read_compact_100_campaigns",
            "config_load_native_us_100",
            1e-3,
        ),
        ("engine_p_alive", "p_alive_ns", 1.0),
        ("engine_recs_rank", "recs_rank_native_us", 1e-3),
        ("engine_expected_orders_90d", "expected_orders_90d_ns", 1.0),
    ] {
        let ns = criterion_mean_ns(&criterion.join(bench).join("new/estimates.json"))?;
        report.insert(figure.into(), Value::from((ns * scale).round()));
    }

    step("recommendations offline (hit rate and NDCG at 10, model build)");
    let published = target_dir().join("bench/recs_model_10k.txt");
    std::fs::create_dir_all(target_dir().join("bench"))?;
    let output = Command::new("cargo")
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "dangol-engine",
            "--example",
            "recs_eval",
            "--",
        ])
        .arg(&published)
        .output()
        .context("running the recs_eval example")?;
    if !output.status.success() {
        anyhow::bail!("the recs_eval example failed ({})", output.status);
    }
    let figures: Value =
        serde_json::from_slice(&output.stdout).context("reading the figures recs_eval printed")?;
    let Value::Object(figures) = figures else {
        anyhow::bail!("recs_eval printed {figures}, not an object");
    };
    report.extend(figures);
    let text = read(&published)?;
    report.insert(
        "recs_model_bytes_10k".into(),
        Value::from(text.len() as u64),
    );
    report.insert(
        "recs_model_brotli_bytes_10k".into(),
        Value::from(widget::brotli(&text)?.len() as u64),
    );

    step("churn model fits (criterion, 100,000 customers)");
    sh(Command::new("cargo").args(["bench", "--package", "dangol-server", "--bench", "churn"]))?;
    for (bench, figure) in [
        ("bgnbd_fit_100k", "bgnbd_fit_ms_100k"),
        ("gamma_gamma_fit_100k", "gamma_gamma_fit_ms_100k"),
    ] {
        let ns = criterion_mean_ns(&criterion.join(bench).join("new/estimates.json"))?;
        report.insert(figure.into(), Value::from((ns * 1e-6).round()));
    }

    step("server load over loopback (release build)");
    for (name, value) in crate::load::figures()? {
        report.insert(name, value);
    }

    step("browser figures (headless Chromium on the demo storefront)");
    for (name, value) in browser_figures()? {
        report.insert(name, value);
    }

    // The test run fuzzes each target for seconds; the bench, which runs
    // regularly, gives each minutes, so a crash surfaces here before a
    // shopper finds it. A crash fails the bench (copy the input into
    // `fuzz/regressions/<target>`).
    let seconds = fuzz_seconds()?;
    crate::fuzz::run(seconds)?;
    report.insert("fuzz_seconds_per_target".into(), Value::from(seconds));

    write_report(report)
}

/// `DANGOL_BENCH_FUZZ_S`, seconds per fuzz target (120 unless set).
fn fuzz_seconds() -> Result<u32> {
    match std::env::var("DANGOL_BENCH_FUZZ_S") {
        Err(_) => Ok(120),
        Ok(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "DANGOL_BENCH_FUZZ_S must be a whole number of seconds above 0, not `{text}`"
                )
            }),
    }
}

/// Only the server's load figures, merged into an existing report.
pub fn run_load() -> Result<()> {
    merge(
        "server load over loopback (release build)",
        crate::load::figures,
    )
}

/// Only the scale figures (10 million events), merged into an existing
/// report: too long for the default run.
pub fn run_scale() -> Result<()> {
    merge(
        "the dashboard at scale (release build)",
        crate::scale::figures,
    )
}

/// Only the widget's browser figures (with the shipped bundle's sizes),
/// merged into an existing report.
pub fn run_browser() -> Result<()> {
    build_widget()?;
    merge(
        "browser figures (headless Chromium on the demo storefront)",
        || {
            let mut figures = browser_figures()?;
            bundle_figures(&mut figures)?;
            Ok(figures)
        },
    )
}

/// Only the soak, at half the capacity of the report's load figures.
pub fn run_soak() -> Result<()> {
    let report = stored_report();
    merge("soak (release build)", move || {
        crate::load::soak_only(&report)
    })
}

fn stored_report() -> Map<String, Value> {
    let path = root().join("target/bench/report.json");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

fn merge(title: &str, figures: impl FnOnce() -> Result<Map<String, Value>>) -> Result<()> {
    let mut report = stored_report();
    step(title);
    for (name, value) in figures()? {
        report.insert(name, value);
    }
    write_report(report)
}

fn write_report(report: Map<String, Value>) -> Result<()> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("report.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&Value::Object(report.clone()))?,
    )?;

    let width = report.keys().map(String::len).max().unwrap_or(0);
    println!("\n{:<width$}  value", "figure");
    for (name, value) in &report {
        println!("{name:<width$}  {value}");
    }
    println!("\nwritten to {}", path.display());
    Ok(())
}

/// Builds the widget with its `bench` export into `target/bench/pkg` and
/// runs `tests/bench/browser.mjs`: first offer time, condition evaluation
/// against GrowthBook's SDK, layout shift and Lighthouse, with and without
/// the widget.
fn browser_figures() -> Result<Map<String, Value>> {
    let root = root();
    // Into its own directory: `pkg/`, built by `run`, stays the shipped one.
    widget::build_bundle(&["bench"], &target_dir().join("bench/pkg"))?;
    sh(Command::new("cargo").args(["build", "--package", "dangol-server"]))?;
    let (chromium, _) = tools::ensure_chromium()?;
    let output = Command::new("node")
        .env(
            "DANGOL_SERVER_BIN",
            target_dir().join("debug/dangol-server"),
        )
        .env("DANGOL_ROOT", &root)
        .env("CHROMIUM_PATH", chromium)
        .arg(root.join("tests/bench/browser.mjs"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running tests/bench/browser.mjs")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        anyhow::bail!("the browser benchmarks failed ({})", output.status);
    }
    let last = stdout.lines().last().unwrap_or_default();
    match serde_json::from_str(last)? {
        Value::Object(map) => Ok(map),
        other => anyhow::bail!("the browser benchmarks printed {other}, not an object"),
    }
}
