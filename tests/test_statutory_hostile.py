"""Statutory returns built to break the readers: each is rejected on its own, with the file, the rule
and the limit named and no value from the file shown, and the rest of the run goes on. The inputs
are generated here and kept small; limits are lowered for the test where a real-sized input would
be large (bench/hostile_statutory.py reads the full-size files)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from assets import config, warehouse
from assets.cin_census import read_cin_census
from assets.reading import PackRejected
from assets.statutory import ingest_statutory, rejected_returns
from checks.pack_validation import validate_pack

CLI = str(Path(sys.executable).parent / "safeguarding-audit")
FIXTURES = Path(__file__).parent / "fixtures"
SECRET = b"hostile-test-secret"
LA = "E06000001"  # Hartlepool, old LA code 805
CHILD_ID = "HOSTILE-ID-42"  # must never appear in a message
BORN = "2010-05-01"

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
MISSING_CSV = f"CHILD,DOB,MISSING,MIS_START,MIS_END\n{CHILD_ID},01/05/2010,M,01/06/2024,03/06/2024\n"


def cin(identifiers: str = "", ethnicity: str = "WBRI", details: str | None = None, prolog: str = "") -> str:
    """A one-child CIN census return for LA 805, 2025; `identifiers` go inside ChildIdentifiers."""
    if details is None:
        details = ("<CINdetails><CINreferralDate>2024-06-01</CINreferralDate><ReferralSource>6</ReferralSource>"
                   "<PrimaryNeedCode>N1</PrimaryNeedCode><ReferralNFA>false</ReferralNFA></CINdetails>")
    return (f"{prolog or DECLARATION}\n"
            "<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2025</Year>"
            "<ReferenceDate>2025-03-31</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel>"
            "<LEA>805</LEA></Source></Header><Children>\n"
            f"<Child><ChildIdentifiers><LAchildID>{CHILD_ID}</LAchildID>{identifiers}"
            f"<PersonBirthDate>{BORN}</PersonBirthDate><Sex>F</Sex></ChildIdentifiers>"
            f"<ChildCharacteristics><Ethnicity>{ethnicity}</Ethnicity><Disabilities><Disability>NONE</Disability>"
            f"</Disabilities></ChildCharacteristics>{details}</Child>\n"
            "</Children></Message>\n")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ssda903(folder: Path, missing: str = MISSING_CSV, **files: str) -> Path:
    """An SSDA903 return folder for LA, 2025."""
    folder = folder / f"{LA}_2025_ssda903"
    write(folder / "missing.csv", missing)
    for name, text in files.items():
        write(folder / f"{name}.csv", text)
    return folder


def rejection(path: Path) -> PackRejected:
    with pytest.raises(PackRejected) as error:
        read_cin_census(path, SECRET)
    assert CHILD_ID not in error.value.message and BORN not in error.value.message
    return error.value


@pytest.fixture
def limits(monkeypatch):
    """Lower some of the statutory limits (config/limits.yaml) for one test."""
    def lower(**statutory):
        lowered = copy.deepcopy(config.limits())
        lowered["statutory"].update(statutory)
        monkeypatch.setattr(config, "limits", lambda: lowered)
    return lower


@pytest.fixture
def con(tmp_path):
    connection = warehouse.connect(tmp_path / "warehouse.duckdb")
    yield connection
    connection.close()


def submissions(con) -> dict[str, tuple]:
    return {source: (status, rule, message) for source, status, rule, message in con.execute(
        "SELECT source, status, rule, message FROM statutory_submissions").fetchall()}


# --- a reader error is a recorded rejection, and the run goes on ------------------------------

def test_ssda903_without_dob_is_rejected_and_the_other_returns_load(tmp_path, con):
    inbox = tmp_path / "statutory"
    write(inbox / "census.xml", cin())
    ssda903(inbox, MISSING_CSV.replace("DOB,", "").replace("01/05/2010,", ""))
    outcomes = {o.source: o for o in ingest_statutory(con, inbox, SECRET)}
    assert (outcomes["census.xml"].status, outcomes[f"{LA}_2025_ssda903"].status) == ("loaded", "rejected")
    status, rule, message = submissions(con)[f"{LA}_2025_ssda903"]
    assert (status, rule) == ("rejected", "missing_column")
    assert message.startswith(f"{LA}_2025_ssda903/missing.csv: there is no DOB column")
    assert CHILD_ID not in message and "01/06/2024" not in message
    assert con.execute("SELECT count(*) FROM cin_children").fetchone()[0] == 1
    # The next run skips the rejected file, and still counts it as rejected until it is fixed.
    assert {o.source: o.status for o in ingest_statutory(con, inbox, SECRET)} \
        == {"census.xml": "unchanged", f"{LA}_2025_ssda903": "unchanged"}
    assert rejected_returns(con, inbox) == [f"{LA}_2025_ssda903"]
    ssda903(inbox)
    assert {o.source: o.status for o in ingest_statutory(con, inbox, SECRET)} \
        == {"census.xml": "unchanged", f"{LA}_2025_ssda903": "loaded"}
    assert rejected_returns(con, inbox) == []


@pytest.mark.parametrize("table", ["episodes", "header"])
def test_every_column_the_reader_uses_must_be_there(tmp_path, table):
    files = {"episodes": "CHILD,DECOM\nK1,01/01/2024\n", "header": "CHILD,DOB\nK1,01/05/2010\n"}
    if table == "header":
        files["episodes"] = "CHILD,DECOM,DEC\nK1,01/01/2024,\n"
    report = validate_pack(ssda903(tmp_path, **files))
    assert report.status == "rejected" and report.rejection["rule"] == "missing_column"
    assert report.rejection["column"] == {"episodes": "DEC", "header": "SEX"}[table]


def test_an_unforeseen_error_is_recorded_as_unreadable_naming_only_its_type(tmp_path, con, monkeypatch):
    import assets.ssda903

    def broken_reader(folder, secret):
        raise ValueError(f"could not parse {CHILD_ID}")

    monkeypatch.setattr(assets.ssda903, "read_missing_return", broken_reader)
    inbox = tmp_path / "statutory"
    ssda903(inbox)
    write(inbox / "census.xml", cin())
    outcomes = {o.source: o.status for o in ingest_statutory(con, inbox, SECRET)}
    assert outcomes == {f"{LA}_2025_ssda903": "rejected", "census.xml": "loaded"}
    status, rule, message = submissions(con)[f"{LA}_2025_ssda903"]
    assert (status, rule) == ("rejected", "unreadable")
    assert "(ValueError)" in message and CHILD_ID not in message
    report = validate_pack(inbox / f"{LA}_2025_ssda903")
    assert report.rejection["rule"] == "unreadable" and CHILD_ID not in report.to_json()


# --- bounded SSDA903 CSV -----------------------------------------------------------------------

def test_a_field_over_the_limit_rejects_the_return_naming_column_and_row(tmp_path, limits):
    limits(field_chars=40)
    long_id = "L" * 41
    missing = MISSING_CSV + f"{long_id},01/05/2010,M,02/06/2024,03/06/2024\n"
    report = validate_pack(ssda903(tmp_path, missing))
    assert report.status == "rejected" and report.rejection["rule"] == "over_limit"
    message = report.rejection["message"]
    assert "column CHILD, row 2" in message and "statutory.field_chars" in message and "40 characters" in message
    assert long_id not in message and CHILD_ID not in message


def test_a_field_over_the_csv_modules_own_limit_is_a_rejection_not_a_crash(tmp_path, con):
    # 131,073 characters, and a short row: the CSV reader's slow path, which has a field limit of its own.
    missing = MISSING_CSV + f"{CHILD_ID},01/05/2010,M,02/06/2024,\"{'Q' * 131_073}\"\n{CHILD_ID},01/05/2010\n"
    inbox = tmp_path / "statutory"
    ssda903(inbox, missing)
    assert [(o.status, o.kind) for o in ingest_statutory(con, inbox, SECRET)] == [("rejected", "ssda903")]
    status, rule, message = submissions(con)[f"{LA}_2025_ssda903"]
    assert rule in ("unreadable", "over_limit") and "statutory.field_chars" in message
    assert "QQQQ" not in message and CHILD_ID not in message


def test_a_csv_over_the_size_limit_is_not_read(tmp_path, limits):
    limits(csv_file_bytes=len(MISSING_CSV) - 1)
    report = validate_pack(ssda903(tmp_path))
    assert report.rejection["rule"] == "over_limit"
    assert "statutory.csv_file_bytes" in report.rejection["message"]


# --- bounded CIN XML ---------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["x-unknown", "shift_jis", "rot13"])
def test_an_unknown_declared_encoding_is_rejected(tmp_path, con, encoding):
    inbox = tmp_path / "statutory"
    write(inbox / "census.xml", cin(prolog=f'<?xml version="1.0" encoding="{encoding}"?>'))
    assert rejection(inbox / "census.xml").rule == "unreadable"
    assert [o.status for o in ingest_statutory(con, inbox, SECRET)] == ["rejected"]
    _, rule, message = submissions(con)["census.xml"]
    assert rule == "unreadable" and "encoding" in message and encoding not in message


@pytest.mark.parametrize("levels", [100, 10_000])
def test_nesting_deeper_than_the_limit_is_rejected(tmp_path, levels):
    path = write(tmp_path / "deep.xml", cin(identifiers="<UPN>" * levels + "</UPN>" * levels))
    error = rejection(path)
    assert error.rule == "over_limit"
    assert "an element is nested deeper than 24 levels (config/limits.yaml statutory.xml_depth)" in error.message


def test_stray_text_is_checked_without_recursion(tmp_path, limits):
    limits(xml_depth=20_000)
    # The stray text sits 10,000 levels down, in an element that also holds another.
    nested = "<Disabilities>" * 10_000 + "stray<Disabilities/>" + "</Disabilities>" * 10_000
    result = read_cin_census(write(tmp_path / "deep.xml", cin(identifiers=nested)), SECRET)
    assert len(result.children) == 1
    assert "stray_text" in set(result.quarantine["rule"])


def test_text_over_the_limit_is_rejected_as_it_arrives(tmp_path, limits):
    limits(xml_text_chars=1000)
    assert len(read_cin_census(write(tmp_path / "ok.xml", cin(identifiers="<UPN>" + "A" * 1000 + "</UPN>")),
                               SECRET).children) == 1
    for name, text in [("plain", "A" * 1001), ("references", "&#65;" * 1001), ("cdata", f"<![CDATA[{'A' * 1001}]]>")]:
        error = rejection(write(tmp_path / f"{name}.xml", cin(identifiers=f"<UPN>{text}</UPN>")))
        assert error.rule == "over_limit", name
        assert "more than 1000 characters of text (config/limits.yaml statutory.xml_text_chars)" in error.message
        assert "AAAA" not in error.message


def test_more_attributes_than_the_limit_are_rejected(tmp_path, limits):
    limits(xml_attributes=4, xml_text_chars=100)
    few = " ".join(f'a{n}="{n}"' for n in range(4))
    assert len(read_cin_census(write(tmp_path / "ok.xml", cin(identifiers=f"<UPN {few}/>")), SECRET).children) == 1
    many = " ".join(f'a{n}="{CHILD_ID}"' for n in range(10))
    error = rejection(write(tmp_path / "many.xml", cin(identifiers=f"<UPN {many}/>")))
    assert error.rule == "over_limit"
    assert "more than 4 attributes (config/limits.yaml statutory.xml_attributes)" in error.message
    # So many that the tag alone is longer than any element within the limits could be: refused while
    # the parser is still holding it, before it becomes a table of attributes.
    huge = " ".join(f'a{n}=""' for n in range(50_000))
    error = rejection(write(tmp_path / "huge.xml", cin(identifiers=f"<UPN {huge}/>")))
    assert error.rule == "over_limit" and "statutory.xml_attributes" in error.message


def test_more_elements_in_one_child_than_the_limit_are_rejected(tmp_path, limits):
    limits(xml_elements_per_child=40)
    error = rejection(write(tmp_path / "wide.xml", cin(identifiers="<UPN/>" * 40)))
    assert error.rule == "over_limit"
    assert "one Child holds more than 40 elements (config/limits.yaml statutory.xml_elements_per_child)" \
        in error.message


def test_a_file_over_the_size_limit_is_not_read(tmp_path, limits):
    path = write(tmp_path / "census.xml", cin())
    limits(xml_file_bytes=path.stat().st_size - 1)
    error = rejection(path)
    assert error.rule == "over_limit" and "statutory.xml_file_bytes" in error.message


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE Message [<!ENTITY id "ENTITY-VALUE">]>',
    '<!DOCTYPE Message [<!ENTITY id SYSTEM "file:///etc/hostname">]>',
    '<!DOCTYPE Message [<!ENTITY a "ENTITY-VALUE"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY id "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    '<!DOCTYPE Message SYSTEM "http://example.invalid/cin.dtd">',
])
def test_a_doctype_is_refused_and_no_entity_is_expanded(tmp_path, doctype):
    xml = cin(prolog=DECLARATION + doctype).replace(
        f"<LAchildID>{CHILD_ID}", "<LAchildID>&id;")
    error = rejection(write(tmp_path / "census.xml", xml))
    assert error.rule == "not_well_formed" and "DOCTYPE" in error.message
    assert "ENTITY-VALUE" not in error.message


def test_an_undefined_entity_is_not_well_formed(tmp_path):
    error = rejection(write(tmp_path / "census.xml", cin().replace("<LAchildID>", "<LAchildID>&id;")))
    assert error.rule == "not_well_formed" and "undefined entity at line 3" in error.message


def test_the_bounded_reader_still_streams(tmp_path):
    path = tmp_path / "many.xml"
    head, tail = cin().split("<Child>", 1)
    one = "<Child>" + tail.split("</Children>", 1)[0]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head)
        for n in range(5_000):
            handle.write(one.replace(CHILD_ID, f"K{n}"))
        handle.write("</Children></Message>\n")
    started = time.perf_counter()
    result = read_cin_census(path, SECRET)
    assert len(result.children) == 5_000 and result.rows_read["cin_episodes"] == 5_000
    assert time.perf_counter() - started < 30


# --- validate counts rows, not problems --------------------------------------------------------

def test_validate_counts_cin_rows_apart_from_problems(tmp_path):
    details = ("<CINdetails><CINreferralDate>2024-06-01</CINreferralDate><ReferralSource>6</ReferralSource>"
               "<Assessments><AssessmentActualStartDate>not a date</AssessmentActualStartDate>"
               "<FactorsIdentifiedAtAssessment><AssessmentFactors>10A</AssessmentFactors>"
               "</FactorsIdentifiedAtAssessment></Assessments>"
               "<ReferralNFA>false</ReferralNFA></CINdetails>")
    report = validate_pack(write(tmp_path / "census.xml", cin(ethnicity="ZZZZ", details=details)))
    assert report.status == "quarantine" and report.exit_code == 1
    counts = json.loads(report.to_json())["counts"]
    # The unknown ethnicity code only leaves the value out: the child still loads.
    assert counts["cin_children"] == {"rows": 1, "would_load": 1, "would_quarantine": 0, "problems": 1}
    assert counts["cin_episodes"] == {"rows": 1, "would_load": 1, "would_quarantine": 0, "problems": 0}
    # The assessment without a usable start date is not loaded: two problems, one row.
    assert counts["cin_assessments"] == {"rows": 1, "would_load": 0, "would_quarantine": 1, "problems": 2}
    text = report.to_text()
    assert "cin_children: 1 row(s) read; 1 would load, 0 would not load (quarantined); 1 problem(s) found" in text
    assert "census.xml Child 1, element Ethnicity [vocabulary]" in text
    assert "ZZZZ" not in text and CHILD_ID not in text


def test_validate_counts_ssda903_rows_once_however_many_problems(tmp_path):
    missing = MISSING_CSV + f"{CHILD_ID},01/05/2010,X,,\n"  # unknown MISSING code and no start: two problems
    missing += f"{CHILD_ID},01/05/2010,M,01/07/2024,01/06/2024\n"  # ends before it starts: one
    report = validate_pack(ssda903(tmp_path, missing, episodes="CHILD,DECOM,DEC\nK1,,\n"))
    assert report.counts["ssda903_missing"] == {"rows": 3, "would_load": 1, "would_quarantine": 2, "problems": 3}
    assert "ssda903_missing: 3 row(s) read; 1 would load, 2 would not load (quarantined)" in report.to_text()


# --- the command line --------------------------------------------------------------------------

def test_run_exits_1_and_publishes_when_a_statutory_return_is_rejected(audit_home):
    shutil.copytree(FIXTURES / "tiny_pack" / "E06000001_2025Q3", audit_home / "inbox" / "E06000001_2025Q3")
    ssda903(audit_home / "statutory", MISSING_CSV.replace("DOB,", "").replace("01/05/2010,", ""))
    result = subprocess.run([CLI, "run", "--home", str(audit_home)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert f"{LA}_2025_ssda903" in result.stderr and "Traceback" not in result.stderr
    assert (audit_home / "site" / "index.html").exists()
    with duckdb.connect(str(audit_home / "warehouse.duckdb"), read_only=True) as db:
        assert db.execute("SELECT status, rule FROM statutory_submissions").fetchall() == [
            ("rejected", "missing_column")]
        assert db.execute("SELECT status FROM submissions").fetchall() == [("loaded",)]


@pytest.mark.parametrize("name", ["Amelia Jones.xml", "AMELIA_JONES.xml", "Jones, Amelia.xml"])
def test_a_return_named_after_a_child_is_stored_without_its_name(tmp_path, con, name):
    inbox = tmp_path / "statutory"
    write(inbox / name, cin(details="<Bogus/>"))  # loads, with one problem
    write(inbox / "CIN_Census_2025.xml", cin())  # a plain name is kept (same LA and year: it replaces)
    outcomes = {o.source: o.status for o in ingest_statutory(con, inbox, SECRET)}
    assert "CIN_Census_2025.xml" in outcomes
    assert [status for source, status in outcomes.items() if source.startswith("unnamed file")] == ["loaded"]
    stored = repr(con.execute("SELECT * FROM statutory_submissions").fetchall()
                  + con.execute("SELECT * FROM statutory_quarantine").fetchall())
    assert "amelia" not in stored.lower() and "jones" not in stored.lower()


def test_links_are_not_followed_in_the_statutory_inbox(tmp_path, con):
    inbox = tmp_path / "statutory"
    write(tmp_path / "elsewhere" / "census.xml", cin())
    folder = ssda903(inbox)
    (inbox / "census.xml").symlink_to(tmp_path / "elsewhere" / "census.xml")
    (folder / "missing.csv").unlink()
    write(tmp_path / "elsewhere" / "missing.csv", MISSING_CSV)
    (folder / "missing.csv").symlink_to(tmp_path / "elsewhere" / "missing.csv")
    outcomes = ingest_statutory(con, inbox, SECRET)
    assert sorted((o.status, o.kind) for o in outcomes) == [("rejected", "cin_census"), ("rejected", "ssda903")]
    assert sorted(rule for _, rule, _ in submissions(con).values()) == ["link", "link"]
    assert con.execute("SELECT count(*) FROM cin_children").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM ssda903_missing").fetchone()[0] == 0
