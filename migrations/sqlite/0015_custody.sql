-- Custody from vein to vein (projections/custody.py): each dispatch, hand-over, temperature,
-- receipt and storage period of a batch or container, its starting material and material lots,
-- one row each with the position that wrote it; and the donation each batch was made from.

CREATE TABLE custody_timeline (
    position     INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    subject_kind text NOT NULL,
    subject_id   text NOT NULL,
    container_id text,
    kind         text NOT NULL,
    at           TEXT NOT NULL,
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
    position    INTEGER NOT NULL
);
