"""Packs as Dagster partitions: one dynamic partition per pack, keyed `<LA code>|<period>`
(assets.reading.pack_key), added when a pack first arrives in the inbox (by the inbox sensor or the
command line)."""

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
