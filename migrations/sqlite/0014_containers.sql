-- Containers a batch is filled into (bags, vials), each with its volume and dose, and the
-- containers each shipment carried (projections/source_and_flow.py): the quantity made and the
-- quantity of each delivery in the source-and-flow record. Rows carry the position that wrote
-- them, so every view answers as of any position.

CREATE TABLE batch_containers (
    batch_id     text NOT NULL,
    container_id text NOT NULL,
    position     INTEGER NOT NULL,
    kind         text NOT NULL,
    volume_ml    REAL NOT NULL,
    dose         REAL NOT NULL,
    dose_unit    text NOT NULL,
    filled_at    TEXT NOT NULL,
    PRIMARY KEY (batch_id, container_id)
);
CREATE INDEX batch_containers_position ON batch_containers (position);

CREATE TABLE shipment_containers (
    shipment_id  text NOT NULL,
    batch_id     text NOT NULL,
    container_id text NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (shipment_id, batch_id, container_id)
);
CREATE INDEX shipment_containers_batch ON shipment_containers (batch_id);
