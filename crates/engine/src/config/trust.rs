//! Whether a fetched config may be used: the script tag's `data-key` asks
//! for signed configs, the signature check's answer, and replays of an
//! older publish. A config that fails any of these is not used; the page
//! keeps its own content (or the config the browser already holds).

use super::CompiledConfig;
use crate::cat::{cat, uint};

/// Why a fetched config is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untrusted<'a> {
    /// The script tag asks for signed configs and this one has no signature.
    Unsigned,
    /// The signature does not match the config.
    Tampered,
    /// The signature could not be checked (the browser's error).
    Unchecked(&'a str),
    /// An older publish of the config the browser holds (this version).
    Replayed(u64),
}

/// The key and signature a fetched config must be checked with before
/// use: only when the script tag gives a `key`, and then a config without
/// a signature is refused. `None`: the config is used as it is.
pub fn to_check<'a>(
    key: Option<&'a str>,
    signature: Option<&'a str>,
) -> Result<Option<(&'a str, &'a str)>, Untrusted<'a>> {
    match (key, signature) {
        (None, _) => Ok(None),
        (Some(key), Some(signature)) => Ok(Some((key, signature))),
        (Some(_), None) => Err(Untrusted::Unsigned),
    }
}

/// Whether a config whose signature was checked may be used, by the
/// loader's answer: `1` the signature matches, `2` this browser cannot
/// check Ed25519 signatures and the config came over HTTPS from the shop's
/// own server, which is trusted alone; any other number, it does not
/// match; an error, the check failed.
pub fn check(answer: Result<f64, &str>) -> Result<(), Untrusted<'_>> {
    match answer {
        Ok(1.0 | 2.0) => Ok(()),
        Ok(_) => Err(Untrusted::Tampered),
        Err(e) => Err(Untrusted::Unchecked(e)),
    }
}

/// Whether `config` may replace the one the browser holds (`held`: its
/// version and lineage): an older publish of the same line is a replay of
/// an earlier, validly signed config, and is refused.
#[inline]
pub fn not_replayed(
    config: &CompiledConfig,
    held: Option<&(u64, String)>,
) -> Result<(), Untrusted<'static>> {
    match held {
        Some((version, lineage)) if config.is_older_than(*version, lineage) => {
            Err(Untrusted::Replayed(config.config().version))
        }
        _ => Ok(()),
    }
}

impl Untrusted<'_> {
    /// The warning for the page's developer about the config from `url`.
    pub fn message(&self, url: &str) -> String {
        let version;
        let (start, what, end) = match self {
            Untrusted::Unsigned => (
                url,
                " is not signed, but the script tag asks for signed configs",
                "",
            ),
            Untrusted::Tampered => (url, " does not match its signature (tampered with?)", ""),
            Untrusted::Unchecked(e) => {
                return cat(&[
                    "the config's signature could not be checked (",
                    e,
                    "); the page keeps its own content",
                ]);
            }
            Untrusted::Replayed(v) => {
                version = uint(*v);
                return cat(&[
                    "the config from ",
                    url,
                    " is version ",
                    &version,
                    ", older than the one this browser holds (replayed?); the newer one stays",
                ]);
            }
        };
        cat(&[
            "the config from ",
            start,
            what,
            end,
            "; the page keeps its own content",
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::NativeRegex;
    use crate::config::{SiteConfig, compact};

    #[test]
    fn a_script_tag_with_a_key_refuses_an_unsigned_config_and_checks_a_signed_one() {
        assert_eq!(to_check(None, None), Ok(None));
        assert_eq!(to_check(None, Some("c2ln")), Ok(None));
        assert_eq!(
            to_check(Some("a2V5"), Some("c2ln")),
            Ok(Some(("a2V5", "c2ln")))
        );
        assert_eq!(to_check(Some("a2V5"), None), Err(Untrusted::Unsigned));
    }

    #[test]
    fn only_a_matching_signature_or_a_browser_without_ed25519_lets_a_config_in() {
        assert_eq!(check(Ok(1.0)), Ok(()));
        assert_eq!(
            check(Ok(2.0)),
            Ok(()),
            "no Ed25519 in this browser: HTTPS alone"
        );
        assert_eq!(check(Ok(0.0)), Err(Untrusted::Tampered));
        assert_eq!(check(Ok(7.0)), Err(Untrusted::Tampered));
        assert_eq!(check(Ok(f64::NAN)), Err(Untrusted::Tampered));
        let failed = check(Err("DataError")).unwrap_err();
        assert_eq!(
            failed.message("https://d.example/c"),
            "the config's signature could not be checked (DataError); the page keeps its own content"
        );
    }

    #[test]
    fn an_older_publish_of_the_held_line_is_a_replay_and_is_refused() {
        let line = |version: u64, lineage: &str| {
            let text = cat(&[
                r#"{"site":"s","version":"#,
                &uint(version),
                r#","campaigns":[]}"#,
            ]);
            let value: crate::json::Value = serde_json::from_str(&text).unwrap();
            let config = SiteConfig::compile_value(&value, &NativeRegex).unwrap();
            compact::read(&compact::write(&config, lineage), &NativeRegex).unwrap()
        };
        let held = (5, "line-a".to_string());
        assert_eq!(not_replayed(&line(5, "line-a"), Some(&held)), Ok(()));
        assert_eq!(not_replayed(&line(6, "line-a"), Some(&held)), Ok(()));
        let old = not_replayed(&line(4, "line-a"), Some(&held)).unwrap_err();
        assert_eq!(old, Untrusted::Replayed(4));
        assert!(
            old.message("https://d.example/c")
                .contains("is version 4, older than")
        );
        assert_eq!(
            not_replayed(&line(4, "line-b"), Some(&held)),
            Ok(()),
            "a new line"
        );
        assert_eq!(
            not_replayed(&line(4, "line-a"), None),
            Ok(()),
            "nothing held"
        );
        assert_eq!(
            Untrusted::Unsigned.message("u"),
            "the config from u is not signed, but the script tag asks for signed configs; the page keeps its own content"
        );
        assert!(Untrusted::Tampered.message("u").contains("tampered"));
    }
}
