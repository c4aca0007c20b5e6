-- What Taiwan's 2025 source-and-flow rules add (projections/institution_records.py): each batch
-- an import declaration brought in (customs-declaration number and date, quantity, importer) and
-- each institution's patient, whose identity stays sealed in the ledger (only the day the patient
-- comes of age is kept here, for the retention of a minor's record). Append-only rows that carry
-- the ledger position that wrote them, so a view answers as of any position.

CREATE TABLE import_declarations (
    declaration_number text NOT NULL,
    batch_id           text NOT NULL,
    position           INTEGER NOT NULL,
    quantity           INTEGER NOT NULL,
    declared_at        timestamptz NOT NULL,
    site_id            text NOT NULL,
    PRIMARY KEY (declaration_number, batch_id)
);
CREATE INDEX import_declarations_batch ON import_declarations (batch_id, position);

CREATE TABLE institution_patients (
    site_id      text NOT NULL,
    patient_code text NOT NULL,
    position     INTEGER NOT NULL,
    adult_on     text,
    PRIMARY KEY (site_id, patient_code)
);

-- The application role writes these views inline and empties them on rebuild, as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON import_declarations, institution_patients
        TO regentrace_app;
    END IF;
END
$$;
