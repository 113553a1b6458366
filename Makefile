# ecommerce-customer-segmentation: `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed
KERNEL := ecomseg
PARAMS ?= params.yaml

SYNTH_ARGS ?= --customers 5000 --segments 4 --seed 42

BENCH_ARGS ?=

.PHONY: help setup setup-spark report lab pdf test test-fast lint clean synthetic synthetic-report customers-report bench bench-report

help: ## Show this list of targets
	@echo "Usage: make <target> [PARAMS=params.yaml]"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-17s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
		--display-name "Python (ecommerce-segmentation)" > /dev/null
	@touch $@
	@echo "setup: environment ready in $(VENV) (kernel '$(KERNEL)')"

setup: $(STAMP) ## Create .venv, install pinned packages and the helpers package, register the Jupyter kernel

$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	@java -version >/dev/null 2>&1 || { echo "setup-spark: no java on PATH; fix: install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(BIN)/python -m pip install --quiet -r requirements-spark.txt
	@touch $@
	@echo "setup-spark: pyspark and sqlglot ready in $(VENV) (engine.kind: spark)"

setup-spark: $(SPARK_STAMP) ## Add the pinned Spark extra (pyspark, sqlglot; about 0.5 GB, needs Java 17) for engine.kind: spark

report: $(STAMP) ## Run all notebooks with PARAMS and render HTML to reports/latest
	@$(BIN)/python -m helpers.runner --params "$(PARAMS)"

LAB_IP   ?= 127.0.0.1
LAB_ARGS ?=
RUN      ?= reports/latest

lab: $(STAMP) ## Open JupyterLab on the project and print its URL (adds --allow-root as root; LAB_IP=0.0.0.0 in a container)
	@echo "lab: starting JupyterLab; open the http://$(LAB_IP):...?token=... URL it prints below (Ctrl-C stops it)"
	$(BIN)/jupyter lab --notebook-dir=. --ServerApp.ip=$(LAB_IP) $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

pdf: $(STAMP) ## Write the index and persona pages of RUN (default reports/latest) as one PDF, report.pdf in the run folder
	@$(BIN)/python -m helpers.pdf --run "$(RUN)"

test: $(STAMP) ## Run the whole test suite (what CI runs)
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## Run the fast tier while you work: unit tests and doctests, no notebook kernels
	$(BIN)/python -m pytest -m "not slow" -q

lint: $(STAMP) ## Check code style (ruff) and that notebooks carry no outputs
	$(BIN)/ruff check src tests
	$(BIN)/python -m helpers.notebooks --check notebooks

synthetic: $(STAMP) ## Generate data/synthetic/ (transactions, customers, sessions, planted labels); SYNTH_ARGS=...
	$(BIN)/python -m helpers.synth $(SYNTH_ARGS) --out data/synthetic

synthetic-report: synthetic ## Run the whole report on the synthetic data (params/synthetic.yaml)
	@$(BIN)/python -m helpers.runner --params params/synthetic.yaml

customers-report: $(STAMP) ## Customer-level example: build data/examples/ from the shipped export, run params/customers.example.yaml
	$(BIN)/python -m helpers.customer_example --out data/examples/online_retail_customers.csv
	@$(BIN)/python -m helpers.runner --params params/customers.example.yaml

bench: $(STAMP) ## Benchmark stages on 1M and 10M synthetic lines (BENCH_ARGS=--large adds 100M, --spark the same stages on Spark), then time the report quiet and under load; writes reports/bench/
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.report_timing

bench-report: $(STAMP) ## Time make report on the shipped data: 3 quiet runs, 3 beside two busy processes (reports/bench/report-timings.md)
	$(BIN)/python -m bench.report_timing

DB_PORT ?= 54329
DB_URL  ?= postgresql://postgres@127.0.0.1:$(DB_PORT)/shop

.PHONY: db-sample db-stop bench-postgres

db-sample: $(STAMP) ## Start a throwaway local PostgreSQL (DB_PORT=54329) and load the shipped sample into shop.orders
	@$(BIN)/python -m helpers.database_server start --port $(DB_PORT)
	@$(BIN)/python -m helpers.database_server load-sample --url "$(DB_URL)"
	@echo "db-sample: now run make report PARAMS=params/postgres.example.yaml"

db-stop: $(STAMP) ## Stop the PostgreSQL of db-sample and delete its folder
	@$(BIN)/python -m helpers.database_server stop

bench-postgres: $(STAMP) ## Time reading 10M lines from a throwaway PostgreSQL beside Parquet (PG_BENCH_ARGS=--rows 1M); reports/bench/postgres-*.md
	$(BIN)/python -m bench.postgres $(PG_BENCH_ARGS)

clean: ## Remove generated data, run reports and caches (keeps data/raw, reports/bench and .venv)
	rm -rf data/interim/* data/processed/* data/synthetic .pytest_cache .ruff_cache
	find reports -mindepth 1 -maxdepth 1 ! -name bench ! -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
	@touch data/interim/.gitkeep data/processed/.gitkeep reports/.gitkeep
