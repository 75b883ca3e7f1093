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
    known = set(instance.get_dynamic_partitions(PACKS))
    new = [key for key in keys if key not in known]
    if new:
        instance.add_dynamic_partitions(PACKS, new)
    return new


def range_tags(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, str] | None:
    """Run tags covering the given packs in one run, or None when there are none. The range runs in
    the partitions' order (the order packs first arrived) from the first of them to the last, so new
    packs, which arrive together, are one short range; unchanged packs inside it are skipped."""
    order = {key: number for number, key in enumerate(instance.get_dynamic_partitions(PACKS))}
    wanted = sorted(order[key] for key in keys if key in order)
    if not wanted:
        return None
    ordered = list(order)
    return {RANGE_START_TAG: ordered[wanted[0]], RANGE_END_TAG: ordered[wanted[-1]]}


def execute_audit(instance: dg.DagsterInstance, home: Path, inbox: Path,
                  progress: Callable[[str], None] = lambda _: None) -> dg.ExecuteInProcessResult:
    """Register the inbox's packs as partitions and run the audit job over the packs with work to
    do (new, changed, or not yet scored with the present framework) in one run; with none, only
    republish. Unchanged packs cost a hash, not a partition of the run."""
    from assets import warehouse
    from assets.ingest import inbox_keys, inbox_state
    from pipelines.definitions import AUDIT_JOB, PUBLISH_JOB, build_definitions
    from pipelines.settings import AuditHome

    defs = build_definitions(str(home), str(inbox))
    added = register_packs(instance, inbox_keys(inbox))
    if added:
        progress(f"{len(added)} new pack partition(s): {', '.join(added[:5])}{' ...' if len(added) > 5 else ''}")
    database = AuditHome.resolve(str(home)).warehouse
    if database.exists():
        with warehouse.reading(database) as con:
            state = inbox_state(con, inbox)
    else:
        state = inbox_state(None, inbox)
    if state.unchanged:
        progress(f"{len(state.unchanged)} pack(s) unchanged, skipped")
    tags = range_tags(instance, state.pending)
    job = defs.get_job_def(AUDIT_JOB if tags else PUBLISH_JOB)
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    return job.execute_in_process(instance=instance, run_config=quiet, tags=tags, raise_on_error=False)
