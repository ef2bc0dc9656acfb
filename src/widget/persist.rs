//! What the widget keeps in first-party storage, and only as consent
//! allows: consent, the id and its key, the cached config, the profile,
//! declared attributes and the outbox (one per page, adopted when its page
//! is gone).

use dangol_engine::outbox::Outbox;
use dangol_engine::profile::Profile;
use serde_json::Value;

use super::state::{
    Inner, KEY_CONFIG, KEY_CONSENT, KEY_DECLARED, KEY_ETAG, KEY_ID, KEY_KEY, KEY_OUTBOX,
    KEY_PROFILE, ORPHAN_MS,
};
use crate::platform::log::{Problem, warn_once};
use crate::platform::{clock, json, random};

impl Inner {
    /// Keeps the outbox in storage (with measurement consent), stamped with
    /// the time so other pages can tell it is alive; an empty one is removed.
    pub fn save_outbox(&self) {
        if !self.measurement.may_send() {
            return;
        }
        let Some(storage) = &self.storage else {
            return;
        };
        if self.outbox.is_empty() {
            let _ = storage.remove(&self.outbox_key);
            return;
        }
        let mut value = self.outbox.to_value();
        value["t"] = Value::from(clock::now_ms());
        self.store_json(&self.outbox_key, &value);
    }

    /// Takes in the outboxes of pages that are gone (a reload, a closed tab),
    /// so their events are sent from here. Two pages adopting the same one at
    /// once send its events twice, which the server's ids make harmless.
    pub fn adopt_orphans(&mut self) {
        if !self.measurement.may_send() {
            return;
        }
        let Some(storage) = self.storage.clone() else {
            return;
        };
        let now = clock::now_ms();
        let mut adopted = false;
        for name in storage.names(KEY_OUTBOX) {
            if name == self.outbox_key {
                continue;
            }
            let Some(value) = self.load_json(&name) else {
                let _ = storage.remove(&name);
                continue;
            };
            if now - value["t"].as_i64().unwrap_or(0) < ORPHAN_MS {
                continue;
            }
            self.outbox.adopt(Outbox::from_value(&value));
            let _ = storage.remove(&name);
            adopted = true;
        }
        if adopted {
            self.save_outbox();
        }
    }

    /// Writes to storage only when consent allows; reports a failure once.
    pub fn store(&self, key: &str, value: &str) {
        if !self.purposes().may_store_anything() {
            return;
        }
        if let Some(storage) = &self.storage
            && let Err(e) = storage.set(key, value)
        {
            warn_once(
                Problem::Storage,
                &format!(
                    "could not write to localStorage ({e}); nothing will be remembered between pages"
                ),
            );
        }
    }

    pub(super) fn store_json(&self, key: &str, value: &Value) {
        if let Ok(text) = js_sys::JSON::stringify(&json::to_js(value)) {
            self.store(key, &String::from(text));
        }
    }

    fn load_json(&self, key: &str) -> Option<Value> {
        let text = self.storage.as_ref()?.get(key)?;
        js_sys::JSON::parse(&text).ok().map(|v| json::from_js(&v))
    }

    /// After a grant: consent, id, config, profile and declared attributes.
    pub fn persist_all(&mut self) {
        if self.anon.is_none() {
            self.anon = random::hex_id(16);
        }
        if self.key.is_none() {
            self.key = random::hex_id(16);
        }
        if let Some(own) = self.signals.own {
            self.store(KEY_CONSENT, &own.encode());
        }
        if let Some(id) = &self.anon {
            self.store(KEY_ID, id);
        }
        if let Some(key) = &self.key {
            self.store(KEY_KEY, key);
        }
        self.save_outbox();
        if self.consent.may_store() {
            if let Some((text, etag)) = self.config_text.clone() {
                self.cache_config(&text, etag.as_deref());
            }
            self.save_profile();
            self.store_json(KEY_DECLARED, &Value::Object(self.declared.clone()));
        }
    }

    /// At boot with stored consent: id, key, profile and declared attributes.
    pub fn load_all(&mut self) {
        let storage = self.storage.as_ref();
        self.anon = storage.and_then(|s| s.get(KEY_ID));
        self.key = storage.and_then(|s| s.get(KEY_KEY));
        if let Some(stored) = self.load_json(KEY_PROFILE) {
            match Profile::from_value(&stored) {
                Ok(profile) => self.profile = profile,
                Err(e) => warn_once(
                    Problem::Storage,
                    &format!("the stored profile could not be read ({e}); starting a new one"),
                ),
            }
        }
        if let Some(Value::Object(declared)) = self.load_json(KEY_DECLARED) {
            self.declared = declared;
        }
    }

    pub fn save_profile(&self) {
        if self.consent.may_store() {
            self.store_json(KEY_PROFILE, &self.profile.to_value());
        }
    }

    pub fn cache_config(&self, text: &str, etag: Option<&str>) {
        if !self.consent.may_store() {
            return;
        }
        self.store(KEY_CONFIG, text);
        if let Some(tag) = etag {
            self.store(KEY_ETAG, tag);
        }
    }

    pub(super) fn wipe_storage(&self) {
        if let Some(storage) = &self.storage
            && let Err(e) = storage.clear()
        {
            warn_once(
                Problem::Storage,
                &format!("could not wipe localStorage: {e}"),
            );
        }
    }
}
