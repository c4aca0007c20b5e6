-- A batch's donations are read from the lineage's DONATION -> BATCH edges (the first donation
-- and every pooled one, at the same positions), so the custody projection's own copy of the
-- first donation is dropped.
DROP TABLE custody_batches;
