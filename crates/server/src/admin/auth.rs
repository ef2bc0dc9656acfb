//! Who may use the admin API: admins signed in with a password (argon2id
//! hashes, a session cookie that is `Secure`, `HttpOnly` and
//! `SameSite=Strict`, a CSRF token on every change, throttled logins), and
//! automation with the server's bearer token.
//!
//! Sign-in throttling slows guessers without locking the owner out: every
//! attempt counts against the client's address; only failures count
//! against the account, and an account with too many failures in a minute
//! refuses sign-ins from devices it does not know, while a device that
//! signed in to it before (a device cookie, keyed by the account's password
//! hash, so a new password forgets every device) still gets in with the
//! right password. Password hashing runs on the blocking pool, never on the
//! async workers.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::roles::{Grants, Role};
use crate::error::ApiError;
use crate::limits::ClientIp;
use crate::store::Session;
use crate::{AppState, now_ms};

/// The session cookie's name.
pub const COOKIE: &str = "dangol_session";
/// The header a signed-in admin's changes must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
const SESSION_MS: i64 = 12 * 3_600_000;
/// Login attempts per minute per client address, and failed ones per
/// account before it refuses unknown devices.
const LOGINS_PER_IP: u32 = 10;
const LOGINS_PER_EMAIL: u32 = 5;
/// Wrong bearer tokens per minute per client address.
const BEARER_FAILURES_PER_IP: u32 = 10;
/// The cookie that marks a device that signed in before.
pub const DEVICE_COOKIE: &str = "dangol_device";
/// How long a device is remembered.
const DEVICE_MS: i64 = 180 * 86_400_000;

/// An argon2id hash (PHC string) of `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("could not hash the password: {e}"))
}

/// [`verify_password`] on the blocking pool: argon2 takes tens of
/// milliseconds of CPU, which must not stall the async workers.
/// An unknown account (`None`) costs the same time as a wrong password.
async fn verify_off_workers(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => verify_password(&password, &h),
        None => {
            let _ = verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// A device token for `email`: `<expiry ms>.<mac>`, the mac a SHA-256 over
/// the account's password hash (secret, server-side) and the expiry.
fn device_token(email: &str, password_hash: &str, expires_ms: i64) -> String {
    let mac = Sha256::digest(format!("device\n{email}\n{expires_ms}\n{password_hash}"));
    format!("{expires_ms}.{}", hex::encode(&mac[..16]))
}

/// Whether `token` marks a device that signed in to `email` (and the
/// password has not changed since).
fn known_device(token: &str, email: &str, password_hash: &str, now: i64) -> bool {
    let Some((expiry, _)) = token.split_once('.') else {
        return false;
    };
    let Ok(expires_ms) = expiry.parse::<i64>() else {
        return false;
    };
    let expected = device_token(email, password_hash, expires_ms);
    expires_ms > now && same(&expected, token)
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks what `dangol-server admin create` is given.
pub fn check_new_admin(email: &str, password: &str) -> Result<(), String> {
    let at = email.find('@').unwrap_or(0);
    if email.len() > 254 || at == 0 || at + 1 >= email.len() || email.contains(char::is_whitespace)
    {
        return Err(format!("`{email}` is not an email address"));
    }
    if password.chars().count() < 12 {
        return Err("the password must be at least 12 characters".into());
    }
    Ok(())
}

pub(super) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

pub(super) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Equal without telling how much of it was equal.
/// Secrets compared in constant time (`subtle`): how long a comparison
/// takes says nothing about how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(name)
        .map(|c| c.value().to_string())
}

/// A cookie only this server's pages over HTTPS get: `HttpOnly`, `Secure`,
/// `SameSite=Strict`, on `path`, for `max_age_s` seconds (0 deletes it).
fn strict_cookie(
    name: &'static str,
    value: &str,
    path: &'static str,
    max_age_s: i64,
) -> HeaderValue {
    let cookie = Cookie::build((name, value.to_string()))
        .path(path)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(max_age_s))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Someone allowed to use the admin API.
#[derive(Debug, Clone)]
pub enum Admin {
    /// Automation: the server's admin token, or a named API token.
    Token {
        /// What it may do where.
        grants: Grants,
    },
    /// A signed-in admin.
    Person {
        /// Who.
        email: String,
        /// The session's CSRF token.
        csrf: String,
        /// What they may do where.
        grants: Grants,
    },
}

impl Admin {
    /// What this admin may do where.
    pub fn grants(&self) -> &Grants {
        match self {
            Admin::Token { grants } | Admin::Person { grants, .. } => grants,
        }
    }
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "sign in (POST /v1/admin/login) or send the admin bearer token",
    )
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Authenticated already by the roles guard.
        if let Some(admin) = parts.extensions.get::<Admin>() {
            return Ok(admin.clone());
        }
        let client = parts.extensions.get::<ClientIp>().cloned();
        authenticate(state, &parts.method, &parts.headers, client.as_ref()).await
    }
}

/// Who sends a request: the admin token or an API token as a bearer, or a
/// signed-in admin's session cookie (with the CSRF token for a change).
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    client: Option<&ClientIp>,
) -> Result<Admin, ApiError> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        // Guessing tokens is held back per address: failures count.
        let failures = format!("bearer-fail:{}", client.map_or("unknown", |c| c.0.as_str()));
        state.limiter.peek(
            &failures,
            BEARER_FAILURES_PER_IP,
            "failed bearer tokens from this address",
        )?;
        if state
            .admin_token
            .as_deref()
            .is_some_and(|t| same(bearer, t))
        {
            return Ok(Admin::Token {
                grants: Grants::everything(),
            });
        }
        // A named API token made by an admin.
        return match state.store.api_token(&sha256_hex(bearer), now_ms()).await? {
            // Never more than its maker may still do: a maker who lost
            // access takes the token's with them.
            Some(token) => {
                let maker = if token.created_by == "api" {
                    Grants::everything()
                } else {
                    Grants::from_rows(&state.store.roles_of(&token.created_by).await?)
                };
                let role = Role::parse(&token.role).unwrap_or(Role::Viewer);
                Ok(Admin::Token {
                    grants: maker.narrowed(&token.site, role),
                })
            }
            None => Err({
                state.limiter.hit(&failures);
                tracing::warn!(key = %failures, "failed admin bearer token");
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the bearer token is neither the admin token nor an API token",
                )
            }),
        };
    }
    let token = cookie(headers, COOKIE).ok_or_else(unauthorized)?;
    let session = state
        .store
        .session(&sha256_hex(&token))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the session is unknown or ended; sign in again",
            )
        })?;
    if session.expires_ms <= now_ms() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "the session expired; sign in again",
        ));
    }
    // Cookies ride along with cross-site requests; a change must also
    // carry the token only our own pages can read.
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same(sent, &session.csrf) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "this change needs the session's CSRF token in X-CSRF-Token",
            ));
        }
    }
    let grants = Grants::from_rows(&state.store.roles_of(&session.email).await?);
    Ok(Admin::Person {
        email: session.email,
        csrf: session.csrf,
        grants,
    })
}

/// `POST /v1/admin/login` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    email: String,
    password: String,
}

fn session_cookie(token: &str, max_age_s: i64) -> HeaderValue {
    strict_cookie(COOKIE, token, "/", max_age_s)
}

/// `POST /v1/admin/login`: a new session (a fresh token every time, so a
/// token planted before sign-in is worthless) and its CSRF token.
pub async fn login(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let login: Login = crate::error::json_body(&body, "the login ({email, password})")?;
    let email = login.email.trim().to_lowercase();
    state.limiter.check(
        &format!("login-ip:{}", ip.0),
        LOGINS_PER_IP,
        "sign-in attempts from this address",
    )?;
    let hash = state.store.admin_hash(&email).await?;
    let device = cookie(&headers, DEVICE_COOKIE);
    let known = match (&hash, &device) {
        (Some(h), Some(d)) => known_device(d, &email, h, now_ms()),
        _ => false,
    };
    // Many failures for this account (from anywhere): only devices that
    // signed in before may still try.
    let failures = format!("login-fail:{email}");
    if !known {
        state.limiter.peek(
            &failures,
            LOGINS_PER_EMAIL,
            "failed sign-ins for this account; a device that signed in before can still sign in",
        )?;
    }
    let ok = verify_off_workers(login.password, hash.clone()).await;
    if !ok {
        state.limiter.hit(&failures);
        tracing::warn!(email = %email, ip = %ip.0, "failed admin sign-in");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong email or password",
        ));
    }
    let token = random_hex(32);
    let now = now_ms();
    let session = Session {
        token_hash: sha256_hex(&token),
        email: email.clone(),
        csrf: random_hex(16),
        created_ms: now,
        expires_ms: now + SESSION_MS,
    };
    state.store.create_session(&session).await?;
    let mut res =
        Json(json!({"email": email, "csrf": session.csrf, "expires_ms": session.expires_ms}))
            .into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&token, SESSION_MS / 1000),
    );
    if let Some(h) = &hash {
        let device = device_token(&email, h, now + DEVICE_MS);
        res.headers_mut().append(
            header::SET_COOKIE,
            strict_cookie(DEVICE_COOKIE, &device, "/v1/admin/login", DEVICE_MS / 1000),
        );
    }
    Ok(res)
}

/// A hash of a random password, checked against for unknown accounts.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_hex(16)).unwrap_or_default())
}

/// `POST /v1/admin/logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let (Admin::Person { .. }, Some(token)) = (&admin, cookie(&headers, COOKIE)) {
        state.store.delete_session(&sha256_hex(&token)).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0));
    Ok(res)
}

/// `GET /v1/admin/session`: who is signed in, and the CSRF token for pages
/// that reloaded.
pub async fn whoami(admin: Admin) -> Json<serde_json::Value> {
    Json(match admin {
        Admin::Token { grants } => json!({"kind": "token", "roles": roles_json(&grants)}),
        Admin::Person {
            email,
            csrf,
            grants,
        } => json!({"kind": "session", "email": email, "csrf": csrf, "roles": roles_json(&grants)}),
    })
}

/// The grants as JSON: `{"demo": "editor", "*": "viewer"}`.
fn roles_json(grants: &Grants) -> serde_json::Value {
    serde_json::Value::Object(
        grants
            .0
            .iter()
            .map(|(s, r)| (s.clone(), json!(r.as_str())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(PasswordHash::new(dummy_hash()).is_ok());
    }

    #[test]
    fn new_admins_need_an_email_and_a_long_password() {
        assert!(check_new_admin("a@shop.example", "twelve chars").is_ok());
        assert!(check_new_admin("shop.example", "twelve chars").is_err());
        assert!(check_new_admin("a@shop.example", "short").is_err());
    }
}
