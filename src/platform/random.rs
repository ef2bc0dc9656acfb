//! Random ids from the browser's cryptographic generator.

/// `bytes` random bytes as lowercase hex, or `None` where `crypto` is missing.
pub fn hex_id(bytes: usize) -> Option<String> {
    let crypto = web_sys::window()?.crypto().ok()?;
    let mut buf = vec![0u8; bytes];
    crypto.get_random_values_with_u8_array(&mut buf).ok()?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes * 2);
    for b in buf {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    Some(out)
}

/// A number in [0, 1) for jitter (the browser's `Math.random`).
pub fn unit() -> f64 {
    js_sys::Math::random()
}
