-- API tokens expire: a token made for a task does not stay valid for ever.
-- Tokens made before expiry existed keep working until revoked.
ALTER TABLE api_tokens ADD COLUMN expires_ms BIGINT;
