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
