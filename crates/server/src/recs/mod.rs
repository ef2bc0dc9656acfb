//! Recommendations, the server's half: the model of which items go
//! together, built from the site's consented events (views, carts,
//! purchases and imported orders over the last two years, see
//! [`dangol_engine::recs`]) and the catalog, and published for the widget
//! in the engine's compact form, signed and with a strong ETag like the
//! config. Only catalog items are published (a card needs a name and a
//! link), and only items in stock are ever neighbours or best-sellers;
//! an item out of stock may still lead to others ("because you viewed").
//! The widget downloads the model whole, so it lists at most the
//! [`published::MAX_ITEMS`] most touched items that lead to a
//! recommendation or are one, with [`published::MAX_NEIGHBOURS`] each.
//!
//! `POST /v1/admin/sites/{site}/recs` builds it now (editors) and `GET`
//! there tells when it was built and what it covers; the server builds it
//! again once a day ([`recs_loop`]); the widget reads
//! `GET /v1/sites/{site}/recs`. A site without a catalog has nothing to
//! recommend: building says so.

pub(crate) mod sql;

use std::collections::HashMap;

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dangol_engine::recs::published::{self, Card, Published};
use dangol_engine::recs::{Interaction, Kind, Model, Params};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::store::StoreError;

pub(crate) const ADMIN: &str = "/v1/admin/sites/{site}/recs";
pub(crate) const PUBLIC: &str = "/v1/sites/{site}/recs";

const DAY_MS: i64 = 86_400_000;
/// How far back events are read: two half-lives of the model.
const WINDOW_DAYS: i64 = 730;
/// Events are read a month at a time, so memory holds one month of them.
const SLICE_DAYS: i64 = 30;

/// A built model as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The published form (base64 text).
    pub model: String,
    /// When it was built.
    pub built_ms: i64,
    /// Catalog items published.
    pub items: u64,
    /// Events it was built from.
    pub events: u64,
}

/// Where the built model is kept.
#[async_trait]
pub trait RecsStore: Send + Sync {
    /// Keeps `model` as the site's (replacing the one before).
    async fn put_recs_model(&self, site: &str, model: &Stored) -> Result<(), StoreError>;
    /// The site's model, if built.
    async fn recs_model(&self, site: &str) -> Result<Option<Stored>, StoreError>;
}

fn kind_of(event_type: &str) -> Option<Kind> {
    match event_type {
        "view_item" => Some(Kind::View),
        "add_to_cart" => Some(Kind::Cart),
        "purchase" | "order" => Some(Kind::Purchase),
        _ => None,
    }
}

/// Builds the site's model from its catalog and events as of `now_ms`.
pub async fn build(state: &AppState, site: &str, now_ms: i64) -> Result<(Stored, Value), ApiError> {
    let mut catalog = Vec::new();
    let mut after = String::new();
    loop {
        let page = state.store.catalog_page(site, &after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        catalog.extend(page);
    }
    if catalog.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_catalog",
            format!("site `{site}` has no catalog yet (PUT /v1/admin/sites/{site}/catalog)"),
        ));
    }
    // Catalog items first, so their numbers are their places in the cards.
    let mut numbers: HashMap<String, u32> = catalog
        .iter()
        .enumerate()
        .map(|(i, item)| (item.id.clone(), i as u32))
        .collect();
    let mut shoppers: HashMap<String, u32> = HashMap::new();
    let mut interactions = Vec::new();
    let types = ["view_item", "add_to_cart", "purchase", "order"];
    let mut from = now_ms - WINDOW_DAYS * DAY_MS;
    while from < now_ms {
        let to = (from + SLICE_DAYS * DAY_MS).min(now_ms);
        for e in state.store.events_between(site, &types, from, to).await? {
            let (Some(kind), Some(item)) = (kind_of(&e.kind), e.item) else {
                continue;
            };
            let next = numbers.len() as u32;
            let item = *numbers.entry(item).or_insert(next);
            let next = shoppers.len() as u32;
            let shopper = *shoppers.entry(e.anon).or_insert(next);
            interactions.push(Interaction {
                shopper,
                item,
                kind,
                ts_ms: e.ts,
            });
        }
        from = to;
    }
    let model = Model::build(&interactions, numbers.len(), now_ms, &Params::default());
    let mut touches = vec![0.0; numbers.len()];
    for x in &interactions {
        touches[x.item as usize] += x.kind.weight();
    }
    let published = published::bounded(
        publish(site, now_ms, &catalog, model),
        &touches,
        published::MAX_ITEMS,
        published::MAX_NEIGHBOURS,
    );
    let with_neighbours = published
        .model
        .neighbours
        .iter()
        .filter(|n| !n.is_empty())
        .count();
    let stored = Stored {
        model: dangol_engine::recs::published::write(&published),
        built_ms: now_ms,
        items: published.cards.len() as u64,
        events: interactions.len() as u64,
    };
    let summary = json!({
        "built_ms": now_ms,
        "events": stored.events,
        "shoppers": shoppers.len(),
        "items": stored.items,
        "items_with_neighbours": with_neighbours,
        "best_sellers": published.model.popular.len(),
        "bytes": stored.model.len(),
    });
    state.store.put_recs_model(site, &stored).await?;
    state.cache.forget_recs(site);
    Ok((stored, summary))
}

/// The published form: the catalog's cards, each item's neighbours among
/// the items in stock, the best-sellers in stock.
fn publish(site: &str, now_ms: i64, catalog: &[crate::catalog::Item], model: Model) -> Published {
    let mut categories: Vec<String> = Vec::new();
    let mut category_of: HashMap<&str, u32> = HashMap::new();
    let cards = catalog
        .iter()
        .map(|item| Card {
            id: item.id.clone(),
            name: item.name.clone(),
            url: item.url.clone(),
            image: item.image.clone(),
            price: item.price,
            sale_price: item.sale_price,
            category: item.category.as_deref().map(|c| {
                *category_of.entry(c).or_insert_with(|| {
                    categories.push(c.to_string());
                    categories.len() as u32 - 1
                })
            }),
        })
        .collect();
    let sellable = |i: u32| catalog.get(i as usize).is_some_and(|item| item.in_stock);
    let mut neighbours = model.neighbours;
    neighbours.truncate(catalog.len());
    neighbours.resize(catalog.len(), Vec::new());
    for row in &mut neighbours {
        row.retain(|(j, _)| sellable(*j));
    }
    let popular = model.popular.into_iter().filter(|&i| sellable(i)).collect();
    Published {
        site: site.to_string(),
        built_ms: now_ms,
        categories,
        cards,
        model: Model {
            neighbours,
            popular,
        },
    }
}

/// How old a model may get before the schedule builds it again: a day.
pub const REBUILD_AFTER_MS: i64 = DAY_MS;

/// Builds the model again for every site with a catalog whose model is
/// missing or at least [`REBUILD_AFTER_MS`] old, as of `now_ms`; the sites
/// built. A whole build each time: reading two years of events a month at
/// a time is seconds for a million events (`recs_build_s_1m`).
pub async fn rebuild_due(state: &AppState, now_ms: i64) -> Result<Vec<String>, ApiError> {
    let mut built = Vec::new();
    for site in state.store.sites().await? {
        let (items, _) = state.store.catalog_counts(&site.id).await?;
        if items == 0 {
            continue;
        }
        let fresh = state
            .store
            .recs_model(&site.id)
            .await?
            .is_some_and(|m| now_ms - m.built_ms < REBUILD_AFTER_MS);
        if !fresh {
            build(state, &site.id, now_ms).await?;
            built.push(site.id);
        }
    }
    Ok(built)
}

/// Looks every `every` for models due a rebuild ([`rebuild_due`]).
pub async fn recs_loop(state: AppState, every: std::time::Duration) {
    loop {
        tokio::time::sleep(every).await;
        match rebuild_due(&state, crate::now_ms()).await {
            Ok(sites) if !sites.is_empty() => {
                tracing::info!(?sites, "rebuilt the recommendations models");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = ?e, "could not rebuild the recommendations models"),
        }
    }
}

/// `POST /v1/admin/sites/{site}/recs`: builds the model now; what it covers.
pub async fn rebuild(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    let (_, summary) = build(&state, &site, crate::now_ms()).await?;
    Ok(Json(summary))
}

/// `GET /v1/admin/sites/{site}/recs`: when the model was built and what it
/// covers, or 404 before the first build.
pub async fn status(
    State(state): State<AppState>,
    Path(site): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let site = crate::routes::known_site(&state, &site).await?.id;
    let stored = stored_or_404(&state, &site).await?;
    Ok(Json(json!({
        "built_ms": stored.built_ms,
        "age_s": (crate::now_ms() - stored.built_ms) / 1000,
        "items": stored.items,
        "events": stored.events,
        "bytes": stored.model.len(),
    })))
}

async fn stored_or_404(state: &AppState, site: &str) -> Result<Stored, ApiError> {
    state.store.recs_model(site).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_model",
            format!(
                "site `{site}` has no recommendations model yet (POST /v1/admin/sites/{site}/recs)"
            ),
        )
    })
}

/// `GET /v1/sites/{site}/recs`: the published model (base64 text),
/// anonymous, signed and with a strong ETag (304 on revalidation).
pub(crate) async fn serve(
    State(state): State<AppState>,
    Path(site): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let form = match state.cache.recs(&site) {
        Some(form) => form,
        None => {
            crate::routes::known_site(&state, &site).await?;
            let stored = stored_or_404(&state, &site).await?;
            let key = crate::signing::key_for(state.store.as_ref(), &site).await?;
            let form = std::sync::Arc::new(crate::configs::signed_form(
                &key,
                stored.model,
                "r",
                stored.built_ms,
            ));
            state.cache.put_recs(&site, form.clone());
            form
        }
    };
    Ok(crate::configs::serve_form(
        &form,
        "text/plain; charset=utf-8",
        &headers,
    ))
}
