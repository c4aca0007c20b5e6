#!/bin/sh
# The login the read replica (docker/compose.yaml, db-replica) streams the primary's WAL as, and
# the pg_hba.conf line that lets it. The postgres image runs this once, after
# regentrace-roles.sh, when it initialises an empty data directory; on a primary that already
# has data, run it by hand as the superuser with PGDATA set, then `SELECT pg_reload_conf()`.
#
#   REGENTRACE_DB_REPLICATION_USER      (default regentrace_replicator): REPLICATION LOGIN, no
#   REGENTRACE_DB_REPLICATION_PASSWORD  privilege on any table; it can read every byte of the
#                                       cluster through WAL, so guard its password like the
#                                       superuser's
set -eu

: "${REGENTRACE_DB_REPLICATION_USER:=regentrace_replicator}"
: "${REGENTRACE_DB_REPLICATION_PASSWORD:?set REGENTRACE_DB_REPLICATION_PASSWORD}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v user="$REGENTRACE_DB_REPLICATION_USER" \
    -v password="$REGENTRACE_DB_REPLICATION_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I REPLICATION LOGIN PASSWORD %L', :'user', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SQL

line="host replication $REGENTRACE_DB_REPLICATION_USER all scram-sha-256"
grep -qxF "$line" "$PGDATA/pg_hba.conf" || echo "$line" >> "$PGDATA/pg_hba.conf"
