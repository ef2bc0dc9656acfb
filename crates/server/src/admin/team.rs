//! The team: API tokens for automation (one site and one role each, never
//! beyond their maker, expiring) and who may do what on each site.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Admin, random_hex, sha256_hex};
use super::roles::Role;
use crate::error::ApiError;
use crate::{AppState, now_ms};

/// `POST /v1/admin/tokens` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// Days until it expires: 1 to 365, 90 when absent.
    #[serde(default)]
    expires_days: Option<u32>,
    /// The site it acts on; `*` (every site) when absent.
    #[serde(default)]
    site: Option<String>,
    /// The most it may do there; `viewer` when absent.
    #[serde(default)]
    role: Option<String>,
}

/// Days an API token lives when its maker does not say.
const TOKEN_DAYS: u32 = 90;

/// Whether `admin` owns `site` (`*`: owns every site).
fn owns(admin: &Admin, site: &str) -> bool {
    if site == "*" {
        admin
            .grants()
            .0
            .iter()
            .any(|(s, r)| s == "*" && *r == Role::Owner)
    } else {
        admin.grants().on(site) == Some(Role::Owner)
    }
}

fn not_owner(site: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("tokens of site `{site}` are managed by its owners"),
    )
}

/// `POST /v1/admin/tokens`: a named API token for automation, shown once:
/// one site (or `*`) and one role, at most what its maker may do.
pub async fn create_token(
    State(state): State<AppState>,
    admin: Admin,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: NewToken = crate::error::json_body(
        &body,
        "the token ({\"name\": \"...\", \"site\"?, \"role\"?, \"expires_days\"?: 1-365})",
    )?;
    if !dangol_engine::config::is_identifier(&req.name) {
        return Err(ApiError::bad_request(format!(
            "token name `{}` must be 1-64 characters of letters, digits, `-` or `_`",
            req.name
        )));
    }
    let days = req.expires_days.unwrap_or(TOKEN_DAYS);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "`expires_days` must be 1 to 365, not {days}"
        )));
    }
    let site = req.site.unwrap_or_else(|| "*".to_string());
    let role_name = req.role.unwrap_or_else(|| "viewer".to_string());
    let Some(role) = Role::parse(&role_name) else {
        return Err(ApiError::bad_request(format!(
            "role `{role_name}` is not one of owner, editor, viewer"
        )));
    };
    if !owns(&admin, &site) {
        return Err(not_owner(&site));
    }
    let now = now_ms();
    let expires_ms = now + i64::from(days) * 86_400_000;
    let by = match &admin {
        Admin::Token { .. } => "api".to_string(),
        Admin::Person { email, .. } => email.clone(),
    };
    let token = format!("dgl_{}", random_hex(24));
    if !state
        .store
        .put_api_token(
            &sha256_hex(&token),
            &req.name,
            &by,
            now,
            Some(expires_ms),
            (&site, role.as_str()),
        )
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "token_exists",
            format!("there is already a token named `{}`", req.name),
        ));
    }
    Ok(Json(json!({
        "name": req.name, "token": token, "expires_ms": expires_ms,
        "site": site, "role": role.as_str()
    })))
}

/// `GET /v1/admin/tokens`: the tokens of the sites the admin owns (names,
/// makers, scopes and times, never the tokens).
pub async fn list_tokens(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list: Vec<serde_json::Value> = state
        .store
        .api_tokens()
        .await?
        .into_iter()
        .filter(|t| owns(&admin, &t.site))
        .map(|t| {
            json!({"name": t.name, "created_by": t.created_by, "created_ms": t.created_ms,
                   "expires_ms": t.expires_ms, "site": t.site, "role": t.role})
        })
        .collect();
    Ok(Json(json!({"tokens": list})))
}

/// `DELETE /v1/admin/tokens/{name}`: revokes a token at once.
pub async fn delete_token(
    State(state): State<AppState>,
    admin: Admin,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    let token = state
        .store
        .api_tokens()
        .await?
        .into_iter()
        .find(|t| t.name == name);
    match token {
        Some(t) if !owns(&admin, &t.site) => Err(not_owner(&t.site)),
        Some(_) if state.store.delete_api_token(&name).await? => Ok(StatusCode::NO_CONTENT),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_token",
            format!("there is no token named `{name}`"),
        )),
    }
}

/// `GET /v1/admin/sites/{site}/admins`: who may do what on the site.
pub async fn site_admins(
    State(state): State<AppState>,
    axum::extract::Path(site): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list: Vec<serde_json::Value> = state
        .store
        .roles()
        .await?
        .into_iter()
        .filter(|g| g.site == site || g.site == "*")
        .map(|g| json!({"email": g.email, "site": g.site, "role": g.role}))
        .collect();
    Ok(Json(json!({"admins": list})))
}

/// `PUT /v1/admin/sites/{site}/admins/{email}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: String,
}

/// `PUT /v1/admin/sites/{site}/admins/{email}`: gives an existing admin a
/// role on the site (owners only).
pub async fn put_site_admin(
    State(state): State<AppState>,
    axum::extract::Path((site, email)): axum::extract::Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let req: RoleBody = crate::error::json_body(&body, "the role ({\"role\": \"...\"})")?;
    let Some(role) = Role::parse(&req.role) else {
        return Err(ApiError::bad_request(format!(
            "role `{}` is not one of owner, editor, viewer",
            req.role
        )));
    };
    let email = email.trim().to_lowercase();
    if state.store.admin_hash(&email).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_admin",
            format!("there is no admin `{email}` (create one with `dangol-server admin create`)"),
        ));
    }
    if role != Role::Owner {
        last_owner_stays(&state, &site, &email).await?;
    }
    state
        .store
        .set_role(&email, &site, Some(role.as_str()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/admin/sites/{site}/admins/{email}`: takes an admin's role on
/// the site away (their `*` role, if any, stays: it is changed on `*`).
pub async fn delete_site_admin(
    State(state): State<AppState>,
    axum::extract::Path((site, email)): axum::extract::Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let email = email.trim().to_lowercase();
    last_owner_stays(&state, &site, &email).await?;
    state.store.set_role(&email, &site, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses a change that would leave `site` with no owner but `email`.
async fn last_owner_stays(state: &AppState, site: &str, email: &str) -> Result<(), ApiError> {
    let others = state
        .store
        .roles()
        .await?
        .into_iter()
        .filter(|g| g.email != email && (g.site == site || g.site == "*") && g.role == "owner")
        .count();
    if others == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_owner",
            format!("`{email}` is the last owner of site `{site}`; make someone else owner first"),
        ));
    }
    Ok(())
}
