"""`safeguarding-audit validate`: exit codes 0/1/2, every problem located, nothing stored."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "safeguarding-audit")
FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny_pack" / "E06000001_2025Q3"


def validate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "validate", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture
def pack(tmp_path) -> Path:
    target = tmp_path / "E06000001_2025Q3"
    shutil.copytree(TINY, target)
    return target


def test_a_valid_pack_exits_0_and_stores_nothing(pack, tmp_path, monkeypatch):
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = validate(str(pack), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VALID" in result.stdout and "cases: 4 row(s); 4 would load" in result.stdout
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no var/, no key file


def test_rows_to_quarantine_exit_1_with_table_row_column_and_rule(pack):
    lines = (pack / "meetings.csv").read_text().splitlines()
    lines[2] = lines[2].replace("icpc", "lunch")          # data row 2: vocabulary
    lines[4] = lines[4].replace("2025-07-25", "2025-10-01")  # data row 4: outside the period
    (pack / "meetings.csv").write_text("\n".join(lines) + "\n")
    result = validate(str(pack), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["status"] == "quarantine" and report["exit_code"] == 1
    problems = {(p["table_name"], p["row_number"], p["column_name"], p["rule"]) for p in report["problems"]}
    assert problems == {("meetings", 2, "meeting_type", "vocabulary"),
                        ("meetings", 4, "meeting_date", "outside_period")}
    assert report["counts"]["meetings"] == {"rows": 5, "would_load": 3, "would_quarantine": 2}
    assert "lunch" not in result.stdout
    text = validate(str(pack))
    assert text.returncode == 1
    assert "meetings.csv row 2, column meeting_type [vocabulary]" in text.stdout


def test_a_rejected_pack_exits_2_with_the_reason(pack):
    (pack / "actions.csv").unlink()
    result = validate(str(pack), "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["rejection"]["rule"] == "missing_table" and report["rejection"]["table"] == "actions"


def test_a_missing_path_is_a_plain_error(tmp_path):
    result = validate(str(tmp_path / "E06000001_2025Q3"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_a_profile_maps_an_la_layout_into_the_contract(tmp_path):
    for profile in sorted((Path(__file__).parents[1] / "config" / "profiles").glob("example-*.yaml")):
        name = profile.stem
        source = next((FIXTURES / "profile_packs" / name).iterdir())
        without = validate(str(source))
        assert without.returncode == 2  # the LA's own column names are not the contract's
        result = validate(str(source), "--profile", str(profile), "--json")
        assert result.returncode == 0, result.stdout
        assert json.loads(result.stdout)["counts"]["cases"]["would_quarantine"] == 0
