"""The national benchmarks as published: the export frame in the Explore Education Statistics
layout, and how a DfE marker is shown on the site (every value DfE withheld as [c], whatever its
reason, with DfE's own marker and its meaning beside it; config/benchmarks.yaml `markers`).

The benchmarks are published official statistics, so nothing here is suppressed again: a value is
withheld exactly where DfE withheld it."""

from __future__ import annotations

from functools import cache

import pandas as pd

from assets.benchmark_measures import LA_LEVEL, NEIGHBOURS_LEVEL
from assets.benchmarks import benchmark_spec

EXPORT_COLUMNS = ["time_period", "time_identifier", "geographic_level", "country_code", "country_name",
                  "region_code", "region_name", "new_la_code", "old_la_code", "la_name", "factor", "number",
                  "population_0_to_17", "rate_per_10000", "comparator_count", "status", "funnel_position"]


def benchmarks_export(measures: pd.DataFrame, la_codes: list[str] | None = None) -> pd.DataFrame:
    """The C3 extra-familial harm benchmarks, one row per area, year and factor, in this order:
    each year newest first, England, its regions, then each LA followed by its statistical
    neighbours' median. `measures`: Publication.benchmarks (assets/benchmark_measures.py
    efh_measures); `la_codes`: only these LAs (and their neighbour rows), None for every LA.

    Columns (numbers stay typed; a value DfE did not publish is NA, and `status` says why):
    - time_period (str): the 4-digit year of the DfE release, YYYY; the year ends 31 March YYYY.
    - time_identifier (str): 'Reporting year'.
    - geographic_level (str): 'National', 'Regional', 'Local authority', or 'Statistical neighbours
      (median)': the median over an LA's statistical neighbours, carrying that LA's codes and name.
    - country_code, country_name, region_code, region_name, new_la_code (GSS), old_la_code (3-digit),
      la_name (str): as in the DfE table; blank (NA) where the level has none.
    - factor (str): the C3 column name, e.g. Child_sexual_exploitation.
    - number (Int64): assessment episodes with the factor (DfE rounds national and regional figures to
      the nearest 10); NA on neighbour rows and where not published.
    - population_0_to_17 (Int64): ONS mid-year estimate of children aged 0 to 17 for mid-(YYYY-1).
    - rate_per_10000 (float, 1 decimal place): number / population_0_to_17 * 10,000; on neighbour rows
      the median of the neighbours' published rates (the median of unrounded rates, then rounded).
    - comparator_count (Int64): on neighbour rows, the neighbours whose rate is published and used
      (of 10); NA on other rows.
    - status (str): NA when the rate is published; otherwise why it is not: DfE's marker of the number
      (c suppressed, x not available, z not applicable, u low reliability, k fewer than 0.5; number and
      rate NA), or x where the number is published but ONS has no population estimate for the area
      (rate NA), or x on a neighbour row with no neighbour value to take a median of. The exporter
      writes it in place of the NA values.
    - funnel_position (str): on LA rows, the LA's rate against England's funnel for its child
      population at 99.8%: 'above', 'below' or 'inside'; NA where the rate is not published and on
      other rows."""
    rows = measures
    if la_codes is not None:
        rows = rows[~rows["geographic_level"].isin([LA_LEVEL, NEIGHBOURS_LEVEL]) | rows["la_code"].isin(la_codes)]
    out = pd.DataFrame({
        "time_period": rows["time_period"].astype("string"),
        "time_identifier": "Reporting year",
        "geographic_level": rows["geographic_level"].astype("string"),
        **{column: rows[column].astype("string") for column in ("country_code", "country_name", "region_code",
                                                                "region_name")},
        "new_la_code": rows["la_code"].astype("string"),
        "old_la_code": rows["old_la_code"].astype("string"),
        "la_name": rows["la_name"].astype("string"),
        "factor": rows["factor"].astype("string"),
        "number": rows["number"].astype("Int64"),
        "population_0_to_17": rows["population_0_to_17"].astype("Int64"),
        "rate_per_10000": rows["rate"].astype("float64").round(1),
        "comparator_count": rows["comparator_count"].astype("Int64"),
        "status": rows["status"].astype("string"),
        "funnel_position": (rows["funnel_position"] if "funnel_position" in rows
                            else pd.Series(pd.NA, index=rows.index)).astype("string"),
    })
    return out[EXPORT_COLUMNS].reset_index(drop=True)


@cache
def markers() -> dict[str, dict]:
    """DfE's markers: each one's site symbol and meaning (config/benchmarks.yaml)."""
    return benchmark_spec()["markers"]


def marker_symbol(marker: str) -> str:
    """The site's symbol for a value DfE did not publish: [c] for a withheld value, [x], [z]."""
    return markers()[marker]["symbol"]


def marker_words(marker: str) -> str:
    """DfE's own marker and its meaning, as shown beside the site's symbol: 'c: suppressed'."""
    return f"{marker}: {markers()[marker]['words']}"


def marker_legend() -> str:
    """Every DfE marker and its meaning, for the notes under a table."""
    return ", ".join(f"{marker} {spec['words']}" for marker, spec in markers().items())
