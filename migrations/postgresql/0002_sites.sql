-- Site register projection: versions of each site's record, valid over a range of positions,
-- and the append-only status history.
CREATE TABLE site_versions (
    site_id               text    NOT NULL,
    valid_from            bigint  NOT NULL,
    valid_to              bigint,
    name                  text    NOT NULL,
    kind                  text    NOT NULL,
    jurisdiction          text    NOT NULL,
    country               text    NOT NULL,
    supervising_authority text    NOT NULL,
    licence_number        text,
    control_site_id       text,
    location              text,
    contact               text,
    status                text    NOT NULL,
    control_site_status   text,
    registered_at         timestamptz NOT NULL,
    PRIMARY KEY (site_id, valid_from)
);
CREATE INDEX site_versions_current ON site_versions (site_id) WHERE valid_to IS NULL;
CREATE INDEX site_versions_control ON site_versions (control_site_id, valid_from);

CREATE TABLE site_status_history (
    site_id      text    NOT NULL,
    position     bigint  NOT NULL,
    status       text    NOT NULL,
    effective_at timestamptz NOT NULL,
    reason       text,
    actor        text    NOT NULL,
    actor_role   text    NOT NULL,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (site_id, position)
);
