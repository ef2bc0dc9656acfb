//! Randomness is passed in: the widget seeds it from the browser's crypto,
//! tests seed it with a number, and the same seed gives the same decisions.

/// A source of uniform numbers in [0, 1).
pub trait Random {
    /// The next number in [0, 1).
    fn next_f64(&mut self) -> f64;
}

/// SplitMix64: small, fast and good enough for sampling decisions.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }
}

impl Random for SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits make a double in [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A standard normal sample (Marsaglia's polar method: no trigonometry,
/// so the wasm carries no sine or cosine).
fn normal(rng: &mut dyn Random) -> f64 {
    loop {
        let u = 2.0 * rng.next_f64() - 1.0;
        let v = 2.0 * rng.next_f64() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

/// A Gamma(shape, 1) sample (Marsaglia–Tsang; shapes below 1 are boosted).
pub fn gamma(shape: f64, rng: &mut dyn Random) -> f64 {
    if shape < 1.0 {
        let u = 1.0 - rng.next_f64();
        // u^(1/shape), written with exp and ln only.
        return gamma(shape + 1.0, rng) * (u.ln() / shape).exp();
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let t = 1.0 + c * x;
        let v = t * t * t;
        if v <= 0.0 {
            continue;
        }
        let u = rng.next_f64();
        let x2 = x * x;
        if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// A Beta(α, β) sample.
pub fn beta(alpha: f64, beta: f64, rng: &mut dyn Random) -> f64 {
    let x = gamma(alpha, rng);
    let y = gamma(beta, rng);
    if x + y > 0.0 { x / (x + y) } else { 0.5 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers_in_range() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn beta_samples_have_the_right_mean() {
        let mut rng = SplitMix64::new(7);
        for (a, b) in [(2.0, 8.0), (30.0, 10.0), (0.5, 0.5), (1.0, 1.0)] {
            let n = 20_000;
            let mean = (0..n).map(|_| beta(a, b, &mut rng)).sum::<f64>() / f64::from(n);
            let want = a / (a + b);
            assert!(
                (mean - want).abs() < 0.01,
                "Beta({a}, {b}): mean {mean}, want {want}"
            );
        }
    }
}
