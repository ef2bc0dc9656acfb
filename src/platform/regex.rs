//! The browser's own `RegExp` behind the engine's [`RegexEngine`] trait, so
//! `$regex` keeps JavaScript semantics and no regex engine ships in the wasm.

use std::cell::RefCell;

use dangol_engine::condition::{Matcher, RegexEngine};
use js_sys::JsString;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = RegExp)]
    type JsRegExp;

    // `catch`: an invalid pattern throws a SyntaxError, which must become a
    // value here rather than an exception.
    #[wasm_bindgen(catch, constructor, js_class = "RegExp")]
    fn new(pattern: &str, flags: &str) -> Result<JsRegExp, JsValue>;

    #[wasm_bindgen(method)]
    fn test(this: &JsRegExp, text: &JsString) -> bool;
}

thread_local! {
    /// The text matched last, as a JavaScript string. A page's audiences
    /// test the same few attributes (`page.path`, `page.url`…) against
    /// many patterns, and copying a string into JavaScript costs more than
    /// the match itself.
    static LAST_TEXT: RefCell<Option<(String, JsString)>> = const { RefCell::new(None) };
}

impl Matcher for JsRegExp {
    fn is_match(&self, text: &str) -> bool {
        LAST_TEXT.with(|last| {
            let mut last = last.borrow_mut();
            match &*last {
                Some((cached, js)) if cached == text => self.test(js),
                _ => {
                    let js = JsString::from(text);
                    let matched = self.test(&js);
                    *last = Some((text.to_string(), js));
                    matched
                }
            }
        })
    }
}

/// `RegExp` from the page's JavaScript engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct BrowserRegex;

impl RegexEngine for BrowserRegex {
    fn compile(&self, pattern: &str, case_insensitive: bool) -> Option<Box<dyn Matcher>> {
        let flags = if case_insensitive { "i" } else { "" };
        JsRegExp::new(pattern, flags)
            .ok()
            .map(|re| Box::new(re) as Box<dyn Matcher>)
    }

    fn lowercase(&self, text: &str) -> String {
        JsString::from(text)
            .to_lower_case()
            .as_string()
            .unwrap_or_default()
    }
}
