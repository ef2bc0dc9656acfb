//! Checking a config's meaning and compiling its conditions, once per load.

use crate::json::Value;

#[cfg(feature = "checks")]
use super::THEMES;
use super::parse::{FieldError, read};
use super::{Allocation, Campaign, Content, SiteConfig, is_identifier, is_safe_url};
use crate::condition::{Condition, Paths, RegexEngine};
use crate::error::ConfigError;

/// Attribute roots that describe the page, not the shopper: usable before
/// consent. Everything else is behavioural or declared data.
pub const CONTEXTUAL_ROOTS: &[&str] = &[
    "page",
    "device",
    "locale",
    "local_hour",
    "weekday",
    "month",
    "day",
    "utm",
    "consent",
];

/// A campaign that passed every check, with its condition compiled.
#[derive(Debug)]
pub struct CompiledCampaign {
    /// The campaign as configured.
    pub campaign: Campaign,
    /// Its audience condition, compiled.
    pub condition: Condition,
    /// Whether the condition reads anything beyond the page context, so it
    /// needs consent.
    pub behavioural: bool,
    /// Position in the config, for stable priority ties.
    pub index: usize,
}

impl CompiledCampaign {
    /// The plain-words reasons a shopper sees under "Why this offer?":
    /// only for an offer chosen from personal data (an audience of page
    /// context alone explains nothing about the shopper), else none.
    pub fn why(&self, attributes: &Value, lang: crate::i18n::Lang) -> Vec<String> {
        if self.behavioural {
            crate::explain::why(&self.condition, attributes, lang)
        } else {
            Vec::new()
        }
    }
}

/// A config that passed its checks: the only kind decisions take.
#[derive(Debug)]
pub struct CompiledConfig {
    config: SiteConfig,
    /// Which line of publishes the config belongs to (see
    /// [`CompiledConfig::is_older_than`]); empty when not known.
    lineage: String,
    campaigns: Vec<CompiledCampaign>,
    /// Every attribute path the campaigns' conditions read, once.
    paths: Paths,
    problems: Vec<ConfigError>,
    /// The compact text it was read from; empty when compiled from JSON.
    pub(super) source: String,
}

impl CompiledConfig {
    /// A config read back from its compact form (checked when written).
    pub(crate) fn assemble(
        config: SiteConfig,
        lineage: String,
        campaigns: Vec<CompiledCampaign>,
        paths: Paths,
    ) -> Self {
        CompiledConfig {
            config,
            lineage,
            campaigns,
            paths,
            problems: Vec::new(),
            source: String::new(),
        }
    }

    /// The compact text this config was read from (empty for one compiled
    /// from JSON): what the widget hands its second module.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The config as read; its campaigns moved to
    /// [`CompiledConfig::campaigns`] (its own `campaigns` list is empty).
    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    /// Which line of publishes this config belongs to: the server writes
    /// one per site signing key into the compact form, so a database
    /// started afresh (versions from 1 again) is a new line.
    pub fn lineage(&self) -> &str {
        &self.lineage
    }

    /// Whether this is an older publish of the same line than the config
    /// a browser holds (`version`, `lineage`): a replay of an earlier,
    /// validly signed config, which must not replace the newer one.
    /// Rollbacks publish a new version, so they are never older.
    pub fn is_older_than(&self, version: u64, lineage: &str) -> bool {
        !lineage.is_empty() && self.lineage == lineage && self.config.version < version
    }

    /// The attribute paths the campaigns' conditions read, for
    /// [`Condition::eval_resolved`].
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Usable campaigns, highest priority first, then in config order.
    pub fn campaigns(&self) -> &[CompiledCampaign] {
        &self.campaigns
    }

    /// The content of variant `variant_index` of campaign `campaign_id`
    /// (what a [`crate::decide::Chosen`] names), if the config has it.
    pub fn content(&self, campaign_id: &str, variant_index: usize) -> Option<&Content> {
        let campaign = &self
            .campaigns
            .iter()
            .find(|c| c.campaign.id == campaign_id)?
            .campaign;
        Some(&campaign.variants.get(variant_index)?.content)
    }

    /// Campaigns that were skipped, each with the error naming the field.
    pub fn problems(&self) -> &[ConfigError] {
        &self.problems
    }

    /// Campaigns that may fill `placement`, in decision order.
    pub fn campaigns_for<'a>(
        &'a self,
        placement: &'a str,
    ) -> impl Iterator<Item = &'a CompiledCampaign> {
        self.campaigns
            .iter()
            .filter(move |c| c.campaign.placements.iter().any(|p| p == placement))
    }

    /// Every placement id some campaign names, in first-seen order.
    pub fn placement_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for c in &self.campaigns {
            for p in &c.campaign.placements {
                if !ids.contains(&p.as_str()) {
                    ids.push(p);
                }
            }
        }
        ids
    }
}

impl SiteConfig {
    /// Reads and compiles a config in one step. Campaigns that cannot be
    /// read or fail a check are skipped and listed in
    /// [`CompiledConfig::problems`]; only a config that is unusable as a
    /// whole is an error.
    pub fn compile_value(
        value: &Value,
        regex: &dyn RegexEngine,
    ) -> Result<CompiledConfig, ConfigError> {
        let read = read(value)?;
        read.config.compile_with(read.broken, regex)
    }

    /// Compiles a config that was read already (see [`SiteConfig::compile_value`]).
    pub fn compile(self, regex: &dyn RegexEngine) -> Result<CompiledConfig, ConfigError> {
        self.compile_with(Vec::new(), regex)
    }

    fn compile_with(
        mut self,
        broken: Vec<(usize, ConfigError)>,
        regex: &dyn RegexEngine,
    ) -> Result<CompiledConfig, ConfigError> {
        if !is_identifier(&self.site) {
            return Err(ConfigError::Shape(format!(
                "site: `{}` is not a site id (1-64 letters, digits, `-` or `_`)",
                self.site
            )));
        }
        let mut problems: Vec<ConfigError> = broken.into_iter().map(|(_, e)| e).collect();
        let mut compiled: Vec<CompiledCampaign> = Vec::new();
        let mut paths = Paths::default();
        for (index, campaign) in std::mem::take(&mut self.campaigns).into_iter().enumerate() {
            if compiled.iter().any(|c| c.campaign.id == campaign.id) {
                problems.push(ConfigError::campaign(
                    &campaign.id,
                    "id",
                    "another campaign has the same id",
                ));
                continue;
            }
            match check(&campaign, &self, regex, &mut paths) {
                Ok((condition, behavioural)) => compiled.push(CompiledCampaign {
                    campaign,
                    condition,
                    behavioural,
                    index,
                }),
                Err(e) => {
                    let (field, message) = *e.0;
                    let who = if is_identifier(&campaign.id) {
                        campaign.id.clone()
                    } else {
                        format!("#{index}")
                    };
                    problems.push(ConfigError::campaign(who, field, message));
                }
            }
        }
        // Highest priority first; the sort is stable, so ties keep config order.
        crate::ledger::insertion_sort(&mut compiled, |a, b| {
            a.campaign.priority < b.campaign.priority
        });
        Ok(CompiledConfig {
            config: self,
            lineage: String::new(),
            campaigns: compiled,
            paths,
            problems,
            source: String::new(),
        })
    }
}

#[cfg(feature = "checks")]
const ID_RULE: &str = "must be 1-64 characters of letters, digits, `-` or `_`";

fn check(
    c: &Campaign,
    config: &SiteConfig,
    regex: &dyn RegexEngine,
    paths: &mut Paths,
) -> Result<(Condition, bool), FieldError> {
    let fail = |field: &str, message: &str| Err((field.to_string(), message.to_string()).into());
    // 1. Checks of form and range that only the publishing side needs: the
    //    widget runs configs its server checked (and signed), and running
    //    them unchecked is safe. Everything below is checked everywhere,
    //    because the widget relies on it.
    #[cfg(feature = "checks")]
    publish_checks(c, config)?;
    #[cfg(not(feature = "checks"))]
    let _ = config;
    if !matches!(c.hash_version, 1 | 2) {
        return fail("hash_version", "must be 1 or 2");
    }
    let condition = Condition::compile_with(&c.condition, regex, paths).map_err(|e| {
        let field = if e.path.is_empty() {
            "condition".to_string()
        } else {
            format!("condition.{}", e.path)
        };
        (field, e.message)
    })?;
    let behavioural = condition.paths().iter().any(|p| {
        p.first()
            .is_none_or(|root| !CONTEXTUAL_ROOTS.contains(&root.as_str()))
    });
    if c.variants.is_empty() {
        return fail("variants", "needs at least one variant");
    }
    // 2. Links and images: only http(s) or relative, on every side.
    for (i, variant) in c.variants.iter().enumerate() {
        check_urls(&variant.content).map_err(|e| {
            let (field, message) = *e.0;
            FieldError::from((format!("variants[{i}].content.{field}"), message))
        })?;
    }
    if c.variants[0].content.kind() == "coupon" && c.coupon.is_none() {
        return fail(
            "coupon",
            "a coupon campaign needs `coupon` with its `budget`",
        );
    }
    let n = c.variants.len();
    match &c.allocation {
        Allocation::Fixed { weights: Some(w) } => {
            if w.len() != n {
                return fail(
                    "allocation.weights",
                    &format!("needs one weight per variant ({n})"),
                );
            }
            let total: f64 = w.iter().sum();
            if w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || !(0.99..=1.01).contains(&total) {
                return fail("allocation.weights", "must be at least 0 and sum to 1");
            }
        }
        Allocation::Fixed { weights: None } => {}
        Allocation::Bandit {
            posteriors,
            min_share,
        } => {
            if !posteriors.is_empty() && posteriors.len() != n {
                return fail(
                    "allocation.posteriors",
                    &format!("needs one [alpha, beta] per variant ({n})"),
                );
            }
            if *min_share * n as f64 > 1.0 {
                return fail(
                    "allocation.min_share",
                    "times the number of variants must not exceed 1",
                );
            }
        }
    }
    Ok((condition, behavioural))
}

/// Ids, placements, schedule, caps, variants and content as a marketer
/// should write them (see [`check`]).
#[cfg(feature = "checks")]
fn publish_checks(c: &Campaign, config: &SiteConfig) -> Result<(), FieldError> {
    let fail = |field: &str, message: &str| Err((field.to_string(), message.to_string()).into());
    if !is_identifier(&c.id) {
        return fail("id", ID_RULE);
    }
    if c.placements.is_empty() {
        return fail("placements", "names no placement");
    }
    for (i, p) in c.placements.iter().enumerate() {
        if !is_identifier(p) {
            return fail(&format!("placements[{i}]"), ID_RULE);
        }
    }
    if let Some(group) = &c.group
        && !is_identifier(group)
    {
        return fail("group", ID_RULE);
    }
    if let (Some(start), Some(end)) = (c.schedule.start_ms, c.schedule.end_ms)
        && start >= end
    {
        return fail("schedule.end_ms", "must be after start_ms");
    }
    let most = crate::ledger::MAX_SHOWS as u32;
    for (name, cap) in [
        ("per_session", c.caps.per_session),
        ("per_day", c.caps.per_day),
        ("per_week", c.caps.per_week),
    ] {
        if cap.is_some_and(|n| n > most) {
            return fail(
                &format!("caps.{name}"),
                &format!(
                    "may be at most {most}: the profile keeps the last {most} impressions of a campaign"
                ),
            );
        }
    }
    let Some(first) = c.variants.first() else {
        return Ok(());
    };
    let kind = first.content.kind();
    for (i, variant) in c.variants.iter().enumerate() {
        if !is_identifier(&variant.id) {
            return fail(&format!("variants[{i}].id"), ID_RULE);
        }
        if c.variants[..i].iter().any(|v| v.id == variant.id) {
            return fail(&format!("variants[{i}].id"), "is used twice");
        }
        if variant.content.kind() != kind {
            return fail(
                &format!("variants[{i}].content.type"),
                &format!(
                    "is `{}` but the first variant is `{kind}`",
                    variant.content.kind()
                ),
            );
        }
        check_content(&variant.content, config).map_err(|e| {
            let (field, message) = *e.0;
            FieldError::from((format!("variants[{i}].content.{field}"), message))
        })?;
    }
    // A row of cards needs the page's own room: never an overlay.
    if kind == "recommendations"
        && let Some((i, p)) = c.placements.iter().enumerate().find(|(_, p)| {
            config
                .placements
                .iter()
                .any(|d| &d.id == *p && d.kind != super::PlacementKind::Inline)
        })
    {
        return fail(
            &format!("placements[{i}]"),
            &format!("`{p}` is an overlay; recommendations show only in an inline slot"),
        );
    }
    if kind == "coupon"
        && let Some(policy) = &c.coupon
    {
        if policy.budget == 0 || policy.valid_days == 0 {
            return fail("coupon", "`budget` and `valid_days` must be at least 1");
        }
        let prefix_ok = policy.prefix.len() <= 16
            && policy
                .prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !prefix_ok {
            return fail("coupon.prefix", "must be at most 16 of A-Z, 0-9 or `-`");
        }
    }
    Ok(())
}

#[cfg(feature = "checks")]
fn nonempty(text: &str, field: &str) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        Err((field.to_string(), "may not be empty".to_string()).into())
    } else {
        Ok(())
    }
}

fn safe(url: &str, field: &str) -> Result<(), FieldError> {
    if is_safe_url(url) {
        Ok(())
    } else {
        Err((
            field.to_string(),
            format!("`{url}` is not an http(s) or relative URL"),
        )
            .into())
    }
}

/// Images and links: only http(s) or relative URLs, never `javascript:` or
/// `data:`.
fn check_urls(content: &Content) -> Result<(), FieldError> {
    if let Content::Banner(b) = content {
        if let Some(image) = &b.image {
            safe(image, "image")?;
        }
        if let Some(cta) = &b.cta {
            safe(&cta.url, "cta.url")?;
        }
    }
    Ok(())
}

#[cfg(feature = "checks")]
fn check_content(content: &Content, config: &SiteConfig) -> Result<(), FieldError> {
    match content {
        Content::Banner(b) => {
            nonempty(&b.headline, "headline")?;
            if let Some(cta) = &b.cta {
                nonempty(&cta.text, "cta.text")?;
            }
            if let Some(theme) = &b.theme
                && !THEMES.contains(&theme.as_str())
            {
                return Err((
                    "theme".into(),
                    format!("`{theme}` is not one of: light, dark, accent"),
                )
                    .into());
            }
        }
        Content::Coupon(c) => {
            nonempty(&c.headline, "headline")?;
            nonempty(&c.value, "value")?;
            nonempty(&c.reveal, "reveal")?;
        }
        Content::LoyaltyPrompt(l) => {
            nonempty(&l.headline, "headline")?;
            if config.tiers.is_empty() {
                return Err((
                    "type".into(),
                    "a loyalty prompt needs the site's `tiers` table".into(),
                )
                    .into());
            }
        }
        Content::FeedbackQuestion(q) => {
            nonempty(&q.question, "question")?;
            if let super::Scale::Choice { choices } = &q.scale {
                if !(2..=6).contains(&choices.len()) {
                    return Err(("choices".into(), "needs 2 to 6 choices".into()).into());
                }
                for (i, choice) in choices.iter().enumerate() {
                    nonempty(choice, &format!("choices[{i}]"))?;
                }
            }
        }
        Content::Recommendations(r) => {
            nonempty(&r.headline, "headline")?;
            if !(1..=super::MAX_RECOMMENDED).contains(&r.count) {
                return Err((
                    "count".into(),
                    format!("is {} but must be 1 to {}", r.count, super::MAX_RECOMMENDED),
                )
                    .into());
            }
            if r.per_category == 0 {
                return Err(("per_category".into(), "must be at least 1".into()).into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::NativeRegex;
    use crate::json;

    fn compile(campaigns: Value) -> CompiledConfig {
        SiteConfig::compile_value(
            &json!({"site": "s", "version": 1, "campaigns": campaigns}),
            &NativeRegex,
        )
        .unwrap()
    }

    fn banner(id: &str, extra: Value) -> Value {
        let mut c = json!({"id": id, "placement": "hero",
            "variants": [{"id": "a", "content": {"type": "banner", "headline": "Hi"}}]});
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    }

    fn problems(cfg: &CompiledConfig) -> Vec<String> {
        cfg.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_invalid_campaign_is_reported_and_skipped_while_the_rest_work() {
        let cfg = compile(json!([
            banner("bad", json!({"variants": [{"id": "a", "content": {"type": "banner", "headline": "x",
                "cta": {"text": "Go", "url": "javascript:alert(1)"}}}]})),
            banner("good", json!({})),
            {"id": "unreadable", "caps": "lots"}
        ]));
        assert_eq!(cfg.campaigns().len(), 1);
        assert_eq!(cfg.campaigns()[0].campaign.id, "good");
        assert_eq!(
            problems(&cfg),
            [
                "campaign `unreadable`: caps: must be an object, found string",
                "campaign `bad`: variants[0].content.cta.url: `javascript:alert(1)` is not an http(s) or relative URL",
            ]
        );
    }

    #[test]
    fn campaigns_are_ordered_by_priority_then_config_order() {
        let cfg = compile(json!([
            banner("low", json!({"priority": 1})),
            banner("high", json!({"priority": 9})),
            banner("low2", json!({"priority": 1})),
        ]));
        let ids: Vec<&str> = cfg
            .campaigns_for("hero")
            .map(|c| c.campaign.id.as_str())
            .collect();
        assert_eq!(ids, ["high", "low", "low2"]);
    }

    #[test]
    fn conditions_on_more_than_the_page_are_behavioural() {
        let cfg = compile(json!([
            banner(
                "ctx",
                json!({"condition": {"page.path": "/", "utm.source": "mail", "local_hour": {"$gte": 9}}})
            ),
            banner(
                "beh",
                json!({"condition": {"page.path": "/", "lifecycle": "dormant"}})
            ),
            banner("decl", json!({"condition": {"declared.tier": "gold"}})),
        ]));
        let flags: Vec<(&str, bool)> = cfg
            .campaigns()
            .iter()
            .map(|c| (c.campaign.id.as_str(), c.behavioural))
            .collect();
        assert_eq!(flags, [("ctx", false), ("beh", true), ("decl", true)]);
    }

    #[test]
    fn only_an_offer_chosen_from_personal_data_explains_itself() {
        let cfg = compile(json!([
            banner("ctx", json!({"condition": {"page.path": "/"}})),
            banner(
                "beh",
                json!({"condition": {"page.path": "/", "lifecycle": "dormant"}})
            ),
        ]));
        let attrs = json!({"page": {"path": "/"}, "lifecycle": "dormant"});
        let why = |id: &str| {
            let c = cfg
                .campaigns()
                .iter()
                .find(|c| c.campaign.id == id)
                .unwrap();
            c.why(&attrs, crate::i18n::Lang::En)
        };
        assert!(why("ctx").is_empty());
        let reasons = why("beh");
        assert!(!reasons.is_empty());
        assert_eq!(
            reasons,
            crate::explain::why(&cfg.campaigns()[1].condition, &attrs, crate::i18n::Lang::En)
        );
    }

    #[test]
    fn meaning_checks_name_the_field() {
        let cases = [
            (
                banner("c", json!({"condition": {"$or": {"a": 1}}})),
                "campaign `c`: condition.$or: `$or` needs an array of conditions",
            ),
            (
                banner("c", json!({"condition": {"a": {"$regex": "("}}})),
                "campaign `c`: condition.a.$regex: `(` is not a valid regular expression",
            ),
            (
                banner("c", json!({"placement": null})),
                "campaign `c`: placements: names no placement",
            ),
            (
                banner("c", json!({"variants": []})),
                "campaign `c`: variants: needs at least one variant",
            ),
            (
                banner("c", json!({"allocation": {"weights": [0.5, 0.5]}})),
                "campaign `c`: allocation.weights: needs one weight per variant (1)",
            ),
            (
                banner("c", json!({"allocation": {"weights": [0.7]}})),
                "campaign `c`: allocation.weights: must be at least 0 and sum to 1",
            ),
            (
                banner("c", json!({"schedule": {"start_ms": 5, "end_ms": 5}})),
                "campaign `c`: schedule.end_ms: must be after start_ms",
            ),
            (
                banner("c", json!({"hash_version": 3})),
                "campaign `c`: hash_version: must be 1 or 2",
            ),
            (
                banner(
                    "c",
                    json!({"variants": [
                {"id": "a", "content": {"type": "banner", "headline": "x"}},
                {"id": "b", "content": {"type": "coupon", "headline": "x", "value": "5%"}}]}),
                ),
                "campaign `c`: variants[1].content.type: is `coupon` but the first variant is `banner`",
            ),
            (
                banner(
                    "c",
                    json!({"variants": [{"id": "a", "content": {"type": "loyalty_prompt", "headline": "x"}}]}),
                ),
                "campaign `c`: variants[0].content.type: a loyalty prompt needs the site's `tiers` table",
            ),
            (
                banner(
                    "c",
                    json!({"variants": [{"id": "a", "content": {"type": "feedback_question", "question": "Q", "scale": "choice", "choices": ["one"]}}]}),
                ),
                "campaign `c`: variants[0].content.choices: needs 2 to 6 choices",
            ),
        ];
        for (campaign, want) in cases {
            let cfg = compile(json!([campaign]));
            assert_eq!(problems(&cfg), [want]);
            assert!(cfg.campaigns().is_empty());
        }
    }

    #[test]
    fn duplicate_campaign_ids_keep_the_first() {
        let cfg = compile(json!([
            banner("c", json!({})),
            banner("c", json!({"priority": 5}))
        ]));
        assert_eq!(cfg.campaigns().len(), 1);
        assert_eq!(cfg.campaigns()[0].campaign.priority, 0);
        assert_eq!(
            problems(&cfg),
            ["campaign `c`: id: another campaign has the same id"]
        );
    }

    #[test]
    fn a_bad_site_id_fails_the_whole_config() {
        let err = SiteConfig::compile_value(&json!({"site": "a b", "version": 1}), &NativeRegex)
            .unwrap_err();
        assert!(err.to_string().contains("not a site id"));
    }
}
