-- Recalls carried out (projections/recalls.py): each recall's state and progress counts as
-- versioned rows (valid_from / valid_to), its notifications as versioned rows (acknowledged as a
-- new version), and its scopes (the initiation and each extension, with the trace kept then),
-- units, actions, reports to the authority and effectiveness checks as append-only rows that
-- carry the ledger position that wrote them. Either way a view answers as of any position.

CREATE TABLE recall_versions (
    recall_id                text NOT NULL,
    valid_from               bigint NOT NULL,
    valid_to                 bigint,
    reason                   text NOT NULL,
    origin_kind              text NOT NULL,
    origin_id                text NOT NULL,
    jurisdiction             text,
    classification           text,
    classification_defaulted integer NOT NULL,
    authority                text,
    status                   text NOT NULL,
    initiated_at             timestamptz NOT NULL,
    initiated_by             text NOT NULL,
    closed_at                timestamptz,
    closed_by                text,
    conclusion               text,
    units_in_scope           integer NOT NULL,
    units_accounted          integer NOT NULL,
    units_quarantined        integer NOT NULL,
    notified                 integer NOT NULL,
    acknowledged             integer NOT NULL,
    PRIMARY KEY (recall_id, valid_from)
);

CREATE TABLE recall_notifications (
    notification_id text NOT NULL,
    valid_from      bigint NOT NULL,
    valid_to        bigint,
    recall_id       text NOT NULL,
    party_kind      text NOT NULL,
    site_id         text NOT NULL,
    patient_code    text,
    batch_ids       text NOT NULL,
    notified_at     timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    note            text,
    PRIMARY KEY (notification_id, valid_from)
);
CREATE INDEX recall_notifications_recall ON recall_notifications (recall_id);
CREATE INDEX recall_notifications_site ON recall_notifications (site_id);

CREATE TABLE recall_scopes (
    recall_id   text NOT NULL,
    scope_id    text NOT NULL,
    position    bigint NOT NULL,
    reason      text NOT NULL,
    origin_kind text NOT NULL,
    origin_id   text NOT NULL,
    scoped_at   timestamptz NOT NULL,
    scoped_by   text NOT NULL,
    trace       text NOT NULL,
    PRIMARY KEY (recall_id, scope_id)
);

CREATE TABLE recall_units (
    recall_id text NOT NULL,
    batch_id  text NOT NULL,
    position  bigint NOT NULL,
    scope_id  text NOT NULL,
    PRIMARY KEY (recall_id, batch_id)
);
CREATE INDEX recall_units_batch ON recall_units (batch_id);

CREATE TABLE recall_actions (
    action_id    text NOT NULL PRIMARY KEY,
    position     bigint NOT NULL,
    recall_id    text NOT NULL,
    kind         text NOT NULL,
    batch_id     text NOT NULL,
    container_id text,
    site_id      text,
    shipment_id  text,
    note         text,
    acted_at     timestamptz NOT NULL,
    recorded_by  text NOT NULL
);
CREATE INDEX recall_actions_recall ON recall_actions (recall_id, position);

CREATE TABLE recall_reports (
    report_id   text NOT NULL PRIMARY KEY,
    position    bigint NOT NULL,
    recall_id   text NOT NULL,
    kind        text NOT NULL,
    authority   text NOT NULL,
    reference   text,
    summary     text NOT NULL,
    reported_at timestamptz NOT NULL,
    reported_by text NOT NULL
);
CREATE INDEX recall_reports_recall ON recall_reports (recall_id, position);

CREATE TABLE recall_checks (
    check_id   text NOT NULL PRIMARY KEY,
    position   bigint NOT NULL,
    recall_id  text NOT NULL,
    outcome    text NOT NULL,
    method     text NOT NULL,
    note       text,
    checked_at timestamptz NOT NULL,
    checked_by text NOT NULL
);
CREATE INDEX recall_checks_recall ON recall_checks (recall_id, position);

-- The application role writes these views inline and empties them on rebuild, as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            recall_versions, recall_notifications, recall_scopes, recall_units, recall_actions,
            recall_reports, recall_checks
        TO regentrace_app;
    END IF;
END
$$;
