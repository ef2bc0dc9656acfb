//! Moving JSON between JavaScript and the engine without a serde
//! deserializer in the wasm: the browser parses and stringifies JSON
//! (`JSON.parse`/`JSON.stringify`), and these two walkers convert values.

use js_sys::{Array, Object, Reflect};
use serde_json::{Map, Number, Value};
use wasm_bindgen::{JsCast, JsValue};

/// Deepest nesting accepted from JavaScript; deeper parts become `null`.
const MAX_DEPTH: u32 = 64;

/// A JSON-like JavaScript value as a `serde_json::Value`. Functions,
/// symbols, `undefined` and non-finite numbers become `null`.
pub fn from_js(value: &JsValue) -> Value {
    convert_in(value, 0)
}

fn convert_in(value: &JsValue, depth: u32) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(b) = value.as_bool() {
        return Value::Bool(b);
    }
    if let Some(n) = value.as_f64() {
        return number(n);
    }
    if let Some(s) = value.as_string() {
        return Value::String(s);
    }
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        return Value::Array(array.iter().map(|v| convert_in(&v, depth + 1)).collect());
    }
    if value.is_object() && !value.is_function() {
        let mut map = Map::new();
        let object: &Object = value.unchecked_ref();
        for key in Object::keys(object).iter() {
            if let Some(name) = key.as_string() {
                let v = Reflect::get(value, &key).unwrap_or(JsValue::NULL);
                map.insert(name, convert_in(&v, depth + 1));
            }
        }
        return Value::Object(map);
    }
    Value::Null
}

/// Whole numbers stay integers (so `1` round-trips as `1`); others are f64.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        if n >= 0.0 {
            return Value::Number(Number::from(n as u64));
        }
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// A `serde_json::Value` as a plain JavaScript value.
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
