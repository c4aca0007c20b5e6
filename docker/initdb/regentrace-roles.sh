#!/bin/sh
# The roles regentrace runs as, created by the database's superuser. The postgres image runs this
# once, when it initialises an empty data directory (docker/compose.yaml mounts it into
# /docker-entrypoint-initdb.d); run it by hand, with the same variables, on any other server.
#
#   REGENTRACE_DB_NAME            the database (created, owned by the owner)
#   REGENTRACE_DB_OWNER           login that owns the schema: `regentrace migrate` runs as it
#   REGENTRACE_DB_OWNER_PASSWORD
#   REGENTRACE_DB_APP_USER        login the API connects as: a member of regentrace_app, which
#   REGENTRACE_DB_APP_PASSWORD    may read and append to the ledger, never UPDATE or DELETE it
#                                 (migrations/postgresql/0005_append_only.sql)
#
# psql connects as POSTGRES_USER (the image's superuser); PGHOST, PGPORT and the other libpq
# variables say where. Safe to run again: what exists is kept, memberships are granted again.
set -eu

: "${REGENTRACE_DB_NAME:=regentrace}"
: "${REGENTRACE_DB_OWNER:=regentrace_owner}"
: "${REGENTRACE_DB_APP_USER:=regentrace_api}"
: "${REGENTRACE_DB_OWNER_PASSWORD:?set REGENTRACE_DB_OWNER_PASSWORD}"
: "${REGENTRACE_DB_APP_PASSWORD:?set REGENTRACE_DB_APP_PASSWORD}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v db="$REGENTRACE_DB_NAME" \
    -v owner="$REGENTRACE_DB_OWNER" -v owner_password="$REGENTRACE_DB_OWNER_PASSWORD" \
    -v app_user="$REGENTRACE_DB_APP_USER" -v app_password="$REGENTRACE_DB_APP_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'owner', :'owner_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec

-- The migrations grant this role its privileges; it logs in as nobody.
SELECT 'CREATE ROLE regentrace_app NOLOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'regentrace_app') \gexec

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'app_user', :'app_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('GRANT regentrace_app TO %I', :'app_user') \gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
-- Only these two logins (and superusers) may connect to it.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', :'db', :'owner', :'app_user') \gexec
SQL
