-- A batch received back on a return shipment waits in quarantine for the quality unit's
-- assessment (issue 18, item 2): each batch version says since when, at which site and by which
-- return shipment it is quarantined (NULL when it is not), and the last assessment of a return
-- (outcome, reason, when, which return shipment it cleared). Returns recorded before this
-- migration show once the views are rebuilt.

ALTER TABLE batch_versions ADD COLUMN return_quarantined_at TEXT;
ALTER TABLE batch_versions ADD COLUMN return_quarantine_site text;
ALTER TABLE batch_versions ADD COLUMN return_quarantine_shipment text;
ALTER TABLE batch_versions ADD COLUMN return_assessment_outcome text;
ALTER TABLE batch_versions ADD COLUMN return_assessment_reason text;
ALTER TABLE batch_versions ADD COLUMN return_assessed_at TEXT;
ALTER TABLE batch_versions ADD COLUMN return_assessed_shipment text;
