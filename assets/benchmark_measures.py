"""Benchmark measures from the DfE tables in the warehouse (assets/benchmarks.py loads them): for
every area (England, its regions, each LA) and year, each extra-familial harm factor of table C3 as
a count and a rate per 10,000 children aged 0 to 17; for each LA, the median rate of its statistical
neighbours and where its rate sits in a funnel around England's. The child protection plan
measures of tables D3 and D5 are worked out the same way.

Rules (docs/benchmarks.md says why):
- The region's and England's figures are the table's own regional and national rows (rounded by
  DfE to the nearest 10), never sums of LA rows.
- A DfE year ends 31 March Y; its denominator is the ONS mid-(Y-1) estimate
  (config/benchmarks.yaml `population_year_offset`).
- A value DfE did not publish as a number keeps its marker in `status` (c, x, z, u, k) and has no
  number and no rate; a rate without a population estimate has status x.
- Neighbours: the model lists each LA's ten by 3-digit old code. In each year a neighbour is the LA
  row of that year's table with that old code; a code with none (an authority formed later, such as
  Cumberland, 942, before 2024) is left out, and `neighbours_mapped` says how many remain. The
  median is over the mapped neighbours whose rate is published; `comparator_count` says how many.
- Funnel: the LA's count against a Poisson distribution with mean England's rate times the LA's
  child population (assets/statistics.py poisson_funnel_limits), at the levels of
  config/benchmarks.yaml `funnel_levels`; beyond the widest it is flagged above or below."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from assets.benchmarks import benchmark_spec
from assets.statistics import poisson_funnel_limits

LA_LEVEL, REGION_LEVEL, NATIONAL_LEVEL = "Local authority", "Regional", "National"
NEIGHBOURS_LEVEL = "Statistical neighbours (median)"
SUBSEQUENT_SHARE = "CPP_subsequent_share"  # second or subsequent plans as a % of plans started

AREA_SQL = """
    SELECT f.time_period, f.geographic_level, f.country_code, f.country_name, f.region_code, f.region_name,
           f.old_la_code, f.la_code, f.la_name, f.{name} AS measure, f.value AS number, f.marker,
           p.time_period AS population_year, p.population AS population_0_to_17
    FROM {table} f
    LEFT JOIN dfe_population p
      ON p.time_period = CAST(CAST(f.time_period AS INTEGER) + $offset AS VARCHAR)
     AND p.geographic_level = f.geographic_level
     AND coalesce(p.la_code, p.region_code, p.country_code) = coalesce(f.la_code, f.region_code, f.country_code)
    WHERE f.{name} IN (SELECT unnest($measures))"""


def limit_column(side: str, level: float) -> str:
    """The column of a funnel limit: lower_95, upper_99_8 (rates per 10,000)."""
    return f"{side}_{100 * level:g}".replace(".", "_")


def area_rates(con: duckdb.DuckDBPyConnection, table: str, name: str, measures: list[str]) -> pd.DataFrame:
    """Every area's published value of each measure with its population and rate per 10,000."""
    spec = benchmark_spec()
    rows = con.execute(AREA_SQL.format(table=table, name=name),
                       {"offset": int(spec["population_year_offset"]), "measures": measures}).df()
    rows["number"] = rows["number"].astype("Int64")
    rows["population_0_to_17"] = rows["population_0_to_17"].astype("Int64")
    rows["status"] = rows["marker"].where(rows["marker"].notna(),
                                          np.where(rows["population_0_to_17"].isna(), "x", None))
    rows["rate"] = (rows["number"].astype("Float64") / rows["population_0_to_17"].astype("Float64")
                    * spec["rate_per"]).astype("float64")
    rows.loc[rows["status"].notna(), "rate"] = np.nan
    return rows.drop(columns=["marker"])


def neighbour_medians(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> pd.DataFrame:
    """For each LA row, the median rate over its neighbours that year: one row per LA, year and
    measure at level NEIGHBOURS_LEVEL, with the neighbours used and mapped."""
    neighbours = con.execute("SELECT old_la_code, neighbour_old_la_code FROM dfe_neighbours").df()
    las = rows[rows["geographic_level"] == LA_LEVEL]
    pairs = las[["time_period", "measure", "old_la_code", "la_code"]].merge(neighbours, on="old_la_code", how="left")
    theirs = las[["time_period", "measure", "old_la_code", "rate"]].rename(
        columns={"old_la_code": "neighbour_old_la_code"}).assign(mapped=True)
    pairs = pairs.merge(theirs, on=["time_period", "measure", "neighbour_old_la_code"], how="left")
    pairs["mapped"] = pairs["mapped"].fillna(False).astype(bool)
    grouped = pairs.groupby(["time_period", "measure", "la_code"], sort=False)
    summary = pd.DataFrame({"rate": grouped["rate"].median(), "comparator_count": grouped["rate"].count(),
                            "neighbours_mapped": grouped["mapped"].sum()}).reset_index()
    medians = las.drop(columns=["rate", "number", "population_0_to_17", "population_year", "status"]).merge(
        summary, on=["time_period", "measure", "la_code"], how="left")
    medians["geographic_level"] = NEIGHBOURS_LEVEL
    medians["status"] = np.where(medians["comparator_count"] > 0, None, "x")
    for column in ("comparator_count", "neighbours_mapped"):
        medians[column] = medians[column].fillna(0).astype("Int64")
    return medians


def funnel_positions(rows: pd.DataFrame) -> pd.DataFrame:
    """Each LA row's funnel limits around England's rate for its child population (rates per
    10,000) and its position: above, below or inside the widest limits; `outside_narrow` where it
    is beyond the narrowest."""
    spec = benchmark_spec()
    levels = sorted(float(level) for level in spec["funnel_levels"])
    per = spec["rate_per"]
    england = rows[rows["geographic_level"] == NATIONAL_LEVEL].set_index(["time_period", "measure"])["rate"]
    target = pd.Series(list(zip(rows["time_period"], rows["measure"], strict=True)), index=rows.index).map(
        england.to_dict()) / per
    usable = (rows["geographic_level"] == LA_LEVEL) & rows["rate"].notna() & target.notna()
    rows["funnel_position"] = None
    rows["outside_narrow"] = pd.Series(pd.NA, index=rows.index, dtype="boolean")
    population = rows.loc[usable, "population_0_to_17"].to_numpy(dtype=float)
    rate = rows.loc[usable, "rate"].to_numpy(dtype=float) / per
    for level in levels:
        low, high = poisson_funnel_limits(target[usable].to_numpy(dtype=float), population, level)
        rows[limit_column("lower", level)] = np.nan
        rows[limit_column("upper", level)] = np.nan
        rows.loc[usable, limit_column("lower", level)] = low * per
        rows.loc[usable, limit_column("upper", level)] = high * per
        if level == levels[0]:
            rows.loc[usable, "outside_narrow"] = (rate < low) | (rate > high)
        if level == levels[-1]:
            rows.loc[usable, "funnel_position"] = np.where(rate > high, "above", np.where(rate < low, "below",
                                                                                         "inside"))
    return rows


def efh_measures(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The C3 extra-familial harm factors (config/benchmarks.yaml `efh_factors`) for every area and
    year, with neighbour medians and funnel positions. Columns: the DfE geography
    (time_period ... la_name, la_code the GSS code), factor, number, population_0_to_17,
    population_year, rate (per 10,000), status (DfE's marker, or x; None when published),
    comparator_count and neighbours_mapped (neighbour rows), the funnel limits
    (lower_95 ... upper_99_8), funnel_position and outside_narrow (LA rows)."""
    rows = area_rates(con, "dfe_c3", "factor", list(benchmark_spec()["efh_factors"]))
    return ordered(funnel_positions(with_medians(con, rows))).rename(columns={"measure": "factor"})


def cp_plan_measures(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Child protection plans started and at 31 March per 10,000 children, second or subsequent
    plans, and those as a share (%) of plans started (measure SUBSEQUENT_SHARE, its `rate` a
    percentage, no population), for every area and year, with neighbour medians."""
    rows = area_rates(con, "dfe_cp_plans", "measure", list(benchmark_spec()["cp_plans"]))
    return ordered(with_medians(con, pd.concat([rows, subsequent_shares(rows)], ignore_index=True)))


def subsequent_shares(rows: pd.DataFrame) -> pd.DataFrame:
    """Second or subsequent plans as a % of plans started, from the two published counts; withheld
    (with the first marker met) where either is."""
    keys = ["time_period", "geographic_level", "region_code", "la_code"]
    started = rows[rows["measure"] == "CPP_start"]
    later = rows[rows["measure"] == "CPP_subsequent"][[*keys, "number", "status"]]
    share = started.merge(later, on=keys, how="inner", suffixes=("_start", ""))
    share["status"] = share["status_start"].where(share["status_start"].notna(), share["status"])
    share.loc[share["status"].isna() & (share["number_start"] == 0), "status"] = "z"
    share["rate"] = (100 * share["number"].astype("Float64") / share["number_start"].astype("Float64")).astype(
        "float64")
    share.loc[share["status"].notna(), "rate"] = np.nan
    share["number"] = pd.Series(pd.NA, index=share.index, dtype="Int64")
    share["population_0_to_17"] = pd.Series(pd.NA, index=share.index, dtype="Int64")
    share["population_year"] = None
    return share.drop(columns=["number_start", "status_start"]).assign(measure=SUBSEQUENT_SHARE)


def with_medians(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> pd.DataFrame:
    medians = neighbour_medians(con, rows)
    rows = rows.assign(comparator_count=pd.Series(pd.NA, index=rows.index, dtype="Int64"),
                       neighbours_mapped=pd.Series(pd.NA, index=rows.index, dtype="Int64"))
    return pd.concat([rows, medians], ignore_index=True)


LEVEL_ORDER = {NATIONAL_LEVEL: 0, REGION_LEVEL: 1, LA_LEVEL: 2, NEIGHBOURS_LEVEL: 3}


def ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """Newest year first; England, regions, then each LA followed by its neighbours' median."""
    order = rows["geographic_level"].map(LEVEL_ORDER)
    return (rows.assign(level_order=order.where(order < 2, 2), sub_order=order)
            .sort_values(["time_period", "level_order", "region_code", "la_code", "sub_order", "measure"],
                         ascending=[False, True, True, True, True, True], na_position="first", ignore_index=True)
            .drop(columns=["level_order", "sub_order"]))
