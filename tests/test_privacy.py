"""Direct identifiers never get in: the scan, the key, and what is left on disk after a rejection."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from assets.identifiers import find_identifiers, nhs_check_digit_ok, scan_pack
from assets.reading import PackRejected, RawTable
from assets.secret import load_secret

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
CLI = str(Path(sys.executable).parent / "safeguarding-audit")


def tables_with(column: str, values: list[str], table: str = "cases") -> dict[str, RawTable]:
    frame = pd.read_csv(FIXTURE / f"{table}.csv", dtype=str, keep_default_na=False)
    frame[column] = (values * len(frame))[: len(frame)]
    return {table: RawTable(table, f"{table}.csv", frame)}


@pytest.mark.parametrize("column,values,kind", [
    ("contact", ["amelia.jones@example.org", ""], "email"),
    ("ref2", ["943 476 5919", "401 023 2137"], "nhs_number"),  # valid check digits
    ("notes", ["A123456789012"], "upn"),
    ("where", ["SW1A 1AA"], "postcode"),
    ("number", ["07700 900123", "+44 7700 900456"], "phone"),
    ("born", ["2010-03-04", "12/05/2011"], "date_of_birth"),
    ("home", ["12 Acacia Avenue", "3 Mill Lane, Leeds"], "address"),
    ("who", ["Amelia Jones", "Noah O'Brien"], "personal_name"),
    ("child_name", ["x"], "personal_name"),
    ("DOB", ["x"], "date_of_birth"),
    ("Post Code", ["x"], "postcode"),
    ("NHS_No", ["x"], "nhs_number"),
])
def test_each_identifier_kind_is_found_by_name_or_values(column, values, kind):
    findings = find_identifiers(tables_with(column, values))
    # Named by position: the column's name is not the contract's, and could itself identify someone.
    assert [(f.column, f.position, f.kind) for f in findings] == [(None, 16, kind)]


def test_rejection_message_names_table_column_and_kind_but_never_the_value():
    with pytest.raises(PackRejected) as caught:
        scan_pack(tables_with("contact", ["amelia.jones@example.org"]))
    message = caught.value.message
    assert caught.value.rule == "direct_identifier"
    assert "column 16" in message and "'cases'" in message and "e-mail" in message and "contact" not in message
    assert "amelia" not in message.lower()


def test_ordinary_references_and_codes_are_not_mistaken_for_identifiers():
    # Ten-digit numeric case references: about one in eleven passes the NHS check by chance.
    ids = [f"{n:010d}" for n in range(4_000_000_000, 4_000_000_040)]
    tables = tables_with("case_id", ids)
    assert sum(nhs_check_digit_ok(i) for i in ids) >= 1
    assert find_identifiers(tables) == []
    assert find_identifiers({"cases": RawTable("cases", "cases.csv", pd.read_csv(
        FIXTURE / "cases.csv", dtype=str, keep_default_na=False))}) == []


def test_nhs_check_digit():
    assert nhs_check_digit_ok("9434765919")
    assert not nhs_check_digit_ok("9434765918")
    assert not nhs_check_digit_ok("123")


def test_key_file_is_created_once_and_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("SAFEGUARDING_AUDIT_KEY")
    key_file = tmp_path / "secret" / "case_key.secret"
    first = load_secret(key_file)
    assert len(first) == 64 and load_secret(key_file) == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.chmod(0o644)
    with pytest.raises(PermissionError):
        load_secret(key_file)
    monkeypatch.setenv("SAFEGUARDING_AUDIT_KEY", "from-environment")
    assert load_secret(key_file) == b"from-environment"


def test_a_pack_with_names_leaves_no_trace_anywhere_under_home(tmp_path):
    inbox, home = tmp_path / "inbox", tmp_path / "home"
    pack = inbox / "E06000002_2025Q3"
    shutil.copytree(FIXTURE, pack)
    names = ["Amelia Jones", "Oliver Smith", "Isla Brown", "Noah Taylor"]
    cases = pd.read_csv(pack / "cases.csv", dtype=str, keep_default_na=False)
    cases["child_name"] = names
    cases.to_csv(pack / "cases.csv", index=False)
    shutil.copytree(FIXTURE, inbox / "E06000001_2025Q3")  # a clean pack beside it loads

    result = subprocess.run([CLI, "run", "--home", str(home), "--inbox", str(inbox)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "column 16" in result.stderr and "personal names" in result.stderr
    for value in names + ["A1", "M1", "X1"]:
        assert value not in result.stdout + result.stderr.replace("E06000001_2025Q3", "")
    files = [f for f in home.rglob("*") if f.is_file()]
    assert any(f.name == "warehouse.duckdb" for f in files)
    for file in files:
        data = file.read_bytes()
        for value in names:
            assert value.encode() not in data, (file, value)


def test_an_identifier_pattern_the_scan_cannot_run_is_refused_by_name():
    from assets.identifiers import identifier_kind

    assert identifier_kind("ok", {"label": "x", "value_pattern": r"\d{3}"}).value_pattern == r"\d{3}"
    with pytest.raises(ValueError, match="value_pattern of 'lookahead' is not RE2 syntax"):
        identifier_kind("lookahead", {"label": "x", "value_pattern": r"(?=\d)\d+"})


def test_context_references_leave_no_trace_anywhere_under_home(tmp_path):
    """A v1.1 pack's context_id values reach no file of the audit home: not the warehouse, the
    Dagster instance's run and event storage, the site, the exports nor the run's output."""
    inbox, home = tmp_path / "inbox", tmp_path / "home"
    pack = inbox / "E06000002_2025Q3"
    shutil.copytree(Path(__file__).parent / "fixtures" / "context_pack" / pack.name, pack)
    references = {"P1": "CTXPARK0071", "G1": "CTXPEER0072", "S1": "CTXSCHL0073", "O1": "CTXONLN0074"}
    for table in ("contexts", "case_contexts", "meetings", "actions"):
        frame = pd.read_csv(pack / f"{table}.csv", dtype=str, keep_default_na=False)
        frame["context_id"] = frame["context_id"].replace(references)
        frame.to_csv(pack / f"{table}.csv", index=False)
    result = subprocess.run([CLI, "run", "--home", str(home), "--inbox", str(inbox)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    files = [f for f in home.rglob("*") if f.is_file()]
    assert any(f.suffix == ".html" for f in files) and any("dagster" in f.parts for f in files)
    for file in files:
        data = file.read_bytes()
        for value in references.values():
            assert value.encode() not in data, (file, value)
    for value in references.values():
        assert value not in result.stdout + result.stderr
