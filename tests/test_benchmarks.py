"""National benchmarks: the figures shown for an LA equal the published DfE C3 values for that LA
and year, markers are kept as markers, and audit coverage is computed from the packs."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.benchmarks import C3_FILE, tidy_c3
from pipelines.run import execute_audit

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
FACTORS = {"Going_missing": "Going missing (10A)", "Child_sexual_exploitation": "Child sexual exploitation (11A)",
           "Trafficking": "Trafficking (12A)", "Gangs": "Gangs (13A)",
           "Child_criminal_exploitation": "Child criminal exploitation (24A)"}


def published_row(year: str, level: str, code_column: str, code: str) -> dict:
    with open(C3_FILE, encoding="utf-8", newline="") as handle:
        return next(r for r in csv.DictReader(handle)
                    if r["time_period"] == year and r["geographic_level"] == level and r[code_column] == code)


def test_markers_are_never_read_as_numbers():
    tidy = tidy_c3()
    hartlepool = tidy[(tidy["la_code"] == "E06000001") & (tidy["time_period"] == "2025")].set_index("factor")
    assert hartlepool.loc["Trafficking", "marker"] == "c" and hartlepool["value"].isna()["Trafficking"]
    assert int(hartlepool.loc["Going_missing", "value"]) == 80
    assert set(tidy["marker"].dropna()) <= {"c", "x", "z", "u", "k"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("bench") / "home"
    shutil.copytree(FIXTURE, home / "inbox" / FIXTURE.name)
    assert execute_audit(dg.DagsterInstance.ephemeral(), home, home / "inbox").success
    return home


def test_benchmark_figures_equal_the_published_c3_values(site):
    page = (site / "site" / "benchmarks.html").read_text(encoding="utf-8")
    section = re.search(r"<caption>Hartlepool: factors at the end of assessment, 2024-25</caption>.*?</table>",
                        page, re.S).group(0)
    la = published_row("2025", "Local authority", "new_la_code", "E06000001")
    region = published_row("2025", "Regional", "region_code", la["region_code"])
    england = published_row("2025", "National", "country_code", "E92000001")
    total = int(la["Episodes_with_assessment_factor"])
    for factor, label in FACTORS.items():
        row = re.search(rf'<th scope="row">{re.escape(label)}</th>(.*?)</tr>', section, re.S).group(1)
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        if la[factor] in {"c", "x", "z", "u", "k"}:
            assert cells[0] == la[factor] and cells[1] == "[x]"
        else:
            assert cells[0] == f"{int(la[factor]):,}"
            assert cells[1] == f"{int(la[factor]) / total * 100:.1f}%"
        assert cells[2] == f"{int(region[factor]) / int(region['Episodes_with_assessment_factor']) * 100:.1f}%"
        assert cells[3] == f"{int(england[factor]) / int(england['Episodes_with_assessment_factor']) * 100:.1f}%"


def test_audit_coverage_sets_the_cohort_against_published_assessments(site):
    con = duckdb.connect(str(site / "warehouse.duckdb"), read_only=True)
    from assets.benchmarks import audit_coverage

    coverage = audit_coverage(con).set_index(["la_code", "time_period"])
    con.close()
    # 2025Q3 (July to September 2025) falls in the DfE year ending March 2026, not yet published.
    row = coverage.loc[("E06000001", "2026")]
    assert row["audit_cases"] == 4 and row["quarters"] == 1
    assert row.isna()["efh_factor_mentions"] and row.isna()["coverage"]  # no 2026 figures yet: shown [x]
    page = (site / "site" / "benchmarks.html").read_text(encoding="utf-8")
    assert re.search(r'<th scope="row">Hartlepool</th><td>2025-26</td><td>1</td><td class="num count">\[c\]</td>'
                     r'<td class="num">\[x\]</td><td class="num">\[c\]</td>', page)  # 4 cases: hidden
