-- Donor-to-patient chain projections: donors, donations, material lots and batches, each as
-- versioned rows valid over a range of ledger positions (see projections/versioned.py).
CREATE TABLE donor_versions (
    donor_code                   text NOT NULL,
    valid_from                   bigint NOT NULL,
    valid_to                     bigint,
    registered_at                timestamptz NOT NULL,
    consent_reference            text,
    consented_at                 timestamptz,
    consent_withdrawn_at         timestamptz,
    legal_representative         text,
    notarised                    boolean,
    eligibility_outcome          text,
    eligibility_determined_at    timestamptz,
    eligibility_determined_by    text,
    eligibility_criteria_version text,
    eligibility_revoked          boolean,
    PRIMARY KEY (donor_code, valid_from)
);
CREATE INDEX donor_versions_current ON donor_versions (donor_code) WHERE valid_to IS NULL;

CREATE TABLE donation_versions (
    donation_id   text NOT NULL,
    valid_from    bigint NOT NULL,
    valid_to      bigint,
    donor_code    text NOT NULL,
    donation_type text NOT NULL,
    site_id       text NOT NULL,
    material      text NOT NULL,
    acquired_at   timestamptz NOT NULL,
    isbt128_din   text,
    PRIMARY KEY (donation_id, valid_from)
);
CREATE INDEX donation_versions_donor ON donation_versions (donor_code);

CREATE TABLE material_lot_versions (
    lot_id      text NOT NULL,
    valid_from  bigint NOT NULL,
    valid_to    bigint,
    material    text NOT NULL,
    supplier    text NOT NULL,
    site_id     text NOT NULL,
    received_at timestamptz NOT NULL,
    expires_at  timestamptz,
    status      text NOT NULL,
    PRIMARY KEY (lot_id, valid_from)
);
CREATE INDEX material_lot_versions_current ON material_lot_versions (lot_id) WHERE valid_to IS NULL;

CREATE TABLE batch_versions (
    batch_id          text NOT NULL,
    valid_from        bigint NOT NULL,
    valid_to          bigint,
    product           text NOT NULL,
    donation_id       text NOT NULL,
    donor_code        text NOT NULL,
    patient_code      text NOT NULL,
    control_site_id   text NOT NULL,
    site_id           text NOT NULL,
    location          text NOT NULL,
    status            text NOT NULL,
    started_at        timestamptz NOT NULL,
    released_at       timestamptz,
    qualified_person  text,
    signature_meaning text,
    affected_by       text NOT NULL,
    disposition_kind  text,
    disposition_site  text,
    disposition_at    timestamptz,
    recalled_by       text NOT NULL,
    PRIMARY KEY (batch_id, valid_from)
);
CREATE INDEX batch_versions_current ON batch_versions (batch_id) WHERE valid_to IS NULL;
CREATE INDEX batch_versions_donor ON batch_versions (donor_code, valid_from);
