"""After a demo run, nothing under site/ or exports/ identifies a child: no case_key, no case_id
from the inbox, and no visible count from 1 to 5 (issue: publication, disclosure control)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

CLI = str(Path(sys.executable).parent / "safeguarding-audit")
COUNT_CELL = re.compile(r'<td class="num count"[^>]*>([^<]*)</td>')
HOVER_COUNT = re.compile(r"n = (\d+)")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """A demo run over small LAs (3 quarters of the smallest authorities), so suppression is exercised."""
    home = tmp_path_factory.mktemp("published") / "home"
    synth = subprocess.run([CLI, "synth", "--out", str(home / "inbox"), "--las", "4", "--quarters", "3",
                            "--cases-per-la", "10", "--seed", "3"], capture_output=True, text=True, timeout=120)
    assert synth.returncode == 0, synth.stderr
    run = subprocess.run([CLI, "run", "--home", str(home)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return home


def published_files(home: Path) -> list[Path]:
    files = [f for folder in ("site", "exports") for f in (home / folder).rglob("*") if f.is_file()]
    assert any(f.suffix == ".html" for f in files) and any(f.suffix == ".parquet" for f in files)
    return files


def inbox_references(home: Path, table: str, column: str) -> set[str]:
    """Every value of one column of one table across the inbox's packs, in whatever form."""
    found = set()
    for path in (home / "inbox").rglob(f"{table}.*"):
        if path.suffix == ".csv":
            for encoding in ("utf-8-sig", "cp1252"):
                try:
                    frame = pd.read_csv(path, dtype=str, sep=None, engine="python", encoding=encoding)
                    break
                except UnicodeDecodeError:
                    continue
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_excel(path, dtype=str)
        found |= set(frame[column].dropna().astype(str).str.strip())
    for workbook in (home / "inbox").glob("*.xlsx"):
        sheets = pd.read_excel(workbook, sheet_name=None, dtype=str)
        if table in sheets:
            found |= set(sheets[table][column].dropna().astype(str).str.strip())
    return found - {""}


def test_no_context_key_or_context_id_is_published(demo_home):
    con = duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True)
    keys = {row[0] for row in con.execute("SELECT context_key FROM contexts").fetchall()}
    assert "context_id" not in {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns")
                                .fetchall()}
    con.close()
    context_ids = inbox_references(demo_home, "contexts", "context_id")
    assert len(keys) > 20 and len(context_ids) > 20
    for file in published_files(demo_home):
        if file.name == "plotly.min.js":
            continue
        text = file.read_bytes().decode("utf-8", errors="ignore")
        assert not {k for k in keys if k in text}, file
        found = {c for c in context_ids if re.search(rf"(?<![A-Za-z0-9]){re.escape(c)}(?![A-Za-z0-9])", text)}
        assert not found, (file, sorted(found)[:3])


def test_no_case_key_or_case_id_is_published(demo_home):
    con = duckdb.connect(str(demo_home / "warehouse.duckdb"), read_only=True)
    keys = {row[0] for row in con.execute("SELECT case_key FROM cases").fetchall()}
    con.close()
    case_ids = inbox_references(demo_home, "cases", "case_id")
    assert len(keys) > 50 and len(case_ids) > 50
    for file in published_files(demo_home):
        data = file.read_bytes()
        if file.name == "plotly.min.js":
            continue  # the charting library itself, identical on every site
        text = data.decode("utf-8", errors="ignore")
        found_keys = {k for k in keys if k in text}
        found_ids = {c for c in case_ids if re.search(rf"(?<![A-Za-z0-9]){re.escape(c)}(?![A-Za-z0-9])", text)}
        assert not found_keys, (file, sorted(found_keys)[:3])
        assert not found_ids, (file, sorted(found_ids)[:3])


def test_no_visible_count_from_1_to_5(demo_home):
    hidden = 0
    for file in published_files(demo_home):
        if file.suffix == ".html":
            text = file.read_text(encoding="utf-8")
            cells = [c.strip() for c in COUNT_CELL.findall(text)]
            assert not [c for c in cells if c.isdigit() and 1 <= int(c) <= 5], file
            assert not [n for n in HOVER_COUNT.findall(text) if 1 <= int(n) <= 5], file
            hidden += cells.count("[c]")
        elif file.suffix == ".csv" and file.stem in ("indicator_rates", "context_networks"):
            table = pd.read_csv(file, dtype=str, keep_default_na=False)
            counts = ("numerator", "denominator") if file.stem == "indicator_rates" else ("value",)
            for column in counts:
                values = table.loc[~table[column].isin(["c", "x"]), column].astype(int)
                assert not values.between(1, 5).any(), (file, column)
            hidden += int((table[counts[0]] == "c").sum())
    assert hidden > 0  # small LAs: suppression was exercised, not just absent
