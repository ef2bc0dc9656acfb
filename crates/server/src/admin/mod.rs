//! The admin API under `/v1/admin`: sign-in (`auth`), sites, campaign
//! drafts (`campaigns`), code pools (`codes`), publishing, rollback, results
//! and bandit updates (`publish`), insights and reach (`audience`), tokens
//! and who may do what (`team`). Every route needs a signed-in admin (with
//! the CSRF token for changes) or a bearer token, and on a site the role
//! `roles` says the route needs.

pub mod audience;
pub mod auth;
pub mod campaigns;
pub mod codes;
mod pages;
pub mod publish;
pub mod roles;
pub mod sites;
pub mod team;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::AppState;
use crate::segments::admin as segs;
use crate::webhooks::admin as hooks;

/// Largest admin request body (a campaign with its variants).
const MAX_BODY: usize = 256 * 1024;

pub(crate) const LOGIN: &str = "/v1/admin/login";
pub(crate) const LOGOUT: &str = "/v1/admin/logout";
pub(crate) const SESSION: &str = "/v1/admin/session";
pub(crate) const TOKENS: &str = "/v1/admin/tokens";
pub(crate) const TOKEN: &str = "/v1/admin/tokens/{name}";
pub(crate) const SITES: &str = "/v1/admin/sites";
pub(crate) const SITE: &str = "/v1/admin/sites/{site}";
pub(crate) const CAMPAIGNS: &str = "/v1/admin/sites/{site}/campaigns";
pub(crate) const CAMPAIGN: &str = "/v1/admin/sites/{site}/campaigns/{id}";
pub(crate) const PUBLISH: &str = "/v1/admin/sites/{site}/publish";
pub(crate) const VERSIONS: &str = "/v1/admin/sites/{site}/versions";
pub(crate) const VERSION: &str = "/v1/admin/sites/{site}/versions/{version}";
pub(crate) const ROLLBACK: &str = "/v1/admin/sites/{site}/rollback";
pub(crate) const RESULTS: &str = "/v1/admin/sites/{site}/results";
pub(crate) const BANDITS: &str = "/v1/admin/sites/{site}/bandits";
pub(crate) const CODES: &str = "/v1/admin/sites/{site}/campaigns/{id}/codes";
pub(crate) const INSIGHTS: &str = "/v1/admin/sites/{site}/insights";
pub(crate) const REACH: &str = "/v1/admin/sites/{site}/reach";
pub(crate) const ROLLUPS: &str = "/v1/admin/sites/{site}/rollups";
pub(crate) const REDEEM_KEY: &str = "/v1/admin/sites/{site}/redeem-key";
pub(crate) const ADMINS: &str = "/v1/admin/sites/{site}/admins";
pub(crate) const ADMIN: &str = "/v1/admin/sites/{site}/admins/{email}";

/// The admin routes.
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(pages::router(state))
        .route(LOGIN, post(auth::login))
        .route(LOGOUT, post(auth::logout))
        .route(SESSION, get(auth::whoami))
        .route(TOKENS, get(team::list_tokens).post(team::create_token))
        .route(TOKEN, axum::routing::delete(team::delete_token))
        .route(SITES, get(sites::list_sites))
        .route(SITE, get(sites::get_site).put(sites::put_site))
        .route(CAMPAIGNS, get(campaigns::list_campaigns))
        .route(
            CAMPAIGN,
            get(campaigns::get_campaign)
                .put(campaigns::put_campaign)
                .delete(campaigns::delete_campaign),
        )
        .route(PUBLISH, get(publish::pending).post(publish::publish))
        .route(INSIGHTS, get(audience::insights))
        .route(REACH, post(audience::reach))
        .route(ROLLUPS, get(audience::rollups))
        .route(VERSIONS, get(publish::versions))
        .route(VERSION, get(publish::get_version))
        .route(ROLLBACK, post(publish::rollback))
        .route(RESULTS, get(publish::results))
        .route(BANDITS, post(publish::bandits))
        .route(REDEEM_KEY, post(sites::rotate_redeem_key))
        .route(CODES, get(codes::pool).post(codes::upload_codes))
        .route(hooks::WEBHOOKS, get(hooks::list).post(hooks::create))
        .route(
            hooks::WEBHOOK,
            get(hooks::get).put(hooks::put).delete(hooks::delete),
        )
        .route(hooks::SECRET, post(hooks::rotate))
        .route(hooks::TEST, post(hooks::test))
        .route(hooks::MESSAGES, get(hooks::messages))
        .route(hooks::REPLAY, post(hooks::replay))
        .route(segs::SEGMENTS, get(segs::list).post(segs::create))
        .route(
            segs::SEGMENT,
            get(segs::get).put(segs::put).delete(segs::delete),
        )
        .route(segs::REFRESH, post(segs::refresh))
        .route(segs::REFRESH_ALL, post(segs::refresh_all))
        .route(crate::identity::SECRET, post(crate::identity::new_secret))
        .route(
            crate::identity::CUSTOMER,
            axum::routing::delete(crate::identity::erase_customer),
        )
        .route(segs::MEMBERS, get(segs::members))
        .route(crate::orders::ORDERS, post(crate::orders::import))
        .route(
            crate::catalog::CATALOG,
            get(crate::catalog::get)
                .put(crate::catalog::put)
                .post(crate::catalog::post),
        )
        .route(
            crate::recs::ADMIN,
            get(crate::recs::status).post(crate::recs::rebuild),
        )
        .route(
            crate::churn::MODEL,
            get(crate::churn::get).post(crate::churn::fit),
        )
        .route(ADMINS, get(team::site_admins))
        .route(
            ADMIN,
            axum::routing::put(team::put_site_admin).delete(team::delete_site_admin),
        )
        // Every route on a site: the role it needs, checked before the handler.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            roles::guard,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}
