-- The site's Ed25519 signing key (hex of the 32-byte secret): every served
-- config is signed so the widget can reject a tampered one.
ALTER TABLE sites ADD COLUMN signing_key TEXT;
