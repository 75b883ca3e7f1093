"""Operations with Dagster's own APIs: the inbox sensor's decisions, a blocking check stopping a
bad pack's downstream work, and two runs started together."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.definitions import build_definitions
from pipelines.resources import AuditHomeResource
from pipelines.run import execute_audit
from pipelines.sensors import decide

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
CLI = str(Path(sys.executable).parent / "safeguarding-audit")


def look_twice(inbox, cursor, known):
    """Two sensor ticks in a row: the first sees a change, the second acts once it has settled."""
    first = decide(inbox, cursor, known)
    return first, decide(inbox, first.cursor, known)


def test_sensor_decisions_new_unchanged_changed_removed_and_settling(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(FIXTURE, inbox / "E06000001_2025Q3")
    shutil.copytree(FIXTURE, inbox / "E06000002_2025Q3")

    seen, first = look_twice(inbox, {}, set())
    assert seen.runs == [] and all("read once it has settled" in n for n in seen.notes)  # still settling
    assert first.new_partitions == ["2025Q3"]  # one partition per quarter, one run for both packs
    assert [key for key, _ in first.runs] == ["2025Q3"]
    known = set(first.new_partitions)

    unchanged = decide(inbox, first.cursor, known)
    assert unchanged.runs == [] and unchanged.cursor == first.cursor

    os.utime(inbox / "E06000001_2025Q3" / "cases.csv", (4e9, 4e9))  # touched, same content
    _, touched = look_twice(inbox, first.cursor, known)
    assert touched.runs == [] and any("touched but unchanged" in n for n in touched.notes)

    cases = inbox / "E06000002_2025Q3" / "cases.csv"
    cases.write_text(cases.read_text().replace("A4,13,", "A4,12,"))
    _, changed = look_twice(inbox, touched.cursor, known)
    assert [key for key, _ in changed.runs] == ["2025Q3"] and changed.new_partitions == []
    assert changed.runs[0][1] != first.runs[0][1]  # a new run key for the new content

    shutil.rmtree(inbox / "E06000001_2025Q3")
    removed = decide(inbox, changed.cursor, known)
    assert removed.runs == [] and "E06000001_2025Q3" not in removed.cursor
    assert any("no longer in the inbox" in n for n in removed.notes)

    growing = inbox / "E06000003_2025Q3"  # a pack still being copied in is never read half-written
    shutil.copytree(FIXTURE, growing)
    tick = decide(inbox, removed.cursor, known)
    with open(growing / "actions.csv", "a") as handle:
        handle.write("A4,X10,2025-08-02,curfew,police,planned,\n")
    assert decide(inbox, tick.cursor, known).runs == []


def test_the_sensor_adds_partitions_and_requests_each_pack_once(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(FIXTURE, inbox / "E06000001_2025Q3")
    instance = dg.DagsterInstance.ephemeral()
    resources = {"audit_home": AuditHomeResource(home=str(tmp_path / "home"), inbox=str(inbox))}
    definitions = build_definitions(str(tmp_path / "home"), str(inbox))
    sensor = definitions.get_sensor_def("inbox_sensor")
    seen = sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert seen.run_requests == []
    result = sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=seen.cursor))
    assert [r.partition_key for r in result.run_requests] == ["2025Q3"]
    assert result.run_requests[0].run_key.startswith("2025Q3:")
    assert result.dynamic_partitions_requests[0].partition_keys == ["2025Q3"]
    again = sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor))
    assert again.run_requests == []
    assert json.loads(again.cursor) == json.loads(result.cursor)
    # A pack already loaded (from the command line, say) starts no run when the sensor first sees it.
    assert execute_audit(instance, tmp_path / "home", inbox).success
    fresh = sensor(dg.build_sensor_context(instance=instance, resources=resources))
    settled = sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=fresh.cursor))
    assert settled.run_requests == []


def test_a_pack_losing_most_rows_is_held_back_alone_and_the_others_publish(tmp_path):
    home = tmp_path / "home"
    pack = home / "inbox" / "E06000001_2025Q3"
    shutil.copytree(FIXTURE, pack)
    shutil.copytree(FIXTURE, home / "inbox" / "E06000002_2025Q3")
    for name in ("meetings.csv", "actions.csv"):  # a layout the contract does not know: most rows fail
        text = (pack / name).read_text()
        (pack / name).write_text(text.replace(",2025-0", ",31/13/2025-0"))
    result = execute_audit(dg.DagsterInstance.ephemeral(), home, home / "inbox")
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["quarantine_share"] is True  # no pack over the share was loaded
    materialised = {e.event_specific_data.materialization.asset_key.to_user_string()
                    for e in result.get_asset_materialization_events()}
    assert {"packs", "scored_packs", "site", "exports"} <= materialised
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT la_code, status, rule FROM submissions ORDER BY 1").fetchall() == [
        ("E06000001", "rejected", "too_many_quarantined"), ("E06000002", "loaded", None)]
    message = con.execute("SELECT message FROM submissions WHERE status = 'rejected'").fetchone()[0]
    assert "type_date" in message and "validate" in message
    assert con.execute("SELECT DISTINCT la_code FROM case_indicators").fetchall() == [("E06000002",)]
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0  # nothing kept of the held pack
    con.close()
    assert (home / "site" / "la-E06000002.html").exists()
    # The command line says which pack was held back and why, and exits 1 (a pack was rejected), not 2.
    cli = subprocess.run([CLI, "run", "--home", str(home)], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1 and "E06000001_2025Q3" in cli.stderr, cli.stderr
    assert "Stack Trace" not in cli.stdout + cli.stderr and " - dagster - " not in cli.stderr  # Dagster is quiet


def test_two_runs_started_together_both_finish_without_corruption(tmp_path):
    home = tmp_path / "home"
    from synth.packs import write_packs

    write_packs(home / "inbox", las=2, quarters=1, seed=4, cases_per_la=30, formats="csv")
    runs = [subprocess.Popen([CLI, "run", "--home", str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outcomes = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outcomes
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT la_code || period) FROM submissions").fetchone() == (2, 2)
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 2 * 30
    assert con.execute("SELECT count(*) FROM case_indicators").fetchone()[0] == 2 * 30 * 20
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    assert len(instance.get_runs()) == 2 and all(r.is_success for r in instance.get_runs())
    instance.dispose()


def test_the_sensor_requests_a_run_of_the_audits_partition_for_new_or_changed_returns(tmp_path):
    """A return saved into an audit's returns/ folder starts one run of the returns job for that
    audit's partition once it has settled; the same content again starts nothing; a corrected one
    starts another."""
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    inbox.mkdir()
    returns = home / "audits" / "E06000001_2025Q3_01" / "returns"
    returns.mkdir(parents=True)
    instance = dg.DagsterInstance.ephemeral()
    resources = {"audit_home": AuditHomeResource(home=str(home), inbox=str(inbox))}
    sensor = build_definitions(str(home), str(inbox)).get_sensor_def("inbox_sensor")

    def tick(cursor=None):
        return sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor))

    form = returns / "return_police.csv"
    form.write_text("agency,case_key,question_id,answer,comment\npolice,x,PI-a,good,\n", encoding="utf-8")
    first = tick()
    assert first.run_requests == []  # not settled yet
    second = tick(first.cursor)
    assert [(r.job_name, r.partition_key) for r in second.run_requests] == [("case_audits", "E06000001_2025Q3_01")]
    assert second.dynamic_partitions_requests[0].partition_keys == ["E06000001_2025Q3_01"]
    assert tick(second.cursor).run_requests == []
    form.write_text("agency,case_key,question_id,answer,comment\npolice,x,PI-a,inadequate,\n", encoding="utf-8")
    changed = tick(tick(second.cursor).cursor)
    assert len(changed.run_requests) == 1 and changed.run_requests[0].run_key != second.run_requests[0].run_key
