"""National benchmarks from the DfE table C3 ("Characteristics of children in need": factors
identified at the end of assessment), shipped in config/reference/dfe/ with its licence.

The table is loaded tidy into `dfe_c3`: one row per year, area and factor, with DfE's markers
(c suppressed, x not available, z not applicable, u low reliability, k fewer than 0.5) kept in
`marker` and the value left empty, never read as a number. Years end 31 March: '2025' is April
2024 to March 2025."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from assets.config import CONFIG_DIR, load_yaml
from assets.warehouse import transaction

C3_FILE = CONFIG_DIR / "reference" / "dfe" / "c3_factors_identified_at_end_of_assessment_2018_to_2025.csv"
ID_COLUMNS = ["time_period", "geographic_level", "region_code", "region_name", "new_la_code", "la_name"]
MARKERS = {"c", "x", "z", "u", "k"}


def benchmark_spec() -> dict:
    return load_yaml("benchmarks.yaml")


def tidy_c3(path: Path = C3_FILE) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    factors = [c for c in raw.columns[raw.columns.get_loc("category") + 1:]]
    tidy = raw.melt(id_vars=ID_COLUMNS, value_vars=factors, var_name="factor", value_name="text")
    text = tidy.pop("text").str.strip()
    numeric = pd.to_numeric(text.where(~text.str.lower().isin(MARKERS)), errors="coerce")
    tidy["value"] = numeric.astype("Int64")
    tidy["marker"] = text.where(numeric.isna() & (text != ""), None)
    return tidy.rename(columns={"new_la_code": "la_code"})


def load_c3(con: duckdb.DuckDBPyConnection, path: Path = C3_FILE) -> int:
    """Replace dfe_c3 with the shipped table; returns its rows."""
    frame = tidy_c3(path)
    with transaction(con):
        con.execute("DELETE FROM dfe_c3")
        con.register("incoming", frame)
        con.execute("INSERT INTO dfe_c3 BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
    return len(frame)


def benchmarks(con: duckdb.DuckDBPyConnection, la_codes: list[str]) -> pd.DataFrame:
    """For each LA: every extra-familial harm factor's count and share of assessments with any
    factor, for the LA, its region and England, in each published year."""
    spec = benchmark_spec()
    factors = list(spec["efh_factors"])
    return con.execute("""
        WITH base AS (
            SELECT time_period, geographic_level, region_code, la_code, factor, value, marker
            FROM dfe_c3 WHERE factor IN (SELECT unnest($factors)) OR factor = $total
        ), shares AS (
            SELECT b.*, b.value / t.value AS share
            FROM base b JOIN base t ON t.time_period = b.time_period AND t.geographic_level = b.geographic_level
                 AND coalesce(t.region_code, '') = coalesce(b.region_code, '')
                 AND coalesce(t.la_code, '') = coalesce(b.la_code, '') AND t.factor = $total
            WHERE b.factor <> $total
        ), areas AS (
            SELECT DISTINCT la_code, region_code FROM dfe_c3
            WHERE geographic_level = 'Local authority' AND la_code IN (SELECT unnest($las))
        )
        SELECT a.la_code, l.time_period, l.factor,
               l.value AS la_count, l.marker AS la_marker, l.share AS la_share,
               r.value AS region_count, r.share AS region_share,
               n.value AS england_count, n.share AS england_share
        FROM areas a
        JOIN shares l ON l.geographic_level = 'Local authority' AND l.la_code = a.la_code
        LEFT JOIN shares r ON r.geographic_level = 'Regional' AND r.region_code = a.region_code
             AND r.time_period = l.time_period AND r.factor = l.factor
        LEFT JOIN shares n ON n.geographic_level = 'National' AND n.time_period = l.time_period
             AND n.factor = l.factor
        ORDER BY a.la_code, l.time_period, l.factor""",
        {"factors": factors, "total": spec["assessments_with_any_factor"], "las": la_codes}).df()


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
