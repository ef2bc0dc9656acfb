//! First-party storage (localStorage), namespaced per site, through the
//! loader (`host.store`), whose JavaScript does it in a few lines.
//!
//! Merely touching `window.localStorage` throws where storage is blocked, and
//! writes throw when it is full; the loader answers both with the error's
//! message, which becomes `Err`.

use wasm_bindgen::JsCast;

use super::host::Host;

/// The loader's storage operations (`host.store(op, name, value)`).
mod op {
    /// Reads `name`: the text, or `null` when absent or unreadable.
    pub const GET: u32 = 0;
    /// Writes `value` under `name`.
    pub const SET: u32 = 1;
    /// Removes `name`.
    pub const REMOVE: u32 = 2;
    /// The names of the site's keys that start with `name`.
    pub const NAMES: u32 = 3;
    /// Removes every key of the site.
    pub const CLEAR: u32 = 4;
    /// Whether localStorage can be used at all.
    pub const PROBE: u32 = 5;
}

/// The site's keys in localStorage: `dangol:{site}:{name}`.
#[derive(Clone)]
pub struct SiteStorage {
    host: Host,
}

/// `Ok` for an operation the loader answered with nothing, else its
/// message.
fn done(answer: wasm_bindgen::JsValue) -> Result<(), String> {
    answer.as_string().map_or(Ok(()), Err)
}

impl SiteStorage {
    /// Opens localStorage for the loader's site, or says why it is
    /// unavailable.
    pub fn open(host: &Host) -> Result<Self, String> {
        done(host.store(op::PROBE, "", ""))?;
        Ok(Self { host: host.clone() })
    }

    /// Reads one value; a failing read is treated as absent.
    pub fn get(&self, name: &str) -> Option<String> {
        self.host.store(op::GET, name, "").as_string()
    }

    /// Writes one value.
    pub fn set(&self, name: &str, value: &str) -> Result<(), String> {
        done(self.host.store(op::SET, name, value))
    }

    /// Removes one value.
    pub fn remove(&self, name: &str) -> Result<(), String> {
        done(self.host.store(op::REMOVE, name, ""))
    }

    /// Names of this site's keys that start with `start`.
    pub fn names(&self, start: &str) -> Vec<String> {
        let list = self.host.store(op::NAMES, start, "");
        let list: &js_sys::Array = list.unchecked_ref();
        (0..list.length())
            .filter_map(|i| list.get(i).as_string())
            .collect()
    }

    /// Removes every key of this site.
    pub fn clear(&self) -> Result<(), String> {
        done(self.host.store(op::CLEAR, "", ""))
    }
}
