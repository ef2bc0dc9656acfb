//! A wasm module as the widget's build packs it, put back together byte
//! for byte.
//!
//! The build (`xtask/src/pack.rs`) splits the code of each function body
//! into streams: one for the opcodes and one for each kind of operand
//! (locals read, locals written, functions called, alignments, loads' and
//! stores' offsets, constants, labels…), with the bytes after the first of
//! the several-byte numbers (calls, constants, offsets) in streams of
//! their own ([`TAILS`]). Operands of one kind look alike, and so do
//! opcodes, so the streams compress far better than the instructions as
//! they come (the first module about a sixth smaller with gzip). What the
//! decoder can work out is left out: a body's size (a body ends at the
//! `end` that closes its own block, and its size is written back in the
//! fewest bytes) and a memory access's alignment where it is the natural
//! one for its width ([`ALIGNED`] marks any other).
//!
//! A packed module is: the module's size, the number of bodies, the length
//! of each of the [`STREAMS`] streams (all unsigned LEB128), then the
//! streams in order.
//!
//! The same code runs natively (the build checks every pack with it) and
//! in the browser: built for wasm32, it is the loader's decoder, much faster
//! there than the same loop in JavaScript before the page's JIT has warmed
//! up. A pack that does not read back whole (cut short, or not a pack) is
//! refused; in the browser the call then traps, and the loader reports it.

#![no_std]

/// The opcodes, and a prefixed opcode's number.
pub const OP: usize = 0;
/// `local.get`'s local.
pub const GET: usize = 1;
/// `call`'s function.
pub const CALL: usize = 2;
/// A memory access's alignment.
pub const ALIGN: usize = 3;
/// `i32.const`'s number.
pub const I32: usize = 4;
/// A branch's label, and `br_table`'s count and labels.
pub const BR: usize = 5;
/// A block's type.
pub const BLOCK: usize = 6;
/// `global.get` and `global.set`'s global.
pub const GLOBAL: usize = 7;
/// Float constants, and what the few other opcodes with operands take.
pub const OTHER: usize = 8;
/// Each body's locals.
pub const HEAD: usize = 9;
/// The module up to its first function body (the code section's header
/// and count of bodies included).
pub const PRE: usize = 10;
/// The module after its last function body.
pub const POST: usize = 11;
/// `i64.const`'s number.
pub const I64: usize = 12;
/// A load's offset.
pub const OFFSET: usize = 13;
/// `local.set` and `local.tee`'s local.
pub const SET: usize = 15;
/// A store's offset.
pub const STORE: usize = 14;
/// How many streams a pack has. Their order is the order that compressed
/// best (the first module's gzip varies by about 100 bytes between orders).
pub const STREAMS: usize = 20;
/// The bytes after the first of each number in [`CALL`].
pub const CALL_TAIL: usize = 16;
/// The bytes after the first of each number in [`I32`].
pub const I32_TAIL: usize = 17;
/// The bytes after the first of each number in [`OFFSET`].
pub const OFFSET_TAIL: usize = 18;
/// The bytes after the first of each number in [`STORE`].
pub const STORE_TAIL: usize = 19;

/// Where the bytes after the first of a number of each stream are: the
/// numbers of calls, constants and offsets run to several bytes, and their
/// first bytes compress better apart from the rest (the first module's
/// pack 793 bytes smaller); the other streams keep their numbers whole.
pub const TAILS: [usize; STREAMS] = {
    let mut tails = [0; STREAMS];
    let mut stream = 0;
    while stream < STREAMS {
        tails[stream] = match stream {
            CALL => CALL_TAIL,
            I32 => I32_TAIL,
            OFFSET => OFFSET_TAIL,
            STORE => STORE_TAIL,
            _ => stream,
        };
        stream += 1;
    }
    tails
};

/// In the opcodes' stream, in front of a memory access whose alignment is
/// not the natural one for its width (then its alignment is in [`ALIGN`];
/// otherwise the decoder writes the natural one). An opcode no module has.
pub const ALIGNED: u8 = 0xFF;

/// What follows an opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Nothing.
    Bare,
    /// One LEB128 number, kept in that stream.
    Leb(usize),
    /// A memory access: its alignment (unless it is this natural one,
    /// as log2 of the bytes accessed) and its offset.
    Mem(u8),
    /// `br_table`: a count, then that many labels and the default.
    Table,
    /// So many bytes as they are (a float constant).
    Bytes(usize),
    /// `call_indirect`: a type and a table.
    Indirect,
    /// The 0xFC prefix: the opcode's number, then
    /// [`prefixed_operands`] numbers.
    Prefixed,
    /// An opcode the widget's wasm does not use.
    Unknown,
}

/// What follows each opcode of the features the widget is built with (the
/// MVP, sign extension, saturating conversions, bulk memory, reference
/// types).
pub const fn shape(op: u8) -> Shape {
    use Shape::*;
    match op {
        0x00 | 0x01 | 0x05 | 0x0B | 0x0F | 0x1A | 0x1B | 0xD1 => Bare,
        0x02..=0x04 => Leb(BLOCK),
        0x0C | 0x0D => Leb(BR),
        0x0E => Table,
        0x10 => Leb(CALL),
        0x11 => Indirect,
        0x20 => Leb(GET),
        0x21 | 0x22 => Leb(SET),
        0x23 | 0x24 => Leb(GLOBAL),
        0x25 | 0x26 | 0x3F | 0x40 | 0xD0 | 0xD2 => Leb(OTHER),
        // Loads, then stores, each by width.
        0x28 | 0x2A | 0x34 | 0x35 | 0x36 | 0x38 | 0x3E => Mem(2),
        0x29 | 0x2B | 0x37 | 0x39 => Mem(3),
        0x2C | 0x2D | 0x30 | 0x31 | 0x3A | 0x3C => Mem(0),
        0x2E | 0x2F | 0x32 | 0x33 | 0x3B | 0x3D => Mem(1),
        0x41 => Leb(I32),
        0x42 => Leb(I64),
        0x43 => Bytes(4),
        0x44 => Bytes(8),
        0x45..=0xC4 => Bare,
        0xFC => Prefixed,
        _ => Unknown,
    }
}

/// How many numbers follow the 0xFC-prefixed opcode `sub` (the saturating
/// conversions, then bulk memory and table operations, whose zero bytes
/// naming the memory are numbers too), or `None` for one it does not know.
pub const fn prefixed_operands(sub: u64) -> Option<usize> {
    match sub {
        0..=7 => Some(0),
        8 | 10 | 12 | 14 => Some(2),
        9 | 11 | 13 | 15..=17 => Some(1),
        _ => None,
    }
}

/// [`shape`] of every opcode as one byte, looked up once (a body's opcodes
/// are most of what the decoder reads): 0 nothing follows, 1 to 15 one
/// number of that stream, then [`MEM`] (plus the natural alignment),
/// [`TABLE`], [`F32`], [`F64`],
/// [`INDIRECT`], [`PREFIXED`] and [`UNKNOWN`].
pub const CODES: [u8; 256] = {
    let mut table = [UNKNOWN; 256];
    let mut op = 0;
    while op < 256 {
        table[op] = match shape(op as u8) {
            Shape::Bare => 0,
            Shape::Leb(stream) => stream as u8,
            Shape::Mem(natural) => MEM + natural,
            Shape::Table => TABLE,
            Shape::Bytes(4) => F32,
            Shape::Bytes(_) => F64,
            Shape::Indirect => INDIRECT,
            Shape::Prefixed => PREFIXED,
            Shape::Unknown => UNKNOWN,
        };
        op += 1;
    }
    table
};
/// [`CODES`]: a memory access, plus its natural alignment (0 to 3).
pub const MEM: u8 = STREAMS as u8;
/// [`CODES`]: `br_table`.
pub const TABLE: u8 = MEM + 4;
/// [`CODES`]: a 4-byte constant.
pub const F32: u8 = TABLE + 1;
/// [`CODES`]: an 8-byte constant.
pub const F64: u8 = F32 + 1;
/// [`CODES`]: `call_indirect`.
pub const INDIRECT: u8 = F64 + 1;
/// [`CODES`]: the 0xFC prefix.
pub const PREFIXED: u8 = INDIRECT + 1;
/// [`CODES`]: an opcode the decoder does not know.
pub const UNKNOWN: u8 = PREFIXED + 1;

/// How many numbers follow each 0xFC-prefixed opcode the decoder knows.
const PREFIXED_OPERANDS: [u8; 18] = {
    let mut table = [0; 18];
    let mut sub = 0;
    while sub < 18 {
        table[sub] = match prefixed_operands(sub as u64) {
            Some(n) => n as u8,
            None => 0,
        };
        sub += 1;
    }
    table
};

/// One LEB128 number of `bytes` at `at`, moved on.
fn leb(bytes: &[u8], at: &mut usize) -> usize {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= usize::from(b & 0x7F) << (shift & 63);
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

/// The size of the module `packed` holds (what [`unpack`] needs room for).
///
/// # Panics
/// If `packed` is empty or ends inside its first number.
pub fn size(packed: &[u8]) -> usize {
    leb(packed, &mut 0)
}

/// The module's bytes as they are written, and the pack's streams as they
/// are read.
struct Unpacking<'a, 'b> {
    packed: &'a [u8],
    at: [usize; STREAMS],
    out: &'b mut [u8],
    len: usize,
}

impl Unpacking<'_, '_> {
    /// The next byte of `stream`, not copied.
    fn take(&mut self, stream: usize) -> u8 {
        let b = self.packed[self.at[stream]];
        self.at[stream] += 1;
        b
    }

    /// `b` written.
    fn put(&mut self, b: u8) {
        self.out[self.len] = b;
        self.len += 1;
    }

    /// The next byte of `stream`, copied (byte by byte throughout: most
    /// copies are one to three bytes, for which a call to `memcpy` costs
    /// more than the copy).
    fn byte(&mut self, stream: usize) -> u8 {
        let b = self.take(stream);
        self.put(b);
        b
    }

    /// `n` bytes of `stream` copied as they are.
    fn copy(&mut self, stream: usize, n: usize) {
        for _ in 0..n {
            self.byte(stream);
        }
    }

    /// One LEB128 number of `stream` copied, when its value is not needed.
    fn skip(&mut self, stream: usize) {
        let mut b = self.byte(stream);
        while b & 0x80 != 0 {
            b = self.byte(TAILS[stream]);
        }
    }

    /// One LEB128 number of `stream`, which keeps its numbers whole,
    /// copied; its value returned.
    fn number(&mut self, stream: usize) -> usize {
        let (mut value, mut shift) = (0usize, 0);
        loop {
            let b = self.byte(stream);
            value |= usize::from(b & 0x7F) << (shift & 63);
            if b & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }
}

/// The module `packed` holds, written to the front of `out`; its length
/// returned.
///
/// # Panics
/// If `packed` does not read back whole (cut short, or not a pack), or
/// `out` has no room for the module (in the browser, the call traps).
pub fn unpack(packed: &[u8], out: &mut [u8]) -> usize {
    let mut head = 0;
    let size = leb(packed, &mut head);
    let bodies = leb(packed, &mut head);
    let mut lengths = [0; STREAMS];
    for length in &mut lengths {
        *length = leb(packed, &mut head);
    }
    let mut u = Unpacking {
        packed,
        at: [0; STREAMS],
        out,
        len: 0,
    };
    for (stream, length) in lengths.iter().enumerate() {
        u.at[stream] = head;
        head += length;
    }
    assert!(head == packed.len(), "a pack's streams fill it");
    u.copy(PRE, lengths[PRE]);
    for _ in 0..bodies {
        // The body is written five bytes on, where its size will fit in
        // front of it once its end is found.
        u.len += 5;
        let body = u.len;
        for _ in 0..u.number(HEAD) {
            u.skip(HEAD);
            u.copy(HEAD, 1);
        }
        // Until the `end` that closes the body's own block.
        let mut depth = 0usize;
        loop {
            let mut op = u.take(OP);
            let aligned = op == ALIGNED;
            if aligned {
                op = u.take(OP);
            }
            u.put(op);
            match op {
                0x02..=0x04 => depth += 1,
                0x0B if depth == 0 => break,
                0x0B => depth -= 1,
                _ => {}
            }
            match CODES[usize::from(op)] {
                0 => {}
                stream @ 1..MEM => {
                    u.skip(usize::from(stream));
                }
                code @ MEM..TABLE => {
                    if aligned {
                        u.skip(ALIGN);
                    } else {
                        u.put(code - MEM);
                    }
                    u.skip(if op < 0x36 { OFFSET } else { STORE });
                }
                TABLE => {
                    for _ in 0..=u.number(BR) {
                        u.skip(BR);
                    }
                }
                F32 => u.copy(OTHER, 4),
                F64 => u.copy(OTHER, 8),
                INDIRECT => {
                    u.skip(OTHER);
                    u.skip(OTHER);
                }
                PREFIXED => {
                    for _ in 0..PREFIXED_OPERANDS[u.number(OP)] {
                        u.skip(OTHER);
                    }
                }
                _ => panic!("a pack holds an opcode the decoder does not know"),
            }
        }
        // The size in front, in the fewest bytes, and the body moved up
        // behind it.
        let mut n = u.len - body;
        let mut at = body - 5;
        loop {
            let more = n > 0x7F;
            u.out[at] = (n & 0x7F) as u8 | if more { 0x80 } else { 0 };
            at += 1;
            n >>= 7;
            if !more {
                break;
            }
        }
        u.out.copy_within(body..u.len, at);
        u.len -= body - at;
    }
    u.copy(POST, lengths[POST]);
    assert!(u.len == size, "a pack comes out at the size it names");
    size
}

/// The decoder as the loader calls it, in the wasm build: the pack at
/// `packed` (`len` bytes) unpacked to `out`, which has room for `room`
/// bytes; the module's length returned. A pack that does not read back
/// traps, and the loader's promise of the module rejects.
///
/// # Safety
/// Both ranges lie in the module's memory and do not overlap.
#[cfg(target_arch = "wasm32")]
#[unsafe(export_name = "u")]
pub unsafe extern "C" fn unpack_into(
    packed: *const u8,
    len: usize,
    out: *mut u8,
    room: usize,
) -> usize {
    // SAFETY: the loader hands ranges it grew the memory for, apart.
    let (packed, out) = unsafe {
        (
            core::slice::from_raw_parts(packed, len),
            core::slice::from_raw_parts_mut(out, room),
        )
    };
    unpack(packed, out)
}

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_has_its_code() {
        assert_eq!(CODES[0x20], GET as u8, "local.get");
        assert_eq!(CODES[0x21], SET as u8, "local.set");
        assert_eq!(CODES[0x22], SET as u8, "local.tee");
        assert_eq!(CODES[0x10], CALL as u8, "call");
        assert_eq!(CODES[0x28], MEM + 2, "i32.load");
        assert_eq!(CODES[0x29], MEM + 3, "i64.load");
        assert_eq!(CODES[0x2D], MEM, "i32.load8_u");
        assert_eq!(CODES[0x3B], MEM + 1, "i32.store16");
        assert_eq!(CODES[0x3E], MEM + 2, "i64.store32");
        assert_eq!(CODES[0x0E], TABLE, "br_table");
        assert_eq!(CODES[0x43], F32, "f32.const");
        assert_eq!(CODES[0x44], F64, "f64.const");
        assert_eq!(CODES[0xC4], 0, "i64.extend32_s");
        assert_eq!(CODES[0xFC], PREFIXED);
        assert_eq!(CODES[0xFD], UNKNOWN, "SIMD is not built");
        assert_eq!(CODES[0x1C], UNKNOWN, "select with types is not emitted");
        assert_eq!(
            PREFIXED_OPERANDS,
            [0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1]
        );
    }

    /// A pack of one body, `i32.const 5; drop; end`, in a module of no
    /// other sections: the streams by hand.
    fn small_pack() -> ([u8; 9], [u8; 38]) {
        // 17 bytes: the 8 of the header, the code section's id, size (7)
        // and count (1), then the body: its size (5), no locals, 0x41 5
        // 0x1A 0x0B.
        let wasm = [0, 0x61, 0x73, 0x6D, 1, 0, 0, 0, 10];
        let mut pack = [0u8; 38];
        let streams: [&[u8]; STREAMS] = [
            &[0x41, 0x1A, 0x0B], // OP
            &[],
            &[],
            &[],
            &[5], // I32
            &[],
            &[],
            &[],
            &[],
            &[0],                                         // HEAD: no locals
            &[0, 0x61, 0x73, 0x6D, 1, 0, 0, 0, 10, 7, 1], // PRE
            &[],
            &[],
            &[],
            &[],
            &[],
            &[],
            &[],
            &[],
            &[],
        ];
        let mut at = 0;
        for b in [17u8, 1] {
            pack[at] = b;
            at += 1;
        }
        for s in streams {
            pack[at] = s.len() as u8;
            at += 1;
        }
        for s in streams {
            pack[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
        assert_eq!(at, pack.len());
        (wasm, pack)
    }

    #[test]
    fn a_body_gets_its_size_back_in_front_of_it() {
        let (header, pack) = small_pack();
        assert_eq!(size(&pack), 17);
        let mut out = [0u8; 22];
        assert_eq!(unpack(&pack, &mut out), 17);
        assert_eq!(&out[..9], &header);
        assert_eq!(&out[9..17], &[7, 1, 5, 0, 0x41, 5, 0x1A, 0x0B]);
    }

    #[test]
    #[should_panic]
    fn a_pack_cut_short_does_not_read_back() {
        let (_, pack) = small_pack();
        let mut out = [0u8; 22];
        unpack(&pack[..pack.len() - 2], &mut out);
    }

    #[test]
    #[should_panic]
    fn a_module_larger_than_its_room_is_refused() {
        let (_, pack) = small_pack();
        let mut out = [0u8; 12];
        unpack(&pack, &mut out);
    }
}
