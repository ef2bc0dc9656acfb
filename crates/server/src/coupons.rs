//! Coupons: the widget claims a code for its shopper; the shop's checkout
//! redeems it, server to server, with the site's secret redeem key.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dangol_engine::condition::NativeRegex;
use dangol_engine::config::{CompiledConfig, SiteConfig, is_identifier};
use dangol_engine::decide::{ClaimRefusal, claim_refusal};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cors::{allowed_origin, with_cors};
use crate::error::ApiError;
use crate::routes::known_site;
use crate::store::{Claim, ClaimRequest, Redeem};
use crate::{AppState, now_ms};

/// Letters that cannot be misread (Crockford's base 32: no I, L, O, U).
const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random characters per code: 50 bits, far beyond guessing.
const CODE_LEN: usize = 10;

/// A fresh, unguessable code: `PREFIX-XXXXXXXXXX`.
pub fn new_code(prefix: &str) -> String {
    let mut rng = rand::rng();
    let random: String = (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    if prefix.is_empty() {
        random
    } else {
        format!("{prefix}-{random}")
    }
}

/// An id for a claim made without measurement consent: random, used once,
/// tied to nothing else the server holds.
fn one_off_id() -> String {
    let mut rng = rand::rng();
    let hex: String = (0..24)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect();
    format!("claim{hex}")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimBody {
    /// The pseudonymous id; absent when the shopper has not allowed
    /// measurement (the coupon is then bound to a one-off id of the
    /// server's own, and only the per-address limit bounds farming).
    #[serde(default)]
    anon: Option<String>,
    campaign: String,
    variant: String,
}

async fn published_body(state: &AppState, site: &str) -> Result<String, ApiError> {
    let published = state.store.published(site).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_published",
            format!("site `{site}` has no published config yet"),
        )
    })?;
    Ok(published.body)
}

/// Compiles a published config. Compiled conditions are not `Send`, so
/// callers finish with it before their next `.await`.
fn compile(site: &str, body: &str) -> Result<CompiledConfig, ApiError> {
    SiteConfig::from_json(body)
        .and_then(|c| c.compile(&NativeRegex))
        .map_err(|e| {
            tracing::error!(site, error = %e, "the published config does not compile");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "config",
                "the published config cannot be read",
            )
        })
}

/// `POST /v1/sites/{site}/coupons/claim`: `{anon, campaign, variant}` →
/// the id's code for that campaign (the same one when it claims again), or
/// 409 when the campaign's budget is spent.
pub(crate) async fn claim(
    State(state): State<AppState>,
    Path(site): Path<String>,
    axum::Extension(ip): axum::Extension<crate::limits::ClientIp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let site = known_site(&state, &site).await?;
    let origin = allowed_origin(&headers, &site)?;
    // Farming many ids from one address is held to the per-address limit.
    state.limiter.check(
        &format!("claims:{}", ip.0),
        state.limits.claims_per_ip,
        "coupon claims from this address",
    )?;
    let body: ClaimBody = crate::error::json_body(&body, "the claim")?;
    let named = body.anon.is_some();
    let anon = match body.anon {
        Some(anon) => {
            state.limiter.check(
                &format!("claims-id:{anon}"),
                state.limits.claims_per_id,
                "coupon claims for this id",
            )?;
            if anon.len() < 16 || !is_identifier(&anon) {
                return Err(ApiError::bad_request(
                    "`anon` must be a pseudonymous id of 16-64 letters or digits",
                ));
            }
            anon
        }
        None => one_off_id(),
    };
    let published = published_body(&state, &site.id).await?;
    let (campaign, policy) = {
        let config = compile(&site.id, &published)?;
        let Some(compiled) = config
            .campaigns()
            .iter()
            .find(|c| c.campaign.id == body.campaign)
        else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_campaign",
                format!("no published campaign `{}`", body.campaign),
            ));
        };
        let campaign = compiled.campaign.clone();
        let Some(policy) = campaign.coupon.clone() else {
            return Err(ApiError::bad_request(format!(
                "campaign `{}` does not hand out coupons",
                campaign.id
            )));
        };
        if !campaign.variants.iter().any(|v| v.id == body.variant) {
            return Err(ApiError::bad_request(format!(
                "campaign `{}` has no variant `{}`",
                campaign.id, body.variant
            )));
        }
        // What the server can check of the campaign's rules: its dates, the
        // holdouts and the variant the id is bucketed into. The public
        // config tells anyone the campaign exists; it does not make them
        // its audience.
        let id = named.then_some(anon.as_str());
        if let Some(refusal) = claim_refusal(&config, compiled, &body.variant, id, now_ms()) {
            let message = match &refusal {
                ClaimRefusal::NotStarted => format!("campaign `{}` has not started", campaign.id),
                ClaimRefusal::Ended => format!("campaign `{}` has ended", campaign.id),
                ClaimRefusal::GlobalHoldout => {
                    "this id is in the site's holdout and is shown no offers".to_string()
                }
                ClaimRefusal::Holdout => format!(
                    "this id is in the holdout of campaign `{}` and is never shown it",
                    campaign.id
                ),
                ClaimRefusal::OtherVariant(v) => format!(
                    "this id is shown variant `{v}` of campaign `{}`, not `{}`",
                    campaign.id, body.variant
                ),
            };
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                refusal.code(),
                message,
            ));
        }
        (campaign, policy)
    };
    let outcome = state
        .store
        .claim_coupon(ClaimRequest {
            site: &site.id,
            campaign: &campaign.id,
            variant: &body.variant,
            anon: &anon,
            budget: policy.budget,
            valid_ms: i64::from(policy.valid_days) * 86_400_000,
            code: new_code(&policy.prefix),
            now_ms: now_ms(),
        })
        .await?;
    let response = match outcome {
        Claim::New(c) | Claim::Existing(c) => Json(json!({
            "code": c.code, "campaign": c.campaign, "variant": c.variant,
            "expires_ms": c.expires_ms, "redeemed": c.redeemed_ms.is_some()
        }))
        .into_response(),
        Claim::Exhausted => ApiError::new(
            StatusCode::CONFLICT,
            "exhausted",
            format!("campaign `{}` has handed out all its coupons", campaign.id),
        )
        .into_response(),
    };
    Ok(with_cors(response, origin))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedeemBody {
    code: String,
    /// Who at the shop's checkout entered the code (the shopper's address
    /// or session there), for the limit on guessing; optional.
    #[serde(default)]
    client: Option<String>,
}

/// `POST /v1/sites/{site}/coupons/redeem`: the shop's checkout, with
/// `Authorization: Bearer <redeem key>`. Succeeds exactly once per code.
pub(crate) async fn redeem(
    State(state): State<AppState>,
    Path(site): Path<String>,
    axum::Extension(ip): axum::Extension<crate::limits::ClientIp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let site = known_site(&state, &site).await?;
    // Guessing the redeem key is held back per address: failures count.
    let auth_key = format!("redeem-auth:{}:{}", site.id, ip.0);
    state.limiter.peek(
        &auth_key,
        state.limits.redeems_per_ip,
        "failed redeem attempts from this address",
    )?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|k| hex::encode(Sha256::digest(k.as_bytes())));
    let expected = state.store.redeem_key(&site.id).await?;
    // Hashes compared in constant time.
    let matches = match (&given, &expected) {
        (Some(g), Some(e)) => bool::from(subtle::ConstantTimeEq::ct_eq(g.as_bytes(), e.as_bytes())),
        _ => false,
    };
    if !matches {
        state.limiter.hit(&auth_key);
        tracing::warn!(site = %site.id, ip = %ip.0, "redemption with a wrong redeem key");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "redeeming needs the site's redeem key as a bearer token",
        ));
    }
    let body: RedeemBody = crate::error::json_body(&body, "the redemption")?;
    // Redemptions come from the shop's checkout server, one address for
    // every shopper: guessing codes is held back per shopper as the shop
    // names them (`client`, e.g. the shopper's address or session there),
    // else per calling address, and only unknown codes count, so one
    // guesser never blocks anyone else's real redemption.
    let client = match &body.client {
        Some(c) if !c.is_empty() && c.len() <= 128 => c.as_str(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "`client` must be 1-128 characters naming the shopper at the checkout",
            ));
        }
        None => ip.0.as_str(),
    };
    let miss_key = format!("redeem-miss:{}:{client}", site.id);
    state.limiter.peek(
        &miss_key,
        state.limits.redeems_per_ip,
        "unknown coupon codes from this client",
    )?;
    let code = body.code.trim().to_ascii_uppercase();
    let outcome = state.store.redeem_coupon(&site.id, &code, now_ms()).await?;
    if !matches!(outcome, Redeem::Redeemed(_)) {
        // Every refused redemption is logged with who asked.
        tracing::warn!(site = %site.id, code = %code, client = %client, ip = %ip.0, "redemption refused");
    }
    match outcome {
        Redeem::Redeemed(c) => Ok(Json(json!({
            "code": c.code, "campaign": c.campaign, "variant": c.variant, "redeemed_ms": c.redeemed_ms
        }))
        .into_response()),
        Redeem::Unknown => {
            state.limiter.hit(&miss_key);
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_code",
                format!("no coupon `{code}`"),
            ))
        }
        Redeem::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "expired",
            format!("coupon `{code}` has expired"),
        )),
        Redeem::AlreadyUsed(at) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_redeemed",
            format!("coupon `{code}` was already redeemed (at {at} ms)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_prefixed_unambiguous_and_distinct() {
        let a = new_code("WELCOME");
        let b = new_code("WELCOME");
        assert_ne!(a, b);
        let (prefix, random) = a.split_once('-').unwrap();
        assert_eq!(prefix, "WELCOME");
        assert_eq!(random.len(), CODE_LEN);
        assert!(random.bytes().all(|c| ALPHABET.contains(&c)));
        assert!(!random.contains(['I', 'L', 'O', 'U']));
        assert_eq!(new_code("").len(), CODE_LEN);
    }
}
