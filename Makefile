# Everything a newcomer needs: `make run` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# A first run needs no configuration: development defaults, overridable from the
# environment (DATABASE_URL, SECRET_KEY, ...).
export DEBUG ?= true
export SECRET_KEY ?= dev-only-insecure-key-change-me-in-production
export DJANGO_SETTINGS_MODULE := portal.settings

.PHONY: run test check lint format bench install demo migrate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	PORTAL_BASE_URL="$${PORTAL_BASE_URL:-http://127.0.0.1:$(PORT)}" \
		$(BIN)/python manage.py load_demo_data

run: demo
	$(BIN)/python manage.py collectstatic --noinput -v 0
	PORTAL_BASE_URL="$${PORTAL_BASE_URL:-http://127.0.0.1:$(PORT)}" \
		$(BIN)/python manage.py serve_portal --port $(PORT)

# The suite runs on every core (TEST_WORKERS=0: in one process). The 15
# slowest tests close every run: where the next minute of CI goes.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/pytest --durations=15 -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(MAKE) test

# Benchmarks need PostgreSQL; each BENCH_*DATABASE_URL points at a database its
# benchmark may drop and refill (created if missing). The sweep and signal
# intake get their own, so their rows do not shape the page figures.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard_bench
BENCH_LOOPS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard_bench_loops
BENCH_SIGNALS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard_bench_signals
bench: $(STAMP)
	DATABASE_URL=$(BENCH_DATABASE_URL) DEBUG=false ALLOWED_HOSTS=testserver,127.0.0.1 \
		$(BIN)/python bench/run.py
	DATABASE_URL=$(BENCH_LOOPS_DATABASE_URL) DEBUG=false LOG_LEVEL=WARNING \
		$(BIN)/python bench/loops.py
	DATABASE_URL=$(BENCH_SIGNALS_DATABASE_URL) DEBUG=false \
		$(BIN)/python bench/signals.py

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-*
