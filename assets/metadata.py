"""What each step reports about the tables it wrote: row counts, previews and column schemas, as
plain values (`Markdown`, `Columns`, numbers, text) that the Dagster wrappers show as asset metadata
and that can be tested without Dagster. Every query is limited to the packs of the step."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from assets.warehouse import PACK_SCOPE

PACK_TABLES = ["submissions", "cases", "meetings", "actions", "quarantine"]
SCORE_TABLES = ["case_indicators", "case_domain_scores", "indicator_rates", "pack_scores"]
STATUTORY_TABLES = ["statutory_submissions", "cin_children", "cin_episodes", "cin_assessments", "cin_cp_plans",
                    "ssda903_missing", "ssda903_children", "statutory_quarantine"]
STATUTORY_SCORE_TABLES = ["statutory_child_indicators", "statutory_rates"]


@dataclass(frozen=True)
class Markdown:
    text: str


@dataclass(frozen=True)
class Columns:
    """A table's column names and types."""

    columns: tuple[tuple[str, str], ...]


def markdown_table(rows: list[tuple], header: tuple) -> Markdown:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def columns_of(con: duckdb.DuckDBPyConnection, table: str) -> Columns:
    return Columns(tuple((name, kind) for name, kind, *_ in con.execute(f"DESCRIBE {table}").fetchall()))


def row_counts(con: duckdb.DuckDBPyConnection, tables: list[str], keys: list[str] | None) -> dict[str, int]:
    """Rows held for the given packs (`LA|period` keys; None: all) in each table."""
    return {t: con.execute(f"SELECT count(*) FROM {t} WHERE {PACK_SCOPE}", [keys]).fetchone()[0] for t in tables}


def pack_metadata(con: duckdb.DuckDBPyConnection, keys: list[str], outcomes: list) -> dict:
    """The `packs` step: rows held for its packs, what became of each pack, cases per pack."""
    counts = row_counts(con, PACK_TABLES, keys)
    by_pack = con.execute(f"""SELECT la_code, period, count(*) FROM cases WHERE {PACK_SCOPE}
                              GROUP BY ALL ORDER BY ALL LIMIT 20""", [keys]).fetchall()
    statuses = [o.status for o in outcomes]
    return {
        "dagster/row_count": counts["cases"],
        "tables": markdown_table(list(counts.items()), ("warehouse table", "rows for this run's packs")),
        "packs_loaded": statuses.count("loaded"), "packs_rejected": statuses.count("rejected"),
        "packs_unchanged": statuses.count("unchanged"),
        "submissions": markdown_table([(o.source, o.status, o.cases_loaded, o.rows_quarantined, o.rule or "")
                                       for o in outcomes[:20]],
                                      ("pack", "status", "cases loaded", "rows quarantined", "rule")),
        "cases_by_pack": markdown_table(by_pack, ("LA", "period", "rows")),
    }


def score_metadata(con: duckdb.DuckDBPyConnection, keys: list[str]) -> dict:
    """The `scored_packs` step: rows held, pooled rates and practice scores of its packs."""
    counts = row_counts(con, SCORE_TABLES, keys)
    rates = con.execute(f"""
        SELECT indicator_id, sum(numerator), sum(denominator), round(sum(numerator) / sum(denominator), 3)
        FROM indicator_rates WHERE {PACK_SCOPE} GROUP BY ALL ORDER BY ALL""", [keys]).fetchall()
    practice = con.execute(f"""SELECT la_code, period, round(score, 3) FROM pack_scores
                               WHERE domain = 'PRACTICE' AND {PACK_SCOPE} ORDER BY ALL LIMIT 20""", [keys]).fetchall()
    return {
        "dagster/row_count": counts["case_indicators"],
        "tables": markdown_table(list(counts.items()), ("warehouse table", "rows for this run's packs")),
        "indicator_rates": markdown_table(rates, ("indicator", "met", "applicable", "rate")),
        "practice_scores": markdown_table(practice, ("LA", "period", "practice score")),
    }


def statutory_metadata(con: duckdb.DuckDBPyConnection, outcomes: list) -> dict[str, dict]:
    """The `statutory_returns` step, per table it writes."""
    preview = markdown_table([(o.source, o.kind, o.la_code or "", o.period or "", o.status, o.rows_quarantined)
                              for o in outcomes[:50]], ("file", "kind", "LA", "year", "status", "quarantined"))
    return {table: {"dagster/row_count": con.execute(f"SELECT count(*) FROM {table}").fetchone()[0],
                    "dagster/column_schema": columns_of(con, table), "preview": preview}
            for table in STATUTORY_TABLES}


def statutory_score_metadata(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """The `statutory_scoring` step, per table it writes."""
    rates = con.execute("""SELECT indicator_id, sum(numerator), sum(denominator) FROM statutory_rates
                           GROUP BY ALL ORDER BY ALL""").fetchall()
    preview = markdown_table(rates, ("indicator", "met", "applicable"))
    return {table: {"dagster/row_count": con.execute(f"SELECT count(*) FROM {table}").fetchone()[0],
                    "dagster/column_schema": columns_of(con, table), "preview": preview}
            for table in STATUTORY_SCORE_TABLES}


def benchmark_metadata(con: duckdb.DuckDBPyConnection, rows: int) -> dict:
    """The `dfe_c3` step: the table and England's latest figures."""
    latest = con.execute("""SELECT factor, value FROM dfe_c3 WHERE geographic_level = 'National'
                            AND time_period = (SELECT max(time_period) FROM dfe_c3) ORDER BY factor
                            LIMIT 12""").fetchall()
    return {"dagster/row_count": rows, "dagster/column_schema": columns_of(con, "dfe_c3"),
            "preview": markdown_table(latest, ("factor", "England"))}
