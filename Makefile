# Two commands: `make run` and `make test`. Both set everything up first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask

.PHONY: run setup test test-fast soak lint format bench bench-employees clean chromium percona-toolkit screenshots axe

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

## setup: the demo database (embedded SQLite default only), Headway's tables, an admin
setup: $(VENV)/.installed
	$(FLASK) demo prepare
	$(FLASK) headway init
	$(FLASK) headway ensure-admin

## run: set up, then serve with gunicorn on 127.0.0.1:8000 (see gunicorn.conf.py)
run: setup
	$(BIN)/gunicorn wsgi:app

## chromium: Debian's Chromium for the browser tests (installed when root with apt-get)
CHROMIUM := /usr/lib/chromium/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's chromium for the browser tests"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends chromium >/dev/null || true; \
		fi; \
		[ -x $(CHROMIUM) ] || echo "chromium: $(CHROMIUM) is missing and cannot be installed here; browser tests will be skipped (they fail when CI=true)"; \
	fi

## percona-toolkit: Debian's pt-online-schema-change for the online-change tests
## (`--online`; installed when root with apt-get). `make run` does not need it.
PT_OSC := pt-online-schema-change
percona-toolkit:
	@if ! command -v $(PT_OSC) >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's percona-toolkit for the online-change tests"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends percona-toolkit >/dev/null || true; \
		fi; \
		command -v $(PT_OSC) >/dev/null 2>&1 || echo "percona-toolkit: $(PT_OSC) is missing and cannot be installed here; the online-change tests will be skipped (they fail when CI=true)"; \
	fi

## axe: axe-core (package.json, pinned in package-lock.json), which the browser
## tests inject into every kind of page (tests/test_browser_console_ui.py)
AXE := node_modules/axe-core/axe.min.js
axe: $(AXE)
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --silent && touch $@; \
	else \
		echo "axe: npm is missing; the accessibility tests will be skipped (they fail when CI=true)"; \
	fi

# pytest-xdist: one worker per CPU (PYTEST_WORKERS=0: one process), each
# test file on one worker (a file's live server or browser is started once).
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

## test: lint, format check and the whole suite; on MySQL/MariaDB too when
## TEST_DATABASE_URL is set. It fails when a test leaves a file in instance/.
test: $(VENV)/.installed-dev chromium percona-toolkit axe lint
	$(PYTEST) $(PYTEST_ARGS)

## screenshots: the README's pictures (docs/screenshots/*.png), taken with Chromium
## against gunicorn on MariaDB (TEST_DATABASE_URL's server, else root@127.0.0.1)
## or, when no server answers, SQLite
screenshots: $(VENV)/.installed-dev chromium
	$(BIN)/python -m tests.screenshots

## test-fast: the suite without the tests that start gunicorn, flask or Chromium
test-fast: $(VENV)/.installed-dev
	$(PYTEST) -m "not live" $(PYTEST_ARGS)

## soak: load and faults on a private MariaDB at the real size (minutes; not in CI)
soak: $(VENV)/.installed-dev
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks under bench/ (MariaDB ones need BENCH_MYSQL_URL or the local server)
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/legacy_load.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/guards.py
	$(BIN)/python bench/preflight.py
	$(BIN)/python bench/employees.py
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/schema_check.py
	$(BIN)/python bench/online.py

## bench-employees: the employee data admin against stock Flask-Admin, at scale 30 on MariaDB
bench-employees: $(VENV)/.installed-dev
	$(BIN)/python bench/employees.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules
