-- Donor-to-patient chain projections: donors, donations, material lots and batches, each as
-- versioned rows valid over a range of ledger positions (see projections/versioned.py).
CREATE TABLE donor_versions (
    donor_code                   text NOT NULL,
    valid_from                   INTEGER NOT NULL,
    valid_to                     INTEGER,
    registered_at                TEXT NOT NULL,
    consent_reference            text,
    consented_at                 TEXT,
    consent_withdrawn_at         TEXT,
    legal_representative         text,
    notarised                    INTEGER,
    eligibility_outcome          text,
    eligibility_determined_at    TEXT,
    eligibility_determined_by    text,
    eligibility_criteria_version text,
    eligibility_revoked          INTEGER,
    PRIMARY KEY (donor_code, valid_from)
);
CREATE INDEX donor_versions_current ON donor_versions (donor_code) WHERE valid_to IS NULL;

CREATE TABLE donation_versions (
    donation_id   text NOT NULL,
    valid_from    INTEGER NOT NULL,
    valid_to      INTEGER,
    donor_code    text NOT NULL,
    donation_type text NOT NULL,
    site_id       text NOT NULL,
    material      text NOT NULL,
    acquired_at   TEXT NOT NULL,
    isbt128_din   text,
    PRIMARY KEY (donation_id, valid_from)
);
CREATE INDEX donation_versions_donor ON donation_versions (donor_code);

CREATE TABLE material_lot_versions (
    lot_id      text NOT NULL,
    valid_from  INTEGER NOT NULL,
    valid_to    INTEGER,
    material    text NOT NULL,
    supplier    text NOT NULL,
    site_id     text NOT NULL,
    received_at TEXT NOT NULL,
    expires_at  TEXT,
    status      text NOT NULL,
    PRIMARY KEY (lot_id, valid_from)
);
CREATE INDEX material_lot_versions_current ON material_lot_versions (lot_id) WHERE valid_to IS NULL;

CREATE TABLE batch_versions (
    batch_id          text NOT NULL,
    valid_from        INTEGER NOT NULL,
    valid_to          INTEGER,
    product           text NOT NULL,
    donation_id       text NOT NULL,
    donor_code        text NOT NULL,
    patient_code      text NOT NULL,
    control_site_id   text NOT NULL,
    site_id           text NOT NULL,
    location          text NOT NULL,
    status            text NOT NULL,
    started_at        TEXT NOT NULL,
    released_at       TEXT,
    qualified_person  text,
    signature_meaning text,
    affected_by       text NOT NULL,
    disposition_kind  text,
    disposition_site  text,
    disposition_at    TEXT,
    recalled_by       text NOT NULL,
    PRIMARY KEY (batch_id, valid_from)
);
CREATE INDEX batch_versions_current ON batch_versions (batch_id) WHERE valid_to IS NULL;
CREATE INDEX batch_versions_donor ON batch_versions (donor_code, valid_from);
