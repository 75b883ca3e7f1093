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

import duckdb
import pandas as pd

from assets.config import action_targets, contract, load_yaml

# The loaded rows of the given packs, with the derived columns the expectations need: the pack's
# period bounds, a pack-qualified key for uniqueness, and whether the row's case was loaded.
FRAMES_SQL = {
    "cases": """
        SELECT c.*, c.la_code || '|' || c.period || '|' || c.case_key AS pack_case_key,
               p.period_end
        FROM cases c JOIN packs p USING (la_code, period)""",
    "meetings": """
        SELECT m.*, p.period_start, p.period_end,
               EXISTS (SELECT 1 FROM cases c WHERE c.la_code = m.la_code AND c.period = m.period
                       AND c.case_key = m.case_key) AS case_loaded
        FROM meetings m JOIN packs p USING (la_code, period)""",
    "actions": """
        SELECT a.*, p.period_start, p.period_end,
               EXISTS (SELECT 1 FROM cases c WHERE c.la_code = a.la_code AND c.period = a.period
                       AND c.case_key = a.case_key) AS case_loaded
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
    """The Great Expectations expectations for one standardised table, from the contract."""
    import great_expectations as gx

    expect = gx.expectations
    spec = contract()["tables"][table]["columns"]
    items = [expect.ExpectColumnValuesToNotBeNull(column=c) for c in ("la_code", "period", "case_key")]
    for column, column_spec in spec.items():
        if column_spec.get("identifier"):
            continue  # case_id, meeting_id and action_id are never stored
        if column_spec.get("required") and column_spec["type"] != "codelist":
            items.append(expect.ExpectColumnValuesToNotBeNull(column=column))
        kind = column_spec["type"]
        if kind == "code":
            values = sorted(action_targets()) if "values_from" in column_spec else column_spec["values"]
            items.append(expect.ExpectColumnValuesToBeInSet(column=column, value_set=[str(v) for v in values]))
        if kind == "yn":
            items.append(expect.ExpectColumnValuesToBeInSet(column=column, value_set=[True, False]))
        if kind == "integer" and ("min" in column_spec or "max" in column_spec):
            items.append(expect.ExpectColumnValuesToBeBetween(
                column=column, min_value=column_spec.get("min"), max_value=column_spec.get("max")))
        if column_spec.get("inside_period"):
            items.append(expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column, column_B="period_start", or_equal=True, ignore_row_if="either_value_is_missing"))
            items.append(expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="period_end", column_B=column, or_equal=True, ignore_row_if="either_value_is_missing"))
        if column_spec.get("not_after") == "period_end":
            items.append(expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="period_end", column_B=column, or_equal=True, ignore_row_if="either_value_is_missing"))
        if "not_before_column" in column_spec:
            items.append(expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column, column_B=column_spec["not_before_column"], or_equal=True,
                ignore_row_if="either_value_is_missing"))
        if "not_above_column" in column_spec:
            items.append(expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column_spec["not_above_column"], column_B=column, or_equal=True,
                ignore_row_if="either_value_is_missing"))
    if table == "cases":
        items.append(expect.ExpectColumnValuesToBeUnique(column="pack_case_key"))
        items.append(expect.ExpectColumnValuesToNotBeNull(column="harm_types"))
    else:
        items.append(expect.ExpectColumnValuesToBeInSet(column="case_loaded", value_set=[True]))
    if table == "actions":
        items.append(expect.ExpectColumnValuesToBeInSet(column="target", value_set=sorted(
            contract()["action_targets"])))
    return items


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
