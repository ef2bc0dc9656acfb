//! Numbers and amounts in the shopper's language, by the browser's
//! `Intl.NumberFormat` (no number formatting code in the wasm): through the
//! loader in the first module, directly in the second.

use dangol_engine::text::NumberFormat;

use super::host::Host;

/// The loader's number formatting (`host.num`) for one BCP 47 language tag.
pub struct HostNumbers<'a> {
    /// The loader; without it numbers are left out.
    pub host: Option<&'a Host>,
    /// E.g. `ko-KR`.
    pub tag: &'static str,
}

impl NumberFormat for HostNumbers<'_> {
    fn number(&self, n: f64) -> String {
        self.currency(n, "")
    }

    fn currency(&self, n: f64, currency: &str) -> String {
        self.host
            .map(|h| h.num(self.tag, n, currency))
            .unwrap_or_default()
    }
}

/// The browser's number formatting for one BCP 47 language tag, for the
/// second module (which holds no host).
#[cfg(feature = "full")]
pub struct IntlNumbers {
    /// E.g. `ko-KR`.
    pub tag: &'static str,
}

#[cfg(feature = "full")]
impl IntlNumbers {
    fn format(&self, n: f64, currency: Option<&str>) -> String {
        use js_sys::{Array, Intl, Object, Reflect};
        use wasm_bindgen::JsValue;
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

#[cfg(feature = "full")]
impl NumberFormat for IntlNumbers {
    fn number(&self, n: f64) -> String {
        self.format(n, None)
    }

    fn currency(&self, n: f64, currency: &str) -> String {
        self.format(n, Some(currency))
    }
}
