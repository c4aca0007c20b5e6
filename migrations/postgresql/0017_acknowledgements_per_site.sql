-- A physician acknowledgement is per administering site: when a split batch's containers were
-- given at several institutions, each must tell its own patients' physicians, and one
-- institution's acknowledgement does not close another's duty.

ALTER TABLE physician_acknowledgements DROP CONSTRAINT physician_acknowledgements_pkey;
ALTER TABLE physician_acknowledgements ADD PRIMARY KEY (batch_id, hold_key, site_id);
