-- A recall's units may be containers (issue 18): for a batch filled into containers, each
-- container is a unit to account for (container_id; '' for a batch recalled whole), and a
-- container already destroyed when the recall reached it is accounted for by the scope itself
-- (destroyed_before).

ALTER TABLE recall_units ADD COLUMN container_id text NOT NULL DEFAULT '';
ALTER TABLE recall_units ADD COLUMN destroyed_before integer NOT NULL DEFAULT 0;
ALTER TABLE recall_units DROP CONSTRAINT recall_units_pkey;
ALTER TABLE recall_units ADD PRIMARY KEY (recall_id, batch_id, container_id);
