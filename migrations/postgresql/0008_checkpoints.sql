-- Signed checkpoints (`regentrace checkpoint`): the ledger position and head hash an Ed25519 key
-- signed, and when; a copy handed to a regulator proves later that the ledger still extends it
-- (docs/ledger-chain.md). Kept as the list of checkpoints taken, append-only like the ledger.
CREATE TABLE checkpoints (
    checkpoint_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position      bigint      NOT NULL,
    head_hash     char(64)    NOT NULL,
    signed_at     timestamptz NOT NULL,
    key_id        text        NOT NULL,
    public_key    text        NOT NULL,
    signature     text        NOT NULL
);

CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION regentrace_refuse_ledger_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION regentrace_refuse_ledger_change();

REVOKE UPDATE, DELETE, TRUNCATE ON checkpoints FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT ON checkpoints TO regentrace_app;
        GRANT USAGE ON SEQUENCE checkpoints_checkpoint_id_seq TO regentrace_app;
    END IF;
END
$$;
