//! Loyalty prompts (where the shopper stands and what the next tier
//! unlocks) and feedback questions (one tap; the answer becomes an event).

use dangol_engine::config::{FeedbackQuestion, LoyaltyPrompt, Scale};
use dangol_engine::i18n::Lang;
use dangol_engine::loyalty::Progress;
use gloo::events::EventListener;
use wasm_bindgen::JsValue;
use web_sys::{Document, Element, ShadowRoot};

use super::el;

fn number(n: f64, lang: Lang) -> String {
    String::from(js_sys::Number::from(n).to_locale_string(lang.tag()))
}

/// A plain number as text, formatted by the browser (no float formatting
/// code in the wasm).
fn plain(n: f64) -> String {
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// "1,200 / 2,000 points to GOLD", a progress bar and what it unlocks.
pub fn loyalty_node(
    document: &Document,
    prompt: &LoyaltyPrompt,
    progress: &Progress,
    lang: Lang,
) -> Result<Element, JsValue> {
    let root = el(document, "div", "banner loyalty")?;
    root.set_attribute("role", "region")?;
    root.set_attribute("aria-label", &prompt.headline)?;
    let text = el(document, "div", "text")?;
    let headline = el(document, "p", "headline")?;
    headline.set_text_content(Some(&prompt.headline));
    text.append_child(&headline)?;
    let standing = el(document, "p", "standing")?;
    let bar = el(document, "progress", "progress")?;
    match &progress.next {
        Some(next) => {
            let line = lang.points_to(
                &number(progress.points, lang),
                &number(next.points, lang),
                &next.name,
            );
            standing.set_text_content(Some(&line));
            bar.set_attribute("max", &plain(next.points))?;
            bar.set_attribute("value", &plain(progress.points.min(next.points)))?;
            bar.set_attribute("aria-label", &line)?;
        }
        None => {
            standing.set_text_content(Some(
                &lang.top_tier(&number(progress.points, lang), &progress.tier.name),
            ));
            bar.set_attribute("max", "1")?;
            bar.set_attribute("value", "1")?;
            bar.set_attribute("aria-label", &progress.tier.name)?;
        }
    }
    text.append_child(&standing)?;
    text.append_child(&bar)?;
    if let Some(next) = &progress.next
        && !next.perks.is_empty()
    {
        let perks = el(document, "p", "body")?;
        perks.set_text_content(Some(&lang.unlocks(&next.name, &next.perks)));
        text.append_child(&perks)?;
    }
    if !prompt.body.is_empty() {
        let body = el(document, "p", "body")?;
        body.set_text_content(Some(&prompt.body));
        text.append_child(&body)?;
    }
    root.append_child(&text)?;
    Ok(root)
}

/// The question and one button per possible answer.
pub fn feedback_node(
    document: &Document,
    q: &FeedbackQuestion,
    lang: Lang,
) -> Result<Element, JsValue> {
    let root = el(document, "div", "banner feedback")?;
    root.set_attribute("role", "group")?;
    root.set_attribute("aria-label", &q.question)?;
    let text = el(document, "div", "text")?;
    let question = el(document, "p", "headline")?;
    question.set_text_content(Some(&q.question));
    text.append_child(&question)?;
    let answers = el(document, "div", "answers")?;
    let labels: Vec<(u8, String, String)> = match &q.scale {
        Scale::Rating => (1..=5u8)
            .map(|n| (n, "★".repeat(usize::from(n)), lang.score_of(n, 5)))
            .collect(),
        Scale::Nps => (0..=10u8)
            .map(|n| (n, n.to_string(), lang.score_of(n, 10)))
            .collect(),
        Scale::Choice { choices } => choices
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u8, c.clone(), c.clone()))
            .collect(),
    };
    for (value, label, aria) in labels {
        let b = el(document, "button", "answer")?;
        b.set_attribute("type", "button")?;
        b.set_attribute("data-answer", &value.to_string())?;
        b.set_attribute("aria-label", &aria)?;
        b.set_text_content(Some(&label));
        answers.append_child(&b)?;
    }
    text.append_child(&answers)?;
    let thanks = el(document, "p", "status")?;
    thanks.set_attribute("role", "status")?;
    text.append_child(&thanks)?;
    root.append_child(&text)?;
    Ok(root)
}

/// One tap answers: the answer goes to the widget, the buttons go, thanks
/// stay.
pub fn wire_feedback(root: &ShadowRoot, sink: super::Sink, lang: Lang) -> Vec<EventListener> {
    let Ok(Some(answers)) = root.query_selector(".answers") else {
        return Vec::new();
    };
    let shadow = root.clone();
    let thanks = lang.words().thanks;
    vec![EventListener::new(
        &answers.clone(),
        "click",
        move |event| {
            let Some(target) = event.target() else {
                return;
            };
            let Ok(button) = wasm_bindgen::JsCast::dyn_into::<Element>(target) else {
                return;
            };
            let Some(answer) = button
                .get_attribute("data-answer")
                .and_then(|a| a.parse::<u8>().ok())
            else {
                return;
            };
            sink(super::Action::Answer(answer));
            answers.set_inner_html("");
            if let Ok(Some(status)) = shadow.query_selector(".status") {
                status.set_text_content(Some(thanks));
            }
        },
    )]
}
