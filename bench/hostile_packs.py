"""Hostile packs at full size: `make bench-hostile` (part of it). Each input is generated here, run
through the real command line, and measured: wall time, peak memory of the whole process tree,
exit status, and the rule it was refused with. Nothing large is committed.

- a pack whose cases.csv is 0.5 GiB and 1 GiB (a free-text column outside the contract makes it
  large; the rows are real cases), through `validate` and through `run`;
- a 1 MB workbook whose cases sheet holds one string of about 1 GiB;
- 3 MB and 10 MB workbooks that decompress into millions of blank or repeated rows;
- small files that expand: a workbook whose 10,000-character shared string fills 200,000 cells, and a
  Parquet file whose dictionary-encoded column repeats a 10,000-character value 200,000 times."""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from bench.run_bench import sample_tree_rss

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "safeguarding-audit")
FIXTURE = REPO / "tests" / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
WORDS = ("plan", "meeting", "school", "review", "visit", "agreed", "support", "contact", "worker", "team",
         "follow", "safety", "note", "week", "youth", "service", "parent", "advice", "group", "update")


def measured(args: list[str], timeout: float) -> dict:
    """Run the command line; wall time, peak memory of its process tree, exit status, last words."""
    started = time.perf_counter()
    child = subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"kib": 0}
    sampler = threading.Thread(target=sample_tree_rss, args=(child, peak), daemon=True)
    sampler.start()
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
        return {"seconds": timeout, "timed_out": True, "peak_rss_mib": peak["kib"] / 1024}
    sampler.join()
    said = (stdout + stderr).strip().splitlines()
    return {"seconds": round(time.perf_counter() - started, 2), "peak_rss_mib": round(peak["kib"] / 1024),
            "exit": child.returncode, "said": [line[:300] for line in said[-3:]]}


def big_csv_pack(folder: Path, size_bytes: int) -> Path:
    """The tiny pack with its cases repeated (each with its own case_id) and a notes column of
    ordinary words, until cases.csv holds `size_bytes`."""
    pack = folder / "E06000001_2025Q3"
    pack.mkdir(parents=True)
    for table in ("meetings", "actions"):
        shutil.copy(FIXTURE / f"{table}.csv", pack / f"{table}.csv")
    with open(FIXTURE / "cases.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, cases = rows[0], rows[1:]
    rng = random.Random(1)
    notes = [" ".join(rng.choice(WORDS) for _ in range(150)) for _ in range(64)]
    written = 0
    with open(pack / "cases.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header + ["notes"])
        number = 0
        while written < size_bytes:
            block = []
            for _ in range(10_000):
                case = list(cases[number % len(cases)])
                case[0] = f"A{number + 1}" if number < len(cases) else f"B{number}"
                block.append(case + [notes[number % len(notes)]])
                number += 1
            writer.writerows(block)
            written = handle.tell()
    return pack


def workbook_with_sheet(path: Path, sheet_xml) -> Path:
    """A small real workbook (the tiny pack's tables) whose cases sheet is replaced by the XML that
    the iterable of byte blocks `sheet_xml` gives (written as a stream: it may be gigabytes)."""
    import openpyxl
    import pandas as pd

    book = openpyxl.Workbook()
    book.remove(book.active)
    for table in ("cases", "meetings", "actions"):
        frame = pd.read_csv(FIXTURE / f"{table}.csv", dtype=str, keep_default_na=False)
        sheet = book.create_sheet(table)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append(list(row))
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info.filename, source.read(info.filename))
                continue
            with out.open(info.filename, "w", force_zip64=True) as stream:
                for block in sheet_xml:
                    stream.write(block)
    plain.unlink()
    return path


SHEET_HEAD = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>case_id</t></is></c></row>')
SHEET_TAIL = b"</sheetData></worksheet>"


def repeat(head: bytes, body: bytes, times: int, tail: bytes):
    yield SHEET_HEAD + head
    chunk = body * max(1, (1 << 20) // len(body))
    per_chunk = len(chunk) // len(body)
    for _ in range(times // per_chunk):
        yield chunk
    yield body * (times % per_chunk) + tail + SHEET_TAIL


def bombs(folder: Path) -> dict[str, Path]:
    """The red-team's workbooks: about 1 MB holding one 1 GiB string, and 3 MB and 10 MB of blank
    and repeated rows."""
    kinds = {
        "one_gib_string": (b'<row r="2"><c r="A2" t="inlineStr"><is><t>', b"x", 1 << 30, b"</t></is></c></row>"),
        "blank_rows": (b"", b'<row r="2"/>', 300_000_000, b""),
        "repeated_rows": (b"", b'<row r="2"><c r="A2" t="inlineStr"><is><t>A1</t></is></c></row>', 100_000_000,
                          b""),
    }
    made = {}
    for name, (head, body, times, tail) in kinds.items():
        target = folder / name / "inbox" / "E06000001_2025Q3.xlsx"
        target.parent.mkdir(parents=True)
        made[name] = workbook_with_sheet(target, repeat(head, body, times, tail))
    return made


def amplifiers(folder: Path) -> dict[str, Path]:
    """Small files whose text expands to gigabytes once read: each must be read a slice at a time."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    long_text = " ".join(WORDS) * 70  # about 10,000 characters, no identifier in it
    made = {}
    target = folder / "shared_string" / "E06000001_2025Q3.xlsx"
    target.parent.mkdir(parents=True)
    plain = workbook_with_sheet(target.with_suffix(".plain.xlsx"), [SHEET_HEAD + SHEET_TAIL])
    columns = pd.read_csv(FIXTURE / "cases.csv", dtype=str, nrows=0).columns
    heading = b"".join(b'<c t="inlineStr"><is><t>' + c.encode() + b"</t></is></c>" for c in columns)
    full_head = SHEET_HEAD.split(b'<row r="1">')[0] + b'<row r="1">' + heading + b"</row>"
    shared = (b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b"<si><t>" + long_text.encode() + b"</t></si></sst>")
    cell = b'<row r="%d"><c r="A%d" t="s"><v>0</v></c></row>'  # every cell the one shared string
    rows = b"".join(cell % (i, i) for i in range(2, 200_002))
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":  # the cases sheet, with the contract's header
                data = full_head + rows + SHEET_TAIL
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdShared" Type="http://schemas.'
                                    b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
                                    b'Target="sharedStrings.xml"/></Relationships>')
            out.writestr(info.filename, data)
        out.writestr("xl/sharedStrings.xml", shared)
    plain.unlink()
    made["shared_string"] = target
    pack = folder / "parquet_dictionary" / "E06000001_2025Q3"
    pack.mkdir(parents=True)
    for table in ("meetings", "actions"):
        shutil.copy(FIXTURE / f"{table}.csv", pack / f"{table}.csv")
    cases = pd.read_csv(FIXTURE / "cases.csv", dtype=str, keep_default_na=False)
    cases = pd.concat([cases] * 50_000, ignore_index=True)
    cases["case_id"] = [f"C{i}" for i in range(len(cases))]
    table = pa.Table.from_pandas(cases, preserve_index=False)
    table = table.append_column("notes", pa.array([long_text] * len(cases)).dictionary_encode())
    pq.write_table(table, pack / "cases.parquet", compression="zstd")
    made["parquet_dictionary"] = pack
    return made


def refusals(home: Path) -> list[str]:
    """The rules the run's rejected packs were refused with, from the warehouse."""
    import duckdb

    database = home / "warehouse.duckdb"
    if not database.exists():
        return []
    with duckdb.connect(str(database), read_only=True) as con:
        return [rule for (rule,) in con.execute("SELECT rule FROM submissions WHERE status = 'rejected'").fetchall()]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes-mib", type=int, nargs="*", default=[512, 1024],
                        help="sizes of the large cases.csv to try (default 512 1024)")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--only", choices=["large_csv", "workbook_bombs", "expanding_files"], nargs="*",
                        help="run only these groups (default: all)")
    parser.add_argument("--keep", type=Path, help="keep the generated files in this folder")
    args = parser.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="hostile-packs-"))
    results: dict = {"large_csv": {}, "workbook_bombs": {}, "expanding_files": {}}
    try:
        wanted = set(args.only or results)
        for size in args.sizes_mib if "large_csv" in wanted else []:
            home = work / f"csv_{size}" / "home"
            pack = big_csv_pack(home / "inbox", size << 20)
            entry = {"file_mib": round((pack / "cases.csv").stat().st_size / (1 << 20))}
            print(f"cases.csv of {entry['file_mib']} MiB: validate ...", flush=True)
            entry["validate"] = measured(["validate", str(pack)], args.timeout)
            print(f"  {entry['validate']}\n  run ...", flush=True)
            entry["run"] = measured(["run", "--home", str(home)], args.timeout)
            entry["run"]["rejected"] = refusals(home)
            print(f"  {entry['run']}", flush=True)
            results["large_csv"][f"{size}_mib"] = entry
            shutil.rmtree(home.parent)
        for name, path in (bombs(work) if "workbook_bombs" in wanted else {}).items():
            entry = {"file_mib": round(path.stat().st_size / (1 << 20), 2)}
            entry["run"] = measured(["run", "--home", str(path.parent.parent)], args.timeout)
            entry["run"]["rejected"] = refusals(path.parent.parent)
            print(f"{name} ({entry['file_mib']} MiB): {entry['run']}", flush=True)
            results["workbook_bombs"][name] = entry
        for name, path in (amplifiers(work) if "expanding_files" in wanted else {}).items():
            entry = {"file_mib": round(sum(f.stat().st_size for f in ([path] if path.is_file() else path.iterdir()))
                                       / (1 << 20), 2)}
            entry["validate"] = measured(["validate", str(path)], args.timeout)
            print(f"{name} ({entry['file_mib']} MiB): {entry['validate']}", flush=True)
            results["expanding_files"][name] = entry
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
