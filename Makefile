# EGMS ground motion — developer commands.  `make setup` then `make test`.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
SYS_PYTHON ?= /usr/bin/python3
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
BUILD := $(ROOT)/.build
# Headless Qt; a private runtime dir silences XDG warnings.
export QT_QPA_PLATFORM ?= offscreen
export XDG_RUNTIME_DIR ?= $(BUILD)/xdg-runtime
export PYTHONDONTWRITEBYTECODE := 1
export NUMBA_CACHE_DIR ?= $(BUILD)/numba-cache

.PHONY: setup test test-core test-qgis test-e2e test-trixie test-sid demo gui-demo bench lint zip clean

setup:
	@scripts/setup.sh "$(SYS_PYTHON)" "$(VENV)"

$(XDG_RUNTIME_DIR):
	@mkdir -p $@ && chmod 700 $@

# Core tests and the Qt 6 checks run without QGIS (pytest-qgis disabled); the rest use
# pytest-qgis offscreen, the end-to-end ones call qgis_process through scripts/qgis_process.sh.
test: lint | $(XDG_RUNTIME_DIR)
	$(PY) -P -m pytest -p no:pytest_qgis tests/core tests/qt6
	$(PY) -P -m pytest tests/qgis

test-core: | $(XDG_RUNTIME_DIR)
	$(PY) -P -m pytest -p no:pytest_qgis tests/core tests/qt6

test-qgis: | $(XDG_RUNTIME_DIR)
	$(PY) -P -m pytest tests/qgis

# The same `make setup test` on newer QGIS, in a Debian root made by debootstrap (needs root;
# the base root is cached in /var/cache/egms-ci): Debian 13 = QGIS 3.40 LTR, unstable = QGIS 3.44.
test-trixie:
	scripts/chroot_ci.sh trixie setup test

test-sid:
	scripts/chroot_ci.sh sid setup test

demo: | $(XDG_RUNTIME_DIR)
	$(PY) scripts/demo.py

gui-demo: | $(XDG_RUNTIME_DIR)
	scripts/gui_demo.sh

bench: | $(XDG_RUNTIME_DIR)
	$(PY) bench/run.py $(BENCH)

lint:
	$(PY) -P -m ruff check .

# A zip that QGIS' "Install from ZIP" accepts: egms_plugin/ inside; no tests, test helpers, benchmarks, scripts.
zip:
	@mkdir -p $(BUILD)/dist
	@rm -f $(BUILD)/dist/egms_plugin.zip
	@git -C $(ROOT) archive --format=zip --prefix=egms_plugin/ -o $(BUILD)/dist/egms_plugin.zip HEAD -- . \
	  ':!tests' ':!testing' ':!bench' ':!scripts' ':!.ci' ':!Makefile' ':!pytest.ini' ':!ruff.toml' ':!.gitignore'
	@echo "wrote $(BUILD)/dist/egms_plugin.zip"

clean:
	rm -rf $(BUILD) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
