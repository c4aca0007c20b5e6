-- Containers a batch is filled into (bags, vials), each with its volume and dose, and the
-- containers each shipment carried (projections/source_and_flow.py): the quantity made and the
-- quantity of each delivery in the source-and-flow record. Rows carry the position that wrote
-- them, so every view answers as of any position.

CREATE TABLE batch_containers (
    batch_id     text NOT NULL,
    container_id text NOT NULL,
    position     bigint NOT NULL,
    kind         text NOT NULL,
    volume_ml    double precision NOT NULL,
    dose         double precision NOT NULL,
    dose_unit    text NOT NULL,
    filled_at    timestamptz NOT NULL,
    PRIMARY KEY (batch_id, container_id)
);
CREATE INDEX batch_containers_position ON batch_containers (position);

CREATE TABLE shipment_containers (
    shipment_id  text NOT NULL,
    batch_id     text NOT NULL,
    container_id text NOT NULL,
    position     bigint NOT NULL,
    PRIMARY KEY (shipment_id, batch_id, container_id)
);
CREATE INDEX shipment_containers_batch ON shipment_containers (batch_id);

-- The application role writes these views inline and empties them on rebuild, as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON batch_containers, shipment_containers
        TO regentrace_app;
    END IF;
END
$$;
