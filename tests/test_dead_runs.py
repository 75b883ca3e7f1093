"""A run that dies never blocks the next one: a `run` killed with SIGKILL anywhere leaves nothing
the next run waits for, and is reported and marked failed by it; a run waiting for the warehouse
says which process it waits for, and stops promptly on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets import warehouse
from pipelines.run import HOST_TAG, PID_TAG, PROCESS_START_TAG, fail_runs_of_ended_processes, process_tags
from pipelines.settings import DAGSTER_YAML, AuditHome

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
CLI = str(Path(sys.executable).parent / "safeguarding-audit")
LA_CODES = ("E06000001", "E06000002")
INTERRUPTED = "Interrupted; the warehouse keeps its last complete state."
# Progress lines of `run`, each printed at a point where the run is doing something different.
KILL_POINTS = {
    "starting": "new quarter partition(s)",  # before or as the Dagster run is created
    "ingesting": "pack(s) to look at",  # inside the `packs` step, holding the warehouse lock
    "publishing": "site written",  # inside `site`, after scoring, with the exports still to write
}


def two_pack_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for code in LA_CODES:
        shutil.copytree(FIXTURE, home / "inbox" / f"{code}_2025Q3")
    return home


def kill_when_printed(home: Path, line_part: str) -> str:
    """Start `run` and SIGKILL it as soon as it prints a line holding `line_part`; returns what it
    printed. A watchdog ends it if it never does."""
    process = subprocess.Popen([CLI, "run", "--home", str(home)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(180, process.kill)
    watchdog.start()
    printed = []
    try:
        for line in process.stderr:
            printed.append(line)
            if line_part in line:
                process.send_signal(signal.SIGKILL)
                break
        process.wait()
    finally:
        watchdog.cancel()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "".join(printed)
    return "".join(printed)


def runs_of(home: Path) -> list[dg.DagsterRun]:
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        return sorted(instance.get_runs(), key=lambda run: instance.get_run_record_by_id(run.run_id).create_timestamp)
    finally:
        instance.dispose()


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_anywhere_never_blocks_the_next_one(tmp_path, point):
    home = two_pack_home(tmp_path)
    kill_when_printed(home, KILL_POINTS[point])
    left = runs_of(home)
    if point != "starting":
        # The killed run stays unfinished in Dagster's storage: it is what used to hold the pool.
        assert [run.status for run in left] == [dg.DagsterRunStatus.STARTED]

    following = subprocess.run([CLI, "run", "--home", str(home)], capture_output=True, text=True, timeout=180)
    assert following.returncode == 0, following.stderr
    runs = runs_of(home)
    assert runs[-1].is_success
    assert [run.status for run in runs[:-1]] == [dg.DagsterRunStatus.FAILURE] * len(left)
    for run in left:
        assert f"An earlier run ({run.run_id[:8]}, started " in following.stderr
    assert following.stderr.count("stopped without finishing; it is marked failed.") == len(left)

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT la_code, period, status FROM submissions ORDER BY ALL").fetchall() == [
            (code, "2025Q3", "loaded") for code in LA_CODES]
        assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 2 * 4
        assert con.execute("SELECT count(*) FROM case_indicators").fetchone()[0] == 2 * 4 * 20
    finally:
        con.close()
    assert (home / "site" / "index.html").exists()


@pytest.mark.parametrize("lock", ["warehouse", "instance"])
def test_sigterm_while_waiting_for_a_lock_stops_the_run_promptly(tmp_path, lock):
    """The warehouse lock is waited for inside a Dagster step, the instance's before any run."""
    home = two_pack_home(tmp_path)
    held = home / "warehouse.duckdb" if lock == "warehouse" else home / "dagster" / "instance"
    with warehouse.locked(held):
        process = subprocess.Popen([CLI, "run", "--home", str(home)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(120, process.kill)
        watchdog.start()
        try:
            for line in process.stderr:
                if line.startswith("waiting for"):
                    break
            assert line.startswith(f"waiting for another run (process {os.getpid()}, writing since "), line
            assert line.rstrip().endswith(f"to finish with {held}")
            process.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            rest = process.communicate(timeout=30)[1]
            stopped_after = time.monotonic() - stopping
        finally:
            watchdog.cancel()
    assert process.returncode == 2, rest
    assert rest.strip().splitlines()[-1] == INTERRUPTED
    assert "Stack Trace" not in rest and "Traceback" not in rest
    assert stopped_after < 10
    # Dagster recorded the interrupted run as failed itself: nothing is left for the next run to find.
    assert all(run.status == dg.DagsterRunStatus.FAILURE for run in runs_of(home))


HOLD_LOCK = """
import os, sys, time
from assets import warehouse

database, how = sys.argv[1], sys.argv[2]
held = warehouse.locked(database, exclusive=how != "read")
held.__enter__()
if how == "fork_and_exit":  # the child inherits the lock; the process recorded as holding it ends
    if os.fork() == 0:
        print(os.getpid(), flush=True)
        time.sleep(30)
    os._exit(0)
print(os.getpid(), flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("how", ["write", "read", "fork_and_exit"])
def test_a_run_waiting_for_the_warehouse_says_who_holds_it(tmp_path, how):
    database = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD_LOCK), str(database), how],
                              stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1])
    holding_pid = int(holder.stdout.readline())
    if how == "fork_and_exit":
        holder.wait()
    told = []
    try:
        with pytest.raises(TimeoutError), warehouse.locked(database, wait_message=told.append, timeout=0.5):
            pass
    finally:
        os.kill(holding_pid, signal.SIGKILL)
        holder.wait()
    if how == "write":
        assert told == [f"waiting for another run (process {holder.pid}, writing since "
                        f"{told[0].split('writing since ')[1].split(')')[0]}) to finish with {database}"]
    elif how == "read":
        assert told == [f"waiting for a command reading {database} (an export or explain) to finish"]
    else:
        assert f"the run that locked it (process {holder.pid}, writing since " in told[0]
        assert "has ended, but a process it started still holds the lock" in told[0]


def test_the_lock_file_names_its_writer_only_while_it_writes(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    lock_file = Path(f"{database}.lock")
    with warehouse.locked(database):
        assert f'"pid": {os.getpid()}' in lock_file.read_text()
    assert lock_file.read_text() == ""
    with warehouse.locked(database, exclusive=False):
        assert lock_file.read_text() == ""


def test_only_runs_of_processes_that_have_ended_are_marked_failed(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_pid = ended.stdout.strip()
    here = process_tags()
    cases = {
        "killed": {PID_TAG: gone_pid, HOST_TAG: socket.gethostname()},
        "pid_reused": {**here, PROCESS_START_TAG: "1"},  # this pid, but given to an earlier process
        "still_running": here,
        "launched_by_the_daemon": {},
        "of_another_host": {PID_TAG: gone_pid, HOST_TAG: "another-host"},
    }
    instance = dg.DagsterInstance.ephemeral()
    runs = {name: instance.add_run(dg.DagsterRun(job_name="audit", status=dg.DagsterRunStatus.STARTED, tags=tags))
            for name, tags in cases.items()}
    failed = fail_runs_of_ended_processes(instance)
    assert sorted(r.dagster_run.run_id for r in failed) == sorted(runs[n].run_id for n in ("killed", "pid_reused"))
    status = {name: instance.get_run_by_id(run.run_id).status for name, run in runs.items()}
    assert status == {"killed": dg.DagsterRunStatus.FAILURE, "pid_reused": dg.DagsterRunStatus.FAILURE,
                      "still_running": dg.DagsterRunStatus.STARTED,
                      "launched_by_the_daemon": dg.DagsterRunStatus.STARTED,
                      "of_another_host": dg.DagsterRunStatus.STARTED}
    assert fail_runs_of_ended_processes(instance) == []


def test_dagster_settings_written_by_an_earlier_version_are_brought_up_to_date(tmp_path):
    home = AuditHome(tmp_path / "home")
    settings = home.dagster_home / "dagster.yaml"
    settings.parent.mkdir(parents=True)
    settings.write_text("# Written by safeguarding-audit. The command line and `dagster dev` share this instance.\n"
                        "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n")
    home.prepare()
    assert settings.read_text() == DAGSTER_YAML and "concurrency" not in DAGSTER_YAML
    hand_written = "telemetry:\n  enabled: true\n"
    settings.write_text(hand_written)
    home.prepare()
    assert settings.read_text() == hand_written
