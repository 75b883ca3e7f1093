"""The Dagster code location loads: a broken import or definition fails here, not in the UI."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import dagster as dg

from pipelines.definitions import AUDIT_JOB, PUBLISH_JOB, RETURNS_JOB, build_definitions, defs
from pipelines.partitions import AUDITS, PERIODS
from pipelines.resources import build_resources
from pipelines.settings import AuditHome, prepare_instance

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


def test_definitions_are_built_without_a_warning(tmp_path):
    """Not even a deprecation: each would reach the terminal of every command that runs the job."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = build_definitions(str(tmp_path / "home"))
        jobs = {name: built.resolve_job_def(name) for name in (AUDIT_JOB, PUBLISH_JOB, RETURNS_JOB)}
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    # The jobs' partitions come from the assets they select.
    partitions = {name: job.partitions_def and job.partitions_def.name for name, job in jobs.items()}
    assert partitions == {AUDIT_JOB: PERIODS, PUBLISH_JOB: None, RETURNS_JOB: AUDITS}


def test_the_instance_settings_turn_off_telemetry_and_the_ui_first_visit_dialog(tmp_path):
    home = AuditHome(tmp_path / "home").prepare()
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    try:
        assert not instance.telemetry_enabled and not instance.nux_enabled
    finally:
        instance.dispose()
    # `make dagster-ui` writes the same settings for $DAGSTER_HOME.
    elsewhere = tmp_path / "elsewhere"
    result = subprocess.run([sys.executable, "-m", "pipelines.settings"], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "DAGSTER_HOME": str(elsewhere)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(prepare_instance(elsewhere))
    assert (elsewhere / "dagster.yaml").read_text() == (home.dagster_home / "dagster.yaml").read_text()
