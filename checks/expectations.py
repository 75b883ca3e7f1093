"""Great Expectations suites generated from the contract (config/contract.yaml), run over the rows
that a load has just put in the warehouse.

The row rules in assets/standardise.py decide what is quarantined; these suites are the
independent second opinion that what was loaded meets the contract: types, required values,
vocabularies, ranges, uniqueness within a pack, every meeting and action belonging to a loaded
case, dates inside the period, return interviews not above missing episodes. They run as blocking
Dagster asset checks, so nothing is scored from a load that fails them.

Great Expectations is imported inside the functions that use it: it takes seconds to import."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import duckdb
import pandas as pd

from assets.config import contract, load_yaml
from assets.contract_rules import column_rules

# The loaded rows of the given packs, with the derived columns the rule kinds' expectations name
# (config/rule_kinds.yaml): the pack's period bounds, the pack-qualified pseudonym of case_id (for
# `unique`: case_id itself is never stored), and whether the row's case was loaded (`references`).
FRAMES_SQL = {
    "cases": """
        SELECT c.*, c.la_code || '|' || c.period || '|' || c.case_key AS pack_case_id,
               p.period_start, p.period_end
        FROM cases c JOIN packs p USING (la_code, period)""",
    "meetings": """
        SELECT m.*, p.period_start, p.period_end,
               EXISTS (SELECT 1 FROM cases c WHERE c.la_code = m.la_code AND c.period = m.period
                       AND c.case_key = m.case_key) AS cases_loaded
        FROM meetings m JOIN packs p USING (la_code, period)""",
    "actions": """
        SELECT a.*, p.period_start, p.period_end,
               EXISTS (SELECT 1 FROM cases c WHERE c.la_code = a.la_code AND c.period = a.period
                       AND c.case_key = a.case_key) AS cases_loaded
        FROM actions a JOIN packs p USING (la_code, period)""",
}
DATE_COLUMN = {"meetings": "meeting_date", "actions": "action_date"}


@dataclass
class SuiteOutcome:
    table: str
    rows: int
    evaluated: int = 0
    failures: list[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures


def contract_expectations(table: str) -> list:
    """The Great Expectations expectations for one standardised table: those of the rule kinds on
    its columns (config/rule_kinds.yaml), where the loaded table has the columns they name, and what
    loading itself guarantees (every row keyed, every action's target derived)."""
    import great_expectations as gx

    expect = gx.expectations
    present = frame_columns(table)
    items = [expect.ExpectColumnValuesToNotBeNull(column=c) for c in ("la_code", "period", "case_key")]
    for column, spec in contract()["tables"][table]["columns"].items():
        for rule in column_rules(table, column, spec):
            for name, arguments in rule.expectations():
                named = [v for k, v in arguments.items() if k in ("column", "column_A", "column_B")]
                if all(v in present for v in named):
                    items.append(getattr(expect, name)(**arguments))
    if table == "actions":
        items.append(expect.ExpectColumnValuesToBeInSet(column="target", value_set=sorted(
            contract()["action_targets"])))
    return items


@cache
def frame_columns(table: str) -> frozenset[str]:
    """The columns of a table's loaded rows as the suites see them (FRAMES_SQL over the schema)."""
    from assets.warehouse import SCHEMA_SQL

    con = duckdb.connect(":memory:")
    try:
        con.execute(SCHEMA_SQL)
        con.execute("CREATE TABLE packs (la_code VARCHAR, period VARCHAR, period_start DATE, period_end DATE)")
        return frozenset(name for name, *_ in con.execute(f"DESCRIBE {FRAMES_SQL[table]}").fetchall())
    finally:
        con.close()


def loaded_frames(con: duckdb.DuckDBPyConnection, packs: list[tuple[str, str]], part: int = 0,
                  parts: int = 1) -> dict[str, pd.DataFrame]:
    """The loaded rows of these packs, or one of `parts` slices of them (by a hash of the case, so
    that every row of one case, and so every would-be duplicate, falls in the same slice)."""
    from assets.reading import period_bounds

    bounds = pd.DataFrame(
        [(la, period, *period_bounds(period)) for la, period in packs],
        columns=["la_code", "period", "period_start", "period_end"])
    bounds["period_start"] = pd.to_datetime(bounds["period_start"])
    bounds["period_end"] = pd.to_datetime(bounds["period_end"])
    con.register("packs", bounds)
    try:
        frames = {}
        for table, sql in FRAMES_SQL.items():
            sliced = f"SELECT * FROM ({sql}) WHERE hash(la_code, period, case_key) % {int(parts)} = {int(part)}"
            frame = con.execute(sliced if parts > 1 else sql).df()
            for column in frame.columns:  # compare dates as timestamps throughout
                if column.endswith(("_date", "period_start", "period_end")):
                    frame[column] = pd.to_datetime(frame[column])
            frames[table] = frame
        return frames
    finally:
        con.unregister("packs")


def pack_chunks(con: duckdb.DuckDBPyConnection, packs: list[tuple[str, str]], chunk_rows: int
                ) -> list[tuple[list[tuple[str, str]], int]]:
    """The packs in groups of about `chunk_rows` rows received, each with the number of slices it is
    validated in: a pack larger than `chunk_rows` on its own is validated a slice at a time."""
    sizes = dict(((la, period), rows or 0) for la, period, rows in con.execute(
        "SELECT la_code, period, rows_received FROM submissions WHERE status = 'loaded'").fetchall())
    chunks, current, rows = [], [], 0
    for pack in packs:
        current.append(pack)
        rows += sizes.get(pack, 0)
        if rows >= chunk_rows:
            chunks.append((current, -(-rows // chunk_rows)))
            current, rows = [], 0
    return chunks + [(current, 1)] if current else chunks


def validate_loaded(con: duckdb.DuckDBPyConnection, packs: list[tuple[str, str]],
                    chunk_rows: int | None = None) -> list[SuiteOutcome]:
    """Run the contract suites over the loaded rows of these packs (LA code, period), about
    `chunk_rows` rows at a time (default: config/performance.yaml), so that memory stays flat
    however many packs a run loads and however large one pack is."""
    import great_expectations as gx

    outcomes = {table: SuiteOutcome(table, 0) for table in FRAMES_SQL}
    if not packs:
        return list(outcomes.values())
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # the CLI has its own display
    source = context.data_sources.add_pandas("warehouse")
    suites = {table: gx.ExpectationSuite(name=f"{table}_contract", expectations=contract_expectations(table))
              for table in FRAMES_SQL}
    batches = {table: source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
               for table in FRAMES_SQL}
    chunk_rows = chunk_rows or int(load_yaml("performance.yaml")["validation_chunk_rows"])
    for chunk, parts in pack_chunks(con, packs, chunk_rows):
        for part in range(parts):
            for table, frame in loaded_frames(con, chunk, part, parts).items():
                outcome = outcomes[table]
                outcome.rows += len(frame)
                if frame.empty:
                    continue
                result = batches[table].get_batch(batch_parameters={"dataframe": frame}).validate(
                    suites[table], result_format={"result_format": "BASIC"})
                outcome.evaluated = len(result.results)
                for item in result.results:
                    if not item.success:
                        record_failure(outcome, item)
                del frame
    return list(outcomes.values())


def record_failure(outcome: SuiteOutcome, item) -> None:
    """Add a failed expectation's unexpected rows to the outcome (one entry per expectation)."""
    config = item.expectation_config
    column = config.kwargs.get("column") or f"{config.kwargs.get('column_A')} vs {config.kwargs.get('column_B')}"
    count = int(item.result.get("unexpected_count") or 0)
    for failure in outcome.failures:
        if (failure["expectation"], failure["column"]) == (config.type, column):
            failure["unexpected_count"] += count
            return
    outcome.failures.append({"expectation": config.type, "column": column, "unexpected_count": count})
