# The two commands a fresh clone needs: `make demo` and `make test`.
# Each installs everything first (uv from pip if missing, then the locked environment).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export LOCKGATE_HOME ?= $(CURDIR)/.lockgate

.PHONY: setup chromium demo test test-fast test-services lint schema airflow airflow-postgres \
	airflow-postgres-stop airflow-celery airflow-celery-stop bench bench-tfx clean

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

# Headless Chromium for the report page tests (tests/pipelines/reports/); idempotent, and
# it says why when it cannot install (those tests then skip with that reason).
chromium:
	@bash infra/chromium.sh

demo: setup
	$(UV) run --frozen lockgate run configs/penguin.yaml

test: setup chromium lint
	$(UV) run --frozen pytest -m "not services" --durations=20

# The production-shaped deployments, started by their own scripts, each tested end to end.
test-services: setup
	$(UV) run --frozen pytest -m services

test-fast: setup chromium
	$(UV) run --frozen pytest -m "not e2e and not airflow"

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports

schema: setup
	$(UV) run --frozen lockgate schema --out configs/config.schema.json

clean:
	rm -rf .lockgate

airflow: setup
	bash infra/airflow.sh

# PostgreSQL (Airflow DB + MLMD) and the LocalExecutor; then the same with Celery workers.
airflow-postgres: setup
	bash infra/airflow-cluster.sh start postgres

airflow-postgres-stop:
	bash infra/airflow-cluster.sh stop postgres

airflow-celery: setup
	bash infra/airflow-cluster.sh start celery

airflow-celery-stop:
	bash infra/airflow-cluster.sh stop celery

bench: setup
	$(UV) run --frozen python -m bench.run

# The same penguin, pupdates and numeric pipelines on the real TFX 1.16, in a venv of their own.
bench-tfx: setup
	PY=$$(bash bench/tfx/setup.sh) && $$PY bench/tfx/run.py
	$(UV) run --frozen python -m bench.report
