"""The Great Expectations suites generated from the contract pass on a clean load and catch rows
that break the contract if they ever get past quarantine; compiled to DuckDB, they count exactly the
rows Great Expectations' own pandas engine counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assets import warehouse
from assets.ingest import ingest_inbox
from checks.expectations import FRAMES_SQL, contract_expectations, expectation_specs, suite_query, validate_loaded

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
CONTEXT_FIXTURE = Path(__file__).parent / "fixtures" / "context_pack" / "E06000002_2025Q3"
PACK = [("E06000001", "2025Q3"), ("E06000002", "2025Q3")]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("gx")
    shutil.copytree(FIXTURE, root / "inbox" / FIXTURE.name)
    shutil.copytree(CONTEXT_FIXTURE, root / "inbox" / CONTEXT_FIXTURE.name)
    con = warehouse.connect(root / "w.duckdb")
    ingest_inbox(con, root / "inbox", b"test-key")
    yield con
    con.close()


def test_suites_are_generated_from_the_contract():
    kinds = {e.expectation_type for e in contract_expectations("meetings")}
    assert {"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_null",
            "expect_column_pair_values_a_to_be_greater_than_b"} <= kinds
    columns = {getattr(e, "column", None) for e in contract_expectations("cases")}
    assert {"age", "sex", "plan_type", "pack_case_id"} <= columns
    assert "case_id" not in columns


def test_a_clean_load_meets_every_expectation(loaded):
    outcomes = validate_loaded(loaded, PACK)
    assert [(o.table, o.rows, o.success) for o in outcomes] == [
        ("cases", 8, True), ("meetings", 10, True), ("actions", 20, True), ("contexts", 4, True),
        ("case_contexts", 5, True)]
    assert all(o.evaluated > 5 for o in outcomes)


STRAY_MEETING = """INSERT INTO meetings BY NAME SELECT 'E06000001' AS la_code, '2025Q3' AS period,
    'no-such-case' AS case_key, 99 AS source_row, DATE '2025-10-02' AS meeting_date, 'lunch' AS meeting_type,
    true AS parent_invited, true AS parent_attended, true AS parent_views_recorded,
    true AS parent_informed_of_outcome, 'no-such-context' AS context_key"""


def break_the_contract(con) -> None:
    """Rows that quarantine would have stopped, put straight into the warehouse (inside a
    transaction the test rolls back): one of each kind of breach, beside rows that pass."""
    con.execute(STRAY_MEETING)
    con.execute("INSERT INTO cases SELECT * REPLACE (40 AS age, 'Q' AS sex) FROM cases LIMIT 1")
    con.execute("""UPDATE cases SET missing_episodes = 1, return_interviews_72h = 3, age = -1
                   WHERE case_key = (SELECT max(case_key) FROM cases)""")
    con.execute("UPDATE actions SET action_type = 'shouting', action_date = DATE '2025-06-30' "
                "WHERE rowid = (SELECT min(rowid) FROM actions)")
    con.execute("UPDATE actions SET lead_agency = NULL WHERE rowid = (SELECT max(rowid) FROM actions)")
    con.execute("INSERT INTO contexts SELECT * REPLACE ('park' AS context_type) FROM contexts LIMIT 1")
    con.execute("""UPDATE contexts SET identified_date = DATE '2025-10-05', closed_date = DATE '2025-10-01'
                   WHERE context_type = 'school'""")
    con.execute("INSERT INTO case_contexts SELECT * REPLACE ('kin' AS link_type) FROM case_contexts LIMIT 1")
    con.execute("""INSERT INTO case_contexts SELECT la_code, period, case_key, 'no-such-context', NULL
                   FROM case_contexts LIMIT 1""")


def test_rows_that_break_the_contract_fail_the_suites(loaded):
    loaded.execute("BEGIN TRANSACTION")
    try:
        loaded.execute(STRAY_MEETING)
        loaded.execute("""INSERT INTO cases SELECT * REPLACE (40 AS age, 'Q' AS sex) FROM cases LIMIT 1""")
        outcomes = {o.table: o for o in validate_loaded(loaded, PACK)}
    finally:
        loaded.execute("ROLLBACK")
    meeting_failures = {(f["expectation"], f["column"]) for f in outcomes["meetings"].failures}
    assert ("expect_column_values_to_be_in_set", "meeting_type") in meeting_failures
    assert ("expect_column_values_to_be_in_set", "cases_loaded") in meeting_failures
    assert ("expect_column_pair_values_a_to_be_greater_than_b", "period_end vs meeting_date") in meeting_failures
    case_failures = {(f["expectation"], f["column"]) for f in outcomes["cases"].failures}
    assert case_failures == {("expect_column_values_to_be_between", "age"),
                             ("expect_column_values_to_be_in_set", "sex"),
                             ("expect_column_values_to_be_unique", "pack_case_id")}
    duplicated = next(f for f in outcomes["cases"].failures if f["column"] == "pack_case_id")
    assert duplicated["unexpected_count"] == 2  # both copies, as Great Expectations counts them
    assert outcomes["actions"].success


def gx_pandas_counts(table: str, frame) -> list[int]:
    """Each expectation's unexpected rows as Great Expectations' pandas engine counts them."""
    import great_expectations as gx
    import pandas as pd

    for column in frame.columns:  # GX's pandas engine compares dates as timestamps
        if column.endswith(("_date", "period_start", "period_end")):
            frame[column] = pd.to_datetime(frame[column])
    context = gx.get_context(mode="ephemeral")
    batch = context.data_sources.add_pandas("frames").add_dataframe_asset(table) \
        .add_batch_definition_whole_dataframe(table).get_batch(batch_parameters={"dataframe": frame})
    counts = []
    for expectation in contract_expectations(table):
        result = batch.validate(expectation, result_format={"result_format": "BASIC"})
        counts.append(int(result.result.get("unexpected_count") or 0))
    return counts


@pytest.mark.parametrize("table", list(FRAMES_SQL))
def test_the_compiled_suites_count_what_great_expectations_counts(loaded, table):
    """Every expectation of every suite, over the same rows (clean and broken): the DuckDB query
    and Great Expectations' pandas engine find the same number of unexpected rows."""
    loaded.execute("BEGIN TRANSACTION")
    try:
        break_the_contract(loaded)
        import pandas as pd

        from assets.reading import period_bounds

        start, end = period_bounds("2025Q3")
        loaded.register("run_packs", pd.DataFrame({"la_code": [la for la, _ in PACK], "period": ["2025Q3"] * 2,
                                                   "period_start": [start] * 2, "period_end": [end] * 2}))
        sql, specs = suite_query(table)
        rows, *compiled = loaded.execute(sql).fetchall()[0]
        frame = loaded.execute(f"WITH packs AS (SELECT * FROM run_packs) {FRAMES_SQL[table]}").df()
        loaded.unregister("run_packs")
    finally:
        loaded.execute("ROLLBACK")
    assert rows == len(frame) > 0
    assert len(specs) == len(contract_expectations(table)) > 5
    expected = gx_pandas_counts(table, frame)
    names = [name for name, _ in specs]
    assert list(zip(names, compiled, strict=True)) == list(zip(names, expected, strict=True))
    assert sum(expected) > 0  # the broken rows broke something in every table


def test_every_expectation_in_the_registry_has_a_duckdb_form():
    for table in FRAMES_SQL:
        suite_query(table)  # raises for a class with no compiled form
    assert {name for table in FRAMES_SQL for name, _ in expectation_specs(table)} >= {
        "ExpectColumnValuesToBeUnique", "ExpectColumnValuesToBeBetween", "ExpectColumnPairValuesAToBeGreaterThanB"}


def test_packs_validated_together_add_up_to_each_validated_alone(tmp_path):
    """A run's packs are validated in one query; every row counts, and only the run's packs."""
    for code in ("E06000001", "E06000002", "E06000003"):
        shutil.copytree(FIXTURE, tmp_path / "inbox" / f"{code}_2025Q3")
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_inbox(con, tmp_path / "inbox", b"test-key")
    packs = [(code, "2025Q3") for code in ("E06000001", "E06000002", "E06000003")]
    con.execute("BEGIN TRANSACTION")
    try:  # one bad sex code in each of two packs
        con.execute("UPDATE cases SET sex = 'Q' WHERE la_code IN ('E06000001', 'E06000003') AND age = "
                    "(SELECT min(age) FROM cases c WHERE c.la_code = cases.la_code)")
        together = validate_loaded(con, packs)
        alone = [validate_loaded(con, [pack]) for pack in packs]
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert [(o.table, o.rows) for o in together] == [("cases", 12), ("meetings", 15), ("actions", 27),
                                                    ("contexts", 0), ("case_contexts", 0)]
    assert [o.rows for o in together] == [sum(a[i].rows for a in alone) for i in range(5)]
    assert together[0].failures == [
        {"expectation": "expect_column_values_to_be_in_set", "column": "sex", "unexpected_count": 2}]
    assert alone[1][0].success and not alone[0][0].success
