"""The inbox sensor.

The sensor looks at the inbox every minute. The quarters of packs that are new, or whose content
changed (by SHA-256, not file times), get their partitions added and one run requested each, with
a run key made of the quarter and its packs' names and hashes, so the same packs seen twice run
once; inbox entries that are not a quarter's pack get a run of the publish job, which refuses them.
A pack must look the same on two looks in a row first, so one still being copied in waits. A pack
removed from the inbox is forgotten by the sensor; what it loaded stays in the warehouse.

It is on by default: loads are idempotent and atomic, so a run it starts can only add a new or
corrected pack."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import dagster as dg

from assets import warehouse
from assets.reading import content_sha256, discover_packs, open_pack, pack_files
from pipelines.partitions import AUDIT_ID, AUDITS, audit_partitions, period_partitions
from pipelines.resources import AuditHomeResource


@dataclass
class InboxDecisions:
    """What the sensor does on one look at the inbox."""

    runs: list[tuple[str | None, str]] = field(default_factory=list)  # (quarter, or None for entries; run key)
    new_partitions: list[str] = field(default_factory=list)
    cursor: dict = field(default_factory=dict)  # source -> {"mtime", "size", "sha256", "pending"}
    notes: list[str] = field(default_factory=list)


def stamp(path: Path) -> tuple[float, int]:
    """Latest modification time and total size of a pack's files. A folder's own time counts too:
    it changes when a file is added, even one copied with its old time preserved."""
    stats = [f.lstat() for f in pack_files(path)]  # a link is looked at, never followed
    return max([s.st_mtime for s in stats] + [path.lstat().st_mtime]), sum(s.st_size for s in stats)


def settle(before: dict, mtime: float, size: int, content_hash: Callable[[], str]) -> tuple[dict, str | None]:
    """One look at a file or pack against the cursor's entry for it: its new entry, and its content
    hash once it has looked the same (time and size) on two looks in a row (None until then, or when
    it was hashed already and has not changed since)."""
    if (before.get("mtime"), before.get("size")) != (mtime, size):
        return {"mtime": mtime, "size": size, "sha256": before.get("sha256"), "pending": True}, None
    if not before.get("pending"):
        return before, None
    sha = content_hash()
    return {"mtime": mtime, "size": size, "sha256": sha, "pending": False}, sha


def decide(inbox: Path, cursor: dict, known_partitions: set[str],
           already_loaded: Callable[[str, str], bool] = lambda source, sha: False) -> InboxDecisions:
    """Compare the inbox with what the sensor saw before (its cursor).

    A pack must look the same (file times and sizes) on two looks in a row before it is read, so a
    pack still being copied in is never run half-written; then its content hash decides whether
    anything changed since its last run."""
    result = InboxDecisions()
    present = set()
    requested: dict[str | None, list[str]] = {}  # quarter (None: entries that are not packs) -> its packs
    for path in discover_packs(inbox):
        pack = open_pack(path, hash_content=False)
        present.add(pack.source)
        before = cursor.get(pack.source, {})
        last_run_sha = before.get("sha256")
        result.cursor[pack.source], sha = settle(before, *stamp(path), partial(content_sha256, path))
        if sha is None:
            if result.cursor[pack.source]["pending"] and result.cursor[pack.source] != before:
                result.notes.append(f"{pack.source}: {'changing' if before else 'new'}; read once it has settled")
            continue
        if sha == last_run_sha:
            result.notes.append(f"{pack.source}: touched but unchanged")
            continue
        if already_loaded(pack.source, sha):  # e.g. loaded from the command line before the UI started
            result.notes.append(f"{pack.source}: already in the warehouse")
            continue
        requested.setdefault(pack.quarter, []).append(f"{pack.source}:{sha}")
        if pack.quarter and pack.quarter not in known_partitions and pack.quarter not in result.new_partitions:
            result.new_partitions.append(pack.quarter)
        result.notes.append(f"{pack.source}: {'changed' if last_run_sha else 'new'}, run requested")
    for quarter, packs in requested.items():
        digest = hashlib.sha256("\n".join(sorted(packs)).encode()).hexdigest()[:16]
        result.runs.append((quarter, f"{quarter or 'entries'}:{digest}"))
    for source in sorted(set(cursor) - present):
        result.notes.append(f"{source}: no longer in the inbox; what it loaded stays in the warehouse")
    return result


RETURNS = "returns/"  # cursor keys of audit returns: returns/<audit_id>/<file name>


def decide_returns(audits_dir: Path, cursor: dict) -> tuple[list[tuple[str, str]], dict, list[str]]:
    """Audit returns (and action trackers) saved into an audit's folder, looked at as packs are:
    settled for one look, then by content hash. Returns (audit id, run key) of the audits with new
    or changed files, the cursor entries, and notes."""
    from assets.audit_forms import TRACKER_FILE
    from assets.audit_returns import file_sha256, return_files, stored_return_name

    entries, notes, changed = {}, [], {}
    folders = sorted(p for p in audits_dir.iterdir() if p.is_dir() and AUDIT_ID.match(p.name)) \
        if audits_dir.is_dir() else []
    for folder in folders:
        tracker = folder / TRACKER_FILE
        files = [(stored_return_name(p), p) for p in return_files(folder / "returns")]
        files += [(TRACKER_FILE, tracker)] if tracker.is_file() and not tracker.is_symlink() else []
        for name, path in files:
            key = f"{RETURNS}{folder.name}/{name}"  # stored names only: no name that could say who
            status, before = path.lstat(), cursor.get(key, {})
            entries[key], sha = settle(before, status.st_mtime, status.st_size, partial(file_sha256, path))
            if sha is not None and sha != before.get("sha256"):
                changed.setdefault(folder.name, []).append(f"{name}:{sha}")
    runs = []
    for audit_id, files in changed.items():
        digest = hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:16]
        runs.append((audit_id, f"{audit_id}:{digest}"))
        notes.append(f"audit {audit_id}: new or changed return(s), run requested")
    return runs, entries, notes


def inbox_sensor(audit_job: dg.UnresolvedAssetJobDefinition, publish_job: dg.UnresolvedAssetJobDefinition,
                 returns_job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """The sensor, requesting runs of the audit job (a quarter's packs), of the publish job (inbox
    entries that are not packs) and of the returns job (an audit's new or changed returns)."""

    @dg.sensor(name="inbox_sensor", jobs=[audit_job, publish_job, returns_job], minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts a run for each quarter with a new or changed pack in the inbox, and one for "
                           "each case audit with new or changed returns.")
    def look_at_inbox(context: dg.SensorEvaluationContext, audit_home: AuditHomeResource):
        cursor = json.loads(context.cursor) if context.cursor else {}
        known = set(context.instance.get_dynamic_partitions(period_partitions.name))
        database = audit_home.paths.warehouse
        try:
            received = set()
            if database.exists():
                with warehouse.reading(database, timeout=5) as con:
                    received = set(con.execute("SELECT source, content_sha256 FROM submissions").fetchall())
        except TimeoutError:
            return dg.SkipReason("a run is writing the warehouse; looking again at the next tick")
        packs_cursor = {k: v for k, v in cursor.items() if not k.startswith(RETURNS)}
        decisions = decide(audit_home.inbox_path, packs_cursor, known, lambda source, sha: (source, sha) in received)
        returns_runs, returns_cursor, returns_notes = decide_returns(
            audit_home.paths.audits, {k: v for k, v in cursor.items() if k.startswith(RETURNS)})
        decisions.cursor.update(returns_cursor)
        new_audits = [a for a, _ in returns_runs if a not in set(context.instance.get_dynamic_partitions(AUDITS))]
        for note in decisions.notes + returns_notes:
            context.log.info(note)
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=run_key, partition_key=quarter, job_name=audit_job.name) if quarter
                          else dg.RunRequest(run_key=run_key, job_name=publish_job.name)
                          for quarter, run_key in decisions.runs]
            + [dg.RunRequest(run_key=run_key, partition_key=audit_id, job_name=returns_job.name)
               for audit_id, run_key in returns_runs],
            dynamic_partitions_requests=([period_partitions.build_add_request(decisions.new_partitions)]
                                         if decisions.new_partitions else [])
            + ([audit_partitions.build_add_request(new_audits)] if new_audits else []),
            cursor=json.dumps(decisions.cursor, sort_keys=True),
        )

    return look_at_inbox
