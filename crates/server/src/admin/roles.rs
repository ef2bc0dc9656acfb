//! Per-site roles: a viewer reads, an editor also changes campaigns and
//! publishes, an owner also manages the site's settings, keys, tokens and
//! admins. A role on `*` holds on every site.
//!
//! Every admin route's need is one table ([`needed`]), checked by one
//! middleware before any handler runs, so no route can be left open by
//! forgetting a check in its handler.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{Admin, authenticate};
use crate::AppState;
use crate::error::ApiError;
use crate::limits::ClientIp;

/// What an admin may do on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads everything of the site.
    Viewer,
    /// Also changes campaigns, publishes, rolls back and uploads codes.
    Editor,
    /// Also changes the site's settings, its redeem key, its tokens and
    /// who may do what on it.
    Owner,
}

impl Role {
    /// Reads `owner`, `editor` or `viewer`.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "owner" => Some(Role::Owner),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }
}

/// What someone may do where: (site or `*`, role).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(pub Vec<(String, Role)>);

impl Grants {
    /// Owner of every site (the server's own admin token).
    pub fn everything() -> Self {
        Grants(vec![("*".to_string(), Role::Owner)])
    }

    /// From stored (site, role) rows; unknown role names grant nothing.
    pub fn from_rows(rows: &[(String, String)]) -> Self {
        Grants(
            rows.iter()
                .filter_map(|(site, role)| Some((site.clone(), Role::parse(role)?)))
                .collect(),
        )
    }

    /// The role on `site`: the higher of the site's own and `*`.
    pub fn on(&self, site: &str) -> Option<Role> {
        self.0
            .iter()
            .filter(|(s, _)| s == site || s == "*")
            .map(|(_, r)| *r)
            .max()
    }

    /// At most `role` on `site` (`*`: every site) and never beyond these
    /// grants: what a token made by their holder may do.
    pub fn narrowed(&self, site: &str, role: Role) -> Grants {
        if site == "*" {
            Grants(
                self.0
                    .iter()
                    .map(|(s, r)| (s.clone(), (*r).min(role)))
                    .collect(),
            )
        } else {
            Grants(
                self.on(site)
                    .map(|r| (site.to_string(), r.min(role)))
                    .into_iter()
                    .collect(),
            )
        }
    }

    /// Whether `site` is visible at all.
    pub fn sees(&self, site: &str) -> bool {
        self.on(site).is_some()
    }
}

/// The role a route needs on the site in its path, by method and route;
/// `None` for routes without a site (sign-in, tokens, the site list),
/// which check for themselves.
pub fn needed(method: &Method, route: &str) -> Option<Role> {
    let rest = route.strip_prefix("/v1/admin/sites/{site}")?;
    Some(match (method.as_str(), rest) {
        // Webhooks carry secrets and send the site's events elsewhere.
        (_, r) if r.starts_with("/webhooks") => Role::Owner,
        // Reads, and a reach estimate (a read sent as a POST).
        ("GET" | "HEAD", _) | ("POST", "/reach") => Role::Viewer,
        ("PUT", "") | ("POST", "/redeem-key" | "/identity-secret") => Role::Owner,
        ("PUT" | "DELETE", "/admins/{email}") => Role::Owner,
        _ => Role::Editor,
    })
}

fn forbidden(site: &str, has: Option<Role>, needs: Role) -> ApiError {
    let has = has.map_or("no role".to_string(), |r| {
        format!("the role {}", r.as_str())
    });
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!(
            "you have {has} on site `{site}`; this needs {}",
            needs.as_str()
        ),
    )
}

/// Refuses unless `admin` has at least `role` on `site`.
pub fn require(admin: &Admin, site: &str, role: Role) -> Result<(), ApiError> {
    let has = admin.grants().on(site);
    if has.is_some_and(|h| h >= role) {
        Ok(())
    } else {
        Err(forbidden(site, has, role))
    }
}

/// Middleware on the admin routes: authenticates once, checks the role the
/// route needs on its site, and hands the admin on to the handler.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let Some(needs) = route.as_deref().and_then(|r| needed(request.method(), r)) else {
        return next.run(request).await;
    };
    let client = request.extensions().get::<ClientIp>().cloned();
    let admin =
        match authenticate(&state, request.method(), request.headers(), client.as_ref()).await {
            Ok(admin) => admin,
            Err(e) => return e.into_response(),
        };
    // "/v1/admin/sites/{site}/…": the fifth segment.
    let site = request
        .uri()
        .path()
        .split('/')
        .nth(4)
        .map(percent_decode)
        .unwrap_or_default();
    if let Err(e) = require(&admin, &site, needs) {
        return e.into_response();
    }
    request.extensions_mut().insert(admin);
    next.run(request).await
}

/// `%xx` escapes decoded (site ids are plain, so anything else stays).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_hold_on_their_site_and_star_on_every_site() {
        let g = Grants::from_rows(&[
            ("demo".into(), "editor".into()),
            ("*".into(), "viewer".into()),
            ("x".into(), "emperor".into()),
        ]);
        assert_eq!(g.on("demo"), Some(Role::Editor));
        assert_eq!(g.on("other"), Some(Role::Viewer));
        assert_eq!(
            g.on("x"),
            Some(Role::Viewer),
            "an unknown role grants nothing"
        );
        assert_eq!(Grants::default().on("demo"), None);
        // A token never does more than its maker.
        let narrowed = g.narrowed("demo", Role::Owner);
        assert_eq!(narrowed.on("demo"), Some(Role::Editor));
        assert_eq!(narrowed.on("other"), None);
        assert_eq!(g.narrowed("*", Role::Viewer).on("demo"), Some(Role::Viewer));
    }

    #[test]
    fn every_site_route_needs_a_role() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(
            needed(&get, "/v1/admin/sites/{site}/results"),
            Some(Role::Viewer)
        );
        assert_eq!(
            needed(&post, "/v1/admin/sites/{site}/reach"),
            Some(Role::Viewer)
        );
        assert_eq!(
            needed(&post, "/v1/admin/sites/{site}/publish"),
            Some(Role::Editor)
        );
        assert_eq!(
            needed(&Method::PUT, "/v1/admin/sites/{site}"),
            Some(Role::Owner)
        );
        assert_eq!(
            needed(&post, "/v1/admin/sites/{site}/redeem-key"),
            Some(Role::Owner)
        );
        assert_eq!(needed(&get, "/v1/admin/sites"), None);
        assert_eq!(needed(&post, "/v1/admin/tokens"), None);
        assert_eq!(percent_decode("d%65mo"), "demo");
    }
}
