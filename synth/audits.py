"""Synthetic audit returns for the demo: every agency's form and the moderation form of a planned
audit, filled in, so that a new user sees the whole cycle (plan, returns, findings, report).

Each case has a "true" grade per domain, set from its domain score in the data where there is one
(so judgement and data mostly agree) and turned round for some cases (so they sometimes do not).
Agencies grade around it: closely on the framework's domains, loosely on the audit's own (voice of
the child, multi-agency working), so agreement differs from question to question. A few answers are
not_known, and a few comments are written, none naming anyone."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from openpyxl import load_workbook

from assets.audit_forms import ANSWERS_SHEET, RETURN_COLUMNS, return_form_name
from assets.audits import MODERATED, AuditTool

# How far an agency's grade strays from the case's true grade (standard deviation, in grades).
NOISE = {"PI": 0.35, "OF": 0.4, "CI": 0.5, "PF": 0.5, "RC": 0.8, "VC": 1.1, "MA": 1.0, "OV": 0.6}
DISAGREEING_SHARE = 0.25  # of cases, where the auditors' judgement runs against the data
NOT_KNOWN_SHARE = 0.04
COMMENTS = ("Good joint working between agencies on this case.",
            "The plan focused on what the young person should change rather than the places of harm.",
            "Parents were kept informed after every meeting.",
            "Intelligence from the family was not passed on.",
            "The context assessment was completed late.")


def grade_of_score(score: float | None, rng: random.Random) -> float:
    if score is None:
        return rng.uniform(1.5, 3.5)
    return 1 + 3 * float(score)


def fill_audit_returns(folder: Path, tool: AuditTool, scores: dict[tuple[str, str], float], seed: int = 1
                       ) -> list[Path]:
    """Fill every form of the audit in `folder` and save them into its returns/ folder; `scores`:
    (case_key, domain) -> the case's domain score in the warehouse. Returns the files written."""
    rng = random.Random(seed)
    book = load_workbook(folder / return_form_name(MODERATED), read_only=True)
    try:  # a read-only workbook keeps its file open until closed
        cases = sorted({row[1] for row in book[ANSWERS_SHEET].iter_rows(min_row=2, values_only=True) if row[1]})
    finally:
        book.close()
    turned = set(rng.sample(cases, max(1, round(DISAGREEING_SHARE * len(cases))))) if cases else set()
    truth = {}
    for case in cases:
        for domain in tool.domains:
            grade = grade_of_score(scores.get((case, domain)), rng)
            truth[(case, domain)] = 5 - grade if case in turned else grade
    written = []
    for agency in (*tool.agencies, MODERATED):
        written.append(fill_form(folder, tool, agency, truth, rng))
    return written


def answer_for(tool: AuditTool, scale: str, value: float) -> str:
    """The scale's answer nearest to a grade between 1 and 4 (yes/partly/no for a two-point scale)."""
    values = tool.scales[scale]
    top, bottom = max(values.values()), min(values.values())
    target = bottom + (min(max(value, 1), 4) - 1) / 3 * (top - bottom)
    return min(values, key=lambda code: (abs(values[code] - target), -values[code]))


def fill_form(folder: Path, tool: AuditTool, agency: str, truth: dict, rng: random.Random) -> Path:
    workbook = load_workbook(folder / return_form_name(agency))
    sheet = workbook[ANSWERS_SHEET]
    column = {name: position for position, name in enumerate(RETURN_COLUMNS, start=1)}
    questions = {q.id: q for q in tool.questions}
    for row in range(2, sheet.max_row + 1):
        question = questions.get(sheet.cell(row=row, column=column["question_id"]).value)
        case = sheet.cell(row=row, column=column["case_key"]).value
        if question is None or not case:
            continue
        true = truth[(case, question.domain)]
        if agency != MODERATED and rng.random() < NOT_KNOWN_SHARE:
            answer = "not_known"
        else:
            seen = true if agency == MODERATED else rng.gauss(true, NOISE.get(question.domain, 0.6))
            answer = answer_for(tool, question.scale, seen)
        sheet.cell(row=row, column=column["answer"], value=answer)
        if rng.random() < 0.05:
            sheet.cell(row=row, column=column["comment"], value=rng.choice(COMMENTS))
    path = folder / "returns" / return_form_name(agency)
    workbook.save(path)
    return path


# Recommendations a moderation meeting might agree, with the agency that owns each.
ACTIONS = (("Invite parents to every strategy discussion and share the outcome with them in writing.",
            "childrens_social_care"),
           ("Submit what parents tell us about the people exploiting their child as intelligence.", "police"),
           ("Hold a context conference for the park and the shopping centre named in these cases.",
            "community_safety"),
           ("Plans to name the places and the offenders, not only what the young person must change.",
            "childrens_social_care"),
           ("Share school attendance and exclusion information at every multi-agency meeting.", "education"))


def fill_action_tracker(folder: Path, planned: date, seed: int = 1) -> Path:
    """The moderation meeting's actions, one of them overdue, saved over the audit's tracker."""
    from datetime import timedelta

    from assets.audit_forms import ACTIONS_SHEET, TRACKER_COLUMNS, TRACKER_FILE

    rng = random.Random(seed)
    workbook = load_workbook(folder / TRACKER_FILE)
    sheet = workbook[ACTIONS_SHEET]
    statuses = ["done", "in_progress", "open", "open", "in_progress"]
    for number, (recommendation, owner) in enumerate(ACTIONS, start=1):
        due = planned + timedelta(days=(-10 if number == 3 else rng.randint(30, 120)))  # action 3 is overdue
        values = {"action_id": f"A{number}", "recommendation": recommendation, "owner_agency": owner,
                  "due_date": due, "status": statuses[number - 1], "updated_at": planned}
        for position, name in enumerate(TRACKER_COLUMNS, start=1):
            sheet.cell(row=number + 1, column=position, value=values[name])
    path = folder / TRACKER_FILE
    workbook.save(path)
    return path
