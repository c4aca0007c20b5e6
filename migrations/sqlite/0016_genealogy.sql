-- Pooled starting material and split batches (issue 18): the donors of the donations pooled into
-- a batch after its first (projections/holds.py: a revocation of any of them holds the batch),
-- the patient and site each container of a split batch was given to (holds: each patient's
-- physician is told of a later hold; source-and-flow and the institution's record: the patient
-- each container was used on), and one physician notification per patient given the batch or a
-- container of it.

CREATE TABLE hold_pool_donors (
    batch_id    text NOT NULL,
    donation_id text NOT NULL,
    donor_code  text NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (batch_id, donation_id)
);
CREATE INDEX hold_pool_donors_donor ON hold_pool_donors (donor_code);

CREATE TABLE hold_container_uses (
    batch_id     text NOT NULL,
    container_id text NOT NULL,
    position     INTEGER NOT NULL,
    patient_code text NOT NULL,
    site_id      text NOT NULL,
    PRIMARY KEY (batch_id, container_id)
);

CREATE TABLE container_uses (
    batch_id        text NOT NULL,
    container_id    text NOT NULL,
    position        INTEGER NOT NULL,
    patient_code    text NOT NULL,
    site_id         text NOT NULL,
    administered_at TEXT NOT NULL,
    PRIMARY KEY (batch_id, container_id)
);
CREATE INDEX container_uses_site ON container_uses (site_id, batch_id);

CREATE TABLE physician_notifications_by_patient (
    batch_id     text NOT NULL,
    hold_key     text NOT NULL,
    position     INTEGER NOT NULL,
    raised_at    TEXT NOT NULL,
    site_id      text NOT NULL,
    patient_code text NOT NULL,
    PRIMARY KEY (batch_id, hold_key, patient_code)
);
INSERT INTO physician_notifications_by_patient
    SELECT batch_id, hold_key, position, raised_at, site_id, patient_code
    FROM physician_notifications;
DROP TABLE physician_notifications;
ALTER TABLE physician_notifications_by_patient RENAME TO physician_notifications;
CREATE INDEX physician_notifications_site ON physician_notifications (site_id, batch_id);
