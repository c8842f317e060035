# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TIXI_DATABASE_URL ?= sqlite:///var/tixi.db

NODE_STAMP := node_modules/.installed
VENDOR_STAMP := api/web/static/vendor/.built
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint install lock clean web browser

# A venv is usable only if its python runs and its pip is there: `make` interrupted inside
# `python -m venv` leaves a directory without them, which a `test -d` trusted from then on. A broken
# venv is removed and made again, and its stamp dropped so that the install runs again too.
VENV_OK = $(BIN)/python -c 'import sys' >/dev/null 2>&1 && test -x $(BIN)/pip
MAKE_VENV = $(VENV_OK) || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
ifneq ($(shell $(VENV_OK) && echo ok),ok)
  $(shell rm -f $(STAMP))
endif

$(STAMP): pyproject.toml requirements.lock
	$(MAKE_VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The web app's front-end packages (bpmn-js, dmn-js, JSON Editor) come from npm through
# package-lock.json; their browser builds are copied into api/web/static/vendor and served by Tixi.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(VENDOR_STAMP): $(NODE_STAMP) api/web/copy_vendor.mjs
	npm run --silent vendor
	touch $(VENDOR_STAMP)

web: $(VENDOR_STAMP)

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here), with a
# CJK font so Chinese labels render in the pages and screenshots.
browser:
	@test -x $(CHROMIUM) -a -d /usr/share/fonts/opentype/noto || { echo "installing Debian's chromium and CJK fonts"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium fonts-noto-cjk; }

run: $(STAMP) web
	$(BIN)/tixi db upgrade
	$(BIN)/tixi deploy processes
	$(BIN)/tixi calendar load calendars/cn-2026.json
	TIXI_DEMO_USERS=true $(BIN)/tixi serve --host 127.0.0.1 --port 8000

test: $(STAMP) lint web browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Style, types and layers: ruff (with the wall-clock ban), mypy --strict over engine/ and api/, and
# import-linter's contracts (docs/architecture.md); settings in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check api engine
	$(BIN)/mypy
	$(BIN)/lint-imports

# Re-pin every dependency (run after editing pyproject.toml; commit requirements.lock).
lock:
	$(MAKE_VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) var *.egg-info node_modules api/web/static/vendor

# Benchmarks (bench/, issue 6): `bench` runs the full sizes, `bench-quick` a small run (< 2 min).
# Both need PostgreSQL as `make test` does (TIXI_TEST_POSTGRES_URL); no test asserts a time.
.PHONY: bench bench-quick

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

bench-quick: $(STAMP)
	$(BIN)/python bench/run_all.py --quick
