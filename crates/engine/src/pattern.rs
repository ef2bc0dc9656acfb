//! Refusing `$regex` patterns that can backtrack catastrophically.
//!
//! In the browser a pattern runs in JavaScript's backtracking `RegExp`,
//! against texts a stranger can craft (`utm.*` parameters, search terms, a
//! path). A pattern such as `(a+)+$` takes exponential time on some texts,
//! and `\d+\d+$` or `.*a.*b` polynomial time, enough to freeze a shop's tab.
//! The server checks patterns with a linear engine, so it would publish
//! them happily. This check runs wherever conditions are compiled, so the
//! server refuses them at publish and the widget never runs one (a config
//! stored before, or one from elsewhere, included):
//!
//! 1. a repeated group may not contain a repetition or an alternation
//!    (`(a+)+`, `(\w|\d)*`): exponential;
//! 2. no two unbounded repetitions (`*`, `+`, `{n,}`) may match a common
//!    character (`\d+\d+`, `.*x.*y`): polynomial. A leading or trailing
//!    `.*` adds nothing to "does it match somewhere" and is not counted;
//! 3. no backreferences or lookaround (the linear engine has neither, so
//!    the server could not check them).
//!
//! A pattern also sees only the first [`MAX_TEXT`] bytes of a text.
//!
//! The rule is conservative: a refused pattern can always be written
//! another way (a character class instead of an alternation, one
//! repetition instead of two).

/// A pattern sees at most this many bytes of a text (cut at a character
/// boundary): an unanchored search is quadratic in the text even for a
/// safe pattern (`a.*b` on `aaaa…`), and a crafted URL can be megabytes.
pub const MAX_TEXT: usize = 2048;

/// The part of `text` a pattern is tested against (see [`MAX_TEXT`]).
pub fn head(text: &str) -> &str {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Why `pattern` is refused, or `None` when it is safe to run.
pub fn risk(pattern: &str, ignore_case: bool) -> Option<String> {
    let mut p = Parser {
        bytes: pattern.as_bytes(),
        at: 0,
        fold: ignore_case,
        atoms: Vec::new(),
    };
    if let Err(why) = p.sequence(0) {
        return Some(match why {
            Refusal::Nested(start, end) => {
                let group = pattern.get(start..end).unwrap_or(pattern);
                format!(
                    "`{group}` repeats a group that itself repeats or has alternatives, which can take exponentially long on some texts; use a character class or repeat only once"
                )
            }
            Refusal::Unsupported(what) => {
                format!("{what} (`{pattern}`) are not supported in conditions")
            }
        });
    }
    // `.*` first or last only widens where the match may sit.
    let atoms = &p.atoms;
    let edge = |i: usize| {
        let a = &atoms[i];
        a.star && a.set == Set::ANY && (i == 0 || i + 1 == atoms.len())
    };
    let mut seen = Set::NONE;
    for (i, atom) in atoms.iter().enumerate() {
        if !atom.unbounded || edge(i) {
            continue;
        }
        if seen.overlaps(atom.set) {
            return Some(format!(
                "`{pattern}` repeats twice what can match the same characters, which can take very long on some texts; repeat once, or use classes that do not overlap"
            ));
        }
        seen = seen.union(atom.set);
    }
    None
}

/// Characters an atom may match: ASCII as a bitmap, and whether any
/// other character may match (two such sets count as overlapping).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Set {
    ascii: u128,
    other: bool,
}

const fn bits(lo: u32, hi: u32) -> u128 {
    // Bits lo..=hi (both below 128).
    (u128::MAX >> (127 - hi)) & (u128::MAX << lo)
}

impl Set {
    const NONE: Set = Set {
        ascii: 0,
        other: false,
    };
    /// Every character.
    const ALL: Set = Set {
        ascii: u128::MAX,
        other: true,
    };
    /// `.`: everything but line breaks.
    const ANY: Set = Set {
        ascii: !(1 << 0x0a | 1 << 0x0d),
        other: true,
    };
    const DIGIT: Set = Set {
        ascii: bits(0x30, 0x39),
        other: false,
    };
    const WORD: Set = Set {
        ascii: bits(0x30, 0x39) | bits(0x41, 0x5a) | bits(0x61, 0x7a) | 1 << 0x5f,
        other: false,
    };
    const SPACE: Set = Set {
        ascii: bits(0x09, 0x0d) | 1 << 0x20,
        other: true,
    };

    /// One byte of the pattern (a byte of 0x80 or more: part of a
    /// character beyond ASCII).
    fn byte(b: u8) -> Set {
        Set::range(u32::from(b), u32::from(b))
    }

    fn range(lo: u32, hi: u32) -> Set {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        Set {
            ascii: if lo < 128 { bits(lo, hi.min(127)) } else { 0 },
            other: hi >= 128,
        }
    }

    fn not(self) -> Set {
        Set {
            ascii: !self.ascii,
            other: true,
        }
    }

    fn union(self, o: Set) -> Set {
        Set {
            ascii: self.ascii | o.ascii,
            other: self.other || o.other,
        }
    }

    fn overlaps(self, o: Set) -> bool {
        self.ascii & o.ascii != 0 || (self.other && o.other)
    }

    /// With `i`: both cases of ASCII letters.
    fn folded(self) -> Set {
        let upper = self.ascii & bits(0x41, 0x5a);
        let lower = self.ascii & bits(0x61, 0x7a);
        Set {
            ascii: self.ascii | upper << 32 | lower >> 32,
            other: self.other,
        }
    }
}

/// One element of the pattern's sequence, with its repetition.
struct Atom {
    set: Set,
    /// Repeated without an upper bound.
    unbounded: bool,
    /// Exactly `*`.
    star: bool,
    /// Repeated at all (a group holding it may not be repeated).
    repeated_inside: bool,
}

/// A repetition: any at all, more than once, without bound, exactly `*`.
#[derive(Default)]
struct Repeat {
    any: bool,
    many: bool,
    unbounded: bool,
    star: bool,
}

enum Refusal {
    /// A repeated group (its characters' span) that repeats inside.
    Nested(usize, usize),
    /// Backreferences or lookaround.
    Unsupported(&'static str),
}

/// Reads the pattern byte by byte: its syntax is ASCII, and any other
/// character (a byte of 0x80 or more) only matters as "not ASCII".
struct Parser<'p> {
    bytes: &'p [u8],
    at: usize,
    fold: bool,
    /// Every atom, groups spliced in (a repetition inside an unrepeated
    /// group counts as if at the top level).
    atoms: Vec<Atom>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        if c.is_some() {
            self.at += 1;
        }
        c
    }

    /// Atoms until `)` or the end.
    fn sequence(&mut self, depth: u32) -> Result<(), Refusal> {
        while let Some(c) = self.peek() {
            match c {
                b')' => break,
                b'|' | b'^' | b'$' => self.at += 1,
                b'(' if depth < 32 => {
                    let open = self.at;
                    self.at += 1;
                    self.group_prefix()?;
                    let first = self.atoms.len();
                    self.sequence(depth + 1)?;
                    #[allow(
                        clippy::manual_contains,
                        reason = "`contains` on bytes is memchr, 336 bytes of the widget's wasm"
                    )]
                    let alternatives = self.bytes[open..self.at].iter().any(|&b| b == b'|');
                    if self.next() != Some(b')') {
                        return Ok(()); // unbalanced: the regex engine names it
                    }
                    let r = self.quantifier();
                    if r.many {
                        let inner = self.atoms.split_off(first);
                        if alternatives || inner.iter().any(|a| a.repeated_inside) {
                            return Err(Refusal::Nested(open, self.at));
                        }
                        let set = inner.iter().fold(Set::NONE, |s, a| s.union(a.set));
                        self.atoms.push(Atom {
                            set,
                            unbounded: r.unbounded,
                            star: r.star,
                            repeated_inside: true,
                        });
                    } else if r.any {
                        // `(…)?`: what is inside now sits under a repetition.
                        for a in &mut self.atoms[first..] {
                            a.repeated_inside = true;
                        }
                    }
                }
                _ => {
                    let mut set = self.single()?;
                    let r = self.quantifier();
                    if self.fold {
                        set = set.folded();
                    }
                    self.atoms.push(Atom {
                        set,
                        unbounded: r.unbounded,
                        star: r.star,
                        repeated_inside: r.any,
                    });
                }
            }
        }
        Ok(())
    }

    /// `(?:`, `(?<name>`: a plain group. Lookaround is refused.
    fn group_prefix(&mut self) -> Result<(), Refusal> {
        if self.peek() != Some(b'?') {
            return Ok(());
        }
        self.at += 1;
        match self.next() {
            Some(b':') => Ok(()),
            Some(b'<') if !matches!(self.peek(), Some(b'=' | b'!')) => {
                while self.next().is_some_and(|c| c != b'>') {}
                Ok(())
            }
            _ => Err(Refusal::Unsupported("lookarounds")),
        }
    }

    /// `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (and a lazy `?` after them).
    fn quantifier(&mut self) -> Repeat {
        let none = Repeat::default();
        let found = match self.peek() {
            Some(b'*') => Repeat {
                any: true,
                many: true,
                unbounded: true,
                star: true,
            },
            Some(b'+') => Repeat {
                any: true,
                many: true,
                unbounded: true,
                star: false,
            },
            Some(b'?') => Repeat { any: true, ..none },
            Some(b'{') => {
                // `{n}`, `{n,}` or `{n,m}`; anything else is a literal `{`.
                let body = &self.bytes[self.at + 1..];
                let len = body.iter().take_while(|&&c| c != b'}').count();
                let body = &body[..len];
                let well_formed = len > 0
                    && self.bytes.get(self.at + 1 + len) == Some(&b'}')
                    && body.iter().all(|c| c.is_ascii_digit() || *c == b',');
                if !well_formed {
                    return none;
                }
                self.at += len + 1;
                let max = match body.iter().position(|&c| c == b',') {
                    Some(comma) => &body[comma + 1..],
                    None => body,
                };
                let unbounded = max.is_empty();
                // Above 1 as soon as it has two digits or a digit above 1.
                let above_one = max.len() > 1 || max.first().is_some_and(|&d| d > b'1');
                Repeat {
                    any: true,
                    many: unbounded || above_one,
                    unbounded,
                    star: false,
                }
            }
            _ => return none,
        };
        self.at += 1;
        if self.peek() == Some(b'?') {
            self.at += 1;
        }
        found
    }

    /// One character, escape, `.` or class.
    fn single(&mut self) -> Result<Set, Refusal> {
        Ok(match self.next() {
            Some(b'.') => Set::ANY,
            Some(b'[') => self.class()?,
            Some(b'\\') => self.escape()?,
            Some(c) => Set::byte(c),
            None => Set::NONE,
        })
    }

    fn escape(&mut self) -> Result<Set, Refusal> {
        let c = self.next().unwrap_or(b'\\');
        Ok(match c {
            b'd' => Set::DIGIT,
            b'w' => Set::WORD,
            b's' => Set::SPACE,
            b'D' => Set::DIGIT.not(),
            b'W' => Set::WORD.not(),
            b'S' => Set::SPACE.not(),
            b'1'..=b'9' | b'k' => return Err(Refusal::Unsupported("backreferences")),
            b'n' => Set::byte(0x0a),
            b'r' => Set::byte(0x0d),
            b't' => Set::byte(0x09),
            b'b' | b'B' => Set::NONE,
            // `\x41`, `\u00e9`: counted as any character (never too lax).
            b'u' | b'x' => {
                // Its hex digits (`\u{…}` too) belong to it.
                let digits = if c == b'u' { 4 } else { 2 };
                if self.peek() == Some(b'{') {
                    while self.next().is_some_and(|b| b != b'}') {}
                } else {
                    let mut n = 0;
                    while n < digits && self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                        self.at += 1;
                        n += 1;
                    }
                }
                Set::ALL
            }
            other => Set::byte(other),
        })
    }

    fn class(&mut self) -> Result<Set, Refusal> {
        let negated = self.peek() == Some(b'^');
        if negated {
            self.at += 1;
        }
        let mut set = Set::NONE;
        let mut first = true;
        while let Some(c) = self.next() {
            if c == b']' && !first {
                break;
            }
            first = false;
            let lo = if c == b'\\' {
                let one = self.escape()?;
                // `\d`, `\W` and the like stand for many characters.
                if one.ascii.count_ones() != 1 || one.other {
                    set = set.union(one);
                    continue;
                }
                one.ascii.trailing_zeros()
            } else {
                u32::from(c)
            };
            let ranged = self.peek() == Some(b'-')
                && self.bytes.get(self.at + 1).is_some_and(|&n| n != b']');
            let hi = if ranged {
                self.at += 1;
                match self.next() {
                    Some(b'\\') => {
                        let one = self.escape()?;
                        if one.other {
                            128
                        } else {
                            127 - one.ascii.leading_zeros()
                        }
                    }
                    Some(h) => u32::from(h),
                    None => lo,
                }
            } else {
                lo
            };
            set = set.union(Set::range(lo, hi));
        }
        Ok(if negated { set.not() } else { set })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_that_backtrack_catastrophically_are_refused_with_the_reason() {
        for pattern in [
            "(a+)+$",
            "^(a|aa)*$",
            "(\\w+\\s?)*$",
            "([a-z]*)*",
            "(x{2,})+",
            "(a?)+",
            "(ab?){2,}",
            "((ab){2})+",
            "\\x41+a+",
            "\\d+\\d+$",
            "x.*a.*b",
            "^[a-z]+[a-z0-9]+$",
            "\\w+\\d+",
            "[^/]+x[^/]+",
        ] {
            assert!(
                risk(pattern, false).is_some(),
                "{pattern} should be refused"
            );
        }
        let why = risk("(a+)+$", false).unwrap_or_default();
        assert!(
            why.contains("`(a+)+`") && why.contains("exponentially"),
            "{why}"
        );
        let why = risk("\\d+\\d+$", false).unwrap_or_default();
        assert!(why.contains("repeats twice"), "{why}");
        assert!(
            risk("(a)\\1", false)
                .unwrap_or_default()
                .contains("backreferences")
        );
        assert!(
            risk("(?=a)b", false)
                .unwrap_or_default()
                .contains("lookaround")
        );
    }

    #[test]
    fn everyday_patterns_pass() {
        for pattern in [
            "^/demo/(index\\.html)?$",
            "^/demo/product/\\d+$",
            "^/category/[a-z]+/item/\\d+$",
            ".*google.*",
            "^utm_.*=.*$",
            "(spring|summer)-sale",
            "^/(?:ko|en)/cart",
            "(?<lang>ko|en)/",
            "[0-9]{3}-[0-9]{4}",
            "x{10}y",
            "caf\\u00e9+",
            "knit",
            "겨울",
            "^[A-Z]{2}\\d{6}$",
            "(abc)+",
            "a+b+",
            "(a+)?b",
            "x{2}y{3,4}",
        ] {
            assert_eq!(risk(pattern, false), None, "{pattern} should pass");
        }
    }

    #[test]
    fn a_pattern_sees_the_first_2048_bytes_of_a_text() {
        let long = format!("{}한{}", "a".repeat(MAX_TEXT - 1), "b".repeat(10));
        assert_eq!(
            head(&long).len(),
            MAX_TEXT - 1,
            "cut before the split character"
        );
        assert_eq!(head("short"), "short");
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_judged_without_a_panic(pattern in "[a-z0-9()\\[\\]{},|*+?.^$\\\\:<=!dwsuxk-]{0,24}|\\PC{0,12}") {
            let _ = risk(&pattern, false);
            let _ = risk(&pattern, true);
        }
    }

    #[test]
    fn ignoring_case_makes_letters_of_both_cases_overlap() {
        assert_eq!(risk("[A-Z]+[a-z]+", false), None);
        assert!(risk("[A-Z]+[a-z]+", true).is_some());
    }
}
