//! First-party storage (localStorage), namespaced per site.
//!
//! Merely touching `window.localStorage` throws where storage is blocked, and
//! writes throw when it is full; both become `Err` with a readable reason.

use web_sys::Storage;

use super::describe;

/// The site's keys in localStorage: `dangol:{site}:{name}`.
#[derive(Debug, Clone)]
pub struct SiteStorage {
    storage: Storage,
    prefix: String,
}

impl SiteStorage {
    /// Opens localStorage for `site`, or says why it is unavailable.
    pub fn open(site: &str) -> Result<Self, String> {
        let window = web_sys::window().ok_or("no window")?;
        let storage = window
            .local_storage()
            .map_err(|e| describe(&e))?
            .ok_or("localStorage is not available")?;
        Ok(Self {
            storage,
            prefix: dangol_engine::cat::cat(&["dangol:", site, ":"]),
        })
    }

    /// Reads one value; a failing read is treated as absent.
    pub fn get(&self, name: &str) -> Option<String> {
        self.storage
            .get_item(&dangol_engine::cat::cat(&[&self.prefix, name]))
            .ok()
            .flatten()
    }

    /// Writes one value.
    pub fn set(&self, name: &str, value: &str) -> Result<(), String> {
        self.storage
            .set_item(&dangol_engine::cat::cat(&[&self.prefix, name]), value)
            .map_err(|e| describe(&e))
    }

    /// Removes one value.
    pub fn remove(&self, name: &str) -> Result<(), String> {
        self.storage
            .remove_item(&dangol_engine::cat::cat(&[&self.prefix, name]))
            .map_err(|e| describe(&e))
    }

    /// Names of this site's keys that start with `start`.
    pub fn names(&self, start: &str) -> Vec<String> {
        let len = self.storage.length().unwrap_or(0);
        (0..len)
            .filter_map(|i| self.storage.key(i).ok().flatten())
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_string))
            .filter(|k| k.starts_with(start))
            .collect()
    }

    /// Removes every key of this site.
    pub fn clear(&self) -> Result<(), String> {
        let len = self.storage.length().map_err(|e| describe(&e))?;
        let mine: Vec<String> = (0..len)
            .filter_map(|i| self.storage.key(i).ok().flatten())
            .filter(|k| k.starts_with(&self.prefix))
            .collect();
        for key in mine {
            self.storage.remove_item(&key).map_err(|e| describe(&e))?;
        }
        Ok(())
    }
}
