"""The command line's runs of the audit job: executed in-process against the home's Dagster
instance, and tagged with the process that runs them, so that a later command can tell a run whose
process was killed from one still going."""

import datetime as dt
import os
import socket
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from dagster._core.events import RunFailureReason
from dagster._core.execution.plan.objects import ErrorSource

from assets.warehouse import process_exists
from pipelines.definitions import AUDIT_JOB, PUBLISH_JOB, RETURNS_JOB, build_definitions
from pipelines.partitions import AUDITS, range_tags, register_periods

# The process that executes a run in-process: its id, its host, and when the kernel started it (a
# pid alone may be given to a later process, a container's first process always gets the same one).
PID_TAG = "safeguarding_audit/pid"
HOST_TAG = "safeguarding_audit/host"
PROCESS_START_TAG = "safeguarding_audit/process_start"
# A run in one of these has not finished. Runs executed in-process are never queued.
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
              dg.DagsterRunStatus.CANCELING]


def process_tags() -> dict[str, str]:
    """Tags naming this process, for a run it executes in-process."""
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    started = process_start(os.getpid())
    if started:
        tags[PROCESS_START_TAG] = started
    return tags


def process_start(pid: int) -> str | None:
    """When the kernel started a process, in clock ticks since boot; None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The fields after the command name, which is in parentheses and may hold spaces; starttime is
    # the 22nd field of the line, the 20th after the name.
    return stat.rsplit(")", 1)[1].split()[19]


def process_has_ended(tags: dict[str, str]) -> bool:
    pid = int(tags[PID_TAG])
    if not process_exists(pid):
        return True
    recorded, now = tags.get(PROCESS_START_TAG), process_start(pid)
    return bool(recorded and now and recorded != now)  # the pid now names another process


def fail_runs_of_ended_processes(instance: dg.DagsterInstance) -> list[dg.RunRecord]:
    """Mark failed the unfinished runs that the command line executed on this host and whose
    process has ended (killed, or stopped with the machine), and free any concurrency slots they
    held; returns them. Runs without the process tags (launched by the Dagster UI or daemon) and
    runs of other hosts are left alone: their process cannot be looked at from here."""
    host = socket.gethostname()
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
    ended = [r for r in records if PID_TAG in r.dagster_run.tags and process_has_ended(r.dagster_run.tags)]
    for record in ended:
        run = record.dagster_run
        instance.report_run_failed(run, message=f"Process {run.tags[PID_TAG]} on {host}, which ran this run, ended "
                                                "before the run finished; marked failed by the next run.")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
    return ended


def ended_run_notice(record: dg.RunRecord) -> str:
    """What the user is told about a run marked failed by fail_runs_of_ended_processes."""
    started = dt.datetime.fromtimestamp(record.start_time) if record.start_time else \
        record.create_timestamp.astimezone()
    return (f"An earlier run ({record.dagster_run.run_id[:8]}, started {started:%Y-%m-%d %H:%M}) stopped "
            "without finishing; it is marked failed. The warehouse keeps its last complete state.")


def was_interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether the run stopped for SIGINT or SIGTERM. Dagster turns the interrupt into a failed step
    and a failed run, and returns them as a result rather than raising."""
    for event in result.all_events:
        data = event.event_specific_data
        if event.is_step_failure and getattr(data, "error_source", None) == ErrorSource.INTERRUPT:
            return True
        if event.is_run_failure and getattr(data, "failure_reason", None) == RunFailureReason.UNEXPECTED_TERMINATION:
            return True
    return False


def execute_returns(instance: dg.DagsterInstance, defs: dg.Definitions, database: Path, home: Path,
                    progress: Callable[[str], None], debug: bool) -> dg.ExecuteInProcessResult | None:
    """Run the returns job over the case audits with new or changed returns or action trackers
    (their partitions registered first); None when there are none."""
    from assets import warehouse
    from assets.audit_returns import audits_with_new_returns
    from pipelines.settings import AuditHome

    if not database.exists():
        return None
    with warehouse.locked(database, exclusive=False, wait_message=progress):
        con = warehouse.connect(database, read_only=True)
        try:
            audits = [a for (a,) in con.execute("SELECT audit_id FROM audits ORDER BY created_at, audit_id").fetchall()]
            pending = audits_with_new_returns(con, AuditHome.resolve(str(home)).audits)
        finally:
            con.close()
    register_periods(instance, audits, name=AUDITS)
    tags = range_tags(instance, pending, name=AUDITS)
    if tags is None:
        return None
    run_config = {"loggers": {"console": {"config": {"log_level": "ERROR" if debug else "CRITICAL"}}}}
    return defs.resolve_job_def(RETURNS_JOB).execute_in_process(
        instance=instance, run_config=run_config, tags={**tags, **process_tags()}, raise_on_error=False)


def execute_audit(instance: dg.DagsterInstance, home: Path, inbox: Path,
                  progress: Callable[[str], None] = lambda _: None,
                  debug: bool = False, rerun: tuple[str, str] | None = None) -> dg.ExecuteInProcessResult:
    """Register the inbox's quarters as partitions and run the audit job over the quarters with work
    to do (a pack new, changed, or not yet scored with the present framework) in one run; with none,
    only republish. `rerun` (LA code, period) loads that pack again even if unchanged. Unchanged
    packs cost a hash. Dagster's console says nothing unless `debug`: the caller reports progress
    and failures in its own words."""
    from assets import warehouse
    from assets.ingest import inbox_periods, inbox_state
    from assets.reading import pack_key
    from pipelines.settings import AuditHome

    defs = build_definitions(str(home), str(inbox))
    added = register_periods(instance, inbox_periods(inbox))
    if added:
        progress(f"{len(added)} new quarter partition(s): {', '.join(added[:8])}{' ...' if len(added) > 8 else ''}")
    force = {pack_key(*rerun)} if rerun else set()
    database = AuditHome.resolve(str(home)).warehouse
    if database.exists():
        # Not warehouse.reading, which waits without a word: another run may be writing for long.
        with warehouse.locked(database, exclusive=False, wait_message=progress):
            con = warehouse.connect(database, read_only=True)
            try:
                state = inbox_state(con, inbox, force)
            finally:
                con.close()
    else:
        state = inbox_state(None, inbox, force)
    if state.unchanged:
        progress(f"{len(state.unchanged)} pack(s) unchanged, skipped")
    returns = execute_returns(instance, defs, database, home, progress, debug)
    if returns is not None and not returns.success:
        return returns
    tags = range_tags(instance, state.pending)
    job = defs.resolve_job_def(AUDIT_JOB if tags else PUBLISH_JOB)
    # Dagster's console logger tells each failure its own way, stack trace and all; it logs nothing
    # at CRITICAL.
    run_config = {"loggers": {"console": {"config": {"log_level": "ERROR" if debug else "CRITICAL"}}}}
    if tags:
        run_config["ops"] = {"packs": {"config": {"rerun": sorted(force)}}}
    return job.execute_in_process(instance=instance, run_config=run_config, tags={**(tags or {}), **process_tags()},
                                  raise_on_error=False)
