//! `dangol-engine`: the pure core of dangol.
//!
//! Everything here is deterministic: the site config, the shopper's context,
//! the time and any randomness are passed in. There is no I/O, no clock and
//! no RNG, so every rule runs natively in a unit test and identically inside
//! the widget's WebAssembly module.
//!
//! ```
//! use dangol_engine::condition::NativeRegex;
//! use dangol_engine::config::SiteConfig;
//! use dangol_engine::consent::Consent;
//! use dangol_engine::decide::{Shopper, decide};
//! use dangol_engine::ledger::Ledger;
//! use dangol_engine::random::SplitMix64;
//! use dangol_engine::time::Moment;
//! use dangol_engine::json;
//!
//! let config = SiteConfig::compile_value(&json!({
//!     "site": "demo",
//!     "version": 1,
//!     "campaigns": [{
//!         "id": "welcome",
//!         "placement": "home-hero",
//!         "condition": {"page.path": "/"},
//!         "variants": [{"id": "a", "content": {"type": "banner", "headline": "Welcome!"}}]
//!     }]
//! }), &NativeRegex).unwrap();
//! let attributes = json!({"page": {"path": "/"}});
//! let ledger = Ledger::default();
//! let shopper = Shopper { attributes: &attributes, id: None, consent: Consent::Unknown, ledger: &ledger };
//! let moment = Moment::utc(1_795_617_000_000);
//! let decision = decide(&config, "home-hero", &shopper, &moment, &mut SplitMix64::new(7), &NativeRegex);
//! assert_eq!(decision.chosen().map(|c| c.campaign_id.as_str()), Some("welcome"));
//! ```

pub mod attributes;
pub mod bucket;
pub mod calls;
pub mod cat;
pub mod churn;
pub mod condition;
pub mod config;
pub mod consent;
pub mod decide;
pub mod error;
pub mod event;
pub mod explain;
pub mod i18n;
pub mod json;
pub mod ledger;
pub mod loyalty;
pub mod outbox;
pub mod pattern;
pub mod profile;
pub mod random;
pub mod recs;
pub mod session;
#[doc(hidden)]
pub mod spec;
pub mod text;
pub mod time;
pub mod track;
pub mod trigger;
pub mod wire;

pub use error::{ConfigError, EventError};
