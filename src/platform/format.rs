//! Numbers and amounts in the shopper's language, by the browser's
//! `Intl.NumberFormat` (no number formatting code in the wasm).

use dangol_engine::text::NumberFormat;
use js_sys::{Array, Intl, Object, Reflect};
use wasm_bindgen::JsValue;

/// The browser's number formatting for one BCP 47 language tag.
pub struct IntlNumbers {
    /// E.g. `ko-KR`.
    pub tag: &'static str,
}

impl IntlNumbers {
    fn format(&self, n: f64, currency: Option<&str>) -> String {
        let options = Object::new();
        if let Some(code) = currency {
            let _ = Reflect::set(&options, &"style".into(), &"currency".into());
            let _ = Reflect::set(&options, &"currency".into(), &code.into());
        } else {
            let _ = Reflect::set(&options, &"maximumFractionDigits".into(), &2.into());
        }
        let formatter = Intl::NumberFormat::new(&Array::of1(&self.tag.into()), &options);
        formatter
            .format()
            .call1(&formatter, &JsValue::from_f64(n))
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }
}

impl NumberFormat for IntlNumbers {
    fn number(&self, n: f64) -> String {
        self.format(n, None)
    }

    fn currency(&self, n: f64, currency: &str) -> String {
        self.format(n, Some(currency))
    }
}
