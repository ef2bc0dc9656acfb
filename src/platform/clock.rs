//! The browser's clock, passed into the engine.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Minutes to add to UTC for the shopper's local time (UTC+9 → 540).
pub fn utc_offset_minutes() -> i32 {
    // getTimezoneOffset() is UTC minus local, so the sign flips.
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}

/// Waits for the promise `next_task()` returns: the loader's function that
/// resolves in a later task (`scheduler.yield()`, else a zero timeout), so
/// the page's input handlers and paint can run in between.
pub async fn next_task(next_task: &js_sys::Function) {
    use wasm_bindgen::JsCast;
    if let Ok(promise) = next_task
        .call0(&wasm_bindgen::JsValue::NULL)
        .and_then(|p| p.dyn_into::<js_sys::Promise>())
    {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}
