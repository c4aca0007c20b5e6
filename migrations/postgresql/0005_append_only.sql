-- The ledger is append-only: no stored event or ledger row is ever changed or removed.
-- Triggers refuse UPDATE, DELETE and TRUNCATE for everyone (short of a superuser disabling them),
-- and the application's role, regentrace_app, holds only SELECT and INSERT on the ledger tables.
-- Run the service as a login role that is a member of regentrace_app, not as the tables' owner.

CREATE FUNCTION regentrace_refuse_ledger_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER stored_events_append_only BEFORE UPDATE OR DELETE ON stored_events
    FOR EACH ROW EXECUTE FUNCTION regentrace_refuse_ledger_change();
CREATE TRIGGER stored_events_no_truncate BEFORE TRUNCATE ON stored_events
    FOR EACH STATEMENT EXECUTE FUNCTION regentrace_refuse_ledger_change();
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION regentrace_refuse_ledger_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION regentrace_refuse_ledger_change();

REVOKE UPDATE, DELETE, TRUNCATE ON stored_events, ledger FROM PUBLIC;

-- The role is cluster-wide and may exist already (another schema or database); creating it needs
-- CREATEROLE, so a migration run without it carries on and says so.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        CREATE ROLE regentrace_app NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'regentrace_app not created (no CREATEROLE); grant privileges yourself';
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regentrace_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO regentrace_app', current_schema());
        GRANT SELECT, INSERT ON stored_events, ledger TO regentrace_app;
        GRANT USAGE ON SEQUENCE stored_events_notification_id_seq TO regentrace_app;
        GRANT SELECT ON schema_migrations TO regentrace_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            site_versions, site_status_history,
            donor_versions, donation_versions, material_lot_versions, batch_versions,
            batch_steps, batch_decisions, batch_sites, shipment_versions, shipment_batches,
            adverse_event_versions, lineage_edges
            TO regentrace_app;
    END IF;
END
$$;
