//! The dashboard's preview: the real engine decides and the real renderer
//! draws, for an example shopper the marketer picks. Built only with the
//! `preview` feature (the dashboard's own build); the shipped widget has
//! none of it.

use dangol_engine::config::{CompiledConfig, SiteConfig};
use dangol_engine::consent::Consent;
use dangol_engine::decide::{Shopper, decide};
use dangol_engine::i18n::Lang;
use dangol_engine::json::{Map, Value};
use dangol_engine::ledger::Ledger;
use dangol_engine::loyalty;
use dangol_engine::random::SplitMix64;
use dangol_engine::recs::{self, published};
use dangol_engine::time::Moment;
use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::platform::format::IntlNumbers;
use crate::platform::json;
use crate::platform::regex::BrowserRegex;
use crate::render::{self, Offer};

/// A config compiled for previewing.
///
/// ```js
/// const preview = Preview.compile(config);   // throws the reason for a config refused whole
/// const problems = preview.problems();         // campaigns skipped, by field
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
    /// Compiles `config` (a plain object). A config the engine refuses as
    /// a whole throws its reason, naming the field.
    pub fn compile(config: JsValue) -> Result<Preview, String> {
        SiteConfig::compile_value(&json::from_parsed(&config), &BrowserRegex)
            .map(|config| Preview { config })
            .map_err(|e| e.to_string())
    }

    /// The campaigns the engine skipped, each problem naming the campaign
    /// and field; empty when every campaign is usable.
    pub fn problems(&self) -> Vec<String> {
        self.config
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect()
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
                let mut entry = Map::new();
                entry.set("campaign", c.campaign.id.as_str().into());
                let matches = c.condition.eval(
                    &attributes,
                    &self.config.config().saved_groups,
                    &BrowserRegex,
                );
                entry.set("matches", matches.into());
                entry.set("why", c.why(&attributes, lang).into());
                Value::Object(entry)
            })
            .collect();
        out.set("audiences", Value::Array(explained));
        json::to_js(&Value::Object(out))
    }

    /// Renders `campaign`'s `variant` into `slot` with the widget's own
    /// renderer, tokens filled from `attributes`; a recommendations row is
    /// filled from the site's published `model` (its text, if it has one)
    /// as a shopper with no history of their own sees it. Gives the error
    /// in words, or `undefined` when it rendered.
    pub fn render(
        &self,
        slot: &Element,
        campaign: &str,
        variant: &str,
        attributes: JsValue,
        lang: &str,
        model: Option<String>,
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
        let content = render::filled(
            &v.content,
            &attributes,
            site.currency.as_deref(),
            &IntlNumbers { tag: lang.tag() },
        );
        let declared = attributes["declared"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let standing = loyalty::progress(&site.tiers, &declared);
        let why = c.why(&attributes, lang);
        let offer = Offer {
            content: &content,
            campaign,
            variant,
            why: &why,
            loyalty: standing.as_ref(),
            lang,
            // The preview records nothing and claims no codes.
            sink: std::rc::Rc::new(|_| {}),
        };
        match render::inline(slot, &offer) {
            // The preview never claims codes or records events: its
            // listeners go with it.
            Ok(rendered) => {
                std::mem::forget(rendered.listeners);
                let dangol_engine::config::Content::Recommendations(row) = &content else {
                    return None;
                };
                let Some(model) = model.as_deref().and_then(published::read) else {
                    return Some(
                        "the site has no recommendations model yet: build it under Recommendations"
                            .into(),
                    );
                };
                let picks = recs::device::row(
                    &model,
                    row,
                    &[],
                    recs::device::Page {
                        category: attributes["page"]["category"].as_str(),
                        path_and_query: "",
                    },
                    js_sys::Date::now() as i64,
                );
                match render::recs::fill(
                    &rendered.node,
                    &picks,
                    lang,
                    site.currency.as_deref(),
                    &offer.sink,
                ) {
                    Ok(listeners) => {
                        std::mem::forget(listeners);
                        None
                    }
                    Err(e) => Some(crate::platform::describe(&e)),
                }
            }
            Err(e) => Some(e),
        }
    }
}
