-- The ledger: events (the library's layout, with an explicit position column so that VACUUM can
-- never renumber positions) and the ledger index with ledger time and hash chain.
CREATE TABLE stored_events (
    notification_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    originator_id      TEXT    NOT NULL,
    originator_version INTEGER NOT NULL,
    topic              TEXT    NOT NULL,
    state              BLOB    NOT NULL,
    UNIQUE (originator_id, originator_version)
);

CREATE TABLE ledger (
    position           INTEGER PRIMARY KEY REFERENCES stored_events (notification_id),
    originator_id      TEXT    NOT NULL,
    originator_version INTEGER NOT NULL,
    aggregate_type     TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    actor              TEXT    NOT NULL,
    actor_role         TEXT    NOT NULL,
    recorded_at        TEXT    NOT NULL,
    hash               TEXT    NOT NULL
);
CREATE INDEX ledger_recorded_at ON ledger (recorded_at);
CREATE INDEX ledger_aggregate ON ledger (originator_id, originator_version);
