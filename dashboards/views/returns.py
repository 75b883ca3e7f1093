"""The statutory returns pages: the statutory indicators from the CIN census and SSDA903 returns
(every child, not only the audited cohort), and the national benchmarks from DfE table C3 with
each LA's audit coverage."""

from __future__ import annotations

import pandas as pd

from assets.benchmarks import benchmark_spec
from dashboards.publication import PARTNERSHIP_CODE, Publication, la_name
from dashboards.views.common import Cell, count, interval, number, page_exports, rate, text


def year_label(period: str) -> str:
    """CIN and SSDA903 years end 31 March: '2024' is April 2023 to March 2024."""
    return f"{int(period) - 1}-{period[2:]}"


def statutory_view(pub: Publication) -> dict:
    """Each statutory indicator with published rates, by LA and year."""
    rates = pub.statutory_rates
    if rates is None or rates.empty:
        return {"indicators": None, **page_exports(pub)}
    indicators = []
    for indicator in pub.statutory_framework.indicators:
        mine = rates[rates["indicator_id"] == indicator.id]
        if mine.empty:
            continue
        rows = []
        for _, row in mine.iterrows():
            cells = [text(row["la_name"]), text(year_label(row["period"])),
                     count(row["numerator"], row["numerator_suppressed"]),
                     count(row["denominator"], row["denominator_suppressed"]),
                     rate(row["rate"], row["rate_suppressed"]),
                     interval(row["ci_low"], row["ci_high"], row["ci_low_suppressed"])]
            if indicator.value:
                cells.append(number(mean_text(row)))
            rows.append(cells)
        indicators.append({"id": indicator.id, "title": indicator.title, "question": indicator.question,
                           "direction": indicator.direction, "citation": indicator.citation,
                           "has_mean": bool(indicator.value), "rows": rows})
    return {"indicators": indicators, **page_exports(pub, "statutory_rates")}


def mean_text(row: pd.Series) -> str:
    if row["mean_value_suppressed"]:
        return "[c]"
    return "[z]" if pd.isna(row["mean_value"]) else f"{row['mean_value']:.2f}"


def benchmarks_view(pub: Publication) -> dict:
    """Each LA's EFH factors at assessment in the latest published year beside its region and
    England, and the audit cohort against the LA's published assessments."""
    bench = pub.benchmarks
    if bench is None or bench.empty:
        return {"year": None, **page_exports(pub)}
    names = benchmark_spec()["efh_factors"]
    latest = bench["time_period"].max()
    las = []
    for code in sorted(bench["la_code"].unique(), key=la_name):
        mine = bench[(bench["la_code"] == code) & (bench["time_period"] == latest)]
        las.append({"name": la_name(code), "rows": [
            [text(names.get(r["factor"], r["factor"])), published_count(r["la_count"], r["la_marker"]),
             share(r["la_share"]), share(r["region_share"]), share(r["england_share"])]
            for _, r in mine.sort_values("factor").iterrows()]})
    coverage = pub.coverage
    rows = None
    if coverage is not None and not coverage.empty:
        rows = [[text(r["la_name"]), text(year_label(r["time_period"])), text(str(r["quarters"])),
                 count(r["audit_cases"], r["audit_cases_suppressed"]), published_count(r["efh_factor_mentions"], None),
                 number("[c]" if r["coverage_suppressed"] else ("[x]" if pd.isna(r["coverage"])
                                                                else f"{r['coverage'] * 100:.1f}%"))]
                for _, r in coverage.iterrows() if r["la_code"] != PARTNERSHIP_CODE]
    return {"year": year_label(latest), "las": las, "coverage": rows,
            **page_exports(pub, "benchmarks", "audit_coverage")}


def published_count(value, marker) -> Cell:
    """A figure DfE published: its own marker where it published one."""
    if marker is not None and not pd.isna(marker):
        return number(str(marker))
    return number("[x]" if pd.isna(value) else f"{int(value):,}")


def share(value) -> Cell:
    return number("[x]" if pd.isna(value) else f"{value * 100:.1f}%")
