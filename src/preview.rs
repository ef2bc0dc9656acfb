//! The dashboard's preview: the real engine decides and the real renderer
//! draws, for an example shopper the marketer picks. Built only with the
//! `preview` feature (the dashboard's own build); the shipped widget has
//! none of it.

use dangol_engine::config::{CompiledConfig, SiteConfig};
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Shopper, decide};
use dangol_engine::explain;
use dangol_engine::i18n::Lang;
use dangol_engine::ledger::Ledger;
use dangol_engine::loyalty;
use dangol_engine::random::SplitMix64;
use dangol_engine::text;
use dangol_engine::time::Moment;
use serde_json::{Map, Value, json};
use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::platform::format::IntlNumbers;
use crate::platform::json;
use crate::platform::regex::BrowserRegex;
use crate::render::{self, Offer};

/// A config compiled for previewing.
///
/// ```js
/// const preview = Preview.compile(config);   // {ok, problems} or {error}
/// const decision = preview.decide("home-hero", attributes, "en", Date.now());
/// preview.render(slot, "welcome", "a", attributes, "en");
/// ```
#[wasm_bindgen]
pub struct Preview {
    config: CompiledConfig,
}

fn lang_of(tag: &str) -> Lang {
    Lang::pick(tag, None)
}

#[wasm_bindgen]
impl Preview {
    /// Compiles `config` (a plain object). Never throws: a config the
    /// engine refuses gives `undefined`, and `check` says why.
    pub fn compile(config: JsValue) -> Option<Preview> {
        SiteConfig::compile_value(&json::from_js(&config), &BrowserRegex)
            .ok()
            .map(|config| Preview { config })
    }

    /// Every problem the engine finds in `config`, each naming the
    /// campaign and field; empty when it is fine.
    pub fn check(config: JsValue) -> Vec<String> {
        match SiteConfig::compile_value(&json::from_js(&config), &BrowserRegex) {
            Err(e) => vec![e.to_string()],
            Ok(c) => c.problems().iter().map(ToString::to_string).collect(),
        }
    }

    /// The decision for `placement` for a shopper with `attributes` (as a
    /// condition sees them), with consent and no offer history: the chosen
    /// campaign and variant, the engine's reason for every campaign, and
    /// the plain words the shopper would see under "Why this offer?".
    pub fn decide(&self, placement: &str, attributes: JsValue, lang: &str, now_ms: f64) -> JsValue {
        let attributes = json::from_js(&attributes);
        let ledger = Ledger::default();
        let shopper = Shopper {
            attributes: &attributes,
            id: Some("preview"),
            consent: Consent::Granted,
            ledger: &ledger,
        };
        let now = now_ms as i64;
        let decision = decide(
            &self.config,
            placement,
            &shopper,
            &Moment::utc(now),
            &mut SplitMix64::new(now as u64),
            &BrowserRegex,
        );
        let lang = lang_of(lang);
        let mut out = match decision.to_value() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let explained: Vec<Value> = self
            .config
            .campaigns_for(placement)
            .map(|c| {
                json!({
                    "campaign": c.campaign.id,
                    "matches": c.condition.eval(&attributes, &self.config.config().saved_groups, &BrowserRegex),
                    "why": explain::why(&c.condition, &attributes, lang),
                })
            })
            .collect();
        out.insert("audiences".into(), Value::Array(explained));
        json::to_js(&Value::Object(out))
    }

    /// Renders `campaign`'s `variant` into `slot` with the widget's own
    /// renderer, tokens filled from `attributes`. Gives the error in words,
    /// or `undefined` when it rendered.
    pub fn render(
        &self,
        slot: &Element,
        campaign: &str,
        variant: &str,
        attributes: JsValue,
        lang: &str,
    ) -> Option<String> {
        let attributes = json::from_js(&attributes);
        let lang = lang_of(lang);
        let site = self.config.config();
        let Some(c) = self
            .config
            .campaigns()
            .iter()
            .find(|c| c.campaign.id == campaign)
        else {
            return Some(format!("no campaign `{campaign}` in the config"));
        };
        let Some(v) = c.campaign.variants.iter().find(|v| v.id == variant) else {
            return Some(format!("campaign `{campaign}` has no variant `{variant}`"));
        };
        let numbers = IntlNumbers { tag: lang.tag() };
        let content = v
            .content
            .map_text(|t| text::fill(t, &attributes, site.currency.as_deref(), &numbers));
        let declared = attributes["declared"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let standing = loyalty::progress(&site.tiers, &declared);
        let why = explain::why(&c.condition, &attributes, lang);
        let offer = Offer {
            content: &content,
            campaign,
            variant,
            why: &why,
            loyalty: standing.as_ref(),
            lang,
        };
        match render::inline(slot, &offer) {
            // The preview never claims codes or records events: its
            // listeners go with it.
            Ok(rendered) => {
                std::mem::forget(rendered.listeners);
                None
            }
            Err(e) => Some(e),
        }
    }
}
