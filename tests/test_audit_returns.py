"""Audit returns are read, checked and loaded like packs: every bad answer quarantined or the
return rejected with the right rule, an identifier in a comment rejecting the return without
storing it, replacement in one transaction, and idempotency (docs/audits.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from assets import warehouse
from assets.audit_forms import return_form_name
from assets.audit_plan import plan_audit
from assets.audit_returns import ingest_audit_returns
from assets.audits import audit_tool
from assets.ingest import ingest_inbox
from assets.scoring import score_pending
from synth.packs import write_packs

SECRET = b"returns-test-key"
NHS_NUMBER = "943 476 5919"  # a valid check digit


@pytest.fixture
def audit(tmp_path):
    """A planned audit of 4 cases: (connection, audit folder)."""
    write_packs(tmp_path / "inbox", las=1, quarters=1, seed=8, cases_per_la=30, formats="csv")
    con = warehouse.connect(tmp_path / "warehouse.duckdb")
    ingest_inbox(con, tmp_path / "inbox", SECRET)
    score_pending(con)
    la, period = con.execute("SELECT la_code, period FROM submissions").fetchone()
    plan = plan_audit(con, tmp_path / "audits", la, period, 4, seed=2)
    yield con, plan.folder
    con.close()


def fill(folder: Path, agency: str, answer="good", name: str | None = None, edit=None) -> Path:
    """Fill an agency's form: every grade question `answer`, every yes/partly/no question 'partly';
    `edit(rows)` may change the rows (lists of cell values) first. Saved into returns/."""
    workbook = load_workbook(folder / return_form_name(agency))
    sheet = workbook["answers"]
    rows = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]
    for row in rows:
        row[5] = answer if row[4] == "grade" else "partly"
    if edit:
        edit(rows)
    sheet.delete_rows(2, sheet.max_row)
    for row in rows:
        sheet.append(row)
    path = folder / "returns" / (name or return_form_name(agency))
    workbook.save(path)
    return path


def answers(con, agency: str) -> list[tuple]:
    return con.execute("SELECT case_key, question_id, answer, value FROM audit_answers WHERE agency = ? "
                       "ORDER BY ALL", [agency]).fetchall()


def test_a_complete_return_loads_and_a_second_look_changes_nothing(audit):
    con, folder = audit
    fill(folder, "police")
    first = ingest_audit_returns(con, folder.parent)
    assert [(o.status, o.agency, o.quarantined) for o in first] == [("loaded", "police", 0)]
    expected = 4 * len(audit_tool().questions_for("police"))
    loaded = answers(con, "police")
    assert len(loaded) == first[0].answers == expected
    assert {(a, v) for _, _, a, v in loaded} == {("good", 3.0), ("partly", 1.0)}
    again = ingest_audit_returns(con, folder.parent)
    assert [o.status for o in again] == ["unchanged"] and answers(con, "police") == loaded


def test_bad_answers_are_quarantined_with_their_rule_and_the_rest_loads(audit):
    con, folder = audit
    not_police = next(q.id for q in audit_tool().questions if "police" not in q.agencies)

    def spoil(rows):
        rows[0][5] = "brilliant"  # answer_not_on_scale
        rows[1][5] = None  # no_answer
        rows[2][1] = "0123456789abcdef"  # case_not_sampled
        rows[3][2] = "ZZ-z"  # unknown_question
        rows[4][2] = not_police  # question_not_for_agency
        rows.append(list(rows[5]))  # duplicate_answer (both copies)
        rows[6][5] = "not_known"  # no value, but an answer

    fill(folder, "police", edit=spoil)
    [outcome] = ingest_audit_returns(con, folder.parent)
    assert outcome.status == "loaded" and outcome.quarantined == 7
    rules = con.execute("SELECT row_number, column_name, rule, message FROM audit_quarantine ORDER BY 1, 3").fetchall()
    last = 4 * len(audit_tool().questions_for("police")) + 1  # the appended copy
    assert [(r, c, rule) for r, c, rule, _ in rules] == [
        (1, "answer", "answer_not_on_scale"), (2, "answer", "no_answer"), (3, "case_key", "case_not_sampled"),
        (4, "question_id", "unknown_question"), (5, "question_id", "question_not_for_agency"),
        (6, "case_key", "duplicate_answer"), (last, "case_key", "duplicate_answer")]
    assert rules[0][3] == "row 1: answer is not one of the question's answers (the drop-down lists them)."
    assert all("brilliant" not in message and "0123456789abcdef" not in message for *_, message in rules)
    assert ("not_known", None) in {(a, v) for _, _, a, v in answers(con, "police")}


@pytest.mark.parametrize(("comment", "kind"), [
    (f"Health visitor noted NHS {NHS_NUMBER} on file", "NHS numbers"),
    ("Spoke to Amelia Jones about the flat", "personal names"),
    ("Mother's email is mum.smith@example.com", "e-mail addresses"),
])
def test_an_identifier_in_a_comment_rejects_the_return_and_stores_nothing_of_it(audit, comment, kind):
    con, folder = audit

    def add_comment(rows):
        rows[3][6] = comment

    fill(folder, "health", edit=add_comment)
    [outcome] = ingest_audit_returns(con, folder.parent)
    assert (outcome.status, outcome.rule) == ("rejected", "identifier_in_comment")
    assert "row 4, column comment" in outcome.message and kind in outcome.message
    assert comment not in outcome.message and not answers(con, "health")
    stored = [row for table in ("audit_returns", "audit_comments", "audit_quarantine")
              for row in con.execute(f"SELECT * FROM {table}").fetchall()]
    assert not any(comment in str(row) or NHS_NUMBER in str(row) for row in stored)


def test_comments_without_identifiers_are_kept_restricted(audit):
    con, folder = audit

    def add_comment(rows):
        rows[0][6] = "Good joint work with the Youth Justice Service and Early Help team"

    fill(folder, "education", edit=add_comment)
    [outcome] = ingest_audit_returns(con, folder.parent)
    assert outcome.status == "loaded"
    assert con.execute("SELECT comment FROM audit_comments").fetchall() == [
        ("Good joint work with the Youth Justice Service and Early Help team",)]


def test_whole_return_problems_are_rejections(audit):
    con, folder = audit
    fill(folder, "police")
    fill(folder, "police", name="police_v2.xlsx")  # duplicate_return
    fill(folder, "health", edit=lambda rows: rows[0].__setitem__(0, "police"))  # several_agencies
    (folder / "returns" / "education.csv").write_text("who,what\nme,this\n", encoding="utf-8")  # missing_column
    (folder / "returns" / "moderation_form (1).xlsx").write_bytes(b"not a workbook")  # unreadable
    with (folder / "returns" / "Fire Service for Amelia Jones.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["agency", "case_key", "question_id", "answer", "comment"])
        writer.writerow(["fire_service", "x", "PI-a", "good", ""])  # unknown_agency
    outcomes = {o.source_file: o for o in ingest_audit_returns(con, folder.parent)}
    rules = {("unnamed file" if name.startswith("unnamed file ") else name): o.rule for name, o in outcomes.items()}
    assert rules == {"moderation_form (1).xlsx": "unreadable", "unnamed file": "unknown_agency",
                     "education.csv": "missing_column", "police_v2.xlsx": "duplicate_return",
                     "return_police.xlsx": "duplicate_return", "return_health.xlsx": "several_agencies"}
    # A file name that could say who a child is never reaches the warehouse.
    assert "Amelia" not in str(con.execute("SELECT * FROM audit_returns").fetchall())
    assert not con.execute("SELECT count(*) FROM audit_answers").fetchone()[0]


def test_a_corrected_return_replaces_the_old_one_whole(audit):
    con, folder = audit
    fill(folder, "police", answer="inadequate")
    ingest_audit_returns(con, folder.parent)
    assert {a for _, _, a, _ in answers(con, "police")} == {"inadequate", "partly"}
    fill(folder, "police", answer="outstanding")
    [outcome] = ingest_audit_returns(con, folder.parent)
    assert outcome.status == "loaded"
    assert {a for _, _, a, _ in answers(con, "police")} == {"outstanding", "partly"}
    assert con.execute("SELECT count(*), min(status) FROM audit_returns WHERE agency = 'police'").fetchone() == (
        1, "loaded")


def test_a_long_csv_return_is_read_like_the_form(audit):
    con, folder = audit
    sample = [row["case_key"] for row in csv.DictReader((folder / "sample.csv").open(encoding="utf-8"))]
    path = folder / "returns" / "moderated.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["agency", "case_key", "question_id", "answer", "comment"])
        for key in sample:
            for question in audit_tool().questions:
                writer.writerow(["moderated", key, question.id, "GOOD" if question.scale == "grade" else "yes", ""])
    [outcome] = ingest_audit_returns(con, folder.parent)
    assert (outcome.status, outcome.agency, outcome.answers) == ("loaded", "moderated", 4 * len(audit_tool().questions))


def test_status_says_what_is_in_missing_and_rejected(audit):
    from assets.audit_returns import audit_status

    con, folder = audit
    fill(folder, "police")
    fill(folder, "health", edit=lambda rows: rows[0].__setitem__(6, f"NHS {NHS_NUMBER}"))
    fill(folder, "education", edit=lambda rows: rows[0].__setitem__(5, None))
    ingest_audit_returns(con, folder.parent)
    audit_id = folder.name
    states = {s.agency: s for s in audit_status(con, audit_id)}
    assert states["police"].state == "in" and states["police"].detail == "complete"
    assert states["health"].state == "rejected" and states["health"].detail.startswith("identifier_in_comment")
    assert states["education"].state == "in" and states["education"].quarantined == 1
    assert states["education"].detail.startswith("1 of ")
    assert states["moderated"].state == "missing" and states["youth_justice"].state == "missing"


def test_synthetic_returns_make_the_whole_cycle_with_findings_to_read(audit):
    """What `make demo` does after planning: every form filled, loaded cleanly, and findings in which
    the agencies agree more on parent inclusion than on the child's voice."""
    from assets.audit_findings import compute_findings
    from synth.audits import fill_audit_returns

    con, folder = audit
    scores = {(k, d): s for k, d, s in con.execute("SELECT case_key, domain, score FROM case_domain_scores "
                                                    "WHERE score IS NOT NULL").fetchall()}
    written = fill_audit_returns(folder, audit_tool(), scores, seed=4)
    assert len(written) == len(audit_tool().agencies) + 1
    outcomes = ingest_audit_returns(con, folder.parent)
    assert {(o.status, o.quarantined) for o in outcomes} == {("loaded", 0)}
    compute_findings(con, folder.name)
    alpha = dict(con.execute("SELECT question_id, krippendorff_alpha_ordinal FROM audit_agreement").fetchall())
    assert alpha["PI-a"] > alpha["VC-a"] and alpha["ALL-grade"] is not None
    judged = con.execute("SELECT domain, cases FROM audit_judgement_vs_data WHERE cases > 0").fetchall()
    assert judged


def test_the_moderation_check_warns_until_every_sampled_case_is_moderated(audit):
    from checks.asset_checks import moderation_complete

    con, folder = audit
    assert not moderation_complete(con).passed  # nothing moderated yet
    fill(folder, MODERATED_AGENCY, edit=lambda rows: rows.pop())  # one question of one case left out
    ingest_audit_returns(con, folder.parent)
    outcome = moderation_complete(con)
    assert not outcome.passed and outcome.metadata["audits_incomplete"] == 1
    fill(folder, MODERATED_AGENCY)
    ingest_audit_returns(con, folder.parent)
    assert moderation_complete(con).passed


MODERATED_AGENCY = "moderated"


def test_the_action_tracker_loads_checks_its_rows_and_refuses_a_name(audit):
    import datetime as dt

    from assets.audit_actions import ingest_action_trackers, overdue_sql
    from assets.audit_forms import ACTIONS_SHEET, TRACKER_FILE

    con, folder = audit

    def write(rows):
        workbook = load_workbook(folder / TRACKER_FILE)
        sheet = workbook[ACTIONS_SHEET]
        for number, row in enumerate(rows, start=2):
            for position, value in enumerate(row, start=1):
                sheet.cell(row=number, column=position, value=value)
        workbook.save(folder / TRACKER_FILE)

    past, later = dt.date.today() - dt.timedelta(days=3), dt.date.today() + dt.timedelta(days=30)
    write([("A1", "Invite parents to every meeting", "police", past, "open", past),
           ("A2", "Share information at every meeting", "education", later, "done", past),
           ("A3", "Close the loop", "fire_service", later, "open", None),  # unknown_owner
           ("A4", "Review the plan", "police", "someday", "open", None),  # bad_date
           ("A5", "", "police", later, "open", None),  # no_recommendation
           ("A6", "Check in", "police", later, "finished", None)])  # unknown_status
    [outcome] = ingest_action_trackers(con, folder.parent)
    assert (outcome.status, outcome.actions, outcome.quarantined) == ("loaded", 2, 4)
    rules = [r for (r,) in con.execute("SELECT rule FROM audit_quarantine ORDER BY row_number").fetchall()]
    assert rules == ["unknown_owner", "bad_date", "no_recommendation", "unknown_status"]
    overdue = con.execute(f"SELECT action_id FROM audit_actions WHERE {overdue_sql()}").fetchall()
    assert overdue == [("A1",)]
    assert [o.status for o in ingest_action_trackers(con, folder.parent)] == ["unchanged"]
    write([("A1", "Ask Amelia Jones to attend", "police", later, "open", None)])
    [refused] = ingest_action_trackers(con, folder.parent)
    assert (refused.status, refused.rule) == ("rejected", "tracker_identifier")
    assert con.execute("SELECT count(*) FROM audit_actions").fetchone()[0] == 2  # the earlier actions stay
    assert "Amelia" not in str(con.execute("SELECT * FROM audit_returns").fetchall())


def test_hostile_and_awkward_returns_are_refused_or_read_and_never_repeat_what_was_typed(audit):
    con, folder = audit
    returns = folder / "returns"
    (returns / "police.csv").mkdir()  # a folder with a return's name is not a return
    with (returns / "education.csv").open("w", newline="", encoding="utf-8") as handle:
        handle.write("agency,case_key,question_id,answer,comment\n")
        handle.write("John Smith,x,PI-a,good\n")  # a name in the agency column, and a short row
    outcomes = {o.source_file: o for o in ingest_audit_returns(con, folder.parent)}
    assert list(outcomes) == ["education.csv"]
    refused = outcomes["education.csv"]
    assert (refused.status, refused.rule, refused.agency) == ("rejected", "unknown_agency", None)
    stored = str(con.execute("SELECT * FROM audit_returns").fetchall())
    assert "John" not in refused.message and "john" not in stored.lower()


def test_a_duplicate_loads_once_the_other_file_goes_and_status_shows_a_refused_correction(audit):
    from assets.audit_returns import audit_status

    con, folder = audit
    first = fill(folder, "police")
    fill(folder, "police", name="police_v2.xlsx")
    assert {o.rule for o in ingest_audit_returns(con, folder.parent)} == {"duplicate_return"}
    first.unlink()
    [loaded] = [o for o in ingest_audit_returns(con, folder.parent) if o.status != "unchanged"]
    assert (loaded.source_file, loaded.status) == ("police_v2.xlsx", "loaded")
    fill(folder, "police", name="police_v2.xlsx", edit=lambda rows: rows[0].__setitem__(6, f"NHS {NHS_NUMBER}"))
    ingest_audit_returns(con, folder.parent)
    police = {s.agency: s for s in audit_status(con, folder.name)}["police"]
    assert police.state == "in" and "a later return was refused (identifier_in_comment" in police.detail
