//! A one-second cache of sites, served configs and recommendations models,
//! so the hot paths (config
//! revalidations, event batches) do not read the database every time. This
//! server drops an entry the moment it changes it; other replicas see the
//! change within a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::Site;

const TTL: Duration = Duration::from_secs(1);

/// A config as served, in both forms: the JSON the marketer published (for
/// people and tools) and the compact form the widget reads.
#[derive(Debug)]
pub struct Served {
    /// The version.
    pub version: u64,
    /// The line of publishes (the signing key's) it was written for.
    pub lineage: String,
    /// The JSON text.
    pub json: Form,
    /// The checked, compiled config in the compact form (base64 text).
    pub compact: Form,
}

/// One form of a served config: body, ETag and signature.
#[derive(Debug)]
pub struct Form {
    /// The text.
    pub body: String,
    /// The strong ETag, quoted.
    pub etag: String,
    /// The Ed25519 signature of the body (base64).
    pub signature: String,
    /// The ETag and signature as header values, made once.
    pub etag_header: Option<axum::http::HeaderValue>,
    /// See `etag_header`.
    pub signature_header: Option<axum::http::HeaderValue>,
}

type Entries<T> = Mutex<HashMap<String, (Instant, T)>>;

/// The cached entries.
#[derive(Debug, Default)]
pub struct Cache {
    sites: Entries<Option<Site>>,
    configs: Entries<Arc<Served>>,
    recs: Entries<Arc<Form>>,
}

fn get<T: Clone>(map: &Entries<T>, key: &str) -> Option<T> {
    let map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.get(key)
        .filter(|(at, _)| at.elapsed() < TTL)
        .map(|(_, v)| v.clone())
}

fn put<T>(map: &Entries<T>, key: &str, value: T) {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() > 10_000 {
        map.retain(|_, (at, _)| at.elapsed() < TTL);
    }
    map.insert(key.to_string(), (Instant::now(), value));
}

impl Cache {
    /// A site looked up less than a second ago (`Some(None)`: it did not exist).
    pub fn site(&self, id: &str) -> Option<Option<Site>> {
        get(&self.sites, id)
    }

    /// Remembers a lookup.
    pub fn put_site(&self, id: &str, site: Option<Site>) {
        put(&self.sites, id, site);
    }

    /// A config served less than a second ago.
    pub fn config(&self, site: &str) -> Option<Arc<Served>> {
        get(&self.configs, site)
    }

    /// The config served last, however long ago: a version's forms never
    /// change, so they are made again only for a new version or key.
    pub fn config_stale(&self, site: &str) -> Option<Arc<Served>> {
        self.configs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(site)
            .map(|(_, v)| v.clone())
    }

    /// Remembers a served config.
    pub fn put_config(&self, site: &str, served: Arc<Served>) {
        put(&self.configs, site, served);
    }

    /// A recommendations model served less than a second ago.
    pub fn recs(&self, site: &str) -> Option<Arc<Form>> {
        get(&self.recs, site)
    }

    /// Remembers a served recommendations model.
    pub fn put_recs(&self, site: &str, form: Arc<Form>) {
        put(&self.recs, site, form);
    }

    /// Forgets a site's recommendations model (after a build).
    pub fn forget_recs(&self, site: &str) {
        self.recs.forget(site);
    }

    /// Forgets a site and its config (after a change).
    pub fn invalidate(&self, site: &str) {
        for map in [&self.sites as &dyn Forget, &self.configs] {
            map.forget(site);
        }
    }
}

trait Forget {
    fn forget(&self, key: &str);
}

impl<T> Forget for Entries<T> {
    fn forget(&self, key: &str) {
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}
