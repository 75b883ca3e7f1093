"""Every fault that `synth --faults` plants is caught with the right outcome, and no clean row is
lost; the mixed pack forms load exactly the same data as plain CSV."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from assets import warehouse
from assets.ingest import ingest_inbox
from synth.faults import MANIFEST_NAME
from synth.packs import write_packs

SECRET = b"test-key"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    inbox = root / "inbox"
    write_packs(inbox, las=3, quarters=2, seed=7, cases_per_la=25, faults=True, formats="mixed")
    manifest = json.loads((inbox / MANIFEST_NAME).read_text())
    con = warehouse.connect(root / "warehouse.duckdb")
    report = ingest_inbox(con, inbox, SECRET)
    yield con, manifest, report
    con.close()


def test_every_planted_row_fault_is_quarantined_with_its_rule(faulty):
    con, manifest, _ = faulty
    quarantined = set(con.execute(
        "SELECT la_code || '_' || period, table_name, row_number, column_name, rule FROM quarantine").fetchall())
    planted = [f for f in manifest["faults"] if f["outcome"] == "quarantine"]
    assert {f["rule"] for f in planted} >= {
        "required", "type_integer", "type_date", "range", "vocabulary", "unique", "references", "outside_period",
        "return_interviews_exceed_missing", "attended_not_invited", "end_before_referral", "info_source_required"}
    for fault in planted:
        key = (fault["pack"].removesuffix(".xlsx"), fault["table"], fault["row_number"], fault["column"],
               fault["rule"])
        assert key in quarantined, fault
    # Nothing was quarantined that was not planted: clean rows are never refused.
    assert len(quarantined) == len(planted)


def clear_config_caches() -> None:
    """Empty every cache of configuration and what is derived from it, so that nothing read while the
    contract was patched outlives the patch."""
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("assets", "checks", "synth"):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == name:
                    value.cache_clear()


@contextlib.contextmanager
def kind_in_the_registry(name: str, entry: dict, table: str, column: str):
    """A rule kind that is not in config/rule_kinds.yaml, and a contract column using it, for the
    length of one test: added as a partnership would, by one entry (and its key on the column)."""
    from assets import config, contract_rules

    kinds = contract_rules.rule_kinds() + (contract_rules.parse_kind(name, entry),)
    read_yaml = config.load_yaml

    def load_yaml(file_name: str) -> dict:
        loaded = read_yaml(file_name)
        if file_name == "contract.yaml":
            loaded = copy.deepcopy(loaded)
            loaded["tables"][table]["columns"][column][name] = True
        return loaded

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract_rules, "rule_kinds", lambda: kinds)
        patch.setattr(config, "load_yaml", load_yaml)
        clear_config_caches()
        try:
            yield
        finally:
            clear_config_caches()


@pytest.fixture
def kind_added_to_the_registry():
    """no_spaces on meetings.meeting_id (a reference: never stored, so it has no expectation)."""
    with kind_in_the_registry("no_spaces", {
            "when": {"has": ["no_spaces"]},
            "condition": "{x} LIKE '% %'",
            "describe": "no spaces",
            "message": "{column} holds a space.",
            "fix": "Write {column} without spaces.",
            "plant": {"operation": "set", "value": "has a space"}}, "meetings", "meeting_id"):
        yield


def test_a_kind_added_to_the_registry_reaches_standardise_expectations_docs_and_synth(tmp_path):
    """One entry: the row is quarantined, the loaded rows are expected to keep it, the docs and the
    template say it, and synth plants it."""
    from assets import config
    from assets.reference_docs import render_export_pack
    from assets.template import rule_text
    from checks.expectations import contract_expectations

    entry = {"when": {"has": ["at_most_99"]}, "condition": "{v} > 99",
             "expectations": [{"type": "ExpectColumnValuesToBeBetween", "column": "{column}", "max_value": 99}],
             "describe": "99 or fewer", "message": "{column} is above 99.", "fix": "Check {column}.",
             "plant": {"operation": "set", "value": "150"}}
    with kind_in_the_registry("at_most_99", entry, "cases", "missing_episodes"):
        expectations = [(e.expectation_type, getattr(e, "column", None), getattr(e, "max_value", None))
                        for e in contract_expectations("cases")]
        assert ("expect_column_values_to_be_between", "missing_episodes", 99) in expectations
        docs = render_export_pack()
        assert "| `at_most_99` | *column* is above 99. | Check *column*. |" in docs
        spec = config.contract()["tables"]["cases"]["columns"]["missing_episodes"]
        assert "99 or fewer" in rule_text("cases", "missing_episodes", spec)
        inbox = tmp_path / "inbox"
        write_packs(inbox, las=1, quarters=1, seed=3, cases_per_la=20, faults=True, formats="csv")
        manifest = json.loads((inbox / MANIFEST_NAME).read_text())
        planted = [f for f in manifest["faults"] if f["rule"] == "at_most_99"]
        assert [(f["table"], f["column"]) for f in planted] == [("cases", "missing_episodes")]
        con = warehouse.connect(tmp_path / "warehouse.duckdb")
        ingest_inbox(con, inbox, SECRET)
        assert con.execute("SELECT table_name, row_number, column_name FROM quarantine WHERE rule = 'at_most_99'"
                           ).fetchall() == [("cases", planted[0]["row_number"], "missing_episodes")]
        con.close()


def test_a_kind_added_to_the_registry_is_planted_and_quarantined(tmp_path, kind_added_to_the_registry):
    inbox = tmp_path / "inbox"
    write_packs(inbox, las=1, quarters=2, seed=9, cases_per_la=25, faults=True, formats="csv")
    manifest = json.loads((inbox / MANIFEST_NAME).read_text())
    planted = [f for f in manifest["faults"] if f["outcome"] == "quarantine"]
    added = [f for f in planted if f["rule"] == "no_spaces"]
    assert [(f["table"], f["column"]) for f in added] == [("meetings", "meeting_id")]
    assert added[0]["note"] == "meeting_id: no spaces broken (set to text that breaks it)"

    con = warehouse.connect(tmp_path / "warehouse.duckdb")
    ingest_inbox(con, inbox, SECRET)
    quarantined = set(con.execute(
        "SELECT la_code || '_' || period, table_name, row_number, column_name, rule FROM quarantine").fetchall())
    assert (added[0]["pack"], "meetings", added[0]["row_number"], "meeting_id", "no_spaces") in quarantined
    # Every other planted fault is caught as before, and the new rule quarantines nothing else.
    assert quarantined == {(f["pack"], f["table"], f["row_number"], f["column"], f["rule"]) for f in planted}
    message = con.execute("SELECT message FROM quarantine WHERE rule = 'no_spaces'").fetchone()[0]
    assert message == "meeting_id holds a space. Write meeting_id without spaces."
    con.close()


def test_every_planted_pack_fault_is_rejected_with_its_reason(faulty):
    con, manifest, report = faulty
    rejected = {o.source: o.rule for o in report.outcomes if o.status == "rejected"}
    planted = {f["pack"]: f["rule"] for f in manifest["faults"] if f["outcome"] == "reject"}
    assert rejected == planted
    stored = con.execute("SELECT source, status, rule, message FROM submissions WHERE status = 'rejected'").fetchall()
    assert {row[0]: row[2] for row in stored} == planted
    assert all(row[3] for row in stored)  # every rejection says why
    for source in planted:
        name = source.removesuffix(".xlsx")
        la_code, _, period = name.partition("_")
        for table in ("cases", "meetings", "actions", "quarantine"):
            loaded = con.execute(f"SELECT count(*) FROM {table} WHERE la_code = ? AND period = ?",
                                 [la_code, period]).fetchone()[0]
            clean_same_slot = manifest["clean_rows"].get(name, {}).get(table, 0) if table != "quarantine" else 0
            assert loaded == clean_same_slot or name not in manifest["rows"], (source, table)


def test_no_clean_row_is_lost_and_rows_reconcile(faulty):
    con, manifest, _ = faulty
    loaded_packs = con.execute(
        "SELECT la_code || '_' || period, rows_received, rows_quarantined FROM submissions "
        "WHERE status = 'loaded'").fetchall()
    for pack, rows_received, rows_quarantined in loaded_packs:
        entry = next(k for k in manifest["rows"] if k.removesuffix(".xlsx") == pack)
        for table in ("cases", "meetings", "actions"):
            loaded = con.execute(f"SELECT count(*) FROM {table} WHERE la_code || '_' || period = ?",
                                 [pack]).fetchone()[0]
            assert loaded == manifest["clean_rows"][entry][table], (pack, table)
        assert rows_received == sum(manifest["rows"][entry].values())
        quarantined_rows = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT table_name, row_number FROM quarantine "
            "WHERE la_code || '_' || period = ?)", [pack]).fetchone()[0]
        assert rows_received == sum(manifest["clean_rows"][entry].values()) + quarantined_rows
        assert rows_quarantined == quarantined_rows


def test_quarantine_messages_hold_no_values(faulty):
    con, _, _ = faulty
    messages = [r[0] for r in con.execute("SELECT message FROM quarantine").fetchall()]
    assert messages and all("Fill in" in m or "." in m for m in messages)
    # No planted bad value appears in any message.
    for bad in ("abc", "31/02/2025", "lunch", "40"):
        assert not any(bad in m for m in messages)


def tables_of(con) -> dict:
    return {t: sorted(map(str, con.execute(f"SELECT * EXCLUDE (source_row) FROM {t}"
                                          if t != "cases" else "SELECT * FROM cases").fetchall()))
            for t in ("cases", "meetings", "actions")}


def test_mixed_forms_load_the_same_data_as_plain_csv(tmp_path):
    results = {}
    for formats in ("csv", "mixed"):
        inbox = tmp_path / formats
        write_packs(inbox, las=4, quarters=3, seed=3, cases_per_la=15, formats=formats)
        con = warehouse.connect(tmp_path / f"{formats}.duckdb")
        report = ingest_inbox(con, inbox, SECRET)
        assert report.count("loaded") == 12 and report.count("rejected") == 0
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
        results[formats] = tables_of(con)
        con.close()
    assert results["csv"] == results["mixed"]
    forms = {p.suffix or "folder" for p in (tmp_path / "mixed").iterdir()}
    files = {f.suffix for f in (tmp_path / "mixed").rglob("*") if f.is_file()}
    assert ".xlsx" in forms and {".csv", ".parquet", ".xlsx"} <= files


def test_unknown_la_and_bad_name_are_rejected_before_reading(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "not-a-pack").mkdir(parents=True)
    con = warehouse.connect(tmp_path / "w.duckdb")
    report = ingest_inbox(con, inbox, SECRET)
    assert [(o.status, o.rule) for o in report.outcomes] == [("rejected", "bad_pack_name")]


def test_duplicate_packs_for_one_slot_are_both_refused(tmp_path):
    inbox = tmp_path / "inbox"
    write_packs(inbox, las=1, quarters=1, seed=1, cases_per_la=5, formats="csv")
    pack = next(p for p in inbox.iterdir() if p.is_dir())
    import shutil

    from assets.reading import open_pack, read_tables
    tables = read_tables(open_pack(pack))
    workbook = inbox / f"{pack.name}.xlsx"
    with pd.ExcelWriter(workbook) as writer:
        for name, raw in tables.items():
            raw.frame.to_excel(writer, sheet_name=name, index=False)
    con = warehouse.connect(tmp_path / "w.duckdb")
    report = ingest_inbox(con, inbox, SECRET)
    assert {o.rule for o in report.outcomes} == {"duplicate_pack"}
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
    shutil.rmtree(pack)
    assert ingest_inbox(con, inbox, SECRET).count("loaded") == 1


@pytest.mark.parametrize("encoding,separator", [("utf-8", ","), ("utf-8-sig", ";"), ("cp1252", ";")])
def test_csv_encodings_and_separators(tmp_path, encoding, separator):
    fixture = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
    pack = tmp_path / "inbox" / "E06000001_2025Q3"
    pack.mkdir(parents=True)
    for file in fixture.iterdir():
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        if file.name == "cases.csv":  # a non-ASCII character, in a column that is not stored
            frame["team"] = "Équipe Nord – café"
        frame.to_csv(pack / file.name, sep=separator, encoding=encoding, index=False)
    con = warehouse.connect(tmp_path / "w.duckdb")
    report = ingest_inbox(con, tmp_path / "inbox", SECRET)
    assert report.outcomes[0].status == "loaded", report.outcomes[0].message
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 4
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    assert con.execute("SELECT harm_types FROM cases ORDER BY age LIMIT 1").fetchone()[0] == ["online"]
    assert "column 16" in con.execute("SELECT message FROM submissions").fetchone()[0]  # said, by position


def test_rows_that_do_not_line_up_with_the_header_reject_the_pack(tmp_path):
    pack = tmp_path / "inbox" / "E06000001_2025Q3"
    shutil.copytree(Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3", pack)
    text = (pack / "cases.csv").read_text().replace(",", ";")  # harm_types lists now split the row
    (pack / "cases.csv").write_text(text)
    con = warehouse.connect(tmp_path / "w.duckdb")
    outcome = ingest_inbox(con, tmp_path / "inbox", SECRET).outcomes[0]
    assert (outcome.status, outcome.rule) == ("rejected", "unreadable")
    assert "line 2" in outcome.message and "cases.csv" in outcome.message


def test_short_rows_read_with_blanks_and_long_rows_name_their_line():
    from assets.reading import PackRejected, read_csv_text

    table = read_csv_text(b"case_id,age,sex\r\nA1,14\r\n\r\nA2,15,\"F\"\r\n")
    assert table.column_names == ["case_id", "age", "sex"]
    assert table.to_pylist() == [{"case_id": "A1", "age": "14", "sex": ""},
                                 {"case_id": "A2", "age": "15", "sex": "F"}]
    with pytest.raises(PackRejected) as refused:
        read_csv_text(b"case_id,age\nA1,14\nA2,15,secret-value\n")
    assert "line 3 has 3 fields, the header 2" in refused.value.message
    assert "secret-value" not in refused.value.message
