"""Contract v1.1: a pack's contexts and case_contexts tables, and context_id on meetings and
actions, load in every form, pseudonymised as context_key; their faults are quarantined with their
rule; a v1 pack of three tables loads as before."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets import warehouse
from assets.ingest import ingest_inbox
from assets.standardise import case_key, context_key

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT_PACK = FIXTURES / "context_pack" / "E06000002_2025Q3"
V1_PACK = FIXTURES / "tiny_pack" / "E06000001_2025Q3"
SECRET = b"test-key"
CONTEXT_IDS = ("P1", "G1", "S1", "O1")
LOADED_TABLES = ("cases", "meetings", "actions", "contexts", "case_contexts")


def ingest(tmp_path: Path, *packs: Path, name: str | None = None):
    inbox = tmp_path / "inbox"
    for pack in packs:
        target = inbox / (name or pack.name)
        if pack.is_dir():
            shutil.copytree(pack, target)
        else:
            inbox.mkdir(parents=True, exist_ok=True)
            shutil.copy(pack, target)
    con = warehouse.connect(tmp_path / "w.duckdb")
    return con, ingest_inbox(con, inbox, SECRET)


def rows(folder: Path, table: str) -> list[dict]:
    with open(folder / f"{table}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(folder: Path, table: str, records: list[dict]) -> None:
    with open(folder / f"{table}.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def as_workbook(folder: Path, target: Path) -> Path:
    """The CSV pack as one workbook of sheets, as an LA's export tool writes it."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for file in sorted(folder.glob("*.csv")):
        sheet = book.create_sheet(file.stem)
        with open(file, encoding="utf-8", newline="") as handle:
            for record in csv.reader(handle):
                sheet.append(record)
    book.save(target)
    return target


def as_xlsx_files(folder: Path, target: Path) -> Path:
    """The CSV pack as a folder of one workbook per table."""
    target.mkdir(parents=True)
    for file in folder.glob("*.csv"):
        book = openpyxl.Workbook()
        with open(file, encoding="utf-8", newline="") as handle:
            for record in csv.reader(handle):
                book.active.append(record)
        book.save(target / f"{file.stem}.xlsx")
    return target


def as_parquet(folder: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for file in folder.glob("*.csv"):
        with open(file, encoding="utf-8", newline="") as handle:
            header, *records = list(csv.reader(handle))
        pq.write_table(pa.table({c: [r[i] for r in records] for i, c in enumerate(header)}),
                       target / f"{file.stem}.parquet")
    return target


def loaded_rows(con) -> dict[str, list]:
    return {t: sorted(map(str, con.execute(f"SELECT * FROM {t}").fetchall())) for t in LOADED_TABLES}


def test_a_v1_1_pack_loads_its_contexts_keyed_by_context_key(tmp_path):
    con, report = ingest(tmp_path, CONTEXT_PACK)
    assert [(o.status, o.rows_quarantined) for o in report.outcomes] == [("loaded", 0)]
    keys = {context_key(SECRET, "E06000002", c): c for c in CONTEXT_IDS}
    contexts = con.execute("SELECT context_key, context_type, identified_date, risk_level_start, risk_level_end, "
                           "closed_date FROM contexts ORDER BY identified_date").fetchall()
    assert [(keys[k], t, str(d), s, e, c and str(c)) for k, t, d, s, e, c in contexts] == [
        ("P1", "location", "2025-06-20", "high", "medium", None),
        ("G1", "peer_group", "2025-07-01", None, None, None),
        ("S1", "school", "2025-07-15", "medium", "medium", "2025-09-10"),
        ("O1", "online", "2025-08-01", None, None, None)]
    cases = {case_key(SECRET, "E06000002", c): c for c in ("A1", "A2", "A3", "A4")}
    links = con.execute("SELECT case_key, context_key, link_type FROM case_contexts").fetchall()
    assert sorted((cases[a], keys[b], t) for a, b, t in links) == [
        ("A1", "P1", "harmed_at"), ("A1", "S1", "attends"), ("A2", "G1", "peer_group_member"),
        ("A2", "P1", "harmed_at"), ("A3", "G1", "peer_group_member")]
    about = con.execute("SELECT 'meeting', source_row, context_key FROM meetings WHERE context_key IS NOT NULL "
                        "UNION ALL SELECT 'action', source_row, context_key FROM actions "
                        "WHERE context_key IS NOT NULL ORDER BY ALL").fetchall()
    assert [(kind, row, keys[k]) for kind, row, k in about] == [
        ("action", 2, "P1"), ("action", 3, "P1"), ("action", 5, "P1"), ("action", 8, "P1"),
        ("action", 10, "S1"), ("action", 11, "S1"), ("meeting", 3, "P1")]
    assert con.execute("SELECT has_contexts, rows_received FROM submissions").fetchall() == [(True, 29)]


def test_raw_context_references_never_reach_the_warehouse(tmp_path):
    con, _ = ingest(tmp_path, CONTEXT_PACK)
    for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                     "WHERE data_type = 'VARCHAR'").fetchall():
        found = con.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" IN ?', [list(CONTEXT_IDS)]).fetchall()
        assert found == [(0,)], f"{table}.{column}"
    assert "context_id" not in {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns").fetchall()}


@pytest.mark.parametrize("form", ["workbook", "xlsx files", "parquet"])
def test_every_form_of_the_pack_loads_the_same_rows(tmp_path, form):
    csv_con, _ = ingest(tmp_path / "csv", CONTEXT_PACK)
    expected = loaded_rows(csv_con)
    (tmp_path / "made").mkdir()
    if form == "workbook":
        made = as_workbook(CONTEXT_PACK, tmp_path / "made" / "E06000002_2025Q3.xlsx")
    elif form == "xlsx files":
        made = as_xlsx_files(CONTEXT_PACK, tmp_path / "made" / "E06000002_2025Q3")
    else:
        made = as_parquet(CONTEXT_PACK, tmp_path / "made" / "E06000002_2025Q3")
    con, report = ingest(tmp_path / form.replace(" ", "_"), made)
    assert [o.status for o in report.outcomes] == ["loaded"]
    assert loaded_rows(con) == expected
    assert len(expected["contexts"]) == 4 and len(expected["case_contexts"]) == 5


def test_a_v1_pack_without_contexts_loads_as_before(tmp_path):
    con, report = ingest(tmp_path, V1_PACK)
    assert [o.status for o in report.outcomes] == ["loaded"]
    assert "no case_contexts or contexts table (optional, contract v1.1)" in report.outcomes[0].message
    assert con.execute("SELECT has_contexts FROM submissions").fetchall() == [(False,)]
    assert con.execute("SELECT count(*) FROM contexts").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM meetings WHERE context_key IS NOT NULL").fetchall() == [(0,)]


def test_a_workbook_pack_may_leave_the_context_sheets_out(tmp_path):
    (tmp_path / "made").mkdir()
    con, report = ingest(tmp_path, as_workbook(V1_PACK, tmp_path / "made" / "E06000001_2025Q3.xlsx"))
    assert [o.status for o in report.outcomes] == ["loaded"]
    assert con.execute("SELECT has_contexts, cases_loaded FROM submissions").fetchall() == [(False, 4)]


def quarantined(con) -> list[tuple]:
    return con.execute("SELECT table_name, row_number, column_name, rule FROM quarantine ORDER BY ALL").fetchall()


def test_context_faults_are_quarantined_with_their_rule(tmp_path):
    pack = tmp_path / "src" / CONTEXT_PACK.name
    shutil.copytree(CONTEXT_PACK, pack)
    contexts = rows(pack, "contexts")
    contexts.append({**contexts[3], "context_id": "O2", "identified_date": "2025-10-01"})  # row 5: after the period
    contexts.append({**contexts[3], "context_id": "O3", "closed_date": "2025-07-01"})  # row 6: closed before found
    contexts.append({**contexts[3], "context_id": "O4", "context_type": "park"})  # row 7: not a context type
    contexts.append({**contexts[1]})  # row 8: G1 again
    write_rows(pack, "contexts", contexts)
    links = rows(pack, "case_contexts")
    links.append({**links[0]})  # row 6: A1-P1 again
    links.append({"case_id": "A4", "context_id": "NOPE", "link_type": ""})  # row 7: no such context
    links.append({"case_id": "A9", "context_id": "O1", "link_type": ""})  # row 8: no such case
    write_rows(pack, "case_contexts", links)
    actions = rows(pack, "actions")
    actions[8]["context_id"] = "NOPE"  # row 9
    write_rows(pack, "actions", actions)
    con, report = ingest(tmp_path, pack)
    assert [o.status for o in report.outcomes] == ["loaded"]
    assert quarantined(con) == [
        ("actions", 9, "context_id", "references"),
        ("case_contexts", 1, "context_id", "duplicate_link"), ("case_contexts", 3, "context_id", "context_quarantined"),
        ("case_contexts", 4, "context_id", "context_quarantined"), ("case_contexts", 6, "context_id", "duplicate_link"),
        ("case_contexts", 7, "context_id", "references"), ("case_contexts", 8, "case_id", "references"),
        ("contexts", 2, "context_id", "unique"), ("contexts", 5, "identified_date", "referral_after_period"),
        ("contexts", 6, "closed_date", "end_before_referral"), ("contexts", 7, "context_type", "vocabulary"),
        ("contexts", 8, "context_id", "unique")]
    # Every row is loaded or quarantined: of 8 contexts, P1, S1 and O1 load (G1 is there twice).
    assert con.execute("SELECT count(*) FROM contexts").fetchall() == [(3,)]
    assert con.execute("SELECT count(*) FROM case_contexts").fetchall() == [(2,)]
    messages = [m for (m,) in con.execute("SELECT message FROM quarantine").fetchall()]
    assert not any(ref in m for m in messages for ref in ("G1", "NOPE", "A9", "O2"))


def test_addresses_as_context_references_refuse_the_pack(tmp_path):
    pack = tmp_path / "src" / CONTEXT_PACK.name
    shutil.copytree(CONTEXT_PACK, pack)
    places = {"P1": "12 Station Road", "G1": "4 Park Lane", "S1": "7 Mill Street", "O1": "19 Church Close"}
    for table in ("contexts", "case_contexts", "meetings", "actions"):
        records = rows(pack, table)
        for record in records:
            record["context_id"] = places.get(record["context_id"], record["context_id"])
        write_rows(pack, table, records)
    con, report = ingest(tmp_path, pack)
    assert [(o.status, o.rule) for o in report.outcomes] == [("rejected", "direct_identifier")]
    assert "addresses" in report.outcomes[0].message and "Station" not in report.outcomes[0].message
    assert all(n == [] for n in loaded_rows(con).values())


def test_a_corrected_pack_replaces_its_contexts_and_a_rerun_changes_nothing(tmp_path):
    con, _ = ingest(tmp_path, CONTEXT_PACK)
    before = loaded_rows(con)
    assert [o.status for o in ingest_inbox(con, tmp_path / "inbox", SECRET).outcomes] == ["unchanged"]
    assert loaded_rows(con) == before
    pack = tmp_path / "inbox" / CONTEXT_PACK.name
    write_rows(pack, "case_contexts", rows(pack, "case_contexts")[:2])
    assert [o.status for o in ingest_inbox(con, tmp_path / "inbox", SECRET).outcomes] == ["loaded"]
    assert con.execute("SELECT count(*) FROM case_contexts").fetchall() == [(2,)]
    assert con.execute("SELECT count(*) FROM contexts").fetchall() == [(4,)]
