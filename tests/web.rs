//! The widget's browser layer, in headless Chromium (wasm-bindgen-test).
//! Built with the `full` feature (`cargo xtask test` passes it): every
//! renderer in one module, as the second module and the preview have them.
#![cfg(all(target_arch = "wasm32", feature = "full", not(feature = "more")))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic: a panic is a failed test

use dangol::platform::regex::BrowserRegex;
use dangol::render::{Action, Offer, RENDERED_ATTR, inline};
use dangol_engine::condition::RegexEngine;
use dangol_engine::config::{Banner, Content, Cta};
use dangol_engine::i18n::Lang;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::Element;

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn slot(placement: &str) -> Element {
    let div = document().create_element("div").unwrap();
    div.set_attribute("data-dangol-slot", placement).unwrap();
    div.set_inner_html("<p class=\"fallback\">shop's own content</p>");
    document().body().unwrap().append_child(&div).unwrap();
    div
}

fn banner(headline: &str) -> Content {
    Content::Banner(Banner {
        headline: headline.to_string(),
        body: "body text".to_string(),
        image: None,
        cta: Some(Cta {
            text: "Go".to_string(),
            url: "/sale".to_string(),
        }),
        theme: Some("dark".to_string()),
    })
}

fn matches(pattern: &str, text: &str, case_insensitive: bool) -> Option<bool> {
    BrowserRegex
        .compile(pattern, case_insensitive)
        .map(|re| re.is_match(text))
}

#[wasm_bindgen_test]
fn the_browser_regex_keeps_javascript_semantics_and_never_throws() {
    assert_eq!(
        matches("^/demo/(index\\.html)?$", "/demo/", false),
        Some(true)
    );
    assert_eq!(matches("PRODUCT", "/demo/product.html", true), Some(true));
    assert_eq!(matches("PRODUCT", "/demo/product.html", false), Some(false));
    // Lookbehind is JavaScript syntax the Rust regex crate lacks.
    assert_eq!(matches("(?<=demo/)cart", "/demo/cart", false), Some(true));
    assert_eq!(matches("(unclosed", "x", false), None);
    assert_eq!(BrowserRegex.lowercase("ÉTÉ Ünd"), "été ünd");
}

#[wasm_bindgen_test]
fn the_regex_answers_each_text_afresh_though_it_reuses_the_last_one() {
    let product = BrowserRegex.compile("^/demo/product/", false).unwrap();
    let cart = BrowserRegex.compile("cart$", false).unwrap();
    let texts = [
        "/demo/product/3",
        "/demo/product/3",
        "/demo/cart",
        "/demo/product/",
        "",
        "/demo/cart",
    ];
    let got: Vec<(bool, bool)> = texts
        .iter()
        .map(|t| (product.is_match(t), cart.is_match(t)))
        .collect();
    assert_eq!(
        got,
        [
            (true, false),
            (true, false),
            (false, true),
            (true, false),
            (false, false),
            (false, true)
        ]
    );
}

#[wasm_bindgen_test]
fn every_condition_case_holds_in_the_browser() {
    let (count, failures) =
        dangol_engine::spec::condition_cases(include_str!("cases/conditions.json"), &BrowserRegex)
            .unwrap();
    assert!(count >= 100);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[wasm_bindgen_test]
fn every_bucketing_case_holds_in_wasm() {
    let (count, failures) =
        dangol_engine::spec::bucket_cases(include_str!("cases/bucket.json")).unwrap();
    assert!(count >= 60);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Renders `content` inline, in English; the shopper's actions on it are
/// counted in `actions` (clicks, switch-offs...).
fn render_with(
    slot: &web_sys::Element,
    content: &dangol_engine::config::Content,
    why: &[String],
    actions: std::rc::Rc<std::cell::RefCell<Vec<&'static str>>>,
) -> Result<Vec<gloo::events::EventListener>, String> {
    let offer = Offer {
        content,
        campaign: "c1",
        variant: "a",
        why,
        loyalty: None,
        lang: Lang::En,
        sink: std::rc::Rc::new(move |action| {
            actions.borrow_mut().push(match action {
                Action::Click => "click",
                Action::Dismiss => "dismiss",
                Action::Answer(_) => "answer",
                Action::Claim(_) => "claim",
                Action::PersonalisationOff => "off",
                Action::Seen => "seen",
            })
        }),
    };
    inline(slot, &offer).map(|r| r.listeners)
}

/// Renders `content` inline, in English.
fn render(
    slot: &web_sys::Element,
    content: &dangol_engine::config::Content,
    _campaign: &str,
    _variant: &str,
    why: &[String],
) -> Result<Vec<gloo::events::EventListener>, String> {
    render_with(slot, content, why, Default::default())
}

#[wasm_bindgen_test]
fn a_banner_renders_as_text_inside_shadow_dom_and_keeps_the_fallback() {
    let slot = slot("hero");
    let evil = "<img src=x onerror=alert(1)>";
    render(&slot, &banner(evil), "c1", "a", &[]).unwrap();
    let root = slot.shadow_root().expect("a shadow root");
    let headline = root.query_selector(".headline").unwrap().unwrap();
    assert_eq!(headline.text_content().as_deref(), Some(evil));
    assert!(
        root.query_selector("img").unwrap().is_none(),
        "no HTML was parsed"
    );
    let cta = root.query_selector("a.cta").unwrap().unwrap();
    assert_eq!(cta.get_attribute("href").as_deref(), Some("/sale"));
    assert_eq!(slot.get_attribute(RENDERED_ATTR).as_deref(), Some("c1"));
    // The shop's own content is still in the light DOM, untouched.
    assert!(slot.query_selector(".fallback").unwrap().is_some());
    // Rendering again replaces the offer instead of stacking a second one.
    render(&slot, &banner("second"), "c1", "a", &[]).unwrap();
    assert_eq!(root.query_selector_all(".banner").unwrap().length(), 1);
}

#[wasm_bindgen_test]
fn a_slot_with_the_shops_own_shadow_root_is_left_alone() {
    let slot = slot("taken");
    let init = web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open);
    slot.attach_shadow(&init).unwrap();
    let err = render(&slot, &banner("x"), "c1", "a", &[]).unwrap_err();
    assert!(err.contains("shadow root of its own"), "{err}");
    assert!(!slot.has_attribute(RENDERED_ATTR));
}

#[wasm_bindgen_test]
fn a_bad_script_tag_gives_an_inert_widget_not_an_exception() {
    let widget = dangol::start("not a site!".to_string(), "ftp://x".to_string(), None, None);
    assert_eq!(widget.consent_status(), "unknown");
    widget.deny();
    assert_eq!(widget.consent_status(), "denied");
}

#[wasm_bindgen_test]
fn the_page_api_reaches_the_started_widget_until_it_is_destroyed() {
    use wasm_bindgen::JsValue;
    let status = || {
        dangol::call(
            dangol_engine::calls::CONSENT_STATUS,
            JsValue::UNDEFINED,
            JsValue::UNDEFINED,
        )
    };
    assert!(status().is_undefined(), "no widget started yet");
    dangol::start_page("not a site!".to_string(), "ftp://x".to_string(), None, None);
    assert_eq!(status().as_string().as_deref(), Some("unknown"));
    assert!(dangol::call(999, JsValue::NULL, JsValue::NULL).is_undefined());
    dangol::call(
        dangol_engine::calls::DENY,
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
    );
    assert_eq!(status().as_string().as_deref(), Some("denied"));
    dangol::call(
        dangol_engine::calls::DESTROY,
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
    );
    assert!(status().is_undefined(), "the destroyed widget is gone");
}

#[wasm_bindgen_test]
fn every_decision_case_holds_in_the_browser() {
    let (count, failures) =
        dangol_engine::spec::decide_cases(include_str!("cases/decide.json"), &BrowserRegex)
            .unwrap();
    assert!(count >= 40);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[wasm_bindgen_test]
fn a_personal_offer_explains_itself_and_can_switch_personalisation_off() {
    let slot = slot("why");
    let why = vec!["you have 2 items in your cart".to_string()];
    let actions = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let listeners = render_with(&slot, &banner("Still thinking?"), &why, actions.clone()).unwrap();
    assert_eq!(
        listeners.len(),
        3,
        "why toggle, switch-off and the call to action"
    );
    let root = slot.shadow_root().unwrap();
    let panel = root.query_selector(".explain").unwrap().unwrap();
    assert!(panel.has_attribute("hidden"));
    let button: web_sys::HtmlElement = root
        .query_selector(".why")
        .unwrap()
        .unwrap()
        .unchecked_into();
    button.click();
    assert!(!panel.has_attribute("hidden"));
    assert_eq!(
        root.query_selector(".explain-text")
            .unwrap()
            .unwrap()
            .text_content()
            .as_deref(),
        Some("You see this because you have 2 items in your cart.")
    );
    let off: web_sys::HtmlElement = root
        .query_selector(".off")
        .unwrap()
        .unwrap()
        .unchecked_into();
    off.click();
    assert_eq!(
        *actions.borrow(),
        ["off"],
        "the switch-off reached the widget"
    );
    // The shop's own content shows again through a <slot>.
    assert!(root.query_selector("slot").unwrap().is_some());
    assert!(root.query_selector(".banner").unwrap().is_none());
    drop(listeners);
}

#[wasm_bindgen_test]
fn what_json_parse_made_is_read_whole_and_what_the_page_hands_over_within_a_budget() {
    use dangol::platform::json::{from_js, from_parsed};
    // A config of 100 campaigns holds far more values than the page's budget.
    let campaigns: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"id":"c{i}","condition":{{"a":{{"$gte":{i}}}}}}}"#))
        .collect();
    let text = format!(r#"{{"campaigns":[{}]}}"#, campaigns.join(","));
    let parsed = js_sys::JSON::parse(&text).unwrap();
    let whole = from_parsed(&parsed);
    assert_eq!(whole["campaigns"].as_array().map(Vec::len), Some(500));
    assert_eq!(whole["campaigns"][499]["condition"]["a"]["$gte"], 499);
    // The same from the page is cut at the budget, and a cyclic object ends.
    let cut = from_js(&parsed);
    let kept = cut["campaigns"].as_array().map_or(0, Vec::len);
    assert!(kept > 0 && kept < 500, "{kept}");
    let cyclic = js_sys::Object::new();
    js_sys::Reflect::set(&cyclic, &"self".into(), &cyclic).unwrap();
    let walked = from_js(&cyclic);
    assert!(walked.is_object());
}
