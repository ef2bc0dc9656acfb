//! Installing what a fresh machine lacks: the wasm target, the pinned
//! wasm-bindgen CLI, Chromium with its driver, Firefox, and the npm dev
//! tools.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::root;
use crate::run::{has, is_root, output, sh, step};

/// The wasm-bindgen version pinned with `=` in the root Cargo.toml.
pub fn wasm_bindgen_version() -> Result<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("wasm-bindgen = \"="))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
        .context("Cargo.toml must pin wasm-bindgen as `wasm-bindgen = \"=X.Y.Z\"`")
}

/// The wasm32 target and the standard library's source, via rustup.
pub fn ensure_wasm_target() -> Result<()> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        step("installing the wasm32-unknown-unknown target");
        sh(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let components = output(Command::new("rustup").args(["component", "list", "--installed"]))
        .unwrap_or_default();
    if !components.lines().any(|l| l.trim().starts_with("rust-src")) {
        // The shipped widget rebuilds the standard library for size.
        step("installing the rust-src component");
        sh(Command::new("rustup").args(["component", "add", "rust-src"]))?;
    }
    Ok(())
}

/// wasm-bindgen CLI at exactly the pinned version.
pub fn ensure_wasm_bindgen() -> Result<()> {
    let want = wasm_bindgen_version()?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(want.as_str()) {
        step(&format!(
            "installing wasm-bindgen-cli {want} (found: {}); this takes a few minutes",
            if have.is_empty() { "none" } else { have.trim() }
        ));
        sh(Command::new("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &want,
            "--force",
        ]))?;
    }
    Ok(())
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Chromium and chromedriver paths, installing Debian's packages as root.
pub fn ensure_chromium() -> Result<(PathBuf, PathBuf)> {
    let browsers = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
    let drivers = ["/usr/bin/chromedriver"];
    if let (Some(b), Some(d)) = (find(&browsers), find(&drivers)) {
        return Ok((b, d));
    }
    if !is_root() {
        bail!(
            "Chromium and chromedriver are needed for the browser tests: install Debian's \
             `chromium` and `chromium-driver` packages (or run this as root to install them)"
        );
    }
    step("installing chromium and chromium-driver (Debian packages)");
    apt_install(&["chromium", "chromium-driver"])?;
    match (find(&browsers), find(&drivers)) {
        (Some(b), Some(d)) => Ok((b, d)),
        _ => bail!("chromium or chromedriver is still missing after installing them"),
    }
}

/// Firefox's path, installing Debian's `firefox-esr` as root: the
/// end-to-end tests run the cross-origin and cross-tab paths in it too.
pub fn ensure_firefox() -> Result<PathBuf> {
    let browsers = ["/usr/bin/firefox-esr", "/usr/bin/firefox"];
    if let Some(b) = find(&browsers) {
        return Ok(b);
    }
    if !is_root() {
        bail!(
            "Firefox is needed for the end-to-end tests: install Debian's `firefox-esr` \
             package (or run this as root to install it)"
        );
    }
    step("installing firefox-esr (Debian package)");
    apt_install(&["firefox-esr"])?;
    find(&browsers).context("firefox is still missing after installing firefox-esr")
}

pub fn apt_install(packages: &[&str]) -> Result<()> {
    sh(Command::new("apt-get").arg("update").arg("-q"))?;
    sh(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages))
}

/// Node.js and npm, installing Debian's as root when missing.
pub fn ensure_node() -> Result<()> {
    if has("node") && has("npm") {
        return Ok(());
    }
    if !is_root() {
        bail!("Node.js and npm are needed for the end-to-end tests: install them first");
    }
    step("installing nodejs and npm (Debian packages)");
    apt_install(&["nodejs", "npm"])
}

/// The npm dev tools of package.json (playwright-core, binaryen), installed
/// from the lockfile when missing or out of date.
pub fn ensure_npm_tools() -> Result<PathBuf> {
    let root = root();
    let modules = root.join("node_modules");
    let stamp = modules.join(".package-lock.json");
    if !fresher(&stamp, &root.join("package-lock.json")) {
        step("installing npm dev tools (npm ci)");
        sh(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]))?;
    }
    Ok(modules)
}

/// Is `a` at least as new as `b`?
fn fresher(a: &Path, b: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(a), modified(b)) {
        (Some(x), Some(y)) => x >= y,
        _ => false,
    }
}

/// `wasm-opt` from the npm package binaryen, if installed.
pub fn wasm_opt() -> Option<PathBuf> {
    npm_bin("wasm-opt")
}

/// `terser` from npm, if installed.
pub fn terser() -> Option<PathBuf> {
    npm_bin("terser")
}

fn npm_bin(name: &str) -> Option<PathBuf> {
    let path = root().join("node_modules/.bin").join(name);
    path.exists().then_some(path)
}
