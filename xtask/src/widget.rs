//! Building the widget into `pkg/`: cargo (wasm32, release), wasm-bindgen,
//! then wasm-opt when available.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::root;
use crate::run::{sh, step};
use crate::share::Names;
use crate::tools;

/// Where the second module (loaded on first use) goes, under `pkg/`.
pub const MORE: &str = "more";

/// Where the third module (the profile's JSON form, loaded on first use
/// by `dangol.export()` and the upgrade of an earlier widget's profile)
/// goes, under `pkg/`.
pub const RARE: &str = "rare";

/// Where the identity build of the first module goes, under `pkg/`: the
/// loader loads it instead of `pkg/`'s when the script tag has
/// `data-identify` (pages that call `dangol.identify`).
pub const ID: &str = "id";

/// Files of the second module: the glue and the packed wasm, loaded on
/// first use.
pub fn lazy_files() -> Vec<PathBuf> {
    let more = root().join("pkg").join(MORE);
    vec![more.join("dangol.js"), more.join(PACK)]
}

/// Files of the third module: the glue and the packed wasm, loaded on
/// first use.
pub fn rare_files() -> Vec<PathBuf> {
    let rare = root().join("pkg").join(RARE);
    vec![rare.join("dangol.js"), rare.join(PACK)]
}

/// Files of the shipped bundle's first load, in load order: the loader,
/// which holds the first module's glue (see [`with_glue`]), and the wasm
/// as packed (see [`PACK`]).
pub fn bundle_files() -> Vec<PathBuf> {
    let pkg = root().join("pkg");
    vec![pkg.join(LOADER), pkg.join(PACK)]
}

/// Files of the first load with `data-identify`: the loader, whose glue
/// takes the identity build too (see [`crate::share`]), and the identity
/// build's packed wasm.
pub fn identity_bundle_files() -> Vec<PathBuf> {
    let pkg = root().join("pkg");
    vec![pkg.join(LOADER), pkg.join(ID).join(PACK)]
}

/// A module's wasm as the loader fetches it: packed, its code split into
/// streams that compress better (see [`crate::pack`]), with the decoder in
/// front in the first load's. The wasm itself stays beside it, for pages
/// that import a module themselves.
pub const PACK: &str = "dangol_bg.pack";

/// The files of each module's directory that the server serves by build.
const MODULE_FILES: [&str; 3] = ["dangol.js", "dangol_bg.wasm", PACK];

/// The decoder of the packs (`crates/unpack`, built for wasm32 and
/// optimised), which the first load's packs carry in front.
fn build_decoder() -> Result<Vec<u8>> {
    let target = crate::bench::target_dir().join("unpack");
    sh(Command::new("cargo")
        .args([
            "rustc",
            "--package",
            "dangol-unpack",
            "--profile",
            "wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--crate-type",
            "cdylib",
            "--target-dir",
        ])
        .arg(&target)
        .args(["--", "-Clink-arg=-zstack-size=4096"]))?;
    let wasm = target.join("wasm32-unknown-unknown/wasm/dangol_unpack.wasm");
    let out = target.join("decoder.wasm");
    match tools::wasm_opt() {
        Some(opt) => sh(Command::new(&opt)
            .args(WASM_OPT_FLAGS)
            .args(WASM_FEATURES)
            .arg("-o")
            .arg(&out)
            .arg(&wasm))?,
        None => {
            std::fs::copy(&wasm, &out)?;
        }
    }
    Ok(std::fs::read(&out)?)
}

/// `dir`'s wasm packed into [`PACK`], with `decoder` in front (empty for
/// none).
fn write_pack(dir: &Path, decoder: &[u8]) -> Result<()> {
    let wasm = std::fs::read(dir.join("dangol_bg.wasm"))?;
    let packed = crate::pack::pack_file(&wasm, decoder)
        .with_context(|| format!("packing {}", dir.join("dangol_bg.wasm").display()))?;
    std::fs::write(dir.join(PACK), packed)?;
    Ok(())
}

/// wasm-opt's flags for its first run: smallest code, with
/// [`WASM_SETTINGS`] and the features Rust 1.95 emits ([`WASM_FEATURES`]).
/// `--strip-target-features` drops the section naming the wasm features
/// the module was built with (0.1 KB gzip): browsers do not read it; it is
/// for linkers. Two more runs follow ([`WASM_RELOOP_FLAGS`],
/// [`WASM_LAST_FLAGS`]); the functions are then put in order by
/// [`crate::order`] and [`WASM_ORDER_FLAGS`].
pub const WASM_OPT_FLAGS: &[&str] = &[
    "-Oz",
    "--converge",
    "--strip-debug",
    "--strip-producers",
    "--strip-target-features",
];

/// What every optimising wasm-opt run may assume of Rust's wasm, and how
/// far it inlines.
///
/// `--low-memory-unused` lets wasm-opt fold a constant added to a pointer
/// into the load's or store's own offset (0.7 KB less gzip). The two differ
/// only when the addition wraps around 2^32 into the first kilobyte of
/// memory, which a Rust program never addresses that way: its data sits
/// above the stack, and the stack reaches its lowest kilobyte only a
/// kilobyte short of overflowing.
///
/// `--ignore-implicit-traps` lets wasm-opt drop or move a load whose value
/// goes unused, and a division, as if neither could trap (0.3 KB less
/// gzip). In Rust's wasm neither does: safe code checks every index and
/// divisor itself and panics (an explicit `unreachable`, which still traps)
/// before it could address memory out of bounds or divide by zero.
///
/// `--one-caller-inline-max-function-size=20` keeps a function called from
/// one place a function of its own unless it is tiny, where wasm-opt would
/// inline it whatever its size. The raw code grows by about 3 % (a call
/// and a function header each), yet it compresses better: many small
/// functions of like shape give gzip and brotli more repeats than a few
/// large ones with everything inlined (the first load 1.9 KB less gzip,
/// the identity build 2.6 KB, the second module 0.7 KB; a limit of 10 or
/// 30 saves a little less, 100 or more a third as much). The price is a
/// call where there was none: in one page, alternated, 100 conditions
/// evaluate in about a tenth more time (3.2 against 2.9 µs) and the
/// 100-campaign config loads in 116 against 104 µs; V8 compiles the
/// module 5–10 % slower, of under a millisecond.
const WASM_SETTINGS: &[&str] = &[
    "--one-caller-inline-max-function-size=20",
    "--low-memory-unused",
    "--ignore-implicit-traps",
];

/// A second wasm-opt run over the first's output: the code flattened
/// (every expression's value in a local of its own), its control flow
/// rebuilt by binaryen's relooper from the blocks and branches that are
/// left, then optimised again at `-Os` until nothing changes. The relooper
/// finds a shape for LLVM's branchy code with fewer blocks and `br_table`
/// ladders than LLVM's own, and the locals flattening adds are taken out
/// again by the passes after it. The first load is 323 bytes smaller
/// gzipped (the second module 174, the identity build 216); `-Oz` after
/// the relooper saves 84 bytes less, and a second round of the same a few
/// bytes more or less, within gzip's noise. A last `-Oz` run on its
/// result ([`WASM_LAST_FLAGS`]) takes 209 bytes more off (the second module
/// 116, the identity build 310); `-Os` there 171, with `--converge` 132.
/// The price is speed, a little: the 100-campaign config loads about 7 %
/// slower and 100 conditions evaluate up to 7 % slower (the bench builds
/// with and without these runs, alternated 41 times in Node: 224 against
/// 210 µs, 4.55 against 4.52 µs), some microseconds a page; V8 compiles
/// both modules in the same time (0.47 ms, median of 80 alternated).
const WASM_RELOOP_FLAGS: &[&str] = &["--flatten", "--rereloop", "-Os", "--converge"];

/// The last optimising run, once, after [`WASM_RELOOP_FLAGS`].
const WASM_LAST_FLAGS: &[&str] = &["-Oz"];

/// The wasm features Rust 1.95 emits, for every wasm-opt run.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// The second wasm-opt run, which optimises nothing: functions sorted by
/// the names [`crate::order::name_by_likeness`] gave them, so that alike
/// functions sit side by side where gzip and brotli find their likeness
/// (the first load 1.5 KB less gzip and 0.9 KB less brotli than
/// wasm-opt's own order by name, which keeps only a generic function's
/// instantiations together and was itself 0.5 KB better than no order),
/// then the names stripped.
const WASM_ORDER_FLAGS: &[&str] = &["--reorder-functions-by-name", "--strip-debug"];

/// Builds the release widget into `pkg/`.
pub fn build() -> Result<()> {
    step("building the widget (wasm32, release)");
    build_bundle(&[], &root().join("pkg"))?;
    build_preview()
}

/// The shipped pipeline, for the widget and for its `bench` build alike:
/// the first module with `features` into `out`, its identity build into
/// `out/id/`, the second module (the `more` feature) into `out/more/`, the
/// third (the `rare` feature) into `out/rare/`, each by [`build_module`];
/// then the loader, the build id over all eight files,
/// the compressed copies and the build's own directory.
pub fn build_bundle(features: &[&str], out: &Path) -> Result<()> {
    let first = build_module(features, out)?;
    step("building the widget's identity build (pages with data-identify)");
    let identity = out.join(ID);
    let mut with_identity = features.to_vec();
    with_identity.push("identity");
    let names = build_module(&with_identity, &identity)?;
    step("giving the identity build the first module's names, so the first module's glue takes it");
    let wasm = identity.join("dangol_bg.wasm");
    std::fs::write(
        &wasm,
        crate::share::as_first(&std::fs::read(&wasm)?, &names, &first)?,
    )?;
    std::fs::copy(out.join("dangol.js"), identity.join("dangol.js"))?;
    step("building the widget's second module (loaded on first use)");
    let more = out.join(MORE);
    build_module(&["more"], &more)?;
    step("building the widget's third module (the profile's JSON form, loaded on first use)");
    let rare = out.join(RARE);
    build_module(&["rare"], &rare)?;
    step("packing the wasm of each module (see xtask/src/pack.rs)");
    let decoder = build_decoder()?;
    write_pack(out, &decoder)?;
    write_pack(&identity, &decoder)?;
    write_pack(&more, &[])?;
    write_pack(&rare, &[])?;
    let loader = out.join(LOADER);
    // The engine's GA4 lists and the widget's numbered calls, written into
    // the loader before minifying.
    let source = std::fs::read_to_string(root().join("www/dangol.js"))?;
    let glue = glue_function(&std::fs::read_to_string(out.join("dangol.js"))?)?;
    std::fs::write(
        &loader,
        with_glue(&with_calls(&with_ga4_lists(&source)?)?, &glue)?,
    )?;
    match tools::terser() {
        Some(terser) => sh(Command::new(&terser)
            .arg(&loader)
            .args(TERSER_FLAGS)
            .args(["--comments", "false", "--output"])
            .arg(&loader))?,
        None => println!("(terser not installed: the loader is left unminified)"),
    }
    // The build id: the loader asks for the modules of its own build.
    let mut crc = flate2::Crc::new();
    for dir in [out, identity.as_path(), more.as_path(), rare.as_path()] {
        for name in MODULE_FILES {
            crc.update(&std::fs::read(dir.join(name))?);
        }
    }
    let id = format!("{:08x}", crc.sum());
    let text = std::fs::read_to_string(&loader)?;
    std::fs::write(
        &loader,
        fill(&text, "DANGOL_BUILD", &Value::from(id.as_str()))?,
    )?;
    std::fs::write(out.join(BUILD_ID), &id)?;
    precompress(out, &[LOADER])?;
    for dir in [out, identity.as_path(), more.as_path(), rare.as_path()] {
        precompress(dir, &MODULE_FILES)?;
    }
    keep_build(out, &id)
}

/// The loader's source with the engine's GA4 lists in place of
/// `"DANGOL_GA4"`: the `dataLayer` events dangol reads, an event's fields
/// (its items apart), an item's fields and the most items read (one more
/// than the engine accepts, so an over-long list is refused by name). The
/// loader copies only these fields out of what tag managers push.
fn with_ga4_lists(loader: &str) -> Result<String> {
    use dangol_engine::track;
    let fields: Vec<&str> = track::EVENT_FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "items")
        .collect();
    let lists = serde_json::json!([
        track::DATA_LAYER_EVENTS,
        fields,
        track::ITEM_FIELDS,
        track::MAX_ITEMS + 1,
    ]);
    fill(loader, "DANGOL_GA4", &lists)
}

/// The loader's source with the widget's calls (`dangol_engine::calls`,
/// each at its number) in place of `"DANGOL_CALLS"`.
fn with_calls(loader: &str) -> Result<String> {
    fill(
        loader,
        "DANGOL_CALLS",
        &serde_json::json!(dangol_engine::calls::NAMES),
    )
}

/// Where the loader's source holds the first module's glue.
const GLUE_MARKER: &str = "/* DANGOL_GLUE */ null";

/// The loader's source with `glue` (see [`glue_function`]) in place of
/// [`GLUE_MARKER`]: the first load is then the loader and the wasm, one
/// request fewer, and the two scripts compress as one (183 bytes less
/// gzipped than apart). The glue's own file stays in `pkg/` for pages that
/// import the module themselves; the identity build's is imported.
fn with_glue(loader: &str, glue: &str) -> Result<String> {
    put_in(loader, GLUE_MARKER, glue)
}

/// wasm-bindgen's glue module, as terser wrote it, as a function
/// expression that runs the module's code (strict, as a module's is) and
/// returns what the module exports: each `export function f` and
/// `export class C`, and the closing `export{a as b,…};`. A glue that
/// imports, exports anything else or reads `import.meta` is refused, as is
/// one without `start`, `call` and the init (`default`) the loader uses.
fn glue_function(glue: &str) -> Result<String> {
    const EXPORT: &str = "export ";
    let code = glue.trim_end();
    let at = code
        .rfind("export{")
        .context("the glue does not end in an `export{…};` list")?;
    let list = code[at..]
        .strip_prefix("export{")
        .and_then(|l| l.strip_suffix("};"))
        .context("the glue does not end in an `export{…};` list")?;
    let mut exports: Vec<(String, String)> = Vec::new();
    for item in list.split(',') {
        let (local, name) = item.split_once(" as ").unwrap_or((item, item));
        exports.push((name.trim().to_string(), local.trim().to_string()));
    }
    let mut body = String::with_capacity(code.len());
    let mut rest = &code[..at];
    while let Some(i) = rest.find(EXPORT) {
        body.push_str(&rest[..i]);
        rest = &rest[i + EXPORT.len()..];
        let Some(named) = ["function ", "class "]
            .iter()
            .find_map(|kind| rest.strip_prefix(kind))
        else {
            bail!("the glue has `export ` where only exported functions and classes were expected");
        };
        let name = &named[..named.find(|c: char| !is_ident(c)).unwrap_or(named.len())];
        if name.is_empty() {
            bail!("an exported function or class of the glue has no name");
        }
        exports.push((name.to_string(), name.to_string()));
    }
    body.push_str(rest);
    for banned in ["export ", "export{", "import(", "import.meta", "import "] {
        if body.contains(banned) {
            bail!(
                "the glue has `{banned}` where only exported functions and classes were expected"
            );
        }
    }
    for needed in ["start", "call", "default"] {
        if !exports.iter().any(|(name, _)| name == needed) {
            bail!("the glue exports no `{needed}`");
        }
    }
    let object: Vec<String> = exports
        .iter()
        .map(|(name, local)| format!("{name}:{local}"))
        .collect();
    Ok(format!(
        "function(){{\"use strict\";{body}return{{{}}}}}",
        object.join(",")
    ))
}

/// The loader's source with `value` as JSON in place of the string
/// `"<marker>"`, which the source must hold once.
fn fill(loader: &str, marker: &str, value: &Value) -> Result<String> {
    put_in(loader, &format!("\"{marker}\""), &value.to_string())
}

/// The loader's source with `text` in place of `marker`, which the source
/// must hold exactly once.
fn put_in(loader: &str, marker: &str, text: &str) -> Result<String> {
    if loader.matches(marker).count() != 1 {
        bail!("the loader has no single {marker} to fill in");
    }
    Ok(loader.replace(marker, text))
}

/// The standard library and the other crates the widget depends on
/// (serde_json, wasm-bindgen, js-sys, the allocator…) are optimised at
/// level 2, the widget and the engine for size. At "z" none of the
/// standard library's small helpers is inlined: every allocation went
/// through a chain of calls (`to_vec_in`, `with_capacity_in`,
/// `try_allocate_in`, `layout_array`…), about a third of the time reading
/// a stored config took. At level 2 they are inlined, and the first load is
/// also smaller: the helpers and wrappers no longer exist as functions of
/// their own. The engine at level 2 would be 14 KB larger in gzip. Since
/// every function is inlinable across crates (see [`build_module`]), the
/// helpers are compiled into their callers anyway and this level matters
/// less: "z" and 3 come within 10 bytes of 2, "s" 86 bytes under it.
const DEPENDENCY_OPT_LEVEL: [&str; 4] = [
    "profile.wasm.package.core.opt-level=2",
    "profile.wasm.package.alloc.opt-level=2",
    "profile.wasm.package.std.opt-level=2",
    "profile.wasm.package.\"*\".opt-level=2",
];

/// One module of the widget, with `features`, into `out`:
///
/// 1. cargo, release, with the standard library rebuilt for size and
///    panics that trap at once (no panic messages or formatting in the
///    wasm; a trap reaches the loader as an exception it already catches),
///    so no source locations are kept for panic messages either.
///    That needs `RUSTC_BOOTSTRAP` and the `rust-src` component; it builds
///    in its own target directory so other builds keep their caches. The
///    standard library and the other dependencies at
///    [`DEPENDENCY_OPT_LEVEL`].
///    Reference types are off: wasm-bindgen then keeps the page's objects
///    in a table on the JS side instead of adding an `externref` shim to
///    every export, which is 1.2 KB smaller gzipped, glue included.
///    Every function may be inlined across crates
///    (`-Zcross-crate-inline-threshold=always`), as if each were marked
///    `#[inline]`: the standard library's and the engine's small functions
///    are then inlined where the widget calls them and compiled with the
///    caller, instead of being called as the one copy their own crate
///    built. The first load is 5.4 KB smaller in gzip, and conditions and
///    the config load faster (measured in `docs/widget-size.md`).
///    LLVM's loop strength reduction is off (`-disable-lsr`): it adds
///    induction variables (pointers stepped alongside a loop's index),
///    which in wasm's stack code cost locals and instructions in every
///    loop; turning it off takes another 600 bytes off the first load.
/// 2. wasm-bindgen, then the function table's entries nothing can call
///    pointed elsewhere (see [`crate::table`]).
/// 3. wasm-opt `-Oz`, which also shortens the names the wasm imports and
///    exports (wasm-bindgen's are long and hashed, and appear in both
///    files); the JS glue is rewritten with the new names.
/// 4. terser on the glue.
fn build_module(features: &[&str], out: &Path) -> Result<Names> {
    let target = crate::bench::target_dir().join("ship");
    let mut cargo = Command::new("cargo");
    cargo
        .env("RUSTC_BOOTSTRAP", "1")
        .env(
            "RUSTFLAGS",
            "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Ctarget-feature=-reference-types -Cllvm-args=-disable-lsr -Zcross-crate-inline-threshold=always",
        )
        .args([
            "build",
            "--profile",
            "wasm",
            "--lib",
            "--package",
            "dangol",
            "--target",
            "wasm32-unknown-unknown",
            "-Zbuild-std=std,panic_abort",
            "-Zbuild-std-features=optimize_for_size",
        ])
        .args(DEPENDENCY_OPT_LEVEL.iter().flat_map(|c| ["--config", c]))
        .arg("--target-dir")
        .arg(&target);
    if !features.is_empty() {
        cargo.arg("--features").arg(features.join(","));
    }
    sh(&mut cargo)?;
    sh(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(out)
        .arg(target.join("wasm32-unknown-unknown/wasm/dangol.wasm")))?;
    let wasm = out.join("dangol_bg.wasm");
    let glue = out.join("dangol.js");
    std::fs::write(&glue, lean_init(&std::fs::read_to_string(&glue)?)?)?;
    let (bytes, dropped) = crate::table::drop_orphans(&std::fs::read(&wasm)?)?;
    if dropped > 0 {
        step(&format!(
            "pointing {dropped} function table entries nothing can call at a live function (see xtask/src/table.rs)"
        ));
        std::fs::write(&wasm, bytes)?;
    }
    let names = match tools::wasm_opt() {
        Some(opt) => {
            step("optimising the wasm (wasm-opt -Oz) and shortening its import and export names");
            let mapping = Command::new(&opt)
                .arg("--minify-imports-and-exports-and-modules")
                .args(WASM_OPT_FLAGS)
                .args(WASM_SETTINGS)
                .args(WASM_FEATURES)
                .arg("-o")
                .arg(&wasm)
                .arg(&wasm)
                .stderr(std::process::Stdio::inherit())
                .output()
                .context("running wasm-opt")?;
            if !mapping.status.success() {
                bail!("wasm-opt failed ({})", mapping.status);
            }
            step(
                "rebuilding the wasm's control flow (wasm-opt's relooper), then -Os and -Oz again",
            );
            // wasm-opt over the wasm in place, with `flags`.
            let again = |flags: &[&str]| {
                sh(Command::new(&opt)
                    .args(flags)
                    .args(WASM_SETTINGS)
                    .args(WASM_FEATURES)
                    .arg("-o")
                    .arg(&wasm)
                    .arg(&wasm))
            };
            again(WASM_RELOOP_FLAGS)?;
            again(WASM_LAST_FLAGS)?;
            step("ordering the wasm's functions by likeness (see xtask/src/order.rs)");
            std::fs::write(
                &wasm,
                crate::order::name_by_likeness(&std::fs::read(&wasm)?)?,
            )?;
            again(WASM_ORDER_FLAGS)?;
            // `--converge` reruns the passes, so one mapping per round.
            let mappings = serde_json::Deserializer::from_slice(&mapping.stdout)
                .into_iter::<Value>()
                .collect::<Result<Vec<_>, _>>()
                .context("reading the name mappings wasm-opt printed")?;
            let modules = import_modules(&std::fs::read(&wasm)?)?;
            let [module] = modules.as_slice() else {
                bail!("expected the wasm to import from one module, found {modules:?}");
            };
            let names = final_names(&mappings, module)?;
            let text = std::fs::read_to_string(&glue)?;
            std::fs::write(&glue, rename_in_glue(&text, &names)?)?;
            names
        }
        None => {
            println!("(wasm-opt not installed: the wasm is left unoptimised)");
            Names::unchanged(&std::fs::read(&wasm)?)?
        }
    };
    match tools::terser() {
        Some(terser) => {
            step("minifying the JS glue (terser)");
            sh(Command::new(&terser)
                .arg(&glue)
                .arg("--module")
                .args(TERSER_FLAGS)
                .arg("--output")
                .arg(&glue))?;
        }
        None => println!("(terser not installed: the JS glue is left unminified)"),
    }
    Ok(names)
}

/// The init the shipped glue keeps: the loader fetches and compiles the
/// wasm itself (streaming, with its own fetch options, while the glue
/// loads) and hands over the module or a promise of it, so wasm-bindgen's
/// fetching, its `application/wasm` fallback, `initSync` and the warnings
/// about deprecated arguments are never reached.
const LEAN_INIT: &str = "async function __wbg_init(module) {
    if (wasm !== undefined) return wasm;
    module = await module;
    const instance = await WebAssembly.instantiate(module, __wbg_get_imports());
    return __wbg_finalize_init(instance, module);
}

export { __wbg_init as default };
";

/// wasm-bindgen's glue with everything from its loading function on
/// replaced by [`LEAN_INIT`]. Refuses a glue whose shape differs from the
/// pinned wasm-bindgen's, rather than ship a broken one.
fn lean_init(glue: &str) -> Result<String> {
    const LOAD: &str = "async function __wbg_load(";
    const EXPORT: &str = "export { initSync, __wbg_init as default };";
    let Some(start) = glue.find(LOAD) else {
        bail!("the glue has no `{LOAD}`: not the glue of the pinned wasm-bindgen");
    };
    if !glue.trim_end().ends_with(EXPORT) || !glue.contains("function __wbg_finalize_init(") {
        bail!(
            "the glue does not end in `{EXPORT}` after `__wbg_finalize_init`: not the glue of the pinned wasm-bindgen"
        );
    }
    Ok(format!("{}{LEAN_INIT}", &glue[..start]))
}

/// terser's flags for the loader and the glues. Function expressions that
/// use neither `this` nor `arguments` become arrow functions
/// (`unsafe_arrows`: unsafe only for a function called with `new`, which
/// neither the loader's nor wasm-bindgen's callbacks are), and the
/// compressor runs twice. Arrows are ES2015, which every browser with
/// WebAssembly has; `--ecma 2015` keeps terser from writing anything newer.
/// The first load is 62 bytes smaller gzipped (the loader 26, the glue 36),
/// the second module's glue 35.
const TERSER_FLAGS: &[&str] = &[
    "--ecma",
    "2015",
    "--compress",
    "ecma=2015,unsafe_arrows=true,passes=2",
    "--mangle",
];

/// How many builds' files the server keeps serving: the current one and the
/// ones before it, for pages whose loader was cached before an upgrade.
pub const KEPT_BUILDS: usize = 3;

/// The glue and the wasm (with their compressed copies) also go to
/// `builds/<id>/`, where the server finds a build by the id its loader
/// asks for. Only the newest [`KEPT_BUILDS`] builds stay.
fn keep_build(out: &Path, id: &str) -> Result<()> {
    let builds = out.join("builds");
    let dir = builds.join(id);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(dir.join(MORE))?;
    std::fs::create_dir_all(dir.join(RARE))?;
    std::fs::create_dir_all(dir.join(ID))?;
    for name in MODULE_FILES {
        for suffix in ["", ".br", ".gz"] {
            for file in [
                format!("{name}{suffix}"),
                format!("{ID}/{name}{suffix}"),
                format!("{MORE}/{name}{suffix}"),
                format!("{RARE}/{name}{suffix}"),
            ] {
                std::fs::copy(out.join(&file), dir.join(&file))
                    .with_context(|| format!("keeping {file} of build {id}"))?;
            }
        }
    }
    let mut kept = Vec::new();
    for entry in std::fs::read_dir(&builds)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            kept.push((entry.metadata()?.modified()?, entry.path()));
        }
    }
    kept.sort_by_key(|k| std::cmp::Reverse(k.0));
    for (_, old) in kept.iter().skip(KEPT_BUILDS) {
        std::fs::remove_dir_all(old)?;
    }
    Ok(())
}

/// The build id's file: the server answers only for this build's files.
pub const BUILD_ID: &str = "build-id";

/// The loader as shipped (minified from `www/dangol.js`); the server
/// answers `/dangol.js` with it.
pub const LOADER: &str = "loader.js";

/// The loader, the glue and the wasm as brotli and gzip too (`<file>.br`, `<file>.gz`),
/// which the server sends to browsers that accept them.
fn precompress(out: &Path, names: &[&str]) -> Result<()> {
    for name in names {
        let bytes = std::fs::read(out.join(name))?;
        std::fs::write(out.join(format!("{name}.br")), brotli(&bytes)?)?;
        std::fs::write(out.join(format!("{name}.gz")), gzip(&bytes)?)?;
    }
    Ok(())
}

/// `bytes` gzipped by Zopfli: a standard gzip stream that any browser
/// inflates, about 4.5 % smaller than zlib's best level (`gzip -9`) for the
/// wasm, at the price of a few seconds of build time. Zopfli splits the
/// stream into blocks with Huffman tables of their own; a packed wasm's
/// streams want more blocks than its default 15 (up to 60: the first
/// module's pack 316 bytes smaller) and 100 rounds of its optimisation
/// rather than 15 (84 smaller), each measured on the first module's pack.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let options = zopfli::Options {
        iteration_count: std::num::NonZeroU64::new(100).context("a zopfli round count")?,
        maximum_block_splits: 60,
        ..zopfli::Options::default()
    };
    zopfli::compress(options, zopfli::Format::Gzip, bytes, &mut out)?;
    Ok(out)
}

/// `bytes` as brotli at the best quality.
pub fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        enc.write_all(bytes)?;
        enc.flush()?;
    }
    Ok(out)
}

/// The final names of wasm-opt's renaming: `mappings` are wasm-opt's, one
/// per round, each renaming the names the round before left, and `module`
/// the import module's name the last round left. A round lists every
/// import and export the wasm still has: one it leaves out was optimised
/// away and has no name here (see [`rename_in_glue`]).
fn final_names(mappings: &[Value], module: &str) -> Result<Names> {
    let pairs = |key: &str, old: usize, new: usize| -> Result<HashMap<String, String>> {
        let mut names: Option<HashMap<String, String>> = None;
        for mapping in mappings {
            let rows = mapping[key]
                .as_array()
                .with_context(|| format!("wasm-opt's mapping has no `{key}` list"))?;
            let round = rows
                .iter()
                .map(|row| match (row[old].as_str(), row[new].as_str()) {
                    (Some(o), Some(n)) => Ok((o.to_string(), n.to_string())),
                    _ => bail!("wasm-opt's mapping has a malformed `{key}` row: {row}"),
                })
                .collect::<Result<HashMap<_, _>>>()?;
            names = Some(match names {
                None => round,
                Some(names) => names
                    .into_iter()
                    .filter_map(|(first, name)| round.get(&name).map(|next| (first, next.clone())))
                    .collect(),
            });
        }
        let names = names.context("wasm-opt printed no name mapping")?;
        let mut new: Vec<&String> = names.values().collect();
        new.sort();
        if let Some(twice) = new.windows(2).find(|w| w[0] == w[1]) {
            bail!("wasm-opt's mappings give two {key} the name `{}`", twice[0]);
        }
        Ok(names)
    };
    Ok(Names {
        imports: pairs("imports", 1, 2)?,
        exports: pairs("exports", 0, 1)?,
        module: module.to_string(),
    })
}

/// The glue with wasm-opt's new names: `wasm.<export>` uses the export's
/// new name, every import's key its new name, and the import object's
/// module key the new module name. An import wasm-opt optimised away has
/// no new name, and its function is left out of the glue (see
/// [`drop_dead_imports`]) rather than kept under its old one, for a later
/// round may give its last short name to another (an import object with
/// two equal keys would hand the wasm the wrong function).
fn rename_in_glue(glue: &str, names: &Names) -> Result<String> {
    let Names {
        imports,
        exports,
        module,
    } = names;
    let glue = drop_dead_imports(glue, imports)?;
    let old_module = "\"./dangol_bg.js\"";
    if glue.matches(old_module).count() != 1 {
        bail!("the glue does not name its import module {old_module} exactly once");
    }
    let glue = glue.replace(old_module, &format!("{module:?}"));
    let mut out = String::with_capacity(glue.len());
    let mut rest = glue.as_str();
    let (mut renamed_imports, mut renamed_exports) = (0, 0);
    while let Some(start) = rest.find(is_ident) {
        let (before, word) = rest.split_at(start);
        let len = word.find(|c: char| !is_ident(c)).unwrap_or(word.len());
        let (word, after) = word.split_at(len);
        out.push_str(before);
        let new = if out.ends_with("wasm.") {
            exports.get(word).inspect(|_| renamed_exports += 1)
        } else {
            imports.get(word).inspect(|_| renamed_imports += 1)
        };
        out.push_str(new.map_or(word, String::as_str));
        rest = after;
    }
    out.push_str(rest);
    if renamed_imports < imports.len() {
        bail!(
            "the glue names {renamed_imports} of the wasm's {} imports",
            imports.len()
        );
    }
    if renamed_exports == 0 {
        bail!("the glue calls none of the wasm's exports by name");
    }
    Ok(out)
}

/// The glue without the functions of its import object that the wasm no
/// longer imports (`live` holds the names of those it does): wasm-opt
/// removed their imports as unused, so they would be shipped and never
/// called (wasm-bindgen's `__wbindgen_throw`, say, in a build whose panics
/// trap at once). Each is a property `__wb…: function…{…},` of the import
/// object; it goes with its comma and the white space after it.
fn drop_dead_imports(glue: &str, live: &HashMap<String, String>) -> Result<String> {
    const VALUE: &str = ": function";
    let mut out = String::with_capacity(glue.len());
    let mut rest = glue;
    while let Some(at) = rest.find(VALUE) {
        let (before, after) = rest.split_at(at);
        let start = before.rfind(|c: char| !is_ident(c)).map_or(0, |i| i + 1);
        let name = &before[start..];
        if !name.starts_with("__wb") || live.contains_key(name) {
            out.push_str(&rest[..at + VALUE.len()]);
            rest = &rest[at + VALUE.len()..];
            continue;
        }
        let body = after
            .find('{')
            .with_context(|| format!("the glue's import `{name}` has no body"))?;
        let end = closing_brace(&after[body..])
            .with_context(|| format!("the glue's import `{name}` never closes"))?;
        let tail = &after[body + end + 1..];
        out.push_str(&before[..start]);
        rest = tail
            .strip_prefix(',')
            .unwrap_or(tail)
            .trim_start_matches([' ', '\n']);
    }
    out.push_str(rest);
    Ok(out)
}

/// Where the brace `code` opens with closes, skipping string literals.
fn closing_brace(code: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in code.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '{' => depth += 1,
                '}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// The module names of a wasm's imports, in order, without repeats.
fn import_modules(wasm: &[u8]) -> Result<Vec<String>> {
    let mut modules: Vec<String> = Vec::new();
    for import in crate::table::imports(wasm, &crate::table::sections(wasm)?)? {
        if !modules.contains(&import.module) {
            modules.push(import.module);
        }
    }
    Ok(modules)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_loader_gets_the_engines_ga4_lists_and_a_loader_without_the_marker_is_refused()
    -> Result<()> {
        let source = std::fs::read_to_string(root().join("www/dangol.js"))?;
        let built = with_ga4_lists(&source)?;
        assert!(!built.contains("DANGOL_GA4"));
        let start = built.find("var GA4 = ").context("no GA4 list")? + "var GA4 = ".len();
        let end = start + built[start..].find(";\n").context("no end")?;
        let lists: Value = serde_json::from_str(&built[start..end])?;
        assert_eq!(
            lists[0],
            serde_json::json!(dangol_engine::track::DATA_LAYER_EVENTS)
        );
        let fields: Vec<&str> = lists[1]
            .as_array()
            .context("no event fields")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(fields.contains(&"transaction_id") && !fields.contains(&"items"));
        assert_eq!(fields.len() + 1, dangol_engine::track::EVENT_FIELDS.len());
        assert_eq!(
            lists[2],
            serde_json::json!(dangol_engine::track::ITEM_FIELDS)
        );
        assert_eq!(lists[3], dangol_engine::track::MAX_ITEMS + 1);
        let err = with_ga4_lists("var x = 1;").unwrap_err();
        assert!(err.to_string().contains("DANGOL_GA4"), "{err}");
        Ok(())
    }

    #[test]
    fn the_loader_numbers_the_widgets_calls_as_the_engine_does() -> Result<()> {
        let source = std::fs::read_to_string(root().join("www/dangol.js"))?;
        let built = with_calls(&source)?;
        assert!(!built.contains("DANGOL_CALLS"));
        let start = built.find("var CALLS = ").context("no call list")? + "var CALLS = ".len();
        let end = start + built[start..].find(";\n").context("no end")?;
        let names: Vec<String> = serde_json::from_str(&built[start..end])?;
        let at = |name: &str| names.iter().position(|n| n == name);
        use dangol_engine::calls;
        assert_eq!(at("grant"), Some(calls::GRANT as usize));
        assert_eq!(at("answer"), Some(calls::ANSWER as usize));
        assert_eq!(at("destroy"), Some(calls::DESTROY as usize));
        assert_eq!(names.len(), calls::NAMES.len());
        // The names the loader calls with (`call`, `tell`) and the methods
        // `window.dangol` offers (`api`) are exactly the calls the widget
        // numbers: none unnumbered, none numbered that nothing calls.
        let mut used = std::collections::BTreeSet::new();
        for opening in ["call(\"", "tell(\"", "api(\""] {
            for (at_name, _) in built.match_indices(opening) {
                let rest = &built[at_name + opening.len()..];
                let name = &rest[..rest.find('"').context("an unclosed name")?];
                // The consent manager's own `__tcfapi`, also held in a
                // variable named `api`.
                if name != "addEventListener" {
                    used.insert(name.to_string());
                }
            }
        }
        let numbered: std::collections::BTreeSet<String> =
            calls::NAMES.iter().map(|n| n.to_string()).collect();
        assert_eq!(used, numbered);
        let err = with_calls("var x = 1;").unwrap_err();
        assert!(err.to_string().contains("DANGOL_CALLS"), "{err}");
        Ok(())
    }

    #[test]
    fn the_loader_holds_the_first_modules_glue_as_a_function_of_its_exports() -> Result<()> {
        let glue = "export function call(e,n){return v.a(e,n)}function t(e){return e}let v;\
                    export class Bench{run(){return v.c()}}\
                    export function start(e){v.b(t(e))}async function m(a){return v=a}export{m as default};";
        let function = glue_function(glue)?;
        assert_eq!(
            function,
            "function(){\"use strict\";function call(e,n){return v.a(e,n)}function t(e){return e}let v;\
             class Bench{run(){return v.c()}}\
             function start(e){v.b(t(e))}async function m(a){return v=a}\
             return{default:m,call:call,Bench:Bench,start:start}}"
        );
        let source = std::fs::read_to_string(root().join("www/dangol.js"))?;
        let built = with_glue(&source, &function)?;
        assert!(!built.contains("DANGOL_GLUE"));
        assert!(built.contains(&format!("var glue = {function};")));
        // A glue of another shape is refused, not half-rewritten.
        for (bad, why) in [
            (glue.replace("export{m as default};", ""), "export{"),
            (format!("export const x=1;{glue}"), "`export `"),
            (
                glue.replace("export function start(e)", "export function (e)"),
                "no name",
            ),
            (format!("import x from\"y\";{glue}"), "`import "),
            (format!("const u=import.meta.url;{glue}"), "`import.meta`"),
            (
                glue.replace("export function start", "function start"),
                "no `start`",
            ),
            (glue.replace("m as default", "m as init"), "no `default`"),
        ] {
            let err = glue_function(&bad).unwrap_err();
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
        assert!(with_glue("var glue = null;", &function).is_err());
        Ok(())
    }

    #[test]
    fn the_compressed_copies_read_back_as_the_file() -> Result<()> {
        let text = b"(function(){ var dangol = 1; })();".repeat(50);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&text)?[..]).read_to_end(&mut back)?;
        assert_eq!(back, text);
        let packed = brotli(&text)?;
        assert!(packed.len() < text.len() / 10, "{} bytes", packed.len());
        back.clear();
        ::brotli::Decompressor::new(&packed[..], 4096).read_to_end(&mut back)?;
        assert_eq!(back, text);
        Ok(())
    }

    #[test]
    fn a_build_keeps_its_files_by_id_and_only_the_newest_builds_stay() -> Result<()> {
        let out = std::env::temp_dir().join(format!("dangol-keep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(out.join(MORE))?;
        std::fs::create_dir_all(out.join(RARE))?;
        std::fs::create_dir_all(out.join(ID))?;
        let ids = ["00000001", "00000002", "00000003", "00000004", "00000005"];
        for id in ids {
            for name in MODULE_FILES {
                for suffix in ["", ".br", ".gz"] {
                    std::fs::write(out.join(format!("{name}{suffix}")), format!("{id}{suffix}"))?;
                    std::fs::write(
                        out.join(format!("{MORE}/{name}{suffix}")),
                        format!("{id} more{suffix}"),
                    )?;
                    std::fs::write(
                        out.join(format!("{RARE}/{name}{suffix}")),
                        format!("{id} rare{suffix}"),
                    )?;
                    std::fs::write(
                        out.join(format!("{ID}/{name}{suffix}")),
                        format!("{id} identity{suffix}"),
                    )?;
                }
            }
            keep_build(&out, id)?;
            // Directory times order the builds; keep them apart.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut kept: Vec<String> = std::fs::read_dir(out.join("builds"))?
            .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_>>()?;
        kept.sort();
        assert_eq!(kept, ["00000003", "00000004", "00000005"]);
        assert_eq!(
            std::fs::read_to_string(out.join("builds/00000004/dangol_bg.wasm.br"))?,
            "00000004.br"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("builds/00000004/more/dangol_bg.wasm.gz"))?,
            "00000004 more.gz"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("builds/00000004/id/dangol_bg.pack.gz"))?,
            "00000004 identity.gz"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("builds/00000004/rare/dangol.js"))?,
            "00000004 rare"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("builds/00000004/id/dangol.js"))?,
            "00000004 identity"
        );
        // Rebuilding an old id makes it the newest again.
        keep_build(&out, "00000003")?;
        std::thread::sleep(std::time::Duration::from_millis(20));
        keep_build(&out, "00000006")?;
        assert!(!out.join("builds/00000004").exists());
        assert!(out.join("builds/00000003/dangol.js").exists());
        std::fs::remove_dir_all(&out)?;
        Ok(())
    }

    #[test]
    fn the_glue_keeps_only_an_init_that_instantiates_the_loaders_module() -> Result<()> {
        let glue = "function __wbg_get_imports() { return {}; }
function __wbg_finalize_init(instance, module) { wasm = instance.exports; return wasm; }

async function __wbg_load(module, imports) { return fetch(module); }
function initSync(module) { console.warn('using deprecated parameters'); }
async function __wbg_init(module_or_path) {}

export { initSync, __wbg_init as default };
";
        let lean = lean_init(glue)?;
        assert!(lean.starts_with("function __wbg_get_imports() { return {}; }"));
        assert!(lean.contains("function __wbg_finalize_init(instance, module)"));
        assert!(lean.ends_with(LEAN_INIT));
        for gone in [
            "__wbg_load",
            "initSync",
            "fetch(",
            "deprecated",
            "module_or_path",
        ] {
            assert!(!lean.contains(gone), "{gone}");
        }
        // Another wasm-bindgen's glue is refused, not shipped half-cut.
        let err = lean_init(&glue.replace("initSync, ", "")).unwrap_err();
        assert!(err.to_string().contains("does not end in"), "{err}");
        let err = lean_init("export { initSync, __wbg_init as default };").unwrap_err();
        assert!(
            err.to_string()
                .contains("has no `async function __wbg_load(`"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn the_glue_takes_the_new_names_of_imports_exports_and_module() -> Result<()> {
        let glue = r#"function f(p) { wasm.widget_set(p); wasm.memory.buffer; }
function __wbg_get_imports() {
    const import0 = { __wbg_keys_105f: function(a) { return Object.keys(a); }, widget_set_x: 1 };
    return { "./dangol_bg.js": import0 };
}"#;
        let first = serde_json::json!({
            "imports": [["./dangol_bg.js", "__wbg_keys_105f", "z"]],
            "exports": [["widget_set", "b"], ["memory", "y"]]
        });
        // A second round renames some of the first round's names again.
        let second = serde_json::json!({
            "imports": [["m", "z", "a"]],
            "exports": [["b", "b"], ["y", "c"]]
        });
        let out = rename_in_glue(glue, &final_names(&[first, second], "m")?)?;
        assert!(out.contains("wasm.b(p)"), "{out}");
        assert!(out.contains("wasm.c.buffer"), "{out}");
        assert!(out.contains("{ a: function(a)"), "{out}");
        // Only whole names change, and exports only after `wasm.`.
        assert!(out.contains("widget_set_x: 1"), "{out}");
        assert!(out.contains(r#"return { "m": import0 }"#), "{out}");
        Ok(())
    }

    #[test]
    fn an_import_a_later_round_removed_is_left_out_and_frees_its_short_one() -> Result<()> {
        // The first round names the throw helper `r`; the second drops it
        // (unused once optimised) and gives `r` to the function check.
        let glue = r#"function __wbg_get_imports() {
    const import0 = { __wbg_throw_4c: function(a, b) { throw 0; }, __wbg_is_function_74: function(a) { return 1; } };
    return { "./dangol_bg.js": import0 };
}
wasm.upgrade();"#;
        let first = serde_json::json!({
            "imports": [["./dangol_bg.js", "__wbg_throw_4c", "r"], ["./dangol_bg.js", "__wbg_is_function_74", "v"]],
            "exports": [["upgrade", "a"]]
        });
        let second = serde_json::json!({
            "imports": [["a", "v", "r"]],
            "exports": [["a", "a"]]
        });
        let out = rename_in_glue(glue, &final_names(&[first, second], "a")?)?;
        // The removed import's function is left out of the glue.
        assert!(!out.contains("throw"), "{out}");
        assert!(out.contains("{ r: function(a) { return 1; } }"), "{out}");
        assert_eq!(out.matches("r: function").count(), 1, "{out}");
        assert!(out.contains("wasm.a()"), "{out}");
        Ok(())
    }

    #[test]
    fn functions_of_imports_the_wasm_no_longer_has_are_left_out_of_the_glue() -> Result<()> {
        // As wasm-bindgen writes the import object: a function per line or
        // over several, one wrapped in `handleError`, braces in strings.
        let glue = r#"    const import0 = {
        __proto__: null,
        __wbg_keys_1: function(arg0) {
            return Object.keys(getObject(arg0));
        },
        __wbg___wbindgen_throw_2: function(arg0, arg1) {
            throw new Error("}{" + getStringFromWasm0(arg0, arg1));
        },
        __wbg_banner_3: function() { return handleError(function (arg0) {
            return getObject(arg0).banner('{');
        }, arguments); },
        __wbindgen_object_drop_ref: function(arg0) {
            takeObject(arg0);
        },
    };
    const other = { helper: function() { return 1; } };"#;
        let live: HashMap<String, String> =
            [("__wbg_keys_1", "a"), ("__wbindgen_object_drop_ref", "b")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let out = drop_dead_imports(glue, &live)?;
        assert_eq!(
            out,
            r#"    const import0 = {
        __proto__: null,
        __wbg_keys_1: function(arg0) {
            return Object.keys(getObject(arg0));
        },
        __wbindgen_object_drop_ref: function(arg0) {
            takeObject(arg0);
        },
    };
    const other = { helper: function() { return 1; } };"#
        );
        // A body that never closes is refused, not cut short.
        let err = drop_dead_imports("{ __wbg_x_1: function() { if (a) {", &live).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the glue's import `__wbg_x_1` never closes"
        );
        Ok(())
    }

    /// Why [`rename_in_glue`] refuses `glue` under one round's `mapping`.
    fn refusal(glue: &str, mapping: Value) -> Option<String> {
        final_names(&[mapping], "m")
            .and_then(|names| rename_in_glue(glue, &names))
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn mappings_that_give_two_imports_one_name_are_refused() {
        let mapping = serde_json::json!({
            "imports": [["./dangol_bg.js", "__wbg_a_1", "r"], ["./dangol_bg.js", "__wbg_b_2", "r"]],
            "exports": [["start", "b"]]
        });
        let glue = r#"wasm.start(); x = { "./dangol_bg.js": { __wbg_a_1: 1, __wbg_b_2: 2 } };"#;
        assert_eq!(
            refusal(glue, mapping).as_deref(),
            Some("wasm-opt's mappings give two imports the name `r`")
        );
    }

    #[test]
    fn a_glue_missing_an_import_is_refused_by_count() {
        let mapping = serde_json::json!({
            "imports": [["./dangol_bg.js", "__wbg_gone_1", "a"]],
            "exports": [["start", "b"]]
        });
        let glue = r#"wasm.start(); x = { "./dangol_bg.js": {} };"#;
        assert_eq!(
            refusal(glue, mapping).as_deref(),
            Some("the glue names 0 of the wasm's 1 imports")
        );
    }

    #[test]
    fn import_modules_reads_the_import_section() -> Result<()> {
        // (module (import "a" "f" (func)) (import "b" "m" (memory 1 2)) (import "a" "g" (global i32)))
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([1, 4, 1, 0x60, 0, 0]); // type section: () -> ()
        let imports: &[u8] = &[
            3, 1, b'a', 1, b'f', 0, 0, //
            1, b'b', 1, b'm', 2, 1, 1, 2, //
            1, b'a', 1, b'g', 3, 0x7f, 0,
        ];
        wasm.extend([2, imports.len() as u8]);
        wasm.extend(imports);
        assert_eq!(import_modules(&wasm)?, ["a", "b"]);
        assert!(import_modules(b"\0wat\x01\0\0\0").is_err());
        Ok(())
    }

    /// The modules of `dir` each `.rs` file there names as `super::module`
    /// outside comments: which sibling modules it uses.
    fn sibling_uses(dir: &Path) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let mut graph = std::collections::BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
                continue;
            };
            if path.extension().is_none_or(|e| e != "rs") || name == "mod" {
                continue;
            }
            let mut uses: Vec<String> = Vec::new();
            for line in std::fs::read_to_string(&path)?.lines() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for (at, _) in line.match_indices("super::") {
                    let rest = &line[at + "super::".len()..];
                    let end = rest
                        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                        .unwrap_or(rest.len());
                    if end > 0 && !uses.iter().any(|u| u == &rest[..end]) {
                        uses.push(rest[..end].to_string());
                    }
                }
            }
            graph.insert(name.to_string(), uses);
        }
        Ok(graph)
    }

    /// A cycle among the modules of `graph`, as the path round it.
    fn cycle(graph: &std::collections::BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
        fn visit(
            node: &str,
            graph: &std::collections::BTreeMap<String, Vec<String>>,
            path: &mut Vec<String>,
            done: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|p| p == node) {
                let mut round = path[at..].to_vec();
                round.push(node.to_string());
                return Some(round);
            }
            if done.iter().any(|d| d == node) {
                return None;
            }
            path.push(node.to_string());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(round) = visit(next, graph, path, done) {
                    return Some(round);
                }
            }
            path.pop();
            done.push(node.to_string());
            None
        }
        let mut done = Vec::new();
        graph
            .keys()
            .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
    }

    #[test]
    fn the_widgets_modules_use_each_other_in_one_direction() -> Result<()> {
        let graph = sibling_uses(&root().join("src/widget"))?;
        assert!(graph.len() >= 8, "{graph:?}");
        // The config the page holds, what is asked of the loader and the
        // state are at the bottom; the answers, which carry on wherever a
        // request left off, at the top.
        assert_eq!(graph["kept"], Vec::<String>::new());
        assert_eq!(graph["pending"], vec!["kept".to_string()]);
        assert_eq!(
            graph["state"],
            vec!["pending".to_string(), "kept".to_string()]
        );
        assert!(
            graph
                .values()
                .all(|uses| !uses.iter().any(|u| u == "answers"))
        );
        assert_eq!(cycle(&graph), None);
        // The check finds a cycle when there is one.
        let mut looped = graph.clone();
        looped
            .get_mut("state")
            .context("no state module")?
            .push("answers".into());
        let round = cycle(&looped).context("the cycle was not found")?;
        assert_eq!(round.first(), round.last());
        assert!(round.contains(&"state".to_string()) && round.contains(&"answers".to_string()));
        Ok(())
    }
}
