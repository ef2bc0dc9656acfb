//! Moving JSON between JavaScript and the engine without a serde
//! deserializer in the wasm: the browser parses and stringifies JSON
//! (`JSON.parse`/`JSON.stringify`), and these walkers convert values.
//!
//! Values from the page are walked with a budget: at most [`MAX_NODES`]
//! values and [`MAX_DEPTH`] levels, and only plain objects and arrays
//! (a DOM node, a class instance, a cyclic structure or a 10 MB array costs
//! a bounded walk, never a frozen page).

use dangol_engine::json::{Map, Value};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Deepest nesting accepted from the page; deeper parts become `null`.
const MAX_DEPTH: u32 = 16;
/// Deepest nesting of what the browser's JSON parser made (a config, what
/// the widget stored): conditions may nest deeply.
const MAX_PARSED_DEPTH: u32 = 64;
/// Most values read from one value the page hands over; the rest are left
/// out.
const MAX_NODES: u32 = 2_000;

/// A JSON-like JavaScript value from the page (`track`, `set`, a
/// `dataLayer` event the loader copied) as a `dangol_engine::json::Value`,
/// within the budget.
/// Functions, symbols, `undefined`, non-finite numbers and objects that are
/// not plain (DOM nodes, class instances) become `null`.
pub fn from_js(value: &JsValue) -> Value {
    convert_in(value, 0, MAX_DEPTH, &mut MAX_NODES.clone())
}

/// What `JSON.parse` made (a config, the widget's own stored data, a
/// server's answer): a tree of plain values, read whole, however large.
pub fn from_parsed(value: &JsValue) -> Value {
    convert_in(value, 0, MAX_PARSED_DEPTH, &mut u32::MAX.clone())
}

fn convert_in(value: &JsValue, depth: u32, max_depth: u32, budget: &mut u32) -> Value {
    if depth > max_depth || *budget == 0 {
        return Value::Null;
    }
    *budget -= 1;
    if let Some(b) = value.as_bool() {
        return Value::Bool(b);
    }
    if let Some(n) = value.as_f64() {
        // A JavaScript number is the engine's (NaN and infinities: null).
        return Value::from(n);
    }
    if let Some(s) = value.as_string() {
        return Value::String(s);
    }
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        let mut out = Vec::new();
        for i in 0..array.length() {
            if *budget == 0 {
                break;
            }
            out.push(convert_in(&array.get(i), depth + 1, max_depth, budget));
        }
        return Value::Array(out);
    }
    if is_plain(value) {
        let mut map = Map::new();
        let object: &Object = value.unchecked_ref();
        for key in Object::keys(object).iter() {
            if *budget == 0 {
                break;
            }
            if let Some(name) = key.as_string() {
                let v = Reflect::get(value, &key).unwrap_or(JsValue::NULL);
                map.insert(name, convert_in(&v, depth + 1, max_depth, budget));
            }
        }
        return Value::Object(map);
    }
    Value::Null
}

/// A plain object: `{...}` or `Object.create(null)`, not a DOM node or an
/// instance of a class (whose back-references can reach the whole page).
fn is_plain(value: &JsValue) -> bool {
    if !value.is_object() || value.is_function() {
        return false;
    }
    let proto = Object::get_prototype_of(value);
    proto.is_null() || Object::get_prototype_of(&proto).is_null()
}

/// A `dangol_engine::json::Value` as a plain JavaScript value.
pub fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(items) => items.iter().map(to_js).collect::<Array>().into(),
        Value::Object(map) => {
            let object = Object::new();
            for (k, v) in map {
                // Setting a property on a fresh plain object cannot fail.
                let _ = Reflect::set(&object, &JsValue::from_str(k), &to_js(v));
            }
            object.into()
        }
    }
}

/// `value` as JSON text (the browser's `JSON.stringify`; a plain value
/// made by [`to_js`] always stringifies, so `None` is only for a failing
/// browser).
pub fn stringify(value: &Value) -> Option<String> {
    js_sys::JSON::stringify(&to_js(value)).ok()?.as_string()
}

/// A profile an earlier widget stored as JSON, in the stored form the
/// session reads now (`None`: unreadable). The third module's work: the
/// first carries no reader of the old form.
#[cfg(any(feature = "full", feature = "rare"))]
pub fn upgrade_profile(old: &str) -> Option<String> {
    let value = from_parsed(&js_sys::JSON::parse(old).ok()?);
    dangol_engine::profile::Profile::from_value(&value)
        .ok()
        .map(|profile| profile.to_text())
}
