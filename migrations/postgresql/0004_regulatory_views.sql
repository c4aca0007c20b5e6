-- Regulatory views: manufacture steps, shipments, adverse reactions, and the recall lineage graph.
-- batch_steps is versioned by the position of the step's own event (corrections change it).
-- Append-only rows carry the ledger position that wrote them; versioned rows carry valid_from /
-- valid_to (see projections/versioned.py). Either way a view answers as of any position.

CREATE TABLE batch_steps (
    position      bigint NOT NULL,
    valid_from    bigint NOT NULL,
    valid_to      bigint,
    batch_id      text NOT NULL,
    step          text NOT NULL,
    site_id       text NOT NULL,
    started_at    timestamptz NOT NULL,
    completed_at  timestamptz NOT NULL,
    operator      text NOT NULL,
    equipment     text,
    material_lots text NOT NULL,
    PRIMARY KEY (position, valid_from)
);
CREATE INDEX batch_steps_batch ON batch_steps (batch_id, position);

CREATE TABLE batch_decisions (
    batch_id   text NOT NULL,
    position   bigint NOT NULL,
    decision   text NOT NULL,
    decided_by text NOT NULL,
    decided_at timestamptz NOT NULL,
    meaning    text,
    reason     text,
    PRIMARY KEY (batch_id, position)
);

CREATE TABLE batch_sites (
    batch_id text NOT NULL,
    site_id  text NOT NULL,
    position bigint NOT NULL,
    role     text NOT NULL,
    PRIMARY KEY (batch_id, site_id, position, role)
);
CREATE INDEX batch_sites_site ON batch_sites (site_id, position);

CREATE TABLE shipment_versions (
    shipment_id          text NOT NULL,
    valid_from           bigint NOT NULL,
    valid_to             bigint,
    from_site_id         text NOT NULL,
    to_site_id           text NOT NULL,
    courier              text NOT NULL,
    dispatched_at        timestamptz NOT NULL,
    received_at          timestamptz,
    condition_acceptable boolean,
    excursions           integer NOT NULL,
    PRIMARY KEY (shipment_id, valid_from)
);

CREATE TABLE shipment_batches (
    shipment_id text NOT NULL,
    batch_id    text NOT NULL,
    position    bigint NOT NULL,
    PRIMARY KEY (shipment_id, batch_id)
);
CREATE INDEX shipment_batches_batch ON shipment_batches (batch_id);

CREATE TABLE adverse_event_versions (
    adverse_event_id       text NOT NULL,
    valid_from             bigint NOT NULL,
    valid_to               bigint,
    batch_id               text NOT NULL,
    patient_code           text NOT NULL,
    reported_by_site_id    text NOT NULL,
    control_site_id        text NOT NULL,
    jurisdiction           text NOT NULL,
    serious                boolean NOT NULL,
    description            text NOT NULL,
    onset_at               timestamptz NOT NULL,
    aware_at               timestamptz NOT NULL,
    reporting_deadline_at  timestamptz NOT NULL,
    submitted_at           timestamptz,
    authority              text,
    PRIMARY KEY (adverse_event_id, valid_from)
);
CREATE INDEX adverse_event_versions_batch ON adverse_event_versions (batch_id);
CREATE INDEX adverse_event_versions_control ON adverse_event_versions (control_site_id);

-- The lineage graph, upstream to downstream: donor -> donation -> batch; material lot -> batch;
-- site -> donation / batch (per step, with times); batch -> shipment -> site; batch -> patient;
-- batch -> adverse event. A trace follows these edges forward or backward from any node.
CREATE TABLE lineage_edges (
    position  bigint NOT NULL,
    seq       integer NOT NULL,
    from_kind text NOT NULL,
    from_id   text NOT NULL,
    to_kind   text NOT NULL,
    to_id     text NOT NULL,
    relation  text NOT NULL,
    happened_at timestamptz NOT NULL,
    PRIMARY KEY (position, seq)
);
CREATE INDEX lineage_edges_from ON lineage_edges (from_kind, from_id, position);
CREATE INDEX lineage_edges_to ON lineage_edges (to_kind, to_id, position);
CREATE INDEX lineage_edges_site_window ON lineage_edges (from_kind, from_id, happened_at);
