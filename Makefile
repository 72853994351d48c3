# retail-anomaly: the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/data
LANDING ?= $(DATA_DIR)/landing
DEMO_DAYS ?= 90
DEMO_SEED ?= 7
HOST := 127.0.0.1
DAGSTER_PORT ?= 3000
DOCS_PORT ?= 8080
export RETAIL_ANOMALY_DATA_DIR := $(DATA_DIR)
export RETAIL_ANOMALY_LANDING := $(LANDING)

.PHONY: setup run demo-data test dev docs browser bench-nab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

target/manifest.json: $(VENV)/.installed dbt_project.yml $(shell find dbt_project seeds -type f 2>/dev/null)
	$(BIN)/dbt parse --quiet --project-dir . --profiles-dir .

setup: $(VENV)/.installed target/manifest.json

# Demo landing data is generated once; delete $(LANDING) to start over.
demo-data: setup
	@test -d $(LANDING)/transactions || $(BIN)/retail-anomaly generate --days $(DEMO_DAYS) --seed $(DEMO_SEED) --out $(LANDING)

run: demo-data
	$(BIN)/retail-anomaly run --landing $(LANDING) --data-dir $(DATA_DIR)

# Headless Chromium for the tests that look at pages as a person would (Debian packages).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else echo "chromium not found: install Debian packages chromium and chromium-driver"; fi; }

test: setup browser
	$(BIN)/pytest

dev: setup
	mkdir -p $(DATA_DIR)/dagster_home && cp orchestration/dagster.yaml $(DATA_DIR)/dagster_home/dagster.yaml
	DAGSTER_HOME=$(DATA_DIR)/dagster_home $(BIN)/dagster dev -m orchestration.definitions -h $(HOST) -p $(DAGSTER_PORT)

docs: setup
	$(BIN)/dbt docs generate --project-dir . --profiles-dir .
	$(BIN)/dbt docs serve --project-dir . --profiles-dir . --host $(HOST) --port $(DOCS_PORT) --no-browser

# Scores the product's SQL detectors on the NAB corpus in ../shared/data (RETAIL_ANOMALY_SHARED_DATA).
bench-nab: setup
	$(BIN)/python -m benchmarks.nab.run

clean:
	rm -rf $(VENV) target logs $(DATA_DIR)
