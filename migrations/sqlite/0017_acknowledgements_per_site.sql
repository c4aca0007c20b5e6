-- A physician acknowledgement is per administering site: when a split batch's containers were
-- given at several institutions, each must tell its own patients' physicians, and one
-- institution's acknowledgement does not close another's duty.

CREATE TABLE physician_acknowledgements_by_site (
    batch_id        text NOT NULL,
    hold_key        text NOT NULL,
    position        INTEGER NOT NULL,
    site_id         text NOT NULL,
    acknowledged_at TEXT NOT NULL,
    acknowledged_by text NOT NULL,
    note            text,
    PRIMARY KEY (batch_id, hold_key, site_id)
);
INSERT INTO physician_acknowledgements_by_site
    SELECT batch_id, hold_key, position, site_id, acknowledged_at, acknowledged_by, note
    FROM physician_acknowledgements;
DROP TABLE physician_acknowledgements;
ALTER TABLE physician_acknowledgements_by_site RENAME TO physician_acknowledgements;
