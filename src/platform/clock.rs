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

/// Resolves in a later task, so the page's input handlers and paint can run
/// in between: the browser's `scheduler.yield()` where there is one (it
/// resumes ahead of other queued tasks), else a zero timeout.
pub async fn next_task() {
    use wasm_bindgen::{JsCast, JsValue};
    let scheduler = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w, &JsValue::from_str("scheduler")).ok())
        .filter(|s| s.is_object());
    let yielded = scheduler.and_then(|s| {
        let f = js_sys::Reflect::get(&s, &JsValue::from_str("yield")).ok()?;
        let f: js_sys::Function = f.dyn_into().ok()?;
        f.call0(&s).ok()?.dyn_into::<js_sys::Promise>().ok()
    });
    let promise = yielded.unwrap_or_else(|| {
        js_sys::Promise::new(&mut |resolve, _reject| {
            gloo::timers::callback::Timeout::new(0, move || {
                let _ = resolve.call0(&JsValue::NULL);
            })
            .forget();
        })
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
