//! Building the widget into `pkg/`: cargo (wasm32, release), wasm-bindgen,
//! then wasm-opt when available.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use crate::root;
use crate::run::{sh, step};
use crate::tools;

/// Files of the shipped bundle, in load order.
pub fn bundle_files() -> Vec<PathBuf> {
    let root = root();
    vec![
        root.join("www/dangol.js"),
        root.join("pkg/dangol.js"),
        root.join("pkg/dangol_bg.wasm"),
    ]
}

/// wasm-opt's flags: smallest code, plus the features Rust 1.95 emits.
pub const WASM_OPT_FLAGS: &[&str] = &[
    "-Oz",
    "--converge",
    "--strip-debug",
    "--strip-producers",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds the release widget into `pkg/`.
pub fn build() -> Result<()> {
    step("building the widget (wasm32, release)");
    sh(Command::new("cargo").args([
        "build",
        "--release",
        "--lib",
        "--package",
        "dangol",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    let root = root();
    let wasm = crate::bench::target_dir().join("wasm32-unknown-unknown/release/dangol.wasm");
    sh(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(root.join("pkg"))
        .arg(&wasm))?;
    let out = root.join("pkg/dangol_bg.wasm");
    match tools::wasm_opt() {
        Some(opt) => {
            step("optimising the wasm (wasm-opt -Oz)");
            sh(Command::new(opt)
                .args(WASM_OPT_FLAGS)
                .arg("-o")
                .arg(&out)
                .arg(&out))?;
        }
        None => println!("(wasm-opt not installed: the wasm is left unoptimised)"),
    }
    let glue = root.join("pkg/dangol.js");
    match tools::terser() {
        Some(terser) => {
            step("minifying the JS glue (terser)");
            sh(Command::new(terser)
                .arg(&glue)
                .args(["--module", "--compress", "--mangle", "--output"])
                .arg(&glue))?;
        }
        None => println!("(terser not installed: the JS glue is left unminified)"),
    }
    build_preview()
}

/// Builds the dashboard's preview of the widget (the `preview` feature:
/// the real engine and renderer, driven by the dashboard) into
/// `pkg/preview/`. A debug build: it is never shipped to shops.
pub fn build_preview() -> Result<()> {
    step("building the dashboard's preview of the widget (wasm32, preview feature)");
    sh(Command::new("cargo").args([
        "build",
        "--lib",
        "--package",
        "dangol",
        "--features",
        "preview",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    sh(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(root().join("pkg/preview"))
        .arg(crate::bench::target_dir().join("wasm32-unknown-unknown/debug/dangol.wasm")))
}
