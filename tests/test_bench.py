"""The benchmark runs end to end at a small scale (no timing assertions: timings live in bench/)."""

from __future__ import annotations

import json

from bench.run_bench import main


def test_the_benchmark_runs_and_writes_its_figures(tmp_path):
    figures = main(["--scale", "0.05", "--las", "3", "--quarters", "1", "--work", str(tmp_path / "work"),
                    "--out", str(tmp_path / "out")])
    written = json.loads((tmp_path / "out" / "bench-scale-0.05.json").read_text())
    assert written["packs"] == 3 and written["total_rows"] == sum(written["rows"].values()) > 0
    for key in ("floor_seconds", "full_seconds", "one_pack_seconds", "full_peak_rss_mib", "ratio_full_to_floor",
                "ratio_one_pack_to_full"):
        assert written[key] > 0, key
    assert {"packs", "scored_packs", "publication"} <= set(written["steps"])  # site and exports: one step
    assert figures["rows"] == written["rows"]
