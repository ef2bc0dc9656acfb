//! Who is leaving, and what a customer is worth: the BG/NBD model of repeat
//! purchasing (Fader, Hardie & Lee 2005, "Counting your customers the easy
//! way") and the Gamma-Gamma model of spend (Fader, Hardie & Lee 2005,
//! "RFM and CLV").
//!
//! BG/NBD: while alive, a customer buys at a rate drawn from
//! Gamma(`r`, `alpha`); after each purchase they leave for good with a
//! probability drawn from Beta(`a`, `b`). From a customer's own history —
//! `x` repeat purchases (after the first), the last at `t_x` and the
//! customer's age `t` (both measured from the first purchase, in days) —
//! follow the chance they are still alive and the purchases to expect.
//! Gamma-Gamma: the mean spend per order varies around a customer's own
//! mean, drawn from Gamma(`q`, `v`) with shape `p` per order.
//!
//! The server fits the parameters on the site's histories (maximum
//! likelihood with [`BgNbd::log_likelihood`] and
//! [`GammaGamma::log_likelihood`]); the widget computes the figures for the
//! shopper in the browser from their own history.

/// BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    /// Shape of the purchase-rate Gamma.
    pub r: f64,
    /// Scale of the purchase-rate Gamma (in days).
    pub alpha: f64,
    /// Beta `a` of the drop-out probability.
    pub a: f64,
    /// Beta `b` of the drop-out probability.
    pub b: f64,
}

/// Gamma-Gamma spend parameters (the `lifetimes` package calls them `p`,
/// `q` and `v`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    /// Shape of each order's spend.
    pub p: f64,
    /// Shape of the customers' mean-spend Gamma.
    pub q: f64,
    /// Scale of the customers' mean-spend Gamma.
    pub v: f64,
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7; relative error below 1e-14).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in (1..).zip(&G[1..]) {
        sum += g / (x + f64::from(i));
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Gauss's hypergeometric ₂F₁(a, b; c; z) for 0 ≤ z < 1, by its series,
/// summed until a term no longer changes the sum (at most 100,000 terms).
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..100_000 {
        let n = f64::from(n);
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= sum.abs() * 1e-15 {
            break;
        }
    }
    sum
}

/// `ln(e^u + e^v)` without overflow.
fn log_add_exp(u: f64, v: f64) -> f64 {
    let m = u.max(v);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((u - m).exp() + (v - m).exp()).ln()
}

/// `Σ_{k<n} ln(base + k)`: `ln Γ(base + n) − ln Γ(base)` for a whole `n`.
fn ln_rising(base: f64, n: u32) -> f64 {
    (0..n).map(|k| (base + f64::from(k)).ln()).sum()
}

/// A site's fitted churn model: purchases, and spend when fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChurnModel {
    /// Repeat purchasing.
    pub bgnbd: BgNbd,
    /// Order values.
    pub spend: Option<GammaGamma>,
}

/// What the model says of one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChurnFigures {
    /// The chance they are still a customer.
    pub p_alive: f64,
    /// Purchases to expect in the next 90 days.
    pub expected_orders_90d: f64,
    /// Their value in the next 90 days: expected purchases times expected
    /// order value.
    pub clv_90d: f64,
}

const DAY_MS: f64 = 86_400_000.0;

impl ChurnModel {
    /// The figures for a customer with `orders` orders worth `revenue`, the
    /// last at `last_purchase_ms`, `gap_days` apart on average; `None`
    /// before a first order. The first order's time is read back from the
    /// last and the mean gap.
    pub fn figures(
        &self,
        orders: u32,
        revenue: f64,
        last_purchase_ms: Option<i64>,
        gap_days: Option<f64>,
        now_ms: i64,
    ) -> Option<ChurnFigures> {
        let (x, t_x, t) = history(orders, last_purchase_ms, gap_days, now_ms)?;
        let expected = self.bgnbd.expected_purchases(90.0, x, t_x, t);
        let mean = revenue.max(0.0) / f64::from(orders);
        let value = self.spend.map_or(mean, |g| g.expected_spend(x, mean));
        Some(ChurnFigures {
            p_alive: self.bgnbd.p_alive(x, t_x, t),
            expected_orders_90d: expected,
            clv_90d: expected * value,
        })
    }
}

/// `base^exponent` for a positive `base`, as `exp(exponent · ln base)`: the
/// widget already carries `exp` and `ln`, and a general `powf` would add
/// 2 KB to its wasm. Relative error about 1e-15 · |exponent · ln base|.
fn power(base: f64, exponent: f64) -> f64 {
    (exponent * base.ln()).exp()
}

/// BG/NBD's view of a history: repeat purchases `x`, the last at `t_x`
/// and now `t`, in days since the first order (read back from the last
/// order and the mean gap); `None` before a first order.
fn history(
    orders: u32,
    last_purchase_ms: Option<i64>,
    gap_days: Option<f64>,
    now_ms: i64,
) -> Option<(u32, f64, f64)> {
    let last = last_purchase_ms?;
    let x = orders.checked_sub(1)?;
    let t_x = gap_days.unwrap_or(0.0).max(0.0) * f64::from(x);
    let t = (now_ms - last).max(0) as f64 / DAY_MS + t_x;
    Some((x, t_x, t))
}

impl ChurnModel {
    /// Only the chance the customer is still alive (what the lifecycle's
    /// `at_risk` threshold needs), for the same history as
    /// [`ChurnModel::figures`].
    pub fn p_alive(
        &self,
        orders: u32,
        last_purchase_ms: Option<i64>,
        gap_days: Option<f64>,
        now_ms: i64,
    ) -> Option<f64> {
        let (x, t_x, t) = history(orders, last_purchase_ms, gap_days, now_ms)?;
        Some(self.bgnbd.p_alive(x, t_x, t))
    }
}

impl BgNbd {
    /// The log-likelihood of one customer's history: `x` repeat purchases,
    /// the last at `t_x`, observed for `t` (days since the first purchase).
    pub fn log_likelihood(&self, x: u32, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        let a1 = ln_rising(r, x) + r * alpha.ln();
        let a2 = ln_rising(b, x) - ln_rising(a + b, x);
        let a3 = -(r + xf) * (alpha + t).ln();
        let a4 = if x > 0 {
            a.ln() - (b + xf - 1.0).ln() - (r + xf) * (alpha + t_x).ln()
        } else {
            f64::NEG_INFINITY
        };
        a1 + a2 + log_add_exp(a3, a4)
    }

    /// `1 + a/(b+x−1) · ((α+t)/(α+t_x))^(r+x)` for a repeat buyer, 1 otherwise.
    fn alive_odds(&self, x: u32, t_x: f64, t: f64) -> f64 {
        if x == 0 {
            return 1.0;
        }
        let xf = f64::from(x);
        1.0 + self.a / (self.b + xf - 1.0)
            * power((self.alpha + t) / (self.alpha + t_x), self.r + xf)
    }

    /// The chance the customer is still alive (will buy again at some
    /// point). A customer with no repeat purchase has not had the chance to
    /// leave yet: 1.
    pub fn p_alive(&self, x: u32, t_x: f64, t: f64) -> f64 {
        1.0 / self.alive_odds(x, t_x, t)
    }

    /// Purchases to expect in the next `days`.
    pub fn expected_purchases(&self, days: f64, x: u32, t_x: f64, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let xf = f64::from(x);
        let first = (a + b + xf - 1.0) / (a - 1.0);
        let hyp = hyp2f1(r + xf, b + xf, a + b + xf - 1.0, days / (alpha + t + days));
        let second = 1.0 - power((alpha + t) / (alpha + t + days), r + xf) * hyp;
        first * second / self.alive_odds(x, t_x, t)
    }
}

impl GammaGamma {
    /// The log-likelihood of one customer's spend: `x` orders (at least
    /// one) with mean value `m`.
    pub fn log_likelihood(&self, x: u32, m: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let px = p * f64::from(x);
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * v.ln()
            + (px - 1.0) * m.ln()
            + px * f64::from(x).ln()
            - (px + q) * (f64::from(x) * m + v).ln()
    }

    /// The mean order value to expect from a customer with `x` orders of
    /// mean value `m` (the population mean when `x` is 0).
    pub fn expected_spend(&self, x: u32, m: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let population = p * v / (q - 1.0);
        if x == 0 {
            return population;
        }
        let px = p * f64::from(x);
        let weight = px / (px + q - 1.0);
        (1.0 - weight) * population + weight * m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        for (x, want) in [
            (1.0, 0.0),
            (2.0, 0.0),
            (0.5, std::f64::consts::PI.sqrt().ln()),
            (10.0, 362_880f64.ln()),
            (0.1, 2.252_712_651_734_206),
            (171.5, 709.143_163_030_928_3),
        ] {
            assert!(
                close(ln_gamma(x), want, 1e-12) || (ln_gamma(x) - want).abs() < 1e-12,
                "{x}"
            );
        }
        // ln Γ(b + n) − ln Γ(b) by the rising product.
        assert!(close(
            ln_rising(0.7, 5),
            ln_gamma(5.7) - ln_gamma(0.7),
            1e-12
        ));
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1−z)/z.
        for z in [0.1, 0.5, 0.9, 0.99] {
            assert!(
                close(hyp2f1(1.0, 1.0, 2.0, z), -(1.0f64 - z).ln() / z, 1e-10),
                "{z}"
            );
        }
        // ₂F₁(a, b; b; z) = (1−z)^(−a).
        assert!(close(hyp2f1(2.5, 3.0, 3.0, 0.3), 0.7f64.powf(-2.5), 1e-12));
        assert_eq!(hyp2f1(2.0, 3.0, 4.0, 0.0), 1.0);
    }

    /// The parameters Fader, Hardie & Lee (2005) report for the CDNOW data
    /// (time in weeks).
    const CDNOW: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    #[test]
    fn p_alive_is_one_before_a_repeat_and_falls_with_time_since_the_last() {
        assert_eq!(CDNOW.p_alive(0, 0.0, 30.0), 1.0);
        let mut last = 1.0;
        for t in [20.0, 30.0, 40.0, 60.0, 80.0] {
            let p = CDNOW.p_alive(3, 20.0, t);
            assert!((0.0..=1.0).contains(&p) && p <= last, "{t}: {p}");
            last = p;
        }
        // A frequent buyer seen recently is more likely alive.
        assert!(CDNOW.p_alive(8, 37.0, 38.0) > CDNOW.p_alive(1, 5.0, 38.0));
    }

    #[test]
    fn expected_purchases_follow_the_paper() {
        // The paper's worked example: a customer with x = 2, t_x = 30.43,
        // T = 38.86 weeks expects 1.226 purchases in the next 39 weeks.
        let e = CDNOW.expected_purchases(39.0, 2, 30.43, 38.86);
        assert!(close(e, 1.226_028_174_767_135, 1e-9), "{e}");
        // The `lifetimes` package's value for the same customer.
        assert!(close(CDNOW.p_alive(2, 30.43, 38.86), 0.726_578_57, 1e-7));
        // More time, more purchases; a customer gone quiet expects fewer.
        assert!(CDNOW.expected_purchases(78.0, 2, 30.43, 38.86) > e);
        assert!(CDNOW.expected_purchases(39.0, 2, 5.0, 38.86) < e);
    }

    #[test]
    fn a_customers_figures_come_from_their_profile() {
        let model = ChurnModel {
            bgnbd: BgNbd {
                r: 0.243,
                alpha: 4.414 * 7.0,
                a: 0.793,
                b: 2.426,
            },
            spend: None,
        };
        let day = 86_400_000i64;
        let now = 1_796_081_400_000;
        assert_eq!(model.figures(0, 0.0, None, None, now), None);
        // Four orders a month apart, the last one 10 days ago.
        let recent = model
            .figures(4, 200_000.0, Some(now - 10 * day), Some(30.0), now)
            .unwrap();
        // x = 3 repeats, t_x = 90 days, T = 100 days.
        assert!((recent.p_alive - model.bgnbd.p_alive(3, 90.0, 100.0)).abs() < 1e-12);
        assert!(
            (recent.expected_orders_90d - model.bgnbd.expected_purchases(90.0, 3, 90.0, 100.0))
                .abs()
                < 1e-12
        );
        assert!((recent.clv_90d - recent.expected_orders_90d * 50_000.0).abs() < 1e-6);
        // The same customer gone quiet for a year.
        let quiet = model
            .figures(4, 200_000.0, Some(now - 365 * day), Some(30.0), now)
            .unwrap();
        assert!(quiet.p_alive < recent.p_alive && quiet.clv_90d < recent.clv_90d);
    }

    #[test]
    fn log_likelihood_is_finite_and_prefers_the_generating_parameters() {
        for (x, t_x, t) in [(0, 0.0, 38.0), (1, 10.0, 38.0), (5, 37.9, 38.0)] {
            assert!(CDNOW.log_likelihood(x, t_x, t).is_finite());
        }
        let gg = GammaGamma {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        assert!(gg.log_likelihood(3, 35.0).is_finite());
        // Shrinks a customer's own mean toward the population's.
        let own = gg.expected_spend(1, 100.0);
        assert!(own < 100.0 && own > gg.expected_spend(0, 0.0));
        assert!((gg.expected_spend(50, 100.0) - 100.0).abs() < (own - 100.0).abs());
    }
}
