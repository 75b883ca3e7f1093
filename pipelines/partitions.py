"""Quarters as Dagster partitions: one dynamic partition per period (`YYYYQn`), added when a pack
for it first arrives in the inbox (by the inbox sensor or the command line). A run of a period
processes every pack of that quarter with work to do and skips the rest by their content hash, so
Dagster's bookkeeping grows with quarters, not with packs.

Case audits likewise: one dynamic partition per audit (its id, `<LA>_<period>_<NN>`), added by the
command line for every audit in the warehouse and by the sensor when an audit's returns change."""

import re

import dagster as dg

PERIODS = "periods"
period_partitions = dg.DynamicPartitionsDefinition(name=PERIODS)
AUDITS = "audits"
audit_partitions = dg.DynamicPartitionsDefinition(name=AUDITS)
AUDIT_ID = re.compile(r"^[EW]\d{8}_\d{4}Q[1-4]_\d{2}$")  # as `audit plan` names an audit (and its folder)

# Tags that make one run cover a range of partitions (with the single-run backfill policy).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def register_periods(instance: dg.DagsterInstance, periods: list[str], name: str = PERIODS) -> list[str]:
    """Add the partitions not yet known (of quarters, or of `name`); returns the ones added."""
    known = set(instance.get_dynamic_partitions(name))
    new = [period for period in dict.fromkeys(periods) if period not in known]
    if new:
        instance.add_dynamic_partitions(name, new)
    return new


def range_tags(instance: dg.DagsterInstance, periods: list[str], name: str = PERIODS) -> dict[str, str] | None:
    """Run tags covering the given periods in one run, or None when there are none. The range runs in
    the partitions' order (the order quarters first arrived) from the first of them to the last;
    the packs of a quarter inside it with nothing new are skipped by their hash."""
    order = {key: number for number, key in enumerate(instance.get_dynamic_partitions(name))}
    wanted = sorted(order[period] for period in periods if period in order)
    if not wanted:
        return None
    ordered = list(order)
    return {RANGE_START_TAG: ordered[wanted[0]], RANGE_END_TAG: ordered[wanted[-1]]}
