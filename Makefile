# Two commands do all set-up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?= var
export DAGSTER_HOME ?= $(abspath $(HOME_DIR))/dagster
export DO_NOT_TRACK := 1
DAGSTER_UI_PORT ?= 3000
# `dagster dev` and `dagster definitions validate` are superseded by the `dg` command line (package
# dagster-dg-cli, which this project does not install); both still work throughout Dagster 1.x and
# would open with a SupersessionWarning saying so. Only that warning of each command is filtered.
DAGSTER := $(BIN)/python -W 'ignore:Function `dev_command` is superseded:FutureWarning' \
	-W 'ignore:Function `definitions_validate_command` is superseded:FutureWarning' -m dagster

.PHONY: demo test install browser dagster-ui validate-defs clean docs template screenshots bench bench-hostile

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
	@$(BIN)/python -m pipelines.settings >/dev/null
	$(DAGSTER) definitions validate -m pipelines.definitions

## The Dagster UI on http://127.0.0.1:3000, sharing ./var/dagster with the command line
## (its settings, written first: telemetry and the first-visit "join the community" dialog off)
dagster-ui: $(STAMP)
	@$(BIN)/python -m pipelines.settings >/dev/null
	$(DAGSTER) dev -m pipelines.definitions -h 127.0.0.1 -p $(DAGSTER_UI_PORT)

clean:
	rm -rf $(VENV) var $(SCREENSHOTS_HOME)

## Regenerate the reference docs that come from config/ (docs/export-pack.md, docs/indicators.md)
docs: $(STAMP)
	$(BIN)/python -m assets.reference_docs

## The README's screenshots (docs/images/*.png, listed in docs/screenshots.py) in headless Chromium, of
## a demo site under build/: made by `demo` the first time, republished by `run` with the present code after
SCREENSHOTS_HOME ?= build/screenshots-home
screenshots: $(STAMP) browser
	@if [ -f $(SCREENSHOTS_HOME)/site/index.html ]; then $(BIN)/safeguarding-audit run --home $(SCREENSHOTS_HOME); \
	else $(BIN)/safeguarding-audit demo --home $(SCREENSHOTS_HOME); fi >/dev/null
	$(BIN)/python docs/screenshots.py $(SCREENSHOTS_HOME)/site docs/images

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
