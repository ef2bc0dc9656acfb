//! Where a shopper stands in the loyalty programme, from declared
//! attributes (`declared.points`, `declared.tier`) and the site's tier table.

use crate::json::{Map, Value};

use crate::config::Tier;

/// The shopper's standing.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The tier the shopper is in.
    pub tier: Tier,
    /// Their points.
    pub points: f64,
    /// The next tier, if there is one above.
    pub next: Option<Tier>,
}

impl Progress {
    /// Share of the way from the current tier to the next, 0–1 (1 at the top).
    pub fn share(&self) -> f64 {
        match &self.next {
            None => 1.0,
            Some(next) => {
                let span = next.points - self.tier.points;
                if span <= 0.0 {
                    1.0
                } else {
                    ((self.points - self.tier.points) / span).clamp(0.0, 1.0)
                }
            }
        }
    }
}

/// The standing for `declared`; `None` without points or a tier table.
/// A declared tier that the table knows wins over what the points say (the
/// shop's own programme may have rules beyond points).
pub fn progress(tiers: &[Tier], declared: &Map) -> Option<Progress> {
    let points = declared.get("points").and_then(Value::as_f64)?;
    if tiers.is_empty() || !points.is_finite() {
        return None;
    }
    let by_points = tiers
        .iter()
        .filter(|t| points >= t.points)
        .max_by(|a, b| a.points.total_cmp(&b.points))
        .or_else(|| tiers.iter().min_by(|a, b| a.points.total_cmp(&b.points)))?;
    let declared_tier = declared
        .get("tier")
        .and_then(Value::as_str)
        .and_then(|id| tiers.iter().find(|t| t.id == id));
    let tier = declared_tier.unwrap_or(by_points).clone();
    let next = tiers
        .iter()
        .filter(|t| t.points > tier.points)
        .min_by(|a, b| a.points.total_cmp(&b.points))
        .cloned();
    Some(Progress { tier, points, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn tiers() -> Vec<Tier> {
        [("silver", 0.0), ("gold", 2000.0), ("vip", 5000.0)]
            .iter()
            .map(|(id, p)| Tier {
                id: (*id).into(),
                name: id.to_uppercase(),
                points: *p,
                perks: format!("{id} perks"),
            })
            .collect()
    }

    fn declared(v: Value) -> Map {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn points_place_the_shopper_and_name_the_next_tier() {
        let p = progress(&tiers(), &declared(json!({"points": 1200}))).unwrap();
        assert_eq!(
            (p.tier.id.as_str(), p.next.as_ref().map(|t| t.id.as_str())),
            ("silver", Some("gold"))
        );
        assert!((p.share() - 0.6).abs() < 1e-9);
        let top = progress(&tiers(), &declared(json!({"points": 9000}))).unwrap();
        assert_eq!(
            (top.tier.id.as_str(), top.next.is_none(), top.share()),
            ("vip", true, 1.0)
        );
    }

    #[test]
    fn a_declared_tier_wins_and_missing_points_give_nothing() {
        let p = progress(&tiers(), &declared(json!({"points": 100, "tier": "gold"}))).unwrap();
        assert_eq!(p.tier.id, "gold");
        assert_eq!(p.share(), 0.0);
        assert!(progress(&tiers(), &declared(json!({"tier": "gold"}))).is_none());
        assert!(progress(&[], &declared(json!({"points": 5}))).is_none());
    }
}
