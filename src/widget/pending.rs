//! What the widget asked the loader for and waits on (see
//! [`super::answers`], which carries on when the answer comes): plain data,
//! so every module can ask without depending on the ones that answer.

#[cfg(not(feature = "full"))]
use dangol_engine::decide::Chosen;
#[cfg(not(feature = "full"))]
use web_sys::Element;

/// What an id was asked for.
pub(crate) enum Pending {
    /// The config (from `url`).
    Config(String),
    /// The signature check of the config `text` fetched from `url`.
    Verify {
        url: String,
        text: String,
        etag: Option<String>,
    },
    /// A fetched config, decided with in a task of its own.
    Decide(Box<super::kept::Kept>),
    /// A batch of events (the session's ticket).
    Send(u32),
    /// The request to erase the server's copy of a withdrawn id.
    Erase,
    /// The request linking the id to the signed-in customer named.
    #[cfg(feature = "identity")]
    Identify(String),
    /// An offer for the second module to render, once it has loaded.
    #[cfg(not(feature = "full"))]
    Show(Box<Later>),
    /// "Why this offer?": the second module works out the words.
    #[cfg(not(feature = "full"))]
    Explain(Box<Explain>),
    /// A profile an earlier widget stored as JSON, for the third module
    /// to upgrade.
    #[cfg(not(feature = "full"))]
    Upgrade(String),
    /// `dangol.export()`: the third module writes the profile as JSON.
    #[cfg(not(any(feature = "full", feature = "identity")))]
    Export(Box<Export>),
    /// The first decision's wait for the consent manager ran out.
    CmpWait,
    /// Something whose own callback is running now (an offer's listeners),
    /// dropped in a later task.
    Drop(Box<dyn std::any::Any>),
}

/// An offer waiting for the second module to render it.
#[cfg(not(feature = "full"))]
pub(crate) struct Later {
    pub(super) slot: Option<web_sys::Element>,
    pub(super) kind: u8,
    pub(super) placement: String,
    pub(super) text: String,
    pub(super) chosen: Chosen,
    pub(super) attributes: wasm_bindgen::JsValue,
    pub(super) declared: wasm_bindgen::JsValue,
    pub(super) lang: &'static str,
    pub(super) handle: u32,
    pub(super) endpoint: String,
    pub(super) profile: wasm_bindgen::JsValue,
    pub(super) key: String,
    pub(super) check: wasm_bindgen::JsValue,
}

/// "Why this offer?" waiting for the second module's words.
#[cfg(not(feature = "full"))]
pub(crate) struct Explain {
    pub(super) config: String,
    pub(super) campaign: String,
    pub(super) attributes: wasm_bindgen::JsValue,
    pub(super) lang: &'static str,
    /// Where the words go.
    pub(super) text: Element,
}

/// `dangol.export()` waiting for the third module to write the profile.
#[cfg(not(any(feature = "full", feature = "identity")))]
pub(crate) struct Export {
    /// Everything kept, as the page gets it, but for the profile, still
    /// as storage keeps it (its text).
    pub(super) value: wasm_bindgen::JsValue,
    /// The loader's promise's `resolve`.
    pub(super) done: js_sys::Function,
}
