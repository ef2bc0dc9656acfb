//! Refusing `$regex` patterns that can backtrack catastrophically.
//!
//! In the browser a pattern runs in JavaScript's backtracking `RegExp`,
//! against texts a stranger can craft (`utm.*` parameters, search terms, a
//! path). A pattern such as `(a+)+$` takes exponential time on some texts,
//! and `\d+\d+$` or `.*a.*b` polynomial time, enough to freeze a shop's tab.
//! The server checks patterns with a linear engine, so it would publish
//! them happily. This check runs where conditions are compiled, so the
//! server refuses them at publish and the widget never runs them:
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
#[cfg(feature = "checks")]
pub fn risk(pattern: &str, ignore_case: bool) -> Option<String> {
    let mut p = Parser {
        chars: pattern.chars().collect(),
        at: 0,
        ignore_case,
    };
    let seq = match p.sequence(0) {
        Ok(seq) => seq,
        Err(why) => return Some(why),
    };
    let mut unbounded: Vec<&Set> = Vec::new();
    let last = seq.len().saturating_sub(1);
    for (i, atom) in seq.iter().enumerate() {
        if !atom.unbounded {
            continue;
        }
        // `.*` first or last only widens where the match may sit.
        let edge = (i == 0 || i == last) && atom.star && atom.set.is_any();
        if edge {
            continue;
        }
        if let Some(prior) = unbounded.iter().find(|s| s.overlaps(&atom.set)) {
            let _ = prior;
            return Some(format!(
                "`{pattern}` repeats twice what can match the same characters, which can take very long on some texts; repeat once, or use classes that do not overlap"
            ));
        }
        unbounded.push(&atom.set);
    }
    None
}

#[cfg(feature = "checks")]
/// A set of characters: ranges, or everything but them.
#[derive(Debug, Clone, Default)]
struct Set {
    ranges: Vec<(u32, u32)>,
    negated: bool,
}

#[cfg(feature = "checks")]
impl Set {
    fn of(ranges: &[(u32, u32)]) -> Set {
        Set {
            ranges: ranges.to_vec(),
            negated: false,
        }
    }

    fn any() -> Set {
        // `.`: everything but line breaks.
        Set {
            ranges: vec![(0x0a, 0x0a), (0x0d, 0x0d), (0x2028, 0x2029)],
            negated: true,
        }
    }

    fn is_any(&self) -> bool {
        self.negated && self.ranges.len() <= 3
    }

    fn contains(&self, c: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= c && c <= b) != self.negated
    }

    fn overlaps(&self, other: &Set) -> bool {
        match (self.negated, other.negated) {
            (true, true) => true,
            (false, false) => self
                .ranges
                .iter()
                .any(|&(a, b)| other.ranges.iter().any(|&(c, d)| a <= d && c <= b)),
            // A positive set overlaps a negated one unless every one of its
            // characters is excluded; ranges are short, so walk small ones.
            (false, true) => self.overlaps_negated(other),
            (true, false) => other.overlaps_negated(self),
        }
    }

    fn overlaps_negated(&self, negated: &Set) -> bool {
        self.ranges
            .iter()
            .any(|&(a, b)| b - a > 64 || (a..=b).any(|c| negated.contains(c)))
    }

    fn union(&mut self, other: &Set) {
        if self.negated || other.negated {
            *self = Set::any();
            self.ranges.clear();
            return;
        }
        self.ranges.extend_from_slice(&other.ranges);
    }

    /// With `i`: both cases of ASCII letters.
    fn fold(mut self) -> Set {
        let extra: Vec<(u32, u32)> = self
            .ranges
            .iter()
            .flat_map(|&(a, b)| {
                let mut out = Vec::new();
                let (lo, hi) = (a.max(0x41), b.min(0x5a));
                if lo <= hi {
                    out.push((lo + 32, hi + 32));
                }
                let (lo, hi) = (a.max(0x61), b.min(0x7a));
                if lo <= hi {
                    out.push((lo - 32, hi - 32));
                }
                out
            })
            .collect();
        self.ranges.extend(extra);
        self
    }
}

#[cfg(feature = "checks")]
const DIGIT: &[(u32, u32)] = &[(0x30, 0x39)];
#[cfg(feature = "checks")]
const WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)];
#[cfg(feature = "checks")]
const SPACE: &[(u32, u32)] = &[
    (0x09, 0x0d),
    (0x20, 0x20),
    (0xa0, 0xa0),
    (0x1680, 0x1680),
    (0x2000, 0x200a),
    (0x2028, 0x2029),
    (0x202f, 0x202f),
    (0x205f, 0x205f),
    (0x3000, 0x3000),
    (0xfeff, 0xfeff),
];

#[cfg(feature = "checks")]
/// One element of a sequence, with its repetition.
struct Atom {
    set: Set,
    /// Repeated without an upper bound.
    unbounded: bool,
    /// Exactly `*`.
    star: bool,
}

#[cfg(feature = "checks")]
struct Parser {
    chars: Vec<char>,
    at: usize,
    ignore_case: bool,
}

#[cfg(feature = "checks")]
impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.at += 1;
        c
    }

    /// Atoms until `)` or the end; a group's atoms are spliced in, so every
    /// repetition inside an unrepeated group counts at the top level.
    fn sequence(&mut self, depth: u32) -> Result<Vec<Atom>, String> {
        if depth > 32 {
            return Err("the pattern nests groups too deeply".into());
        }
        let mut seq: Vec<Atom> = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                ')' => break,
                '|' | '^' | '$' => {
                    self.at += 1;
                }
                '(' => {
                    self.at += 1;
                    self.group_prefix()?;
                    let start = self.at;
                    let inner = self.sequence(depth + 1)?;
                    let has_alternation = self.chars[start..self.at].contains(&'|');
                    if self.next() != Some(')') {
                        // Unbalanced: the regex engine names that error.
                        return Ok(seq);
                    }
                    let (repeated, unbounded, star) = self.quantifier();
                    if repeated {
                        if has_alternation
                            || inner.iter().any(|a| a.unbounded)
                            || self.has_inner_quantifier(start)
                        {
                            let text: String = self.chars[start - 1..self.at].iter().collect();
                            return Err(format!(
                                "`{text}` repeats a group that itself repeats or has alternatives, which can take exponentially long on some texts; use a character class or repeat only once"
                            ));
                        }
                        let mut set = Set::default();
                        for a in &inner {
                            set.union(&a.set);
                        }
                        seq.push(Atom {
                            set,
                            unbounded,
                            star,
                        });
                    } else {
                        seq.extend(inner);
                    }
                }
                _ => {
                    let set = self.single()?;
                    let (_, unbounded, star) = self.quantifier();
                    let set = if self.ignore_case { set.fold() } else { set };
                    seq.push(Atom {
                        set,
                        unbounded,
                        star,
                    });
                }
            }
        }
        Ok(seq)
    }

    /// Whether the group that started at `start` holds a `?`, `*`, `+` or
    /// `{` repetition (bounded ones too: `(a{2})+` still nests).
    fn has_inner_quantifier(&self, start: usize) -> bool {
        let body = &self.chars[start..self.at.saturating_sub(1)];
        let mut escaped = false;
        let mut class = false;
        for (i, &c) in body.iter().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' => escaped = true,
                '[' => class = true,
                ']' => class = false,
                '*' | '+' | '{' if !class => return true,
                '?' if !class && i > 0 && body[i - 1] != '(' => return true,
                _ => {}
            }
        }
        false
    }

    /// `(?:`, `(?<name>`: a plain group. Lookaround is refused.
    fn group_prefix(&mut self) -> Result<(), String> {
        if self.peek() != Some('?') {
            return Ok(());
        }
        self.at += 1;
        match self.next() {
            Some(':') => Ok(()),
            Some('<') if !matches!(self.peek(), Some('=' | '!')) => {
                while let Some(c) = self.next() {
                    if c == '>' {
                        break;
                    }
                }
                Ok(())
            }
            _ => Err(
                "lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`) is not supported in conditions".into(),
            ),
        }
    }

    /// `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (and a lazy `?` after them):
    /// (repeated at all, without an upper bound, exactly `*`).
    fn quantifier(&mut self) -> (bool, bool, bool) {
        let found = match self.peek() {
            Some('*') => {
                self.at += 1;
                (true, true, true)
            }
            Some('+') => {
                self.at += 1;
                (true, true, false)
            }
            Some('?') => {
                self.at += 1;
                (false, false, false)
            }
            Some('{') => {
                let rest: String = self.chars[self.at..]
                    .iter()
                    .take_while(|&&c| c != '}')
                    .collect();
                let valid = !rest.is_empty()
                    && self.chars.get(self.at + rest.len()) == Some(&'}')
                    && rest[1..].chars().all(|c| c.is_ascii_digit() || c == ',');
                if !valid {
                    return (false, false, false);
                }
                self.at += rest.len() + 1;
                let body = &rest[1..];
                match body.split_once(',') {
                    Some((_, "")) => (true, true, false),
                    Some((_, max)) => (max.parse::<u32>().is_ok_and(|m| m > 1), false, false),
                    None => (body.parse::<u32>().is_ok_and(|n| n > 1), false, false),
                }
            }
            _ => return (false, false, false),
        };
        if self.peek() == Some('?') {
            self.at += 1;
        }
        found
    }

    /// One character, escape, `.` or class.
    fn single(&mut self) -> Result<Set, String> {
        match self.next() {
            Some('.') => Ok(Set::any()),
            Some('[') => self.class(),
            Some('\\') => self.escape(),
            Some(c) => Ok(Set::of(&[(c as u32, c as u32)])),
            None => Ok(Set::default()),
        }
    }

    fn escape(&mut self) -> Result<Set, String> {
        let c = self.next().unwrap_or('\\');
        Ok(match c {
            'd' => Set::of(DIGIT),
            'w' => Set::of(WORD),
            's' => Set::of(SPACE),
            'D' | 'W' | 'S' => Set {
                ranges: match c {
                    'D' => DIGIT.to_vec(),
                    'W' => WORD.to_vec(),
                    _ => SPACE.to_vec(),
                },
                negated: true,
            },
            '1'..='9' | 'k' => {
                return Err(
                    "backreferences (`\\1`, `\\k<name>`) are not supported in conditions".into(),
                );
            }
            'n' => Set::of(&[(0x0a, 0x0a)]),
            'r' => Set::of(&[(0x0d, 0x0d)]),
            't' => Set::of(&[(0x09, 0x09)]),
            'b' | 'B' => Set::default(),
            'u' | 'x' => {
                let len = if c == 'u' { 4 } else { 2 };
                let hex: String = self.chars[self.at..].iter().take(len).collect();
                match u32::from_str_radix(&hex, 16) {
                    Ok(n) if hex.len() == len => {
                        self.at += len;
                        Set::of(&[(n, n)])
                    }
                    _ => Set::of(&[(c as u32, c as u32)]),
                }
            }
            other => Set::of(&[(other as u32, other as u32)]),
        })
    }

    fn class(&mut self) -> Result<Set, String> {
        let mut set = Set::default();
        if self.peek() == Some('^') {
            self.at += 1;
            set.negated = true;
        }
        let mut first = true;
        while let Some(c) = self.next() {
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = match c {
                '\\' => {
                    let inner = self.escape()?;
                    if inner.negated
                        || inner.ranges.len() != 1
                        || inner.ranges[0].0 != inner.ranges[0].1
                    {
                        // `[\W]` and the like: as broad as can be.
                        if inner.negated {
                            return Ok(Set::any());
                        }
                        set.ranges.extend(inner.ranges);
                        continue;
                    }
                    inner.ranges[0].0
                }
                c => c as u32,
            };
            if self.peek() == Some('-') && self.chars.get(self.at + 1).is_some_and(|&n| n != ']') {
                self.at += 1;
                let hi = match self.next() {
                    Some('\\') => self.escape()?.ranges.first().map_or(lo, |r| r.0),
                    Some(h) => h as u32,
                    None => lo,
                };
                set.ranges.push((lo.min(hi), lo.max(hi)));
            } else {
                set.ranges.push((lo, lo));
            }
        }
        Ok(set)
    }
}

#[cfg(all(test, feature = "checks"))]
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
            "knit",
            "겨울",
            "^[A-Z]{2}\\d{6}$",
            "(abc)+",
            "a+b+",
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

    #[test]
    fn ignoring_case_makes_letters_of_both_cases_overlap() {
        assert_eq!(risk("[A-Z]+[a-z]+", false), None);
        assert!(risk("[A-Z]+[a-z]+", true).is_some());
    }
}
