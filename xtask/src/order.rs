//! The wasm's functions put in an order where like ones sit side by side.
//!
//! gzip and brotli find repeats only within a window behind what they are
//! compressing (32 KB for gzip), so which functions are neighbours decides
//! how much of one is said again by reference to another. wasm-opt orders
//! functions by name, which keeps a generic function's instantiations
//! together but leaves alike functions of different names far apart.
//!
//! [`name_by_likeness`] orders the function bodies greedily: it starts
//! from the largest and then always takes, of those left, the one sharing
//! the most four-byte sequences with the last three taken (as a share of
//! its own), and writes that order into the `name` section as names that
//! sort the same way. wasm-opt's `--reorder-functions-by-name` then moves
//! the bodies and renumbers every call, table entry and export, as it does
//! for its own ordering; the names are stripped after.

use anyhow::{Context, Result};

use crate::table::{Reader, imports, leb, sections};

/// How many of the functions taken last a candidate is compared with.
const RECENT: usize = 3;
/// The length of the byte sequences compared.
const SHINGLE: usize = 4;

/// `wasm` with its `name` section replaced by one naming every function
/// so that sorting the names sorts the defined functions by [`order`]
/// (imports, which cannot move, keep their place). Refuses a module it
/// cannot read, by name.
pub fn name_by_likeness(wasm: &[u8]) -> Result<Vec<u8>> {
    let sections = sections(wasm)?;
    // Imported functions come before the module's own.
    let imported = imports(wasm, &sections)?
        .iter()
        .filter(|import| import.kind == 0)
        .count();
    let bodies = match sections.iter().find(|s| s.id == 10) {
        Some(code) => bodies(wasm, code.start, code.end)?,
        None => Vec::new(),
    };
    let mut rank = vec![0usize; bodies.len()];
    for (place, function) in order(&bodies).into_iter().enumerate() {
        rank[function] = place;
    }
    let mut names = Vec::new();
    leb(&mut names, (imported + bodies.len()) as u64);
    let named = (0..imported)
        .map(|i| format!("import{i:06}"))
        .chain(rank.iter().map(|r| format!("ordered{r:06}")));
    for (index, name) in named.enumerate() {
        leb(&mut names, index as u64);
        leb(&mut names, name.len() as u64);
        names.extend_from_slice(name.as_bytes());
    }
    let mut custom = Vec::new();
    leb(&mut custom, 4);
    custom.extend_from_slice(b"name");
    custom.push(1);
    leb(&mut custom, names.len() as u64);
    custom.extend(names);

    let mut out = wasm[..8].to_vec();
    for s in &sections {
        let is_names = s.id == 0 && {
            let mut r = Reader {
                bytes: &wasm[..s.end],
                at: s.start,
            };
            r.name()? == "name"
        };
        if !is_names {
            out.extend_from_slice(&wasm[s.header..s.end]);
        }
    }
    out.push(0);
    leb(&mut out, custom.len() as u64);
    out.extend(custom);
    Ok(out)
}

/// The greedy order of `bodies` (indices into it): the largest first
/// (the first of equals), then each time the body whose four-byte
/// sequences are most shared with the last [`RECENT`] taken, as a share
/// of its own (the first of equals).
pub fn order(bodies: &[&[u8]]) -> Vec<usize> {
    let shingles: Vec<Vec<u32>> = bodies.iter().map(|b| shingles(b)).collect();
    let Some(first) = (0..bodies.len()).max_by_key(|&i| (bodies[i].len(), std::cmp::Reverse(i)))
    else {
        return Vec::new();
    };
    let mut left: Vec<usize> = (0..bodies.len()).filter(|&i| i != first).collect();
    let mut placed = vec![first];
    while !left.is_empty() {
        let mut recent: Vec<u32> = placed
            .iter()
            .rev()
            .take(RECENT)
            .flat_map(|&i| shingles[i].iter().copied())
            .collect();
        recent.sort_unstable();
        recent.dedup();
        // Scores compared as fractions (shared / (1 + own)), exactly.
        let mut best = 0;
        let mut best_score = (0u64, 1u64);
        for (at, &j) in left.iter().enumerate() {
            let score = (shared(&recent, &shingles[j]), 1 + shingles[j].len() as u64);
            if score.0 * best_score.1 > best_score.0 * score.1 {
                best = at;
                best_score = score;
            }
        }
        placed.push(left.remove(best));
    }
    placed
}

/// The distinct four-byte sequences of `body`, sorted.
fn shingles(body: &[u8]) -> Vec<u32> {
    let mut out: Vec<u32> = body
        .windows(SHINGLE)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How many values two sorted lists share.
fn shared(a: &[u32], b: &[u32]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// The code section's function bodies (each with its locals).
fn bodies(wasm: &[u8], start: usize, end: usize) -> Result<Vec<&[u8]>> {
    let mut r = Reader {
        bytes: &wasm[..end],
        at: start,
    };
    let count = r.leb()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let size = r.leb()? as usize;
        let body = wasm
            .get(r.at..r.at + size)
            .filter(|_| r.at + size <= end)
            .context("a function body runs past the code section")?;
        out.push(body);
        r.at += size;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alike_bodies_end_up_side_by_side() {
        let a: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let b: &[u8] = &[50, 51, 52, 53, 54, 55];
        let a2: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99];
        let b2: &[u8] = &[50, 51, 52, 53, 54, 56];
        // The largest first, then its like, then the others by likeness.
        assert_eq!(order(&[b, a, b2, a2]), [1, 3, 0, 2]);
        assert_eq!(order(&[]), Vec::<usize>::new());
        // Nothing shared: the first of those left.
        assert_eq!(order(&[&[1, 2, 3, 4, 5], &[6], &[7]]), [0, 1, 2]);
    }

    #[test]
    fn sorted_lists_share_what_both_hold() {
        assert_eq!(shared(&[1, 3, 5, 7], &[2, 3, 4, 7, 9]), 2);
        assert_eq!(shared(&[], &[1]), 0);
    }

    /// A module importing one function and defining three, with a name
    /// section naming two of them.
    fn module() -> Vec<u8> {
        use crate::table::tests::section;
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(section(1, &[1, 0x60, 0, 0]));
        wasm.extend(section(2, &[1, 1, b'm', 1, b'f', 0, 0]));
        wasm.extend(section(3, &[3, 0, 0, 0]));
        // Bodies: a short one, a long one, and one like the long one.
        wasm.extend(section(
            10,
            &[
                3, 2, 0, 0x0b, 9, 0, 0x41, 1, 0x41, 2, 0x6a, 0x1a, 0x01, 0x0b, 9, 0, 0x41, 1, 0x41,
                2, 0x6a, 0x1a, 0x00, 0x0b,
            ],
        ));
        let mut custom = vec![4];
        custom.extend_from_slice(b"name");
        custom.extend([1, 9, 2, 1, 1, b'a', 2, 3, b'b', b'c', b'd']);
        wasm.extend(section(0, &custom));
        wasm
    }

    #[test]
    fn the_names_sort_as_the_order_and_imports_keep_their_place() -> Result<()> {
        let out = name_by_likeness(&module())?;
        let s = sections(&out)?;
        let names = crate::table::function_names(&out, &s)?;
        assert_eq!(
            names,
            [
                (0, "import000000".to_string()),
                (1, "ordered000002".to_string()),
                (2, "ordered000000".to_string()),
                (3, "ordered000001".to_string()),
            ]
        );
        // One name section, last; every other section as it was.
        assert_eq!(s.iter().filter(|s| s.id == 0).count(), 1);
        let others = |w: &[u8]| -> Result<Vec<Vec<u8>>> {
            Ok(sections(w)?
                .iter()
                .filter(|s| s.id != 0)
                .map(|s| w[s.header..s.end].to_vec())
                .collect())
        };
        assert_eq!(others(&out)?, others(&module())?);
        // What is not a wasm module is refused by name.
        let err = name_by_likeness(b"not wasm at all").unwrap_err();
        assert!(
            err.to_string().contains("not a version 1 wasm module"),
            "{err}"
        );
        Ok(())
    }
}
