use crate::json;
use crate::json::Value;

use super::*;
use crate::condition::NativeRegex;

/// Every config of the shared decision cases.
fn case_configs() -> Vec<CompiledConfig> {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("../../../../../tests/cases/decide.json")).unwrap();
    cases
        .iter()
        .map(|case| SiteConfig::compile_value(&case["config"], &NativeRegex).unwrap())
        .collect()
}

/// The config as the widget sees it: the source conditions stay behind.
fn without_sources(config: &SiteConfig) -> SiteConfig {
    let mut out = config.clone();
    for c in &mut out.campaigns {
        c.condition = Value::Null;
    }
    out
}

#[test]
fn every_case_config_reads_back_as_written() {
    let configs = case_configs();
    assert!(configs.len() >= 40);
    for config in &configs {
        let text = write(config, "l1");
        let back = read(&text, &NativeRegex).unwrap();
        assert_eq!(back.config(), &without_sources(config.config()));
        assert_eq!(back.campaigns().len(), config.campaigns().len());
        for (a, b) in back.campaigns().iter().zip(config.campaigns()) {
            assert_eq!((a.index, a.behavioural), (b.index, b.behavioural));
        }
        // Writing what was read gives the same text: nothing is lost.
        assert_eq!(write(&back, "l1"), text);
        // It keeps the text it was read from (the widget's second module
        // reads the same text); a config compiled from JSON has none.
        assert_eq!(back.source(), text);
        assert_eq!(config.source(), "");
    }
}

#[test]
fn profile_thresholds_and_site_settings_survive() {
    let config = SiteConfig::compile_value(
        &json!({
            "site": "s", "version": 9, "locale": "ko", "currency": "KRW",
            "attribution_hours": 48, "global_holdout": 0.05,
            "pressure": {"per_session": 2, "per_day": 5},
            "saved_groups": {"beta": ["a", 1, 2.5]},
            "tiers": [{"id": "gold", "name": "Gold", "points": 1000, "perks": "free shipping"}],
            "profile": {"session_timeout_minutes": 45, "recency_days": [1, 2, 3, 4], "vip_rfm_total": 12},
            "placements": [{"id": "pop", "kind": "modal", "trigger": {"type": "dwell", "seconds": 12}}],
            "campaigns": [{
                "id": "c", "placement": "pop", "priority": -3, "group": "g", "holdout": 0.1,
                "schedule": {"start_ms": -5, "weekdays": [1, 7], "hours": [22, 6]},
                "caps": {"per_day": 1, "min_gap_minutes": 30, "stop_after_conversion": true},
                "condition": {"utm.source": {"$regex": "^news(letter)?$"}, "cart.value": {"$gte": 1.5}},
                "allocation": {"type": "bandit", "posteriors": [[1, 2], [3, 4]], "min_share": 0.1},
                "variants": [
                    {"id": "a", "content": {"type": "feedback_question", "question": "Which?", "scale": "choice", "choices": ["x", "y"]}},
                    {"id": "b", "content": {"type": "feedback_question", "question": "How?", "scale": "nps"}}
                ]
            }]
        }),
        &NativeRegex,
    )
    .unwrap();
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    let back = read(&write(&config, "l1"), &NativeRegex).unwrap();
    assert_eq!(back.config(), &without_sources(config.config()));
    assert_eq!(back.config().profile.session_timeout_minutes, 45);
    assert_eq!(back.config().profile.vip_rfm_total, 12);
    assert_eq!(back.paths(), config.paths());
    // The regex was compiled again by the reader's engine.
    let attrs = json!({"utm": {"source": "newsletter"}, "cart": {"value": 2}});
    let c = &back.campaigns()[0];
    assert!(c.behavioural);
    assert!(
        c.condition
            .eval(&attrs, &back.config().saved_groups, &NativeRegex)
    );
    let attrs = json!({"utm": {"source": "newsletters"}, "cart": {"value": 2}});
    assert!(
        !c.condition
            .eval(&attrs, &back.config().saved_groups, &NativeRegex)
    );
}

#[test]
fn broken_or_foreign_text_is_refused_by_name() {
    let config = &case_configs()[0];
    let text = write(config, "l1");
    assert_eq!(
        read("{\"site\":\"demo\"}", &NativeRegex).unwrap_err(),
        CompactError::NotBase64
    );
    let mut bytes = unbase64(&text).unwrap();
    bytes[0] = 2;
    let err = read(&crate::wire::base64(&bytes), &NativeRegex).unwrap_err();
    assert_eq!(err, CompactError::Format(2));
    assert!(err.to_string().contains("format 2"), "{err}");
    // Every truncation is corrupt, never a panic or a partial config.
    let bytes = unbase64(&text).unwrap();
    for end in 1..bytes.len() {
        let cut = crate::wire::base64(&bytes[..end]);
        assert!(
            matches!(read(&cut, &NativeRegex), Err(CompactError::Corrupt(_))),
            "cut at {end}"
        );
    }
    // Bytes after the end are corrupt too (an empty tail included).
    for tail in [&[0u8][..], &[0, 0], &[7, 7, 7]] {
        let mut longer = bytes.clone();
        longer.extend_from_slice(tail);
        let err = read(&crate::wire::base64(&longer), &NativeRegex).unwrap_err();
        assert!(
            matches!(err, CompactError::Corrupt(at) if at >= bytes.len()),
            "{tail:?}: {err:?}"
        );
    }
}

#[test]
fn read_as_hands_every_config_read_to_its_holder_corrupt_or_not() {
    use std::cell::RefCell;
    let config = &case_configs()[0];
    let text = write(config, "l1");
    let held = RefCell::new(Vec::new());
    let hold = |c: CompiledConfig| held.borrow_mut().push(c.config().site.clone());
    // Read whole: the holder's value comes back.
    assert_eq!(read_as(&text, &NativeRegex, hold), Ok(()));
    // Cut short: corrupt, yet what was read went to the holder first (a
    // holder that never frees has nothing freed behind its back).
    let bytes = unbase64(&text).unwrap();
    let cut = crate::wire::base64(&bytes[..bytes.len() - 1]);
    assert!(matches!(
        read_as(&cut, &NativeRegex, hold),
        Err(CompactError::Corrupt(_))
    ));
    let site = config.config().site.clone();
    assert_eq!(*held.borrow(), [site.clone(), site]);
    // Not a compact form at all: nothing was read, nothing is handed over.
    assert_eq!(
        read_as("{}", &NativeRegex, hold),
        Err(CompactError::NotBase64)
    );
    assert_eq!(held.borrow().len(), 2);
}

/// A campaign as written by something other than the checking server.
fn forged(content: Content, weights: Option<Vec<f64>>, variants: usize) -> String {
    let campaign = Campaign {
        id: "c".into(),
        name: String::new(),
        placements: vec!["p".into()],
        condition: json!({}),
        schedule: Schedule::default(),
        priority: 0,
        group: None,
        caps: Caps::default(),
        holdout: 0.0,
        allocation: Allocation::Fixed { weights },
        seed: "c".into(),
        hash_version: 2,
        variants: (0..variants)
            .map(|i| Variant {
                id: i.to_string(),
                content: content.clone(),
            })
            .collect(),
        coupon: None,
    };
    let mut paths = Paths::default();
    let condition = Condition::compile_with(&json!({}), &NativeRegex, &mut paths).unwrap();
    let site = SiteConfig::compile_value(&json!({"site": "s", "version": 1}), &NativeRegex)
        .unwrap()
        .config()
        .clone();
    let compiled = CompiledCampaign {
        campaign,
        condition,
        behavioural: false,
        index: 0,
    };
    write(
        &CompiledConfig::assemble(site, String::new(), vec![compiled], paths),
        "l1",
    )
}

fn banner(url: &str) -> Content {
    Content::Banner(Banner {
        headline: "h".into(),
        body: String::new(),
        image: None,
        cta: Some(Cta {
            text: "go".into(),
            url: url.into(),
        }),
        theme: None,
    })
}

#[test]
fn what_would_break_deciding_or_the_page_is_refused() {
    assert!(read(&forged(banner("/sale"), None, 1), &NativeRegex).is_ok());
    assert!(read(&forged(banner("/sale"), Some(vec![1.0]), 1), &NativeRegex).is_ok());
    for text in [
        forged(banner("javascript:alert(1)"), None, 1),
        forged(
            Content::Banner(Banner {
                headline: "h".into(),
                body: String::new(),
                image: Some("data:image/svg+xml,<svg onload=alert(1)>".into()),
                cta: None,
                theme: None,
            }),
            None,
            1,
        ),
        forged(banner("/sale"), None, 0),
        forged(banner("/sale"), Some(vec![0.5, 0.5]), 1),
    ] {
        assert!(matches!(
            read(&text, &NativeRegex),
            Err(CompactError::Corrupt(_))
        ));
    }
}

#[test]
fn the_compact_form_is_smaller_than_the_json() {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("../../../../../tests/cases/decide.json")).unwrap();
    let (mut json_bytes, mut compact_bytes) = (0, 0);
    for case in &cases {
        let config = SiteConfig::compile_value(&case["config"], &NativeRegex).unwrap();
        json_bytes += case["config"].to_string().len();
        compact_bytes += write(&config, "l1").len();
    }
    assert!(
        compact_bytes < json_bytes,
        "{compact_bytes} B compact vs {json_bytes} B JSON"
    );
}

#[test]
fn any_changed_byte_reads_as_a_config_or_an_error_never_a_panic() {
    let configs = case_configs();
    let mut outcomes = [0usize; 2];
    for config in configs.iter().take(12) {
        let bytes = unbase64(&write(config, "l1")).unwrap();
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut changed = bytes.clone();
                changed[at] ^= flip;
                let text = crate::wire::base64(&changed);
                outcomes[usize::from(read(&text, &NativeRegex).is_ok())] += 1;
            }
        }
    }
    // Both happen: some bytes are free text, others are structure.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn an_older_publish_of_the_same_line_is_a_replay_and_anything_else_is_not() {
    let config = &case_configs()[0];
    let v = config.config().version;
    let back = read(&write(config, "line-a"), &NativeRegex).unwrap();
    assert_eq!(back.lineage(), "line-a");
    // Held: a newer version of the same line.
    assert!(back.is_older_than(v + 1, "line-a"));
    // The same or an older version held, another line (a database started
    // afresh), or nothing known: not a replay.
    assert!(!back.is_older_than(v, "line-a"));
    assert!(!back.is_older_than(v.saturating_sub(1), "line-a"));
    assert!(!back.is_older_than(v + 1, "line-b"));
    assert!(!back.is_older_than(v + 1, ""));
    let unknown = read(&write(config, ""), &NativeRegex).unwrap();
    assert!(!unknown.is_older_than(v + 1, ""));
}

#[test]
fn the_churn_model_and_its_threshold_close_the_form_only_when_set() {
    let base = json!({"site": "s", "version": 1, "campaigns": []});
    let mut with = base.clone();
    with["profile"] = json!({
        "at_risk_p_alive": 0.3,
        "churn": {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4, "p": 6, "q": 4, "v": 15}
    });
    let plain = SiteConfig::compile_value(&base, &NativeRegex).unwrap();
    let fitted = SiteConfig::compile_value(&with, &NativeRegex).unwrap();
    let profile = &fitted.config().profile;
    assert_eq!(profile.at_risk_p_alive, Some(0.3));
    assert_eq!(profile.churn.map(|m| m.bgnbd.alpha), Some(4.4));
    assert_eq!(profile.churn.and_then(|m| m.spend).map(|g| g.v), Some(15.0));
    let back = read(&write(&fitted, "l1"), &NativeRegex).unwrap();
    assert_eq!(&back.config().profile, profile);
    // Without a model the form is the one widgets read before: it ends
    // after the campaigns, and reads back without a model.
    let text = write(&plain, "l1");
    let back = read(&text, &NativeRegex).unwrap();
    assert_eq!(back.config().profile.churn, None);
}

#[test]
fn a_bad_churn_model_or_threshold_is_named() {
    for (profile, said) in [
        (
            json!({"at_risk_p_alive": 1.5}),
            "profile.at_risk_p_alive: must be a share",
        ),
        (
            json!({"churn": {"r": 0.2, "a": 1, "b": 2}}),
            "profile.churn.alpha: is missing",
        ),
        (
            json!({"churn": {"r": 0.2, "alpha": -1, "a": 1, "b": 2}}),
            "profile.churn.alpha: must be above 0",
        ),
        (
            json!({"churn": {"r": 0.2, "alpha": 1, "a": 1, "b": 2, "p": 3}}),
            "`p`, `q` and `v` come together",
        ),
    ] {
        let config = json!({"site": "s", "version": 1, "campaigns": [], "profile": profile});
        let err = SiteConfig::compile_value(&config, &NativeRegex)
            .unwrap_err()
            .to_string();
        assert!(err.contains(said), "{err}");
    }
}

#[test]
fn a_recommendations_row_reads_back_and_is_refused_where_it_cannot_show() {
    let site = |content: Value, placement: &str| {
        SiteConfig::compile_value(
            &json!({"site": "s", "version": 1,
                "placements": [{"id": "exit", "kind": "modal"}],
                "campaigns": [{"id": "recs", "placement": placement,
                    "variants": [{"id": "a", "content": content}]}]}),
            &NativeRegex,
        )
    };
    let row = json!({"type": "recommendations", "headline": "You might also like", "count": 6, "strategy": "best_sellers"});
    let config = site(row.clone(), "product-recs").unwrap();
    let back = read(&write(&config, "l1"), &NativeRegex).unwrap();
    let Content::Recommendations(r) = &back.campaigns()[0].campaign.variants[0].content else {
        panic!("not a row: {:?}", back.campaigns()[0].campaign.variants[0]);
    };
    assert_eq!(
        (r.headline.as_str(), r.count, r.per_category, r.strategy),
        ("You might also like", 6, 2, Strategy::BestSellers)
    );
    let refused = |content: Value, placement: &str| {
        let config = site(content, placement).unwrap();
        assert!(config.campaigns().is_empty());
        config.problems()[0].to_string()
    };
    assert!(
        refused(row.clone(), "exit").contains("recommendations show only in an inline slot"),
        "{}",
        refused(row, "exit")
    );
    let too_many = json!({"type": "recommendations", "headline": "H", "count": 13});
    assert!(refused(too_many, "p").contains("count: is 13 but must be 1 to 12"));
    let nameless = json!({"type": "recommendations", "headline": " "});
    assert!(refused(nameless, "p").contains("headline: may not be empty"));
    let unknown = json!({"type": "recommendations", "headline": "H", "strategy": "random"});
    let err = refused(unknown, "p");
    assert!(
        err.contains("strategy: `random` is not one of: related, best_sellers"),
        "{err}"
    );
}
