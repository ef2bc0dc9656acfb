//! The compact binary form the server publishes checked configs in (see
//! [`crate::config::compact`]): varints, length-prefixed UTF-8 and
//! little-endian floats, carried as base64 text so it can be stored and
//! signed like any text. Writing happens once per publish on the server;
//! reading is all the widget does with a config, so the reader is small and
//! trusts nothing: every length is checked against what is left, nesting is
//! bounded, and a bad byte makes the whole read fail (never a panic).

use crate::json::{Map, Number, Value};

/// Nesting the reader accepts (conditions and values); deeper is corrupt.
const MAX_DEPTH: u32 = 64;

/// Builds the bytes of a compact form.
#[derive(Debug, Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    /// A whole number, as a LEB128 varint.
    pub fn u(&mut self, mut n: u64) {
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.bytes.push(low);
                return;
            }
            self.bytes.push(low | 0x80);
        }
    }

    /// A signed whole number, zigzag-encoded.
    pub fn i(&mut self, n: i64) {
        self.u(((n << 1) ^ (n >> 63)) as u64);
    }

    /// A float, 8 bytes little-endian.
    pub fn f(&mut self, x: f64) {
        self.bytes.extend_from_slice(&x.to_le_bytes());
    }

    /// A number, short when it is whole and small (most shares, weights
    /// and thresholds are 0, 1 or a whole amount): twice the number as a
    /// varint, or 1 and the 8 bytes of the float.
    pub fn n(&mut self, x: f64) {
        if x.fract() == 0.0 && (0.0..4e15).contains(&x) {
            self.u(x as u64 * 2);
        } else {
            self.u(1);
            self.f(x);
        }
    }

    /// A flag.
    pub fn b(&mut self, flag: bool) {
        self.bytes.push(u8::from(flag));
    }

    /// Text: its length, then its UTF-8.
    pub fn s(&mut self, text: &str) {
        self.u(text.len() as u64);
        self.bytes.extend_from_slice(text.as_bytes());
    }

    /// An optional value: a flag, then the value when present.
    pub fn opt<T>(&mut self, value: Option<&T>, write: impl FnOnce(&mut Self, &T)) {
        self.b(value.is_some());
        if let Some(v) = value {
            write(self, v);
        }
    }

    /// A list: its length, then each item.
    pub fn list<T>(&mut self, items: &[T], mut write: impl FnMut(&mut Self, &T)) {
        self.u(items.len() as u64);
        for item in items {
            write(self, item);
        }
    }

    /// Any JSON value, tagged by kind; numbers keep their kind (whole,
    /// negative whole or float) so they read back as the same value.
    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Null => self.u(0),
            Value::Bool(b) => self.u(1 + u64::from(*b)),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    self.u(3);
                    self.u(u);
                } else if let Some(i) = n.as_i64() {
                    self.u(4);
                    self.i(i);
                } else {
                    self.u(5);
                    self.f(n.as_f64().unwrap_or(0.0));
                }
            }
            Value::String(s) => {
                self.u(6);
                self.s(s);
            }
            Value::Array(items) => {
                self.u(7);
                self.list(items, Self::value);
            }
            Value::Object(map) => {
                self.u(8);
                self.u(map.len() as u64);
                for (k, v) in map {
                    self.s(k);
                    self.value(v);
                }
            }
        }
    }

    /// The bytes themselves, for a store that keeps bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The bytes as base64 text (standard alphabet, padded).
    pub fn finish(self) -> String {
        base64(&self.bytes)
    }
}

/// Reads a compact form. A bad or missing byte does not stop the read: it
/// marks the reader [failed](Reader::failed) and every read after it gives
/// an empty value, so decoding code is straight-line (no early returns and
/// no clean-up paths, which is most of what a decoder costs in wasm) and the
/// caller checks once at the end.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: u32,
    failed: bool,
}

impl<'a> Reader<'a> {
    /// Reads from raw bytes.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            at: 0,
            depth: 0,
            failed: false,
        }
    }

    /// Where the reader is (or where it failed), for an error message.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Whether some read failed.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Marks the read as failed (bad bytes, or a value that breaks a rule).
    pub fn fail(&mut self) {
        self.failed = true;
    }

    /// `value` when every read succeeded and every byte was read.
    pub fn finish<T>(self, value: T) -> Option<T> {
        (!self.failed && self.at == self.bytes.len()).then_some(value)
    }

    fn byte(&mut self) -> u8 {
        match self.bytes.get(self.at) {
            Some(b) if !self.failed => {
                self.at += 1;
                *b
            }
            _ => {
                self.failed = true;
                0
            }
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        match self
            .at
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.at..end))
        {
            Some(out) if !self.failed => {
                self.at += n;
                out
            }
            _ => {
                self.failed = true;
                &[]
            }
        }
    }

    /// See [`Writer::u`].
    pub fn u(&mut self) -> u64 {
        let mut n = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte();
            if shift > 63 {
                self.failed = true;
                return 0;
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return n;
            }
            shift += 7;
        }
    }

    /// A varint that must fit in a `u32`.
    pub fn u32(&mut self) -> u32 {
        let n = self.u();
        u32::try_from(n).unwrap_or_else(|_| {
            self.failed = true;
            0
        })
    }

    /// A varint that must fit in a `u8`.
    pub fn u8(&mut self) -> u8 {
        let n = self.u();
        u8::try_from(n).unwrap_or_else(|_| {
            self.failed = true;
            0
        })
    }

    /// See [`Writer::i`].
    pub fn i(&mut self) -> i64 {
        let z = self.u();
        ((z >> 1) as i64) ^ -((z & 1) as i64)
    }

    /// See [`Writer::f`].
    pub fn f(&mut self) -> f64 {
        let mut raw = [0u8; 8];
        let bytes = self.take(8);
        if bytes.len() == 8 {
            raw.copy_from_slice(bytes);
        }
        f64::from_le_bytes(raw)
    }

    /// See [`Writer::n`].
    pub fn n(&mut self) -> f64 {
        match self.u() {
            1 => self.f(),
            z if z % 2 == 0 => (z / 2) as f64,
            _ => {
                self.failed = true;
                0.0
            }
        }
    }

    /// See [`Writer::b`].
    pub fn b(&mut self) -> bool {
        match self.byte() {
            0 => false,
            1 => true,
            _ => {
                self.failed = true;
                false
            }
        }
    }

    /// See [`Writer::s`].
    pub fn s(&mut self) -> String {
        let n = self.u() as usize;
        let raw = self.take(n);
        decode_utf8(raw).unwrap_or_else(|| {
            self.failed = true;
            String::new()
        })
    }

    /// See [`Writer::opt`].
    #[inline(always)]
    pub fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.b() { Some(read(self)) } else { None }
    }

    /// Is every byte read? (A form can end in an optional part that older
    /// writers leave out.)
    pub fn at_end(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// The length of a list. A length beyond the bytes left is corrupt
    /// (every item takes at least one byte), so nothing huge is allocated.
    pub fn count(&mut self) -> usize {
        let n = self.u();
        if self.failed || n > (self.bytes.len() - self.at) as u64 {
            self.failed = true;
            return 0;
        }
        n as usize
    }

    /// See [`Writer::list`]. Always inlined, like [`Reader::opt`]: the
    /// config's and the profile's readers call both for some thirty
    /// element types, and a copy of the loop in each caller costs the
    /// widget's wasm less than thirty functions of their own (166 bytes
    /// of gzip).
    #[inline(always)]
    pub fn list<T>(&mut self, mut read: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.count();
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            if self.failed {
                break;
            }
            out.push(read(self));
        }
        out
    }

    /// Enters one level of nesting; too deep fails the read (and reads
    /// nothing more, so a hostile form cannot recurse without end). Pair
    /// with [`Reader::leave`].
    pub fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            self.failed = true;
        }
        self.depth += 1;
        !self.failed
    }

    /// Leaves a level entered with [`Reader::enter`].
    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// See [`Writer::value`].
    pub fn value(&mut self) -> Value {
        let value = if self.enter() {
            match self.u() {
                0 => Value::Null,
                1 => Value::Bool(false),
                2 => Value::Bool(true),
                3 => Value::Number(self.u().into()),
                4 => Value::Number(self.i().into()),
                5 => match Number::from_f64(self.f()) {
                    Some(n) => Value::Number(n),
                    None => {
                        self.failed = true;
                        Value::Null
                    }
                },
                6 => Value::String(self.s()),
                7 => Value::Array(self.list(Self::value)),
                8 => {
                    let mut map = Map::new();
                    for _ in 0..self.count() {
                        let key = self.s();
                        let value = self.value();
                        if self.failed {
                            break;
                        }
                        map.insert(key, value);
                    }
                    Value::Object(map)
                }
                _ => {
                    self.failed = true;
                    Value::Null
                }
            }
        } else {
            Value::Null
        };
        self.leave();
        value
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Each byte's value in [`ALPHABET`], 0xFF for bytes outside it.
const DECODE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Decodes [`base64`]; `None` for any character outside the alphabet or a
/// length that is not a whole number of groups. Whitespace is not allowed.
/// A table lookup a character: a stored config is decoded on every page.
pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let Some(body) = text.len().checked_sub(4) else {
        return Some(Vec::new());
    };
    // Padding only ends the text: the last group, with its `=` read as
    // zeros, then cut off the output.
    let mut last = [0u8; 4];
    last.copy_from_slice(&text[body..]);
    let pad = last.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    last[4 - pad..].fill(b'A');
    let mut out = vec![0u8; text.len() / 4 * 3];
    let mut bad = 0u8;
    // Plain indexing into slices: the size-optimised build inlines no
    // iterator adapters (nor `Vec`'s indexing), and this runs once a
    // character.
    let dst: &mut [u8] = &mut out;
    let mut at = 0;
    while at <= body {
        let group: &[u8] = if at == body { &last } else { &text[at..at + 4] };
        let (a, b, c, d) = (
            DECODE[usize::from(group[0])],
            DECODE[usize::from(group[1])],
            DECODE[usize::from(group[2])],
            DECODE[usize::from(group[3])],
        );
        bad |= a | b | c | d;
        let n = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        let o = at / 4 * 3;
        dst[o] = (n >> 16) as u8;
        dst[o + 1] = (n >> 8) as u8;
        dst[o + 2] = n as u8;
        at += 4;
    }
    if bad & 0x80 != 0 {
        return None;
    }
    out.truncate(out.len() - pad);
    Some(out)
}

/// `raw` as text if it is valid UTF-8: the shortest encoding of a
/// character that is not a surrogate, at most U+10FFFF. Decoded character
/// by character into the string, so the widget ships no validator table of
/// the standard library's beside it.
fn decode_utf8(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&lead) = bytes.next() {
        // The continuation bytes that follow, the lead's payload bits and
        // the least code point that needs this many bytes.
        let (more, mut code, least) = match lead {
            0..=0x7f => (0, u32::from(lead), 0),
            0xc0..=0xdf => (1, u32::from(lead & 0x1f), 0x80),
            0xe0..=0xef => (2, u32::from(lead & 0x0f), 0x800),
            0xf0..=0xf7 => (3, u32::from(lead & 0x07), 0x1_0000),
            _ => return None,
        };
        for _ in 0..more {
            let next = *bytes.next()?;
            if next & 0xc0 != 0x80 {
                return None;
            }
            code = code << 6 | u32::from(next & 0x3f);
        }
        if code < least {
            return None;
        }
        out.push(char::from_u32(code)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    /// What the standard library makes of `raw`.
    fn std_text(raw: &[u8]) -> Option<String> {
        std::str::from_utf8(raw).ok().map(str::to_string)
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_as_the_standard_library_refuses_it() {
        let cases: &[&[u8]] = &[
            b"",
            b"plain",
            "겨울 니트 \u{1F9E3} 20%".as_bytes(),
            &[0x7f],
            &[0xc2, 0x80],
            &[0xdf, 0xbf],
            &[0xef, 0xbf, 0xbf],
            &[0xf4, 0x8f, 0xbf, 0xbf],
            // Overlong forms of '/', U+07FF and U+FFFF.
            &[0xc0, 0xaf],
            &[0xc1, 0xbf],
            &[0xe0, 0x9f, 0xbf],
            &[0xf0, 0x8f, 0xbf, 0xbf],
            // Surrogates, and past U+10FFFF.
            &[0xed, 0xa0, 0x80],
            &[0xed, 0xbf, 0xbf],
            &[0xf4, 0x90, 0x80, 0x80],
            &[0xf5, 0x80, 0x80, 0x80],
            &[0xf8, 0x88, 0x80, 0x80, 0x80],
            &[0xff],
            // Cut short, a continuation byte alone, a lead where a
            // continuation should be.
            &[0xe2, 0x82],
            &[0xf0, 0x9f, 0xa7],
            &[0x80],
            &[b'a', 0xbf, b'b'],
            &[0xe2, 0x41, 0x82],
        ];
        for raw in cases {
            assert_eq!(decode_utf8(raw), std_text(raw), "{raw:x?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_read_as_the_standard_library_reads_them(
            raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)
        ) {
            proptest::prop_assert_eq!(decode_utf8(&raw), std_text(&raw));
        }

        #[test]
        fn characters_mixed_with_stray_bytes_read_as_the_standard_library_reads_them(
            parts in proptest::collection::vec(
                (proptest::prelude::any::<char>(), proptest::option::of(proptest::prelude::any::<u8>())),
                0..12,
            )
        ) {
            let mut raw = Vec::new();
            for (c, stray) in parts {
                raw.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                raw.extend(stray);
            }
            proptest::prop_assert_eq!(decode_utf8(&raw), std_text(&raw));
        }
    }

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(97).wrapping_add(3))
                .collect();
            let text = base64(&bytes);
            assert_eq!(text.len() % 4, 0);
            assert_eq!(unbase64(&text).as_deref(), Some(bytes.as_slice()), "{len}");
        }
        assert_eq!(base64(b"dangol"), "ZGFuZ29s");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn bad_base64_is_refused() {
        for bad in [
            "abc",
            "ab=c",
            "a===",
            "====",
            "=AAA",
            "YW I=",
            "YWI=YWI",
            "YWI=YWI=",
            "YW\u{e9}=",
            "YWI\n",
            "YW-_",
        ] {
            assert_eq!(unbase64(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_keep_their_kind() {
        let value = json!({
            "n": 5, "neg": -3, "f": 1.5, "big": u64::MAX, "s": "한국어",
            "a": [null, true, false, [], {}], "o": {"k": {"deep": [1, 2.0]}}
        });
        let mut w = Writer::default();
        w.value(&value);
        let bytes = unbase64(&w.finish()).unwrap();
        let mut r = Reader::new(&bytes);
        let back = r.value();
        let back = r.finish(back).unwrap();
        assert_eq!(back, value);
        // Numbers are JavaScript's: 2.0 is the whole number 2, 1.5 stays 1.5.
        assert!(back["o"]["k"]["deep"][1].is_u64());
        assert_eq!(back["f"].as_f64(), Some(1.5));
        assert!(back["n"].is_u64());
    }

    #[test]
    fn corrupt_bytes_are_refused_without_panicking() {
        let mut w = Writer::default();
        w.value(&json!({"list": [1, 2, 3], "text": "abc"}));
        let bytes = unbase64(&w.finish()).unwrap();
        // Every truncation fails cleanly.
        let read = |bytes: &[u8]| {
            let mut r = Reader::new(bytes);
            let v = r.value();
            r.finish(v)
        };
        assert!(read(&bytes).is_some());
        for end in 0..bytes.len() {
            assert_eq!(read(&bytes[..end]), None, "{end}");
        }
        // A length claiming more than is left allocates nothing and fails.
        assert_eq!(read(&[7, 0xff, 0xff, 0xff, 0xff, 0x0f]), None);
        // An unknown tag, a flag that is not 0 or 1, an endless varint.
        assert_eq!(read(&[9]), None);
        let mut r = Reader::new(&[2]);
        let flag = r.opt(Reader::u);
        assert_eq!(r.finish(flag), None);
        let mut r = Reader::new(&[0xff; 12]);
        let n = r.u();
        assert_eq!(r.finish(n), None);
        // Invalid UTF-8.
        assert_eq!(read(&[6, 1, 0xff]), None);
        // Nesting beyond the limit.
        let deep = [[7u8, 1]; 100].concat();
        assert_eq!(read(&deep), None);
        let fine = [[7u8, 1]; 40].concat();
        assert!(read(&[fine, vec![0]].concat()).is_some());
        // Numbers: whole ones short, others exact.
        for x in [0.0, 1.0, 50_000.0, 0.25, -3.0, 1e300] {
            let mut w = Writer::default();
            w.n(x);
            let bytes = unbase64(&w.finish()).unwrap();
            let mut r = Reader::new(&bytes);
            let back = r.n();
            assert_eq!(r.finish(back), Some(x));
        }
    }
}
