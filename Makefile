# Two commands for a new user: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/uv/bin/uv
VENV := .venv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_COMPILE_BYTECODE := 1
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export SPD_DATA_DIR ?= $(CURDIR)/data

.PHONY: setup run demo test lint fmt bench bench-sensor evaluate clean

setup: $(VENV)/.synced ## create .venv from uv.lock

$(UV):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "spd needs Python 3.11+, found " + sys.version.split()[0]'
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

run: setup ## materialize a demo history if none, then start the Dagster UI and the dashboard
	$(VENV)/bin/spd run

demo: setup ## only materialize the demo history
	$(VENV)/bin/spd demo

# Three files at a time on two cores: the end-to-end tests spend most of their time waiting for a
# daemon tick or a run worker's start, and a third worker fills that time. Files go out in collection
# order, tests/e2e/ (the longest) first: xdist's default sends the files with most tests first, which
# left the one-test e2e files, 1-4 minutes each, to start last.
test: setup ## lint, then every test (the slow end-to-end ones included), three files at a time
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n 3 --dist loadfile --no-loadscope-reorder

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

fmt: setup
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: setup ## speed and memory figures, written to benchmarks/results.json
	$(VENV)/bin/python -m benchmarks.run

bench-sensor: setup ## only the landing sensor under dagster dev vs the CLI backfill (150 days), printed
	$(VENV)/bin/python -m benchmarks.sensor_backfill

evaluate: setup ## detection quality over a synthetic year, written to benchmarks/detection.json
	$(VENV)/bin/python -m benchmarks.evaluate

.PHONY: bench-landing
bench-landing: setup ## a big shop's CSV exports: 60 days x 1M lines, nightly days, a 10M-line day -> results.json
	$(VENV)/bin/python -m benchmarks.landing --write --keep $${BENCH_EXPORTS:-.bench-exports}

.PHONY: bench-alerts
bench-alerts: setup ## the alerts step alone at 5,000 SKUs x 20 regions: 86 days with history, and the nightly day (printed)
	$(VENV)/bin/python -m benchmarks.alerts_step --keep $${BENCH_EXPORTS:-.bench-exports}

.PHONY: bench-catalog bench-history
bench-catalog: setup ## 20,000 SKUs x 20 regions vs 500 x 6: metrics and detection per row, the dashboard on the big year (printed)
	$(VENV)/bin/python -m benchmarks.catalog_scale

bench-history: setup ## the nightly CLI run after 3 years of history vs after 30 days (printed)
	$(VENV)/bin/python -m benchmarks.history

.PHONY: bench-instance
bench-instance: setup ## Dagster's instance on SQLite vs Postgres (Debian's server on loopback), printed
	$(VENV)/bin/python -m benchmarks.instance

.PHONY: evaluate-root-causes
evaluate-root-causes: setup ## root_causes vs a one-dimension baseline on generated cases, to benchmarks/root_causes.json
	$(VENV)/bin/python -m benchmarks.root_causes

.PHONY: audit
AUDIT_VENV := .tools/audit
audit: $(UV) ## pip-audit the locked dependencies; says so in one line when the service is out of reach
	UV_PROJECT_ENVIRONMENT=$(AUDIT_VENV) $(UV) sync --frozen --only-group audit --no-install-project --quiet
	$(UV) export --frozen --no-hashes --no-emit-project --format requirements-txt --quiet > $(AUDIT_VENV)/requirements.txt
	$(AUDIT_VENV)/bin/python .ci/audit.py $(AUDIT_VENV)/requirements.txt

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache
