//! A segment's members kept as runs: one row per stretch of shopper ids
//! (those after the run's `after_anon`, up to where the next run starts),
//! holding that stretch's members and when each entered, packed as text
//! (`{anon} {entered_ms}` a line, in id order). A refresh works through
//! the shoppers a range of ids at a time and writes each range's members
//! as one run, so a first fill of a million members writes a few hundred
//! rows instead of a million, and a refresh reads a range's members in one
//! or two rows.
//!
//! Runs are ordered by their ids' bytes, as the refresh ranges are (SQLite
//! compares text as bytes; PostgreSQL's columns are declared `COLLATE
//! "C"`), so a range's bounds split a run exactly where the database's
//! own order would.

/// A member: the shopper's id and when they entered (read in place from
/// a run's text).
pub(crate) type Member<'a> = (&'a str, i64);

/// Members (in id order) as a run's text.
pub(crate) fn pack(members: &[Member<'_>]) -> String {
    let mut text = String::with_capacity(members.len() * 40);
    for (anon, entered_ms) in members {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(anon);
        text.push(' ');
        text.push_str(&entered_ms.to_string());
    }
    text
}

/// A run's text as its members, or what in it is not a member.
pub(crate) fn unpack(text: &str) -> Result<Vec<Member<'_>>, String> {
    let mut members = Vec::with_capacity(text.len() / 40 + 1);
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let member = line
            .split_once(' ')
            .and_then(|(anon, at)| Some((anon, at.parse::<i64>().ok()?)));
        match member {
            Some(member) if !member.0.is_empty() => members.push(member),
            _ => {
                return Err(format!(
                    "line {} of a run, `{}`, is not `{{anon}} {{entered_ms}}`",
                    n + 1,
                    line.chars().take(80).collect::<String>()
                ));
            }
        }
    }
    Ok(members)
}

/// The members of `segment`'s run after `key`, or a store error naming it.
pub(crate) fn read<'a>(
    segment: &str,
    key: &str,
    text: &'a str,
) -> Result<Vec<Member<'a>>, crate::store::StoreError> {
    unpack(text).map_err(|e| {
        crate::store::StoreError::Database(format!(
            "the members of `{segment}` after `{key}` did not read: {e}"
        ))
    })
}

/// Members split by a range of ids (after `after`, up to `through`
/// inclusive; to the end when `None`).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    /// Ids up to `after`.
    pub before: Vec<Member<'a>>,
    /// Ids in the range.
    pub inside: Vec<Member<'a>>,
    /// Ids past `through`.
    pub beyond: Vec<Member<'a>>,
}

/// Splits members by a range, keeping their order.
pub(crate) fn split<'a>(members: Vec<Member<'a>>, after: &str, through: Option<&str>) -> Split<'a> {
    let mut out = Split::default();
    for member in members {
        let id = member.0.as_bytes();
        if id <= after.as_bytes() {
            out.before.push(member);
        } else if through.is_some_and(|t| id > t.as_bytes()) {
            out.beyond.push(member);
        } else {
            out.inside.push(member);
        }
    }
    out
}

/// A range's members made exactly the shoppers matching now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Changed<'a> {
    /// The members now, in id order: those who stay keep when they
    /// entered, those who enter entered now.
    pub members: Vec<Member<'a>>,
    /// Who entered, in id order.
    pub entered: Vec<&'a str>,
    /// Who left, in id order.
    pub left: Vec<&'a str>,
}

/// Makes the members of a range (`members`) the shoppers `matching` now.
pub(crate) fn change<'a>(
    members: Vec<Member<'a>>,
    matching: &'a [String],
    now_ms: i64,
) -> Changed<'a> {
    use std::collections::HashMap;
    // As a refresh most often finds them: the same, in the same order.
    if members.len() == matching.len() && members.iter().zip(matching).all(|(m, a)| m.0 == a) {
        return Changed {
            members,
            entered: Vec::new(),
            left: Vec::new(),
        };
    }
    let mut before: HashMap<&str, i64> = members.iter().copied().collect();
    let mut entered = Vec::new();
    let mut now: Vec<Member<'a>> = Vec::with_capacity(matching.len());
    for anon in matching {
        match before.remove(anon.as_str()) {
            Some(at) => now.push((anon, at)),
            // Listed twice: entered once.
            None if now.last().is_some_and(|(last, _)| last == anon) => {}
            None => {
                entered.push(anon.as_str());
                now.push((anon, now_ms));
            }
        }
    }
    let mut left: Vec<&'a str> = members
        .iter()
        .filter(|(anon, _)| before.contains_key(anon))
        .map(|(anon, _)| *anon)
        .collect();
    now.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    now.dedup_by(|a, b| a.0 == b.0);
    entered.sort_unstable();
    entered.dedup();
    left.sort_unstable();
    Changed {
        members: now,
        entered,
        left,
    }
}

/// Takes `anon` out of a run's members: whether it was one.
pub(crate) fn remove(members: &mut Vec<Member<'_>>, anon: &str) -> bool {
    let n = members.len();
    members.retain(|(id, _)| *id != anon);
    members.len() != n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    fn at<'a>(list: &[(&'a str, i64)]) -> Vec<Member<'a>> {
        list.to_vec()
    }

    #[test]
    fn a_run_reads_back_as_written_and_names_a_line_that_is_not_a_member() {
        let members = at(&[("a-1", 5), ("B_2", -1), ("c3", 1_764_700_000_000)]);
        assert_eq!(pack(&members), "a-1 5\nB_2 -1\nc3 1764700000000");
        let text = pack(&members);
        assert_eq!(unpack(&text).unwrap(), members);
        assert_eq!(unpack("").unwrap(), Vec::<Member>::new());
        let err = unpack("a 1\nb x\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("`b x`"), "{err}");
        assert!(unpack(" 1").unwrap_err().contains("line 1"));
        assert!(unpack("nospace").is_err());
    }

    #[test]
    fn a_range_splits_members_by_the_bytes_of_their_ids() {
        let members = at(&[("A", 1), ("a", 2), ("a-", 3), ("a_", 4), ("b", 5)]);
        let s = split(members.clone(), "A", Some("a_"));
        assert_eq!(s.before, at(&[("A", 1)]));
        assert_eq!(s.inside, at(&[("a", 2), ("a-", 3), ("a_", 4)]));
        assert_eq!(s.beyond, at(&[("b", 5)]));
        let s = split(members.clone(), "", None);
        assert_eq!((s.before.len(), s.inside, s.beyond.len()), (0, members, 0));
    }

    #[test]
    fn who_stays_keeps_when_they_entered_and_only_real_changes_are_counted() {
        let before = at(&[("a", 1), ("b", 2), ("c", 3)]);
        let matching = ids(&["b", "c", "d", "d"]);
        let c = change(before, &matching, 9);
        assert_eq!(c.members, at(&[("b", 2), ("c", 3), ("d", 9)]));
        assert_eq!((c.entered.clone(), c.left.clone()), (vec!["d"], vec!["a"]));
        let matching = ids(&["b", "c", "d"]);
        let again = change(c.members.clone(), &matching, 10);
        assert_eq!(again.members, c.members);
        assert!(again.entered.is_empty() && again.left.is_empty());
    }

    #[test]
    fn removing_an_id_takes_out_that_member_alone() {
        let mut members = at(&[("a", 1), ("b", 2)]);
        assert!(remove(&mut members, "a"));
        assert!(!remove(&mut members, "a"));
        assert_eq!(members, at(&[("b", 2)]));
    }

    proptest! {
        /// Whatever the members and the range, the split keeps every
        /// member once and in order, and changing the range's members
        /// leaves them exactly the matching shoppers.
        #[test]
        fn a_range_of_a_run_becomes_exactly_the_matching_shoppers(
            members in proptest::collection::btree_set("[a-zA-Z0-9_-]{1,4}", 0..60),
            matching in proptest::collection::btree_set("[a-zA-Z0-9_-]{1,4}", 0..60),
            after in "[a-zA-Z0-9_-]{0,3}",
            through in proptest::option::of("[a-zA-Z0-9_-]{1,3}"),
        ) {
            let members: Vec<Member> = members.iter().enumerate().map(|(i, a)| (a.as_str(), i as i64)).collect();
            let s = split(members.clone(), &after, through.as_deref());
            let joined: Vec<Member> = s.before.iter().chain(&s.inside).chain(&s.beyond).cloned().collect();
            prop_assert_eq!(&joined, &members);
            let in_range = |a: &String| a.as_bytes() > after.as_bytes()
                && through.as_ref().is_none_or(|t| a.as_bytes() <= t.as_bytes());
            let matching: Vec<String> = matching.into_iter().filter(in_range).collect();
            let c = change(s.inside.clone(), &matching, -7);
            let now: Vec<&str> = c.members.iter().map(|m| m.0).collect();
            prop_assert_eq!(&now, &matching);
            for (anon, at) in &c.members {
                let was = s.inside.iter().find(|m| m.0 == *anon);
                prop_assert_eq!(*at, was.map_or(-7, |m| m.1));
                prop_assert_eq!(was.is_none(), c.entered.contains(anon));
            }
            let left: Vec<&str> = s.inside.iter().map(|m| m.0).filter(|a| !matching.iter().any(|m| m == a)).collect();
            prop_assert_eq!(&c.left, &left);
            let text = pack(&c.members);
            prop_assert_eq!(unpack(&text).unwrap(), c.members);
        }
    }
}
