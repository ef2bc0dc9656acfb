//! `cargo xtask demo|test|bench`: the project's only entry points. CI and
//! people run the same commands; each installs what it is missing.

mod bench;
mod catalog;
mod demo;
mod fuzz;
mod hooks;
mod load;
mod order;
mod orders;
mod pack;
mod postgres;
mod run;
mod scale;
mod share;
mod table;
mod test;
mod tools;
mod widget;

use std::path::PathBuf;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  demo [--addr HOST:PORT]   build the widget and serve the demo storefront (default 127.0.0.1:8080)
  test                      everything CI checks: fmt, clippy, native, wasm and end-to-end tests
  build                     the widget bundle into pkg/ (and the dashboard's preview)
  bench                     benchmarks; writes target/bench/report.json
  bench load                only the server's load figures (ingest, config)
  bench scale               the dashboard at 10 million events, SQLite and PostgreSQL
  bench soak                only the soak (DANGOL_SOAK_SECONDS), at half the capacity `bench load` measured
  bench browser             only the widget's figures in headless Chromium (first offer, config load, CLS, Lighthouse)
  fuzz [SECONDS]            every fuzz target for SECONDS each (default 60)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        Some("test") => test::run(),
        Some("build") => tools::ensure_wasm_target()
            .and_then(|()| tools::ensure_wasm_bindgen())
            .and_then(|()| widget::build())
            .and_then(|()| {
                let (raw, gzip) = bench::bundle_sizes()?;
                let brotli = bench::bundle_brotli_bytes()?;
                let lazy = bench::bundle_lazy_gzip_bytes()?;
                let rare = bench::bundle_rare_gzip_bytes()?;
                let identity = bench::bundle_identity_gzip_bytes()?;
                println!(
                    "bundle: {raw} bytes raw, {gzip} gzip, {brotli} brotli; second module (on first use) {lazy} gzip; third module (on first use) {rare} gzip; with data-identify {identity} gzip"
                );
                Ok(())
            }),
        Some("bench") if args.get(1).map(String::as_str) == Some("load") => bench::run_load(),
        Some("bench") if args.get(1).map(String::as_str) == Some("scale") => bench::run_scale(),
        Some("bench") if args.get(1).map(String::as_str) == Some("browser") => {
            bench::run_browser()
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("soak") => bench::run_soak(),
        Some("bench") => bench::run(),
        Some("fuzz") => match args.get(1).map(|s| s.parse::<u32>()) {
            None => fuzz::run(60),
            Some(Ok(seconds)) if seconds > 0 => fuzz::run(seconds),
            Some(_) => Err(anyhow::anyhow!("fuzz takes a number of seconds per target")),
        },
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(err) = result {
        eprintln!("xtask: {err:#}");
        std::process::exit(1);
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
