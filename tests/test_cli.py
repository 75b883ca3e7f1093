"""The command line through its installed entry point, as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

CLI = str(Path(sys.executable).parent / "safeguarding-audit")
TABLES = ("submissions", "cases", "meetings", "actions", "quarantine", "case_indicators", "indicator_rates",
          "pack_scores")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env)


def snapshot(warehouse: Path) -> dict:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {t: sorted(map(str, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    finally:
        con.close()


def test_help_lists_only_working_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "run", "synth"):
        assert command in result.stdout
        assert run_cli(command, "--help").returncode == 0


def test_version_names_the_package_the_contract_and_the_framework():
    from importlib.metadata import version

    from assets.scoring import framework

    result = run_cli("--version")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(f"safeguarding-audit {version('safeguarding-audit')} (export pack contract 1.1, "
                                    "indicator framework ")
    assert framework().sha256[:12] in result.stdout and result.stdout.count("\n") == 1


def test_run_loads_scores_publishes_and_a_rerun_changes_nothing(audit_home, tiny_inbox):
    first = run_cli("run", "--home", str(audit_home))
    assert first.returncode == 0, first.stderr
    index = audit_home / "site" / "index.html"
    assert first.stdout.strip().splitlines()[-1] == str(index)
    assert "loaded 4 cases" in first.stderr  # the progress display
    before = snapshot(audit_home / "warehouse.duckdb")
    assert len(before["case_indicators"]) == 4 * 20  # 20 case indicators

    second = run_cli("run", "--home", str(audit_home))
    assert second.returncode == 0, second.stderr
    assert "unchanged, skipped" in second.stderr
    assert snapshot(audit_home / "warehouse.duckdb") == before

    # Both runs went through Dagster and are in the instance the UI reads.
    instance = dg.DagsterInstance.from_config(str(audit_home / "dagster"))
    runs = instance.get_runs()
    assert len(runs) == 2 and all(r.is_success for r in runs)
    instance.dispose()


def test_run_exits_1_when_a_pack_is_rejected(audit_home, tiny_inbox):
    shutil.copytree(tiny_inbox / "E06000001_2025Q3", tiny_inbox / "E99999999_2025Q3")
    result = run_cli("run", "--home", str(audit_home))
    assert result.returncode == 1
    assert "E99999999_2025Q3" in result.stderr
    status = dict(duckdb.connect(str(audit_home / "warehouse.duckdb"), read_only=True).execute(
        "SELECT source, status FROM submissions").fetchall())
    assert status == {"E06000001_2025Q3": "loaded", "E99999999_2025Q3": "rejected"}


def test_run_with_a_missing_inbox_is_a_plain_usage_error(tmp_path):
    result = run_cli("run", "--home", str(tmp_path / "home"), "--inbox", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_synth_then_run_from_another_inbox(tmp_path):
    inbox = tmp_path / "packs"
    synth = run_cli("synth", "--out", str(inbox), "--las", "2", "--quarters", "2", "--cases-per-la", "20",
                    "--formats", "csv")
    assert synth.returncode == 0, synth.stderr
    assert len([p for p in inbox.iterdir() if p.is_dir()]) == 4
    home = tmp_path / "home"
    result = run_cli("run", "--home", str(home), "--inbox", str(inbox))
    assert result.returncode == 0, result.stderr
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM submissions WHERE status = 'loaded'").fetchone()[0] == 4
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 4 * 20


def test_demo_prints_the_index_page_holding_a_chart(tmp_path):
    home = tmp_path / "demo"
    result = run_cli("demo", "--home", str(home), "--las", "2", "--quarters", "2")
    assert result.returncode == 0, result.stderr
    index = Path(result.stdout.strip().splitlines()[-1])
    assert index == home / "site" / "index.html"
    assert "Plotly.newPlot" in index.read_text()
    statutory = (home / "site" / "statutory.html").read_text()  # the demo's statutory returns loaded too
    assert ('ST1 <abbr title="extra-familial harm">EFH</abbr>-only children started on a child protection plan'
            in statutory)
    assert "No statutory returns loaded yet" not in statutory
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    columns = {t: [c[0] for c in con.execute(f"DESCRIBE {t}").fetchall()]
               for t in ("case_indicators", "indicator_rates")}
    assert columns["case_indicators"] == ["la_code", "period", "case_key", "indicator_id", "applicable", "met",
                                          "value"]
    assert columns["indicator_rates"] == ["la_code", "period", "indicator_id", "numerator", "denominator",
                                          "rate", "ci_low", "ci_high"]


def test_explain_shows_why_each_indicator_is_met(audit_home, tiny_inbox):
    assert run_cli("run", "--home", str(audit_home)).returncode == 0
    import hashlib
    import hmac
    key = hmac.new(b"test-key", b"E06000001:A1", hashlib.sha256).hexdigest()[:16]
    result = run_cli("explain", "--home", str(audit_home), "--la", "E06000001", "--period", "2025Q3",
                     "--case-key", key)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "PI4 Parents told the outcome of every meeting: not met" in out
    assert "meetings_any = 3 (meetings rows 1, 2, 3); meetings_parent_informed = 2 (meetings rows 1, 2)" in out
    assert "PF1 Plan targets contexts and offenders: MET (value 0.500)" in out
    assert "OF4 Trafficking victims referred to the National Referral Mechanism: not applicable" in out
    assert "A1" not in out  # the LA's own reference is never shown
    missing = run_cli("explain", "--home", str(audit_home), "--la", "E06000001", "--period", "2025Q3",
                      "--case-key", "0000000000000000")
    assert missing.returncode == 2 and "no case 0000000000000000" in missing.stderr
