//! The identity build under the first module's import and export names.
//!
//! The two builds are one crate with one feature apart, so wasm-bindgen
//! gives them the same imports (the identity build takes none the first
//! lacks, which [`as_first`] checks) and the same exports; only
//! wasm-opt's short names for them differ, since each build is shortened
//! on its own. Renamed to the first module's names, the identity build is
//! instantiated by the first module's glue, which the loader carries, and
//! pages with `data-identify` fetch the loader and the wasm, like every
//! other page.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};

use crate::table::{exports, imports, leb, sections};

/// A built module's names: each import's and export's name as wasm-bindgen
/// wrote it, with the name the shipped wasm gives it, and the module name
/// its imports come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Names {
    pub imports: HashMap<String, String>,
    pub exports: HashMap<String, String>,
    pub module: String,
}

impl Names {
    /// The names of a wasm no tool renamed: each its own.
    pub fn unchanged(wasm: &[u8]) -> Result<Names> {
        let sections = sections(wasm)?;
        let imports = imports(wasm, &sections)?;
        let module = imports
            .first()
            .map(|i| i.module.clone())
            .context("the wasm imports nothing")?;
        let same = |name: &String| (name.clone(), name.clone());
        Ok(Names {
            imports: imports.iter().map(|i| same(&i.name)).collect(),
            exports: exports(wasm, &sections)?
                .iter()
                .map(|e| same(&e.name))
                .collect(),
            module,
        })
    }
}

/// `wasm`, built with `names`, with every import and export under the name
/// `first` gives the same one, and its imports from `first`'s module.
/// Refuses an import or export the first module does not have, and an
/// export of the first module this one lacks: the first module's glue
/// could not instantiate it, or would call what is not there.
pub fn as_first(wasm: &[u8], names: &Names, first: &Names) -> Result<Vec<u8>> {
    let sections = sections(wasm)?;
    let renamed = |of: &HashMap<String, String>,
                   to: &HashMap<String, String>,
                   what: &str,
                   short: &str|
     -> Result<String> {
        let original = of
            .iter()
            .find(|(_, s)| *s == short)
            .map(|(o, _)| o)
            .with_context(|| format!("the identity build's {what} `{short}` has no known name"))?;
        to.get(original).cloned().with_context(|| {
            format!(
                "the identity build {what}s `{original}`, which the first module does not: \
                 the first module's glue, which the loader carries, cannot serve it"
            )
        })
    };
    let mut out = wasm[..8].to_vec();
    let mut done = (false, false);
    for section in &sections {
        let mut contents = Vec::new();
        match section.id {
            2 => {
                let list = imports(wasm, std::slice::from_ref(section))?;
                leb(&mut contents, list.len() as u64);
                for import in list {
                    put_name(&mut contents, &first.module);
                    let name = renamed(&names.imports, &first.imports, "import", &import.name)?;
                    put_name(&mut contents, &name);
                    contents.extend_from_slice(&wasm[import.desc]);
                }
                done.0 = true;
            }
            7 => {
                let list = exports(wasm, std::slice::from_ref(section))?;
                let mut had = Vec::new();
                leb(&mut contents, list.len() as u64);
                for export in list {
                    let name = renamed(&names.exports, &first.exports, "export", &export.name)?;
                    put_name(&mut contents, &name);
                    contents.extend_from_slice(&wasm[export.desc]);
                    had.push(name);
                }
                if let Some((original, _)) =
                    first.exports.iter().find(|(_, short)| !had.contains(short))
                {
                    bail!(
                        "the first module exports `{original}`, which the identity build does not: \
                         the glue would call what is not there"
                    );
                }
                done.1 = true;
            }
            _ => {
                out.extend_from_slice(&wasm[section.header..section.end]);
                continue;
            }
        }
        out.push(section.id);
        leb(&mut out, contents.len() as u64);
        out.extend_from_slice(&contents);
    }
    if done != (true, true) {
        bail!("the identity build has no import or no export section");
    }
    Ok(out)
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    leb(out, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::section;

    fn name(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        put_name(&mut out, text);
        out
    }

    /// A module importing functions `imports` from `module` and exporting
    /// a memory and one function per name in `exports`.
    fn module(module: &str, imports: &[&str], exports: &[&str]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(section(1, &[1, 0x60, 0, 0]));
        let mut import = vec![imports.len() as u8];
        for field in imports {
            import.extend(name(module));
            import.extend(name(field));
            import.extend([0, 0]);
        }
        wasm.extend(section(2, &import));
        let count = exports.len() - 1;
        let mut functions = vec![count as u8];
        functions.extend(std::iter::repeat_n(0, count));
        wasm.extend(section(3, &functions));
        wasm.extend(section(5, &[1, 0, 1]));
        let mut export = vec![exports.len() as u8];
        for (i, field) in exports.iter().enumerate() {
            export.extend(name(field));
            match i {
                0 => export.extend([2, 0]),
                _ => export.extend([0, (imports.len() + i - 1) as u8]),
            }
        }
        wasm.extend(section(7, &export));
        let mut code = vec![count as u8];
        for _ in 0..count {
            code.extend([2, 0, 0x0b]);
        }
        wasm.extend(section(10, &code));
        wasm
    }

    fn names(module: &str, imports: &[(&str, &str)], exports: &[(&str, &str)]) -> Names {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(o, s)| (o.to_string(), s.to_string()))
                .collect()
        };
        Names {
            imports: map(imports),
            exports: map(exports),
            module: module.to_string(),
        }
    }

    #[test]
    fn the_identity_build_takes_the_first_modules_names_for_the_same_imports_and_exports()
    -> Result<()> {
        let first = names(
            "a",
            &[
                ("__wbg_log_1", "b"),
                ("__wbg_now_2", "a"),
                ("__wbg_expand_3", "c"),
            ],
            &[("memory", "m"), ("start", "s"), ("call", "c")],
        );
        let identity = names(
            "q",
            &[("__wbg_now_2", "x"), ("__wbg_log_1", "y")],
            &[("memory", "z"), ("call", "s"), ("start", "c")],
        );
        let wasm = module("q", &["x", "y"], &["z", "s", "c"]);
        let renamed = as_first(&wasm, &identity, &first)?;
        let sections = sections(&renamed)?;
        let imports: Vec<(String, String)> = imports(&renamed, &sections)?
            .into_iter()
            .map(|i| (i.module, i.name))
            .collect();
        assert_eq!(
            imports,
            [("a".into(), "a".into()), ("a".into(), "b".into())],
            "same order, the first module's module and names"
        );
        let exports: Vec<(String, Vec<u8>)> = exports(&renamed, &sections)?
            .into_iter()
            .map(|e| (e.name, renamed[e.desc].to_vec()))
            .collect();
        assert_eq!(
            exports,
            [
                ("m".into(), vec![2, 0]),
                ("c".into(), vec![0, 2]),
                ("s".into(), vec![0, 3]),
            ],
            "each export keeps what it exports under the first module's name for it"
        );
        // Everything else is byte for byte the same.
        let rest = |wasm: &[u8]| -> Result<Vec<Vec<u8>>> {
            Ok(crate::table::sections(wasm)?
                .iter()
                .filter(|s| s.id != 2 && s.id != 7)
                .map(|s| wasm[s.header..s.end].to_vec())
                .collect())
        };
        assert_eq!(rest(&renamed)?, rest(&wasm)?);
        assert_eq!(Names::unchanged(&renamed)?.module, "a");
        Ok(())
    }

    #[test]
    fn an_import_or_export_the_first_module_lacks_is_refused_by_its_name() {
        let first = names(
            "a",
            &[("__wbg_log_1", "b")],
            &[("memory", "m"), ("start", "s")],
        );
        let wasm = module("q", &["x", "y"], &["z", "s"]);
        let identity = names(
            "q",
            &[("__wbg_log_1", "x"), ("__wbg_is_undefined_9", "y")],
            &[("memory", "z"), ("start", "s")],
        );
        let refused = as_first(&wasm, &identity, &first).unwrap_err().to_string();
        assert!(
            refused.contains("imports `__wbg_is_undefined_9`"),
            "{refused}"
        );

        let wasm = module("q", &["x"], &["z", "s", "t"]);
        let identity = names(
            "q",
            &[("__wbg_log_1", "x")],
            &[("memory", "z"), ("start", "s"), ("identify", "t")],
        );
        let refused = as_first(&wasm, &identity, &first).unwrap_err().to_string();
        assert!(refused.contains("exports `identify`"), "{refused}");

        let wasm = module("q", &["x"], &["z"]);
        let identity = names("q", &[("__wbg_log_1", "x")], &[("memory", "z")]);
        let refused = as_first(&wasm, &identity, &first).unwrap_err().to_string();
        assert!(
            refused.contains("the first module exports `start`"),
            "{refused}"
        );
    }

    #[test]
    fn a_wasm_no_tool_renamed_names_each_import_and_export_by_itself() -> Result<()> {
        let wasm = module("./dangol_bg.js", &["__wbg_log_1"], &["memory", "start"]);
        let got = Names::unchanged(&wasm)?;
        assert_eq!(
            got,
            names(
                "./dangol_bg.js",
                &[("__wbg_log_1", "__wbg_log_1")],
                &[("memory", "memory"), ("start", "start")],
            )
        );
        Ok(())
    }
}
