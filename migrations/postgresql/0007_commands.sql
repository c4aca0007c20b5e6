-- Commands a partner identified with a commandId, kept with the events each produced: written in
-- the append transaction (ADR 7), so a command is stored with its events or not at all. A retry
-- with the same id answers the result kept here. Append-only, like the ledger (0005).
CREATE TABLE commands (
    principal    text        NOT NULL,
    command_id   text        NOT NULL,
    name         text        NOT NULL,
    content_hash char(64)    NOT NULL,
    position     bigint      NOT NULL,
    aggregate_id text        NOT NULL,
    version      bigint      NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (principal, command_id)
);
CREATE INDEX commands_position ON commands (position);

CREATE TRIGGER commands_append_only BEFORE UPDATE OR DELETE ON commands
    FOR EACH ROW EXECUTE FUNCTION regentrace_refuse_ledger_change();
CREATE TRIGGER commands_no_truncate BEFORE TRUNCATE ON commands
    FOR EACH STATEMENT EXECUTE FUNCTION regentrace_refuse_ledger_change();

REVOKE UPDATE, DELETE, TRUNCATE ON commands FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT ON commands TO regentrace_app;
    END IF;
END
$$;
