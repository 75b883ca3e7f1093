"""The action tracker of each audit (<home>/audits/<audit_id>/action_tracker.xlsx), which the
partnership keeps up to date: read like a return, checked (rules in config/audit_returns.yaml),
and held in `audit_actions`, replacing the audit's earlier actions whenever the file changes. A
recommendation is free text, so it passes the same identifier scan as comments: one that names
someone refuses the tracker whole. An action is overdue when its due date has passed and it is not
done."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.audit_forms import ACTIONS_SHEET, TRACKER_FILE
from assets.audit_returns import (
    ReturnRejected,
    file_sha256,
    identifier_in,
    read_return,
    received,
    rejected,
    return_rules,
)
from assets.audits import audit_tool
from assets.config import contract
from assets.table_files import PackRejected
from assets.warehouse import transaction

TRACKER = "action_tracker"  # the agency column of its quarantined rows and of its audit_returns row


@dataclass
class TrackerOutcome:
    audit_id: str
    status: str  # loaded, rejected, unchanged, none
    actions: int = 0
    quarantined: int = 0
    rule: str | None = None


def parse_date(text: str) -> dt.date | None:
    for pattern in contract()["values"]["date_formats"]:
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def check_tracker(rows: list[dict]) -> tuple[list[tuple], list[tuple]]:
    """(actions, quarantined rows) of a tracker; rows with nothing in them are skipped."""
    tool = audit_tool()
    words = return_rules()["quarantine"]
    rows = [(number, row) for number, row in enumerate(rows, start=1) if any(row.values())]
    for number, row in rows:
        if row.get("recommendation") and (label := identifier_in(row["recommendation"])):
            raise rejected("tracker_identifier", source_file=TRACKER_FILE, row=number, kind=label)
    ids = Counter(row.get("action_id", "") for _, row in rows)
    actions, quarantined = [], []
    for number, row in rows:
        dates = {name: parse_date(row[name]) if row.get(name) else None for name in ("due_date", "updated_at")}
        status = row.get("status", "").lower()
        problem = (
            ("action_id", "no_action_id") if not row.get("action_id") else
            ("action_id", "duplicate_action") if ids[row["action_id"]] > 1 else
            ("recommendation", "no_recommendation") if not row.get("recommendation") else
            ("owner_agency", "unknown_owner") if row.get("owner_agency") and row["owner_agency"].lower()
            not in tool.agencies else
            ("status", "unknown_status") if status not in tool.action_statuses else
            next(((name, "bad_date") for name in dates if row.get(name) and dates[name] is None), None))
        if problem:
            column, rule = problem
            quarantined.append((number, column, rule, words[rule].format(row=number, column=column)))
            continue
        actions.append((row["action_id"], row["recommendation"], (row.get("owner_agency") or "").lower() or None,
                        dates["due_date"], status, dates["updated_at"]))
    return actions, quarantined


def ingest_action_trackers(con: duckdb.DuckDBPyConnection, audits_dir: Path,
                           audit_ids: set[str] | None = None) -> list[TrackerOutcome]:
    """Load every audit's tracker (or these audits') that changed since it was last loaded."""
    outcomes = []
    for (audit_id,) in con.execute("SELECT audit_id FROM audits ORDER BY audit_id").fetchall():
        if audit_ids is not None and audit_id not in audit_ids:
            continue
        path = audits_dir / audit_id / TRACKER_FILE
        if not path.is_file() or path.is_symlink():
            outcomes.append(TrackerOutcome(audit_id, "none"))
            continue
        sha = file_sha256(path)
        if con.execute("SELECT count(*) FROM audit_returns WHERE audit_id = ? AND agency = ? AND content_sha256 = ?",
                       [audit_id, TRACKER, sha]).fetchone()[0]:
            outcomes.append(TrackerOutcome(audit_id, "unchanged"))
            continue
        try:
            rows = read_return(path, TRACKER_FILE, sheet=ACTIONS_SHEET,
                               required=("action_id", "recommendation", "status"))
            actions, quarantined = check_tracker(rows)
        except ReturnRejected as error:
            outcomes.append(record(con, audit_id, sha, error=error))
            continue
        except PackRejected:
            outcomes.append(record(con, audit_id, sha, error=rejected("unreadable", source_file=TRACKER_FILE)))
            continue
        outcomes.append(record(con, audit_id, sha, actions, quarantined))
    return outcomes


def record(con: duckdb.DuckDBPyConnection, audit_id: str, sha: str, actions: list[tuple] = (),
           quarantined: list[tuple] = (), error: ReturnRejected | None = None) -> TrackerOutcome:
    with transaction(con):
        con.execute("DELETE FROM audit_returns WHERE audit_id = ? AND agency = ?", [audit_id, TRACKER])
        if error is not None:  # the earlier actions stay; only the reason is stored
            received(con, audit_id, TRACKER, TRACKER_FILE, sha, rejection=error)
            return TrackerOutcome(audit_id, "rejected", rule=error.rule)
        con.execute("DELETE FROM audit_actions WHERE audit_id = ?", [audit_id])
        con.execute("DELETE FROM audit_quarantine WHERE audit_id = ? AND agency = ?", [audit_id, TRACKER])
        if actions:
            con.executemany("INSERT INTO audit_actions VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(audit_id, *action) for action in actions])
        if quarantined:
            con.executemany("INSERT INTO audit_quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(audit_id, TRACKER, TRACKER_FILE, *row) for row in quarantined])
        received(con, audit_id, TRACKER, TRACKER_FILE, sha,
                 rows=(len(actions) + len(quarantined), len(actions), len(quarantined)))
    return TrackerOutcome(audit_id, "loaded", len(actions), len(quarantined))


def overdue_sql() -> str:
    """Whether an action is overdue: its due date has passed and it is not done (the last of the
    tool's action_statuses)."""
    done = audit_tool().action_statuses[-1].replace("'", "''")
    return f"(due_date < current_date AND status <> '{done}')"

