//! The churn model under random parameters and histories: the chance a
//! customer is alive is a probability, and for a fixed history it only
//! falls as time passes without a purchase; expected purchases are never
//! negative and grow with the horizon.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use dangol_engine::churn::BgNbd;
use proptest::prelude::*;

fn params() -> impl Strategy<Value = BgNbd> {
    (0.05f64..5.0, 0.5f64..200.0, 0.05f64..5.0, 0.05f64..10.0).prop_map(|(r, alpha, a, b)| BgNbd {
        r,
        alpha,
        a,
        b,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn p_alive_is_a_probability_that_falls_with_time_since_the_last_purchase(
        model in params(),
        x in 0u32..60,
        t_x in 0.0f64..700.0,
        gap in 0.0f64..700.0,
        later in 0.001f64..700.0,
    ) {
        let t = t_x + gap;
        let p = model.p_alive(x, t_x, t);
        prop_assert!((0.0..=1.0).contains(&p), "{p}");
        let q = model.p_alive(x, t_x, t + later);
        prop_assert!(q <= p + 1e-15, "{p} then {q}");
        if x == 0 {
            prop_assert_eq!(p, 1.0);
        }
    }

    #[test]
    fn expected_purchases_are_never_negative_and_grow_with_the_horizon(
        model in params(),
        x in 0u32..30,
        t_x in 0.0f64..365.0,
        gap in 0.0f64..365.0,
        days in 1.0f64..365.0,
    ) {
        // a = 1 makes the closed form's (a − 1) vanish; keep clear of it.
        prop_assume!((model.a - 1.0).abs() > 0.01);
        let t = t_x + gap;
        let e = model.expected_purchases(days, x, t_x, t);
        let more = model.expected_purchases(days * 2.0, x, t_x, t);
        prop_assert!(e.is_finite() && e >= -1e-9, "{e}");
        prop_assert!(more >= e - 1e-9, "{e} then {more}");
    }
}
