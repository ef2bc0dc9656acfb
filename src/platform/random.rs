//! Random ids from the browser's cryptographic generator (through the
//! loader's `host.hex`).

use super::host::Host;

/// `bytes` random bytes as lowercase hex, or `None` without a host or
/// where `crypto` is missing.
pub fn hex_id(host: Option<&Host>, bytes: u32) -> Option<String> {
    host.map(|h| h.hex(bytes)).filter(|h| !h.is_empty())
}

/// A number in [0, 1) for jitter (the browser's `Math.random`).
pub fn unit() -> f64 {
    js_sys::Math::random()
}
