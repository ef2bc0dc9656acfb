//! `cargo xtask bench`: named figures, unit in the name, written to
//! `target/bench/report.json` and printed as a table.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Map, Value};

use crate::run::step;
use crate::{root, tools, widget};

/// Raw and gzip -9 sizes of the shipped bundle (loader + glue + wasm).
pub fn bundle_sizes() -> Result<(u64, u64)> {
    let mut raw = 0u64;
    let mut gzip = 0u64;
    for file in widget::bundle_files() {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        raw += bytes.len() as u64;
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&bytes)?;
        gzip += enc.finish()?.len() as u64;
    }
    Ok((raw, gzip))
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

pub fn run() -> Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_node()?;
    tools::ensure_npm_tools()?;
    widget::build()?;

    step("measuring");
    let mut report = Map::new();
    let (raw, gzip) = bundle_sizes()?;
    report.insert("bundle_raw_bytes".into(), Value::from(raw));
    report.insert("bundle_gzip_bytes".into(), Value::from(gzip));

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
