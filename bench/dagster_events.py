"""What Dagster's own bookkeeping costs per partition, apart from any work: a trivial partitioned
asset run over N dynamic partitions in one single-run range, on a fresh SQLite instance (the kind
`safeguarding-audit run` uses). `python bench/dagster_events.py --partitions 1224 --assets 2`.

Each partition of each asset is a materialisation event written to the instance: this is the
number behind partitioning the per-pack assets by quarter, not by pack (docs/scaling.md)."""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import dagster as dg


def measure(partitions: int, assets: int) -> float:
    """Seconds for one run over `partitions` partitions of `assets` trivial assets."""
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    packs = dg.DynamicPartitionsDefinition(name="packs")

    @dg.multi_asset(specs=[dg.AssetSpec(f"asset_{i}") for i in range(assets)], partitions_def=packs,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def trivial():
        for i in range(assets):
            yield dg.MaterializeResult(asset_key=f"asset_{i}", metadata={"rows": 1})

    job = dg.Definitions(assets=[trivial], jobs=[dg.define_asset_job("job", selection="*")]).get_job_def("job")
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        instance = dg.DagsterInstance.from_config(home)
        keys = [f"E{number:08d}|2025Q1" for number in range(partitions)]
        instance.add_dynamic_partitions("packs", keys)
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, tags={
            "dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]})
        seconds = time.perf_counter() - started
        instance.dispose()
    if not result.success:
        raise SystemExit("the run failed")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=1224)
    parser.add_argument("--assets", type=int, default=2)
    args = parser.parse_args()
    seconds = measure(args.partitions, args.assets)
    print(f"{args.partitions} partitions x {args.assets} asset(s): {seconds:.1f} s, "
          f"{1000 * seconds / (args.partitions * args.assets):.1f} ms per partition and asset")


if __name__ == "__main__":
    main()
