"""National benchmarks from DfE tables shipped in config/reference/dfe/ with their licence
(config/reference/README.md): C3 ("Characteristics of children in need": factors identified at the
end of assessment), the ONS child population, DfE's statistical neighbour model, and child
protection plans (D3, D5).

Each table is loaded tidy: C3 into `dfe_c3` (one row per year, area and factor) and D3 / D5 into
`dfe_cp_plans` (one row per year, area and measure), with DfE's markers (c suppressed, x not
available, z not applicable, u low reliability, k fewer than 0.5) kept in `marker` and the value
left empty, never read as a number; the population into `dfe_population`, the neighbours into
`dfe_neighbours`. Years end 31 March: '2025' is April 2024 to March 2025."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from assets.config import CONFIG_DIR, load_yaml
from assets.warehouse import transaction

DFE_DIR = CONFIG_DIR / "reference" / "dfe"
C3_FILE = DFE_DIR / "c3_factors_identified_at_end_of_assessment_2018_to_2025.csv"
POPULATION_FILE = DFE_DIR / "ons_mid-year_population_estimates_2012_to_2024.csv"
NEIGHBOURS_FILE = DFE_DIR / "sn_model_2025_wide.csv"
CP_PLAN_FILES = (DFE_DIR / "d3_cpps_subsequent_plan_2013_to_2025.csv",
                 DFE_DIR / "d5_cpps_at31march_by_duration_2013_to_2025.csv")
ID_COLUMNS = ["time_period", "geographic_level", "country_code", "country_name", "region_code", "region_name",
              "old_la_code", "new_la_code", "la_name"]
MARKERS = {"c", "x", "z", "u", "k"}
REFERENCE_TABLES = ["dfe_population", "dfe_neighbours", "dfe_cp_plans"]


@cache
def benchmark_spec() -> dict:
    """config/benchmarks.yaml, read once."""
    return load_yaml("benchmarks.yaml")


def read_dfe(path: Path) -> pd.DataFrame:
    """A DfE tidy CSV as text, blanks as empty strings (names such as 'Bristol, City of' are quoted)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def split_markers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Published text as (number, marker): a marker is never read as a number."""
    text = text.str.strip()
    numeric = pd.to_numeric(text.where(~text.str.lower().isin(MARKERS)), errors="coerce")
    return numeric.astype("Int64"), text.where(numeric.isna() & (text != ""), None)


def tidy_dfe(raw: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """Wide DfE rows to one row per year, area and `name` (a factor or measure), as value / marker."""
    tidy = raw.melt(id_vars=ID_COLUMNS, value_vars=columns, var_name=name, value_name="text")
    tidy["value"], tidy["marker"] = split_markers(tidy.pop("text"))
    return blanks_as_null(tidy.rename(columns={"new_la_code": "la_code"}))


def blanks_as_null(frame: pd.DataFrame) -> pd.DataFrame:
    """DfE writes a missing code or name as an empty string; the warehouse holds NULL."""
    for column in ("region_code", "region_name", "old_la_code", "la_code", "la_name"):
        if column in frame:
            frame[column] = frame[column].replace("", None)
    return frame


def tidy_c3(path: Path = C3_FILE) -> pd.DataFrame:
    raw = read_dfe(path)
    return tidy_dfe(raw, list(raw.columns[raw.columns.get_loc("category") + 1:]), "factor")


def tidy_cp_plans(paths: tuple[Path, ...] = CP_PLAN_FILES) -> pd.DataFrame:
    """The counts of D3 and D5 named in config/benchmarks.yaml `cp_plans` (their percentages are
    worked out again from the counts, never read)."""
    measures = list(benchmark_spec()["cp_plans"])
    frames = []
    for path in paths:
        raw = read_dfe(path)
        frames.append(tidy_dfe(raw, [m for m in measures if m in raw.columns], "measure"))
    return pd.concat(frames, ignore_index=True)


def tidy_population(path: Path = POPULATION_FILE) -> pd.DataFrame:
    raw = read_dfe(path)
    frame = blanks_as_null(raw[ID_COLUMNS].rename(columns={"new_la_code": "la_code"}))
    frame["population"], frame["marker"] = split_markers(raw["population_estimate"])
    return frame


def tidy_neighbours(path: Path = NEIGHBOURS_FILE) -> pd.DataFrame:
    """One row per LA and neighbour (rank 1 the nearest), by old codes; closeness bands trimmed
    (the model writes some with a trailing space)."""
    raw = read_dfe(path)
    ranks = range(1, benchmark_spec()["neighbours_per_la"] + 1)
    return pd.DataFrame([
        {"old_la_code": row["old_la_code"].strip(), "la_name": row["la_name"].strip(), "rank": rank,
         "neighbour_old_la_code": row[f"SN_{rank}"].strip(), "closeness": row[f"SN_{rank}P"].strip()}
        for row in raw.to_dict("records") for rank in ranks if row[f"SN_{rank}"].strip()])


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute(f"DELETE FROM {table}")
    con.register("incoming", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
    con.unregister("incoming")


def load_c3(con: duckdb.DuckDBPyConnection, path: Path = C3_FILE) -> int:
    """Replace dfe_c3 with the shipped table; returns its rows."""
    frame = tidy_c3(path)
    with transaction(con):
        replace_table(con, "dfe_c3", frame)
    return len(frame)


def load_reference(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Replace the population, neighbour and child protection plan tables with the shipped files;
    returns each table's rows."""
    frames = {"dfe_population": tidy_population(), "dfe_neighbours": tidy_neighbours(),
              "dfe_cp_plans": tidy_cp_plans()}
    with transaction(con):
        for table, frame in frames.items():
            replace_table(con, table, frame)
    return {table: len(frame) for table, frame in frames.items()}


def audit_coverage(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per LA and C3 year: the audit cohort (distinct cases in the packs of the quarters inside that
    year, April to March) against the LA's published assessments with an EFH factor (the sum of the
    factors in config/benchmarks.yaml `coverage_factors`, a count of factor mentions, not children)."""
    spec = benchmark_spec()
    return con.execute("""
        WITH cohort AS (
            SELECT la_code,
                   CAST(CAST(left(period, 4) AS INTEGER) + (right(period, 1) <> '1')::INTEGER AS VARCHAR)
                       AS time_period,
                   count(DISTINCT case_key) AS audit_cases,
                   count(DISTINCT period) AS quarters
            FROM cases GROUP BY ALL
        ), published AS (
            SELECT la_code, time_period, sum(value) AS efh_factor_mentions, count(marker) AS markers
            FROM dfe_c3 WHERE geographic_level = 'Local authority' AND factor IN (SELECT unnest($factors))
            GROUP BY ALL
        )
        SELECT c.la_code, c.time_period, c.quarters, c.audit_cases, p.efh_factor_mentions, p.markers,
               c.audit_cases / p.efh_factor_mentions AS coverage
        FROM cohort c LEFT JOIN published p USING (la_code, time_period)
        ORDER BY ALL""", {"factors": list(spec["coverage_factors"])}).df()
