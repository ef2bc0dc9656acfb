//! Segments over the shoppers the server rolled up: built-in ones, a
//! segment of one's own, changes sent as webhooks, exports streamed.

use std::time::Duration;

use dangol_server::segments::RangeMembers;
use dangol_server::webhooks::Deliverer;

use super::*;

async fn buy(state: &AppState, id: &str, anon: &str) {
    let events = json!({"events": [
        results_event(&format!("evt_pv_{id}"), "page_view", anon, None, None, None),
        results_event(&format!("evt_by_{id}"), "purchase", anon, None, None, Some(30_000.0)),
    ]});
    let (status, _, body) = send(state, post_events(&events, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn call(state: &AppState, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, body) = send(state, bearer(method, uri, &body)).await;
    (status, body)
}

pub async fn segments_fill_follow_shoppers_and_send_their_changes(state: AppState) {
    buy(&state, "seg0001", "segm-aaaaaaaaaaaaaaaa").await;
    buy(&state, "seg0002", "segm-bbbbbbbbbbbbbbbb").await;
    // The built-in segments are there from the start, and stay.
    let (status, list) = call(&state, "GET", "/v1/admin/sites/demo/segments", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in [
        "newly-dormant",
        "at-risk",
        "lapsed-vip",
        "cart-not-recovered",
        "one-purchase-no-second",
    ] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let (status, _) = call(
        &state,
        "DELETE",
        "/v1/admin/sites/demo/segments/at-risk",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = call(
        &state,
        "PUT",
        "/v1/admin/sites/demo/segments/at-risk",
        json!({"condition": {"orders": 1}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Conditions are checked, every problem named.
    let (status, body) = call(
        &state,
        "POST",
        "/v1/admin/sites/demo/segments",
        json!({"id": "bad one", "name": "", "condition": {"page.path": "/", "orders": {"$frob": 1}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let problems = body["error"]["problems"].to_string();
    assert!(problems.contains("`id` `bad one`"), "{problems}");
    assert!(problems.contains("`name`"), "{problems}");
    assert!(problems.contains("$frob"), "{problems}");

    // A segment of one's own fills at once; its first fill is a baseline.
    let (receiver, receiver_url) = Receiver::start(&[]).await;
    let (status, body) = call(
        &state,
        "POST",
        "/v1/admin/sites/demo/webhooks",
        json!({"url": receiver_url, "events": ["segment.entered", "segment.left"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, made) = call(
        &state,
        "POST",
        "/v1/admin/sites/demo/segments",
        json!({"id": "buyers", "name": "Bought at least once", "condition": {"orders": {"$gte": 1}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["members"], 2);
    let deliverer = Deliverer::new(vec![0], Duration::from_secs(5)).unwrap();
    deliverer.round(state.store.as_ref()).await.unwrap();
    assert!(receiver.got().is_empty(), "a first fill sends nothing");

    // A new buyer enters, an erased one leaves: each change is a webhook,
    // once (the erased one's when it is erased).
    buy(&state, "seg0003", "segm-cccccccccccccccc").await;
    assert_eq!(
        send(&state, erase("segm-aaaaaaaaaaaaaaaa", None, true))
            .await
            .0,
        StatusCode::OK
    );
    // The erased id has left already: no export lists it, even before the
    // next refresh.
    let left = members_of(state.store.as_ref(), "buyers").await;
    assert_eq!(left, ["segm-bbbbbbbbbbbbbbbb"]);
    let (_, list) = call(&state, "GET", "/v1/admin/sites/demo/segments", Value::Null).await;
    let buyers = list["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "buyers")
        .unwrap();
    assert_eq!(buyers["members"], 1, "{buyers}");
    let (status, refreshed) = call(
        &state,
        "POST",
        "/v1/admin/sites/demo/segments/buyers/refresh",
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["members"], 2);
    deliverer.round(state.store.as_ref()).await.unwrap();
    let mut seen: Vec<(String, String)> = receiver
        .bodies()
        .iter()
        .map(|b| {
            (
                b["type"].as_str().unwrap().to_string(),
                b["data"]["anon"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                "segment.entered".to_string(),
                "segm-cccccccccccccccc".to_string()
            ),
            (
                "segment.left".to_string(),
                "segm-aaaaaaaaaaaaaaaa".to_string()
            ),
        ]
    );

    // A second server applying the same changes (two refreshing together)
    // changes nothing more and sends nothing more.
    let same = [
        "segm-bbbbbbbbbbbbbbbb".to_string(),
        "segm-cccccccccccccccc".to_string(),
    ];
    let again = state
        .store
        .set_members_between(
            "demo",
            ("", None),
            &[RangeMembers {
                segment: "buyers",
                matching: &same,
                notify: true,
            }],
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(again, [(0, 0)]);
    deliverer.round(state.store.as_ref()).await.unwrap();
    assert_eq!(receiver.got().len(), 2, "each change is sent once");

    // Its days: who entered and left, and its size.
    let (_, one) = call(
        &state,
        "GET",
        "/v1/admin/sites/demo/segments/buyers?days=7",
        Value::Null,
    )
    .await;
    let today = one["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["entered"], 3, "{one}");
    assert_eq!(today["left"], 1, "{one}");
    assert_eq!(today["members"], 2, "{one}");

    // The export, as JSON lines and CSV.
    let req = Request::get("/v1/admin/sites/demo/segments/buyers/members")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let res = app(state.clone()).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/x-ndjson");
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let anons: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["anon"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(anons, ["segm-bbbbbbbbbbbbbbbb", "segm-cccccccccccccccc"]);
    let req = Request::get("/v1/admin/sites/demo/segments/buyers/members?format=csv")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "anon,customer_id,entered_ms");
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("segm-bbbbbbbbbbbbbbbb,,"));
    // A sample: the first members by id, as many as asked for.
    for (query, expected) in [
        ("limit=1", Some(1)),
        ("limit=2", Some(2)),
        ("limit=0", None),
    ] {
        let req = Request::get(format!(
            "/v1/admin/sites/demo/segments/buyers/members?{query}"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
        let res = app(state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let text = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        match expected {
            Some(n) => {
                assert_eq!(status, StatusCode::OK, "{text}");
                assert_eq!(text.lines().count(), n, "{text}");
                assert!(
                    text.starts_with("{\"anon\":\"segm-bbbbbbbbbbbbbbbb\""),
                    "{text}"
                );
            }
            None => assert_eq!(status, StatusCode::BAD_REQUEST, "{text}"),
        }
    }
}

/// Rolls up what is pending, then delivers what that queued.
async fn roll_up_and_deliver(state: &AppState, deliverer: &Deliverer) {
    dangol_server::rollups::catch_up(state.store.as_ref(), Duration::from_secs(10))
        .await
        .unwrap();
    deliverer.round(state.store.as_ref()).await.unwrap();
}

pub async fn lifecycle_changes_are_sent_as_webhooks(state: AppState) {
    let (receiver, receiver_url) = Receiver::start(&[]).await;
    let (status, body) = call(
        &state,
        "POST",
        "/v1/admin/sites/demo/webhooks",
        json!({"url": receiver_url, "events": ["lifecycle.changed"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let deliverer = Deliverer::new(vec![0], Duration::from_secs(5)).unwrap();
    let anon = "lcyc-aaaaaaaaaaaaaaaa";
    // A first visit: rolled up for the first time, a baseline, nothing sent.
    let events = json!({"events": [
        results_event("evt_lc_pv1", "page_view", anon, None, None, None),
    ]});
    assert_eq!(
        send(&state, post_events(&events, None)).await.0,
        StatusCode::OK
    );
    roll_up_and_deliver(&state, &deliverer).await;
    assert!(receiver.got().is_empty(), "a first rollup sends nothing");
    // A purchase: new → active, sent once.
    let events = json!({"events": [
        results_event("evt_lc_by1", "purchase", anon, None, None, Some(30_000.0)),
    ]});
    assert_eq!(
        send(&state, post_events(&events, None)).await.0,
        StatusCode::OK
    );
    roll_up_and_deliver(&state, &deliverer).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let b = &bodies[0];
    assert_eq!(b["type"], "lifecycle.changed", "{b}");
    assert_eq!(
        (&b["data"]["anon"], &b["data"]["from"], &b["data"]["to"]),
        (&json!(anon), &json!("new"), &json!("active")),
        "{b}"
    );
    assert_eq!(b["data"]["customer_id"], Value::Null);
    // Another page view in the same stage sends nothing more.
    let events = json!({"events": [
        results_event("evt_lc_pv2", "page_view", anon, None, None, None),
    ]});
    assert_eq!(
        send(&state, post_events(&events, None)).await.0,
        StatusCode::OK
    );
    roll_up_and_deliver(&state, &deliverer).await;
    assert_eq!(receiver.bodies().len(), 1);
}

/// A shopper who bought once and left ages into the built-in segments
/// as the days pass, without sending anything more, and out again.
pub async fn segments_fill_as_shoppers_age_into_them(state: AppState) {
    buy(&state, "age0001", "segm-age-aaaaaaaaaaaa").await;
    let store = state.store.as_ref();
    dangol_server::rollups::catch_up(store, Duration::from_secs(10))
        .await
        .unwrap();
    let now = now_ms();
    let day = 86_400_000;
    let mut seen = Vec::new();
    for days in [0, 20, 40, 70] {
        let segments = dangol_server::segments::of_site(store, "demo", now)
            .await
            .unwrap();
        dangol_server::segments::refresh_site(store, "demo", &segments, now + days * day)
            .await
            .unwrap();
        let mut in_them = Vec::new();
        for segment in &segments {
            let members = store.members("demo", &segment.id, "", 10).await.unwrap();
            if members
                .iter()
                .any(|(anon, _, _)| anon == "segm-age-aaaaaaaaaaaa")
            {
                in_them.push(segment.id.clone());
            }
        }
        seen.push((days, in_them));
    }
    let expect = |days: i64, ids: &[&str]| (days, ids.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        seen,
        vec![
            expect(0, &[]),
            expect(20, &["one-purchase-no-second"]),
            expect(40, &["newly-dormant", "one-purchase-no-second"]),
            expect(70, &["one-purchase-no-second"]),
        ]
    );
}

/// Every member of the segment `many`, in id order.
async fn every_member(store: &dyn dangol_server::store::Store) -> Vec<String> {
    members_of(store, "many").await
}

async fn members_of(store: &dyn dangol_server::store::Store, segment: &str) -> Vec<String> {
    let page = store.members("demo", segment, "", 100_000).await.unwrap();
    page.into_iter().map(|(anon, _, _)| anon).collect()
}

/// Shopper ids `{prefix}-{from:06}` up to `{prefix}-{to:06}`, in order.
fn numbered(prefix: &str, from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("{prefix}-{i:06}")).collect()
}

pub async fn thousands_of_membership_changes_are_stored_once_each(state: AppState) {
    let (status, made) = call(
        &state,
        "POST",
        "/v1/admin/sites/demo/segments",
        json!({"id": "many", "name": "Many", "condition": {"orders": {"$gte": 1}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let store = state.store.as_ref();
    let now = dangol_server::now_ms();
    let ids = |from: usize, to: usize| numbered("many", from, to);
    let between = |range: (String, Option<String>), matching: Vec<String>, notify: bool| async move {
        let changed = store
            .set_members_between(
                "demo",
                (&range.0, range.1.as_deref()),
                &[RangeMembers {
                    segment: "many",
                    matching: &matching,
                    notify,
                }],
                now,
            )
            .await
            .unwrap();
        assert_eq!(changed.len(), 1);
        changed[0]
    };
    let set = |matching: Vec<String>| between((String::new(), None), matching, false);
    // Thousands at once, then thousands of whom 4,500 are members already.
    assert_eq!(set(ids(0, 4500)).await, (4500, 0));
    assert_eq!(set(ids(0, 6000)).await, (1500, 0));
    assert_eq!(every_member(store).await.len(), 6000);
    // Leaving: 2,500 members.
    assert_eq!(set(ids(2500, 6000)).await, (0, 2500));
    assert_eq!(every_member(store).await, ids(2500, 6000));
    // Only what really changed is counted.
    let days = store
        .segment_days("demo", "many", now.div_euclid(86_400_000))
        .await
        .unwrap();
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!((days[0].entered, days[0].exited), (6000, 2500));

    // A refresh range: its members become exactly the matching ones, and
    // nothing outside it changes.
    let after = ids(2999, 3000).remove(0);
    let through = ids(3009, 3010).remove(0);
    let mut matching = ids(3000, 3005);
    matching.push("many-003004x".into());
    let range = (after, Some(through));
    let changed = between(range.clone(), matching.clone(), true).await;
    assert_eq!(changed, (1, 5), "one entered, 3005-3009 left");
    let again = between(range, matching, true).await;
    assert_eq!(again, (0, 0), "a second refresh changes nothing");
    let mut expected = ids(2500, 3005);
    expected.push("many-003004x".into());
    expected.sort();
    expected.extend(ids(3010, 6000));
    assert_eq!(every_member(store).await, expected);
    // The last range runs to the end.
    let last = ids(5989, 5990).remove(0);
    let changed = between((last, None), Vec::new(), false).await;
    assert_eq!(changed, (0, 10));
    assert_eq!(every_member(store).await.len(), 3486);
    let days = store
        .segment_days("demo", "many", now.div_euclid(86_400_000))
        .await
        .unwrap();
    assert_eq!((days[0].entered, days[0].exited), (6001, 2515));
}

pub async fn several_segments_change_together_and_concurrent_refreshes_change_each_once(
    state: AppState,
) {
    for (id, condition) in [("one", json!({"orders": 1})), ("two", json!({"orders": 2}))] {
        let (status, made) = call(
            &state,
            "POST",
            "/v1/admin/sites/demo/segments",
            json!({"id": id, "name": id, "condition": condition}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
    }
    let store = state.store.clone();
    let now = dangol_server::now_ms();
    let ids = |from: usize, to: usize| numbered("both", from, to);
    let members = |segment: &'static str| {
        let store = store.clone();
        async move { members_of(store.as_ref(), segment).await }
    };
    // One range, two segments: each gets exactly its own.
    let (one, two) = (ids(0, 3000), ids(2000, 5000));
    let changed = set_one_and_two(store.as_ref(), &one, &two, false, now).await;
    assert_eq!(changed, [(3000, 0), (3000, 0)]);
    assert_eq!(members("one").await, one);
    assert_eq!(members("two").await, two);

    // Eight refreshes of the same range at once (several servers): between
    // them each membership changes once and is counted once.
    let (one, two) = (ids(1000, 4000), ids(2000, 4500));
    let runs = (0..8).map(|_| {
        let (store, one, two) = (store.clone(), one.clone(), two.clone());
        tokio::spawn(async move { set_one_and_two(store.as_ref(), &one, &two, true, now).await })
    });
    let mut total = [(0, 0), (0, 0)];
    for run in futures_util::future::join_all(runs).await {
        for (sum, changed) in total.iter_mut().zip(run.unwrap()) {
            sum.0 += changed.0;
            sum.1 += changed.1;
        }
    }
    assert_eq!(
        total,
        [(1000, 1000), (0, 500)],
        "entered and left, once each"
    );
    assert_eq!(members("one").await, one);
    assert_eq!(members("two").await, two);
    for segment in ["one", "two"] {
        let days = store
            .segment_days("demo", segment, now.div_euclid(86_400_000))
            .await
            .unwrap();
        let counted = (days[0].entered, days[0].exited);
        let expected = if segment == "one" {
            (4000, 1000)
        } else {
            (3000, 500)
        };
        assert_eq!(
            counted, expected,
            "{segment}: the day counts each change once"
        );
    }
}

/// Sets the members of segments `one` and `two` among every shopper in one
/// call: what changed in each.
async fn set_one_and_two(
    store: &dyn dangol_server::store::Store,
    one: &[String],
    two: &[String],
    notify: bool,
    now: i64,
) -> Vec<(u64, u64)> {
    let segments = [("one", one), ("two", two)].map(|(segment, matching)| RangeMembers {
        segment,
        matching,
        notify,
    });
    store
        .set_members_between("demo", ("", None), &segments, now)
        .await
        .unwrap()
}
