use super::*;

#[test]
fn signatures_match_the_specifications_example() {
    // The example of the Standard Webhooks specification.
    let sig = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        r#"{"test": 2432232314}"#,
    );
    assert_eq!(
        sig.as_deref(),
        Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    );
    assert_eq!(sign("no-prefix", "m", 1, "{}"), None);
    assert_eq!(sign("whsec_***", "m", 1, "{}"), None);
}

#[test]
fn after_a_rotation_both_secrets_sign_for_a_while() {
    let mut endpoint = Endpoint {
        site: "s".into(),
        id: "ep_1".into(),
        url: "https://example.invalid/hook".into(),
        events: vec!["coupon.redeemed".into()],
        description: String::new(),
        secret: new_secret(),
        previous: None,
        created_ms: 0,
        disabled: None,
    };
    let one = signatures(&endpoint, "msg_1", 10, "{}", 1_000);
    assert_eq!(one.split(' ').count(), 1);
    let old = endpoint.secret.clone();
    endpoint.secret = new_secret();
    endpoint.previous = Some((old.clone(), 5_000));
    let both = signatures(&endpoint, "msg_1", 10, "{}", 1_000);
    let parts: Vec<&str> = both.split(' ').collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(Some(parts[1].to_string()), sign(&old, "msg_1", 10, "{}"));
    // After the overlap only the new secret signs.
    assert_eq!(signatures(&endpoint, "msg_1", 10, "{}", 5_000), parts[0]);
}

#[test]
fn secrets_and_ids_have_the_specifications_form() {
    let secret = new_secret();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);
    assert_ne!(new_secret(), secret);
    let id = message_id();
    assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
    assert!(endpoint_id().starts_with("ep_"));
}

#[test]
fn the_schedule_backs_off_over_more_than_a_day_with_jitter() {
    assert_eq!(backoff_ms(SCHEDULE_MS, 0), None);
    assert_eq!(backoff_ms(SCHEDULE_MS, 1), Some(5_000));
    assert_eq!(backoff_ms(SCHEDULE_MS, 7), Some(36_000_000));
    assert_eq!(backoff_ms(SCHEDULE_MS, 8), None);
    assert!(SCHEDULE_MS.windows(2).all(|w| w[0] <= w[1]));
    assert!(SCHEDULE_MS.iter().sum::<i64>() > 86_400_000);
    assert_eq!(jittered(10_000, 0.0), 8_000);
    assert_eq!(jittered(10_000, 0.5), 10_000);
    assert_eq!(jittered(10_000, 1.0), 12_000);
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    assert_eq!(retry_after_ms("120", 0), Some(120_000));
    assert_eq!(retry_after_ms(" 0 ", 0), Some(0));
    // 1994-11-06 08:49:37 UTC is 784111777 s after the epoch.
    let at = 784_111_777_000;
    assert_eq!(
        retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at - 30_000),
        Some(30_000)
    );
    assert_eq!(
        retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", at + 1),
        Some(0)
    );
    assert_eq!(retry_after_ms("soon", 0), None);
    assert_eq!(retry_after_ms("-5", 0), None);
}

#[test]
fn payloads_carry_type_timestamp_and_data() {
    let body = payload(
        "coupon.redeemed",
        &json!({"code": "A-1"}),
        1_764_563_477_250,
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["type"], "coupon.redeemed");
    assert_eq!(v["timestamp"], "2025-12-01T04:31:17.250Z");
    assert_eq!(v["data"]["code"], "A-1");
}
