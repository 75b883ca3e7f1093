"""What an inbox can throw at the pipeline: identifiers where the scan used not to look, names
that are identifiers, workbooks that hide or bomb, files built to exhaust a reader, links out of
the inbox. Every input is small and generated here; the large ones are in `make bench-hostile`."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets import warehouse
from assets.config import limits
from assets.ingest import ingest_inbox

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
CLI = str(Path(sys.executable).parent / "safeguarding-audit")
SECRET = b"test-key"
NHS = "943 476 5919"  # a valid NHS check digit
NAMES = ["Amelia Jones", "Oliver Smith", "Isla Brown", "Noah Taylor"]


def frames() -> dict[str, pd.DataFrame]:
    return {t: pd.read_csv(FIXTURE / f"{t}.csv", dtype=str, keep_default_na=False)
            for t in ("cases", "meetings", "actions")}


def write_folder(inbox: Path, tables: dict[str, pd.DataFrame], name: str = FIXTURE.name) -> Path:
    pack = inbox / name
    pack.mkdir(parents=True)
    for table, frame in tables.items():
        frame.to_csv(pack / f"{table}.csv", index=False)
    return pack


def ingest(tmp_path: Path, inbox: Path, database: str = "w"):
    con = warehouse.connect(tmp_path / f"{database}.duckdb")
    report = ingest_inbox(con, inbox, SECRET)
    return con, report


def only_outcome(report):
    assert len(report.outcomes) == 1, report.outcomes
    return report.outcomes[0]


def stored_text(con) -> str:
    """Everything the warehouse holds about packs, as one text to search."""
    rows = con.execute("SELECT * FROM submissions").fetchall() + con.execute("SELECT * FROM quarantine").fetchall()
    return repr(rows)


def with_limits(monkeypatch, **changes) -> None:
    """Run with smaller limits (section.name=value), as a partnership would set in config/limits.yaml."""
    changed = copy.deepcopy(limits())
    for key, value in changes.items():
        section, name = key.split("__")
        changed[section][name] = value
    for module in ("assets.table_files", "assets.workbooks"):
        monkeypatch.setattr(f"{module}.limits", lambda: changed)


# --- identifiers where the scan did not look ------------------------------------------------------

def ten_cases() -> dict[str, pd.DataFrame]:
    """The tiny pack with ten cases (the first case repeated under new ids)."""
    tables = frames()
    cases = pd.concat([tables["cases"]] + [tables["cases"].iloc[[0]]] * 6, ignore_index=True)
    cases["case_id"] = [f"A{i}" for i in range(1, 11)]
    return {**tables, "cases": cases}


@pytest.mark.parametrize("values,kind", [
    ([f"Seen with dad, his NHS number is {NHS}."] + [""] * 9, "nhs_number"),  # inside a sentence
    ([NHS, "401 023 2137", "9434765870", "4010232137"] + [f"C-{i}" for i in range(6)], "nhs_number"),  # 40%
    (["17.04.2011", "03.02.2010", "11 April 2012", "1st May 2009", "", "x"] + [""] * 4, "date_of_birth"),
    (["AMELIA JONES", "NOAH O'BRIEN", "ISLA BROWN", ""] + [""] * 6, "personal_name"),  # names in capitals
    (["call 07700 900123 after 5"] + [""] * 9, "phone"),
    (["12 Acacia Avenue", "3 Mill Lane, Leeds", "x"] + [""] * 7, "address"),
    (["see SW1A 1AA"] + [""] * 9, "postcode"),
])
def test_identifiers_anywhere_in_a_column_reject_the_pack(tmp_path, values, kind):
    tables = ten_cases()
    tables["cases"]["notes"] = values
    write_folder(tmp_path / "inbox", tables)
    con, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert (outcome.status, outcome.rule) == ("rejected", "direct_identifier"), outcome
    label = {"nhs_number": "NHS numbers", "date_of_birth": "dates of birth", "personal_name": "personal names",
             "phone": "phone numbers", "address": "addresses", "postcode": "full postcodes"}[kind]
    assert label in outcome.message and "column 16" in outcome.message  # by position, never by name
    for value in values:
        if value:
            assert value not in stored_text(con)
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0


@pytest.mark.parametrize("values", [
    ["NOT KNOWN", "NOT RECORDED", "CSE TEAM", "CHILD SEEN ALONE"],  # codes and teams in capitals
    ["West Yorkshire Police", "Leeds City Council", "North Team", "Open Case"],
    ["S47 1ST VISIT", "CP1 2ND REVIEW", "EP12AB", "AB12CD"],  # not postcodes
    ["4000000004", "4000000005", "0123456789", "4000000006"],  # the LA's own ten-digit references
    ["listed at 2 Family Court", "", "", ""],  # one address-like phrase is not a column of addresses
])
def test_ordinary_values_in_extra_columns_are_not_identifiers(tmp_path, values):
    tables = frames()
    tables["cases"]["notes"] = values
    write_folder(tmp_path / "inbox", tables)
    _, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded", only_outcome(report).message


def test_a_date_in_a_column_name_is_not_a_date_of_birth(tmp_path):
    tables = frames()
    tables["cases"]["Status at 31/03/2025"] = "open"
    write_folder(tmp_path / "inbox", tables)
    con, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded"
    assert "31/03" not in stored_text(con)


def test_an_email_inside_a_longer_meeting_id_rejects_the_pack(tmp_path):
    tables = frames()
    tables["meetings"].loc[2, "meeting_id"] = "M3-amelia.jones@example.org"
    write_folder(tmp_path / "inbox", tables)
    con, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "direct_identifier" and "e-mail" in outcome.message
    assert "row 3" in outcome.message or "line 4" in outcome.message  # says where, never what
    assert "amelia" not in stored_text(con).lower()


def valid_nhs_numbers(count: int) -> list[str]:
    from assets.identifiers import nhs_check_digit_ok

    found = []
    for prefix in range(400_000_000, 401_000_000):
        for last in range(10):
            if nhs_check_digit_ok(f"{prefix}{last}"):
                found.append(f"{prefix}{last}")
                break
        if len(found) == count:
            return found
    raise AssertionError("not enough")


def test_ten_digit_case_references_are_not_nhs_numbers_but_a_column_of_them_is(tmp_path):
    from assets.identifiers import nhs_check_digit_ok

    tables = frames()
    no_rows = {"meetings": tables["meetings"].iloc[0:0], "actions": tables["actions"].iloc[0:0]}
    cases = pd.concat([tables["cases"]] * 10, ignore_index=True)
    cases["case_id"] = [f"{n:010d}" for n in range(4_000_000_000, 4_000_000_040)]
    assert 1 <= sum(nhs_check_digit_ok(c) for c in cases["case_id"]) <= 5  # some pass the check by chance
    write_folder(tmp_path / "inbox", {"cases": cases, **no_rows})
    _, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded"
    # A column of references that are mostly valid NHS numbers is the LA sending NHS numbers.
    cases["case_id"] = valid_nhs_numbers(12) + list(cases["case_id"][12:])
    shutil.rmtree(tmp_path / "inbox")
    write_folder(tmp_path / "inbox", {"cases": cases.iloc[:20], **no_rows})
    _, report = ingest(tmp_path, tmp_path / "inbox", "second")
    outcome = only_outcome(report)
    assert outcome.rule == "direct_identifier" and "NHS numbers" in outcome.message


@pytest.mark.parametrize("header", ["amelia.jones@example.org", "Amelia Jones 9434765919"])
def test_a_column_named_with_an_identifier_is_refused_and_its_name_never_stored(tmp_path, header):
    tables = frames()
    tables["cases"][header] = "x"
    write_folder(tmp_path / "inbox", tables)
    con, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "direct_identifier" and "column 16" in outcome.message  # named by position
    assert "amelia" not in stored_text(con).lower() and "amelia" not in outcome.message.lower()


@pytest.mark.parametrize("header", ["team", "amelia jones dob", "Jones, Amelia", "AMELIA-JONES"])
def test_names_of_columns_outside_the_contract_are_never_stored(tmp_path, header):
    tables = frames()
    tables["cases"][header] = "North"
    write_folder(tmp_path / "inbox", tables)
    con, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.status == "loaded" or outcome.rule == "direct_identifier", outcome
    text = stored_text(con).lower()
    assert header.lower() not in text and "amelia" not in text
    if outcome.status == "loaded":
        assert "column 16" in con.execute("SELECT message FROM submissions").fetchone()[0]


def test_validate_names_the_columns_it_would_not_store(tmp_path):
    from checks.pack_validation import validate_pack

    tables = frames()
    tables["cases"]["team"] = "North"
    report = validate_pack(write_folder(tmp_path, tables))
    assert report.status == "valid" and "'team' (column 16)" in " ".join(report.notes)  # stored nowhere


@pytest.mark.parametrize("name", ["Amelia_Jones", "Amelia_9434765919", "E06000001_AmeliaJones", "Jones_Amelia.xlsx"])
def test_a_pack_named_after_a_child_leaves_no_trace_of_the_name_anywhere(tmp_path, name):
    home = tmp_path / "home"
    inbox = home / "inbox"
    if name.endswith(".xlsx"):
        workbook(inbox / name, frames())
    else:
        write_folder(inbox, frames(), name=name)
    write_folder(inbox, frames())
    result = subprocess.run([CLI, "run", "--home", str(home)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "unnamed " in result.stderr
    for text in ("amelia", "jones", "9434765919"):
        assert text not in (result.stdout + result.stderr).lower()
        for file in [f for f in home.rglob("*") if f.is_file() and "inbox" not in f.parts]:
            assert text.encode() not in file.read_bytes().lower(), (file, text)
    con = duckdb_read(home)
    assert con.execute("SELECT la_code, period, rule FROM submissions WHERE status = 'rejected'").fetchone() == (
        None, None, "bad_pack_name")


def duckdb_read(home: Path):
    import duckdb

    return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)


# --- workbooks ------------------------------------------------------------------------------------

def workbook(path: Path, tables: dict[str, pd.DataFrame], extra: dict[str, tuple[list, bool]] | None = None) -> Path:
    """A one-workbook pack; `extra` sheets: title -> (rows including header, hidden)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for table, frame in tables.items():
        sheet = book.create_sheet(table)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append(list(row))
    for title, (rows, hidden) in (extra or {}).items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if hidden:
            sheet.sheet_state = "hidden"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def test_a_hidden_sheet_with_a_table_name_cannot_replace_the_visible_one(tmp_path):
    tables = frames()
    hidden = [list(tables["cases"].columns), list(tables["cases"].iloc[0])]
    workbook(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", tables, {"Cases ": (hidden, True)})
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "duplicate_table" and "hidden" in outcome.message


def test_a_hidden_sheet_of_identifiers_is_scanned_and_rejects_the_pack(tmp_path):
    rows = [["child", "born", "nhs"], *[[name, "17/04/2011", NHS] for name in NAMES]]
    workbook(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", frames(), {"lookup": (rows, True)})
    con, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "direct_identifier" and "sheet 4 (hidden)" in outcome.message
    assert not any(name in stored_text(con) for name in NAMES)


def test_a_formula_with_no_calculated_value_is_quarantined_as_such(tmp_path):
    path = workbook(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", frames())
    book = openpyxl.load_workbook(path)
    book["cases"]["B3"] = "=B2+1"  # age of the second case: a formula Excel never calculated
    book.save(path)
    con, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded"
    assert con.execute("SELECT table_name, row_number, column_name, rule FROM quarantine "
                       "WHERE table_name = 'cases'").fetchall() == [("cases", 2, "age", "formula_without_value")]
    assert "formula" in con.execute("SELECT message FROM quarantine WHERE table_name = 'cases'").fetchone()[0]


def bomb(path: Path, sheet_xml: bytes) -> Path:
    """A real workbook whose cases sheet is replaced by the given XML (compressed as Excel would)."""
    real = workbook(tmp := path.with_suffix(".tmp.xlsx"), frames())
    with zipfile.ZipFile(real) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, sheet_xml if info.filename == "xl/worksheets/sheet1.xml" else data)
    tmp.unlink()
    return path


def test_a_workbook_that_decompresses_enormously_is_refused_before_it_is_read(tmp_path):
    rows = b'<row r="2"/>' * 2_000_000  # 24 MB of rows that compress to almost nothing
    xml = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>case_id</t></is></c></row>' + rows
           + b"</sheetData></worksheet>")
    bomb(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", xml)
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "over_limit" and "max_compression_ratio" in outcome.message


def test_a_sheet_larger_than_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    with_limits(monkeypatch, workbooks__sheet_xml_bytes=2_000)
    workbook(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", frames())
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "over_limit" and "workbooks.sheet_xml_bytes" in outcome.message


# --- CSV files built to break a reader ------------------------------------------------------------

def test_utf16_is_named_as_such(tmp_path):
    pack = write_folder(tmp_path / "inbox", frames())
    text = (pack / "cases.csv").read_text()
    (pack / "cases.csv").write_bytes(text.encode("utf-16"))
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "unreadable" and "UTF-16" in outcome.message


def test_a_line_longer_than_the_limit_is_refused_naming_the_line(tmp_path, monkeypatch):
    with_limits(monkeypatch, packs__line_bytes=4096, packs__field_chars=100_000)
    tables = frames()
    pack = write_folder(tmp_path / "inbox", tables)
    lines = (pack / "actions.csv").read_text().splitlines()
    lines[3] = lines[3] + "x" * 10_000
    (pack / "actions.csv").write_text("\n".join(lines) + "\n")
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "over_limit" and "line 4" in outcome.message and "packs.line_bytes" in outcome.message


def test_a_value_longer_than_the_limit_is_refused_naming_row_and_column(tmp_path):
    tables = frames()
    tables["cases"]["notes"] = ["short", "y" * 40_000, "", ""]
    write_folder(tmp_path / "inbox", tables)
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "over_limit" and "line 3" in outcome.message and "column 16" in outcome.message
    assert "packs.field_chars" in outcome.message and "yyyy" not in outcome.message


def test_an_unclosed_quote_is_refused_naming_its_line(tmp_path):
    pack = write_folder(tmp_path / "inbox", frames())
    lines = (pack / "meetings.csv").read_text().splitlines()
    lines[2] = lines[2].replace(",M2,", ',"M2,')
    (pack / "meetings.csv").write_text("\n".join(lines) + "\n")
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "unreadable" and "line 3" in outcome.message and "quote" in outcome.message


def test_too_many_columns_or_rows_are_refused_with_the_limit_named(tmp_path, monkeypatch):
    tables = frames()
    for i in range(200):
        tables["actions"][f"extra_{i}"] = ""
    write_folder(tmp_path / "inbox", tables)
    _, report = ingest(tmp_path, tmp_path / "inbox")
    assert "packs.columns_per_table" in only_outcome(report).message
    with_limits(monkeypatch, packs__rows_per_table=3)
    shutil.rmtree(tmp_path / "inbox")
    write_folder(tmp_path / "inbox", frames())
    _, report = ingest(tmp_path, tmp_path / "inbox", "second")
    outcome = only_outcome(report)
    assert outcome.rule == "over_limit" and "packs.rows_per_table" in outcome.message


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path, monkeypatch):
    with_limits(monkeypatch, packs__file_bytes=100)
    write_folder(tmp_path / "inbox", frames())
    _, report = ingest(tmp_path, tmp_path / "inbox")
    assert "packs.file_bytes" in only_outcome(report).message


def test_parquet_lists_are_read_as_code_lists_and_nested_records_refused(tmp_path):
    tables = frames()
    pack = write_folder(tmp_path / "inbox", {k: v for k, v in tables.items() if k != "cases"})
    cases = pa.Table.from_pandas(tables["cases"], preserve_index=False)
    harm = pa.array([v.split(";") for v in tables["cases"]["harm_types"]], pa.list_(pa.string()))
    ages = pa.array([float(a) for a in tables["cases"]["age"]])
    cases = cases.set_column(cases.schema.get_field_index("harm_types"), "harm_types", harm)
    cases = cases.set_column(cases.schema.get_field_index("age"), "age", ages)
    pq.write_table(cases, pack / "cases.parquet")
    con, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded"
    assert con.execute("SELECT harm_types FROM cases ORDER BY age LIMIT 1").fetchone()[0] == ["online"]
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    con.close()
    nested = cases.append_column("detail", pa.array([{"a": 1}] * len(cases)))
    pq.write_table(nested, pack / "cases.parquet")
    _, report = ingest(tmp_path, tmp_path / "inbox", "second")
    outcome = only_outcome(report)
    assert outcome.rule == "unreadable" and "cannot be read" in outcome.message


# --- neither followed nor trusted -----------------------------------------------------------------

def test_links_are_never_followed_out_of_the_pack_or_the_inbox(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    frames()["cases"].to_csv(outside / "cases.csv", index=False)
    pack = write_folder(tmp_path / "inbox", {k: v for k, v in frames().items() if k != "cases"})
    (pack / "cases.csv").symlink_to(outside / "cases.csv")
    (tmp_path / "inbox" / "E06000002_2025Q3").symlink_to(outside)
    os.symlink("/etc", tmp_path / "inbox" / "E06000003_2025Q3")
    con, report = ingest(tmp_path, tmp_path / "inbox")
    assert [(o.status, o.rule) for o in report.outcomes] == [("rejected", "link")] * 3
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 0


def test_hidden_folders_are_reported_not_skipped(tmp_path):
    write_folder(tmp_path / "inbox", frames(), name=".E06000001_2025Q3")
    (tmp_path / "inbox" / ".DS_Store").write_bytes(b"\0")
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "hidden_folder" and "unnamed folder" in outcome.source


def test_a_workbook_of_random_bytes_is_a_plain_rejection(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "E06000001_2025Q3.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(4096))
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "unreadable" and "Excel workbook" in outcome.message


def test_every_limit_is_explained_in_the_security_docs():
    text = (Path(__file__).parents[1] / "docs" / "security.md").read_text()
    for section, values in limits().items():
        for name in values:
            assert f"`{section}.{name}`" in text, f"{section}.{name} is not in docs/security.md"


def test_validate_lists_the_first_problems_and_counts_the_rest_by_rule(tmp_path, monkeypatch):
    from checks.pack_validation import validate_pack

    monkeypatch.setattr("checks.pack_validation.problems_listed", lambda: 3)
    tables = frames()
    tables["meetings"] = pd.concat([tables["meetings"]] * 4, ignore_index=True)
    tables["meetings"]["meeting_id"] = [f"M{i}" for i in range(len(tables["meetings"]))]
    tables["meetings"]["meeting_type"] = "lunch"
    pack = write_folder(tmp_path, tables)
    report = validate_pack(pack)
    assert report.status == "quarantine" and len(report.problems) == 3
    assert report.problems_total == 20 and report.problems_by_rule == {"vocabulary": 20}
    assert "and 17 more. By rule: vocabulary 20." in report.to_text()


# --- files that used to crash the run -------------------------------------------------------------

def test_old_mac_line_endings_are_read(tmp_path):
    pack = write_folder(tmp_path / "inbox", frames())
    (pack / "cases.csv").write_bytes((pack / "cases.csv").read_bytes().replace(b"\n", b"\r"))
    con, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded"
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 4


def test_a_short_row_read_again_is_scanned_once(tmp_path):
    """A file read again the slow way (a short row) must not count its values twice in the scan."""
    tables = ten_cases()
    tables["cases"]["notes"] = ["Amelia Jones", "Noah Taylor", "Isla Brown", "Oliver Smith"] + ["x"] * 6  # 40%
    pack = write_folder(tmp_path / "inbox", tables)
    text = (pack / "cases.csv").read_text().splitlines()
    text[-1] = text[-1].rsplit(",", 1)[0]  # the last row drops its trailing field
    (pack / "cases.csv").write_text("\n".join(text) + "\n")
    _, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded"  # 40% of names is under the 50% share, read once


def test_a_corrupt_workbook_header_is_a_rejection(tmp_path):
    path = workbook(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", frames())
    sheet = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             b'<sheetData><row r="1"><c r="A1" t="s"><v>99999</v></c></row></sheetData></worksheet>')
    bomb(path.with_name("E06000002_2025Q3.xlsx"), sheet)  # a shared string that is not there
    path.unlink()
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "unreadable" and "Excel workbook" in outcome.message


def test_a_pipe_in_a_pack_is_refused_without_being_opened(tmp_path):
    pack = write_folder(tmp_path / "inbox", {k: v for k, v in frames().items() if k != "cases"})
    os.mkfifo(pack / "cases.csv")  # opening it would wait for ever
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "unreadable" and "not a plain file" in outcome.message


def test_cover_sheets_and_summary_sheets_do_not_stop_a_workbook(tmp_path):
    cover = [[None], [None], ["Quarterly export"], [None, None, "Prepared by the data team"]]
    summary = [["Total", "Total"], [4, 5]]
    workbook(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", frames(),
             {"Cover": (cover, False), "Summary": (summary, False)})
    _, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded", only_outcome(report).message


@pytest.mark.parametrize("where", ["cases", "other"])
def test_cells_beyond_the_header_are_scanned(tmp_path, where):
    path = workbook(tmp_path / "inbox" / "E06000001_2025Q3.xlsx", frames(),
                    {"notes": ([["note"], ["ok"]], False)})
    book = openpyxl.load_workbook(path)
    book["cases" if where == "cases" else "notes"]["AD3"] = f"see {NHS}"
    book.save(path)
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "direct_identifier" and "NHS numbers" in outcome.message


def test_a_mapped_pack_does_not_report_its_mapped_columns_as_dropped(tmp_path, monkeypatch):
    from assets.profiles import load_profile

    root = Path(__file__).parents[1]
    profile = load_profile(root / "config" / "profiles" / "example-caseworks.yaml")
    monkeypatch.setattr("assets.ingest.profiles_for", lambda la_code: [profile])  # as if it named the LA
    shutil.copytree(root / "tests" / "fixtures" / "profile_packs" / "example-caseworks", tmp_path / "inbox")
    con, report = ingest(tmp_path, tmp_path / "inbox")
    assert only_outcome(report).status == "loaded"
    message = con.execute("SELECT message FROM submissions").fetchone()[0]
    assert "outside the contract" not in message, message


def test_a_dictionary_parquet_value_over_the_limit_is_refused_before_it_is_decoded(tmp_path):
    tables = frames()
    pack = write_folder(tmp_path / "inbox", {k: v for k, v in tables.items() if k != "cases"})
    cases = pa.Table.from_pandas(tables["cases"], preserve_index=False)
    cases = cases.append_column("notes", pa.array(["z" * 40_000] * len(cases)).dictionary_encode())
    pq.write_table(cases, pack / "cases.parquet")
    _, report = ingest(tmp_path, tmp_path / "inbox")
    outcome = only_outcome(report)
    assert outcome.rule == "over_limit" and "packs.field_chars" in outcome.message
