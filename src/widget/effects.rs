//! Carrying out what the session decided: storage writes and removals,
//! erase requests, and batches handed to [`super::sync`] to send. No rule
//! is decided here.

use dangol_engine::json::Value;
use dangol_engine::session::{Effect, Input, Key, OUTBOX_PREFIX, Stored};

use super::pending::Pending;
use super::state::{Inner, Phase};
use crate::platform::host::Reply;
use crate::platform::json;
use crate::platform::log::{Problem, warn, warn_once};
use crate::platform::storage::SiteStorage;

/// What storage holds for the session at page start (reading is allowed
/// before consent; the session decides what may be used).
pub(super) fn read_stored(storage: Option<&SiteStorage>) -> Stored {
    let Some(storage) = storage else {
        return Stored::default();
    };
    let get = |key: Key| storage.get(&key.name());
    Stored {
        consent: get(Key::Consent),
        id: get(Key::Id),
        key: get(Key::EraseKey),
        profile: get(Key::Profile),
        declared: get(Key::Declared).and_then(|t| parse(&t)),
        config: get(Key::Config).map(|text| (text, get(Key::Etag))),
        #[cfg(feature = "identity")]
        customer: get(Key::Customer),
        #[cfg(feature = "identity")]
        remote: get(Key::Remote).and_then(|t| parse(&t)),
        #[cfg(not(feature = "identity"))]
        customer: None,
        #[cfg(not(feature = "identity"))]
        remote: None,
        queued: get(Key::Queued),
    }
}

fn parse(text: &str) -> Option<Value> {
    js_sys::JSON::parse(text)
        .ok()
        .map(|v| json::from_parsed(&v))
}

/// The erase request's answer: local data is gone either way; a failure
/// is reported.
pub(super) fn erased(reply: Reply) {
    let problem = match reply {
        Reply::Http { status, .. } if (200..300).contains(&status) => return,
        Reply::Http { status, .. } => {
            dangol_engine::cat::cat(&["HTTP ", &dangol_engine::cat::uint(u64::from(status))])
        }
        Reply::Busy => return,
        Reply::Failed(e) => e,
    };
    warn(&dangol_engine::cat::cat(&[
        "local data is gone, but the server could not be asked to erase it (",
        &problem,
        ")",
    ]));
}

#[cfg(feature = "identity")]
/// The identify request's answer, for the session: the other devices'
/// profile (when asked for), a refusal that asking again cannot change
/// (named in the console), or a failure to leave for another page.
pub(super) fn identified(customer: String, reply: Reply) -> Input {
    use dangol_engine::session::Outcome;
    Input::Identified(
        customer,
        match reply {
            Reply::Http { status, body, .. } => match Outcome::of_status(status, None) {
                Outcome::Delivered => Ok(parse(&body)
                    .and_then(|answer| answer.get("profile").cloned())
                    .filter(|profile| !profile.is_null())),
                Outcome::Refused => {
                    warn(&dangol_engine::cat::cat(&[
                        "dangol.identify: the server refused to link this browser (HTTP ",
                        &dangol_engine::cat::uint(u64::from(status)),
                        ": ",
                        &body,
                        ")",
                    ]));
                    Err(true)
                }
                _ => Err(false),
            },
            _ => Err(false),
        },
    )
}

impl Inner {
    /// Carries out the session's effects, in order.
    pub fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Store(key, text) => self.write(&key, &text),
                Effect::StoreJson(key, value) => {
                    if let Some(text) = json::stringify(&value) {
                        self.write(&key, &text);
                    }
                }
                Effect::Remove(key) => {
                    if let Some(storage) = &self.storage {
                        let _ = storage.remove(&key.name());
                    }
                }
                Effect::ReadOutboxes => self.offer_orphans(),
                Effect::RemoveOutboxes => {
                    if let Some(storage) = &self.storage {
                        for name in storage.names(OUTBOX_PREFIX) {
                            let _ = storage.remove(&name);
                        }
                    }
                }
                Effect::Wipe => {
                    if let Some(storage) = &self.storage
                        && let Err(e) = storage.clear()
                    {
                        warn_once(
                            Problem::Storage,
                            &dangol_engine::cat::cat(&["could not wipe localStorage: ", &e]),
                        );
                    }
                }
                Effect::Erase { id, key } => {
                    let url = dangol_engine::cat::cat(&[
                        &self.endpoint,
                        "/v1/sites/",
                        &self.site,
                        "/subjects/",
                        &id,
                    ]);
                    self.ask(Pending::Erase, |host, n| {
                        host.req(n, "DELETE", &url, "", &key, "", "")
                    });
                }
                Effect::Send { ticket, body, key } => self.outgoing.push((ticket, body, key)),
                Effect::Upgrade(old) => {
                    // The first decision waits for it.
                    if self.phase == Phase::Waiting {
                        self.phase = Phase::Held;
                    }
                    #[cfg(not(feature = "full"))]
                    self.ask(Pending::Upgrade(old), |host, n| host.rare(n));
                    #[cfg(feature = "full")]
                    self.input(Input::Upgraded(json::upgrade_profile(&old)));
                }
                #[cfg(feature = "identity")]
                Effect::Identify {
                    id,
                    key,
                    customer,
                    proof,
                    profile,
                } => {
                    let url = dangol_engine::cat::cat(&[
                        &self.endpoint,
                        "/v1/sites/",
                        &self.site,
                        "/identify",
                    ]);
                    let mut body = dangol_engine::json::Map::new();
                    body.set("anon", id.into());
                    body.set("customer", customer.as_str().into());
                    body.set("proof", proof.into());
                    body.set("profile", profile.into());
                    let Some(text) = json::stringify(&Value::Object(body)) else {
                        continue;
                    };
                    self.ask(Pending::Identify(customer), |host, n| {
                        host.req(n, "POST", &url, &text, &key, "", "")
                    });
                }
                // Made only in answer to `Input::Identify`, which a build
                // without `identity` never takes.
                #[cfg(not(feature = "identity"))]
                Effect::Identify { .. } => {}
            }
        }
    }

    fn write(&self, key: &Key, text: &str) {
        if let Some(storage) = &self.storage
            && let Err(e) = storage.set(&key.name(), text)
        {
            warn_once(
                Problem::Storage,
                &dangol_engine::cat::cat(&[
                    "could not write to localStorage (",
                    &e,
                    "); nothing will be remembered between pages",
                ]),
            );
        }
    }

    /// Hands the session the outboxes other pages stored, so it adopts those
    /// whose page is gone.
    fn offer_orphans(&mut self) {
        let Some(storage) = self.storage.clone() else {
            return;
        };
        let list = storage
            .names(OUTBOX_PREFIX)
            .into_iter()
            .filter_map(|name| {
                let page = name.strip_prefix(OUTBOX_PREFIX)?.to_string();
                Some((page, storage.get(&name).and_then(|t| parse(&t))))
            })
            .collect();
        self.input(Input::Orphans(list));
    }
}
