"""The Dagster code location loads: a broken import or definition fails here, not in the UI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipelines.definitions import AUDIT_JOB, build_definitions, defs
from pipelines.resources import build_resources

REPO = Path(__file__).resolve().parents[1]


def test_every_definition_loads():
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {"packs", "scored_packs", "site", "exports"} <= keys
    assert defs.get_job_def(AUDIT_JOB) is not None
    checks = {key.name for key in repository.asset_graph.asset_check_keys}
    assert {"rows_reconcile", "quarantine_share", "contract_expectations", "every_case_scored",
            "rates_reconcile"} <= checks


def test_home_is_a_resource_setting(tmp_path):
    resources = build_resources(str(tmp_path / "elsewhere"))
    assert Path(resources["audit_home"].home) == (tmp_path / "elsewhere").resolve()
    assert resources["warehouse"].database == str((tmp_path / "elsewhere" / "warehouse.duckdb").resolve())
    assert build_definitions(str(tmp_path / "elsewhere")).get_job_def(AUDIT_JOB) is not None


def test_dagster_cli_validates_the_code_location(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "SAFEGUARDING_AUDIT_HOME": str(tmp_path / "var")}
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "pipelines.definitions"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
