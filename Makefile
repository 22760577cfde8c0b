# Skiff: `make run` starts a local Kafka cell and the console; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install classpath run test test-stress lint format screenshots

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Skiff needs Python 3.11 or newer (found: $$($(PYTHON) --version))."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Resolves Kafka's classpath from Maven Central once (fleet/lib, fleet/agent); instant after that.
classpath: install
	$(BIN)/python -m fleet.runtime.classpath

run: classpath
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py run_console

# ruff, `manage.py check`, migrations and the OpenAPI schema are checked inside the suite.
test: classpath
	bash scripts/install-test-deps.sh
	$(BIN)/pytest

# The tests that touch Kafka (marked `kafka` by tests/plugins/kafka.py) while busy processes
# keep every core loaded (scripts/cpu_hog.py): races between brokers show up here first.
# Narrow it with PYTEST_ARGS, e.g. make test-stress PYTEST_ARGS="tests/clusters -x".
test-stress: classpath
	bash scripts/install-test-deps.sh
	$(BIN)/python scripts/cpu_hog.py -- $(BIN)/pytest -m kafka $(PYTEST_ARGS)

# PNGs of the main pages, light and dark, desktop and phone, into docs/screenshots/ (made-up
# data on the test database; no Kafka cell needed).
screenshots: install
	bash scripts/install-test-deps.sh
	$(BIN)/pytest -q -p no:cacheprovider tests/browser/screenshots.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
