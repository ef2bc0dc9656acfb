//! The widget's second module, loaded on first use: overlays, coupons,
//! loyalty prompts, feedback questions and the words of "Why this offer?";
//! and its third, the profile's JSON form (the upgrade of an earlier
//! widget's profile, `dangol.export()`).
//! Every shop pays for the first module on every first visit; these paths
//! only on pages that use them, so they stay out of the first load.
//!
//! The loader imports the module once (`pkg/more/`, the same build as the
//! first) when the widget asks (see [`super::host`]); the module renders from the compact config text and the attributes it is
//! given, and reports the shopper's actions back through a callback.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::Element;

#[wasm_bindgen]
extern "C" {
    /// The second module's exports (`src/more.rs`).
    #[derive(Clone)]
    pub type More;

    /// Renders an offer: into `slot`, or as an overlay of `kind` (1 modal,
    /// 2 toast, 3 bar) when `slot` is `null`. A recommendations row reads
    /// the site's model from `endpoint` and ranks it with the shopper's
    /// stored `profile` (`null` without personalisation consent), checking
    /// its signature with the site's `key` (empty: unchecked) by the
    /// loader's `check` (the config's Ed25519 check). Answers
    /// `[handle, host, node]`.
    #[wasm_bindgen(method, catch)]
    pub fn show(
        this: &More,
        slot: Option<Element>,
        kind: u8,
        placement: &str,
        config: &str,
        campaign: &str,
        variant: &str,
        attributes: JsValue,
        declared: JsValue,
        lang: &str,
        sink: &js_sys::Function,
        endpoint: &str,
        profile: JsValue,
        key: &str,
        check: &JsValue,
    ) -> Result<js_sys::Array, JsValue>;

    /// Unwires the offer rendered as `handle`.
    #[wasm_bindgen(method)]
    pub fn unwire(this: &More, handle: u32);

    /// Claims the coupon of the offer `handle` (`url` and `body` as the
    /// session makes them) and shows its code; answers through the offer's
    /// callback (5) once the code is shown.
    #[wasm_bindgen(method)]
    pub fn claim(this: &More, handle: u32, url: &str, body: &str, lang: &str);

    /// Writes "You see this because…" for `campaign` and these attributes
    /// into `text`.
    #[wasm_bindgen(method)]
    pub fn why(
        this: &More,
        config: &str,
        campaign: &str,
        attributes: JsValue,
        lang: &str,
        text: &Element,
    );
}

#[wasm_bindgen]
extern "C" {
    /// The third module's exports (`src/rare.rs`): the profile's JSON form.
    pub type Rare;

    /// The profile an earlier widget stored as JSON, in the stored form
    /// (`None`: unreadable).
    #[wasm_bindgen(method)]
    pub fn upgrade(this: &Rare, old: &str) -> Option<String>;

    /// `dangol.export()`'s object with its `profile` (the text storage
    /// keeps) turned into JSON, in place (`null`: unreadable).
    #[wasm_bindgen(method)]
    pub fn expand(this: &Rare, export: &JsValue);
}

thread_local! {
    /// The module, once loaded.
    static LOADED: RefCell<Option<More>> = const { RefCell::new(None) };
}

/// The module, if it has loaded already.
pub fn loaded() -> Option<More> {
    LOADED.with(|m| m.borrow().clone())
}

/// The loader's answer to [`super::host::Host::more`]: the module, kept
/// for what follows, or why it did not load.
pub fn arrived(answer: JsValue) -> Result<More, String> {
    let more: More = module(answer, "second")?.unchecked_into();
    LOADED.with(|m| *m.borrow_mut() = Some(more.clone()));
    Ok(more)
}

/// The loader's answer to [`super::host::Host::rare`]: the third module,
/// or why it did not load (the loader keeps it for a later use).
pub fn rare(answer: JsValue) -> Result<Rare, String> {
    module(answer, "third").map(JsCast::unchecked_into)
}

/// A module the loader imported (`which`: "second" or "third"), or why it
/// did not load.
fn module(answer: JsValue, which: &str) -> Result<JsValue, String> {
    if answer.is_object() {
        return Ok(answer);
    }
    // The loader answers with the error's message.
    Err(dangol_engine::cat::cat(&[
        "the widget's ",
        which,
        " module did not load (",
        &answer.as_string().unwrap_or_default(),
        ")",
    ]))
}

/// An offer the second module rendered; dropping it unwires the offer.
pub struct Handle(pub u32);

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(more) = loaded() {
            more.unwire(self.0);
        }
    }
}
