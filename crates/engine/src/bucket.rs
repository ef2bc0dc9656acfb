//! Bucketing with GrowthBook's hashing, so a visitor keeps their variant
//! across tools and SDKs.
//!
//! Hash versions are frozen: the output of a version never changes. A new
//! algorithm gets a new version number, which travels in the config.

/// The hash version new campaigns use unless the config says otherwise.
pub const DEFAULT_HASH_VERSION: u32 = 2;

/// FNV-1a, 32 bit, over the string's UTF-16 code units: exactly what
/// JavaScript's `charCodeAt` loop sees, so non-ASCII ids ("josé", "用户123",
/// "😀") hash the same here and in GrowthBook's JS SDK.
pub fn fnv1a32(text: &str) -> u32 {
    text.encode_utf16().fold(0x811c_9dc5u32, |hash, unit| {
        (hash ^ u32::from(unit)).wrapping_mul(0x0100_0193)
    })
}

/// A number in [0, 1) from `seed` and `value`.
///
/// - v1: `fnv(value + seed) % 1000 / 1000`
/// - v2: `fnv(decimal string of fnv(seed + value)) % 10000 / 10000`
/// - any other version: `None`
///
/// ```
/// use dangol_engine::bucket::hash;
/// let n = hash("welcome", "0123456789abcdef", 2).unwrap();
/// assert!((0.0..1.0).contains(&n));
/// assert_eq!(hash("welcome", "0123456789abcdef", 3), None);
/// ```
pub fn hash(seed: &str, value: &str, version: u32) -> Option<f64> {
    match version {
        1 => {
            let h = fnv1a32(&crate::cat::cat(&[value, seed]));
            Some(f64::from(h % 1000) / 1000.0)
        }
        2 => {
            let inner = fnv1a32(&crate::cat::cat(&[seed, value]));
            let h = fnv1a32(&crate::cat::uint(u64::from(inner)));
            Some(f64::from(h % 10000) / 10000.0)
        }
        _ => None,
    }
}

/// `n` equal weights summing to 1; empty for `n <= 0`.
pub fn equal_weights(n: i64) -> Vec<f64> {
    if n <= 0 {
        return Vec::new();
    }
    let count = usize::try_from(n).unwrap_or(0);
    vec![1.0 / n as f64; count]
}

/// The [start, end) range of each variation.
///
/// Coverage is clamped to [0, 1]. Weights of the wrong length, or not
/// summing to 1 (±0.01), fall back to equal weights. Each range starts at
/// the cumulative weight and is `coverage × weight` long, so lowering
/// coverage never moves a visitor from one variation to another.
pub fn bucket_ranges(
    num_variations: usize,
    coverage: f64,
    weights: Option<&[f64]>,
) -> Vec<(f64, f64)> {
    let coverage = if coverage.is_nan() {
        0.0
    } else {
        coverage.clamp(0.0, 1.0)
    };
    let equal = equal_weights(i64::try_from(num_variations).unwrap_or(i64::MAX));
    let mut chosen: &[f64] = weights.unwrap_or(&equal);
    if chosen.len() != num_variations {
        chosen = &equal;
    }
    let total: f64 = chosen.iter().sum();
    if !(0.99..=1.01).contains(&total) {
        chosen = &equal;
    }
    let mut cumulative = 0.0;
    chosen
        .iter()
        .map(|w| {
            let start = cumulative;
            cumulative += w;
            (start, start + coverage * w)
        })
        .collect()
}

/// The variation whose range holds `n`, if any.
pub fn choose_variation(n: f64, ranges: &[(f64, f64)]) -> Option<usize> {
    ranges
        .iter()
        .position(|&(start, end)| n >= start && n < end)
}

/// Is `user_id` inside the namespace `(id, start, end)`? Uses hash v1 with
/// the seed `"__" + id`.
pub fn in_namespace(user_id: &str, namespace: (&str, f64, f64)) -> bool {
    let (id, start, end) = namespace;
    hash(&format!("__{id}"), user_id, 1).is_some_and(|n| n >= start && n < end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reads_utf16_code_units_like_javascript() {
        // "😀" is two UTF-16 code units (a surrogate pair), not one char.
        let manual = [0xD83Du32, 0xDE00]
            .iter()
            .fold(0x811c_9dc5u32, |h, u| (h ^ u).wrapping_mul(16_777_619));
        assert_eq!(fnv1a32("😀"), manual);
        assert_eq!(fnv1a32(""), 0x811c_9dc5);
    }

    #[test]
    fn ranges_fall_back_to_equal_weights_and_respect_coverage() {
        assert_eq!(bucket_ranges(2, 1.0, None), vec![(0.0, 0.5), (0.5, 1.0)]);
        assert_eq!(
            bucket_ranges(2, 0.5, Some(&[0.4, 0.6])),
            vec![(0.0, 0.2), (0.4, 0.7)]
        );
        assert_eq!(
            bucket_ranges(2, 1.0, Some(&[0.4, 0.4])),
            vec![(0.0, 0.5), (0.5, 1.0)]
        );
        assert_eq!(
            bucket_ranges(2, 1.0, Some(&[1.0])),
            vec![(0.0, 0.5), (0.5, 1.0)]
        );
        assert_eq!(bucket_ranges(2, 7.0, None), vec![(0.0, 0.5), (0.5, 1.0)]);
        assert_eq!(bucket_ranges(2, -1.0, None), vec![(0.0, 0.0), (0.5, 0.5)]);
        assert!(equal_weights(-3).is_empty());
    }

    #[test]
    fn choose_variation_uses_half_open_ranges() {
        let ranges = [(0.0, 0.5), (0.5, 1.0)];
        assert_eq!(choose_variation(0.5, &ranges), Some(1));
        assert_eq!(choose_variation(0.0, &ranges), Some(0));
        assert_eq!(choose_variation(1.0, &ranges), None);
        assert_eq!(choose_variation(0.3, &[(0.0, 0.25), (0.5, 0.75)]), None);
    }
}
