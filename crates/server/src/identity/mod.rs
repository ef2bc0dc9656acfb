//! Consented identity: a signed-in shopper's browser may tell the server
//! which customer its pseudonymous id belongs to, proved by the shop's own
//! server. The proof is `hex(HMAC-SHA256(identity secret, customer id))`;
//! the secret is the site's (`POST /v1/admin/sites/{site}/identity-secret`,
//! shown once) and never reaches a browser, so a page cannot claim to be a
//! customer it is not. Without a valid proof nothing is linked.
//!
//! Every id that identified as one customer is linked to them (a phone, a
//! laptop, a work browser): segment exports name the customer, and erasing
//! any of the ids (`forget()` in one browser) or the customer (an admin)
//! erases all of them, each sent as a `customer.erased` webhook.

pub(crate) mod sql;

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use crate::store::StoreError;

pub(crate) const IDENTIFY: &str = "/v1/sites/{site}/identify";
pub(crate) const SECRET: &str = "/v1/admin/sites/{site}/identity-secret";
pub(crate) const CUSTOMER: &str = "/v1/admin/sites/{site}/customers/{customer}";

/// Who identified as whom.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Sets the site's identity secret (a new one replaces the old).
    async fn set_identity_secret(
        &self,
        site: &str,
        secret: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// The site's identity secret, if it has one.
    async fn identity_secret(&self, site: &str) -> Result<Option<String>, StoreError>;
    /// Links `anon` to `customer` (a later sign-in as someone else moves it).
    async fn link(
        &self,
        site: &str,
        anon: &str,
        customer: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Links each `(anon, customer)` at once, except ids that were erased
    /// (those are returned and left unlinked): an order import's customers.
    async fn link_unerased(
        &self,
        site: &str,
        pairs: &[(String, String)],
        now_ms: i64,
    ) -> Result<Vec<String>, StoreError>;
    /// The customer `anon` identified as.
    async fn customer_of(&self, site: &str, anon: &str) -> Result<Option<String>, StoreError>;
    /// Every id that identified as `customer`, oldest link first.
    async fn ids_of(&self, site: &str, customer: &str) -> Result<Vec<String>, StoreError>;
}

/// The proof of `customer` under `secret`: lowercase hex HMAC-SHA256.
pub fn proof(secret: &str, customer: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(customer.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `given` is the proof of `customer`, compared in constant time.
pub fn verify(secret: &str, customer: &str, given: &str) -> bool {
    let Ok(given) = hex::decode(given.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(customer.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// A customer id as the shop knows it: 1-128 characters, none a control
/// character.
fn check_customer(customer: &str) -> Result<(), ApiError> {
    if customer.is_empty()
        || customer.chars().count() > 128
        || customer.chars().any(char::is_control)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "`customer` must be 1-128 characters, none of them a control character",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identify {
    anon: String,
    customer: String,
    proof: String,
    /// Whether to answer with the profile of the customer's other devices.
    #[serde(default)]
    profile: bool,
}

/// One profile from the events of `ids` (the customer's other devices),
/// in time order across them; an empty profile when there are none.
async fn other_devices(
    state: &AppState,
    site: &str,
    ids: &[String],
) -> Result<serde_json::Value, ApiError> {
    if ids.is_empty() {
        return Ok(dangol_engine::profile::Profile::default().to_value().into());
    }
    let (cfg, _) = crate::rollups::profile_config(state.store.as_ref(), site).await?;
    let mut events = state.store.shopper_events(site, ids).await?;
    events.sort_by_key(|e| e.ts);
    let (_, profile) = crate::insights::shopper_days(&events, &cfg);
    Ok(profile.to_value().into())
}

/// `POST /v1/sites/{site}/identify`: `{anon, customer, proof}` from the
/// widget, with the id's erase key (`X-Dangol-Key`): links the id to the
/// customer when the proof is the site's.
pub(crate) async fn identify(
    State(state): State<AppState>,
    Path(site): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?;
    let origin = crate::cors::allowed_origin(&headers, &site)?;
    let req: Identify = crate::error::json_body(
        &body,
        "the identity ({\"anon\": \"...\", \"customer\": \"...\", \"proof\": \"<hex HMAC-SHA256>\"})",
    )?;
    check_customer(&req.customer)?;
    let given = headers
        .get("x-dangol-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "identifying an id needs its erase key (X-Dangol-Key)",
            )
        })?;
    if !(16..=128).contains(&given.len()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the erase key (X-Dangol-Key) must be 16-128 characters",
        ));
    }
    let Some(secret) = state.store.identity_secret(&site.id).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_identity_secret",
            format!("site `{}` has no identity secret yet", site.id),
        ));
    };
    if !verify(&secret, &req.customer, &req.proof) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_proof",
            "the proof is not the HMAC-SHA256 of the customer id under the site's identity secret",
        ));
    }
    let anon_hash = hex::encode(Sha256::digest(req.anon.as_bytes()));
    if state.store.is_erased(&site.id, &anon_hash).await? {
        return Err(ApiError::new(
            StatusCode::GONE,
            "erased",
            format!("id `{}` was erased; a new id can identify", req.anon),
        ));
    }
    // An id that signs in before its first batch arrives registers its key
    // here, as its first batch would (the first key of an id stays).
    let hash = hex::encode(Sha256::digest(given.as_bytes()));
    let now = crate::now_ms();
    state
        .store
        .register_subject(&site.id, &req.anon, &hash, now)
        .await?;
    let stored = state.store.subject_key(&site.id, &req.anon).await?;
    if stored.as_deref() != Some(hash.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_key",
            format!("id `{}` is registered with another erase key", req.anon),
        ));
    }
    state
        .store
        .link(&site.id, &req.anon, &req.customer, now)
        .await?;
    let ids = state.store.ids_of(&site.id, &req.customer).await?;
    // The customer's profile from their other devices, rebuilt with the
    // engine's own code from those ids' events, for a browser that may
    // personalise (it asks only then). This browser's own events are left
    // out: it holds them already, so merging never counts one twice.
    let profile = if req.profile {
        let others: Vec<String> = ids.iter().filter(|id| **id != req.anon).cloned().collect();
        Some(other_devices(&state, &site.id, &others).await?)
    } else {
        None
    };
    Ok(crate::cors::with_cors(
        Json(json!({"customer": req.customer, "linked_ids": ids.len(), "profile": profile}))
            .into_response(),
        origin,
    ))
}

/// `POST /v1/admin/sites/{site}/identity-secret`: a new identity secret,
/// shown once; proofs made with the old one stop working.
pub async fn new_secret(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::routes::known_site(&state, &site).await?;
    let key: [u8; 32] = rand::random();
    let secret = hex::encode(key);
    state
        .store
        .set_identity_secret(&site, &secret, crate::now_ms())
        .await?;
    Ok(Json(json!({"site": site, "identity_secret": secret})))
}

/// `DELETE /v1/admin/sites/{site}/customers/{customer}`: erases every id
/// that identified as the customer (each a `customer.erased` webhook).
pub async fn erase_customer(
    State(state): State<AppState>,
    Path((site, customer)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::routes::known_site(&state, &site).await?;
    let ids = state.store.ids_of(&site, &customer).await?;
    if ids.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_customer",
            format!("no id of site `{site}` identified as customer `{customer}`"),
        ));
    }
    let mut events = 0;
    for anon in &ids {
        events += state.store.erase_subject(&site, anon).await?;
    }
    Ok(Json(
        json!({"customer": customer, "erased_ids": ids.len(), "erased_events": events}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_the_hex_hmac_of_the_customer_id() {
        // Python: hmac.new(b"secret", b"customer-42", hashlib.sha256).hexdigest()
        let p = proof("secret", "customer-42");
        assert_eq!(
            p,
            "1e22f3f25e29689b1270b3301b610823fe5e83707c6602aa8ef5820fc19a3d68"
        );
        assert!(verify("secret", "customer-42", &p));
        assert!(verify("secret", "customer-42", &p.to_uppercase()));
        assert!(!verify("secret", "customer-43", &p));
        assert!(!verify("other", "customer-42", &p));
        assert!(!verify("secret", "customer-42", "not hex"));
    }
}
