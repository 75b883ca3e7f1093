"""Loads are idempotent and atomic: the same inbox twice changes nothing, a corrected pack replaces
the old one without trace, and a load killed part-way leaves the previous state."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from assets import warehouse
from assets.ingest import ingest_inbox
from assets.scoring import score_pending

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
SECRET = b"test-key"
TABLES = ("submissions", "cases", "meetings", "actions", "quarantine", "case_indicators", "indicator_rates",
          "case_domain_scores", "pack_scores")


def state(con: duckdb.DuckDBPyConnection) -> dict:
    return {t: sorted(map(str, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}


def load(con, inbox):
    report = ingest_inbox(con, inbox, SECRET)
    score_pending(con)
    return report


def test_same_inbox_twice_gives_identical_tables(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(FIXTURE, inbox / FIXTURE.name)
    con = warehouse.connect(tmp_path / "w.duckdb")
    load(con, inbox)
    before = state(con)
    (inbox / FIXTURE.name / "cases.csv").touch()  # a newer file time alone is no change
    report = load(con, inbox)
    assert [o.status for o in report.outcomes] == ["unchanged"]
    assert state(con) == before


def test_corrected_pack_replaces_the_old_one_without_trace(tmp_path):
    inbox = tmp_path / "inbox"
    pack = inbox / FIXTURE.name
    shutil.copytree(FIXTURE, pack)
    con = warehouse.connect(tmp_path / "w.duckdb")
    load(con, inbox)
    old_keys = {r[0] for r in con.execute("SELECT case_key FROM cases").fetchall()}
    old_sha = con.execute("SELECT content_sha256 FROM submissions").fetchone()[0]
    # The LA corrects its references and drops case A4.
    for name in ("cases.csv", "meetings.csv", "actions.csv"):
        text = (pack / name).read_text().replace("A1,", "B1,").replace("A2,", "B2,").replace("A3,", "B3,")
        lines = [line for line in text.splitlines() if not line.startswith("A4,")]
        (pack / name).write_text("\n".join(lines) + "\n")
    report = load(con, inbox)
    assert [o.status for o in report.outcomes] == ["loaded"]
    new_keys = {r[0] for r in con.execute("SELECT case_key FROM cases").fetchall()}
    assert len(new_keys) == 3 and not new_keys & old_keys
    for table in ("cases", "meetings", "actions", "case_indicators", "case_domain_scores"):
        keys = {r[0] for r in con.execute(f"SELECT DISTINCT case_key FROM {table}").fetchall()}
        assert not keys & old_keys, table
    assert con.execute("SELECT count(*) FROM submissions WHERE content_sha256 = ?", [old_sha]).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM case_indicators").fetchone()[0] == 3 * 20
    assert con.execute("SELECT max(denominator) FROM indicator_rates WHERE indicator_id = 'OF1'").fetchone()[0] == 3


KILL_MID_LOAD = """
import os, signal, sys
from pathlib import Path
from assets import warehouse
from assets.ingest import ingest_inbox

real_register = None

def crash_after_cases(self, name, frame):
    # Called inside the load transaction: die for real once the cases rows are in.
    global real_register
    real_register(name, frame)
    schema = getattr(frame, "schema", None)  # an Arrow table or stream
    columns = list(schema.names if schema is not None else getattr(frame, "columns", []))
    if "meeting_type" in columns:  # meetings arriving: old rows deleted, new cases already inserted
        os.kill(os.getpid(), signal.SIGKILL)

con = warehouse.connect(sys.argv[1])
import duckdb
real_register = con.register
class Proxy:
    def __init__(self, con): self._con = con
    def __getattr__(self, name): return getattr(self._con, name)
    def register(self, name, frame): return crash_after_cases(self, name, frame)
ingest_inbox(Proxy(con), Path(sys.argv[2]), b"test-key")
"""


def test_a_load_killed_part_way_leaves_the_previous_state(tmp_path):
    inbox = tmp_path / "inbox"
    pack = inbox / FIXTURE.name
    shutil.copytree(FIXTURE, pack)
    db = tmp_path / "w.duckdb"
    con = warehouse.connect(db)
    load(con, inbox)
    before = state(con)
    con.close()
    # A corrected pack arrives; the process loading it is killed inside its transaction.
    (pack / "cases.csv").write_text((pack / "cases.csv").read_text().replace("A4,13,", "A4,12,"))
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_MID_LOAD), str(db), str(inbox)],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert result.returncode == -9, result.stderr
    con = warehouse.connect(db)
    assert state(con) == before
    # And the next run loads the corrected pack properly.
    assert [o.status for o in load(con, inbox).outcomes] == ["loaded"]
    assert con.execute("SELECT min(age) FROM cases").fetchone()[0] == 12


def test_packs_loaded_in_several_batches_give_the_same_tables_as_one(tmp_path):
    """Batching is only about speed and memory: the warehouse must not depend on the batch size,
    and a pack refused inside a batch (here for an identifier column) is refused alone."""
    inbox = tmp_path / "inbox"
    for code in ("E06000001", "E06000002", "E06000003", "E06000004"):
        shutil.copytree(FIXTURE, inbox / f"{code}_2025Q3")
    cases = inbox / "E06000003_2025Q3" / "cases.csv"
    lines = cases.read_text().splitlines()
    cases.write_text("\n".join([lines[0] + ",contact"] + [f"{line},amelia{n}@example.org"
                                                          for n, line in enumerate(lines[1:])]) + "\n")
    tables = {}
    for batch_rows in (10**9, 1):
        con = warehouse.connect(tmp_path / f"w{batch_rows}.duckdb")
        report = ingest_inbox(con, inbox, SECRET, batch_rows=batch_rows)
        assert [(o.source, o.status) for o in report.outcomes] == [
            ("E06000001_2025Q3", "loaded"), ("E06000002_2025Q3", "loaded"),
            ("E06000003_2025Q3", "rejected"), ("E06000004_2025Q3", "loaded")]
        tables[batch_rows] = {t: sorted(map(str, con.execute(f"SELECT * EXCLUDE (received_at) FROM {t}"
                                                             if t == "submissions" else f"SELECT * FROM {t}")
                                            .fetchall())) for t in TABLES[:5]}
        assert con.execute("SELECT count(*) FROM cases WHERE la_code = 'E06000003'").fetchone()[0] == 0
        con.close()
    assert tables[1] == tables[10**9]
    assert len(tables[1]["cases"]) == 3 * 4
