#!/bin/sh
# Container start: bring the tables up to date, then serve.
#
# `regentrace migrate` is idempotent and serialises concurrent runs (an advisory lock on
# PostgreSQL, an immediate transaction on SQLite), so every replica may run it at start.
# `serve --no-migrate` then never touches the schema. Run as the API's login (a member of
# regentrace_app, as docker/compose.yaml does) `migrate` only checks that the schema is current
# and exits 4 if it is not: migrations need the schema owner (compose's migrate service). exec hands PID 1 to the server, so
# `docker stop` reaches it directly and it shuts down cleanly.
#
# Given arguments, the container runs them instead, e.g.
#   docker compose run --rm api regentrace rebuild
set -eu

if [ "$#" -gt 0 ]; then
    exec "$@"
fi

regentrace migrate && exec regentrace serve --host 0.0.0.0 --port 8000 --no-migrate
