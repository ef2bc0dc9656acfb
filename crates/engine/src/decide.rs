//! Decisions: which variant of which campaign a placement shows, and why.

use serde::Serialize;
use serde_json::Value;

use crate::condition::{RegexEngine, eval_condition_with};
use crate::config::{CompiledConfig, Content};

/// Why a campaign was or was not chosen. Tests assert on these and the
/// shopper-facing "why this offer?" is built from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The campaign's condition matched the context and it won the placement.
    Targeted {
        /// The campaign.
        campaign: String,
    },
    /// The campaign's condition did not match the context.
    NotTargeted {
        /// The campaign.
        campaign: String,
    },
    /// The config has no campaign for this placement.
    NoCampaigns,
}

/// What a placement shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chosen {
    /// The winning campaign.
    pub campaign_id: String,
    /// The variant shown.
    pub variant_id: String,
    /// The content to render.
    pub content: Content,
}

/// The decision for one placement, with its reasons in evaluation order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The placement decided for.
    pub placement: String,
    /// The offer, if any campaign won.
    pub chosen: Option<Chosen>,
    /// Every campaign considered and what happened to it.
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// The chosen offer, if any.
    pub fn chosen(&self) -> Option<&Chosen> {
        self.chosen.as_ref()
    }
}

/// Decides for one placement: the first campaign (in priority order) whose
/// condition matches `context` wins; its first variant is shown.
pub fn decide(
    config: &CompiledConfig,
    placement: &str,
    context: &Value,
    regex: &dyn RegexEngine,
) -> Decision {
    let no_groups = Value::Object(Default::default());
    let mut reasons = Vec::new();
    let mut chosen = None;
    for campaign in config.campaigns_for(placement) {
        // 1. Targeting: the campaign's condition on the page context.
        if !eval_condition_with(context, &campaign.condition, &no_groups, regex) {
            reasons.push(Reason::NotTargeted {
                campaign: campaign.id.clone(),
            });
            continue;
        }
        // 2. The variant: compile() guarantees there is at least one.
        if let Some(variant) = campaign.variants.first() {
            reasons.push(Reason::Targeted {
                campaign: campaign.id.clone(),
            });
            chosen = Some(Chosen {
                campaign_id: campaign.id.clone(),
                variant_id: variant.id.clone(),
                content: variant.content.clone(),
            });
            break;
        }
    }
    if reasons.is_empty() {
        reasons.push(Reason::NoCampaigns);
    }
    Decision {
        placement: placement.to_string(),
        chosen,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::NativeRegex;
    use crate::config::SiteConfig;
    use serde_json::json;

    fn compiled() -> CompiledConfig {
        let banner = |h: &str| json!({"type": "banner", "headline": h});
        SiteConfig::from_value(&json!({
            "site": "demo", "version": 3,
            "campaigns": [
                {"id": "shoes-only", "placement": "hero", "condition": {"page.path": {"$regex": "^/shoes"}},
                 "variants": [{"id": "a", "content": banner("Shoes")}]},
                {"id": "everyone", "placement": "hero",
                 "variants": [{"id": "a", "content": banner("Hello")}, {"id": "b", "content": banner("Hi")}]},
                {"id": "footer", "placement": "foot", "condition": {"page.path": "/never"},
                 "variants": [{"id": "a", "content": banner("F")}]}
            ]
        }))
        .unwrap()
        .compile()
        .unwrap()
    }

    #[test]
    fn the_first_matching_campaign_wins_and_says_why() {
        let d = decide(
            &compiled(),
            "hero",
            &json!({"page": {"path": "/shoes/1"}}),
            &NativeRegex,
        );
        assert_eq!(d.chosen().unwrap().campaign_id, "shoes-only");
        assert_eq!(
            d.reasons,
            vec![Reason::Targeted {
                campaign: "shoes-only".into()
            }]
        );
    }

    #[test]
    fn a_non_matching_campaign_is_skipped_with_its_reason() {
        let d = decide(
            &compiled(),
            "hero",
            &json!({"page": {"path": "/"}}),
            &NativeRegex,
        );
        let chosen = d.chosen().unwrap();
        assert_eq!(
            (chosen.campaign_id.as_str(), chosen.variant_id.as_str()),
            ("everyone", "a")
        );
        assert_eq!(
            d.reasons,
            vec![
                Reason::NotTargeted {
                    campaign: "shoes-only".into()
                },
                Reason::Targeted {
                    campaign: "everyone".into()
                }
            ]
        );
    }

    #[test]
    fn nothing_is_chosen_when_no_campaign_matches_or_exists() {
        let d = decide(&compiled(), "foot", &json!({}), &NativeRegex);
        assert!(d.chosen().is_none());
        assert_eq!(
            d.reasons,
            vec![Reason::NotTargeted {
                campaign: "footer".into()
            }]
        );
        let d = decide(&compiled(), "nowhere", &json!({}), &NativeRegex);
        assert_eq!(d.reasons, vec![Reason::NoCampaigns]);
    }
}
