-- Holds on batches (projections/holds.py): each reason that stops a batch, with the ledger
-- position that raised it, the signed lifts, and the institutions' duty to tell the physician
-- when a reason arises after administration. Rows are append-only and carry the position that
-- wrote them, so every view of them answers as of any position (ADR 3). The hold_* tables keep
-- what the handlers need to know of batches (versioned rows), lots, donors, shipments and sites,
-- each row tagged with its position like every projection row.

CREATE TABLE batch_holds (
    batch_id       text NOT NULL,
    hold_key       text NOT NULL,
    position       bigint NOT NULL,
    kind           text NOT NULL,
    raised_at      timestamptz NOT NULL,
    description    text NOT NULL,
    source_id      text NOT NULL,
    source_version bigint NOT NULL,
    PRIMARY KEY (batch_id, hold_key)
);
CREATE INDEX batch_holds_position ON batch_holds (position);

CREATE TABLE batch_hold_lifts (
    batch_id          text NOT NULL,
    hold_key          text NOT NULL,
    position          bigint NOT NULL,
    lifted_at         timestamptz NOT NULL,
    reason            text NOT NULL,
    signature_meaning text NOT NULL,
    signed_by         text NOT NULL,
    role              text NOT NULL,
    deviation_id      text,
    PRIMARY KEY (batch_id, hold_key)
);

CREATE TABLE physician_notifications (
    batch_id     text NOT NULL,
    hold_key     text NOT NULL,
    position     bigint NOT NULL,
    raised_at    timestamptz NOT NULL,
    site_id      text NOT NULL,
    patient_code text NOT NULL,
    PRIMARY KEY (batch_id, hold_key)
);
CREATE INDEX physician_notifications_site ON physician_notifications (site_id, batch_id);

CREATE TABLE physician_acknowledgements (
    batch_id        text NOT NULL,
    hold_key        text NOT NULL,
    position        bigint NOT NULL,
    site_id         text NOT NULL,
    acknowledged_at timestamptz NOT NULL,
    acknowledged_by text NOT NULL,
    note            text,
    PRIMARY KEY (batch_id, hold_key)
);

CREATE TABLE hold_batches (
    batch_id              text NOT NULL,
    valid_from            bigint NOT NULL,
    valid_to              bigint,
    product               text NOT NULL,
    donor_code            text NOT NULL,
    patient_code          text NOT NULL,
    started_at            timestamptz NOT NULL,
    released_position     bigint,
    frozen_expires_at     timestamptz,
    administered_position bigint,
    administered_at       timestamptz,
    administered_site_id  text,
    ended_position        bigint,
    PRIMARY KEY (batch_id, valid_from)
);
CREATE INDEX hold_batches_current ON hold_batches (batch_id) WHERE valid_to IS NULL;
CREATE INDEX hold_batches_donor ON hold_batches (donor_code) WHERE valid_to IS NULL;

CREATE TABLE hold_donations (
    donation_id text NOT NULL PRIMARY KEY,
    donor_code  text NOT NULL,
    position    bigint NOT NULL
);

CREATE TABLE hold_steps (
    batch_id     text NOT NULL,
    position     bigint NOT NULL,
    step         text NOT NULL,
    site_id      text NOT NULL,
    started_at   timestamptz NOT NULL,
    completed_at timestamptz NOT NULL,
    PRIMARY KEY (batch_id, position)
);
CREATE INDEX hold_steps_site ON hold_steps (site_id);

CREATE TABLE hold_lot_uses (
    lot_id   text NOT NULL,
    batch_id text NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (lot_id, batch_id, position)
);

CREATE TABLE hold_shipment_batches (
    shipment_id text NOT NULL,
    batch_id    text NOT NULL,
    position    bigint NOT NULL,
    PRIMARY KEY (shipment_id, batch_id)
);

CREATE TABLE hold_causes (
    subject_id     text NOT NULL,
    hold_key       text NOT NULL,
    position       bigint NOT NULL,
    kind           text NOT NULL,
    raised_at      timestamptz NOT NULL,
    description    text NOT NULL,
    source_id      text NOT NULL,
    source_version bigint NOT NULL,
    PRIMARY KEY (subject_id, hold_key)
);

CREATE TABLE hold_site_changes (
    site_id        text NOT NULL,
    position       bigint NOT NULL,
    status         text NOT NULL,
    effective_at   timestamptz NOT NULL,
    reason         text NOT NULL,
    source_id      text NOT NULL,
    source_version bigint NOT NULL,
    PRIMARY KEY (site_id, position)
);

-- The application role writes these views inline and empties them on rebuild, as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            batch_holds, batch_hold_lifts, physician_notifications, physician_acknowledgements,
            hold_batches, hold_donations, hold_steps, hold_lot_uses, hold_shipment_batches,
            hold_causes, hold_site_changes
        TO regentrace_app;
    END IF;
END
$$;
