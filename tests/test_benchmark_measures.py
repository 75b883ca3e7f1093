"""The benchmark measures equal values worked out here by hand from the DfE files shipped in
config/reference/dfe/ (read with csv, not with the project's readers): rates per 10,000 children
with the mid-(Y-1) population, the region's and England's from their own rows, the statistical
neighbours' median over the neighbours with a published rate, and the Poisson funnel limits
against scipy.

The LAs pinned: Hartlepool 2024-25 (one neighbour, Gateshead, has gangs suppressed), North
Lincolnshire 2022-23 (its neighbour Cumberland, 942, has no row before 2024: nine of ten mapped) and
Dorset 2024-25 (its neighbours North Yorkshire and Somerset kept their old codes under new GSS
codes)."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from scipy.stats import poisson

from assets.benchmark_measures import efh_measures
from assets.benchmarks import load_c3, load_reference
from assets.warehouse import SCHEMA_SQL
from dashboards.benchmarks import EXPORT_COLUMNS, benchmarks_export

DFE = Path(__file__).resolve().parents[1] / "config" / "reference" / "dfe"
MARKERS = {"c", "x", "z", "u", "k"}


def read(name: str) -> list[dict]:
    with open(DFE / name, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


C3 = read("c3_factors_identified_at_end_of_assessment_2018_to_2025.csv")
POPULATION = read("ons_mid-year_population_estimates_2012_to_2024.csv")
MODEL = read("sn_model_2025_wide.csv")


def c3_row(year: str, level: str, **codes) -> dict:
    return next(r for r in C3 if r["time_period"] == year and r["geographic_level"] == level
                and all(r[k] == v for k, v in codes.items()))


def children(year: str, level: str, **codes) -> int:
    """The mid-(year - 1) estimate: a DfE year ends 31 March."""
    mid = str(int(year) - 1)
    return int(next(r for r in POPULATION if r["time_period"] == mid and r["geographic_level"] == level
                    and all(r[k] == v for k, v in codes.items()))["population_estimate"])


def by_hand(year: str, la_code: str, factor: str) -> dict:
    la = c3_row(year, "Local authority", new_la_code=la_code)
    region = c3_row(year, "Regional", region_code=la["region_code"])
    england = c3_row(year, "National")
    model = next(r for r in MODEL if r["old_la_code"] == la["old_la_code"])
    mapped, used = 0, []
    for rank in range(1, 11):
        rows = [r for r in C3 if r["time_period"] == year and r["geographic_level"] == "Local authority"
                and r["old_la_code"] == model[f"SN_{rank}"]]
        if not rows:
            continue
        mapped += 1
        if rows[0][factor] not in MARKERS:
            used.append(int(rows[0][factor]) / children(year, "Local authority", new_la_code=rows[0]["new_la_code"])
                        * 10000)
    return {
        "la": int(la[factor]) / children(year, "Local authority", new_la_code=la_code) * 10000,
        "region": int(region[factor]) / children(year, "Regional", region_code=la["region_code"]) * 10000,
        "england": int(england[factor]) / children(year, "National") * 10000,
        "median": statistics.median(used), "used": len(used), "mapped": mapped,
        "la_count": int(la[factor]), "la_children": children(year, "Local authority", new_la_code=la_code),
        "england_count": int(england[factor]), "england_children": children(year, "National")}


@pytest.fixture(scope="module")
def measures():
    con = duckdb.connect()
    con.execute(SCHEMA_SQL)
    load_c3(con)
    load_reference(con)
    yield efh_measures(con)
    con.close()


@pytest.fixture(scope="module")
def export(measures):
    return benchmarks_export(measures)


def exported(export, year: str, level: str, factor: str, **codes) -> dict:
    mask = (export["time_period"] == year) & (export["geographic_level"] == level) & (export["factor"] == factor)
    for column, value in codes.items():
        mask &= export[column] == value
    rows = export[mask]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


CASES = [  # year, LA, factor, neighbours mapped, neighbours with a published rate
    ("2025", "E06000001", "Gangs", 10, 9),  # Gateshead: c
    ("2025", "E06000001", "Going_missing", 10, 10),
    ("2023", "E06000013", "Child_sexual_exploitation", 9, 9),  # Cumberland (942): no 2023 row
    ("2025", "E06000059", "Child_sexual_exploitation", 10, 10),  # North Yorkshire, Somerset: new GSS codes
]


@pytest.mark.parametrize(("year", "la_code", "factor", "mapped", "used"), CASES)
def test_rates_and_neighbour_medians_equal_the_hand_worked_values(export, measures, year, la_code, factor, mapped,
                                                                  used):
    hand = by_hand(year, la_code, factor)
    assert (hand["mapped"], hand["used"]) == (mapped, used)
    la = exported(export, year, "Local authority", factor, new_la_code=la_code)
    assert la["rate_per_10000"] == round(hand["la"], 1)
    assert la["number"] == hand["la_count"] and la["population_0_to_17"] == hand["la_children"]
    region = exported(export, year, "Regional", factor, region_code=la["region_code"])
    assert region["rate_per_10000"] == round(hand["region"], 1)
    assert exported(export, year, "National", factor)["rate_per_10000"] == round(hand["england"], 1)
    median = exported(export, year, "Statistical neighbours (median)", factor, new_la_code=la_code)
    assert median["rate_per_10000"] == round(hand["median"], 1)
    assert median["comparator_count"] == used and median["la_name"] == la["la_name"]
    assert pd.isna(median["number"])
    own = measures[(measures["time_period"] == year) & (measures["la_code"] == la_code) & (measures["factor"] == factor)
                   & (measures["geographic_level"] == "Statistical neighbours (median)")].iloc[0]
    assert own["neighbours_mapped"] == mapped


def test_pinned_values(export):
    """The hand-worked values, written out, so a change in the files or the method shows here."""
    gangs = exported(export, "2025", "Local authority", "Gangs", new_la_code="E06000001")
    assert (gangs["number"], gangs["population_0_to_17"], gangs["rate_per_10000"]) == (20, 21090, 9.5)
    assert exported(export, "2025", "Regional", "Gangs", region_code="E12000001")["rate_per_10000"] == 10.7
    assert exported(export, "2025", "National", "Gangs")["rate_per_10000"] == 7.3
    median = exported(export, "2025", "Statistical neighbours (median)", "Gangs", new_la_code="E06000001")
    assert (median["rate_per_10000"], median["comparator_count"]) == (9.4, 9)
    cse = exported(export, "2023", "Statistical neighbours (median)", "Child_sexual_exploitation",
                   new_la_code="E06000013")
    assert (cse["rate_per_10000"], cse["comparator_count"]) == (12.0, 9)
    dorset = exported(export, "2025", "Statistical neighbours (median)", "Child_sexual_exploitation",
                      new_la_code="E06000059")
    assert dorset["comparator_count"] == 10


def test_suppressed_values_stay_suppressed(export):
    trafficking = exported(export, "2025", "Local authority", "Trafficking", new_la_code="E06000001")
    assert trafficking["status"] == "c"
    # A rate from a suppressed count is not published, nor is its place in the funnel.
    assert pd.isna(trafficking["number"]) and pd.isna(trafficking["rate_per_10000"])
    assert pd.isna(trafficking["funnel_position"])


def test_funnel_limits_against_scipy(measures):
    """Hartlepool's going missing rate against England's: exact Poisson quantiles of the expected
    count, interpolated between whole counts (Spiegelhalter 2005), from scipy directly."""
    hand = by_hand("2025", "E06000001", "Going_missing")
    expected = hand["england_count"] / hand["england_children"] * hand["la_children"]

    def limit(p):
        r = poisson.ppf(p, expected)
        above, below = poisson.cdf(r, expected), poisson.cdf(r - 1, expected)
        return (r - (above - p) / (above - below)) / hand["la_children"] * 10000

    row = measures[(measures["time_period"] == "2025") & (measures["la_code"] == "E06000001")
                   & (measures["factor"] == "Going_missing") & (measures["geographic_level"] == "Local authority")
                   ].iloc[0]
    for level, name in ((0.95, "95"), (0.998, "99_8")):
        tail = (1 - level) / 2
        assert row[f"lower_{name}"] == pytest.approx(limit(tail), rel=1e-12)
        assert row[f"upper_{name}"] == pytest.approx(limit(1 - tail), rel=1e-12)
    assert hand["la"] > limit(1 - 0.001)
    assert row["funnel_position"] == "above"


def test_the_export_layout(export):
    assert list(export.columns) == EXPORT_COLUMNS
    assert str(export["number"].dtype) == "Int64" and str(export["comparator_count"].dtype) == "Int64"
    assert str(export["rate_per_10000"].dtype) == "float64"
    assert set(export["time_identifier"]) == {"Reporting year"}
    assert export["time_period"].str.fullmatch(r"\d{4}").all()
    las = export[export["geographic_level"] == "Local authority"]
    medians = export[export["geographic_level"] == "Statistical neighbours (median)"]
    keys = ["time_period", "new_la_code", "factor"]
    assert sorted(map(tuple, las[keys].to_numpy())) == sorted(map(tuple, medians[keys].to_numpy()))
    assert medians["number"].isna().all() and las["comparator_count"].isna().all()
    assert set(las["funnel_position"].dropna()) == {"above", "below", "inside"}
    assert set(export["status"].dropna()) <= MARKERS
    assert (export["rate_per_10000"].dropna() == export["rate_per_10000"].dropna().round(1)).all()
    # A status means no rate; with a population estimate, it is DfE's marker and there is no number.
    withheld = las[las["status"].notna()]
    assert withheld["rate_per_10000"].isna().all()
    assert withheld.loc[withheld["population_0_to_17"].notna(), "number"].isna().all()
    assert set(withheld.loc[withheld["number"].notna(), "status"]) == {"x"}  # 2018-19 areas ONS has no estimate for
    assert set(export["geographic_level"]) == {"National", "Regional", "Local authority",
                                               "Statistical neighbours (median)"}
