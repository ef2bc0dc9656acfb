//! Function table entries that nothing can call, pointed elsewhere so that
//! wasm-opt drops the functions they held.
//!
//! Linking keeps every function whose address a kept function takes, and
//! exports are kept. wasm-bindgen's descriptor exports take the address of
//! the closure adapters (`wasm_bindgen::convert::closures::…::invoke`) for
//! the signatures js-sys declares, and js-sys exports its JSPI task poll,
//! whose waker functions go in the table. wasm-bindgen runs those exports
//! and deletes them (the JSPI one in a module without JSPI), but their
//! entries stay in the table, and wasm-opt keeps whatever a table holds
//! once any indirect call could reach it.
//!
//! In a module whose table is not exported, JavaScript can call no entry,
//! and those entries' addresses lived only in the deleted exports: they are
//! pointed at a function the table holds anyway (an indirect call to one
//! would trap either way), and the functions go.

use anyhow::{Context, Result, bail};

/// Name pieces of the functions whose only addresses were in the deleted
/// exports: demangled (as wasm-bindgen writes names), and mangled (legacy
/// and v0 alike).
const ORPHANS: &[&[&str]] = &[
    &["wasm_bindgen[", "]::convert::closures::", "::invoke"],
    &["js_sys[", "]::futures::jspi::"],
    &["12wasm_bindgen7convert8closures", "6invoke"],
    &["6js_sys7futures4jspi"],
];

/// Whether `name` is one of [`ORPHANS`] (the adapters themselves, never a
/// closure inside one, whose address a vtable might hold).
fn is_orphan(name: &str) -> bool {
    !name.contains("{closure")
        && ORPHANS
            .iter()
            .any(|pieces| pieces.iter().all(|p| name.contains(p)))
}

/// A wasm section: its id, where its header starts, where its contents
/// start and end.
pub(crate) struct Section {
    pub(crate) id: u8,
    pub(crate) header: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// One active element segment at a constant offset: the offset expression's
/// bytes (through its `end`) and the functions.
struct Segment {
    offset: Vec<u8>,
    functions: Vec<u32>,
}

/// `wasm` with the orphaned table entries pointed elsewhere, and how many
/// were. A module whose table is exported, that has no function names or
/// whose element segments are not the plain kind is returned as it is.
pub fn drop_orphans(wasm: &[u8]) -> Result<(Vec<u8>, usize)> {
    let sections = sections(wasm)?;
    let unchanged = || Ok((wasm.to_vec(), 0));
    if table_exported(wasm, &sections)? {
        return unchanged();
    }
    let Some(elem) = sections.iter().find(|s| s.id == 9) else {
        return unchanged();
    };
    let Some(mut segments) = segments(wasm, elem)? else {
        return unchanged();
    };
    let names = function_names(wasm, &sections)?;
    let orphan = |f: &u32| {
        names
            .iter()
            .find(|(i, _)| i == f)
            .is_some_and(|(_, name)| is_orphan(name))
    };
    let Some(live) = segments
        .iter()
        .flat_map(|s| s.functions.iter())
        .find(|f| !orphan(f))
        .copied()
    else {
        return unchanged();
    };
    let mut dropped = 0;
    for f in segments.iter_mut().flat_map(|s| s.functions.iter_mut()) {
        if orphan(f) {
            *f = live;
            dropped += 1;
        }
    }
    let mut contents = Vec::new();
    leb(&mut contents, segments.len() as u64);
    for segment in &segments {
        leb(&mut contents, 0);
        contents.extend_from_slice(&segment.offset);
        leb(&mut contents, segment.functions.len() as u64);
        for &f in &segment.functions {
            leb(&mut contents, u64::from(f));
        }
    }
    let mut out = wasm[..elem.header].to_vec();
    out.push(9);
    leb(&mut out, contents.len() as u64);
    out.extend_from_slice(&contents);
    out.extend_from_slice(&wasm[elem.end..]);
    Ok((out, dropped))
}

/// The functions the module's element segments put in its table, in order
/// (empty for segments that are not the plain kind).
#[cfg(test)]
fn table_entries(wasm: &[u8]) -> Result<Vec<u32>> {
    let sections = sections(wasm)?;
    let Some(elem) = sections.iter().find(|s| s.id == 9) else {
        return Ok(Vec::new());
    };
    Ok(segments(wasm, elem)?
        .unwrap_or_default()
        .into_iter()
        .flat_map(|s| s.functions)
        .collect())
}

pub(crate) fn sections(wasm: &[u8]) -> Result<Vec<Section>> {
    if wasm.get(..8) != Some(b"\0asm\x01\0\0\0") {
        bail!("not a version 1 wasm module");
    }
    let mut r = Reader { bytes: wasm, at: 8 };
    let mut out = Vec::new();
    while r.at < wasm.len() {
        let header = r.at;
        let id = r.byte()?;
        let size = r.leb()? as usize;
        let start = r.at;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= wasm.len())
            .context("a wasm section runs past the end of the file")?;
        out.push(Section {
            id,
            header,
            start,
            end,
        });
        r.at = end;
    }
    Ok(out)
}

fn table_exported(wasm: &[u8], sections: &[Section]) -> Result<bool> {
    Ok(exports(wasm, sections)?
        .iter()
        .any(|export| wasm[export.desc.start] == 1))
}

/// One export: its name, and where its kind (0 a function, 1 a table,
/// 2 a memory, 3 a global) and index lie in the wasm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Export {
    pub(crate) name: String,
    pub(crate) desc: std::ops::Range<usize>,
}

/// The exports of `sections`' export sections, in order.
pub(crate) fn exports(wasm: &[u8], sections: &[Section]) -> Result<Vec<Export>> {
    let mut out = Vec::new();
    for s in sections.iter().filter(|s| s.id == 7) {
        let mut r = Reader {
            bytes: &wasm[..s.end],
            at: s.start,
        };
        for _ in 0..r.leb()? {
            let name = r.name()?;
            let start = r.at;
            r.byte()?;
            r.leb()?;
            out.push(Export {
                name,
                desc: start..r.at,
            });
        }
    }
    Ok(out)
}

/// The function names of the `name` section's function subsection.
pub(crate) fn function_names(wasm: &[u8], sections: &[Section]) -> Result<Vec<(u32, String)>> {
    let mut names = Vec::new();
    for s in sections.iter().filter(|s| s.id == 0) {
        let mut r = Reader {
            bytes: &wasm[..s.end],
            at: s.start,
        };
        if r.name()? != "name" {
            continue;
        }
        while r.at < s.end {
            let sub = r.byte()?;
            let size = r.leb()? as usize;
            let end = r.at + size;
            if sub == 1 {
                for _ in 0..r.leb()? {
                    let index = r.leb()? as u32;
                    names.push((index, r.name()?));
                }
            }
            r.at = end;
        }
    }
    Ok(names)
}

/// One import: its module and field names, its kind (0 a function, 1 a
/// table, 2 a memory, 3 a global, 4 a tag), and where its description
/// (kind and type) lies in the wasm.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Import {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) kind: u8,
    pub(crate) desc: std::ops::Range<usize>,
}

/// The imports of `sections`' import sections, in order.
pub(crate) fn imports(wasm: &[u8], sections: &[Section]) -> Result<Vec<Import>> {
    let mut out = Vec::new();
    for s in sections.iter().filter(|s| s.id == 2) {
        let mut r = Reader {
            bytes: &wasm[..s.end],
            at: s.start,
        };
        for _ in 0..r.leb()? {
            let module = r.name()?;
            let name = r.name()?;
            let start = r.at;
            let kind = r.byte()?;
            match kind {
                0 => {
                    r.leb()?;
                }
                1 => {
                    r.byte()?;
                    r.limits()?;
                }
                2 => r.limits()?,
                3 => {
                    r.byte()?;
                    r.byte()?;
                }
                4 => {
                    r.byte()?;
                    r.leb()?;
                }
                other => bail!("unknown import kind {other}"),
            }
            out.push(Import {
                module,
                name,
                kind,
                desc: start..r.at,
            });
        }
    }
    Ok(out)
}

/// The element segments, if all are active segments of function indices
/// at an `i32.const` offset (flags 0, what rustc's linker writes).
fn segments(wasm: &[u8], elem: &Section) -> Result<Option<Vec<Segment>>> {
    let mut r = Reader {
        bytes: &wasm[..elem.end],
        at: elem.start,
    };
    let mut out = Vec::new();
    for _ in 0..r.leb()? {
        if r.leb()? != 0 {
            return Ok(None);
        }
        let from = r.at;
        if r.byte()? != 0x41 {
            return Ok(None);
        }
        r.leb()?;
        if r.byte()? != 0x0b {
            return Ok(None);
        }
        let offset = wasm[from..r.at].to_vec();
        let n = r.leb()?;
        let functions = (0..n)
            .map(|_| Ok(r.leb()? as u32))
            .collect::<Result<Vec<_>>>()?;
        out.push(Segment { offset, functions });
    }
    Ok(Some(out))
}

pub(crate) fn leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a wasm's bytes from `at`.
pub struct Reader<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl Reader<'_> {
    pub fn byte(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.at).context("the wasm ends early")?;
        self.at += 1;
        Ok(b)
    }

    pub fn leb(&mut self) -> Result<u64> {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                bail!("a LEB128 number in the wasm is too long");
            }
        }
    }

    pub fn name(&mut self) -> Result<String> {
        let len = self.leb()? as usize;
        let bytes = self
            .bytes
            .get(self.at..self.at + len)
            .context("the wasm ends early")?;
        self.at += len;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    pub fn limits(&mut self) -> Result<()> {
        let flags = self.byte()?;
        self.leb()?;
        if flags & 1 != 0 {
            self.leb()?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A wasm section of `contents`, with its header.
    pub(crate) fn section(id: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![id];
        leb(&mut out, contents.len() as u64);
        out.extend_from_slice(contents);
        out
    }

    fn name(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        leb(&mut out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
        out
    }

    /// Three functions in a table at offset 1: a live one, a closure
    /// adapter and a JSPI waker function; the table exported or not.
    fn module(export_table: bool) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(section(1, &[1, 0x60, 0, 0]));
        wasm.extend(section(3, &[3, 0, 0, 0]));
        wasm.extend(section(4, &[1, 0x70, 0, 4]));
        if export_table {
            let mut export = vec![1];
            export.extend(name("table"));
            export.extend([1, 0]);
            wasm.extend(section(7, &export));
        }
        wasm.extend(section(9, &[1, 0, 0x41, 1, 0x0b, 3, 0, 1, 2]));
        wasm.extend(section(10, &[3, 2, 0, 0x0b, 2, 0, 0x0b, 2, 0, 0x0b]));
        let mut names = vec![3];
        for (i, n) in [
            "_RNvCs1_6dangol4live",
            "_RINvNvNtNtCs2_12wasm_bindgen7convert8closuress4_1__6invokeNtB8_7JsValueECs3_6js_sys",
            "_RNvNvNtNtCs3_6js_sys7futures4jspi10task_waker8raw_wake",
        ]
        .iter()
        .enumerate()
        {
            names.push(i as u8);
            names.extend(name(n));
        }
        let mut custom = name("name");
        custom.push(1);
        leb(&mut custom, names.len() as u64);
        custom.extend(names);
        wasm.extend(section(0, &custom));
        wasm
    }

    #[test]
    fn entries_only_the_deleted_exports_reached_point_at_a_live_function() -> Result<()> {
        let wasm = module(false);
        assert_eq!(table_entries(&wasm)?, [0, 1, 2]);
        let (out, dropped) = drop_orphans(&wasm)?;
        assert_eq!(dropped, 2);
        assert_eq!(table_entries(&out)?, [0, 0, 0]);
        // Every other section is as it was, in the same order.
        let ids = |w: &[u8]| {
            Ok::<_, anyhow::Error>(sections(w)?.iter().map(|s| s.id).collect::<Vec<_>>())
        };
        assert_eq!(ids(&out)?, ids(&wasm)?);
        let code = |w: &[u8]| -> Result<Vec<u8>> {
            let s = sections(w)?;
            let c = s.iter().find(|s| s.id == 10).context("no code")?;
            Ok(w[c.start..c.end].to_vec())
        };
        assert_eq!(code(&out)?, code(&wasm)?);
        Ok(())
    }

    #[test]
    fn orphans_are_known_by_their_demangled_and_mangled_names() {
        for name in [
            "wasm_bindgen[acfd31cbaa514ed8]::convert::closures::_::invoke::<wasm_bindgen[acfd31cbaa514ed8]::JsValue, u32, (), true>",
            "js_sys[ee35e110fc17f160]::futures::jspi::task_waker::raw_wake",
            "<alloc[6cd68955b6735f99]::rc::Rc<js_sys[ee35e110fc17f160]::futures::jspi::SpawnedTask>>::drop_slow",
            "_RINvNvNtNtCs2_12wasm_bindgen7convert8closuress4_1__6invokeNtB8_7JsValueECs3_6js_sys",
        ] {
            assert!(is_orphan(name), "{name}");
        }
        for name in [
            "dangol[5bef07a25d2f3fa6]::widget::state::fresh_id",
            "<wasm_bindgen[acfd31cbaa514ed8]::closure::Closure<dyn FnMut()>>::new",
            "js_sys[ee35e110fc17f160]::global::get_global_object",
            "wasm_bindgen[acfd31cbaa514ed8]::convert::closures::_::invoke::<(), true>::{closure#0}",
        ] {
            assert!(!is_orphan(name), "{name}");
        }
    }

    #[test]
    fn imports_are_read_with_their_module_and_kind() -> Result<()> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(section(1, &[1, 0x60, 0, 0]));
        let mut list = vec![3];
        for (module, field, desc) in [
            ("a", "f", &[0u8, 0][..]),
            ("b", "m", &[2, 1, 1, 2][..]),
            ("a", "g", &[3, 0x7f, 0][..]),
        ] {
            list.extend(name(module));
            list.extend(name(field));
            list.extend_from_slice(desc);
        }
        wasm.extend(section(2, &list));
        let read: Vec<(String, String, u8, Vec<u8>)> = imports(&wasm, &sections(&wasm)?)?
            .into_iter()
            .map(|i| (i.module, i.name, i.kind, wasm[i.desc].to_vec()))
            .collect();
        assert_eq!(
            read,
            [
                ("a".into(), "f".into(), 0, vec![0, 0]),
                ("b".into(), "m".into(), 2, vec![2, 1, 1, 2]),
                ("a".into(), "g".into(), 3, vec![3, 0x7f, 0]),
            ]
        );
        let table = module(false);
        assert_eq!(imports(&table, &sections(&table)?)?, []);
        Ok(())
    }

    #[test]
    fn a_table_javascript_can_reach_is_left_alone() -> Result<()> {
        let wasm = module(true);
        let (out, dropped) = drop_orphans(&wasm)?;
        assert_eq!(dropped, 0);
        assert_eq!(out, wasm);
        Ok(())
    }

    #[test]
    fn what_is_not_a_wasm_module_is_refused_by_name() {
        let err = drop_orphans(b"not wasm at all").unwrap_err();
        assert!(
            err.to_string().contains("not a version 1 wasm module"),
            "{err}"
        );
    }
}
