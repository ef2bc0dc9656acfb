//! Storage behind one narrow trait. The HTTP layer only sees this trait, so
//! the embedded SQLite store and a scale-out store run the same handlers and
//! the same test bodies.

use async_trait::async_trait;
use dangol_engine::event::Event;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A storage failure. The HTTP edge maps it to a 500 without leaking details.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(String),
    /// A referenced site does not exist.
    #[error("unknown site `{0}`")]
    UnknownSite(String),
    /// Stored data could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// What the call reads is still being built (it says what); a later
    /// call succeeds.
    #[error("not ready: {0}")]
    NotReady(String),
}

/// One site (one shop) served by this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// The id used in URLs and in the script tag's `data-site`.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// Origins (scheme://host[:port]) whose pages may send events.
    pub allowed_origins: Vec<String>,
}

/// A published, immutable config version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The version number, from 1.
    pub version: u64,
    /// The config as JSON text, exactly as served.
    pub body: String,
}

/// An event as stored, with the server's receive time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// The event as sent.
    #[serde(flatten)]
    pub event: Event,
    /// When the server stored it (ms since the epoch).
    pub received_ms: i64,
}

/// An issued coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedCoupon {
    /// The code the shopper types at checkout.
    pub code: String,
    /// The campaign.
    pub campaign: String,
    /// The variant.
    pub variant: String,
    /// When it stops being valid (ms).
    pub expires_ms: i64,
    /// When it was redeemed, if it was.
    pub redeemed_ms: Option<i64>,
}

/// What a claim did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The id's existing code (claiming again is harmless).
    Existing(IssuedCoupon),
    /// A new code.
    New(IssuedCoupon),
    /// The campaign's budget is spent.
    Exhausted,
}

/// What a redemption did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeem {
    /// Redeemed now.
    Redeemed(IssuedCoupon),
    /// No such code.
    Unknown,
    /// Past its validity.
    Expired,
    /// Redeemed before, at this time (ms).
    AlreadyUsed(i64),
}

/// What a new claim needs.
pub struct ClaimRequest<'a> {
    /// The site.
    pub site: &'a str,
    /// The campaign.
    pub campaign: &'a str,
    /// The variant shown.
    pub variant: &'a str,
    /// The pseudonymous id.
    pub anon: &'a str,
    /// The campaign's budget.
    pub budget: u32,
    /// How long a code stays valid (ms).
    pub valid_ms: i64,
    /// A fresh, unguessable code.
    pub code: String,
    /// Now (ms).
    pub now_ms: i64,
}

/// A named API token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Its name.
    pub name: String,
    /// Who made it: an admin's email, or `api` for the server's token.
    pub created_by: String,
    /// When.
    pub created_ms: i64,
    /// When it stops working, if ever.
    pub expires_ms: Option<i64>,
    /// The site it acts on, or `*`.
    pub site: String,
    /// The most it may do there (`owner`, `editor`, `viewer`).
    pub role: String,
}

/// A site's settings and retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSettings {
    /// The config's top level as JSON text (placements, pressure, tiers…).
    pub settings: String,
    /// Days raw events are kept.
    pub retention_days: u32,
}

/// One published version of a site's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRow {
    /// The version number.
    pub version: u64,
    /// When it was published (ms since the epoch).
    pub published_ms: i64,
}

/// One admin's role on one site (or `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrant {
    /// The admin.
    pub email: String,
    /// The site, or `*` for every site.
    pub site: String,
    /// `owner`, `editor` or `viewer`.
    pub role: String,
}

/// Sites: their settings, retention and keys.
#[async_trait]
pub trait SiteStore: Send + Sync {
    /// Looks up a site.
    async fn site(&self, id: &str) -> Result<Option<Site>, StoreError>;
    /// Creates or updates a site.
    async fn put_site(&self, site: &Site, now_ms: i64) -> Result<(), StoreError>;
    /// Sets the site's redeem key (its SHA-256, hex).
    async fn set_redeem_key(&self, site: &str, key_hash: &str) -> Result<(), StoreError>;
    /// The site's Ed25519 signing key (hex of the secret).
    async fn signing_key(&self, site: &str) -> Result<Option<String>, StoreError>;
    /// Gives a site a signing key unless it has one (replicas racing at
    /// start-up end with the same key).
    async fn set_signing_key_if_missing(&self, site: &str, key_hex: &str)
    -> Result<(), StoreError>;
    /// The site's redeem-key hash.
    async fn redeem_key(&self, site: &str) -> Result<Option<String>, StoreError>;
    /// Every site.
    async fn sites(&self) -> Result<Vec<Site>, StoreError>;
    /// A site's settings (the config's top level without campaigns, as
    /// JSON text) and its retention of raw events in days.
    async fn site_settings(&self, site: &str) -> Result<Option<SiteSettings>, StoreError>;
    /// Replaces a site's settings and retention.
    async fn put_site_settings(
        &self,
        site: &str,
        settings: &str,
        retention_days: u32,
    ) -> Result<(), StoreError>;
}

/// Campaign drafts and published config versions.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// Stores a new config version and returns its number. `render` gets the
    /// number and returns the body to store (so the body can carry it).
    async fn publish(
        &self,
        site: &str,
        render: &(dyn Fn(u64) -> String + Send + Sync),
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// The newest published config of a site.
    async fn published(&self, site: &str) -> Result<Option<Published>, StoreError>;
    /// A site's campaign drafts, in the order they were created.
    async fn campaigns(&self, site: &str) -> Result<Vec<Draft>, StoreError>;
    /// Creates or replaces one campaign draft.
    async fn put_campaign(
        &self,
        site: &str,
        id: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Deletes a campaign draft; whether it existed.
    async fn delete_campaign(&self, site: &str, id: &str) -> Result<bool, StoreError>;
    /// Published versions of a site, newest first: number and time.
    async fn versions(&self, site: &str) -> Result<Vec<VersionRow>, StoreError>;
    /// One published version.
    async fn version(&self, site: &str, version: u64) -> Result<Option<Published>, StoreError>;
}

/// Events, the pseudonymous ids they belong to, erasure and retention.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores events once per id and marks the shoppers of new ones
    /// pending (see [`RollupStore`]); returns for each whether it was new.
    async fn insert_events(
        &self,
        site: &str,
        events: &[Event],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError>;
    /// [`EventStore::insert_events`] without marking anyone pending: for a
    /// bulk load, which marks its shoppers once at the end, so the rollups
    /// do not compete with it for the database while it runs.
    async fn store_events(
        &self,
        site: &str,
        events: &[Event],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError>;
    /// Remembers the erase key (its SHA-256, hex) of a pseudonymous id the
    /// first time the id is seen; later keys are ignored.
    async fn register_subject(
        &self,
        site: &str,
        anon: &str,
        key_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// The registered erase-key hash of an id.
    async fn subject_key(&self, site: &str, anon: &str) -> Result<Option<String>, StoreError>;
    /// Whether the id with this SHA-256 (hex) was erased.
    async fn is_erased(&self, site: &str, anon_hash: &str) -> Result<bool, StoreError>;
    /// Erases everything tied to an id and remembers (as a hash) that it
    /// was erased; returns how many events went.
    async fn erase_subject(&self, site: &str, anon: &str) -> Result<u64, StoreError>;
    /// Stored events of a site, newest first, optionally for one id only.
    async fn events(
        &self,
        site: &str,
        anon: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// The site's retention for what else is tied to a pseudonymous id:
    /// erase keys of ids registered before `before_ms` with no events left,
    /// the id on codes claimed before it that are redeemed or expired (the
    /// codes stay, for budgets and exactly-once redemption), and erasure
    /// tombstones older than it. Returns the rows changed.
    async fn purge_identities(
        &self,
        site: &str,
        before_ms: i64,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Upkeep the database needs now and then (about every ten seconds):
    /// SQLite folds its write-ahead log back into the database; PostgreSQL
    /// creates the event partitions of the coming months.
    async fn maintain(&self, now_ms: i64) -> Result<(), StoreError>;
    /// Drops whole partitions of raw events (PostgreSQL, by month) that
    /// end before `before_ms`; returns the events they held. SQLite has
    /// none and returns 0.
    async fn drop_partitions_before(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Deletes a site's raw events older than `before_ms`, except those of
    /// the `keep` types (which [`Store::archive_events`] rolls up first).
    async fn purge_site_events(
        &self,
        site: &str,
        before_ms: i64,
        keep: &[&str],
    ) -> Result<u64, StoreError>;
    /// In one transaction: adds `rows` to the site's daily counts and
    /// deletes the raw events `ids` they were counted from.
    async fn archive_events(
        &self,
        site: &str,
        rows: &[DailyRow],
        ids: &[String],
    ) -> Result<u64, StoreError>;
    /// The site's daily counts for days `from..=to` (`YYYY-MM-DD`).
    async fn daily_stats(
        &self,
        site: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<DailyRow>, StoreError>;
    /// A site's events of the given types between two times (event time).
    async fn events_between(
        &self,
        site: &str,
        types: &[&str],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Event>, StoreError>;
}

/// Coupon codes: claims, redemptions and uploaded pools.
#[async_trait]
pub trait CouponStore: Send + Sync {
    /// Issues a code to an id, once per campaign and within the budget.
    async fn claim_coupon(&self, req: ClaimRequest<'_>) -> Result<Claim, StoreError>;
    /// Redeems a code exactly once, also under concurrent redeems.
    async fn redeem_coupon(
        &self,
        site: &str,
        code: &str,
        now_ms: i64,
    ) -> Result<Redeem, StoreError>;
    /// Adds uploaded codes to a campaign's pool; returns how many were new
    /// (a code already in the site's pools is skipped).
    async fn add_pool_codes(
        &self,
        site: &str,
        campaign: &str,
        codes: &[String],
    ) -> Result<u64, StoreError>;
    /// A campaign's pool: codes in all, and codes not yet handed out.
    async fn pool_size(&self, site: &str, campaign: &str) -> Result<(u64, u64), StoreError>;
    /// Redeemed coupons per campaign and variant.
    async fn redemptions(&self, site: &str) -> Result<Vec<(String, String, u64)>, StoreError>;
}

/// Admins, their sessions and roles, and API tokens.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Adds a named API token (its SHA-256); false when the name is taken.
    async fn put_api_token(
        &self,
        token_hash: &str,
        name: &str,
        created_by: &str,
        now_ms: i64,
        expires_ms: Option<i64>,
        scope: (&str, &str),
    ) -> Result<bool, StoreError>;
    /// The API token with this hash, if it has not expired by `now_ms`.
    async fn api_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<ApiToken>, StoreError>;
    /// Every API token.
    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Sets (or with `None` removes) an admin's role on a site (`*`: every
    /// site).
    async fn set_role(&self, email: &str, site: &str, role: Option<&str>)
    -> Result<(), StoreError>;
    /// An admin's roles: (site or `*`, role).
    async fn roles_of(&self, email: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Every admin's roles.
    async fn roles(&self) -> Result<Vec<RoleGrant>, StoreError>;
    /// Revokes an API token by name; whether it existed.
    async fn delete_api_token(&self, name: &str) -> Result<bool, StoreError>;
    /// Creates an admin or replaces their password hash; a new password
    /// ends every session signed in with the old one.
    async fn put_admin(
        &self,
        email: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// An admin's password hash.
    async fn admin_hash(&self, email: &str) -> Result<Option<String>, StoreError>;
    /// Starts a session (the token's SHA-256, hex).
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    /// A live or expired session by its token hash.
    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// The storage the server needs: every aggregate's part, one object.
pub trait Store:
    SiteStore
    + ConfigStore
    + EventStore
    + RollupStore
    + CouponStore
    + AdminStore
    + crate::webhooks::WebhookStore
    + crate::segments::SegmentStore
    + crate::identity::IdentityStore
    + crate::churn::ChurnStore
    + crate::catalog::CatalogStore
    + crate::recs::RecsStore
    + 'static
{
}

impl<T> Store for T where
    T: SiteStore
        + ConfigStore
        + EventStore
        + RollupStore
        + CouponStore
        + AdminStore
        + crate::webhooks::WebhookStore
        + crate::segments::SegmentStore
        + crate::identity::IdentityStore
        + crate::churn::ChurnStore
        + crate::catalog::CatalogStore
        + crate::recs::RecsStore
        + 'static
{
}

/// A shopper whose rollups wait to be made again, as marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The site.
    pub site: String,
    /// The pseudonymous id.
    pub anon: String,
    /// The mark read (see [`RollupStore::put_rollups`]).
    pub marked: i64,
}

/// What the dashboard reads of one shopper, made from all their events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShopperRollup {
    /// The pseudonymous id.
    pub anon: String,
    /// Per campaign variant (or holdout) and day.
    pub touches: Vec<crate::results::Touch>,
    /// Per day: stage and offers seen.
    pub days: Vec<crate::insights::ShopperDay>,
    /// The profile, if any event built one.
    pub profile: Option<StoredProfile>,
}

/// A shopper's profile as the rollups store it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredProfile {
    /// The time of the last event the profile read.
    pub last_ms: i64,
    /// The engine's stored form (JSON), what the widget keeps.
    pub json: String,
    /// What segments read of it (`Profile::segment_form`).
    pub segment_form: Vec<u8>,
}

/// The per-shopper rollups results, insights and reach read (see
/// `crate::rollups`).
#[async_trait]
pub trait RollupStore: Send + Sync {
    /// Marks shoppers whose events changed.
    async fn mark_pending(&self, site: &str, anons: &[&str]) -> Result<(), StoreError>;
    /// Up to `limit` shoppers waiting, of any site.
    async fn pending(&self, limit: u32) -> Result<Vec<Pending>, StoreError>;
    /// Every stored event of these shoppers, ordered by shopper, time and id.
    async fn shopper_events(&self, site: &str, anons: &[String]) -> Result<Vec<Event>, StoreError>;
    /// How many events each of these shoppers has stored (those with none
    /// are left out).
    async fn event_counts(
        &self,
        site: &str,
        anons: &[String],
    ) -> Result<Vec<(String, u64)>, StoreError>;
    /// In one transaction: replaces the rollups of the shoppers `done`
    /// (and what they add to the per-day counts, with the attribution
    /// window `window_ms`)
    /// (those without a rollup in `rollups` had no events left) and clears
    /// their marks unless marked again meanwhile. Erased ids get none.
    async fn put_rollups(
        &self,
        site: &str,
        window_ms: i64,
        done: &[Pending],
        rollups: &[ShopperRollup],
    ) -> Result<(), StoreError>;
    /// Every touch of a site's shoppers on days `from_day` and later.
    async fn touches(
        &self,
        site: &str,
        from_day: i64,
    ) -> Result<Vec<crate::results::Touch>, StoreError>;
    /// The per-day counts of days `from_day` and later (see
    /// [`crate::rollups::counts`]).
    async fn counts(
        &self,
        site: &str,
        from_day: i64,
    ) -> Result<Vec<crate::rollups::Count>, StoreError>;
    /// The attribution window the site's counts were made with, if any.
    async fn rollup_window(&self, site: &str) -> Result<Option<i64>, StoreError>;
    /// Drops every rollup of the site and marks all its shoppers, to be
    /// made again with a new attribution window.
    async fn rebuild_rollups(&self, site: &str, window_ms: i64) -> Result<(), StoreError>;
    /// The profiles of the shoppers active since `since_ms` whose sampling
    /// bucket (0-1023, a hash of the id) is in `buckets` (from, to), by id.
    async fn profiles(
        &self,
        site: &str,
        since_ms: i64,
        buckets: (u32, u32),
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Shoppers of a site waiting to be rolled up, and shoppers with a
    /// rolled-up profile.
    async fn rollup_status(&self, site: &str) -> Result<(u64, u64), StoreError>;
    /// Retention: marks the shoppers with events before `before_ms` (made
    /// again from what stays) and deletes rollups of days before it.
    async fn purge_rollups(&self, site: &str, before_ms: i64) -> Result<u64, StoreError>;
}

/// Daily counts of one event type for one campaign and variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyRow {
    /// UTC date, `YYYY-MM-DD`.
    pub day: String,
    /// The campaign (empty for events without one).
    pub campaign: String,
    /// The variant (empty for events without one).
    pub variant: String,
    /// The event type.
    pub kind: String,
    /// How many.
    pub n: u64,
    /// Sum of their prices.
    pub revenue: f64,
}

/// A campaign draft as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The campaign id.
    pub id: String,
    /// The campaign as JSON text.
    pub body: String,
    /// Last change (ms).
    pub updated_ms: i64,
}

/// An admin's signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 (hex) of the cookie's token; the token itself is never stored.
    pub token_hash: String,
    /// Who.
    pub email: String,
    /// The token every state-changing request must echo in `X-CSRF-Token`.
    pub csrf: String,
    /// Started (ms).
    pub created_ms: i64,
    /// Ends (ms).
    pub expires_ms: i64,
}
