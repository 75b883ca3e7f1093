"""Packs as Dagster partitions: one dynamic partition per pack, keyed `<LA code>|<period>`, added
when a pack first arrives in the inbox (by the inbox sensor or the command line)."""

from collections.abc import Callable
from pathlib import Path

import dagster as dg

PACKS = "packs"
pack_partitions = dg.DynamicPartitionsDefinition(name=PACKS)

# Tags that make one run cover a range of partitions (with the single-run backfill policy).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def register_packs(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Add the partitions not yet known; returns the ones added."""
    new = [key for key in keys if not instance.has_dynamic_partition(PACKS, key)]
    if new:
        instance.add_dynamic_partitions(PACKS, new)
    return new


def all_packs_tags(instance: dg.DagsterInstance) -> dict[str, str] | None:
    """Run tags covering every known pack in one run, or None when there are none."""
    keys = instance.get_dynamic_partitions(PACKS)
    if not keys:
        return None
    return {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}


def execute_audit(instance: dg.DagsterInstance, home: Path, inbox: Path,
                  progress: Callable[[str], None] = lambda _: None) -> dg.ExecuteInProcessResult:
    """Register the inbox's packs as partitions and run the audit job over all of them in one run
    (or only republish, when there are no packs at all). Unchanged packs are skipped by the assets."""
    from assets.ingest import inbox_keys
    from pipelines.definitions import AUDIT_JOB, PUBLISH_JOB, build_definitions

    defs = build_definitions(str(home), str(inbox))
    added = register_packs(instance, inbox_keys(inbox))
    if added:
        progress(f"{len(added)} new pack partition(s): {', '.join(added[:5])}{' ...' if len(added) > 5 else ''}")
    tags = all_packs_tags(instance)
    job = defs.get_job_def(AUDIT_JOB if tags else PUBLISH_JOB)
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    return job.execute_in_process(instance=instance, run_config=quiet, tags=tags, raise_on_error=False)
