//! `dangol-engine`: the pure core of dangol.
//!
//! Everything here is deterministic: the site config, the shopper's context,
//! the time and any randomness are passed in. There is no I/O, no clock and
//! no RNG, so every rule runs natively in a unit test and identically inside
//! the widget's WebAssembly module.
//!
//! ```
//! use dangol_engine::{config::SiteConfig, decide::decide};
//! use serde_json::json;
//!
//! let config = SiteConfig::from_value(&json!({
//!     "site": "demo",
//!     "version": 1,
//!     "campaigns": [{
//!         "id": "welcome",
//!         "placement": "home-hero",
//!         "condition": {"page.path": "/"},
//!         "variants": [{"id": "a", "content": {"type": "banner", "headline": "Welcome!"}}]
//!     }]
//! })).unwrap();
//! let compiled = config.compile().unwrap();
//! let context = json!({"page": {"path": "/"}});
//! let decision = decide(&compiled, "home-hero", &context, &dangol_engine::condition::NoRegex);
//! assert_eq!(decision.chosen().map(|c| c.campaign_id.as_str()), Some("welcome"));
//! ```

pub mod bucket;
pub mod condition;
pub mod config;
pub mod consent;
pub mod decide;
pub mod error;
pub mod event;

pub use error::{ConfigError, EventError};
