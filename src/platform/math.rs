//! The browser's `Math.exp` and `Math.log` in place of the standard
//! library's software versions: the engine's score decay and its gamma
//! draws call them, and the page already has them compiled.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Math, js_name = exp)]
    fn math_exp(x: f64) -> f64;
    #[wasm_bindgen(js_namespace = Math, js_name = log)]
    fn math_log(x: f64) -> f64;
}

#[unsafe(no_mangle)]
extern "C" fn exp(x: f64) -> f64 {
    math_exp(x)
}

#[unsafe(no_mangle)]
extern "C" fn log(x: f64) -> f64 {
    math_log(x)
}
