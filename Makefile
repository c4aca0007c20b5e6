# regentrace: two commands do all set-up on a fresh machine.
#   make run    install, migrate, seed the demo into an empty embedded ledger, serve GraphiQL
#   make bench  measure (SCALE=small|medium|default|10x, REUSE=1 keeps a built ledger):
#               bench/RESULTS.md, bench/results.json
#   make profile  one command's call tree on SQLite and PostgreSQL: bench/profiles
#   make test   install, then lint, type-check, check the partner contract and run every test
#               on SQLite and PostgreSQL (starting the local PostgreSQL if it is down)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint typecheck contract schema lock pytest postgres clean bench profile graphiql-assets \
	console-assets

# Every package at the version and hash the lock names (make lock refreshes it), then the
# project itself, built with the locked setuptools.
LOCK := requirements/dev.lock

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "regentrace needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

# GraphiQL's scripts and styles, served by the app so its page works without internet: npm installs
# the versions pinned (with integrity hashes) in web/graphiql/package-lock.json, and the files the
# page loads are copied into web/graphiql/dist (api/graphiql.py). Without node and npm the page
# loads them from a public CDN instead; that is said here and never stops make run.
GRAPHIQL := web/graphiql
GRAPHIQL_STAMP := $(GRAPHIQL)/dist/.installed

graphiql-assets: $(GRAPHIQL_STAMP)

$(GRAPHIQL_STAMP): $(GRAPHIQL)/package-lock.json $(STAMP)
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "graphiql-assets: node and npm not found, so GraphiQL's page loads its scripts from a public CDN (blank without internet); install nodejs and npm, then run make graphiql-assets"; \
	elif (cd $(GRAPHIQL) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
		&& $(BIN)/python -m api.graphiql $(GRAPHIQL)/node_modules $(GRAPHIQL)/dist; then \
		touch $@; \
	else \
		echo "graphiql-assets: GraphiQL's assets could not be installed (see above), so its page loads them from a public CDN"; \
	fi

# The web console at /console (api/console.py, docs/console.md): plain ES modules and one style
# sheet in web/console, served as they are, so there is nothing to install or build (ADR 9). This
# checks the folder: every module a page imports is there, and no file names another host.
CONSOLE := web/console

console-assets: install
	$(BIN)/python -m api.console $(CONSOLE)

run: install graphiql-assets console-assets
	$(BIN)/regentrace migrate
	$(BIN)/regentrace demo --if-empty
	@echo "make run: development principal ON (no credentials needed); never expose this server"
	REGENTRACE_DEV_PRINCIPAL_ENABLED=true $(BIN)/regentrace serve --host $(HOST) --port $(PORT)

test: install lint typecheck contract postgres graphiql-assets console-assets pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# The served schema against the partner contract kept in api/contract.graphql (the test suite
# also checks that api/schema.graphql is the schema the code builds).
contract: install
	$(BIN)/python -m api.contract

# After a schema change: print it into api/schema.graphql and review the difference.
schema: install
	$(BIN)/regentrace schema > api/schema.graphql

# Re-resolve the dependencies of pyproject.toml into the hashed locks (runtime: the image;
# dev: make install), keeping the pins that still fit (UPGRADE=1 takes the newest). Review the
# difference and commit it with the change that needed it.
LOCK_TOOL := var/lock-tool
lock:
	@test -x $(LOCK_TOOL)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOL) && $(LOCK_TOOL)/bin/python -m pip install --quiet uv; }
	$(LOCK_TOOL)/bin/uv pip compile --quiet --no-header --generate-hashes --python-version 3.11 \
		$(if $(UPGRADE),--upgrade) pyproject.toml requirements/build.in -o requirements/runtime.lock
	$(LOCK_TOOL)/bin/uv pip compile --quiet --no-header --generate-hashes --python-version 3.11 \
		$(if $(UPGRADE),--upgrade) --extra dev pyproject.toml requirements/build.in -o requirements/dev.lock

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
		echo "starting the local PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
		for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }

pytest: install
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(GRAPHIQL)/node_modules $(GRAPHIQL)/dist

bench: install postgres
	$(BIN)/python -m bench.run --scale $(or $(SCALE),medium) $(if $(REUSE),--reuse) $(if $(PART),--part $(PART)) $(if $(DATABASE),--database $(DATABASE))

# Where one command's time goes: recordBatchStep over HTTP sampled with pyinstrument on SQLite
# and PostgreSQL, into bench/profiles (flame graphs as HTML, call trees as text, summary.txt).
profile: install postgres
	$(BIN)/python -m bench.profile
