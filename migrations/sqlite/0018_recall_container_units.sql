-- A recall's units may be containers (issue 18): for a batch filled into containers, each
-- container is a unit to account for (container_id; '' for a batch recalled whole), and a
-- container already destroyed when the recall reached it is accounted for by the scope itself
-- (destroyed_before).

CREATE TABLE recall_units_by_container (
    recall_id        text NOT NULL,
    batch_id         text NOT NULL,
    container_id     text NOT NULL DEFAULT '',
    position         INTEGER NOT NULL,
    scope_id         text NOT NULL,
    destroyed_before INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (recall_id, batch_id, container_id)
);
INSERT INTO recall_units_by_container (recall_id, batch_id, position, scope_id)
    SELECT recall_id, batch_id, position, scope_id FROM recall_units;
DROP TABLE recall_units;
ALTER TABLE recall_units_by_container RENAME TO recall_units;
CREATE INDEX recall_units_batch ON recall_units (batch_id);
