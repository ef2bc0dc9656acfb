//! `bgnbd_fit_ms_100k` for `cargo xtask bench`: fitting BG/NBD and
//! Gamma-Gamma to 100,000 customers' histories.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dangol_engine::churn::{BgNbd, GammaGamma};
use dangol_server::churn::{fit_bgnbd, fit_gamma_gamma, simulate};

fn benches(c: &mut Criterion) {
    let histories = simulate(
        &BgNbd {
            r: 0.25,
            alpha: 20.0,
            a: 0.8,
            b: 2.5,
        },
        &GammaGamma {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        },
        100_000,
        7,
    );
    c.bench_function("bgnbd_fit_100k", |b| b.iter(|| fit_bgnbd(&histories)));
    c.bench_function("gamma_gamma_fit_100k", |b| {
        b.iter(|| fit_gamma_gamma(&histories))
    });
}

criterion_group! {
    name = churn;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(10))
        .sample_size(10);
    targets = benches
}
criterion_main!(churn);
