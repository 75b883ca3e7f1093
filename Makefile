# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?= var
export DAGSTER_HOME ?= $(abspath $(HOME_DIR))/dagster
export DO_NOT_TRACK := 1

.PHONY: demo test install browser dagster-ui validate-defs clean docs template bench bench-hostile

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## The main job: synthetic packs -> pipeline -> dashboards under ./var
demo: $(STAMP)
	$(BIN)/safeguarding-audit demo --home $(HOME_DIR)

## Lint and the whole test suite
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2

## Headless Chromium for the dashboard browser tests (Debian package)
browser:
	@bash .ci/install-chromium

validate-defs: $(STAMP)
	$(BIN)/dagster definitions validate -m pipelines.definitions

## The Dagster UI on http://127.0.0.1:3000, sharing ./var/dagster with the command line
dagster-ui: $(STAMP)
	mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

clean:
	rm -rf $(VENV) var

## Regenerate the reference docs that come from config/ (docs/export-pack.md, docs/indicators.md)
docs: $(STAMP)
	$(BIN)/python -m assets.reference_docs

## The Excel template an LA data team fills in
template: $(STAMP)
	mkdir -p $(HOME_DIR)
	$(BIN)/python -c "from assets.template import write_template; print(write_template(__import__('pathlib').Path('$(HOME_DIR)/export-pack-template.xlsx')))"

## National-scale benchmark (SCALE=1 by default; SCALE=0.05 for a quick run)
SCALE ?= 1
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py --scale $(SCALE)

## Hostile inputs at full size (a 1 GiB CSV, workbook and XML bombs): time and peak memory of each
bench-hostile: $(STAMP)
	$(BIN)/python -m bench.hostile_packs
	$(BIN)/python -m bench.hostile_statutory
