//! Reading a config from a JSON value by hand, so every error names the
//! campaign and the field, and the widget ships no serde deserializer.
//!
//! Reading checks types; [`super::compile`] checks meaning. A campaign that
//! cannot be read is kept as an error and skipped at compile time.

use crate::json::{Map, Value};

use super::{
    ATTRIBUTION_HOURS, Allocation, Banner, Campaign, Caps, Content, Coupon, CouponPolicy, Cta,
    FeedbackQuestion, LOCALES, LoyaltyPrompt, Placement, PlacementKind, Pressure, Recommendations,
    SCHEMA, Scale, Schedule, SiteConfig, Strategy, Tier, Trigger, Variant,
};
use crate::churn::{BgNbd, ChurnModel, GammaGamma};
use crate::condition::type_name;
use crate::error::ConfigError;
use crate::profile::ProfileConfig;

/// A problem at a field path (the path, then what is wrong), before the
/// campaign is known. Boxed: the reader has a hundred `?`, and each passes
/// one pointer instead of two strings (1.3 KB less wasm, gzipped).
pub(crate) struct FieldError(pub Box<(String, String)>);

impl From<(String, String)> for FieldError {
    fn from(e: (String, String)) -> Self {
        FieldError(Box::new(e))
    }
}

fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn wrong(path: String, want: &str, got: &Value) -> FieldError {
    (path, format!("must be {want}, found {}", type_name(got))).into()
}

fn shape(e: FieldError) -> ConfigError {
    let (path, message) = *e.0;
    ConfigError::Shape(format!("{path}: {message}"))
}

/// A JSON object with its path, for reading fields with good errors.
struct Obj<'v> {
    map: &'v Map,
    path: String,
}

impl<'v> Obj<'v> {
    fn new(value: &'v Value, path: &str) -> Result<Self, FieldError> {
        value
            .as_object()
            .map(|map| Obj {
                map,
                path: path.to_string(),
            })
            .ok_or_else(|| {
                let shown = if path.is_empty() { "config" } else { path };
                wrong(shown.to_string(), "an object", value)
            })
    }

    fn at(&self, key: &str) -> String {
        field(&self.path, key)
    }

    /// A present, non-null value.
    fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<String, FieldError> {
        self.opt_string(key)?
            .ok_or_else(|| (self.at(key), "is missing".to_string()).into())
    }

    fn opt_string(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(wrong(self.at(key), "a string", other)),
        }
    }

    fn text(&self, key: &str, default: &str) -> Result<String, FieldError> {
        Ok(self.opt_string(key)?.unwrap_or_else(|| default.to_string()))
    }

    fn number(&self, key: &str) -> Result<Option<f64>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| wrong(self.at(key), "a number", v)),
        }
    }

    fn share(&self, key: &str) -> Result<f64, FieldError> {
        match self.number(key)? {
            None => Ok(0.0),
            Some(s) if (0.0..=1.0).contains(&s) => Ok(s),
            Some(_) => Err((self.at(key), "must be a share between 0 and 1".into()).into()),
        }
    }

    fn count(&self, key: &str) -> Result<Option<u32>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| wrong(self.at(key), "a whole number of at least 0", v)),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong(self.at(key), "a whole number", v)),
        }
    }

    fn boolean(&self, key: &str) -> Result<bool, FieldError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(wrong(self.at(key), "true or false", other)),
        }
    }

    fn array(&self, key: &str) -> Result<&'v [Value], FieldError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(wrong(self.at(key), "an array", other)),
        }
    }

    fn object(&self, key: &str) -> Result<Option<Obj<'v>>, FieldError> {
        self.get(key)
            .map(|v| Obj::new(v, &self.at(key)))
            .transpose()
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, FieldError> {
        self.array(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| wrong(format!("{}[{i}]", self.at(key)), "a string", v))
            })
            .collect()
    }
}

/// A config read field by field. Campaigns that could not be read are kept
/// as errors so compilation can report and skip them.
pub(crate) struct Read {
    pub config: SiteConfig,
    pub broken: Vec<(usize, ConfigError)>,
}

impl SiteConfig {
    /// Reads a config from JSON text (native callers; the widget lets the
    /// browser parse JSON and hands over a value).
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ConfigError::Shape(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Reads a config from a JSON value. Errors name the field, e.g.
    /// `config is not valid: pressure.per_day: must be a whole number of at
    /// least 0, found string`. A campaign that cannot be read makes this
    /// fail too; [`SiteConfig::compile_value`] skips it instead.
    pub fn from_value(value: &Value) -> Result<Self, ConfigError> {
        let read = read(value)?;
        match read.broken.into_iter().next() {
            Some((_, err)) => Err(err),
            None => Ok(read.config),
        }
    }
}

pub(crate) fn read(value: &Value) -> Result<Read, ConfigError> {
    read_top(value).map_err(shape).and_then(|(config, raw)| {
        let mut config = config;
        let mut broken = Vec::new();
        for (index, raw) in raw.iter().enumerate() {
            match campaign(raw, index) {
                Ok(c) => config.campaigns.push(c),
                Err(e) => broken.push((index, e)),
            }
        }
        if config.schema > SCHEMA {
            return Err(ConfigError::Shape(format!(
                "schema: {} is newer than this widget understands ({SCHEMA})",
                config.schema
            )));
        }
        Ok(Read { config, broken })
    })
}

/// Everything but the campaigns, plus the raw campaign list.
fn read_top(value: &Value) -> Result<(SiteConfig, &[Value]), FieldError> {
    let top = Obj::new(value, "")?;
    let version = match top.get("version") {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| wrong("version".into(), "a whole number of at least 0", v))?,
        None => return Err(("version".into(), "is missing".into()).into()),
    };
    let pressure = match top.object("pressure")? {
        Some(p) => Pressure {
            per_session: p.count("per_session")?,
            per_day: p.count("per_day")?,
        },
        None => Pressure::default(),
    };
    let saved_groups = match top.get("saved_groups") {
        None => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => return Err(wrong("saved_groups".into(), "an object", other)),
    };
    let mut placements = Vec::new();
    for (i, raw) in top.array("placements")?.iter().enumerate() {
        placements.push(placement(raw, &format!("placements[{i}]"))?);
    }
    let mut tiers = Vec::new();
    for (i, raw) in top.array("tiers")?.iter().enumerate() {
        let t = Obj::new(raw, &format!("tiers[{i}]"))?;
        let id = t.string("id")?;
        tiers.push(Tier {
            name: t.text("name", &id)?,
            points: t.number("points")?.unwrap_or(0.0),
            perks: t.text("perks", "")?,
            id,
        });
    }
    let profile = match top.object("profile")? {
        None => ProfileConfig::default(),
        Some(p) => profile_config(&p)?,
    };
    let config = SiteConfig {
        profile,
        schema: top.count("schema")?.map_or(SCHEMA, u64::from),
        site: top.string("site")?,
        version,
        placements,
        campaigns: Vec::new(),
        pressure,
        global_holdout: top.share("global_holdout")?,
        saved_groups,
        tiers,
        locale: match top.opt_string("locale")? {
            Some(l) if !LOCALES.contains(&l.as_str()) => {
                return Err((
                    "locale".into(),
                    format!("must be one of {}, found `{l}`", LOCALES.join(", ")),
                )
                    .into());
            }
            other => other,
        },
        currency: match top.opt_string("currency")? {
            Some(c) if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) => {
                return Err((
                    "currency".into(),
                    format!("must be a three-letter ISO 4217 code like KRW, found `{c}`"),
                )
                    .into());
            }
            other => other,
        },
        attribution_hours: match top.count("attribution_hours")? {
            Some(0) => return Err(("attribution_hours".into(), "must be at least 1".into()).into()),
            Some(h) => h.min(24 * 90),
            None => ATTRIBUTION_HOURS,
        },
    };
    Ok((config, top.array("campaigns")?))
}

fn four(obj: &Obj<'_>, key: &str, default: [f64; 4]) -> Result<[f64; 4], FieldError> {
    if obj.get(key).is_none() {
        return Ok(default);
    }
    match numbers(obj, key)?.as_slice() {
        [a, b, c, d] if a <= b && b <= c && c <= d => Ok([*a, *b, *c, *d]),
        _ => Err((obj.at(key), "must be four ascending numbers".into()).into()),
    }
}

fn profile_config(p: &Obj<'_>) -> Result<ProfileConfig, FieldError> {
    let d = ProfileConfig::default();
    let days = |key: &str, default: f64| -> Result<f64, FieldError> {
        match p.number(key)? {
            None => Ok(default),
            Some(x) if x >= 0.0 => Ok(x),
            Some(_) => Err((p.at(key), "must be at least 0".into()).into()),
        }
    };
    Ok(ProfileConfig {
        session_timeout_minutes: p
            .count("session_timeout_minutes")?
            .unwrap_or(d.session_timeout_minutes)
            .max(1),
        recency_days: four(p, "recency_days", d.recency_days)?,
        frequency_orders: four(p, "frequency_orders", d.frequency_orders)?,
        monetary: four(p, "monetary", d.monetary)?,
        dormant_days: days("dormant_days", d.dormant_days)?,
        at_risk_factor: days("at_risk_factor", d.at_risk_factor)?,
        at_risk_min_days: days("at_risk_min_days", d.at_risk_min_days)?,
        loyal_orders: p.count("loyal_orders")?.unwrap_or(d.loyal_orders),
        vip_rfm_total: p
            .count("vip_rfm_total")?
            .map_or(d.vip_rfm_total, |n| n.min(15) as u8),
        affinity_half_life_days: days("affinity_half_life_days", d.affinity_half_life_days)?,
        long_dwell_seconds: p
            .count("long_dwell_seconds")?
            .unwrap_or(d.long_dwell_seconds),
        cart_abandon_minutes: p
            .count("cart_abandon_minutes")?
            .unwrap_or(d.cart_abandon_minutes),
        at_risk_p_alive: match p.number("at_risk_p_alive")? {
            None => None,
            Some(x) if (0.0..=1.0).contains(&x) => Some(x),
            Some(_) => {
                return Err((
                    p.at("at_risk_p_alive"),
                    "must be a share between 0 and 1".into(),
                )
                    .into());
            }
        },
        churn: match p.object("churn")? {
            None => None,
            Some(c) => Some(churn_model(&c)?),
        },
    })
}

/// A fitted churn model (what the server publishes): BG/NBD's `r`,
/// `alpha`, `a`, `b`, and Gamma-Gamma's `p`, `q`, `v` when spend is fitted.
fn churn_model(c: &Obj<'_>) -> Result<ChurnModel, FieldError> {
    let positive = |key: &str| -> Result<Option<f64>, FieldError> {
        match c.number(key)? {
            Some(x) if x > 0.0 => Ok(Some(x)),
            None => Ok(None),
            Some(_) => Err((c.at(key), "must be above 0".into()).into()),
        }
    };
    let need = |key: &str| -> Result<f64, FieldError> {
        positive(key)?.ok_or_else(|| (c.at(key), "is missing".to_string()).into())
    };
    let bgnbd = BgNbd {
        r: need("r")?,
        alpha: need("alpha")?,
        a: need("a")?,
        b: need("b")?,
    };
    let spend = match (positive("p")?, positive("q")?, positive("v")?) {
        (Some(p), Some(q), Some(v)) => Some(GammaGamma { p, q, v }),
        (None, None, None) => None,
        _ => {
            return Err((c.at("p"), "`p`, `q` and `v` come together".into()).into());
        }
    };
    Ok(ChurnModel { bgnbd, spend })
}

fn placement(raw: &Value, path: &str) -> Result<Placement, FieldError> {
    let p = Obj::new(raw, path)?;
    let kind = match p.text("kind", "inline")?.as_str() {
        "inline" => PlacementKind::Inline,
        "modal" => PlacementKind::Modal,
        "toast" => PlacementKind::Toast,
        "bar" => PlacementKind::Bar,
        other => {
            return Err((
                p.at("kind"),
                format!("`{other}` is not one of: inline, modal, toast, bar"),
            )
                .into());
        }
    };
    let trigger = match p.object("trigger")? {
        None => None,
        Some(t) => {
            let need = |key: &str| -> Result<u32, FieldError> {
                t.count(key)?
                    .ok_or_else(|| (t.at(key), "is missing".to_string()).into())
            };
            Some(match t.string("type")?.as_str() {
                "page_load" => Trigger::PageLoad,
                "exit_intent" => Trigger::ExitIntent,
                "dwell" => Trigger::Dwell {
                    seconds: need("seconds")?,
                },
                "scroll" => Trigger::Scroll {
                    percent: need("percent")?,
                },
                "inactivity" => Trigger::Inactivity {
                    seconds: need("seconds")?,
                },
                "nth_page_view" => Trigger::NthPageView { n: need("n")? },
                "returning_with_cart" => Trigger::ReturningWithCart,
                other => {
                    return Err((
                        t.at("type"),
                        format!(
                            "`{other}` is not one of: page_load, exit_intent, dwell, scroll, \
                             inactivity, nth_page_view, returning_with_cart"
                        ),
                    )
                        .into());
                }
            })
        }
    };
    Ok(Placement {
        id: p.string("id")?,
        kind,
        trigger,
    })
}

fn campaign(raw: &Value, index: usize) -> Result<Campaign, ConfigError> {
    let position = format!("#{index}");
    let Some(map) = raw.as_object() else {
        return Err(ConfigError::campaign(
            &position,
            "campaign",
            format!("must be an object, found {}", type_name(raw)),
        ));
    };
    let c = Obj {
        map,
        path: String::new(),
    };
    let id = c.string("id").map_err(|e| {
        let (f, m) = *e.0;
        ConfigError::campaign(&position, f, m)
    })?;
    campaign_fields(&c, &id).map_err(|e| {
        let (f, m) = *e.0;
        ConfigError::campaign(&id, f, m)
    })
}

fn schedule(s: &Obj<'_>) -> Result<Schedule, FieldError> {
    let mut weekdays = Vec::new();
    for (i, v) in s.array("weekdays")?.iter().enumerate() {
        match v.as_u64().filter(|d| (1..=7).contains(d)) {
            Some(d) => weekdays.push(d as u8),
            None => {
                return Err((
                    format!("{}[{i}]", s.at("weekdays")),
                    "must be a weekday from 1 (Monday) to 7 (Sunday)".to_string(),
                )
                    .into());
            }
        }
    }
    let hours = match s.array("hours")? {
        [] => None,
        [from, to] => {
            let hour = |v: &Value| v.as_u64().filter(|h| *h <= 24).map(|h| h as u8);
            match (hour(from), hour(to)) {
                (Some(f), Some(t)) => Some((f, t)),
                _ => return Err((s.at("hours"), "hours must be from 0 to 24".into()).into()),
            }
        }
        _ => return Err((s.at("hours"), "must be [from, to] in local hours".into()).into()),
    };
    Ok(Schedule {
        start_ms: s.int("start_ms")?,
        end_ms: s.int("end_ms")?,
        weekdays,
        hours,
    })
}

fn allocation(a: &Obj<'_>) -> Result<Allocation, FieldError> {
    match a.text("type", "fixed")?.as_str() {
        "fixed" => Ok(Allocation::Fixed {
            weights: match a.get("weights") {
                None => None,
                Some(_) => Some(numbers(a, "weights")?),
            },
        }),
        "bandit" => {
            let mut posteriors = Vec::new();
            for (i, p) in a.array("posteriors")?.iter().enumerate() {
                let pair = match p.as_array().map(Vec::as_slice) {
                    Some([x, y]) => x.as_f64().zip(y.as_f64()),
                    _ => None,
                };
                match pair {
                    Some((x, y)) if x > 0.0 && y > 0.0 => posteriors.push((x, y)),
                    _ => {
                        return Err((
                            format!("{}[{i}]", a.at("posteriors")),
                            "must be [alpha, beta] with both above 0".to_string(),
                        )
                            .into());
                    }
                }
            }
            Ok(Allocation::Bandit {
                posteriors,
                min_share: a.share("min_share")?,
            })
        }
        other => Err((
            a.at("type"),
            format!("`{other}` is not one of: fixed, bandit"),
        )
            .into()),
    }
}

fn campaign_fields(c: &Obj<'_>, id: &str) -> Result<Campaign, FieldError> {
    // `placement` (one) is accepted as well as `placements` (several).
    let mut placements = c.strings("placements")?;
    if let Some(one) = c.opt_string("placement")? {
        placements.insert(0, one);
    }
    let caps = match c.object("caps")? {
        None => Caps::default(),
        Some(k) => Caps {
            per_session: k.count("per_session")?,
            per_day: k.count("per_day")?,
            per_week: k.count("per_week")?,
            lifetime: k.count("lifetime")?,
            min_gap_minutes: k.count("min_gap_minutes")?,
            dismiss_cooldown_hours: k.count("dismiss_cooldown_hours")?,
            stop_after_conversion: k.boolean("stop_after_conversion")?,
        },
    };
    let mut variants = Vec::new();
    for (i, v) in c.array("variants")?.iter().enumerate() {
        variants.push(variant(v, &format!("variants[{i}]"))?);
    }
    Ok(Campaign {
        id: id.to_string(),
        name: c.text("name", "")?,
        placements,
        condition: c
            .get("condition")
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new())),
        schedule: match c.object("schedule")? {
            None => Schedule::default(),
            Some(s) => schedule(&s)?,
        },
        priority: c.int("priority")?.unwrap_or(0),
        group: c.opt_string("group")?,
        caps,
        holdout: c.share("holdout")?,
        allocation: match c.object("allocation")? {
            None => Allocation::Fixed { weights: None },
            Some(a) => allocation(&a)?,
        },
        coupon: match c.object("coupon")? {
            None => None,
            Some(k) => Some(CouponPolicy {
                budget: k
                    .count("budget")?
                    .ok_or_else(|| FieldError::from((k.at("budget"), "is missing".to_string())))?,
                valid_days: k.count("valid_days")?.unwrap_or(30),
                prefix: k.text("prefix", "")?,
            }),
        },
        seed: c.text("seed", id)?,
        hash_version: c
            .count("hash_version")?
            .unwrap_or(crate::bucket::DEFAULT_HASH_VERSION),
        variants,
    })
}

fn numbers(obj: &Obj<'_>, key: &str) -> Result<Vec<f64>, FieldError> {
    obj.array(key)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64()
                .ok_or_else(|| wrong(format!("{}[{i}]", obj.at(key)), "a number", v))
        })
        .collect()
}

fn variant(raw: &Value, path: &str) -> Result<Variant, FieldError> {
    let v = Obj::new(raw, path)?;
    let content = v
        .object("content")?
        .ok_or_else(|| FieldError::from((v.at("content"), "is missing".to_string())))?;
    Ok(Variant {
        id: v.string("id")?,
        content: content_of(&content)?,
    })
}

fn content_of(c: &Obj<'_>) -> Result<Content, FieldError> {
    Ok(match c.string("type")?.as_str() {
        "banner" => Content::Banner(Banner {
            headline: c.string("headline")?,
            body: c.text("body", "")?,
            image: c.opt_string("image")?,
            cta: match c.object("cta")? {
                None => None,
                Some(cta) => Some(Cta {
                    text: cta.string("text")?,
                    url: cta.string("url")?,
                }),
            },
            theme: c.opt_string("theme")?,
        }),
        "coupon" => Content::Coupon(Coupon {
            headline: c.string("headline")?,
            value: c.string("value")?,
            body: c.text("body", "")?,
            reveal: c.text("reveal", "Show my code")?,
            terms: c.text("terms", "")?,
        }),
        "loyalty_prompt" => Content::LoyaltyPrompt(LoyaltyPrompt {
            headline: c.string("headline")?,
            body: c.text("body", "")?,
        }),
        "feedback_question" => Content::FeedbackQuestion(FeedbackQuestion {
            question: c.string("question")?,
            scale: match c.text("scale", "rating")?.as_str() {
                "rating" => Scale::Rating,
                "nps" => Scale::Nps,
                "choice" => Scale::Choice {
                    choices: c.strings("choices")?,
                },
                other => {
                    return Err((
                        c.at("scale"),
                        format!("`{other}` is not one of: rating, nps, choice"),
                    )
                        .into());
                }
            },
        }),
        "recommendations" => Content::Recommendations(Recommendations {
            headline: c.string("headline")?,
            count: c.count("count")?.unwrap_or(4),
            per_category: c.count("per_category")?.unwrap_or(2),
            strategy: match c.text("strategy", "related")?.as_str() {
                "related" => Strategy::Related,
                "best_sellers" => Strategy::BestSellers,
                other => {
                    return Err((
                        c.at("strategy"),
                        format!("`{other}` is not one of: related, best_sellers"),
                    )
                        .into());
                }
            },
        }),
        other => {
            return Err((
                c.at("type"),
                format!(
                    "`{other}` is not a content type (banner, coupon, loyalty_prompt, feedback_question, recommendations)"
                ),
            ).into());
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn parse(v: Value) -> Result<SiteConfig, String> {
        SiteConfig::from_value(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_config_reads_every_field_and_ignores_unknown_ones() {
        let cfg = parse(json!({
            "schema": 1, "site": "s", "version": 7, "future_field": true,
            "pressure": {"per_session": 2, "per_day": 4}, "global_holdout": 0.05,
            "saved_groups": {"vips": ["a"]},
            "tiers": [{"id": "silver", "points": 0}, {"id": "gold", "name": "Gold", "points": 2000, "perks": "Free shipping"}],
            "placements": [{"id": "exit", "kind": "modal", "trigger": {"type": "exit_intent"}},
                           {"id": "dwell", "kind": "toast", "trigger": {"type": "dwell", "seconds": 30}}],
            "campaigns": [{
                "id": "c", "name": "N", "placements": ["p", "q"], "condition": {"a": 1},
                "schedule": {"start_ms": 1, "end_ms": 2, "weekdays": [1, 7], "hours": [9, 18]},
                "priority": 5, "group": "g", "holdout": 0.1, "seed": "s1", "hash_version": 1,
                "caps": {"per_session": 1, "per_day": 2, "per_week": 3, "lifetime": 4,
                         "min_gap_minutes": 5, "dismiss_cooldown_hours": 6, "stop_after_conversion": true},
                "allocation": {"type": "bandit", "posteriors": [[1, 1], [2, 3]], "min_share": 0.1},
                "variants": [
                    {"id": "v", "content": {"type": "banner", "headline": "H", "body": "B",
                        "image": "/i.png", "theme": "dark", "cta": {"text": "T", "url": "/u"}}},
                    {"id": "w", "content": {"type": "banner", "headline": "H2"}}
                ]
            }]
        }))
        .unwrap();
        assert_eq!((cfg.version, cfg.global_holdout), (7, 0.05));
        assert_eq!(
            cfg.pressure,
            Pressure {
                per_session: Some(2),
                per_day: Some(4)
            }
        );
        assert_eq!(cfg.tiers[1].perks, "Free shipping");
        assert_eq!(cfg.tiers[0].name, "silver");
        assert_eq!(
            cfg.placements[1].trigger,
            Some(Trigger::Dwell { seconds: 30 })
        );
        let c = &cfg.campaigns[0];
        assert_eq!(c.placements, ["p", "q"]);
        assert_eq!(c.schedule.hours, Some((9, 18)));
        assert_eq!(c.schedule.weekdays, [1, 7]);
        assert_eq!(c.caps.dismiss_cooldown_hours, Some(6));
        assert!(c.caps.stop_after_conversion);
        assert_eq!(
            c.allocation,
            Allocation::Bandit {
                posteriors: vec![(1.0, 1.0), (2.0, 3.0)],
                min_share: 0.1
            }
        );
        assert_eq!((c.seed.as_str(), c.hash_version, c.priority), ("s1", 1, 5));
        assert_eq!(cfg.profile, ProfileConfig::default());
    }

    #[test]
    fn profile_thresholds_read_from_the_config() {
        let cfg = parse(json!({"site": "s", "version": 1, "profile": {
            "dormant_days": 45, "recency_days": [3, 14, 60, 120], "loyal_orders": 5}}))
        .unwrap();
        assert_eq!(cfg.profile.dormant_days, 45.0);
        assert_eq!(cfg.profile.recency_days, [3.0, 14.0, 60.0, 120.0]);
        assert_eq!(cfg.profile.loyal_orders, 5);
        let bad = parse(json!({"site": "s", "version": 1, "profile": {"monetary": [3, 2, 1, 0]}}));
        assert_eq!(
            bad.unwrap_err(),
            "config is not valid: profile.monetary: must be four ascending numbers"
        );
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let cfg = parse(
            json!({"site": "s", "version": 1, "campaigns": [{"id": "c", "placement": "p",
            "variants": [{"id": "v", "content": {"type": "banner", "headline": "H"}}]}]}),
        )
        .unwrap();
        let c = &cfg.campaigns[0];
        assert_eq!(c.condition, json!({}));
        assert_eq!((c.seed.as_str(), c.holdout, c.priority), ("c", 0.0, 0));
        assert_eq!(c.placements, ["p"]);
        assert_eq!(c.allocation, Allocation::Fixed { weights: None });
        assert_eq!(cfg.schema, SCHEMA);
    }

    #[test]
    fn every_content_type_reads() {
        let content = |c: Value| {
            parse(
                json!({"site": "s", "version": 1, "campaigns": [{"id": "c", "placement": "p",
                "variants": [{"id": "v", "content": c}]}]}),
            )
            .map(|cfg| cfg.campaigns[0].variants[0].content.clone())
        };
        let coupon =
            content(json!({"type": "coupon", "headline": "H", "value": "10% off"})).unwrap();
        assert_eq!(coupon.kind(), "coupon");
        let Content::Coupon(c) = coupon else {
            unreachable!()
        };
        assert_eq!(c.reveal, "Show my code");
        assert_eq!(
            content(json!({"type": "loyalty_prompt", "headline": "H"}))
                .unwrap()
                .kind(),
            "loyalty_prompt"
        );
        let q = content(json!({"type": "feedback_question", "question": "Q?", "scale": "choice", "choices": ["a", "b"]})).unwrap();
        assert_eq!(
            q,
            Content::FeedbackQuestion(FeedbackQuestion {
                question: "Q?".into(),
                scale: Scale::Choice {
                    choices: vec!["a".into(), "b".into()]
                },
            })
        );
        assert!(
            content(json!({"type": "coupon", "headline": "H"}))
                .unwrap_err()
                .ends_with("variants[0].content.value: is missing")
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
        assert!(
            parse(base(json!({"type": "popup", "headline": "x"})))
                .unwrap_err()
                .starts_with(
                    "campaign `welcome`: variants[0].content.type: `popup` is not a content type"
                )
        );
        assert_eq!(
            parse(json!({"site": "s", "version": 1, "campaigns": [{"placement": "p"}]}))
                .unwrap_err(),
            "campaign `#0`: id: is missing"
        );
        let caps = json!({"site": "s", "version": 1, "campaigns": [{"id": "c", "caps": {"per_day": "2"}}]});
        assert_eq!(
            parse(caps).unwrap_err(),
            "campaign `c`: caps.per_day: must be a whole number of at least 0, found string"
        );
        let holdout =
            json!({"site": "s", "version": 1, "campaigns": [{"id": "c", "holdout": 1.5}]});
        assert_eq!(
            parse(holdout).unwrap_err(),
            "campaign `c`: holdout: must be a share between 0 and 1"
        );
        let days = json!({"site": "s", "version": 1, "campaigns": [{"id": "c", "schedule": {"weekdays": [0]}}]});
        assert_eq!(
            parse(days).unwrap_err(),
            "campaign `c`: schedule.weekdays[0]: must be a weekday from 1 (Monday) to 7 (Sunday)"
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
        assert_eq!(
            parse(json!({"schema": 9, "site": "s", "version": 1})).unwrap_err(),
            "config is not valid: schema: 9 is newer than this widget understands (1)"
        );
        assert_eq!(
            parse(json!({"site": "s", "version": 1, "placements": [{"id": "x", "kind": "popup"}]}))
                .unwrap_err(),
            "config is not valid: placements[0].kind: `popup` is not one of: inline, modal, toast, bar"
        );
    }
}
