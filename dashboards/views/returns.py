"""The statutory returns page: the statutory indicators from the CIN census and SSDA903 returns
(every child, not only the audited cohort). The national benchmarks are dashboards/views/benchmarks.py."""

from __future__ import annotations

import pandas as pd

from dashboards.efh_pathway import neighbour_pathway, no_neighbours_text
from dashboards.publication import PARTNERSHIP_CODE, Publication, la_name, partnership_name
from dashboards.statutory_figures import indicator_figure, pathway_figure
from dashboards.views.common import (
    Cell,
    area_cell,
    count,
    file_part,
    interval,
    la_names,
    number,
    page_exports,
    rate,
    text,
)


def year_label(period: str) -> str:
    """CIN and SSDA903 years end 31 March: '2024' is April 2023 to March 2024."""
    return f"{int(period) - 1}-{period[2:]}"


def by_area(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the site's order: LAs in alphabetical order of name, then the partnership."""
    return frame.assign(_name=frame["la_name"].str.casefold()).sort_values(
        ["is_total", "_name", "la_code"], kind="stable").drop(columns="_name")


def statutory_view(pub: Publication) -> dict:
    """Each statutory indicator with published rates, by year and LA, with a chart of the latest
    year; and the EFH pathway."""
    rates = pub.statutory_rates
    if rates is None or rates.empty:
        return {"indicators": None, "pathway": pathway_view(pub), **page_exports(pub, "efh_pathway")}
    indicators, counted = [], {}
    for indicator in pub.statutory_framework.indicators:
        mine = rates[rates["indicator_id"] == indicator.id]
        if mine.empty:
            continue
        # An indicator that counts the same children as one shown above it says so, not the words again.
        same_as = counted.setdefault(indicator.applies_to, indicator.id)
        mine = pd.concat([by_area(year) for _, year in mine.groupby("period", sort=True)])
        latest = mine[mine["period"] == mine["period"].max()]
        rows = []
        for _, row in mine.iterrows():
            cells = [area_cell(row["la_code"], row["la_name"], row["la_code"] in la_names(pub)),
                     text(year_label(row["period"])),
                     count(row["numerator"], row["numerator_suppressed"]),
                     count(row["denominator"], row["denominator_suppressed"]),
                     rate(row["rate"], row["rate_suppressed"]),
                     interval(row["ci_low"], row["ci_high"], row["ci_low_suppressed"])]
            if indicator.value:
                cells.append(number(mean_text(row)))
            rows.append(cells)
        indicators.append({"id": indicator.id, "title": indicator.title, "question": indicator.question,
                           "applies_to": indicator.applies_to, "met_when": indicator.met_when,
                           "value_is": indicator.value_is, "same_as": "" if same_as == indicator.id else same_as,
                           "applicable": indicator.applicable, "met": indicator.met, "value": indicator.value or "",
                           "direction": indicator.direction, "citation": indicator.citation,
                           "has_mean": bool(indicator.value), "rows": rows,
                           "chart_id": f"chart-{file_part(indicator.id)}",
                           "chart_year": year_label(latest["period"].iloc[0]), "figure": indicator_figure(latest)})
    return {"indicators": indicators, "pathway": pathway_view(pub),
            **page_exports(pub, "statutory_rates", "efh_pathway")}


def pathway_view(pub: Publication) -> dict | None:
    """The EFH pathway per census year (latest first): for each LA (by name) and then the
    partnership pool, the flow chart and its table, the LA's shares beside the pool's."""
    pathway = pub.efh_pathway
    if pathway is None or pathway.empty:
        return None
    years = []
    for period in sorted(pathway["period"].unique(), reverse=True):
        mine = pathway[pathway["period"] == period]
        pool = mine[mine["is_total"]].set_index("step")
        areas = []
        for code in by_area(mine.drop_duplicates("la_code"))["la_code"]:
            rows = mine[mine["la_code"] == code].sort_values("position")
            is_total = code == PARTNERSHIP_CODE
            areas.append({
                "name": la_name(code), "is_total": is_total, "chart_id": f"pathway-{period}-{file_part(code) or 'all'}",
                "figure": pathway_figure(rows), "rows": [pathway_cells(row, None if is_total else pool.loc[row["step"]])
                                                         for _, row in rows.iterrows()],
                "neighbours": None if is_total else neighbour_pathway(pathway, code, period, []),
            })
        years.append({"year": year_label(period), "areas": areas})
    return {"years": years, "no_neighbours": no_neighbours_text(), "partnership": partnership_name()}


def pathway_cells(row: pd.Series, pool: pd.Series | None) -> list[Cell]:
    """A stage's row: its children, share of the stage before and interval; then the pool's share."""
    cells = [text(row["label"]), count(row["count"], row["count_suppressed"])]
    for source in (row, pool) if pool is not None else (row,):
        cells += [rate(source["share"], source["share_suppressed"]),
                  interval(source["ci_low"], source["ci_high"], source["share_suppressed"])]
    return cells


def mean_text(row: pd.Series) -> str:
    if row["mean_value_suppressed"]:
        return "[c]"
    return "[z]" if pd.isna(row["mean_value"]) else f"{row['mean_value']:.2f}"
