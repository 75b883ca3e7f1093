"""`safeguarding-audit export`: DfE's tidy open-data layout, CSV and Parquet, a data dictionary,
and nothing that should not be published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pipelines.run import execute_audit
from synth.packs import write_packs

CLI = str(Path(sys.executable).parent / "safeguarding-audit")
TIDY = ["time_period", "time_identifier", "geographic_level", "la_code", "la_name", "indicator", "numerator",
        "denominator", "rate", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def small_home(tmp_path_factory):
    """Small packs, so that some counts are suppressed."""
    home = tmp_path_factory.mktemp("exports") / "home"
    write_packs(home / "inbox", las=3, quarters=2, seed=5, cases_per_la=9, formats="csv")
    assert execute_audit(dg.DagsterInstance.ephemeral(), home, home / "inbox").success
    return home


def test_export_writes_tidy_csv_and_parquet_with_a_dictionary(small_home, tmp_path):
    out = tmp_path / "open-data"
    result = subprocess.run([CLI, "export", "--home", str(small_home), "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out.resolve())
    rates = pd.read_csv(out / "indicator_rates.csv", dtype=str, keep_default_na=False)
    assert list(rates.columns) == TIDY
    assert pd.read_parquet(out / "indicator_rates.parquet").astype(str).equals(rates.astype(str))
    assert set(rates["time_identifier"]) == {"Calendar year Q3", "Calendar year Q4"}
    assert set(rates["geographic_level"]) == {"Local authority", "Partnership"}
    assert (rates["numerator"] == "c").any()  # small packs: something is suppressed
    for column in ("numerator", "denominator"):
        shown = rates.loc[rates[column] != "c", column].astype(int)
        assert not shown.between(1, 5).any()
    hidden = rates["numerator"].eq("c") | rates["denominator"].eq("c")
    assert rates.loc[hidden, "rate"].eq("c").all()
    dictionary = pd.read_csv(out / "data_dictionary.csv")
    for column in TIDY:
        assert column in set(dictionary["column"])
    assert (out / "scores.csv").exists() and (out / "README.txt").exists()


def test_the_pipeline_writes_the_default_exports(small_home):
    files = {p.name for p in (small_home / "exports").iterdir()}
    assert {"indicator_rates.csv", "indicator_rates.parquet", "scores.csv", "data_dictionary.csv"} <= files


def test_export_without_a_warehouse_is_a_plain_error(tmp_path):
    result = subprocess.run([CLI, "export", "--home", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no warehouse" in result.stderr
