//! Fitting the churn model (see [`dangol_engine::churn`]) to a site's
//! purchase histories by maximum likelihood: BG/NBD on each customer's
//! repeat purchases (how many, the last one's time, the customer's age)
//! and Gamma-Gamma on what their orders were worth. Nelder–Mead on the
//! logarithms of the parameters (so they stay positive), from several
//! starts; standard errors from the inverse of the numerical Hessian of
//! the log-likelihood at the optimum.

use std::collections::BTreeMap;

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use dangol_engine::churn::{BgNbd, GammaGamma};
use dangol_engine::random::{Random, SplitMix64, beta, gamma};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::store::StoreError;

pub(crate) const MODEL: &str = "/v1/admin/sites/{site}/churn-model";

/// Customers with a purchase a fit needs at least.
pub const MIN_CUSTOMERS: usize = 20;

/// One customer's purchases of one kind (`purchase`, tracked on the site,
/// or `order`, imported), summed: the customer id for identified shoppers,
/// else the pseudonymous id.
#[derive(Debug, Clone, PartialEq)]
pub struct Purchases {
    /// Who bought.
    pub who: String,
    /// `purchase` or `order`.
    pub kind: String,
    /// How many.
    pub n: i64,
    /// The first one's time (ms).
    pub first_ms: i64,
    /// The last one's time (ms).
    pub last_ms: i64,
    /// Their summed value.
    pub total: f64,
}

/// The churn model's storage.
#[async_trait]
pub trait ChurnStore: Send + Sync {
    /// Every customer's purchases, by kind.
    async fn purchase_histories(&self, site: &str) -> Result<Vec<Purchases>, StoreError>;
    /// Keeps the site's fitted model.
    async fn put_churn_model(&self, site: &str, model: &str, now_ms: i64)
    -> Result<(), StoreError>;
    /// The site's fitted model and when it was fitted.
    async fn churn_model(&self, site: &str) -> Result<Option<(String, i64)>, StoreError>;
    /// Every customer's purchases before `split_ms` (their count, first and
    /// last) and how many came at or after it, by kind.
    async fn split_histories(&self, site: &str, split_ms: i64) -> Result<Vec<Split>, StoreError>;
}

/// One customer's purchases of one kind around a split time.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Who bought.
    pub who: String,
    /// `purchase` or `order`.
    pub kind: String,
    /// Purchases before the split.
    pub before: i64,
    /// The first before it (ms), if any.
    pub first_ms: Option<i64>,
    /// The last before it (ms), if any.
    pub last_ms: Option<i64>,
    /// Purchases at or after the split.
    pub after: i64,
}

pub(crate) mod sql {
    /// Implements `ChurnStore` for `$store` over database `$db`.
    macro_rules! churn_store {
        ($store:ty, $db:ty) => {
            #[async_trait::async_trait]
            impl $crate::churn::ChurnStore for $store {
                async fn purchase_histories(
                    &self,
                    site: &str,
                ) -> Result<Vec<$crate::churn::Purchases>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT COALESCE(i.customer, e.anon) AS who, e.type AS kind, COUNT(*) AS n,
                                MIN(e.ts) AS first_ms, MAX(e.ts) AS last_ms,
                                SUM(COALESCE(e.price, 0)) AS total
                         FROM events e LEFT JOIN identities i ON i.site = e.site AND i.anon = e.anon
                         WHERE e.site = $1 AND e.type IN ('purchase', 'order')
                         GROUP BY COALESCE(i.customer, e.anon), e.type",
                    )
                    .bind(site)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(rows
                        .iter()
                        .map(|r| $crate::churn::Purchases {
                            who: r.get("who"),
                            kind: r.get("kind"),
                            n: r.get("n"),
                            first_ms: r.get("first_ms"),
                            last_ms: r.get("last_ms"),
                            total: r.get::<Option<f64>, _>("total").unwrap_or(0.0),
                        })
                        .collect())
                }

                async fn put_churn_model(
                    &self,
                    site: &str,
                    model: &str,
                    now_ms: i64,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO churn_models (site, model, fitted_ms) VALUES ($1, $2, $3)
                         ON CONFLICT (site) DO UPDATE SET model = excluded.model,
                           fitted_ms = excluded.fitted_ms",
                    )
                    .bind(site)
                    .bind(model)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn split_histories(
                    &self,
                    site: &str,
                    split_ms: i64,
                ) -> Result<Vec<$crate::churn::Split>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT COALESCE(i.customer, e.anon) AS who, e.type AS kind,
                                SUM(CASE WHEN e.ts < $2 THEN 1 ELSE 0 END) AS before,
                                MIN(CASE WHEN e.ts < $2 THEN e.ts END) AS first_ms,
                                MAX(CASE WHEN e.ts < $2 THEN e.ts END) AS last_ms,
                                SUM(CASE WHEN e.ts >= $2 THEN 1 ELSE 0 END) AS after
                         FROM events e LEFT JOIN identities i ON i.site = e.site AND i.anon = e.anon
                         WHERE e.site = $1 AND e.type IN ('purchase', 'order')
                         GROUP BY COALESCE(i.customer, e.anon), e.type",
                    )
                    .bind(site)
                    .bind(split_ms)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(rows
                        .iter()
                        .map(|r| $crate::churn::Split {
                            who: r.get("who"),
                            kind: r.get("kind"),
                            before: r.get::<Option<i64>, _>("before").unwrap_or(0),
                            first_ms: r.get("first_ms"),
                            last_ms: r.get("last_ms"),
                            after: r.get::<Option<i64>, _>("after").unwrap_or(0),
                        })
                        .collect())
                }

                async fn churn_model(&self, site: &str) -> Result<Option<(String, i64)>, StoreError> {
                    let row = sqlx::query("SELECT model, fitted_ms FROM churn_models WHERE site = $1")
                        .bind(site)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(row.map(|r| (r.get("model"), r.get("fitted_ms"))))
                }
            }
        };
    }

    pub(crate) use churn_store;
}

const DAY_MS: f64 = 86_400_000.0;

/// Each customer's history as of `now_ms`, in days since their first
/// purchase. A customer with imported orders is read from those alone (the
/// shop's own record; tracked purchases of the same orders would count
/// twice); the others from the purchases tracked on the site. The value is
/// the mean of all their orders.
pub fn histories(purchases: &[Purchases], now_ms: i64) -> Vec<History> {
    customers(purchases, now_ms)
        .into_iter()
        .map(|(_, h, _)| h)
        .collect()
}

/// [`histories`] with who each one is and what they spent in all.
fn customers(purchases: &[Purchases], now_ms: i64) -> Vec<(String, History, f64)> {
    let mut by_who: BTreeMap<&str, &Purchases> = BTreeMap::new();
    for p in purchases {
        let keep = match by_who.get(p.who.as_str()) {
            Some(seen) => seen.kind != "order" && p.kind == "order",
            None => true,
        };
        if keep {
            by_who.insert(&p.who, p);
        }
    }
    by_who
        .values()
        .filter(|p| p.n > 0 && p.first_ms <= now_ms)
        .map(|p| {
            let h = History {
                x: u32::try_from(p.n - 1).unwrap_or(u32::MAX),
                t_x: (p.last_ms - p.first_ms).max(0) as f64 / DAY_MS,
                t: (now_ms - p.first_ms).max(0) as f64 / DAY_MS,
                mean_value: if p.n > 1 { p.total / p.n as f64 } else { 0.0 },
            };
            (p.who.clone(), h, p.total)
        })
        .collect()
}

/// The holdout check's period: the last 90 days.
pub const HOLDOUT_DAYS: i64 = 90;

/// The holdout check: the model fitted on the histories up to 90 days ago
/// (the calibration period) predicts each of those customers' purchases in
/// the last 90 days; predicted and actual means by how many repeat
/// purchases the customers made before (0 to 6, and 7 or more). `None`
/// when too few customers bought before the holdout.
pub fn holdout_check(splits: &[Split], now_ms: i64) -> Option<Value> {
    let split = now_ms - HOLDOUT_DAYS * 86_400_000;
    let mut by_who: BTreeMap<&str, &Split> = BTreeMap::new();
    for s in splits {
        let keep = match by_who.get(s.who.as_str()) {
            Some(seen) => seen.kind != "order" && s.kind == "order",
            None => true,
        };
        if keep {
            by_who.insert(&s.who, s);
        }
    }
    let mut calibration = Vec::new();
    for s in by_who.values() {
        let (Some(first), Some(last)) = (s.first_ms, s.last_ms) else {
            continue;
        };
        if s.before < 1 {
            continue;
        }
        let h = History {
            x: u32::try_from(s.before - 1).unwrap_or(u32::MAX),
            t_x: (last - first).max(0) as f64 / DAY_MS,
            t: (split - first).max(0) as f64 / DAY_MS,
            mean_value: 0.0,
        };
        calibration.push((h, s.after));
    }
    if calibration.len() < MIN_CUSTOMERS {
        return None;
    }
    let histories: Vec<History> = calibration.iter().map(|(h, _)| *h).collect();
    let model = fit_bgnbd(&histories).params;
    let mut groups = [(0u64, 0.0f64, 0i64); 8];
    for (h, actual) in &calibration {
        let g = &mut groups[(h.x as usize).min(7)];
        g.0 += 1;
        g.1 += model.expected_purchases(HOLDOUT_DAYS as f64, h.x, h.t_x, h.t);
        g.2 += actual;
    }
    let rows: Vec<Value> = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.0 > 0)
        .map(|(x, (n, predicted, actual))| {
            json!({
                "repeat_purchases": if x == 7 { "7+".to_string() } else { x.to_string() },
                "customers": n,
                "predicted": predicted / *n as f64,
                "actual": *actual as f64 / *n as f64,
            })
        })
        .collect();
    let predicted: f64 = groups.iter().map(|g| g.1).sum();
    let actual: i64 = groups.iter().map(|g| g.2).sum();
    Some(json!({
        "days": HOLDOUT_DAYS,
        "customers": calibration.len(),
        "predicted_purchases": predicted,
        "actual_purchases": actual,
        "by_repeat_purchases": rows,
        "calibration": {"r": model.r, "alpha": model.alpha, "a": model.a, "b": model.b},
    }))
}

/// Customers listed as at risk on the dashboard.
const AT_RISK_LISTED: usize = 20;

/// How P(alive) spreads over the customers (ten bins of 0.1), and the
/// repeat customers most likely gone (P(alive) below 0.5), most valuable
/// first.
fn spread(
    model: &BgNbd,
    spend: &GammaGamma,
    all: &[(String, History, f64)],
) -> (Vec<u64>, Vec<Value>) {
    let mut bins = vec![0u64; 10];
    let mut at_risk = Vec::new();
    for (who, h, total) in all {
        let p = model.p_alive(h.x, h.t_x, h.t);
        bins[((p * 10.0) as usize).min(9)] += 1;
        if h.x > 0 && p < 0.5 {
            let expected = model.expected_purchases(90.0, h.x, h.t_x, h.t);
            let value = spend.expected_spend(h.x, total / f64::from(h.x + 1));
            at_risk.push((
                *total,
                json!({
                    "customer": who, "orders": h.x + 1, "revenue": total,
                    "days_since_last": (h.t - h.t_x).round(), "p_alive": p,
                    "clv_90d": expected * value,
                }),
            ));
        }
    }
    at_risk.sort_by(|a, b| b.0.total_cmp(&a.0));
    (
        bins,
        at_risk
            .into_iter()
            .take(AT_RISK_LISTED)
            .map(|(_, v)| v)
            .collect(),
    )
}

fn model_json(bg: &Fit<BgNbd>, gg: &Fit<GammaGamma>, fitted_ms: i64) -> Value {
    let m = bg.params;
    let g = gg.params;
    json!({
        "time_unit": "days",
        "fitted_ms": fitted_ms,
        "bgnbd": {
            "r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b,
            "std_errors": {"r": bg.std_errors[0], "alpha": bg.std_errors[1], "a": bg.std_errors[2], "b": bg.std_errors[3]},
            "log_likelihood": bg.log_likelihood,
            "customers": bg.customers,
        },
        "gamma_gamma": {
            "p": g.p, "q": g.q, "v": g.v,
            "std_errors": {"p": gg.std_errors[0], "q": gg.std_errors[1], "v": gg.std_errors[2]},
            "log_likelihood": gg.log_likelihood,
            "customers": gg.customers,
        },
    })
}

/// The site's fitted model as the engine reads it, if one was fitted.
pub async fn stored_model(
    store: &dyn crate::store::Store,
    site: &str,
) -> Result<Option<dangol_engine::churn::ChurnModel>, StoreError> {
    let Some((text, _)) = store.churn_model(site).await? else {
        return Ok(None);
    };
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let num = |section: &str, k: &str| v[section][k].as_f64().filter(|x| x.is_finite() && *x > 0.0);
    let bgnbd = (|| {
        Some(BgNbd {
            r: num("bgnbd", "r")?,
            alpha: num("bgnbd", "alpha")?,
            a: num("bgnbd", "a")?,
            b: num("bgnbd", "b")?,
        })
    })();
    let spend = (|| {
        Some(GammaGamma {
            p: num("gamma_gamma", "p")?,
            q: num("gamma_gamma", "q")?,
            v: num("gamma_gamma", "v")?,
        })
    })();
    Ok(bgnbd.map(|bgnbd| dangol_engine::churn::ChurnModel { bgnbd, spend }))
}

/// `POST /v1/admin/sites/{site}/churn-model`: fits the model to the site's
/// purchase histories now and keeps it.
pub async fn fit(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    let now = crate::now_ms();
    let everyone = customers(&state.store.purchase_histories(&site).await?, now);
    let all: Vec<History> = everyone.iter().map(|(_, h, _)| *h).collect();
    if all.len() < MIN_CUSTOMERS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_few_customers",
            format!(
                "the churn model needs at least {MIN_CUSTOMERS} customers with a purchase; site `{site}` has {}",
                all.len()
            ),
        ));
    }
    let (bg, gg) = tokio::task::spawn_blocking(move || (fit_bgnbd(&all), fit_gamma_gamma(&all)))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut model = model_json(&bg, &gg, now);
    let (bins, at_risk) = spread(&bg.params, &gg.params, &everyone);
    model["p_alive_histogram"] = json!(bins);
    model["at_risk"] = json!(at_risk);
    let splits = state
        .store
        .split_histories(&site, now - HOLDOUT_DAYS * 86_400_000)
        .await?;
    model["holdout"] = tokio::task::spawn_blocking(move || holdout_check(&splits, now))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .unwrap_or(Value::Null);
    state
        .store
        .put_churn_model(&site, &model.to_string(), now)
        .await?;
    // The published config carries the model: served anew from now on.
    state.cache.invalidate(&site);
    Ok(Json(model))
}

/// `GET /v1/admin/sites/{site}/churn-model`: the model last fitted.
pub async fn get(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    match state.store.churn_model(&site).await? {
        Some((model, _)) => Ok(Json(
            serde_json::from_str(&model).map_err(|e| ApiError::internal(e.to_string()))?,
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_fitted",
            format!("site `{site}` has no churn model yet (POST to fit one)"),
        )),
    }
}

/// One customer's purchase history, in days since their first purchase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Purchases after the first.
    pub x: u32,
    /// When the last one was.
    pub t_x: f64,
    /// How long the customer has been watched.
    pub t: f64,
    /// The mean value of the purchases after the first (0 without any).
    pub mean_value: f64,
}

/// A fitted model with its fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit<P> {
    /// The parameters.
    pub params: P,
    /// The log-likelihood at them, summed over the customers.
    pub log_likelihood: f64,
    /// Each parameter's standard error, in the parameters' order (NaN where
    /// the Hessian could not be inverted).
    pub std_errors: Vec<f64>,
    /// Customers the fit read.
    pub customers: usize,
}

/// Minimises `f` from `start` by Nelder–Mead until the simplex is within
/// `tolerance` in every coordinate; returns the best point.
fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    max_iter: usize,
    tolerance: f64,
) -> Vec<f64> {
    let n = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut p = start.to_vec();
            if i > 0 {
                p[i - 1] += step;
            }
            let v = f(&p);
            (p, v)
        })
        .collect();
    for _ in 0..max_iter {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[n].1);
        if (worst - best).abs() <= 1e-12 * (best.abs() + 1e-12) {
            let spread = (0..n)
                .map(|d| {
                    simplex
                        .iter()
                        .map(|(p, _)| (p[d] - simplex[0].0[d]).abs())
                        .fold(0.0, f64::max)
                })
                .fold(0.0, f64::max);
            if spread < tolerance {
                break;
            }
        }
        let centroid: Vec<f64> = (0..n)
            .map(|d| simplex[..n].iter().map(|(p, _)| p[d]).sum::<f64>() / n as f64)
            .collect();
        let towards = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|d| centroid[d] + t * (simplex[n].0[d] - centroid[d]))
                .collect()
        };
        let reflected = towards(-1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = towards(-2.0);
            let fe = f(&expanded);
            simplex[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let (contracted, fc) = if fr < simplex[n].1 {
                let c = towards(-0.5);
                let v = f(&c);
                (c, v)
            } else {
                let c = towards(0.5);
                let v = f(&c);
                (c, v)
            };
            if fc < simplex[n].1.min(fr) {
                simplex[n] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                // Every vertex but the best moves halfway towards it.
                for (p, v) in &mut simplex[1..] {
                    for d in 0..n {
                        p[d] = best[d] + 0.5 * (p[d] - best[d]);
                    }
                    *v = f(p);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0).0
}

/// Minimises from a few starts, each restarted from its result until it no
/// longer improves, to `tolerance` in each coordinate; the best result.
fn minimise(f: &dyn Fn(&[f64]) -> f64, starts: &[Vec<f64>], tolerance: f64) -> Vec<f64> {
    let mut best: Option<(Vec<f64>, f64)> = None;
    for start in starts {
        let mut point = start.clone();
        let mut value = f(&point);
        // The first run searches widely; a restart from where it stopped,
        // with a small simplex, checks that it did not stop early.
        let mut step = 0.5;
        for _ in 0..8 {
            let next = nelder_mead(f, &point, step, 4000, tolerance);
            step = 0.01;
            let v = f(&next);
            let done = (value - v).abs() <= 1e-11 * (v.abs() + 1e-12);
            point = next;
            value = v;
            if done {
                break;
            }
        }
        if value.is_finite() && best.as_ref().is_none_or(|(_, b)| value < *b) {
            best = Some((point, value));
        }
    }
    best.map(|(p, _)| p).unwrap_or_else(|| starts[0].clone())
}

/// Standard errors from the inverse of the Hessian of `neg_ll` (the total
/// negative log-likelihood as a function of the natural parameters).
fn std_errors(neg_ll: &dyn Fn(&[f64]) -> f64, at: &[f64]) -> Vec<f64> {
    let n = at.len();
    let h: Vec<f64> = at.iter().map(|x| 1e-4 * x.abs().max(1e-3)).collect();
    let mut hess = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in i..n {
            let eval = |di: f64, dj: f64| {
                let mut p = at.to_vec();
                p[i] += di;
                p[j] += dj;
                neg_ll(&p)
            };
            let v = if i == j {
                (eval(h[i], 0.0) - 2.0 * neg_ll(at) + eval(-h[i], 0.0)) / (h[i] * h[i])
            } else {
                (eval(h[i], h[j]) - eval(h[i], -h[j]) - eval(-h[i], h[j]) + eval(-h[i], -h[j]))
                    / (4.0 * h[i] * h[j])
            };
            hess[i][j] = v;
            hess[j][i] = v;
        }
    }
    match invert(hess) {
        Some(inv) => (0..n).map(|i| inv[i][i].max(0.0).sqrt()).collect(),
        None => vec![f64::NAN; n],
    }
}

/// The inverse of a small square matrix (Gauss–Jordan with pivoting).
fn invert(mut m: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        inv.swap(col, pivot);
        let p = m[col][col];
        for j in 0..n {
            m[col][j] /= p;
            inv[col][j] /= p;
        }
        for row in 0..n {
            if row != col {
                let factor = m[row][col];
                for j in 0..n {
                    m[row][j] -= factor * m[col][j];
                    inv[row][j] -= factor * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

/// Maximises `log_likelihood` (summed over `n` customers, a function of
/// the natural parameters) from `starts` (logarithms of the parameters, to
/// `tolerance` in each), and the fit at the optimum.
fn fit_by_likelihood<P: Copy>(
    log_likelihood: &dyn Fn(&[f64]) -> f64,
    starts: &[Vec<f64>],
    n: f64,
    of: impl Fn(&[f64]) -> P,
    customers: usize,
    tolerance: f64,
) -> Fit<P> {
    let objective = |logp: &[f64]| -> f64 {
        let p: Vec<f64> = logp.iter().map(|v| v.exp()).collect();
        let ll = log_likelihood(&p);
        if ll.is_finite() {
            -ll / n
        } else {
            f64::INFINITY
        }
    };
    let best: Vec<f64> = minimise(&objective, starts, tolerance)
        .iter()
        .map(|v| v.exp())
        .collect();
    let neg_ll = |p: &[f64]| -log_likelihood(p);
    Fit {
        params: of(&best),
        log_likelihood: log_likelihood(&best),
        std_errors: std_errors(&neg_ll, &best),
        customers,
    }
}

/// Groups from which a likelihood is summed on all cores, in [`PARTS`]
/// parts (fewer: one core, as starting threads would cost more than it saves).
const PARALLEL_GROUPS: usize = 20_000;
/// See [`PARALLEL_GROUPS`].
const PARTS: usize = 8;

/// The histories grouped for fast likelihoods: each distinct `(x, t_x,
/// t)` once with its count, and the distinct times, so an evaluation takes
/// one logarithm per distinct time rather than per customer.
struct Grouped {
    /// `(x, index into t_xs, index into ts, count)`.
    groups: Vec<(u32, usize, usize, f64)>,
    t_xs: Vec<f64>,
    ts: Vec<f64>,
    max_x: u32,
}

impl Grouped {
    fn of(histories: &[History]) -> Self {
        let distinct = |values: Vec<f64>| -> Vec<f64> {
            let mut v = values;
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let t_xs = distinct(histories.iter().map(|h| h.t_x).collect());
        let ts = distinct(histories.iter().map(|h| h.t).collect());
        let index = |list: &[f64], v: f64| list.partition_point(|x| x.total_cmp(&v).is_lt());
        let mut counts: BTreeMap<(u32, usize, usize), f64> = BTreeMap::new();
        for h in histories {
            *counts
                .entry((h.x, index(&t_xs, h.t_x), index(&ts, h.t)))
                .or_default() += 1.0;
        }
        Grouped {
            groups: counts
                .into_iter()
                .map(|((x, i, j), w)| (x, i, j, w))
                .collect(),
            t_xs,
            ts,
            max_x: histories.iter().map(|h| h.x).max().unwrap_or(0),
        }
    }

    /// The summed log-likelihood under `m` ([`BgNbd::log_likelihood`] for
    /// every customer, term by term).
    fn log_likelihood(&self, m: &BgNbd) -> f64 {
        let parallel = self.groups.len() >= PARALLEL_GROUPS;
        self.log_likelihood_in(m, if parallel { PARTS } else { 1 })
    }

    /// [`Grouped::log_likelihood`] summed in `parts` parts, spread over the
    /// cores.
    fn log_likelihood_in(&self, m: &BgNbd, parts: usize) -> f64 {
        let BgNbd { r, alpha, a, b } = *m;
        let ln_t: Vec<f64> = self.ts.iter().map(|t| (alpha + t).ln()).collect();
        let ln_tx: Vec<f64> = self.t_xs.iter().map(|t| (alpha + t).ln()).collect();
        // Per x: ln Γ(r+x)/Γ(r) + ln Γ(b+x)/Γ(b) − ln Γ(a+b+x)/Γ(a+b), and ln(b+x−1).
        let mut rising = Vec::with_capacity(self.max_x as usize + 1);
        let mut ln_b_x = Vec::with_capacity(self.max_x as usize + 1);
        let mut acc = 0.0;
        for x in 0..=self.max_x {
            let xf = f64::from(x);
            if x > 0 {
                acc += (r + xf - 1.0).ln() + (b + xf - 1.0).ln() - (a + b + xf - 1.0).ln();
            }
            rising.push(acc);
            ln_b_x.push((b + xf - 1.0).ln());
        }
        let (ln_a, r_ln_alpha) = (a.ln(), r * alpha.ln());
        let sum = |groups: &[(u32, usize, usize, f64)]| {
            let mut total = 0.0;
            for &(x, i, j, w) in groups {
                let xf = f64::from(x);
                let a3 = -(r + xf) * ln_t[j];
                let ll = if x > 0 {
                    // ln(e^a3 + e^a4), with one exponential.
                    let a4 = ln_a - ln_b_x[x as usize] - (r + xf) * ln_tx[i];
                    let (hi, lo) = if a3 >= a4 { (a3, a4) } else { (a4, a3) };
                    hi + (lo - hi).exp().ln_1p()
                } else {
                    a3
                };
                total += w * (rising[x as usize] + r_ln_alpha + ll);
            }
            total
        };
        // The groups in a fixed number of parts, each summed on its own and
        // the parts added in order: the same total on any number of cores.
        if parts <= 1 || self.groups.is_empty() {
            return sum(&self.groups);
        }
        let parts: Vec<&[(u32, usize, usize, f64)]> = self
            .groups
            .chunks(self.groups.len().div_ceil(parts))
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(parts.len());
        let mut sums = vec![0.0; parts.len()];
        std::thread::scope(|scope| {
            let mut slots: Vec<&mut [f64]> =
                sums.chunks_mut(parts.len().div_ceil(threads)).collect();
            let mine = slots.remove(0);
            let per = parts.len().div_ceil(threads);
            for (k, slot) in slots.into_iter().enumerate() {
                let parts = &parts[(k + 1) * per..];
                let sum = &sum;
                scope.spawn(move || {
                    for (s, part) in slot.iter_mut().zip(parts) {
                        *s = sum(part);
                    }
                });
            }
            for (s, part) in mine.iter_mut().zip(&parts) {
                *s = sum(part);
            }
        });
        sums.iter().sum()
    }
}

/// Fits BG/NBD to the histories.
pub fn fit_bgnbd(histories: &[History]) -> Fit<BgNbd> {
    let grouped = Grouped::of(histories);
    let n = histories.len().max(1) as f64;
    let of = |p: &[f64]| BgNbd {
        r: p[0],
        alpha: p[1],
        a: p[2],
        b: p[3],
    };
    let total = |m: &BgNbd| -> f64 { grouped.log_likelihood(m) };
    let mean_t = histories.iter().map(|h| h.t).sum::<f64>() / n;
    let starts = [
        vec![0.0, mean_t.max(1.0).ln(), 0.0, 0.0],
        vec![
            (0.5f64).ln(),
            (mean_t.max(1.0) / 4.0).ln(),
            (2.0f64).ln(),
            (4.0f64).ln(),
        ],
    ];
    // In log parameters, a relative 1e-6: what the fit reports is read to
    // a few significant digits, and each evaluation reads every customer.
    fit_by_likelihood(&|p| total(&of(p)), &starts, n, of, histories.len(), 1e-6)
}

/// Fits Gamma-Gamma to the customers with repeat purchases (their count
/// and mean value).
pub fn fit_gamma_gamma(histories: &[History]) -> Fit<GammaGamma> {
    let buyers: Vec<(u32, f64)> = histories
        .iter()
        .filter(|h| h.x > 0 && h.mean_value > 0.0)
        .map(|h| (h.x, h.mean_value))
        .collect();
    let n = buyers.len().max(1) as f64;
    let of = |p: &[f64]| GammaGamma {
        p: p[0],
        q: p[1],
        v: p[2],
    };
    // [`GammaGamma::log_likelihood`] summed, its Γ terms worked out once per
    // distinct number of orders (there are few) rather than per customer.
    let max_x = buyers.iter().map(|(x, _)| *x).max().unwrap_or(0) as usize;
    let mut per_x = vec![(0.0f64, 0.0f64); max_x + 1];
    for &(x, m) in &buyers {
        let e = &mut per_x[x as usize];
        e.0 += 1.0;
        e.1 += m.ln();
    }
    let total = |g: &GammaGamma| -> f64 {
        let GammaGamma { p, q, v } = *g;
        let ln_v = v.ln();
        let mut sum = 0.0;
        for (x, &(count, sum_ln_m)) in per_x.iter().enumerate() {
            if count == 0.0 {
                continue;
            }
            let px = p * x as f64;
            let gammas = dangol_engine::churn::ln_gamma(px + q)
                - dangol_engine::churn::ln_gamma(px)
                - dangol_engine::churn::ln_gamma(q);
            sum += count * (gammas + q * ln_v + px * (x as f64).ln()) + (px - 1.0) * sum_ln_m;
        }
        for &(x, m) in &buyers {
            let xf = f64::from(x);
            sum -= (p * xf + q) * (xf * m + v).ln();
        }
        sum
    };
    let mean = buyers.iter().map(|(_, v)| v).sum::<f64>() / n;
    let starts = [
        vec![0.0, 0.0, mean.max(1.0).ln()],
        vec![(2.0f64).ln(), (3.0f64).ln(), (mean.max(1.0) * 2.0).ln()],
    ];
    // An evaluation costs one logarithm per buyer: a finer 1e-9 is cheap.
    fit_by_likelihood(&|p| total(&of(p)), &starts, n, of, buyers.len(), 1e-9)
}

/// `customers` histories drawn from the models (for tests and the bench):
/// each watched for 30 to 730 days since their first purchase, with order
/// values around their own Gamma-Gamma mean.
pub fn simulate(model: &BgNbd, spend: &GammaGamma, customers: usize, seed: u64) -> Vec<History> {
    let mut rng = SplitMix64::new(seed);
    (0..customers)
        .map(|_| {
            let rate = gamma(model.r, &mut rng) / model.alpha;
            let drop = beta(model.a, model.b, &mut rng);
            let nu = gamma(spend.q, &mut rng) / spend.v;
            let t = 30.0 + (rng.next_f64() * 700.0).floor();
            let (mut x, mut t_x, mut now, mut spent) = (0u32, 0.0, 0.0, 0.0);
            loop {
                now += -rng.next_f64().max(f64::MIN_POSITIVE).ln() / rate.max(1e-12);
                if now > t {
                    break;
                }
                x += 1;
                t_x = now.floor().min(t);
                spent += gamma(spend.p, &mut rng) / nu;
                if rng.next_f64() < drop {
                    break;
                }
            }
            History {
                x,
                t_x,
                t,
                mean_value: if x > 0 { spent / f64::from(x) } else { 0.0 },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_of_a_matrix_times_it_is_the_identity() {
        let m = vec![
            vec![4.0, 1.0, 0.5],
            vec![1.0, 3.0, 0.2],
            vec![0.5, 0.2, 2.0],
        ];
        let inv = invert(m.clone()).unwrap();
        for (i, row) in m.iter().enumerate() {
            for j in 0..3 {
                let v: f64 = row.iter().zip(&inv).map(|(a, b)| a * b[j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(invert(vec![vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }

    /// Within `digits` significant digits.
    fn agree(ours: f64, reference: f64, digits: i32) -> bool {
        (ours - reference).abs() <= 0.5 * 10f64.powi(1 - digits) * reference.abs()
    }

    /// 5,000 customers drawn from known parameters (seed 42). The reference
    /// values are what the Python `lifetimes` package (0.11,
    /// `BetaGeoFitter` and `GammaGammaFitter`, no penalizer) fits on the
    /// same histories, written out as `frequency, recency, T,
    /// monetary_value`.
    #[test]
    fn the_fit_agrees_with_the_lifetimes_package_and_finds_the_generating_parameters() {
        let truth = BgNbd {
            r: 0.25,
            alpha: 20.0,
            a: 0.8,
            b: 2.5,
        };
        let spend = GammaGamma {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        };
        let histories = simulate(&truth, &spend, 5000, 42);
        let fit = fit_bgnbd(&histories);
        let m = fit.params;
        for (ours, lifetimes) in [
            (m.r, 0.236_869_246_211_635_08),
            (m.alpha, 18.682_734_214_800_533),
            (m.a, 0.717_524_342_914_216_7),
            (m.b, 2.203_468_160_598_484),
        ] {
            assert!(agree(ours, lifetimes, 3), "{ours} vs {lifetimes}");
        }
        for (ours, lifetimes) in fit.std_errors.iter().zip([
            0.006_747_835_783_612_218,
            0.945_203_399_175_003_4,
            0.063_490_830_735_478_34,
            0.268_019_495_812_707_5,
        ]) {
            assert!(agree(*ours, lifetimes, 2), "{ours} vs {lifetimes}");
        }
        // The figures for one customer, as `lifetimes` gives them with its fit.
        assert!(agree(m.p_alive(3, 100.0, 400.0), 0.090_073_98, 3));
        assert!(agree(
            m.expected_purchases(90.0, 3, 100.0, 400.0),
            0.059_503_886_788_906_1,
            3
        ));
        // Near the truth (5,000 customers).
        assert!((m.r - truth.r).abs() < 3.0 * fit.std_errors[0]);
        assert!((m.alpha - truth.alpha).abs() < 3.0 * fit.std_errors[1]);
        assert_eq!(fit.customers, 5000);
        assert!(fit.log_likelihood < 0.0 && fit.log_likelihood.is_finite());

        let g = fit_gamma_gamma(&histories);
        for (ours, lifetimes) in [
            (g.params.p, 5.448_055_850_996_441),
            (g.params.q, 4.077_956_857_647_676),
            (g.params.v, 16.849_263_030_528_338),
        ] {
            assert!(agree(ours, lifetimes, 3), "{ours} vs {lifetimes}");
        }
        for (ours, lifetimes) in g.std_errors.iter().zip([
            0.561_454_519_141_082_1,
            0.189_948_962_088_556_38,
            2.458_228_697_708_456,
        ]) {
            assert!(agree(*ours, lifetimes, 2), "{ours} vs {lifetimes}");
        }
        assert_eq!(g.customers, histories.iter().filter(|h| h.x > 0).count());
    }

    #[test]
    fn the_grouped_likelihood_is_the_sum_of_each_customers() {
        let m = BgNbd {
            r: 0.3,
            alpha: 12.0,
            a: 0.7,
            b: 2.1,
        };
        let histories = simulate(
            &m,
            &GammaGamma {
                p: 6.0,
                q: 4.0,
                v: 15.0,
            },
            2000,
            3,
        );
        let each: f64 = histories
            .iter()
            .map(|h| m.log_likelihood(h.x, h.t_x, h.t))
            .sum();
        let grouped = Grouped::of(&histories);
        for parts in [1, 3, PARTS] {
            let sum = grouped.log_likelihood_in(&m, parts);
            assert!((each - sum).abs() < 1e-7 * each.abs(), "{each} vs {sum}");
        }
    }

    #[test]
    fn nelder_mead_finds_the_minimum_of_a_bowl() {
        let f = |p: &[f64]| (p[0] - 3.0).powi(2) + 10.0 * (p[1] + 1.0).powi(2) + 5.0;
        let m = minimise(&f, &[vec![0.0, 0.0]], 1e-9);
        assert!(
            (m[0] - 3.0).abs() < 1e-5 && (m[1] + 1.0).abs() < 1e-5,
            "{m:?}"
        );
    }
}
