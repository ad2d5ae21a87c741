# Two commands: `make run` and `make test`. Everything else is a helper of those.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install migrate seed lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Local development: SQLite in the project directory, DEBUG on.
run: export DEBUG ?= 1
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_models
	$(PY) manage.py seed_autorouter
	$(PY) manage.py seed_model_profiles
	$(PY) manage.py ensure_demo_superuser
	$(PY) manage.py runserver 127.0.0.1:8000

# The whole suite. Uses DATABASE_URL / REDIS_URL when set. pytest's exit
# status 5 ("no tests collected") is not a failure of the suite.
test: install
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; [ $$status -eq 5 ] && status=0; exit $$status

migrate: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

seed: migrate
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_models
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_autorouter
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_model_profiles

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# Benchmarks print figures; each sets up its own throwaway database.
bench: install
	$(PY) bench/registry_bench.py
	$(PY) bench/admin_bench.py
	$(PY) bench/router_bench.py
	$(PY) bench/sync_bench.py
	$(PY) bench/catalog_scale_bench.py
	$(PY) bench/usage_bench.py

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache *.egg-info
