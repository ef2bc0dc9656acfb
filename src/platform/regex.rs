//! The browser's own `RegExp` behind the engine's [`RegexEngine`] trait, so
//! `$regex` keeps JavaScript semantics and no regex engine ships in the wasm.

use dangol_engine::condition::{Matcher, RegexEngine};
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
    fn test(this: &JsRegExp, text: &str) -> bool;
}

impl Matcher for JsRegExp {
    fn is_match(&self, text: &str) -> bool {
        self.test(text)
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
        String::from(js_sys::JsString::from(text).to_lower_case())
    }
}
