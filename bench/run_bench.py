"""National-scale benchmark: `make bench` (scale 1), `make bench SCALE=0.05` for a quick run.

On one inbox of synthetic packs (153 LAs x 8 quarters, volumes in proportion to DfE C3, about
25,000 open cases a quarter nationally at scale 1), it measures:
- the floor: DuckDB alone counting the rows of the same CSV files (the machine's parsing limit);
- the full pipeline (`safeguarding-audit run`: ingest, validate, score, publish) wall time, the
  peak memory of its processes together, and each Dagster step's time and rows per second;
- one pack added to the loaded warehouse (the incremental cost), and the same pack alone in an
  empty home (what one pack costs by itself): their ratio says whether a big warehouse makes one
  new pack dearer;
- the site's render time in each run (from the `site` materialisation's metadata).
It prints a table and writes the figures as JSON (bench/results/)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "safeguarding-audit")
TABLES = ("cases", "meetings", "actions")


def floor_seconds(inbox: Path) -> tuple[float, dict[str, int]]:
    """DuckDB reading every CSV of the inbox and counting its rows, best of three."""
    best, counts = float("inf"), {}
    for _ in range(3):
        con = duckdb.connect()
        started = time.perf_counter()
        for table in TABLES:
            counts[table] = con.execute(
                f"SELECT count(*) FROM read_csv('{inbox}/*/{table}.csv', all_varchar = true)"
            ).fetchone()[0]
        best = min(best, time.perf_counter() - started)
        con.close()
    return best, counts


def run_pipeline(home: Path, label: str) -> dict:
    """`safeguarding-audit run` as a child process: wall time, and peak memory of the run's whole
    process tree (the run and the worker processes that draw the site), sampled every 0.1 s."""
    started = time.perf_counter()
    child = subprocess.Popen([CLI, "run", "--home", str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    peak = {"kib": 0}
    sampler = threading.Thread(target=sample_tree_rss, args=(child, peak), daemon=True)
    sampler.start()
    _, stderr = child.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if child.returncode != 0:
        sys.exit(f"{label} failed:\n{stderr[-3000:]}")
    return {"seconds": seconds, "peak_rss_mib": peak["kib"] / 1024, "run_id": last_run_id(home)}


def sample_tree_rss(child: subprocess.Popen, peak: dict) -> None:
    """Keep the largest total resident memory of `child` and its descendants seen while it runs."""
    while child.poll() is None:
        peak["kib"] = max(peak["kib"], tree_rss_kib(child.pid))
        time.sleep(0.1)


def tree_rss_kib(root: int) -> int:
    """Resident memory (KiB) of a process and all its descendants, from /proc (Linux)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def last_run_id(home: Path) -> str:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        return instance.get_runs(limit=1)[0].run_id
    finally:
        instance.dispose()


def step_times(home: Path, run_id: str) -> dict[str, float]:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        return {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(run_id)}
    finally:
        instance.dispose()


def site_render_seconds(home: Path, run_id: str) -> float | None:
    """How long the run's `site` step took to render and write its pages, as it reported."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("site")), limit=20).records
        for record in records:
            if record.run_id == run_id:
                value = record.asset_materialization.metadata.get("render_seconds")
                return value.value if value is not None else None
        return None
    finally:
        instance.dispose()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="case volume, 1.0 = national (default)")
    parser.add_argument("--las", type=int, default=153)
    parser.add_argument("--quarters", type=int, default=8)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench", help="scratch folder (replaced)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="where the JSON goes")
    args = parser.parse_args(argv)

    from synth.packs import write_packs

    if args.work.exists():
        shutil.rmtree(args.work)
    home = args.work / "home"
    inbox = home / "inbox"
    print(f"writing {args.las} LAs x {args.quarters} quarters at scale {args.scale} ...", flush=True)
    started = time.perf_counter()
    packs = write_packs(inbox, las=args.las, quarters=args.quarters, seed=2026, formats="csv", scale=args.scale)
    # One more quarter of one LA, added after the full load to measure the incremental cost.
    extra = args.work / "extra"
    write_packs(extra, las=1, quarters=args.quarters + 1, seed=2027, formats="csv", scale=args.scale)
    newest = sorted(p for p in extra.iterdir() if p.is_dir())[0]  # the quarter before the inbox starts
    synth_seconds = time.perf_counter() - started
    input_bytes = sum(f.stat().st_size for f in inbox.rglob("*.csv"))

    floor, rows = floor_seconds(inbox)
    total_rows = sum(rows.values())
    print(f"floor: DuckDB reads {total_rows:,} rows in {floor:.2f} s", flush=True)
    full = run_pipeline(home, "full pipeline")
    print(f"full pipeline: {full['seconds']:.1f} s, peak {full['peak_rss_mib']:.0f} MiB", flush=True)
    steps = step_times(home, full["run_id"])
    shutil.copytree(newest, inbox / newest.name)
    one = run_pipeline(home, "one pack added")
    one_steps = step_times(home, one["run_id"])
    print(f"one pack added: {one['seconds']:.1f} s", flush=True)
    alone_home = args.work / "alone"
    shutil.copytree(newest, alone_home / "inbox" / newest.name)
    alone = run_pipeline(alone_home, "the same pack alone")
    alone_steps = step_times(alone_home, alone["run_id"])
    print(f"the same pack alone in an empty home: {alone['seconds']:.1f} s", flush=True)

    figures = {
        "scale": args.scale, "las": args.las, "quarters": args.quarters, "packs": len(packs),
        "rows": rows, "total_rows": total_rows, "input_mib": input_bytes / 2**20, "synth_seconds": synth_seconds,
        "floor_seconds": floor, "full_seconds": full["seconds"], "full_peak_rss_mib": full["peak_rss_mib"],
        "one_pack_seconds": one["seconds"], "alone_seconds": alone["seconds"],
        "ratio_full_to_floor": full["seconds"] / floor,
        "ratio_one_pack_to_alone": one["seconds"] / alone["seconds"],
        "ratio_one_pack_to_full": one["seconds"] / full["seconds"],
        "site_render_seconds": {"full": site_render_seconds(home, full["run_id"]),
                                "one_pack": site_render_seconds(home, one["run_id"]),
                                "alone": site_render_seconds(alone_home, alone["run_id"])},
        "steps": {key: {"seconds": seconds, "rows_per_second": total_rows / seconds if seconds else None}
                  for key, seconds in steps.items()},
        "one_pack_steps": one_steps,
        "one_pack_peak_rss_mib": one["peak_rss_mib"],
        "alone_steps": alone_steps,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    print_table(figures)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-scale-{args.scale:g}.json"
    path.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"figures written to {path}")
    return figures


def print_table(f: dict) -> None:
    print()
    print(f"{'measure':<42}{'value':>16}")
    print("-" * 58)
    lines = [
        ("packs / rows", f"{f['packs']} / {f['total_rows']:,}"),
        ("input (MiB of CSV)", f"{f['input_mib']:.1f}"),
        ("floor: DuckDB read_csv count (s)", f"{f['floor_seconds']:.2f}"),
        ("full pipeline (s)", f"{f['full_seconds']:.1f}"),
        ("full / floor (target <= 4 at scale 4, 6 at 1)", f"{f['ratio_full_to_floor']:.1f}"),
        ("one pack added (s)", f"{f['one_pack_seconds']:.1f}"),
        ("same pack alone, empty home (s)", f"{f['alone_seconds']:.1f}"),
        ("one pack / alone (target <= 1.5)", f"{f['ratio_one_pack_to_alone']:.2f}"),
        ("site render, full / one pack (s)", "/".join(f"{v:.1f}" if v is not None else "-" for v in
                                                      (f["site_render_seconds"]["full"],
                                                       f["site_render_seconds"]["one_pack"]))),
        ("peak memory, full run, all processes (MiB)", f"{f['full_peak_rss_mib']:.0f}"),
    ]
    lines += [(f"  step {key} (s, rows/s)", f"{v['seconds']:.1f}, {v['rows_per_second'] or 0:,.0f}")
              for key, v in f["steps"].items()]
    for name, value in lines:
        print(f"{name:<42}{value:>16}")


if __name__ == "__main__":
    main()
