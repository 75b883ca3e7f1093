"""National benchmarks: markers are kept as markers, and audit coverage is computed from the packs.
The measures themselves are pinned against the DfE files in tests/test_benchmark_measures.py."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.benchmarks import tidy_c3
from pipelines.run import execute_audit

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"


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
    assert re.search(r'<th scope="row"><a href="la-E06000001.html">Hartlepool</a></th><td>2025-26</td><td>1</td>'
                     r'<td class="num count">\[c\]</td>'
                     r'<td class="num">\[x\]</td><td class="num">\[c\]</td>', page)  # 4 cases: hidden


def test_the_la_page_names_its_neighbours_with_closeness_and_shows_c_for_suppressed(site):
    index = (site / "site" / "benchmarks.html").read_text(encoding="utf-8")
    assert '<a href="benchmarks-E06000001.html">Hartlepool</a>' in index
    page = (site / "site" / "benchmarks-E06000001.html").read_text(encoding="utf-8")
    neighbours = re.search(r"<caption>Hartlepool&#39;s statistical neighbours.*?</table>", page, re.S).group(0)
    # DfE's model: Redcar and Cleveland is Hartlepool's nearest, "Very close"; Gateshead's gangs are c.
    assert re.search(r'<th scope="row">Redcar and Cleveland</th><td>1</td><td>Very close</td>', neighbours)
    gateshead = re.search(r'<th scope="row">Gateshead</th>(.*?)</tr>', neighbours).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", gateshead)[2:][3] == "[c]" and "c: suppressed" in gateshead
    factors = re.search(r"<caption>Hartlepool: factors at the end of assessment.*?</table>", page, re.S).group(0)
    trafficking = re.findall(r"<td[^>]*>([^<]*)</td>",
                             re.search(r'<th scope="row">Trafficking \(12A\)</th>(.*?)</tr>', factors).group(1))
    assert trafficking[:2] == ["[c]", "[c]"] and trafficking[-1] == "c: suppressed"
    gangs = re.findall(r"<td[^>]*>([^<]*)</td>",
                       re.search(r'<th scope="row">Gangs \(13A\)</th>(.*?)</tr>', factors).group(1))
    assert gangs[:2] == ["20", "9.5"] and gangs[6] == "9.4 (9 of 10)"
    # DfE's bare markers never reach a cell: every withheld value is a bracketed symbol.
    assert not re.search(r"<td[^>]*>[cxzuk]</td>", page)
    assert "Year ending 31 March" not in page or "2024-25: the year ending 31 March 2025." in page
    assert "ONS mid-2024" in page  # the population year, on the chart and in the sources


def test_a_neighbour_with_no_code_that_year_is_left_out_and_the_page_says_so(site):
    import dataclasses

    from dashboards.pages import benchmarks_la_page
    from dashboards.publication import build_publication

    con = duckdb.connect(str(site / "warehouse.duckdb"), read_only=True)
    publication = build_publication(con)
    con.close()
    # As published for 2022-23, before Cumberland (942) had a row of its own.
    until_2023 = dataclasses.replace(
        publication, benchmarks=publication.benchmarks[publication.benchmarks["time_period"] <= "2023"],
        cp_plans=publication.cp_plans[publication.cp_plans["time_period"] <= "2023"])
    page = benchmarks_la_page(until_2023, "E06000013").body
    assert "9 of 10 neighbours have figures for 2022-23: Cumberland has no row in that year" in " ".join(page.split())
    assert re.search(r'<th scope="row">Cumberland</th><td>\d+</td><td>[A-Za-z ]+</td>(<td class="num">\[x\]</td>)+',
                     page)
