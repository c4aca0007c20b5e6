-- The ledger: events (the library's layout for text originator ids) and the ledger index with
-- ledger time and hash chain.
CREATE TABLE stored_events (
    originator_id      text      NOT NULL,
    originator_version bigint    NOT NULL,
    topic              text      NOT NULL,
    state              bytea     NOT NULL,
    notification_id    bigserial NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
);
CREATE UNIQUE INDEX stored_events_notification_id_idx ON stored_events (notification_id);

CREATE TABLE ledger (
    position           bigint      PRIMARY KEY REFERENCES stored_events (notification_id),
    originator_id      text        NOT NULL,
    originator_version bigint      NOT NULL,
    aggregate_type     text        NOT NULL,
    event_type         text        NOT NULL,
    actor              text        NOT NULL,
    actor_role         text        NOT NULL,
    recorded_at        timestamptz NOT NULL,
    hash               char(64)    NOT NULL
);
CREATE INDEX ledger_recorded_at ON ledger (recorded_at);
CREATE INDEX ledger_aggregate ON ledger (originator_id, originator_version);
