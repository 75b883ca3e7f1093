"""The command line through its installed entry point, as a user runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main

CLI = str(Path(sys.executable).parent / "safeguarding-audit")
TABLES = ("submissions", "cases", "meetings", "actions", "quarantine", "case_indicators", "indicator_rates",
          "pack_scores")


# Every warning shown, each time it is raised: a library's warning must never reach a user's terminal.
WARNINGS_SHOWN = {**os.environ, "PYTHONWARNINGS": "always"}
# A warning as Python prints it (`file:line: DeprecationWarning: ...`), or a logged one (`- WARNING -`).
A_WARNING = re.compile(r"[A-Za-z]*Warning\b|\bWARNING\b")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, env=env)


def warnings_in(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stderr + result.stdout).splitlines() if A_WARNING.search(line)]


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


def test_demo_prints_the_index_page_holding_a_chart_and_no_command_prints_a_warning(tmp_path):
    home = tmp_path / "demo"
    result = run_cli("demo", "--home", str(home), "--las", "2", "--quarters", "2", env=WARNINGS_SHOWN)
    assert result.returncode == 0, result.stderr
    assert warnings_in(result) == []
    index = Path(result.stdout.strip().splitlines()[-1])
    assert index == home / "site" / "index.html"
    assert "<h1>Headlines for 2025 Q4</h1>" in index.read_text() and "Plotly.newPlot" in (
        index.parent / "overview.html").read_text()
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
    con.close()
    every_command_on_the_demo_warns_nothing(home, tmp_path)


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


def every_command_on_the_demo_warns_nothing(home: Path, tmp_path: Path) -> None:
    """Each command, on the demo's home, with every warning shown: `run` again (nothing new), a new
    audit, each of the demo's packs and statutory returns validated, an export, explanations, the
    audit steps. (A single demo, as it takes a while.)"""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        audit = con.execute("SELECT audit_id FROM audits ORDER BY audit_id").fetchone()[0]
        case_key = con.execute("SELECT case_key FROM cases WHERE la_code = 'E06000035' LIMIT 1").fetchone()[0]
        context_key = con.execute("SELECT context_key FROM contexts LIMIT 1").fetchone()[0]
        la, period = con.execute("SELECT la_code, period FROM contexts LIMIT 1").fetchone()
    finally:
        con.close()
    h = ("--home", str(home))
    writers = [("run", *h), ("audit", "plan", *h, "--la", la, "--period", period, "--size", "4"),
               ("synth", "--out", str(tmp_path / "packs"), "--las", "1", "--quarters", "1", "--cases-per-la", "20")]
    readers = [("--version",), *[("validate", str(path)) for path in sorted((home / "inbox").iterdir())],
               *[("validate", str(path)) for path in sorted((home / "statutory").iterdir())],
               ("validate", "--json", str(home / "inbox" / "E06000035_2025Q4")),
               ("export", *h, "--out", str(tmp_path / "exports")),
               ("explain", *h, "--la", "E06000035", "--period", "2025Q4", "--case-key", case_key),
               ("explain", *h, "--la", la, "--period", period, "--context-key", context_key),
               ("audit", "status", *h), ("audit", "report", *h, "--audit", audit),
               ("audit", "reidentify", *h, "--sample", str(home / "audits" / audit / "sample.csv"),
                "--pack", str(home / "inbox" / audit.rsplit("_", 1)[0]))]
    results = [(args, run_cli(*args, env=WARNINGS_SHOWN)) for args in writers]
    with ThreadPoolExecutor(4) as pool:
        results += zip(readers, pool.map(lambda args: run_cli(*args, env=WARNINGS_SHOWN), readers), strict=True)
    for args, result in results:
        assert result.returncode in (0, 1), (args, result.stderr)  # validate: 1 when rows would be quarantined
        assert warnings_in(result) == [], args


@pytest.mark.parametrize(("args", "message"), [
    (["explain", "--la", "E06000001", "--period", "2025-Q4", "--case-key", "0" * 16],
     "argument --period: '2025-Q4' is not a quarter: write it YYYYQn, for example 2025Q3"),
    (["run", "--la", "E06000001", "--period", "2025Q5", "--force"], "'2025Q5' is not a quarter: write it YYYYQn"),
    (["audit", "plan", "--la", "E06000001", "--period", "25Q3", "--size", "4"], "'25Q3' is not a quarter: write"),
    (["explain", "--la", "E0600001", "--period", "2025Q4", "--case-key", "0" * 16],
     "argument --la: 'E0600001' is not an English or Welsh LA code (a GSS code such as E06000001"),
    (["run", "--la", "S12000033", "--period", "2025Q4", "--force"], "'S12000033' is not an English or Welsh LA code"),
    (["audit", "plan", "--la", "x", "--period", "2025Q4", "--size", "4"], "'x' is not an English or Welsh LA code"),
    (["audit", "status", "--audit", "bogus"], "argument --audit: 'bogus' is not an audit's id: write it "
                                              "<LA code>_<quarter>_<number>, for example E06000001_2025Q3_01"),
    (["audit", "report", "--audit", "E06000001_2025-Q3_01"], "'E06000001_2025-Q3_01' is not an audit's id"),
    (["audit", "report", "--audit", "E99999999_2025Q3_01"], "'E99999999' is not an English or Welsh LA code"),
    (["demo", "--las", "x"], "argument --las: 'x' is not a whole number"),
    (["audit", "plan", "--la", "E06000001", "--period", "2025Q4", "--size", "0"], "argument --size: must be 1 or more"),
])
def test_an_argument_in_the_wrong_form_is_refused_with_its_form(args, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_arguments_are_read_in_any_case_and_with_spaces_around():
    from pipelines.cli import build_parser

    args = build_parser().parse_args(["explain", "--la", " e06000001", "--period", "2025q3 ", "--case-key",
                                      "abcdef0123456789"])
    assert (args.la, args.period) == ("E06000001", "2025Q3")
    assert build_parser().parse_args(["audit", "status", "--audit", "e06000001_2025q3_01"]).audit == \
        "E06000001_2025Q3_01"


def test_a_bad_period_is_refused_through_the_entry_point(tmp_path):
    result = run_cli("explain", "--home", str(tmp_path), "--la", "E06000001", "--period", "2025-Q4",
                     "--case-key", "0" * 16)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'2025-Q4' is not a quarter: write it YYYYQn, for example 2025Q3" in result.stderr
