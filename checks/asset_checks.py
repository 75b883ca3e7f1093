"""The asset checks' verdicts, as plain functions over the warehouse: each returns a CheckOutcome
(passed, what it saw) that the Dagster wrappers turn into an AssetCheckResult, and that can be
tested without Dagster. Metadata values are plain (assets.metadata's Markdown, numbers, text,
and lists or dicts shown as JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from assets.config import load_yaml
from assets.metadata import markdown_table
from assets.warehouse import PERIOD_SCOPE
from checks import reconciliation
from checks.expectations import validate_loaded


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    metadata: dict = field(default_factory=dict)
    description: str | None = None


def pack_checks(con: duckdb.DuckDBPyConnection, periods: list[str], outcomes: list) -> list[CheckOutcome]:
    """rows_reconcile, quarantine_share and contract_expectations for the quarters of one step."""
    loaded = [(o.la_code, o.period) for o in outcomes if o.status == "loaded"]
    return [rows_reconcile(con, periods), quarantine_share(con, periods), contract_expectations(con, loaded)]


def rows_reconcile(con: duckdb.DuckDBPyConnection, periods: list[str]) -> CheckOutcome:
    unreconciled = reconciliation.unreconciled_packs(con, periods)
    return CheckOutcome("rows_reconcile", not unreconciled, {
        "unreconciled_packs": len(unreconciled),
        "packs": ", ".join(f"{la} {p}" for la, p, *_ in unreconciled[:20])})


def quarantine_share(con: duckdb.DuckDBPyConnection, periods: list[str]) -> CheckOutcome:
    """No loaded pack of the step's quarters is over config/checks.yaml's share (ingest holds such
    a pack back)."""
    max_share = float(load_yaml("checks.yaml")["max_quarantined_share"])
    loaded = con.execute(f"SELECT la_code, period FROM submissions WHERE status = 'loaded' AND {PERIOD_SCOPE}",
                         [periods]).fetchall()
    heavy = reconciliation.heavily_quarantined_packs(con, loaded, max_share)
    rules = con.execute(f"""SELECT rule, count(*) FROM quarantine WHERE {PERIOD_SCOPE}
                            GROUP BY ALL ORDER BY 2 DESC, 1""", [periods]).fetchall()
    sample = con.execute(f"""SELECT la_code, period, table_name, list(row_number ORDER BY row_number)[:10]
                             FROM quarantine WHERE {PERIOD_SCOPE} GROUP BY ALL ORDER BY ALL LIMIT 20""",
                         [periods]).fetchall()
    return CheckOutcome(
        "quarantine_share", not heavy, {
            "max_share": max_share,
            "packs_over": ", ".join(f"{la} {p} ({share:.0%})" for la, p, share in heavy[:20]) or "none",
            "failing_rules": markdown_table(rules, ("rule", "rows")),
            "sample_row_numbers": {f"{la} {p} {t}": rows for la, p, t, rows in sample}},
        None if not heavy else "Packs losing most of their rows: check the layout or mapping profile.")


def contract_expectations(con: duckdb.DuckDBPyConnection, loaded: list[tuple[str, str]]) -> CheckOutcome:
    suites = validate_loaded(con, loaded)
    return CheckOutcome("contract_expectations", all(s.success for s in suites), {
        "packs_checked": len(loaded),
        "suites": markdown_table([(s.table, s.rows, s.evaluated, len(s.failures)) for s in suites],
                                 ("table", "rows checked", "expectations evaluated", "expectations failed")),
        "failures": [f for s in suites for f in s.failures][:20]})


def score_checks(con: duckdb.DuckDBPyConnection, periods: list[str], indicator_count: int) -> list[CheckOutcome]:
    """every_case_scored and rates_reconcile, for the step's quarters."""
    incomplete = reconciliation.incomplete_cases(con, indicator_count, periods)
    mismatched = reconciliation.rate_mismatches(con, periods)
    return [CheckOutcome("every_case_scored", not incomplete, {"cases_incomplete": len(incomplete)}),
            CheckOutcome("rates_reconcile", not mismatched, {"rates_mismatched": len(mismatched)})]



def moderation_complete(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """Every sampled case of every audit has a moderated answer to every question, before its
    report is taken as final. A warning: an audit under way is not an error. Audits planned with
    another version of the tool are not judged against this version's questions: they are counted
    apart."""
    from assets.audits import MODERATED, audit_tool

    tool = audit_tool()
    gaps = con.execute("""
        SELECT s.audit_id, count(DISTINCT s.case_key) AS cases,
               count(DISTINCT s.case_key) FILTER (WHERE coalesce(a.answered, 0) < ?) AS incomplete
        FROM audit_samples s JOIN audits USING (audit_id) LEFT JOIN (
            SELECT audit_id, case_key, count(DISTINCT question_id) AS answered FROM audit_answers
            WHERE agency = ? GROUP BY ALL) a USING (audit_id, case_key)
        WHERE audits.tool_version = ?
        GROUP BY ALL HAVING incomplete > 0 ORDER BY 1""", [len(tool.questions), MODERATED, tool.version]).fetchall()
    other = con.execute("SELECT count(*) FROM audits WHERE tool_version <> ?", [tool.version]).fetchone()[0]
    return CheckOutcome("moderation_complete", not gaps, {
        "audits_incomplete": len(gaps), "audits_with_another_tool_version": other,
        "audits": markdown_table([(audit, incomplete, cases) for audit, cases, incomplete in gaps],
                                 ("audit", "cases without every moderated answer", "cases sampled"))},
        None if not gaps else "Some sampled cases lack a moderated answer: the report is not final yet.")
