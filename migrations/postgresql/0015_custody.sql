-- Custody from vein to vein (projections/custody.py): each dispatch, hand-over, temperature,
-- receipt and storage period of a batch or container, its starting material and material lots,
-- one row each with the position that wrote it; and the donation each batch was made from.

CREATE TABLE custody_timeline (
    position     bigint NOT NULL,
    seq          integer NOT NULL,
    subject_kind text NOT NULL,
    subject_id   text NOT NULL,
    container_id text,
    kind         text NOT NULL,
    at           timestamptz NOT NULL,
    site_id      text,
    to_site_id   text,
    custodian    text,
    location     text,
    leg_id       text,
    detail       text,
    PRIMARY KEY (position, seq)
);
CREATE INDEX custody_timeline_subject ON custody_timeline (subject_kind, subject_id);
CREATE INDEX custody_timeline_leg ON custody_timeline (leg_id);

CREATE TABLE custody_batches (
    batch_id    text PRIMARY KEY,
    donation_id text NOT NULL,
    position    bigint NOT NULL
);

-- The application role writes these views inline and empties them on rebuild, as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON custody_timeline, custody_batches
        TO regentrace_app;
    END IF;
END
$$;
