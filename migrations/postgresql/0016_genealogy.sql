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
    position    bigint NOT NULL,
    PRIMARY KEY (batch_id, donation_id)
);
CREATE INDEX hold_pool_donors_donor ON hold_pool_donors (donor_code);

CREATE TABLE hold_container_uses (
    batch_id     text NOT NULL,
    container_id text NOT NULL,
    position     bigint NOT NULL,
    patient_code text NOT NULL,
    site_id      text NOT NULL,
    PRIMARY KEY (batch_id, container_id)
);

CREATE TABLE container_uses (
    batch_id        text NOT NULL,
    container_id    text NOT NULL,
    position        bigint NOT NULL,
    patient_code    text NOT NULL,
    site_id         text NOT NULL,
    administered_at timestamptz NOT NULL,
    PRIMARY KEY (batch_id, container_id)
);
CREATE INDEX container_uses_site ON container_uses (site_id, batch_id);

ALTER TABLE physician_notifications DROP CONSTRAINT physician_notifications_pkey;
ALTER TABLE physician_notifications ADD PRIMARY KEY (batch_id, hold_key, patient_code);

-- The application role writes these views inline and empties them on rebuild, as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON hold_pool_donors, hold_container_uses,
        container_uses TO regentrace_app;
    END IF;
END
$$;
