-- Per-site roles: what each admin may do on each site ('*': every site).
-- Admins from before roles existed keep what they had: owners of every site.
CREATE TABLE admin_roles (
    email TEXT NOT NULL REFERENCES admins(email),
    site  TEXT NOT NULL,
    role  TEXT NOT NULL,
    PRIMARY KEY (email, site)
);
INSERT INTO admin_roles (email, site, role) SELECT email, '*', 'owner' FROM admins;

-- API tokens act on one site (or '*') with at most one role, and never
-- beyond what their maker may still do.
ALTER TABLE api_tokens ADD COLUMN site TEXT NOT NULL DEFAULT '*';
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';
