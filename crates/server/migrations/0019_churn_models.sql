-- A site's fitted churn model (BG/NBD and Gamma-Gamma parameters with
-- their fit, as JSON) and when it was fitted.
CREATE TABLE churn_models (
    site      TEXT PRIMARY KEY REFERENCES sites(id),
    model     TEXT NOT NULL,
    fitted_ms BIGINT NOT NULL
);
