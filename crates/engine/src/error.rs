//! The engine's error types. Every message names the thing that was wrong.

use thiserror::Error;

/// A site config that cannot be used. The message names the campaign and the
/// field, so a marketer (or the dashboard) can point at the culprit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The config as a whole is not the expected JSON shape.
    #[error("config is not valid: {0}")]
    Shape(String),
    /// One field of one campaign is wrong.
    #[error("campaign `{campaign}`: {field}: {message}")]
    Campaign {
        /// The campaign's id (or its position when the id itself is missing).
        campaign: String,
        /// A dotted path to the offending field, e.g. `variants[0].content.cta.url`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn campaign(
        campaign: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Campaign {
            campaign: campaign.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An event that the privacy rules or the schema do not allow.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// A field is missing, has the wrong type or is not allowed at all.
    #[error("event {index}: {message}")]
    Invalid {
        /// Position of the event in its batch.
        index: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The batch as a whole is unusable.
    #[error("batch is not valid: {0}")]
    Batch(String),
}
