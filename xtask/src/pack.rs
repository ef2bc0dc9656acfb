//! The wasm as the widget ships it: its code split into streams (see
//! `crates/unpack`, whose decoder the loader runs and whose shapes of
//! instructions this packer follows). The first load's packs carry the
//! decoder in front: a pack file is the decoder's length (0 for none) as
//! LEB128, the decoder's wasm, then the pack. Anything the packer does not
//! know (an opcode of a feature the widget is not built with, a reference
//! type in a local) is refused by name rather than packed wrongly, and every
//! pack is unpacked again by the decoder's own code and compared with the
//! wasm before it is written.

use crate::table::{Reader, leb, sections};
use anyhow::{Context, Result, bail};
use dangol_unpack::{
    ALIGN, ALIGNED, BR, HEAD, OFFSET, OP, OTHER, POST, PRE, STORE, STREAMS, Shape, TAILS,
    prefixed_operands, shape,
};

/// The bytes from `r`'s position to the end of one LEB128 number, moved on.
fn leb_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let start = r.at;
    r.leb()?;
    Ok(&r.bytes[start..r.at])
}

/// The number LEB128 `bytes` hold.
fn value(bytes: &[u8]) -> Result<u64> {
    Reader { bytes, at: 0 }.leb()
}

/// `n` numbers from `r` onto `stream`: each number's first byte, and
/// its other bytes onto the stream that holds them (see
/// [`dangol_unpack::TAILS`]).
fn numbers(streams: &mut [Vec<u8>], stream: usize, n: usize, r: &mut Reader) -> Result<()> {
    for _ in 0..n {
        let bytes = leb_bytes(r)?;
        streams[stream].push(bytes[0]);
        streams[TAILS[stream]].extend_from_slice(&bytes[1..]);
    }
    Ok(())
}

/// `wasm` packed.
pub fn pack(wasm: &[u8]) -> Result<Vec<u8>> {
    let sections = sections(wasm)?;
    let code = sections
        .iter()
        .find(|s| s.id == 10)
        .context("the wasm has no code section")?;
    let mut r = Reader {
        bytes: &wasm[..code.end],
        at: code.start,
    };
    let bodies = r.leb()?;
    let mut streams: Vec<Vec<u8>> = vec![Vec::new(); STREAMS];
    streams[PRE].extend_from_slice(&wasm[..r.at]);
    streams[POST].extend_from_slice(&wasm[code.end..]);
    for body in 0..bodies {
        // A body's size is left out: the loader finds the body's end by
        // its blocks (the `end` that closes the body's own), and writes
        // the size in the fewest bytes, as wasm-opt does.
        let size = leb_bytes(&mut r)?;
        let mut fewest = Vec::new();
        leb(&mut fewest, value(size)?);
        if fewest != size {
            bail!("function body {body}'s size is not written in the fewest bytes");
        }
        let end = r.at + value(size)? as usize;
        if end > code.end {
            bail!("function body {body} runs past the code section");
        }
        let locals = leb_bytes(&mut r)?;
        streams[HEAD].extend_from_slice(locals);
        for _ in 0..value(locals)? {
            let count = leb_bytes(&mut r)?;
            streams[HEAD].extend_from_slice(count);
            let kind = r.byte()?;
            if !matches!(kind, 0x7B..=0x7F | 0x70 | 0x6F) {
                bail!(
                    "function body {body} has a local of type 0x{kind:02x}, which the packer does not know"
                );
            }
            streams[HEAD].push(kind);
        }
        let mut depth = 0;
        while r.at < end {
            let at = r.at;
            let op = r.byte()?;
            streams[OP].push(op);
            match op {
                0x02..=0x04 => depth += 1,
                0x0B if depth == 0 && r.at != end => {
                    bail!("function body {body} ends at byte {at}, before its last byte")
                }
                0x0B => depth -= 1,
                _ => {}
            }
            match shape(op) {
                Shape::Bare => {}
                Shape::Leb(stream) => numbers(&mut streams, stream, 1, &mut r)?,
                Shape::Mem(natural) => {
                    // The natural alignment is left for the decoder to
                    // write; any other is marked in front of the opcode.
                    let align = leb_bytes(&mut r)?;
                    if align != [natural] {
                        streams[OP].pop();
                        streams[OP].extend([ALIGNED, op]);
                        streams[ALIGN].extend_from_slice(align);
                    }
                    let offsets = if op < 0x36 { OFFSET } else { STORE };
                    numbers(&mut streams, offsets, 1, &mut r)?;
                }
                Shape::Table => {
                    let count = leb_bytes(&mut r)?;
                    streams[BR].extend_from_slice(count);
                    let labels = value(count)? as usize + 1;
                    numbers(&mut streams, BR, labels, &mut r)?;
                }
                Shape::Bytes(n) => {
                    let bytes = wasm
                        .get(r.at..r.at + n)
                        .context("the wasm ends inside a constant")?;
                    streams[OTHER].extend_from_slice(bytes);
                    r.at += n;
                }
                Shape::Indirect => numbers(&mut streams, OTHER, 2, &mut r)?,
                Shape::Prefixed => {
                    let sub_bytes = leb_bytes(&mut r)?;
                    let sub = value(sub_bytes)?;
                    let n = prefixed_operands(sub).with_context(|| {
                        format!("function body {body} uses opcode 0xfc {sub} at byte {at}, which the packer does not know")
                    })?;
                    // The opcode's number goes with the opcodes (the
                    // decoder reads it there).
                    streams[OP].extend_from_slice(sub_bytes);
                    numbers(&mut streams, OTHER, n, &mut r)?;
                }
                Shape::Unknown => bail!(
                    "function body {body} uses opcode 0x{op:02x} at byte {at}, which the packer does not know"
                ),
            }
        }
        if r.at != end {
            bail!("function body {body}'s last instruction runs past its end");
        }
    }
    if r.at != code.end {
        bail!("the code section holds more than its {bodies} function bodies");
    }
    let mut out = Vec::new();
    leb(&mut out, wasm.len() as u64);
    leb(&mut out, bodies);
    for stream in &streams {
        leb(&mut out, stream.len() as u64);
    }
    for stream in &streams {
        out.extend_from_slice(stream);
    }
    let back = unpack(&out)?;
    if back != wasm {
        bail!("the packed wasm does not unpack to the wasm");
    }
    Ok(out)
}

/// What `packed` unpacks to with the decoder's own code, or why not.
pub fn unpack(packed: &[u8]) -> Result<Vec<u8>> {
    std::panic::catch_unwind(|| {
        let mut out = vec![0; dangol_unpack::size(packed) + 5];
        let n = dangol_unpack::unpack(packed, &mut out);
        out.truncate(n);
        out
    })
    .map_err(|_| anyhow::anyhow!("the pack does not read back whole"))
}

/// The pack file: the decoder's length and the decoder (`decoder` empty
/// for a module the loader loads after the first, when it holds the
/// decoder already), then `wasm` packed.
pub fn pack_file(wasm: &[u8], decoder: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    leb(&mut out, decoder.len() as u64);
    out.extend_from_slice(decoder);
    out.extend(pack(wasm)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::section;
    use dangol_unpack::{BLOCK, CALL, GET, I32, I32_TAIL, OFFSET_TAIL, SET};

    /// A module of one function type and `bodies` (each its locals and
    /// instructions, without `end`).
    fn module(bodies: &[&[u8]]) -> Vec<u8> {
        let mut code = vec![bodies.len() as u8];
        for body in bodies {
            let mut b = body.to_vec();
            b.push(0x0B);
            leb(&mut code, b.len() as u64);
            code.extend(b);
        }
        module_of(bodies.len(), &code)
    }

    /// A module of `functions` functions whose code section holds `code`.
    fn module_of(functions: usize, code: &[u8]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend(section(1, &[1, 0x60, 0, 0]));
        let mut listed = vec![functions as u8];
        listed.extend(std::iter::repeat_n(0, functions));
        wasm.extend(section(3, &listed));
        wasm.extend(section(5, &[1, 0, 1]));
        wasm.extend(section(10, code));
        wasm.extend(section(0, b"\x04name"));
        wasm
    }

    #[test]
    fn a_module_packs_into_streams_and_unpacks_byte_for_byte() -> Result<()> {
        let wasm = module(&[
            // two i32 locals; local.get 0, i32.const -200, i32.add,
            // local.set 1, i32.load offset=300 (aligned as its width),
            // drop, i32.load align=1 offset=4, drop, i32.store offset=8,
            // call 1.
            &[
                1, 2, 0x7F, 0x20, 0, 0x41, 0xB8, 0x7E, 0x6A, 0x21, 1, 0x20, 1, 0x28, 2, 0xAC, 2,
                0x1A, 0x20, 1, 0x28, 0, 4, 0x1A, 0x20, 1, 0x20, 0, 0x36, 2, 8, 0x10, 1,
            ],
            // block, br_table 0 0 0, f64.const, drop, memory.copy,
            // i32.trunc_sat_f32_s on f32.const, drop, end.
            &[
                0, 0x02, 0x40, 0x41, 0, 0x0E, 2, 0, 0, 0, 0x44, 1, 2, 3, 4, 5, 6, 7, 8, 0x1A, 0x41,
                0, 0x41, 0, 0x41, 0, 0xFC, 10, 0, 0, 0x43, 0, 0, 0x80, 0x3F, 0xFC, 0, 0x1A, 0x0B,
            ],
        ]);
        let packed = pack(&wasm)?;
        assert_eq!(unpack(&packed)?, wasm);
        let mut r = Reader {
            bytes: &packed,
            at: 0,
        };
        assert_eq!(r.leb()?, wasm.len() as u64);
        assert_eq!(r.leb()?, 2, "two bodies");
        let lengths: Vec<u64> = (0..STREAMS).map(|_| r.leb()).collect::<Result<_>>()?;
        let mut at = r.at;
        let streams: Vec<&[u8]> = lengths
            .iter()
            .map(|&n| {
                let s = &packed[at..at + n as usize];
                at += n as usize;
                s
            })
            .collect();
        assert_eq!(streams[GET], &[0, 1, 1, 1, 0]);
        assert_eq!(streams[SET], &[1]);
        assert_eq!(
            streams[I32],
            &[0xB8, 0, 0, 0, 0],
            "each number's first byte"
        );
        assert_eq!(streams[I32_TAIL], &[0x7E], "and the rest apart");
        assert_eq!(
            streams[ALIGN],
            &[0],
            "only the alignment not the natural one"
        );
        assert_eq!(streams[OFFSET], &[0xAC, 4]);
        assert_eq!(streams[OFFSET_TAIL], &[2]);
        assert_eq!(streams[STORE], &[8]);
        assert_eq!(streams[CALL], &[1]);
        assert_eq!(streams[BR], &[2, 0, 0, 0]);
        assert_eq!(streams[BLOCK], &[0x40]);
        assert_eq!(
            streams[OP],
            &[
                0x20, 0x41, 0x6A, 0x21, 0x20, 0x28, 0x1A, 0x20, ALIGNED, 0x28, 0x1A, 0x20, 0x20,
                0x36, 0x10, 0x0B, 0x02, 0x41, 0x0E, 0x44, 0x1A, 0x41, 0x41, 0x41, 0xFC, 10, 0x43,
                0xFC, 0, 0x1A, 0x0B, 0x0B
            ]
        );
        assert_eq!(
            streams[OTHER],
            &[1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0x80, 0x3F]
        );
        Ok(())
    }

    /// Why packing `wasm` is refused (empty if it is not).
    fn refusal(wasm: &[u8]) -> String {
        pack(wasm).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn an_opcode_the_packer_does_not_know_is_refused_by_name() {
        // v128.const (the SIMD prefix).
        let simd = refusal(&module(&[&[0, 0xFD, 12]]));
        assert!(simd.contains("opcode 0xfd"), "{simd}");
        let prefixed = refusal(&module(&[&[0, 0xFC, 40]]));
        assert!(prefixed.contains("opcode 0xfc 40"), "{prefixed}");
        let local = refusal(&module(&[&[1, 1, 0x64, 0x70]]));
        assert!(local.contains("local of type 0x64"), "{local}");
    }

    #[test]
    fn a_body_of_more_than_127_bytes_gets_its_two_byte_size_back() -> Result<()> {
        let mut body = vec![0];
        for _ in 0..100 {
            body.extend([0x41, 0x7F, 0x1A]);
        }
        let wasm = module(&[&body, &[0, 0x01]]);
        assert_eq!(unpack(&pack(&wasm)?)?, wasm);
        Ok(())
    }

    #[test]
    fn a_body_that_ends_early_or_a_size_in_too_many_bytes_is_refused() {
        // `end` closes the body, then a `nop` follows.
        let early = refusal(&module(&[&[0, 0x0B, 0x01]]));
        assert!(early.contains("before its last byte"), "{early}");
        // A body's size (4) written in two bytes, 0x84 0x00.
        let padded = refusal(&module_of(1, &[1, 0x84, 0x00, 0, 0x01, 0x01, 0x0B]));
        assert!(padded.contains("fewest bytes"), "{padded}");
    }

    #[test]
    fn a_truncated_pack_is_refused() -> Result<()> {
        let packed = pack(&module(&[&[0, 0x41, 5, 0x1A]]))?;
        assert!(unpack(&packed[..packed.len() - 3]).is_err());
        Ok(())
    }
}
