-- Commands a partner identified with a commandId, kept with the events each produced: written in
-- the append transaction (ADR 7), so a command is stored with its events or not at all. A retry
-- with the same id answers the result kept here. Append-only, like the ledger (0005).
CREATE TABLE commands (
    principal    TEXT    NOT NULL,
    command_id   TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    content_hash TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    aggregate_id TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    recorded_at  TEXT    NOT NULL,
    PRIMARY KEY (principal, command_id)
);
CREATE INDEX commands_position ON commands (position);

CREATE TRIGGER commands_no_update BEFORE UPDATE ON commands
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on commands refused');
END;

CREATE TRIGGER commands_no_delete BEFORE DELETE ON commands
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on commands refused');
END;
