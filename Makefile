# PathoDesk: `make demo` serves the platform, `make test` runs every test (API.md).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
export PATHODESK_SAMPLE_DIR ?= $(CURDIR)/sample-data
export PATHODESK_SHARED_DATA_DIR ?= $(abspath $(CURDIR)/../shared/data)

.PHONY: setup system-deps python-deps frontend samples demo test lint bench clean

setup: system-deps python-deps frontend samples

# Debian's Chromium for the browser tests (never a downloaded browser build), a CJK font
# for Chinese pages and names, the PostgreSQL and Redis servers the database and
# scale-out tests start privately (never as services), libvips' command line (pyramids as
# converters write them, in tests and benches) and IIPImage behind lighttpd (the tile
# bench's production baseline, started by bench/tiles.py --baseline iipsrv only).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-dejavu-core"; \
	fc-list 2>/dev/null | grep -q "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v vips >/dev/null 2>&1 || missing="$$missing libvips-tools"; \
	command -v lighttpd >/dev/null 2>&1 || missing="$$missing lighttpd"; \
	test -x /usr/lib/iipimage-server/iipsrv.fcgi || missing="$$missing iipimage-server"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)"; fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,ml]'
	# StainTools (bench/stain.py's baseline) without its opencv-python, which would shadow
	# the headless OpenCV every other part uses
	$(PIP) install -q --no-deps 'staintools==2.1.2'
	@touch $(STAMP)

python-deps: $(STAMP)

frontend: frontend/node_modules/.package-lock.json src/pathodesk/web/static/dist/viewer.js

frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

src/pathodesk/web/static/dist/viewer.js: $(wildcard frontend/src/*.js) frontend/build.mjs frontend/node_modules/.package-lock.json
	cd frontend && npm run --silent build

samples: $(STAMP)
	$(PY) -m pathodesk.cli fetch-samples

demo: setup
	$(VENV)/bin/pathodesk --data-dir pathodesk-data demo --host 127.0.0.1 --port 8000

# ruff and mypy; import-linter keeps the layers of ARCHITECTURE.md and forbids import cycles
# (pyproject.toml [tool.importlinter]); ESLint checks the browser code.
lint: $(STAMP) frontend/node_modules/.package-lock.json
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	cd frontend && npm run --silent lint

# Run one after another, the tests left CI's two cores idle a third of the time (waiting on
# servers, browsers, subprocesses). Two pytest-xdist processes keep both busy, each taking a
# whole test file at a time so that the file's fixtures are built once.
TEST_WORKERS ?= 2
test: setup lint
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile

# Every benchmark, each printing its ratio against a named baseline (API.md). Some need
# ../shared/data (PATHODESK_SHARED_DATA_DIR); they say so and stop when it is missing.
BENCHES := tiles annotations analyze qc train cascade register stain fusion superres superres_quality storage priority
bench: setup
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) frontend/node_modules src/pathodesk/web/static/dist pathodesk-data
