-- Adverse reactions as each regulator requires them (projections/adverse_events.py,
-- projections/follow_up.py, projections/reportable_deviations.py): a case's seriousness criteria,
-- expectedness, context and Taiwan regime; the reports it owes each authority (versioned: a
-- follow-up may move a deadline, a submission closes one); each submission and each piece of
-- follow-up information (append-only, with the position that wrote them); the administrations
-- long-term follow-up counts from and each visit's record; deviations marked reportable.

ALTER TABLE adverse_event_versions ADD COLUMN criteria text NOT NULL DEFAULT '';
ALTER TABLE adverse_event_versions ADD COLUMN expected boolean;
ALTER TABLE adverse_event_versions ADD COLUMN context text NOT NULL DEFAULT 'MARKETED';
ALTER TABLE adverse_event_versions ADD COLUMN taiwan_regime text;

CREATE TABLE adverse_event_obligations (
    obligation_id       text NOT NULL,
    valid_from          bigint NOT NULL,
    valid_to            bigint,
    adverse_event_id    text NOT NULL,
    obligation_key      text NOT NULL,
    jurisdiction        text NOT NULL,
    authority           text NOT NULL,
    kind                text NOT NULL,
    rule                text NOT NULL,
    source              text NOT NULL,
    due_at              timestamptz NOT NULL,
    submitted_at        timestamptz,
    reported_by_site_id text NOT NULL,
    control_site_id     text NOT NULL,
    PRIMARY KEY (obligation_id, valid_from)
);
CREATE INDEX adverse_event_obligations_case ON adverse_event_obligations (adverse_event_id);

CREATE TABLE adverse_event_submissions (
    adverse_event_id text NOT NULL,
    position         bigint NOT NULL,
    jurisdiction     text NOT NULL,
    authority        text NOT NULL,
    kind             text NOT NULL,
    submitted_at     timestamptz NOT NULL,
    obligation_key   text,
    PRIMARY KEY (adverse_event_id, position)
);

CREATE TABLE adverse_event_follow_ups (
    adverse_event_id text NOT NULL,
    position         bigint NOT NULL,
    received_at      timestamptz NOT NULL,
    information      text NOT NULL,
    serious          boolean NOT NULL,
    criteria         text NOT NULL,
    expected         boolean,
    PRIMARY KEY (adverse_event_id, position)
);

CREATE TABLE follow_up_patients (
    batch_id        text NOT NULL,
    patient_code    text NOT NULL,
    position        bigint NOT NULL,
    product         text NOT NULL,
    site_id         text NOT NULL,
    control_site_id text NOT NULL,
    administered_at timestamptz NOT NULL,
    PRIMARY KEY (batch_id, patient_code)
);
CREATE INDEX follow_up_patients_site ON follow_up_patients (site_id);

CREATE TABLE follow_up_batches (
    batch_id        text NOT NULL,
    position        bigint NOT NULL,
    product         text NOT NULL,
    control_site_id text NOT NULL,
    PRIMARY KEY (batch_id)
);

CREATE TABLE follow_up_visits (
    batch_id     text NOT NULL,
    patient_code text NOT NULL,
    visit        INTEGER NOT NULL,
    position     bigint NOT NULL,
    status       text NOT NULL,
    visited_at   timestamptz NOT NULL,
    site_id      text NOT NULL,
    outcome      text NOT NULL,
    recorded_by  text NOT NULL,
    PRIMARY KEY (batch_id, patient_code, visit)
);

CREATE TABLE reportable_deviation_versions (
    report_id       text NOT NULL,
    valid_from      bigint NOT NULL,
    valid_to        bigint,
    batch_id        text NOT NULL,
    deviation_id    text NOT NULL,
    site_id         text NOT NULL,
    control_site_id text NOT NULL,
    jurisdiction    text NOT NULL,
    authority       text NOT NULL,
    rule            text NOT NULL,
    source          text NOT NULL,
    discovered_at   timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    submitted_at    timestamptz,
    submitted_to    text,
    PRIMARY KEY (report_id, valid_from)
);
CREATE INDEX reportable_deviation_versions_control ON reportable_deviation_versions (control_site_id);

-- The application role writes these views inline and empties them on rebuild, as the others.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            adverse_event_obligations, adverse_event_submissions, adverse_event_follow_ups,
            follow_up_patients, follow_up_batches, follow_up_visits,
            reportable_deviation_versions
        TO regentrace_app;
    END IF;
END
$$;
