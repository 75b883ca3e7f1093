"""Audit returns: the agencies' completed forms (and the moderation form) read from each audit's
`returns/` folder, checked against the audit's sample and tool, and loaded like packs
(docs/audits.md). Rules and messages are data: config/audit_returns.yaml.

A return is rejected whole (nothing of it stored, the agency's earlier return kept) when it cannot
be read, names no agency or several, is a second return of one agency, or holds an identifier in a
comment; a row is quarantined when its case, question or answer is wrong. A corrected return
replaces the agency's earlier one in one transaction; the same return twice changes nothing.
Comments stay in the restricted warehouse."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from assets.audits import MODERATED, AuditTool, audit_tool
from assets.config import load_yaml
from assets.identifiers import first_kind_inside, identifier_kinds
from assets.table_files import PackRejected, read_all_again
from assets.warehouse import transaction

REQUIRED_COLUMNS = ("agency", "case_key", "question_id", "answer")
RETURN_SUFFIXES = (".xlsx", ".csv")


class ReturnRejected(Exception):
    def __init__(self, rule: str, message: str, agency: str | None = None):
        super().__init__(message)
        self.rule, self.message, self.agency = rule, message, agency


@cache
def return_rules() -> dict:
    return load_yaml("audit_returns.yaml")


def rejected(rule: str, agency: str | None = None, **words) -> ReturnRejected:
    return ReturnRejected(rule, return_rules()["reject"][rule].format(agency=agency, **words), agency)


@dataclass
class CheckedReturn:
    """A return that passed: its agency, the answers and comments to load, the rows set aside."""

    agency: str
    rows_received: int
    answers: list[tuple] = field(default_factory=list)  # (case_key, question_id, answer, value)
    comments: list[tuple] = field(default_factory=list)  # (case_key, question_id, comment)
    quarantine: list[tuple] = field(default_factory=list)  # (row_number, column_name, rule, message)


def read_return(path: Path, name: str | None = None, sheet: str = "answers",
                required: tuple[str, ...] = REQUIRED_COLUMNS) -> list[dict]:
    """The rows of a return (an .xlsx form's `answers` sheet, or a long .csv) as dicts of text,
    read within the limits of config/limits.yaml like pack tables."""
    from assets.csv_files import open_csv
    from assets.workbooks import BEYOND_HEADER, open_workbook

    name = name or path.name
    if path.suffix.lower() == ".xlsx":
        sheets = open_workbook(path, name, sheet)
        table = next((s for s in sheets if s.table.strip().lower() == sheet), sheets[0])
    else:
        table = open_csv(path, sheet, name)
    columns = table.columns
    rows = read_all_again(table).to_pylist()  # a row shorter than the header is read the slow way
    missing = [c for c in required if c not in columns]
    if missing:
        raise rejected("missing_column", source_file=name, column=missing[0])
    return [{k: (v or "").strip() for k, v in row.items() if k != BEYOND_HEADER.lower()} for row in rows]


def check_return(source_file: str, rows: list[dict], tool: AuditTool, sample: set[str]) -> CheckedReturn:
    """The return's agency and its answers, or ReturnRejected; rows breaking a row rule are
    quarantined with their row number (1 is the first row under the header)."""
    if len(rows) > int(return_rules()["max_rows"]):
        raise rejected("too_many_rows", source_file=source_file, other=f"{return_rules()['max_rows']:,}")
    agencies = sorted({row["agency"].lower() for row in rows if row["agency"]})
    if not agencies:
        raise rejected("no_agency", source_file=source_file)
    # The agency column's own text is never repeated: a slip could have put a name there.
    if len(agencies) > 1:
        raise rejected("several_agencies", source_file=source_file)
    agency = agencies[0]
    if agency != MODERATED and agency not in tool.agencies:
        raise rejected("unknown_agency", source_file=source_file)
    check_comments(source_file, rows, agency)
    questions = {q.id: q for q in tool.questions}
    mine = {q.id for q in tool.questions_for(agency)}
    checked = CheckedReturn(agency, len(rows))
    counts = Counter((row["case_key"], row["question_id"]) for row in rows)
    words = return_rules()["quarantine"]
    for number, row in enumerate(rows, start=1):
        question = questions.get(row["question_id"])
        answer = row["answer"].lower()
        problem = (
            ("case_key", "case_not_sampled") if row["case_key"] not in sample else
            ("question_id", "unknown_question") if question is None else
            ("question_id", "question_not_for_agency") if question.id not in mine else
            ("answer", "no_answer") if not answer else
            ("answer", "answer_not_on_scale") if answer not in tool.answers(question.scale) else
            ("case_key", "duplicate_answer") if counts[(row["case_key"], row["question_id"])] > 1 else None)
        if problem:
            column, rule = problem
            checked.quarantine.append((number, column, rule, words[rule].format(row=number, agency=agency)))
            continue
        checked.answers.append((row["case_key"], question.id, answer, tool.value(question.scale, answer)))
        if row.get("comment"):
            checked.comments.append((row["case_key"], question.id, row["comment"]))
    return checked


@cache
def comment_kinds() -> list:
    """The identifier kinds looked for inside comments, with each kind's excusing words."""
    specs = load_yaml("identifiers.yaml")["kinds"]
    chosen = set(return_rules()["comment_kinds"])
    return [(kind, re.compile(kind.value_pattern), set(str(specs[kind.kind].get("unless", "")).lower().split()))
            for kind in identifier_kinds() if kind.kind in chosen and kind.value_pattern]


def identifier_in(text: str) -> str | None:
    """The label of the first kind of identifier inside a comment, or None."""
    anywhere = first_kind_inside(pa.array([text], pa.string()))[0]
    if anywhere is not None:
        return anywhere.label
    for kind, pattern, excused in comment_kinds():
        for found in pattern.finditer(text):
            words = re.findall(r"[A-Za-z]+", found.group())
            if not (excused and any(word.lower() in excused for word in words)):
                return kind.label
    return None


def check_comments(source_file: str, rows: list[dict], agency: str) -> None:
    for number, row in enumerate(rows, start=1):
        if row.get("comment") and (label := identifier_in(row["comment"])):
            raise rejected("identifier_in_comment", agency=agency, source_file=source_file, row=number, kind=label)


# --- loading -------------------------------------------------------------------------------------

@dataclass
class ReturnOutcome:
    audit_id: str
    source_file: str
    status: str  # loaded, rejected, unchanged
    agency: str | None = None
    answers: int = 0
    quarantined: int = 0
    rule: str | None = None
    message: str | None = None


@cache
def safe_return_name() -> re.Pattern:
    """File names stored as they are: the forms' own names and agency names, with a version mark
    (`return_police.xlsx`, `police_v2.csv`, `moderation_form (1).xlsx`). Any other name may say
    something about someone, so it is stored as 'unnamed file <inode>' (assets.reading.stored_name)."""
    agencies = "|".join(re.escape(a) for a in (*audit_tool().agencies, MODERATED, "moderation_form"))
    return re.compile(rf"^(return_)?({agencies})([ _-]?(\(\d+\)|v?\d+|corrected))?\.(xlsx|csv)$", re.I)


def stored_return_name(path: Path) -> str:
    from assets.reading import stored_name

    return stored_name(path, lambda name: bool(safe_return_name().match(name)))


def return_files(folder: Path) -> list[Path]:
    """The returns in an audit's folder: visible .xlsx and .csv files (Excel's ~$ lock files aside),
    plain files or links (refused when read); a folder, pipe or device of that name is not a return."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in RETURN_SUFFIXES
                  and not p.name.startswith((".", "~$")) and (p.is_symlink() or p.is_file()))


def file_sha256(path: Path) -> str:
    """A return's content hash, read as a stream (a link is not followed: it has none)."""
    if path.is_symlink():
        return ""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def ingest_audit_returns(con: duckdb.DuckDBPyConnection, audits_dir: Path,
                         progress: Callable[[str], None] = lambda _: None,
                         audit_ids: set[str] | None = None) -> list[ReturnOutcome]:
    """Check and load every new or changed return of every audit in the warehouse (or of these)."""
    tool = audit_tool()
    outcomes = []
    for (audit_id,) in con.execute("SELECT audit_id FROM audits ORDER BY audit_id").fetchall():
        if audit_ids is not None and audit_id not in audit_ids:
            continue
        files = return_files(audits_dir / audit_id / "returns")
        if not files:
            continue
        sample = {key for (key,) in con.execute("SELECT case_key FROM audit_samples WHERE audit_id = ?",
                                                [audit_id]).fetchall()}
        # A return refused as a duplicate is looked at again: once the other file goes, it may load.
        seen = {(name, sha) for name, sha in con.execute(
            "SELECT source_file, content_sha256 FROM audit_returns WHERE audit_id = ? "
            "AND coalesce(rule, '') <> 'duplicate_return'", [audit_id]).fetchall()}
        checked: dict[Path, CheckedReturn | ReturnRejected] = {}
        hashes = {}
        names = {path: stored_return_name(path) for path in files}
        for path in files:
            hashes[path] = file_sha256(path)
            checked[path] = check_file(path, names[path], tool, sample)
        claims = Counter(c.agency for c in checked.values() if isinstance(c, CheckedReturn))
        for path in files:
            result = checked[path]
            if isinstance(result, CheckedReturn) and claims[result.agency] > 1:
                others = [names[p] for p, c in checked.items() if p != path and isinstance(c, CheckedReturn)
                          and c.agency == result.agency]
                result = rejected("duplicate_return", agency=result.agency, source_file=names[path], other=others[0])
            if (names[path], hashes[path]) in seen:
                outcomes.append(ReturnOutcome(audit_id, names[path], "unchanged"))
                continue
            outcomes.append(record(con, audit_id, names[path], hashes[path], result))
            done = outcomes[-1]
            progress(f"{audit_id} {names[path]}: " + (f"REJECTED ({done.rule}) {done.message}" if done.status ==
                     "rejected" else f"{done.answers} answer(s) loaded, {done.quarantined} row(s) quarantined"))
    return outcomes


def check_file(path: Path, name: str, tool: AuditTool, sample: set[str]) -> CheckedReturn | ReturnRejected:
    if path.is_symlink():
        return rejected("link", source_file=name)
    try:
        return check_return(name, read_return(path, name), tool, sample)
    except ReturnRejected as error:
        return error
    except PackRejected:
        return rejected("unreadable", source_file=name)


def received(con: duckdb.DuckDBPyConnection, audit_id: str, agency: str | None, source_file: str, sha: str,
             rows: tuple[int, int, int] | None = None, rejection: ReturnRejected | None = None) -> None:
    """The audit_returns row of a file received: loaded with its rows (received, loaded,
    quarantined), or rejected with its rule and message."""
    status = "rejected" if rejection is not None else "loaded"
    con.execute("INSERT INTO audit_returns VALUES (?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
                [audit_id, agency, source_file, sha, status, *(rows or (None, None, None)),
                 rejection.rule if rejection else None, rejection.message if rejection else None])


def record(con: duckdb.DuckDBPyConnection, audit_id: str, source_file: str, sha: str,
           result: CheckedReturn | ReturnRejected) -> ReturnOutcome:
    """Store a return's outcome in one transaction: a loaded return replaces everything held for its
    agency in this audit; a rejected one stores only its reason."""
    with transaction(con):
        if isinstance(result, ReturnRejected):
            received(con, audit_id, result.agency, source_file, sha, rejection=result)
            return ReturnOutcome(audit_id, source_file, "rejected", result.agency, rule=result.rule,
                                 message=result.message)
        scope = [audit_id, result.agency]
        for table in ("audit_answers", "audit_comments", "audit_quarantine"):
            con.execute(f"DELETE FROM {table} WHERE audit_id = ? AND agency = ?", scope)
        con.execute("DELETE FROM audit_returns WHERE audit_id = ? AND (agency = ? OR (source_file = ? AND "
                    "status = 'rejected'))", [*scope, source_file])
        if result.answers:
            con.executemany("INSERT INTO audit_answers VALUES (?, ?, ?, ?, ?, ?)",
                            [(*scope, *answer) for answer in result.answers])
        if result.comments:
            con.executemany("INSERT INTO audit_comments VALUES (?, ?, ?, ?, ?)",
                            [(*scope, *comment) for comment in result.comments])
        if result.quarantine:
            con.executemany("INSERT INTO audit_quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(*scope, source_file, *row) for row in result.quarantine])
        received(con, audit_id, result.agency, source_file, sha,
                 rows=(result.rows_received, len(result.answers), len(result.quarantine)))
    return ReturnOutcome(audit_id, source_file, "loaded", result.agency, len(result.answers), len(result.quarantine))


def audits_with_new_returns(con: duckdb.DuckDBPyConnection, audits_dir: Path) -> list[str]:
    """The audits with a return or action tracker whose content the warehouse has not seen."""
    from assets.audit_forms import TRACKER_FILE

    seen = {(a, name, sha) for a, name, sha in con.execute(
        "SELECT audit_id, source_file, content_sha256 FROM audit_returns "
        "WHERE coalesce(rule, '') <> 'duplicate_return'").fetchall()}
    pending = []
    for (audit_id,) in con.execute("SELECT audit_id FROM audits ORDER BY audit_id").fetchall():
        files = [(stored_return_name(p), p) for p in return_files(audits_dir / audit_id / "returns")]
        tracker = audits_dir / audit_id / TRACKER_FILE
        if tracker.is_file() and not tracker.is_symlink():
            files.append((TRACKER_FILE, tracker))
        if any((audit_id, name, file_sha256(path)) not in seen for name, path in files):
            pending.append(audit_id)
    return pending


# --- status --------------------------------------------------------------------------------------

@dataclass
class ReturnStatus:
    agency: str
    state: str  # in, missing, rejected
    answers: int = 0
    quarantined: int = 0
    detail: str = ""  # the rejection's message, or what is left to answer


def audit_status(con: duckdb.DuckDBPyConnection, audit_id: str) -> list[ReturnStatus]:
    """For each agency taking part, and the moderation form: whether its return is in (answers,
    rows quarantined, answers still expected), missing, or rejected and why."""
    tool = audit_tool()
    sampled = con.execute("SELECT count(*) FROM audit_samples WHERE audit_id = ?", [audit_id]).fetchone()[0]
    rows = con.execute("""SELECT agency, status, rows_loaded, rows_quarantined, rule, message, received_at
                          FROM audit_returns WHERE audit_id = ? ORDER BY received_at, source_file""",
                       [audit_id]).fetchall()
    known = (*tool.agencies, MODERATED)
    reasons = {agency: rules for agency, rules in con.execute("""
        SELECT agency, string_agg(rule || ' row ' || row_number, ', ' ORDER BY row_number) FROM audit_quarantine
        WHERE audit_id = ? GROUP BY ALL""", [audit_id]).fetchall()}
    loaded, latest = {}, {}
    for agency, status, count_loaded, quarantined, rule, message, _ in rows:
        if agency in known:
            latest[agency] = (status, f"{rule}: {message}" if rule else "")
            if status == "loaded":
                loaded[agency] = (count_loaded or 0, quarantined or 0)
    statuses = []
    for agency in known:
        expected = sampled * len(tool.questions_for(agency))
        status, detail = latest.get(agency, ("missing", ""))
        if agency in loaded:
            answers, quarantined = loaded[agency]
            words = "complete" if answers >= expected else f"{expected - answers} of {expected} answers still missing"
            if quarantined:
                words += f"; set aside: {reasons.get(agency, '')}"
            if status == "rejected":
                words += f"; a later return was refused ({detail})"
            statuses.append(ReturnStatus(agency, "in", answers, quarantined, words))
        elif status == "rejected":
            statuses.append(ReturnStatus(agency, "rejected", detail=detail))
        else:
            statuses.append(ReturnStatus(agency, "missing", detail=f"{expected} answers expected"))
    statuses += [ReturnStatus("(unknown)", "rejected", detail=f"{rule}: {message}")
                 for agency, status, _, _, rule, message, _ in rows
                 if agency not in known and agency != "action_tracker" and status == "rejected"]
    return statuses
