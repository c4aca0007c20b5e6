-- Access control. aggregate_sites is a projection (rebuilt from the ledger like every view):
-- which sites each aggregate touches (from which ledger position), and which of them own it
-- (those its first event names).
-- api_keys holds machine credentials, by hash only.

CREATE TABLE aggregate_sites (
    aggregate_id text    NOT NULL,
    site_id      text    NOT NULL,
    owner        INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (aggregate_id, site_id)
);
CREATE INDEX aggregate_sites_by_site ON aggregate_sites (site_id, aggregate_id);

CREATE TABLE api_keys (
    key_id       text PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL,
    sites        text NOT NULL,
    jurisdiction text,
    member_state text,
    secret_hash  text NOT NULL,
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL,
    revoked_at   timestamptz
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON aggregate_sites TO regentrace_app;
        GRANT SELECT, INSERT, UPDATE ON api_keys TO regentrace_app;
    END IF;
END
$$;
