use crate::json;

use super::*;
use crate::consent::from_tcf;

const T0: i64 = 1_795_617_000_000;

/// A session with a counting id source and a clock the test moves.
struct Page {
    session: Session,
    now: i64,
    next: u64,
}

impl Page {
    fn start(stored: Stored, gpc: bool) -> (Page, Vec<Effect>) {
        let mut next = 0;
        let mut fresh = || {
            next += 1;
            format!("{next:016x}")
        };
        let mut ctx = Ctx {
            now_ms: T0,
            utc_offset_minutes: 540,
            jitter: 0.5,
            fresh: &mut fresh,
        };
        let (session, out) = Session::start("p1".into(), stored, gpc, &mut ctx);
        (
            Page {
                session,
                now: T0,
                next: 1000 * (1 + next),
            },
            out,
        )
    }

    fn new() -> Page {
        Page::start(Stored::default(), false).0
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut Session, &mut Ctx) -> R) -> R {
        let next = &mut self.next;
        let mut fresh = || {
            *next += 1;
            format!("{next:016x}")
        };
        let mut ctx = Ctx {
            now_ms: self.now,
            utc_offset_minutes: 540,
            jitter: 0.5,
            fresh: &mut fresh,
        };
        f(&mut self.session, &mut ctx)
    }

    fn on(&mut self, input: Input) -> Vec<Effect> {
        self.with(|s, ctx| s.handle(input, ctx))
    }

    fn view(&mut self) -> Vec<Effect> {
        let mut out = self.on(Input::Profile(ProfileInput::PageView {
            category: Some("knit".into()),
            sale: false,
        }));
        let id = format!("e{:x}", self.next);
        out.extend(self.on(Input::Record(Event::page_view(id, self.now, String::new()))));
        out
    }

    fn track_purchase(&mut self) -> Vec<Effect> {
        let props = json!({"transaction_id": "t1", "value": 59000, "items": [{"item_id": "knit-01", "price": 59000}]});
        self.with(|s, ctx| s.track("purchase", &props, ctx))
            .unwrap_or_default()
    }

    /// The kinds of the events waiting to be sent.
    fn kinds(&self) -> Vec<&str> {
        self.session
            .outbox()
            .events()
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect()
    }

    /// What storage would hold after `effects`, as a map of key names.
    fn stored_after(effects: &[Effect]) -> Stored {
        let mut stored = Stored::default();
        for e in effects {
            match e {
                Effect::Store(Key::Consent, v) => stored.consent = Some(v.clone()),
                Effect::Store(Key::Id, v) => stored.id = Some(v.clone()),
                Effect::Store(Key::EraseKey, v) => stored.key = Some(v.clone()),
                Effect::Store(Key::Profile, v) => stored.profile = Some(v.clone()),
                Effect::StoreJson(Key::Declared, v) => stored.declared = Some(v.clone()),
                Effect::Store(Key::Customer, v) => stored.customer = Some(v.clone()),
                Effect::StoreJson(Key::Remote, v) => stored.remote = Some(v.clone()),
                Effect::Wipe => stored = Stored::default(),
                _ => {}
            }
        }
        stored
    }
}

/// What an earlier visit left when consent came from a consent manager:
/// the id and its key, and no choice of the shop's own.
fn earlier_visit() -> Stored {
    Stored {
        id: Some("aaaaaaaaaaaaaaaa".into()),
        key: Some("kkkkkkkkkkkkkkkk".into()),
        ..Stored::default()
    }
}

fn yes() -> Purposes {
    Purposes::both(Consent::Granted)
}

fn no() -> Purposes {
    Purposes::both(Consent::Denied)
}

fn stores(effects: &[Effect]) -> bool {
    effects.iter().any(|e| {
        matches!(
            e,
            Effect::Store(..) | Effect::StoreJson(..) | Effect::Send { .. }
        )
    })
}

fn sends(effects: &[Effect]) -> Vec<(u32, Value)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { ticket, body, .. } => Some((*ticket, body.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn nothing_is_stored_or_sent_before_consent() {
    let mut page = Page::new();
    let mut all = page.view();
    all.extend(page.track_purchase());
    all.extend(
        page.with(|s, _| s.declare(&json!({"tier": "gold"})))
            .unwrap_or_default(),
    );
    all.extend(page.on(Input::Flush { online: true }));
    all.extend(page.on(Input::Tick));
    all.extend(page.on(Input::ConfigFetched("{}".into(), Some("\"v1\"".into()))));
    assert!(!stores(&all), "{all:?}");
    assert_eq!(page.session.id(), None);
    // The page's events wait in memory for an answer.
    let kinds = page.kinds();
    assert!(
        kinds.contains(&"page_view") && kinds.contains(&"purchase"),
        "{kinds:?}"
    );
}

#[test]
fn the_export_holds_everything_kept_with_the_profile_as_stored() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    let viewed = page.view();
    page.with(|s, _| s.declare(&json!({"tier": "gold"})))
        .unwrap();
    let export = page.session.export();
    assert_eq!(export["consent"]["personalisation"], "granted");
    assert_eq!(export["consent"]["measurement"], "granted");
    assert_eq!(export["id"].as_str(), page.session.id());
    assert_eq!(export["declared"]["tier"], "gold");
    assert_eq!(export["unsent_events"][0]["type"], "page_view");
    // The profile is the text storage holds, and reads as JSON in full.
    let text = export["profile"].as_str().unwrap();
    assert!(viewed.contains(&Effect::Store(Key::Profile, text.into())));
    let profile = Profile::text_to_value(text);
    assert_eq!(profile["visits"], 1);
    assert_eq!(Profile::from_value(&profile).unwrap().to_text(), text);
    assert_eq!(Profile::text_to_value("{\"visits\":1}"), Value::Null);
}

#[test]
fn a_grant_stores_the_id_the_choice_the_profile_and_the_waiting_events_at_once() {
    let mut page = Page::new();
    page.view();
    let out = page.on(Input::Own(yes()));
    let stored = Page::stored_after(&out);
    assert_eq!(stored.consent.as_deref(), Some("p=granted;m=granted"));
    assert_eq!(stored.id.as_deref(), page.session.id());
    assert!(stored.key.is_some() && stored.profile.is_some());
    assert!(
        out.iter()
            .any(|e| matches!(e, Effect::StoreJson(Key::Outbox(p), _) if p == "p1"))
    );
    let sent = sends(&page.on(Input::Flush { online: true }));
    assert_eq!(sent.len(), 1);
    let id = page.session.id().unwrap_or_default().to_string();
    assert!(
        sent[0].1["events"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| e["anon"] == id.as_str()))
    );
}

#[test]
fn a_consent_manager_only_shopper_keeps_one_id_and_profile_across_pages() {
    let tcf_yes = from_tcf(|_| true);
    // Page 1: the CMP answers yes; the id and profile are stored, the
    // shop's own choice is not (there was none).
    let mut first = Page::new();
    first.view();
    let out = first.on(Input::Tcf(tcf_yes));
    let stored = Page::stored_after(&out);
    assert_eq!(stored.consent, None);
    let id = first.session.id().map(str::to_string);
    assert!(id.is_some());
    // Page 2 starts before the CMP has answered: nothing stored is used.
    let (mut second, out) = Page::start(stored, false);
    assert!(!stores(&out));
    second.view();
    assert_eq!(second.session.id(), None);
    assert_eq!(second.session.profile().visits, 1);
    // The CMP answers: the same id, and the stored profile with this
    // page's view on top.
    second.on(Input::Tcf(tcf_yes));
    assert_eq!(second.session.id().map(str::to_string), id);
    assert_eq!(second.session.profile().visits, 2);
}

#[test]
fn a_consent_managers_answer_on_a_returning_shoppers_page_writes_back_only_what_changed() {
    let tcf_yes = from_tcf(|_| true);
    let mut first = Page::new();
    first.view();
    first
        .with(|s, _| s.declare(&json!({"tier": "gold"})))
        .unwrap();
    let out = first.on(Input::Tcf(tcf_yes));
    let mut stored = Page::stored_after(&out);
    assert!(stored.id.is_some() && stored.declared.is_some());
    stored.config = Some(("cfg-1".into(), Some("\"e1\"".into())));
    let written = |out: &[Effect]| -> Vec<Key> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Store(k, _) | Effect::StoreJson(k, _) => Some(k.clone()),
                _ => None,
            })
            .collect()
    };
    // Page 2: the manager answers after the page view. The view is
    // written; what was read from storage is not written again.
    let (mut second, _) = Page::start(stored.clone(), false);
    second.view();
    let out = second.on(Input::Tcf(tcf_yes));
    let keys = written(&out);
    assert!(keys.contains(&Key::Profile), "{out:?}");
    for key in [
        Key::Id,
        Key::EraseKey,
        Key::Config,
        Key::Etag,
        Key::Declared,
    ] {
        assert!(!keys.contains(&key), "{key:?} is stored already: {out:?}");
    }
    assert_eq!(second.session.id(), stored.id.as_deref());
    assert_eq!(second.session.profile().visits, 2);
    assert_eq!(
        second.session.cached_config().map(|c| c.0.as_str()),
        Some("cfg-1")
    );
    assert_eq!(second.session.declared()["tier"], "gold");
    // Page 3 fetched a newer config and declared more before the manager
    // answered: those are written, the id still is not.
    let (mut third, _) = Page::start(stored, false);
    third.on(Input::ConfigFetched("cfg-2".into(), None));
    third
        .with(|s, _| s.declare(&json!({"points": 10})))
        .unwrap();
    let out = third.on(Input::Tcf(tcf_yes));
    assert!(out.contains(&Effect::Store(Key::Config, "cfg-2".into())));
    assert!(out.iter().any(|e| matches!(e,
        Effect::StoreJson(Key::Declared, v) if v["tier"] == "gold" && v["points"] == 10)));
    assert!(!written(&out).contains(&Key::Id), "{out:?}");
}

#[test]
fn consent_actions_on_a_page_left_before_its_widget_loaded_count_on_the_next() {
    // A grant of measurement only, made before the widget loaded: the next
    // page takes it before anything else and removes what the loader kept.
    let (page, out) = Page::start(
        Stored {
            queued: Some("grant:measurement,bogus".into()),
            ..Stored::default()
        },
        false,
    );
    assert_eq!(out.first(), Some(&Effect::Remove(Key::Queued)));
    assert_eq!(page.session.purposes().measurement, Consent::Granted);
    assert_eq!(page.session.purposes().personalisation, Consent::Denied);
    let stored = Page::stored_after(&out);
    assert_eq!(stored.consent.as_deref(), Some("p=denied;m=granted"));
    assert_eq!(stored.id.as_deref(), page.session.id());
    // A grant, then forget(), on a returning shopper's page: the stored id
    // is erased and storage wiped; the next page starts with nothing.
    let mut earlier = earlier_visit();
    earlier.consent = Some("p=granted;m=granted".into());
    earlier.queued = Some("grant forget".into());
    let (page, out) = Page::start(earlier, false);
    assert!(out.contains(&Effect::Erase {
        id: "aaaaaaaaaaaaaaaa".into(),
        key: "kkkkkkkkkkkkkkkk".into()
    }));
    assert!(out.contains(&Effect::Wipe));
    assert_eq!(page.session.id(), None);
    assert!(!stores(
        &out[out.iter().position(|e| *e == Effect::Wipe).unwrap()..]
    ));
    // Unknown words are ignored; a grant that names no purpose refuses
    // both, as `grant(["none"])` does: nothing is stored.
    let (page, out) = Page::start(
        Stored {
            queued: Some("track:view_item grant:none".into()),
            ..Stored::default()
        },
        false,
    );
    assert_eq!(page.session.id(), None);
    assert_eq!(page.session.purposes(), Purposes::both(Consent::Denied));
    assert!(!stores(&out), "{out:?}");
}

#[test]
fn a_refusal_another_tab_left_before_its_widget_loaded_stops_this_tab_at_once() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    let id = page.session.id().unwrap().to_string();
    let out = page.on(Input::StorageChanged(
        Some(Key::Queued),
        Some("deny".into()),
    ));
    assert_eq!(out.first(), Some(&Effect::Remove(Key::Queued)));
    assert!(
        out.iter()
            .any(|e| matches!(e, Effect::Erase { id: erased, .. } if *erased == id))
    );
    assert!(out.contains(&Effect::Wipe));
    assert_eq!(page.session.id(), None);
    assert!(page.session.outbox().events().is_empty());
}

#[test]
fn the_first_decision_waits_for_the_consent_manager_only_for_a_shopper_to_restore() {
    let tcf_yes = from_tcf(|_| true);
    let mut first = Page::new();
    first.view();
    // A new visitor: nothing to restore, nothing to wait for.
    assert!(!first.session.awaits_consent_manager(true));
    let out = first.on(Input::Tcf(tcf_yes));
    let stored = Page::stored_after(&out);
    // A returning shopper kept under the manager's consent: wait for it...
    let (mut second, _) = Page::start(stored.clone(), false);
    assert!(second.session.awaits_consent_manager(true));
    // ...unless the page has no consent manager...
    assert!(!second.session.awaits_consent_manager(false));
    // ...and only until it answers, yes or no.
    second.on(Input::Tcf(from_tcf(|_| false)));
    assert!(!second.session.awaits_consent_manager(true));
    // The site's own stored choice answers at once.
    let mut own = stored;
    own.consent = Some(Purposes::both(Consent::Granted).encode());
    let (third, _) = Page::start(own, false);
    assert!(!third.session.awaits_consent_manager(true));
}

#[test]
fn consent_mode_default_denied_waits_and_an_update_decides() {
    let mut page = Page::new();
    page.on(Input::ConsentMode {
        update: false,
        personalisation: Some(false),
        measurement: Some(false),
    });
    page.view();
    assert_eq!(page.session.purposes(), Purposes::default());
    assert_eq!(page.session.outbox().len(), 1, "kept for an answer");
    page.on(Input::ConsentMode {
        update: true,
        personalisation: None,
        measurement: Some(true),
    });
    assert_eq!(page.session.purposes().measurement, Consent::Granted);
    assert_eq!(page.session.purposes().personalisation, Consent::Unknown);
    assert!(page.session.id().is_some());
    page.on(Input::ConsentMode {
        update: true,
        personalisation: None,
        measurement: Some(false),
    });
    assert!(page.session.outbox().is_empty());
}

#[test]
fn withdrawing_measurement_removes_every_stored_outbox_and_keeps_the_id_for_erasure() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    let id = page.session.id().map(str::to_string);
    let out = page.on(Input::Own(Purposes {
        personalisation: Consent::Granted,
        measurement: Consent::Denied,
    }));
    assert!(out.contains(&Effect::RemoveOutboxes), "{out:?}");
    assert!(page.session.outbox().is_empty());
    assert_eq!(page.session.id().map(str::to_string), id);
    // Later events are neither kept nor sent.
    let later = page.view();
    assert!(sends(&later).is_empty());
    assert!(
        !later
            .iter()
            .any(|e| matches!(e, Effect::StoreJson(Key::Outbox(_), _)))
    );
    assert!(sends(&page.on(Input::Flush { online: true })).is_empty());
    // And `forget()` can still erase the id on the server.
    let out = page.on(Input::Forget);
    assert!(matches!(&out[0], Effect::Erase { id: erased, .. } if Some(erased) == id.as_ref()));
}

#[test]
fn deny_after_a_grant_erases_the_servers_copy_and_wipes_storage() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    let id = page.session.id().map(str::to_string);
    let out = page.on(Input::Own(no()));
    assert!(
        matches!(&out[..], [.., Effect::Erase { id: erased, .. }, Effect::Wipe] if Some(erased) == id.as_ref()),
        "{out:?}"
    );
    assert_eq!(page.session.id(), None);
    assert_eq!(page.session.profile(), &Profile::default());
}

#[test]
fn a_consent_manager_refusal_erases_an_id_stored_on_an_earlier_visit() {
    let stored = earlier_visit();
    let (mut page, _) = Page::start(stored, false);
    let out = page.on(Input::Tcf(from_tcf(|_| false)));
    assert_eq!(
        out,
        vec![
            Effect::Erase {
                id: "aaaaaaaaaaaaaaaa".into(),
                key: "kkkkkkkkkkkkkkkk".into()
            },
            Effect::Wipe
        ]
    );
}

#[test]
fn global_privacy_control_alone_keeps_a_stored_id_for_the_consent_manager() {
    let stored = earlier_visit();
    let (mut page, out) = Page::start(stored, true);
    assert!(out.is_empty(), "{out:?}");
    page.on(Input::Tcf(from_tcf(|_| true)));
    assert_eq!(page.session.id(), Some("aaaaaaaaaaaaaaaa"));
    assert_eq!(page.session.purposes().measurement, Consent::Denied);
    assert_eq!(page.session.claim(), Some(None));
}

#[test]
fn forget_before_the_consent_manager_answers_still_erases_the_stored_id() {
    let stored = earlier_visit();
    let (mut page, _) = Page::start(stored, false);
    let out = page.on(Input::Forget);
    assert!(matches!(&out[0], Effect::Erase { id, .. } if id == "aaaaaaaaaaaaaaaa"));
    assert_eq!(out.last(), Some(&Effect::Wipe));
    // The shopper said no: a later consent manager answer cannot bring
    // the old id back.
    page.on(Input::Tcf(from_tcf(|_| true)));
    assert_eq!(page.session.id(), None);
}

#[test]
fn another_tabs_withdrawal_stops_this_tab_at_once() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    let old = page.session.id().unwrap_or_default().to_string();
    let sent = sends(&page.on(Input::Flush { online: true }));
    let out = page.on(Input::StorageChanged(Some(Key::Id), None));
    assert!(out.contains(&Effect::Remove(Key::Outbox("p1".into()))));
    assert!(
        !out.iter().any(|e| matches!(e, Effect::Erase { .. })),
        "the other tab erased"
    );
    // The batch in flight answers late: nothing is written back.
    let late = page.on(Input::Sent(sent[0].0, Outcome::Failed(None)));
    assert!(late.is_empty(), "{late:?}");
    let mut after = page.view();
    after.extend(page.on(Input::Tick));
    after.extend(page.on(Input::Flush { online: true }));
    after.extend(page.track_purchase());
    assert!(!stores(&after), "{after:?}");
    assert!(!format!("{after:?}").contains(&old));
}

#[test]
fn another_tabs_grant_is_taken_with_the_id_it_wrote() {
    let mut other = Page::new();
    let written = other.on(Input::Own(yes()));
    let mut page = Page::new();
    for e in &written {
        if let Effect::Store(key, value) = e {
            page.on(Input::StorageChanged(
                Some(key.clone()),
                Some(value.clone()),
            ));
        }
    }
    assert_eq!(page.session.purposes(), yes());
    assert_eq!(page.session.id(), other.session.id());
}

#[test]
fn a_batch_answered_after_forget_changes_nothing() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    let sent = sends(&page.on(Input::Flush { online: true }));
    page.on(Input::Forget);
    assert!(
        page.on(Input::Sent(sent[0].0, Outcome::Delivered))
            .is_empty()
    );
    // A new grant makes a new id; the old one never comes back.
    page.on(Input::Own(yes()));
    assert!(page.session.id().is_some());
    assert_ne!(
        page.session.id(),
        sent[0].1["events"][0]["anon"].as_str(),
        "a new id"
    );
}

#[test]
fn recommendations_read_the_shoppers_items_only_with_personalisation_consent() {
    let mut page = Page::new();
    let viewed = ProfileInput::ViewItem {
        item: "knit-01".into(),
        category: Some("knit".into()),
        brand: None,
    };
    page.on(Input::Profile(viewed.clone()));
    assert!(page.session.recs_profile().is_none(), "before consent");
    page.on(Input::Own(Purposes {
        personalisation: Consent::Denied,
        measurement: Consent::Granted,
    }));
    page.on(Input::Profile(viewed.clone()));
    assert!(page.session.recs_profile().is_none(), "measurement only");
    page.on(Input::Own(yes()));
    page.on(Input::Profile(viewed));
    let items: Vec<String> = crate::recs::device::mine(page.session.recs_profile().unwrap())
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(items, ["knit-01"]);
    page.on(Input::Own(no()));
    assert!(page.session.recs_profile().is_none(), "after a withdrawal");
}

#[test]
fn a_coupon_claim_carries_the_id_only_with_measurement_consent() {
    let mut page = Page::new();
    assert_eq!(page.session.claim(), None, "no claim before consent");
    page.on(Input::Own(Purposes {
        personalisation: Consent::Granted,
        measurement: Consent::Denied,
    }));
    assert!(page.session.id().is_some());
    assert_eq!(page.session.claim(), Some(None), "a claim naming no one");
    page.on(Input::Own(yes()));
    assert_eq!(page.session.claim(), Some(page.session.id()));
    page.on(Input::Own(no()));
    assert_eq!(page.session.claim(), None);
}

#[test]
fn declared_attributes_are_limited_by_name_and_size_and_never_sent() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    let long = "n".repeat(41);
    let err = page
        .with(|s, _| s.declare(&json!({ long.clone(): 1 })))
        .unwrap_err();
    assert!(err.contains(&long), "{err}");
    let big = "x".repeat(MAX_DECLARED_BYTES);
    let err = page
        .with(|s, _| s.declare(&json!({ "bio": big })))
        .unwrap_err();
    assert!(err.contains("4096"), "{err}");
    assert!(
        page.session.declared().is_empty(),
        "a bad call changes nothing"
    );
    let out = page
        .with(|s, _| s.declare(&json!({"name": "Minji-secret", "tier": "gold"})))
        .unwrap_or_default();
    assert!(
        matches!(&out[..], [Effect::StoreJson(Key::Declared, v)] if v["name"] == "Minji-secret")
    );
    page.view();
    page.track_purchase();
    let sent = sends(&page.on(Input::Flush { online: true }));
    assert!(!sent.is_empty());
    assert!(!format!("{sent:?}").contains("Minji-secret"));
    // null removes one.
    page.with(|s, _| s.declare(&json!({"name": null})))
        .unwrap_or_default();
    assert!(!page.session.declared().contains_key("name"));
}

#[test]
fn withdrawing_personalisation_keeps_measurement_and_drops_the_profile() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    page.with(|s, _| s.declare(&json!({"tier": "gold"})))
        .unwrap_or_default();
    let out = page.on(Input::PersonalisationOff);
    for key in [Key::Profile, Key::Declared, Key::Config] {
        assert!(
            out.contains(&Effect::Remove(key.clone())),
            "{key:?}: {out:?}"
        );
    }
    assert!(page.session.declared().is_empty());
    assert_eq!(page.session.profile().visits, 0);
    assert_eq!(page.session.purposes().measurement, Consent::Granted);
    let later = page.view();
    assert!(
        !later
            .iter()
            .any(|e| matches!(e, Effect::StoreJson(Key::Profile, _)))
    );
}

#[test]
fn a_purchase_after_a_seen_offer_converts_it() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.on(Input::Profile(ProfileInput::Exposure {
        campaign: "welcome".into(),
        variant: "a".into(),
    }));
    page.now += 60_000;
    page.track_purchase();
    let kinds = page.kinds();
    assert!(kinds.contains(&"conversion"), "{kinds:?}");
    // The same transaction again is counted once.
    let before = page.session.outbox().len();
    assert!(page.track_purchase().is_empty());
    assert_eq!(page.session.outbox().len(), before);
}

#[test]
fn failed_sends_back_off_and_delivered_ones_leave_the_outbox() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    let sent = sends(&page.on(Input::Flush { online: true }));
    assert!(
        sends(&page.on(Input::Flush { online: true })).is_empty(),
        "one at a time"
    );
    page.on(Input::Sent(sent[0].0, Outcome::Failed(Some(30_000))));
    assert!(
        sends(&page.on(Input::Flush { online: true })).is_empty(),
        "backing off"
    );
    page.now += 30_000;
    let again = sends(&page.on(Input::Flush { online: true }));
    assert_eq!(again.len(), 1);
    let out = page.on(Input::Sent(again[0].0, Outcome::Delivered));
    assert!(out.contains(&Effect::Remove(Key::Outbox("p1".into()))));
    assert!(page.session.outbox().is_empty());
    assert!(sends(&page.on(Input::Flush { online: false })).is_empty());
}

#[test]
fn outboxes_of_pages_that_are_gone_are_adopted_without_an_erased_ids_events() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    let id = page.session.id().unwrap_or_default().to_string();
    let mut mine = Outbox::default();
    mine.push(Event::page_view("e-mine".into(), T0, id.clone()));
    mine.push(Event::page_view(
        "e-erased".into(),
        T0,
        "0ld0ld0ld0ld0ld0".into(),
    ));
    let mut gone = mine.to_value();
    gone["t"] = json!(T0 - ORPHAN_MS);
    let mut alive = mine.to_value();
    alive["t"] = json!(T0 - 1);
    let out = page.on(Input::Orphans(vec![
        ("gone".into(), Some(gone)),
        ("alive".into(), Some(alive)),
        ("junk".into(), None),
    ]));
    assert!(out.contains(&Effect::Remove(Key::Outbox("gone".into()))));
    assert!(out.contains(&Effect::Remove(Key::Outbox("junk".into()))));
    assert!(!out.contains(&Effect::Remove(Key::Outbox("alive".into()))));
    let ids: Vec<&str> = page
        .session
        .outbox()
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["e-mine"]);
}

#[test]
fn a_new_page_with_a_stored_choice_restores_everything() {
    let mut first = Page::new();
    let mut written = first.on(Input::Own(yes()));
    written.extend(first.view());
    written.extend(
        first
            .with(|s, _| s.declare(&json!({"tier": "gold"})))
            .unwrap_or_default(),
    );
    let stored = Page::stored_after(&written);
    let (second, _) = Page::start(stored, false);
    assert_eq!(second.session.purposes(), yes());
    assert_eq!(second.session.id(), first.session.id());
    assert_eq!(second.session.profile().visits, 1);
    assert_eq!(second.session.declared()["tier"], "gold");
}

#[test]
fn the_same_consent_again_writes_nothing_again() {
    // A returning shopper's page reads the choice, id, key, profile and
    // config from storage and writes none of them back at start; a shop
    // that calls `grant()` on every page, or a consent manager that repeats
    // its answer, writes nothing again either.
    let mut first = Page::new();
    let mut written = first.on(Input::Own(yes()));
    written.extend(first.view());
    written.push(Effect::Store(Key::Config, "CONFIG".into()));
    let mut stored = Page::stored_after(&written);
    stored.config = Some(("CONFIG".into(), None));
    let (mut second, at_start) = Page::start(stored.clone(), false);
    assert!(!stores(&at_start), "{at_start:?}");
    assert_eq!(second.session.purposes(), yes());
    assert_eq!(second.session.id(), first.session.id());
    assert_eq!(second.session.profile().visits, 1);
    assert_eq!(second.on(Input::Own(yes())), Vec::new());
    let tcf = Input::Tcf(yes());
    second.on(tcf.clone());
    assert_eq!(second.on(tcf), Vec::new());
    assert_eq!(second.session.id(), first.session.id());
    // Storage that lost the erase key gets a new one, with the id.
    let (lost, at_start) = Page::start(
        Stored {
            key: None,
            ..stored
        },
        false,
    );
    assert_eq!(lost.session.id(), first.session.id());
    let key = lost.session.key.clone().unwrap();
    assert!(
        at_start.contains(&Effect::Store(Key::EraseKey, key)),
        "{at_start:?}"
    );
    // A different answer still counts.
    let out = second.on(Input::Own(no()));
    assert!(out.iter().any(|e| matches!(e, Effect::Wipe)), "{out:?}");
}

#[test]
fn http_answers_map_to_delivered_retried_or_refused() {
    assert_eq!(Outcome::of_status(200, None), Outcome::Delivered);
    assert_eq!(Outcome::of_status(204, None), Outcome::Delivered);
    assert_eq!(
        Outcome::of_status(429, Some(5_000)),
        Outcome::Failed(Some(5_000))
    );
    assert_eq!(Outcome::of_status(408, None), Outcome::Failed(None));
    assert_eq!(
        Outcome::of_status(503, Some(1_000)),
        Outcome::Failed(Some(1_000))
    );
    assert_eq!(Outcome::of_status(400, None), Outcome::Refused);
    assert_eq!(Outcome::of_status(413, None), Outcome::Refused);
}

#[test]
fn consent_mode_calls_read_default_and_update_only() {
    assert_eq!(
        Input::consent_mode("default", Some("denied"), Some("granted")),
        Some(Input::ConsentMode {
            update: false,
            personalisation: Some(false),
            measurement: Some(true),
        })
    );
    assert_eq!(
        Input::consent_mode("update", None, Some("denied")),
        Some(Input::ConsentMode {
            update: true,
            personalisation: None,
            measurement: Some(false),
        })
    );
    assert_eq!(Input::consent_mode("set", Some("granted"), None), None);
}

#[test]
fn the_json_length_matches_serde_json() {
    for v in [
        json!(null),
        json!({"a": [1, -20, true, false, null, "x\"y\\z\n\u{1}é한"], "b": {}}),
        json!([]),
        json!({"tier": "gold", "points": 1200, "birthday_month": 3}),
    ] {
        assert_eq!(
            json_len(&v),
            serde_json::to_string(&v).map(|s| s.len()).unwrap_or(0),
            "{v}"
        );
    }
}

#[test]
fn storage_keys_round_trip() {
    for key in [
        Key::Consent,
        Key::Id,
        Key::EraseKey,
        Key::Config,
        Key::Etag,
        Key::Profile,
        Key::Declared,
        Key::Customer,
        Key::Remote,
        Key::Outbox("ab12".into()),
    ] {
        assert_eq!(Key::parse(&key.name()), Some(key));
    }
    assert_eq!(Key::parse("other"), None);
}

#[test]
fn personalisation_without_an_answer_on_measurement_keeps_events_unsent() {
    let mut page = Page::new();
    page.on(Input::ConsentMode {
        update: true,
        personalisation: Some(true),
        measurement: None,
    });
    assert!(page.session.id().is_some());
    let mut out = page.view();
    out.extend(page.on(Input::Flush { online: true }));
    assert!(sends(&out).is_empty(), "{out:?}");
    assert!(
        !out.iter()
            .any(|e| matches!(e, Effect::StoreJson(Key::Outbox(_), _)))
    );
    assert_eq!(page.session.claim(), Some(None));
    // The answer comes: they go.
    page.on(Input::ConsentMode {
        update: true,
        personalisation: None,
        measurement: Some(true),
    });
    assert_eq!(sends(&page.on(Input::Flush { online: true })).len(), 1);
}

fn identifies(effects: &[Effect]) -> Vec<(String, String, bool)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Identify {
                id,
                customer,
                profile,
                ..
            } => Some((id.clone(), customer.clone(), *profile)),
            _ => None,
        })
        .collect()
}

fn signed_in() -> Input {
    Input::Identify(Some(("c-42".into(), "ab".repeat(32))))
}

#[cfg(feature = "identity")]
#[test]
fn identify_waits_for_measurement_and_asks_for_the_profile_only_with_personalisation() {
    let mut page = Page::new();
    // Before consent: remembered for this page, nothing sent.
    assert!(identifies(&page.on(signed_in())).is_empty());
    // Measurement only: the id is linked, no profile is asked for.
    let out = page.on(Input::Own(Purposes {
        personalisation: Consent::Denied,
        measurement: Consent::Granted,
    }));
    let id = page.session.id().unwrap().to_string();
    assert_eq!(identifies(&out), [(id.clone(), "c-42".to_string(), false)]);
    // Once per page.
    assert!(identifies(&page.on(Input::Own(yes()))).is_empty());
    // The answer links it; the next page of the same browser does not ask
    // again while it needs no profile.
    let out = page.on(Input::Identified("c-42".into(), Ok(None)));
    assert!(out.contains(&Effect::Store(Key::Customer, "c-42".into())));
    assert_eq!(page.session.customer(), Some("c-42"));
}

#[cfg(feature = "identity")]
#[test]
fn another_sign_in_before_the_first_link_is_answered_links_the_second_customer_only() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    let out = page.on(signed_in());
    let first_id = page.session.id().unwrap().to_string();
    assert_eq!(identifies(&out).len(), 1);
    // Someone else signs in before the first link's answer has come back:
    // this browser starts afresh, and their link is asked for at once.
    let out = page.on(Input::Identify(Some(("c-7".into(), "cd".repeat(32)))));
    let second_id = page.session.id().unwrap().to_string();
    assert_ne!(first_id, second_id);
    assert_eq!(identifies(&out), [(second_id, "c-7".to_string(), true)]);
    // The first answer is for someone no longer signed in: nothing linked.
    let out = page.on(Input::Identified("c-42".into(), Ok(None)));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(page.session.customer(), None);
    // The second one's answer links them.
    let out = page.on(Input::Identified("c-7".into(), Ok(None)));
    assert!(out.contains(&Effect::Store(Key::Customer, "c-7".into())));
    assert_eq!(page.session.customer(), Some("c-7"));
}

#[cfg(feature = "identity")]
#[test]
fn the_other_devices_profile_is_merged_into_what_decisions_read_and_never_into_the_stored_one() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    let out = page.on(signed_in());
    assert_eq!(identifies(&out).len(), 1);
    assert!(
        identifies(&out)[0].2,
        "personalisation allows asking for the profile"
    );
    let mut phone = Profile::default();
    for day in [45, 40] {
        phone.apply(
            &ProfileInput::PageView {
                category: None,
                sale: false,
            },
            &ProfileConfig::default(),
            T0 - day * 86_400_000,
            540,
        );
    }
    let out = page.on(Input::Identified("c-42".into(), Ok(Some(phone.to_value()))));
    assert!(
        out.iter()
            .any(|e| matches!(e, Effect::StoreJson(Key::Remote, v) if v["profile"]["visits"] == 2))
    );
    assert_eq!(page.session.profile().visits, 3);
    assert_eq!(page.session.own_profile().visits, 1);
    assert!(
        !out.iter()
            .any(|e| matches!(e, Effect::StoreJson(Key::Profile, p) if p["visits"] != 1)),
        "the stored profile stays this browser's: {out:?}"
    );
    // A new view keeps both: this browser's count grows, the merge follows.
    page.view();
    assert_eq!(page.session.profile().visits, 4);
    // The export shows both, named.
    let export = page.session.export();
    assert_eq!(export["customer"], "c-42");
    // The profile is this browser's own, as stored.
    let own = Profile::text_to_value(export["profile"].as_str().unwrap());
    assert_eq!(own["visits"], 2);
    assert_eq!(page.session.own_profile().visits, 2);
    assert_eq!(export["other_devices"]["visits"], 2);
    // Withdrawing personalisation drops the other devices too.
    let out = page.on(Input::PersonalisationOff);
    assert!(out.contains(&Effect::Remove(Key::Remote)));
    assert_eq!(page.session.profile().visits, 0);
}

#[cfg(feature = "identity")]
#[test]
fn signing_out_starts_the_browser_afresh_for_whoever_uses_it_next() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.view();
    page.on(signed_in());
    page.on(Input::Identified(
        "c-42".into(),
        Ok(Some(Profile::default().to_value())),
    ));
    page.with(|s, _| s.declare(&json!({"first_name": "Minji"})))
        .unwrap();
    let old = page.session.id().unwrap().to_string();
    let out = page.on(Input::Identify(None));
    let new = page.session.id().unwrap().to_string();
    assert_ne!(old, new);
    for key in [Key::Customer, Key::Remote, Key::Profile, Key::Declared] {
        assert!(
            out.contains(&Effect::Remove(key.clone())),
            "{key:?}: {out:?}"
        );
    }
    assert!(out.contains(&Effect::Store(Key::Id, new.clone())));
    assert_eq!(page.session.customer(), None);
    assert!(page.session.declared().is_empty());
    assert_eq!(page.session.profile().visits, 0);
    // Signing out when no one signed in changes nothing.
    assert!(page.on(Input::Identify(None)).is_empty());
}

#[cfg(feature = "identity")]
#[test]
fn someone_else_signing_in_on_a_linked_browser_gets_a_new_id() {
    let (mut page, mut all) = Page::start(Stored::default(), false);
    all.extend(page.on(Input::Own(yes())));
    all.extend(page.on(signed_in()));
    all.extend(page.on(Input::Identified("c-42".into(), Ok(None))));
    let first = page.session.id().unwrap().to_string();
    // A new page of the same browser: someone else signs in.
    let (mut next, _) = Page::start(Page::stored_after(&all), false);
    next.next += 5000; // another page's random ids
    assert_eq!(next.session.customer(), Some("c-42"));
    assert_eq!(next.session.id(), Some(first.as_str()));
    let out = next.on(Input::Identify(Some(("c-77".into(), "cd".repeat(32)))));
    let second = next.session.id().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(identifies(&out), [(second, "c-77".to_string(), true)]);
}

#[cfg(feature = "identity")]
#[test]
fn a_late_identify_answer_after_forget_or_a_refusal_links_nothing() {
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.on(signed_in());
    page.on(Input::Forget);
    assert!(
        page.on(Input::Identified(
            "c-42".into(),
            Ok(Some(Profile::default().to_value()))
        ))
        .is_empty()
    );
    assert_eq!(page.session.customer(), None);
    let mut page = Page::new();
    page.on(Input::Own(yes()));
    page.on(signed_in());
    assert!(
        page.on(Input::Identified("c-42".into(), Err(true)))
            .is_empty()
    );
    assert_eq!(page.session.customer(), None);
}

#[test]
fn an_identify_call_names_what_is_wrong() {
    let proof = Some("ab".repeat(32));
    assert_eq!(
        Input::identify_call(Some("c-1".into()), proof.clone()),
        Ok(Input::Identify(Some(("c-1".into(), "ab".repeat(32)))))
    );
    assert_eq!(Input::identify_call(None, None), Ok(Input::Identify(None)));
    for customer in ["", "c\u{7}", &"c".repeat(129)] {
        let e = Input::identify_call(Some(customer.into()), proof.clone()).unwrap_err();
        assert!(e.contains("customer id"), "{e}");
    }
    for p in [None, Some("zz".repeat(32)), Some("ab".repeat(31))] {
        let e = Input::identify_call(Some("c-1".into()), p).unwrap_err();
        assert!(e.contains("64 hex digits"), "{e}");
    }
}

#[test]
fn overlay_triggers_see_the_cart_and_earlier_sessions_only_with_personalisation() {
    let mut page = Page::new();
    page.view();
    page.on(Input::Profile(ProfileInput::AddToCart {
        item: "knit-01".into(),
        category: None,
        price: 59000.0,
        quantity: 1,
    }));
    let activity = crate::trigger::PageActivity::default();
    assert_eq!(page.session.profile().cart.len(), 1);
    let before = page.session.page_signals(activity);
    assert_eq!((before.sessions, before.cart_items), (0, 0));
    page.on(Input::Own(Purposes {
        personalisation: Consent::Denied,
        measurement: Consent::Granted,
    }));
    let measured = page.session.page_signals(activity);
    assert_eq!((measured.sessions, measured.cart_items), (0, 0));
    page.on(Input::Own(yes()));
    page.on(Input::Profile(ProfileInput::AddToCart {
        item: "knit-02".into(),
        category: None,
        price: 61000.0,
        quantity: 1,
    }));
    let granted = page.session.page_signals(activity);
    assert!(granted.sessions >= 1, "{granted:?}");
    assert_eq!(granted.cart_items, page.session.profile().cart.len() as u32);
    assert!(granted.cart_items >= 1);
    page.on(Input::Own(no()));
    let withdrawn = page.session.page_signals(activity);
    assert_eq!((withdrawn.sessions, withdrawn.cart_items), (0, 0));
}

#[test]
fn outboxes_of_pages_that_are_gone_are_looked_for_once_measurement_is_allowed_and_every_few_seconds()
 {
    let reads = |out: &[Effect]| out.iter().filter(|e| **e == Effect::ReadOutboxes).count();
    // No consent: nothing is read, however long the page stays.
    let mut page = Page::new();
    for _ in 0..10 {
        page.now += 1_000;
        assert_eq!(reads(&page.on(Input::Tick)), 0);
    }
    // Personalisation only: this page sends nothing, so it adopts nothing.
    page.on(Input::Own(Purposes {
        personalisation: Consent::Granted,
        measurement: Consent::Denied,
    }));
    page.now += ADOPT_EVERY_MS;
    assert_eq!(reads(&page.on(Input::Tick)), 0);
    // Measurement granted: at once, then every `ADOPT_EVERY_MS` on the
    // timer's tick.
    assert_eq!(reads(&page.on(Input::Own(yes()))), 1);
    let mut ticks = Vec::new();
    for _ in 0..9 {
        page.now += 1_000;
        ticks.push(reads(&page.on(Input::Tick)));
    }
    assert_eq!(ticks.iter().sum::<usize>(), 3, "{ticks:?}");
    assert!(
        ticks.windows(3).all(|w| w.iter().sum::<usize>() == 1),
        "{ticks:?}"
    );
    // A new page with a stored choice of both looks at once.
    let stored = Page::stored_after(&page.on(Input::Own(yes())));
    let (_, start) = Page::start(
        Stored {
            consent: Some("granted".into()),
            ..stored
        },
        false,
    );
    assert_eq!(reads(&start), 1, "{start:?}");
    let (_, refused) = Page::start(
        Stored {
            consent: Some("denied".into()),
            ..Stored::default()
        },
        false,
    );
    assert_eq!(reads(&refused), 0);
    // A consent manager's yes, on a page that started without an answer.
    let (mut cmp, start) = Page::start(Stored::default(), false);
    assert_eq!(reads(&start), 0);
    assert_eq!(reads(&cmp.on(Input::Tcf(from_tcf(|_| true)))), 1);
    // A second yes from the same source is no new permission.
    assert_eq!(reads(&cmp.on(Input::Tcf(from_tcf(|_| true)))), 0);
}

#[test]
fn a_profile_an_earlier_widget_stored_as_json_is_upgraded_before_anything_decides_or_writes_it() {
    // What an earlier widget left: the choice, the id, and the profile as
    // JSON, with a dismissal in its ledger.
    let mut earlier = Profile::default();
    let cfg = crate::profile::ProfileConfig::default();
    earlier.apply(
        &ProfileInput::PageView {
            category: Some("knit".into()),
            sale: false,
        },
        &cfg,
        T0 - 86_400_000,
        540,
    );
    earlier.apply(
        &ProfileInput::Dismiss {
            campaign: "spring".into(),
        },
        &cfg,
        T0 - 86_400_000,
        540,
    );
    let json = serde_json::to_string(&earlier.to_value()).unwrap();
    let stored = Stored {
        consent: Some(yes().encode()),
        profile: Some(json.clone()),
        ..earlier_visit()
    };
    let (mut page, at_start) = Page::start(stored.clone(), false);
    assert!(
        at_start.contains(&Effect::Upgrade(json.clone())),
        "{at_start:?}"
    );
    assert!(!stores(&at_start), "{at_start:?}");
    assert!(page.session.upgrading(), "the first decision waits");
    // This page's view waits with it: the old profile is not overwritten.
    let viewed = page.view();
    assert!(
        !viewed
            .iter()
            .any(|e| matches!(e, Effect::Store(Key::Profile, _))),
        "{viewed:?}"
    );
    // The second module's answer: the same profile in the stored form,
    // with this page's view replayed on top, written once.
    let out = page.on(Input::Upgraded(Some(earlier.to_text())));
    assert!(!page.session.upgrading());
    assert_eq!(page.session.profile().visits, 2);
    assert!(page.session.profile().ledger.entry("spring").is_some());
    let written = Page::stored_after(&out).profile.unwrap();
    assert_eq!(
        Profile::from_text(&written).as_ref(),
        Some(page.session.profile())
    );
    // A second answer changes nothing.
    assert_eq!(page.on(Input::Upgraded(None)), Vec::new());

    // An old profile the second module cannot read: afresh, with this page.
    let (mut unreadable, _) = Page::start(stored.clone(), false);
    unreadable.view();
    let out = unreadable.on(Input::Upgraded(None));
    assert_eq!(unreadable.session.profile().visits, 1);
    assert!(Page::stored_after(&out).profile.is_some());

    // Without personalisation consent nothing is upgraded, and a grant
    // asks for it then.
    let (mut waiting, at_start) = Page::start(
        Stored {
            consent: None,
            ..stored
        },
        false,
    );
    assert!(
        !at_start.iter().any(|e| matches!(e, Effect::Upgrade(_))),
        "{at_start:?}"
    );
    assert!(!waiting.session.upgrading());
    let granted = waiting.on(Input::Own(yes()));
    assert!(granted.contains(&Effect::Upgrade(json)), "{granted:?}");
    assert!(waiting.session.upgrading());
    // A withdrawal while it waits: nothing is upgraded any more.
    waiting.on(Input::Own(no()));
    assert!(!waiting.session.upgrading());
    assert_eq!(
        waiting.on(Input::Upgraded(Some(earlier.to_text()))),
        Vec::new()
    );
    assert_eq!(waiting.session.profile(), &Profile::default());
}
