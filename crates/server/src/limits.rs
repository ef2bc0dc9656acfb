//! Rate limits per client address and per pseudonymous id, in fixed
//! one-minute windows, so coupon farming and flooding are held back. Each
//! replica counts on its own (a limit of N per replica).
//!
//! The client address is the socket's peer, unless that peer is a listed
//! trusted proxy: then it is the address the proxy chain reports
//! (`Forwarded`, else `X-Forwarded-For`), read from the right, skipping
//! the trusted proxies themselves, so a client cannot pick its own address
//! by sending the header. IPv6 clients count per /64 (one host is usually
//! given a whole /64 and could otherwise rotate through it), and the
//! counters' memory is bounded.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Mutex;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ApiError;
use crate::now_ms;

const WINDOW_MS: i64 = 60_000;
/// Counters kept before stale windows are dropped.
const MAX_KEYS: usize = 100_000;

/// Requests allowed per minute.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Event batches per client address.
    pub events_per_ip: u32,
    /// Coupon claims per client address.
    pub claims_per_ip: u32,
    /// Coupon claims per pseudonymous id.
    pub claims_per_id: u32,
    /// Failed redeem attempts: wrong redeem keys per client address, and
    /// unknown codes per shopper at the checkout (the redemption's
    /// `client`, else the calling address), against guessing.
    pub redeems_per_ip: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            events_per_ip: 600,
            claims_per_ip: 20,
            claims_per_id: 5,
            redeems_per_ip: 120,
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

/// A refusal: 429 with `Retry-After`.
pub struct Limited {
    key: String,
    what: String,
    retry_after_s: i64,
}

impl From<Limited> for ApiError {
    fn from(l: Limited) -> Self {
        // The key names the client address (or id, or redeem key hash).
        tracing::warn!(what = %l.what, key = %l.key, "rate limited");
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many {}; try again in {} s", l.what, l.retry_after_s),
        )
        .with_retry_after(l.retry_after_s)
    }
}

impl Limiter {
    /// Counts one request under `key`; refuses past `limit` per minute.
    pub fn check(&self, key: &str, limit: u32, what: &str) -> Result<(), Limited> {
        self.check_at(key, limit, what, now_ms())
    }

    /// Refuses when `key` already used up `limit` this minute, without
    /// counting this request (see [`Limiter::hit`]): for limits on
    /// failures only.
    pub fn peek(&self, key: &str, limit: u32, what: &str) -> Result<(), Limited> {
        self.count(key, limit, what, now_ms(), false)
    }

    /// Counts one failure under `key` (see [`Limiter::peek`]).
    pub fn hit(&self, key: &str) {
        let _ = self.count(key, u32::MAX, "", now_ms(), true);
    }

    /// [`Limiter::check`] at a given time.
    pub fn check_at(&self, key: &str, limit: u32, what: &str, now: i64) -> Result<(), Limited> {
        self.count(key, limit, what, now, true)
    }

    fn count(
        &self,
        key: &str,
        limit: u32,
        what: &str,
        now: i64,
        increment: bool,
    ) -> Result<(), Limited> {
        let window = now - now.rem_euclid(WINDOW_MS);
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, (start, _)| *start == window);
        }
        // Still full of this minute's keys (many addresses at once): new
        // keys share one counter, so memory stays bounded; known keys keep
        // their own.
        let key = if map.len() >= MAX_KEYS && !map.contains_key(key) {
            tracing::warn!(
                key,
                "rate-limit table full; counting a new key in the shared bucket"
            );
            "(overflow)"
        } else {
            key
        };
        let entry = map.entry(key.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= limit {
            return Err(Limited {
                key: key.to_string(),
                what: what.to_string(),
                retry_after_s: ((window + WINDOW_MS - now) / 1000).max(1),
            });
        }
        if increment {
            entry.1 += 1;
        }
        Ok(())
    }
}

/// The client's address as the limits count it: the socket's peer, or the
/// address a trusted proxy reports; IPv6 as its /64 ("unknown" in-process).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// An address range, `10.0.0.0/8`, `2001:db8::/32` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(u32::from(net)) << 96, self.prefix)
                    == mask(u128::from(u32::from(ip)) << 96, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), self.prefix) == mask(u128::from(ip), self.prefix)
            }
            _ => false,
        }
    }
}

fn mask(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p if p >= 128 => bits,
        p => bits & !(u128::MAX >> p),
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl TrustedProxies {
    /// A comma-separated list of ranges (`--trusted-proxies`).
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        // The chain as the proxies appended it, nearest proxy last.
        let chain: Vec<IpAddr> = match headers.get_all("forwarded").iter().next() {
            Some(_) => headers
                .get_all("forwarded")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(forwarded_for)
                .collect(),
            None => headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| parse_addr(a.trim()))
                .collect(),
        };
        // From the right: the first address a trusted proxy did not add
        // about itself. Anything left of it the client could have written.
        chain
            .into_iter()
            .rev()
            .map(canonical)
            .find(|ip| !self.trusts(*ip))
            .unwrap_or_else(|| canonical(peer))
    }
}

/// The `for=` of one `Forwarded` element (RFC 7239): `for=192.0.2.1`,
/// `for="[2001:db8::1]:4711"`; obfuscated or unknown identifiers are skipped.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        parse_addr(value.trim().trim_matches('"'))
    })
}

/// An address, perhaps with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_addr(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    text.strip_prefix('[')
        .and_then(|t| t.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// The key an address counts under: IPv4 as it is, IPv6 per /64.
pub fn limit_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = Ipv6Addr::from(mask(u128::from(v6), 64));
            format!("{net}/64")
        }
    }
}

/// Middleware: puts [`ClientIp`] on every request.
pub async fn client_ip(
    axum::extract::State(proxies): axum::extract::State<std::sync::Arc<TrustedProxies>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let key = ip.map_or_else(
        || "unknown".to_string(),
        |peer| limit_key(proxies.client(peer, req.headers())),
    );
    req.extensions_mut().insert(ClientIp(key));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn ranges_hold_what_they_should() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.3.4")));
        assert!(net.contains(ip("::ffff:10.1.1.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "x", "::/129", "1.2.3.4/"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("10.0.0.0/8, fd00::/8").is_ok());
        let err = TrustedProxies::parse("10.0.0.0/8,nope").unwrap_err();
        assert!(err.contains("`nope`"), "{err}");
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let spoof = headers(&[("x-forwarded-for", "1.1.1.1")]);
        // A client that is not a proxy cannot name its own address.
        assert_eq!(proxies.client(ip("203.0.113.9"), &spoof), ip("203.0.113.9"));
        // Through the proxy: the address the proxy saw.
        assert_eq!(proxies.client(ip("10.0.0.2"), &spoof), ip("1.1.1.1"));
        // A client writing its own header in front is skipped: the rightmost
        // address not a trusted proxy's is the one the proxy saw.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &chain), ip("198.51.100.7"));
        // `Forwarded` wins over `X-Forwarded-For`, with quoted IPv6 and ports.
        let both = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8:1:2::7]:4711\";proto=https",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &both), ip("2001:db8:1:2::7"));
        // Nothing usable: the proxy itself.
        let junk = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &junk), ip("10.0.0.2"));
        // No proxies listed: headers are ignored.
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.2"), &spoof),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(limit_key(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(
            limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            limit_key(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:3::1")),
            limit_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(limit_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(limit_key(ip("192.0.2.1")), "192.0.2.1");
    }

    #[test]
    fn the_counters_stay_bounded_when_many_clients_come_at_once() {
        let limiter = Limiter::default();
        let now = 1_800_000_000_000;
        for i in 0..MAX_KEYS + 500 {
            let _ = limiter.check_at(&format!("k{i}"), 1_000, "x", now);
        }
        let size = limiter
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        assert!(size <= MAX_KEYS + 1, "{size}");
        // Known keys keep their own count; the newcomers share one.
        assert!(limiter.check_at("k1", 2, "x", now).is_ok());
        assert!(limiter.check_at("k1", 2, "x", now).is_err());
        // A new minute frees the table.
        assert!(limiter.check_at("fresh", 1, "x", now + WINDOW_MS).is_ok());
        let size = limiter
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        assert!(size < 10, "{size}");
    }
}
