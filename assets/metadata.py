"""What each step reports about the tables it wrote: row counts, previews and column schemas, as
plain values (`Markdown`, `Columns`, numbers, text) that the Dagster wrappers show as asset metadata
and that can be tested without Dagster. Every query is limited to the packs of the step."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from assets.warehouse import PERIOD_SCOPE

PACK_TABLES = ["submissions", "cases", "meetings", "actions", "contexts", "case_contexts", "quarantine"]
SCORE_TABLES = ["case_indicators", "case_domain_scores", "context_indicators", "context_domain_scores",
                "indicator_rates", "pack_scores", "context_networks"]
STATUTORY_TABLES = ["statutory_submissions", "cin_children", "cin_episodes", "cin_assessments", "cin_section47",
                    "cin_cp_plans", "ssda903_missing", "ssda903_children", "statutory_quarantine"]
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


def row_counts(con: duckdb.DuckDBPyConnection, tables: list[str], periods: list[str] | None) -> dict[str, int]:
    """Rows held for the given quarters (None: all) in each table."""
    return {t: con.execute(f"SELECT count(*) FROM {t} WHERE {PERIOD_SCOPE}", [periods]).fetchone()[0] for t in tables}


def outcomes_table(outcomes: list) -> Markdown:
    return markdown_table([(o.source, o.status, o.cases_loaded, o.rows_quarantined, o.rule or "") for o in outcomes],
                          ("pack", "status", "cases loaded", "rows quarantined", "rule"))


def pack_metadata(con: duckdb.DuckDBPyConnection, periods: list[str], outcomes: list) -> dict:
    """The `packs` step over its quarters: what became of the packs, and the rows held."""
    statuses = [o.status for o in outcomes]
    counts = row_counts(con, PACK_TABLES, periods)
    return {"dagster/row_count": counts["cases"], "periods": ", ".join(periods),
            "packs_loaded": statuses.count("loaded"), "packs_rejected": statuses.count("rejected"),
            "packs_unchanged": statuses.count("unchanged"),
            "tables": markdown_table(list(counts.items()), ("warehouse table", "rows for these quarters"))}


def period_pack_metadata(con: duckdb.DuckDBPyConnection, period: str, outcomes: list) -> dict:
    """One quarter's partition of `packs`: each of its packs' outcome, and the rows held for it."""
    mine = [o for o in outcomes if o.period == period]
    counts = row_counts(con, PACK_TABLES, [period])
    by_la = con.execute("SELECT la_code, count(*) FROM cases WHERE period = ? GROUP BY ALL ORDER BY ALL",
                        [period]).fetchall()
    return {"dagster/row_count": counts["cases"], "packs": outcomes_table(mine),
            "packs_loaded": sum(o.status == "loaded" for o in mine),
            "packs_rejected": sum(o.status == "rejected" for o in mine),
            "tables": markdown_table(list(counts.items()), ("warehouse table", f"rows for {period}")),
            "cases_by_la": markdown_table(by_la, ("LA", "cases"))}


def score_metadata(con: duckdb.DuckDBPyConnection, periods: list[str]) -> dict:
    """The `scored_packs` step over its quarters (or one quarter's partition): rows held, pooled
    rates and practice scores."""
    counts = row_counts(con, SCORE_TABLES, periods)
    rates = con.execute(f"""
        SELECT indicator_id, sum(numerator), sum(denominator), round(sum(numerator) / sum(denominator), 3)
        FROM indicator_rates WHERE {PERIOD_SCOPE} GROUP BY ALL ORDER BY ALL""", [periods]).fetchall()
    practice = con.execute(f"""SELECT la_code, period, round(score, 3) FROM pack_scores
                               WHERE domain = 'PRACTICE' AND {PERIOD_SCOPE} ORDER BY ALL LIMIT 20""",
                           [periods]).fetchall()
    return {
        "dagster/row_count": counts["case_indicators"],
        "tables": markdown_table(list(counts.items()), ("warehouse table", "rows for these quarters")),
        "indicator_rates": markdown_table(rates, ("indicator", "met", "applicable", "rate")),
        "practice_scores": markdown_table(practice, ("LA", "period", "practice score")),
    }


def entries_metadata(outcomes: list) -> dict:
    """The `inbox_entries` step: inbox entries that are not a quarter's pack, and what became of them."""
    return {"entries": len(outcomes), "refused": sum(o.status == "rejected" for o in outcomes),
            "outcomes": outcomes_table(outcomes)}


def audit_returns_metadata(con: duckdb.DuckDBPyConnection, outcomes: list) -> dict:
    """The `audit_returns` step: what became of each return looked at (no case_key, no comment)."""
    statuses = [o.status for o in outcomes]
    return {"returns_loaded": statuses.count("loaded"), "returns_rejected": statuses.count("rejected"),
            "returns_unchanged": statuses.count("unchanged"),
            "dagster/row_count": con.execute("SELECT count(*) FROM audit_answers").fetchone()[0],
            "returns": markdown_table([(o.audit_id, o.source_file, o.agency or "", o.status, o.answers, o.quarantined,
                                        o.rule or "") for o in outcomes if o.status != "unchanged"][:50],
                                      ("audit", "file", "agency", "status", "answers", "rows quarantined", "rule"))}


def audit_findings_metadata(con: duckdb.DuckDBPyConnection, audits: list[str]) -> dict:
    """The `audit_findings` step: per audit, the pooled agreement and judgement against data."""
    rows = con.execute("""
        SELECT a.audit_id, round(a.krippendorff_alpha_ordinal, 3), a.cases,
               string_agg(j.domain || ' ' || coalesce(CAST(round(j.spearman_rho, 2) AS VARCHAR), '-'), ', '
                          ORDER BY j.domain)
        FROM audit_agreement a LEFT JOIN audit_judgement_vs_data j USING (audit_id)
        WHERE a.question_id = 'ALL-grade' GROUP BY ALL ORDER BY 1""").fetchall()
    return {"audits": len(audits), "findings": markdown_table(
        [(a, "-" if alpha is None else alpha, cases, rhos or "") for a, alpha, cases, rhos in rows],
        ("audit", "agreement, grades (alpha)", "cases rated by 2+ agencies", "judgement vs data (rho)"))}


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


def benchmark_reference_metadata(con: duckdb.DuckDBPyConnection, rows: dict[str, int]) -> dict:
    """The `dfe_benchmarks` step: rows of each table it loaded, England's child population by year."""
    population = con.execute("""SELECT time_period, population FROM dfe_population WHERE geographic_level = 'National'
                                ORDER BY time_period DESC LIMIT 5""").fetchall()
    return {"dagster/row_count": sum(rows.values()), **{f"{table} rows": count for table, count in rows.items()},
            "preview": markdown_table(population, ("mid-year", "England, children aged 0 to 17"))}
