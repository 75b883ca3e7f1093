"""The statutory returns page: the statutory indicators from the CIN census and SSDA903 returns
(every child, not only the audited cohort). The national benchmarks are dashboards/views/benchmarks.py."""

from __future__ import annotations

import pandas as pd

from dashboards.publication import Publication
from dashboards.views.common import count, interval, number, page_exports, rate, text


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
