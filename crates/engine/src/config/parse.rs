//! Reading a config from a JSON value by hand, so every error names the
//! campaign and the field, and the widget ships no serde deserializer.
//!
//! Unknown fields are ignored: an older widget must keep working with a
//! config published by a newer server.

use serde_json::{Map, Value};

use super::{Banner, Campaign, Content, Cta, SiteConfig, Variant};
use crate::condition::type_name;
use crate::error::ConfigError;

/// A problem at a field path, before the campaign is known.
type FieldError = (String, String);

fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn wrong(path: String, want: &str, got: &Value) -> FieldError {
    (path, format!("must be {want}, found {}", type_name(got)))
}

fn object<'v>(v: &'v Value, path: &str) -> Result<&'v Map<String, Value>, FieldError> {
    v.as_object()
        .ok_or_else(|| wrong(path.to_string(), "an object", v))
}

fn string(obj: &Map<String, Value>, path: &str, key: &str) -> Result<String, FieldError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong(field(path, key), "a string", other)),
        None => Err((field(path, key), "is missing".to_string())),
    }
}

fn opt_string(
    obj: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<String>, FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong(field(path, key), "a string", other)),
    }
}

fn array<'v>(
    obj: &'v Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'v [Value], FieldError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(wrong(field(path, key), "an array", other)),
    }
}

impl SiteConfig {
    /// Reads a config from a JSON value. Errors name the campaign and the
    /// field, e.g. ``campaign `welcome`: variants[0].content.headline: is missing``.
    pub fn from_value(value: &Value) -> Result<Self, ConfigError> {
        let shape = |(path, message): FieldError| ConfigError::Shape(format!("{path}: {message}"));
        let obj = object(value, "config").map_err(shape)?;
        let site = string(obj, "", "site").map_err(shape)?;
        let version = match obj.get("version") {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| shape(wrong("version".into(), "a whole number of at least 0", v)))?,
            None => return Err(shape(("version".into(), "is missing".into()))),
        };
        let mut campaigns = Vec::new();
        for (index, raw) in array(obj, "", "campaigns")
            .map_err(shape)?
            .iter()
            .enumerate()
        {
            campaigns.push(campaign(raw, index)?);
        }
        Ok(SiteConfig {
            site,
            version,
            campaigns,
        })
    }
}

fn campaign(raw: &Value, index: usize) -> Result<Campaign, ConfigError> {
    let position = format!("#{index}");
    let obj = raw.as_object().ok_or_else(|| {
        ConfigError::campaign(
            &position,
            "",
            format!("must be an object, found {}", type_name(raw)),
        )
    })?;
    let id = string(obj, "", "id").map_err(|(f, m)| ConfigError::campaign(&position, f, m))?;
    let named = |(f, m): FieldError| ConfigError::campaign(&id, f, m);
    let condition = match obj.get("condition") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(c) => c.clone(),
    };
    let mut variants = Vec::new();
    for (i, v) in array(obj, "", "variants")
        .map_err(named)?
        .iter()
        .enumerate()
    {
        variants.push(variant(v, &format!("variants[{i}]")).map_err(named)?);
    }
    Ok(Campaign {
        name: opt_string(obj, "", "name")
            .map_err(named)?
            .unwrap_or_default(),
        placement: string(obj, "", "placement").map_err(named)?,
        condition,
        variants,
        id,
    })
}

fn variant(raw: &Value, path: &str) -> Result<Variant, FieldError> {
    let obj = object(raw, path)?;
    let content_path = field(path, "content");
    let content = obj
        .get("content")
        .ok_or_else(|| (content_path.clone(), "is missing".to_string()))?;
    Ok(Variant {
        id: string(obj, path, "id")?,
        content: content_of(content, &content_path)?,
    })
}

fn content_of(raw: &Value, path: &str) -> Result<Content, FieldError> {
    let obj = object(raw, path)?;
    match string(obj, path, "type")?.as_str() {
        "banner" => Ok(Content::Banner(Banner {
            headline: string(obj, path, "headline")?,
            body: opt_string(obj, path, "body")?.unwrap_or_default(),
            image: opt_string(obj, path, "image")?,
            cta: match obj.get("cta") {
                None | Some(Value::Null) => None,
                Some(cta) => {
                    let cta_path = field(path, "cta");
                    let c = object(cta, &cta_path)?;
                    Some(Cta {
                        text: string(c, &cta_path, "text")?,
                        url: string(c, &cta_path, "url")?,
                    })
                }
            },
            theme: opt_string(obj, path, "theme")?,
        })),
        other => Err((
            field(path, "type"),
            format!("`{other}` is not a content type (known: banner)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<SiteConfig, String> {
        SiteConfig::from_value(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_config_reads_every_field_and_ignores_unknown_ones() {
        let cfg = parse(
            json!({"site": "s", "version": 7, "future_field": true, "campaigns": [{
                "id": "c", "name": "N", "placement": "p", "condition": {"a": 1},
                "variants": [{"id": "v", "content": {"type": "banner", "headline": "H", "body": "B",
                    "image": "/i.png", "theme": "dark", "cta": {"text": "T", "url": "/u"}}}]
            }]}),
        )
        .unwrap();
        assert_eq!(cfg.version, 7);
        let c = &cfg.campaigns[0];
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.placement.as_str()),
            ("c", "N", "p")
        );
        assert_eq!(c.condition, json!({"a": 1}));
        let Content::Banner(b) = &c.variants[0].content;
        assert_eq!(b.cta.as_ref().map(|c| c.url.as_str()), Some("/u"));
        assert_eq!(b.image.as_deref(), Some("/i.png"));
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let cfg = parse(
            json!({"site": "s", "version": 1, "campaigns": [{"id": "c", "placement": "p",
            "variants": [{"id": "v", "content": {"type": "banner", "headline": "H"}}]}]}),
        )
        .unwrap();
        assert_eq!(cfg.campaigns[0].condition, json!({}));
        assert_eq!(cfg.campaigns[0].name, "");
        assert!(
            parse(json!({"site": "s", "version": 1}))
                .unwrap()
                .campaigns
                .is_empty()
        );
    }

    #[test]
    fn errors_name_the_campaign_and_the_field() {
        let base = |content: Value| {
            json!({"site": "s", "version": 1, "campaigns": [{"id": "welcome", "placement": "p",
                "variants": [{"id": "v", "content": content}]}]})
        };
        assert_eq!(
            parse(base(json!({"type": "banner"}))).unwrap_err(),
            "campaign `welcome`: variants[0].content.headline: is missing"
        );
        assert_eq!(
            parse(base(json!({"type": "banner", "headline": 5}))).unwrap_err(),
            "campaign `welcome`: variants[0].content.headline: must be a string, found number"
        );
        assert_eq!(
            parse(base(json!({"type": "popup", "headline": "x"}))).unwrap_err(),
            "campaign `welcome`: variants[0].content.type: `popup` is not a content type (known: banner)"
        );
        assert_eq!(
            parse(json!({"site": "s", "version": 1, "campaigns": [{"placement": "p"}]}))
                .unwrap_err(),
            "campaign `#0`: id: is missing"
        );
    }

    #[test]
    fn the_top_level_shape_is_checked() {
        assert_eq!(
            parse(json!([])).unwrap_err(),
            "config is not valid: config: must be an object, found array"
        );
        assert_eq!(
            parse(json!({"site": "s"})).unwrap_err(),
            "config is not valid: version: is missing"
        );
        assert_eq!(
            parse(json!({"site": "s", "version": -1})).unwrap_err(),
            "config is not valid: version: must be a whole number of at least 0, found number"
        );
        assert!(parse(json!({"site": "s", "version": 1, "campaigns": {}})).is_err());
    }
}
