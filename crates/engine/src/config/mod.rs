//! The site config: what the server publishes and the widget decides with.
//!
//! A config is parsed from a JSON value ([`SiteConfig::from_value`]) and then [compiled](SiteConfig::compile): every
//! campaign is checked once, so evaluation later cannot fail. Errors name the
//! campaign and the field.

use serde::Serialize;
use serde_json::Value;

use crate::condition;
use crate::error::ConfigError;

mod parse;

/// The published config of one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteConfig {
    /// The site's id, e.g. `"demo"`.
    pub site: String,
    /// The published version; grows by one with each publish.
    pub version: u64,
    /// Campaigns in priority order: earlier ones win a placement.
    pub campaigns: Vec<Campaign>,
}

/// One campaign: who sees it, where, and what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// Unique within the site.
    pub id: String,
    /// A name for people; not shown to shoppers.
    pub name: String,
    /// The slot id it renders into (`<div data-dangol-slot="...">`).
    pub placement: String,
    /// A GrowthBook-style condition on the context; `{}` targets everyone.
    pub condition: Value,
    /// At least one variant.
    pub variants: Vec<Variant>,
}

/// One variant of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    /// Unique within the campaign.
    pub id: String,
    /// What the shopper sees.
    pub content: Content,
}

/// The content types a variant can carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// A banner: optional image, headline, body and call to action.
    Banner(Banner),
}

/// A banner offer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Banner {
    /// Always shown; plain text.
    pub headline: String,
    /// Plain text under the headline.
    pub body: String,
    /// An optional image (http(s) or relative URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// An optional call to action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cta: Option<Cta>,
    /// A theme name the widget maps to styles (`"light"`, `"dark"`, `"accent"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
}

/// A call-to-action link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cta {
    /// The link text.
    pub text: String,
    /// http(s) or relative only.
    pub url: String,
}

/// The themes a banner may name.
pub const THEMES: &[&str] = &["light", "dark", "accent"];

/// A config that passed every check; the only kind [`crate::decide`] takes.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledConfig {
    config: SiteConfig,
}

impl CompiledConfig {
    /// The checked config.
    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    /// Campaigns for one placement, in priority order.
    pub fn campaigns_for<'a>(&'a self, placement: &'a str) -> impl Iterator<Item = &'a Campaign> {
        self.config
            .campaigns
            .iter()
            .filter(move |c| c.placement == placement)
    }
}

impl SiteConfig {
    /// Parses a config from JSON text (native callers; the widget lets the
    /// browser parse JSON and hands over a value).
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Shape(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Checks every campaign and returns a config ready for decisions.
    pub fn compile(self) -> Result<CompiledConfig, ConfigError> {
        if self.site.trim().is_empty() {
            return Err(ConfigError::Shape("`site` may not be empty".into()));
        }
        for (index, campaign) in self.campaigns.iter().enumerate() {
            campaign.check(index)?;
            // Configs hold tens of campaigns: a scan beats carrying a hash set.
            if self.campaigns[..index].iter().any(|c| c.id == campaign.id) {
                return Err(ConfigError::campaign(
                    &campaign.id,
                    "id",
                    "another campaign has the same id",
                ));
            }
        }
        Ok(CompiledConfig { config: self })
    }
}

impl Campaign {
    fn check(&self, index: usize) -> Result<(), ConfigError> {
        if !is_identifier(&self.id) {
            return Err(ConfigError::campaign(
                format!("#{index}"),
                "id",
                "must be 1-64 characters of letters, digits, `-` or `_`",
            ));
        }
        let fail = |field: &str, message: &str| ConfigError::campaign(&self.id, field, message);
        if !is_identifier(&self.placement) {
            return Err(fail(
                "placement",
                "must be 1-64 characters of letters, digits, `-` or `_`",
            ));
        }
        condition::validate(&self.condition).map_err(|(path, message)| {
            let field = if path.is_empty() {
                "condition".to_string()
            } else {
                format!("condition.{path}")
            };
            ConfigError::campaign(&self.id, field, message)
        })?;
        if self.variants.is_empty() {
            return Err(fail("variants", "needs at least one variant"));
        }
        for (i, variant) in self.variants.iter().enumerate() {
            if !is_identifier(&variant.id) {
                return Err(fail(
                    &format!("variants[{i}].id"),
                    "must be 1-64 characters of letters, digits, `-` or `_`",
                ));
            }
            if self.variants[..i].iter().any(|v| v.id == variant.id) {
                return Err(fail(&format!("variants[{i}].id"), "is used twice"));
            }
            variant.content.check().map_err(|(field, message)| {
                fail(&format!("variants[{i}].content.{field}"), &message)
            })?;
        }
        Ok(())
    }
}

impl Content {
    fn check(&self) -> Result<(), (String, String)> {
        match self {
            Content::Banner(banner) => {
                if banner.headline.trim().is_empty() {
                    return Err(("headline".into(), "may not be empty".into()));
                }
                if let Some(image) = &banner.image
                    && !is_safe_url(image)
                {
                    return Err((
                        "image".into(),
                        format!("`{image}` is not an http(s) or relative URL"),
                    ));
                }
                if let Some(cta) = &banner.cta {
                    if cta.text.trim().is_empty() {
                        return Err(("cta.text".into(), "may not be empty".into()));
                    }
                    if !is_safe_url(&cta.url) {
                        return Err((
                            "cta.url".into(),
                            format!("`{}` is not an http(s) or relative URL", cta.url),
                        ));
                    }
                }
                if let Some(theme) = &banner.theme
                    && !THEMES.contains(&theme.as_str())
                {
                    return Err((
                        "theme".into(),
                        format!("`{theme}` is not one of: {}", THEMES.join(", ")),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Ids of campaigns, variants and placements: 1-64 of `[A-Za-z0-9_-]`.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Only `http:`, `https:` or scheme-less (relative) URLs are allowed, so a
/// config can never smuggle `javascript:` or `data:` links into a page.
pub fn is_safe_url(url: &str) -> bool {
    let url = url.trim();
    if url.is_empty() || url.chars().any(|c| c.is_control()) {
        return false;
    }
    // A scheme is whatever comes before the first ':' if no '/', '?' or '#'
    // comes earlier.
    match url.find([':', '/', '?', '#']) {
        Some(i) if url.as_bytes()[i] == b':' => {
            let scheme = url[..i].to_ascii_lowercase();
            scheme == "http" || scheme == "https"
        }
        _ => !url.starts_with("//") || url.len() > 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(campaign: Value) -> Result<CompiledConfig, ConfigError> {
        SiteConfig::from_value(&json!({"site": "s", "version": 1, "campaigns": [campaign]}))?
            .compile()
    }

    fn banner(extra: Value) -> Value {
        let mut content = json!({"type": "banner", "headline": "Hi"});
        if let (Value::Object(c), Value::Object(e)) = (&mut content, extra) {
            c.extend(e);
        }
        json!({"id": "c1", "placement": "hero", "variants": [{"id": "a", "content": content}]})
    }

    #[test]
    fn a_valid_campaign_compiles() {
        let compiled = config(banner(json!({"cta": {"text": "Go", "url": "/sale"}}))).unwrap();
        assert_eq!(compiled.campaigns_for("hero").count(), 1);
        assert_eq!(compiled.campaigns_for("other").count(), 0);
    }

    #[test]
    fn a_javascript_link_is_rejected_naming_campaign_and_field() {
        let err = config(banner(
            json!({"cta": {"text": "Go", "url": "javascript:alert(1)"}}),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "campaign `c1`: variants[0].content.cta.url: `javascript:alert(1)` is not an http(s) or relative URL"
        );
    }

    #[test]
    fn a_malformed_condition_names_its_path() {
        let mut c = banner(json!({}));
        c["condition"] = json!({"$or": {"a": 1}});
        let err = config(c).unwrap_err();
        assert!(
            err.to_string().starts_with("campaign `c1`: condition.$or:"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_ids_and_empty_variants_are_errors() {
        let c = banner(json!({}));
        let cfg = SiteConfig::from_value(
            &json!({"site": "s", "version": 1, "campaigns": [c.clone(), c]}),
        )
        .unwrap();
        assert!(cfg.compile().unwrap_err().to_string().contains("same id"));
        let err = config(json!({"id": "c2", "placement": "hero", "variants": []})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "campaign `c2`: variants: needs at least one variant"
        );
    }

    #[test]
    fn unknown_themes_and_empty_headlines_are_errors() {
        assert!(config(banner(json!({"theme": "neon"}))).is_err());
        assert!(config(banner(json!({"headline": " "}))).is_err());
        assert!(config(banner(json!({"theme": "dark"}))).is_ok());
    }

    #[test]
    fn safe_urls_are_http_https_or_relative() {
        for ok in [
            "/a",
            "a/b",
            "https://shop.example/x",
            "HTTP://x",
            "?q=1",
            "#top",
            "//cdn.example/x.png",
        ] {
            assert!(is_safe_url(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            " JavaScript:x",
            "data:text/html,x",
            "vbscript:x",
            "",
            "a\nb",
        ] {
            assert!(!is_safe_url(bad), "{bad}");
        }
    }

    #[test]
    fn malformed_json_is_a_shape_error() {
        let err = SiteConfig::from_json("{\"site\": 5}").unwrap_err();
        assert!(matches!(err, ConfigError::Shape(_)));
    }
}
