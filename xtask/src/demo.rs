//! `cargo xtask demo`: build everything and serve the demo storefront.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::root;
use crate::run::{has, sh, step};
use crate::{tools, widget};

/// Builds the widget and the server, then runs the server in place of this
/// process so Ctrl-C stops it cleanly.
pub fn run(args: &[String]) -> Result<()> {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => addr = it.next().context("--addr needs HOST:PORT")?.clone(),
            other => bail!("unknown option {other:?} (try --addr HOST:PORT)"),
        }
    }
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    if has("npm") {
        if let Err(e) = tools::ensure_npm_tools() {
            println!("(npm dev tools unavailable: {e:#}; continuing without wasm-opt)");
        }
    } else {
        println!("(npm not found: the widget is built without wasm-opt)");
    }
    widget::build()?;
    step("building dangol-server");
    sh(Command::new("cargo").args(["build", "--package", "dangol-server"]))?;

    let root = root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let token = crate::bench::random_hex(16);
    let redeem_key = crate::bench::random_hex(16);
    let mut server = Command::new(target.join("debug/dangol-server"));
    server
        .current_dir(&root)
        .env("DANGOL_ADMIN_TOKEN", &token)
        .env("DANGOL_REDEEM_KEY", &redeem_key)
        .args([
            "--addr",
            &addr,
            "--data-dir",
            "data",
            "--www",
            "www",
            "--pkg",
            "pkg",
        ])
        .args(["--seed-demo", "--seed-demo-history"]);
    step("starting dangol-server (Ctrl-C stops it)");
    println!("  admin API token for this run: {token}");
    println!("  coupon redeem key for this run: {redeem_key}");
    exec(server)
}

#[cfg(unix)]
fn exec(mut cmd: Command) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    Err(err).context("could not start dangol-server")
}

#[cfg(not(unix))]
fn exec(mut cmd: Command) -> Result<()> {
    let status = cmd.status().context("could not start dangol-server")?;
    if !status.success() {
        bail!("dangol-server exited with {status}");
    }
    Ok(())
}
