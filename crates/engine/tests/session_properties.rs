//! The shopper's session under random input sequences, in two tabs that
//! share one storage (each tab hears the other's writes as `storage`
//! events, as browsers deliver them). Whatever happens:
//! - before any consent source says yes, nothing is stored and nothing sent;
//! - profile, declared attributes and config are stored only with
//!   personalisation consent, events sent only with measurement consent;
//! - an id that was erased or dropped never appears in a later write or send;
//! - declared attributes never appear in a send;
//! - a profile an earlier widget stored as JSON is never overwritten before
//!   its upgrade, and the upgrade keeps every count.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::collections::BTreeMap;

use dangol_engine::consent::{Consent, Purposes, from_tcf};
use dangol_engine::event::Event;
use dangol_engine::json;
use dangol_engine::json::Value;
use dangol_engine::profile::{Input as ProfileInput, Profile};
use dangol_engine::session::{Ctx, Effect, Input, Key, Outcome, Session, Stored};
use proptest::prelude::*;

const T0: i64 = 1_795_617_000_000;
const SECRET: &str = "declared-secret-7f3a";

#[derive(Debug, Clone)]
enum Step {
    Grant,
    GrantPersonalisation,
    GrantMeasurement,
    Deny,
    TcfYes,
    TcfNo,
    ModeDefaultDenied,
    ModeUpdate(Option<bool>, Option<bool>),
    PersonalisationOff,
    Forget,
    View,
    Purchase,
    Declare,
    Flush,
    Answer(u8),
    Tick,
    Wait(u16),
    Reload,
    Orphans,
    SignIn(bool),
    SignOut,
    IdentifyAnswer(u8),
    OldWidget,
    UpgradeAnswer(bool),
    /// The tab's page is left before its widget loaded, with the shopper's
    /// consent actions queued in the loader (0 grant, 1 grant of
    /// measurement only, 2 deny, 3 forget, 4 something unknown), which
    /// the loader keeps; the tab then loads its next page.
    LeftBeforeLoad(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Grant),
        1 => Just(Step::GrantPersonalisation),
        1 => Just(Step::GrantMeasurement),
        1 => Just(Step::Deny),
        1 => Just(Step::TcfYes),
        1 => Just(Step::TcfNo),
        1 => Just(Step::ModeDefaultDenied),
        2 => (proptest::option::of(any::<bool>()), proptest::option::of(any::<bool>())).prop_map(|(p, m)| Step::ModeUpdate(p, m)),
        1 => Just(Step::PersonalisationOff),
        1 => Just(Step::Forget),
        3 => Just(Step::View),
        2 => Just(Step::Purchase),
        1 => Just(Step::Declare),
        3 => Just(Step::Flush),
        3 => (0u8..3).prop_map(Step::Answer),
        2 => Just(Step::Tick),
        2 => (0u16..10_000).prop_map(Step::Wait),
        1 => Just(Step::Reload),
        1 => Just(Step::Orphans),
        1 => any::<bool>().prop_map(Step::SignIn),
        1 => Just(Step::SignOut),
        2 => (0u8..3).prop_map(Step::IdentifyAnswer),
        1 => Just(Step::OldWidget),
        2 => any::<bool>().prop_map(Step::UpgradeAnswer),
        1 => proptest::collection::vec(0u8..5, 1..3).prop_map(Step::LeftBeforeLoad),
    ]
}

struct World {
    storage: BTreeMap<String, String>,
    tabs: [Session; 2],
    in_flight: [Vec<(u32, Value)>; 2],
    /// Identify requests in flight per tab, by customer, oldest first.
    identifying: [Vec<String>; 2],
    /// Upgrades asked for per tab, oldest first.
    upgrading: [Vec<String>; 2],
    now: i64,
    next: u64,
    pages: u32,
    granted_ever: bool,
    dead: Vec<String>,
}

fn stored_from(storage: &BTreeMap<String, String>) -> Stored {
    let json = |k: &str| storage.get(k).and_then(|t| serde_json::from_str(t).ok());
    Stored {
        consent: storage.get("consent").cloned(),
        id: storage.get("id").cloned(),
        key: storage.get("key").cloned(),
        profile: storage.get("profile").cloned(),
        declared: json("declared"),
        config: storage
            .get("config")
            .map(|c| (c.clone(), storage.get("etag").cloned())),
        customer: storage.get("customer").cloned(),
        remote: json("remote"),
        queued: storage.get("queued").cloned(),
    }
}

impl World {
    fn new(gpc: bool) -> World {
        let mut world = World {
            storage: BTreeMap::new(),
            tabs: [Session::new(String::new()), Session::new(String::new())],
            in_flight: [Vec::new(), Vec::new()],
            identifying: [Vec::new(), Vec::new()],
            upgrading: [Vec::new(), Vec::new()],
            now: T0,
            next: 0,
            pages: 0,
            granted_ever: false,
            dead: Vec::new(),
        };
        for tab in 0..2 {
            world.reload(tab, gpc);
        }
        world
    }

    fn reload(&mut self, tab: usize, gpc: bool) {
        self.pages += 1;
        let stored = stored_from(&self.storage);
        let page = format!("page{}", self.pages);
        let (session, out) = self.with(tab, |_, ctx| Session::start(page, stored, gpc, ctx));
        self.tabs[tab] = session;
        self.in_flight[tab].clear();
        self.identifying[tab].clear();
        self.upgrading[tab].clear();
        self.carry_out(tab, out);
    }

    fn handle(&mut self, tab: usize, input: Input) {
        let out = self.with(tab, |s, ctx| s.handle(input, ctx));
        self.carry_out(tab, out);
    }

    fn with<R>(&mut self, tab: usize, f: impl FnOnce(&mut Session, &mut Ctx) -> R) -> R {
        let next = &mut self.next;
        let mut fresh = || {
            *next += 1;
            format!("{:016x}", *next)
        };
        let mut ctx = Ctx {
            now_ms: self.now,
            utc_offset_minutes: 0,
            jitter: 0.3,
            fresh: &mut fresh,
        };
        f(&mut self.tabs[tab], &mut ctx)
    }

    /// Checks the effects against the invariants, applies them to storage
    /// and tells the other tab what changed.
    fn carry_out(&mut self, tab: usize, out: Vec<Effect>) {
        let purposes = self.tabs[tab].purposes();
        let before = self.storage.clone();
        let mut read = false;
        for effect in &out {
            let text = format!("{effect:?}");
            if !matches!(effect, Effect::Erase { .. }) {
                for dead in &self.dead {
                    assert!(!text.contains(dead.as_str()), "dead id {dead} in {text}");
                }
            }
            match effect {
                Effect::Store(..)
                | Effect::StoreJson(..)
                | Effect::Send { .. }
                | Effect::Identify { .. } => {
                    assert!(
                        self.granted_ever,
                        "written or sent before any consent: {text}"
                    );
                }
                _ => {}
            }
            match effect {
                Effect::Store(key, value) => {
                    if matches!(key, Key::Config | Key::Etag | Key::Profile) {
                        assert!(purposes.personalisation.may_store(), "{text}");
                    }
                    if *key == Key::Profile {
                        assert!(
                            !self.tabs[tab].upgrading(),
                            "an old widget's profile overwritten before its upgrade: {text}"
                        );
                    }
                    assert!(purposes.may_store_anything(), "{text}");
                    self.storage.insert(key.name(), value.clone());
                }
                Effect::StoreJson(key, value) => {
                    match key {
                        Key::Profile | Key::Declared | Key::Remote => {
                            assert!(purposes.personalisation.may_store(), "{text}")
                        }
                        Key::Outbox(_) => assert!(purposes.measurement.may_send(), "{text}"),
                        _ => {}
                    }
                    self.storage
                        .insert(key.name(), serde_json::to_string(value).unwrap());
                }
                Effect::Remove(key) => {
                    self.storage.remove(&key.name());
                }
                Effect::RemoveOutboxes => self.storage.retain(|k, _| !k.starts_with("outbox:")),
                Effect::ReadOutboxes => {
                    assert!(purposes.measurement.may_send(), "{text}");
                    read = true;
                }
                Effect::Wipe => self.storage.clear(),
                Effect::Erase { id, .. } => self.dead.push(id.clone()),
                Effect::Upgrade(old) => {
                    assert!(purposes.personalisation.may_store(), "{text}");
                    assert!(old.starts_with('{'), "{text}");
                    self.upgrading[tab].push(old.clone());
                }
                Effect::Identify {
                    id,
                    profile,
                    customer,
                    ..
                } => {
                    assert!(purposes.measurement.may_send(), "{text}");
                    assert!(!profile || purposes.personalisation.may_store(), "{text}");
                    assert!(!text.contains(SECRET), "declared attributes sent: {text}");
                    assert_eq!(self.tabs[tab].id(), Some(id.as_str()), "{text}");
                    self.identifying[tab].push(customer.clone());
                }
                Effect::Send { ticket, body, .. } => {
                    assert!(purposes.measurement.may_send(), "{text}");
                    assert!(!text.contains(SECRET), "declared attributes sent: {text}");
                    let id = self.tabs[tab].id().unwrap().to_string();
                    for e in body["events"].as_array().unwrap() {
                        assert_eq!(e["anon"], id.as_str(), "an event of another id: {text}");
                    }
                    self.in_flight[tab].push((*ticket, body.clone()));
                }
            }
        }
        // 3. A tab that may store and has an id leaves it in storage (what
        //    it does not write again, such as the id a consent manager's
        //    answer took from storage, must be there already).
        if self.tabs[tab].purposes().may_store_anything()
            && let Some(id) = self.tabs[tab].id()
        {
            assert!(
                self.storage.contains_key("id") && self.storage.contains_key("key"),
                "tab {tab} uses {id}, which storage lacks: {:?} after {out:?}",
                self.storage
            );
        }
        // 4. An id the tab dropped (a withdrawal, `forget()`, another tab's
        //    erase) is dead.
        if out.iter().any(|e| matches!(e, Effect::Wipe))
            && let Some(id) = before.get("id")
        {
            self.dead.push(id.clone());
        }
        // The other tab hears each key that changed.
        let other = 1 - tab;
        let mut changes = Vec::new();
        for (k, v) in &before {
            if self.storage.get(k) != Some(v) {
                changes.push((k.clone(), self.storage.get(k).cloned()));
            }
        }
        for (k, v) in &self.storage {
            if !before.contains_key(k) {
                changes.push((k.clone(), Some(v.clone())));
            }
        }
        // Browsers deliver them in the order they were made: the id before
        // the choice (as the session writes them).
        changes.sort_by_key(|(k, _)| match k.as_str() {
            "id" => 0,
            "key" => 1,
            "consent" => 2,
            _ => 3,
        });
        for (k, v) in changes {
            if let Some(key) = Key::parse(&k) {
                self.handle(other, Input::StorageChanged(Some(key), v));
            }
        }
        // The tab asked for the stored outboxes: it is answered at once.
        if read {
            self.orphans(tab);
        }
    }

    /// Every page's stored outbox, handed to `tab` to adopt.
    fn orphans(&mut self, tab: usize) {
        let list = self
            .storage
            .iter()
            .filter_map(|(k, v)| {
                let page = k.strip_prefix("outbox:")?;
                Some((page.to_string(), serde_json::from_str(v).ok()))
            })
            .collect();
        self.handle(tab, Input::Orphans(list));
    }

    fn run(&mut self, tab: usize, step: &Step) {
        match step {
            Step::Grant => {
                self.granted_ever = true;
                self.handle(tab, Input::Own(Purposes::both(Consent::Granted)));
            }
            Step::GrantPersonalisation => {
                self.granted_ever = true;
                self.handle(
                    tab,
                    Input::Own(Purposes {
                        personalisation: Consent::Granted,
                        measurement: Consent::Denied,
                    }),
                );
            }
            Step::GrantMeasurement => {
                self.granted_ever = true;
                self.handle(
                    tab,
                    Input::Own(Purposes {
                        personalisation: Consent::Denied,
                        measurement: Consent::Granted,
                    }),
                );
            }
            Step::Deny => self.handle(tab, Input::Own(Purposes::both(Consent::Denied))),
            Step::TcfYes => {
                self.granted_ever = true;
                self.handle(tab, Input::Tcf(from_tcf(|_| true)));
            }
            Step::TcfNo => self.handle(tab, Input::Tcf(from_tcf(|_| false))),
            Step::ModeDefaultDenied => self.handle(
                tab,
                Input::ConsentMode {
                    update: false,
                    personalisation: Some(false),
                    measurement: Some(false),
                },
            ),
            Step::ModeUpdate(p, m) => {
                self.granted_ever |= *p == Some(true) || *m == Some(true);
                self.handle(
                    tab,
                    Input::ConsentMode {
                        update: true,
                        personalisation: *p,
                        measurement: *m,
                    },
                );
            }
            Step::PersonalisationOff => self.handle(tab, Input::PersonalisationOff),
            Step::Forget => {
                if let Some(id) = self.tabs[tab].id() {
                    self.dead.push(id.to_string());
                }
                self.handle(tab, Input::Forget);
            }
            Step::LeftBeforeLoad(acts) => {
                let words: Vec<&str> = acts
                    .iter()
                    .map(|a| match a {
                        0 => "grant",
                        1 => "grant:measurement",
                        2 => "deny",
                        3 => "forget",
                        _ => "track:view_item",
                    })
                    .collect();
                if acts.iter().any(|a| *a < 2) {
                    self.granted_ever = true;
                }
                if acts.contains(&3) {
                    // What forget() erases is every id this browser held.
                    for id in [
                        self.tabs[tab].id(),
                        self.storage.get("id").map(String::as_str),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        self.dead.push(id.to_string());
                    }
                }
                // The loader appends to what an earlier such page kept.
                let text = match self.storage.get("queued") {
                    Some(old) => format!("{old} {}", words.join(" ")),
                    None => words.join(" "),
                };
                self.storage.insert("queued".into(), text.clone());
                // The other tab hears of it, then this tab's next page starts.
                self.handle(
                    1 - tab,
                    Input::StorageChanged(Some(Key::Queued), Some(text)),
                );
                self.reload(tab, false);
                assert!(
                    !self.storage.contains_key("queued"),
                    "the kept actions stay: {:?}",
                    self.storage
                );
            }
            Step::View => {
                self.handle(
                    tab,
                    Input::Profile(ProfileInput::PageView {
                        category: Some("knit".into()),
                        sale: false,
                    }),
                );
                self.next += 1;
                let id = format!("e{}", self.next);
                self.handle(
                    tab,
                    Input::Record(Event::page_view(id, self.now, String::new())),
                );
            }
            Step::Purchase => {
                self.next += 1;
                let props = json!({"transaction_id": format!("t{}", self.next), "value": 10, "items": [{"item_id": "knit-01", "price": 10}]});
                let out = self
                    .with(tab, |s, ctx| s.track("purchase", &props, ctx))
                    .unwrap();
                self.carry_out(tab, out);
            }
            Step::Declare => {
                let out = self
                    .with(tab, |s, _| s.declare(&json!({"name": SECRET})))
                    .unwrap();
                self.carry_out(tab, out);
            }
            Step::Flush => self.handle(tab, Input::Flush { online: true }),
            Step::Answer(how) => {
                if let Some((ticket, _)) = self.in_flight[tab].pop() {
                    let outcome = match how {
                        0 => Outcome::Delivered,
                        1 => Outcome::Failed(None),
                        _ => Outcome::Refused,
                    };
                    self.handle(tab, Input::Sent(ticket, outcome));
                }
            }
            Step::Tick => self.handle(tab, Input::Tick),
            Step::Wait(ms) => self.now += i64::from(*ms),
            Step::Reload => self.reload(tab, false),
            Step::SignIn(other) => {
                let customer = if *other { "c-2" } else { "c-1" };
                self.handle(
                    tab,
                    Input::Identify(Some((customer.into(), "ab".repeat(32)))),
                );
            }
            Step::SignOut => self.handle(tab, Input::Identify(None)),
            Step::IdentifyAnswer(how) => {
                if !self.identifying[tab].is_empty() {
                    let customer = self.identifying[tab].remove(0);
                    let answer = match how {
                        0 => Ok(None),
                        1 => Ok(Some(json!({"v": 1, "visits": 3, "sessions": 2}))),
                        _ => Err(true),
                    };
                    self.handle(tab, Input::Identified(customer, answer));
                }
            }
            Step::Orphans => self.orphans(tab),
            // The last profile written was an earlier widget's: the same
            // profile as JSON.
            Step::OldWidget => {
                if let Some(p) = self
                    .storage
                    .get("profile")
                    .and_then(|t| Profile::from_text(t))
                {
                    let old = serde_json::to_string(&p.to_value()).unwrap();
                    self.storage.insert("profile".into(), old);
                }
            }
            // The second module's answer, as `src/more.rs` makes it.
            Step::UpgradeAnswer(readable) => {
                if !self.upgrading[tab].is_empty() {
                    let old = self.upgrading[tab].remove(0);
                    let value: Value = serde_json::from_str(&old).unwrap();
                    let before = Profile::from_value(&value).unwrap();
                    let answer = readable.then(|| before.to_text());
                    let applies = self.tabs[tab].upgrading();
                    self.handle(tab, Input::Upgraded(answer));
                    if *readable && applies {
                        let now = self.tabs[tab].profile();
                        assert!(now.visits >= before.visits, "visits lost in the upgrade");
                        assert!(now.orders >= before.orders, "orders lost in the upgrade");
                        assert!(
                            now.ledger.entries().len() >= before.ledger.entries().len(),
                            "the ledger lost in the upgrade"
                        );
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn two_tabs_keep_every_privacy_rule(
        gpc in any::<bool>(),
        steps in proptest::collection::vec((0usize..2, step()), 1..60),
    ) {
        let mut world = World::new(gpc);
        for (tab, step) in &steps {
            world.run(*tab, step);
        }
        // Nothing consent never allowed is left in storage.
        if !world.granted_ever {
            prop_assert!(world.storage.is_empty(), "{:?}", world.storage);
        }
        for dead in &world.dead {
            prop_assert!(!world.storage.values().any(|v| v.contains(dead.as_str())), "{dead} left in {:?}", world.storage);
        }
    }

    #[test]
    fn after_forget_nothing_of_the_old_id_survives_in_either_tab(
        before in proptest::collection::vec((0usize..2, step()), 0..30),
        after in proptest::collection::vec((0usize..2, step()), 0..30),
        forget_in in 0usize..2,
    ) {
        let mut world = World::new(false);
        world.run(0, &Step::Grant);
        for (tab, step) in &before {
            world.run(*tab, step);
        }
        world.run(forget_in, &Step::Forget);
        for tab in 0..2 {
            prop_assert_eq!(world.tabs[tab].id(), None);
        }
        for (tab, step) in &after {
            world.run(*tab, step);
        }
    }
}
