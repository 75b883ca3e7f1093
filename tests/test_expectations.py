"""The Great Expectations suites generated from the contract pass on a clean load and catch rows
that break the contract if they ever get past quarantine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assets import warehouse
from assets.ingest import ingest_inbox
from checks.expectations import contract_expectations, validate_loaded

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
PACK = [("E06000001", "2025Q3")]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("gx")
    shutil.copytree(FIXTURE, root / "inbox" / FIXTURE.name)
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
        ("cases", 4, True), ("meetings", 5, True), ("actions", 9, True)]
    assert all(o.evaluated > 10 for o in outcomes)


def test_rows_that_break_the_contract_fail_the_suites(loaded):
    loaded.execute("BEGIN TRANSACTION")
    try:
        loaded.execute("""INSERT INTO meetings VALUES ('E06000001', '2025Q3', 'no-such-case', 99, DATE '2025-10-02',
                          'lunch', true, true, true, true)""")
        loaded.execute("""INSERT INTO cases SELECT * REPLACE (40 AS age, 'Q' AS sex) FROM cases LIMIT 1""")
        outcomes = {o.table: o for o in validate_loaded(loaded, PACK)}
        # A pack too large for one group is validated in slices: a duplicate case is still found.
        sliced = {o.table: o for o in validate_loaded(loaded, PACK, chunk_rows=2)}
    finally:
        loaded.execute("ROLLBACK")
    assert {(f["expectation"], f["column"]) for f in sliced["cases"].failures} >= {
        ("expect_column_values_to_be_unique", "pack_case_id")}
    assert sliced["cases"].rows == outcomes["cases"].rows
    meeting_failures = {(f["expectation"], f["column"]) for f in outcomes["meetings"].failures}
    assert ("expect_column_values_to_be_in_set", "meeting_type") in meeting_failures
    assert ("expect_column_values_to_be_in_set", "cases_loaded") in meeting_failures
    assert ("expect_column_pair_values_a_to_be_greater_than_b", "period_end vs meeting_date") in meeting_failures
    case_failures = {(f["expectation"], f["column"]) for f in outcomes["cases"].failures}
    assert case_failures == {("expect_column_values_to_be_between", "age"),
                             ("expect_column_values_to_be_in_set", "sex"),
                             ("expect_column_values_to_be_unique", "pack_case_id")}
    assert outcomes["actions"].success


def test_packs_validated_in_groups_add_up_to_one_validation(tmp_path):
    """Memory stays flat because packs are validated a group at a time; every row still counts."""
    for code in ("E06000001", "E06000002", "E06000003"):
        shutil.copytree(FIXTURE, tmp_path / "inbox" / f"{code}_2025Q3")
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_inbox(con, tmp_path / "inbox", b"test-key")
    packs = [(code, "2025Q3") for code in ("E06000001", "E06000002", "E06000003")]
    con.execute("BEGIN TRANSACTION")
    try:  # one bad sex code in each of two packs
        con.execute("UPDATE cases SET sex = 'Q' WHERE la_code IN ('E06000001', 'E06000003') AND age = "
                    "(SELECT min(age) FROM cases c WHERE c.la_code = cases.la_code)")
        whole = {o.table: o for o in validate_loaded(con, packs, chunk_rows=10**9)}
        one_by_one = {o.table: o for o in validate_loaded(con, packs, chunk_rows=1)}
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert [(o.table, o.rows) for o in one_by_one.values()] == [("cases", 12), ("meetings", 15), ("actions", 27)]
    for table in whole:
        assert (whole[table].rows, whole[table].failures) == (one_by_one[table].rows, one_by_one[table].failures)
    assert one_by_one["cases"].failures == [
        {"expectation": "expect_column_values_to_be_in_set", "column": "sex", "unexpected_count": 2}]
