"""The quarterly republishing schedule. It is on by default: it only republishes from the
warehouse, so a run it starts can change nothing but the published pages' date."""

from __future__ import annotations

import dagster as dg


def quarterly_republish(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """Republish the site and exports at 06:00 on the first day of each quarter, so pages say which
    quarter they were published in even when no pack arrived."""
    return dg.ScheduleDefinition(
        name="quarterly_republish", job=job, cron_schedule="0 6 1 1,4,7,10 *",
        execution_timezone="Europe/London", default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Republish the site and exports from the warehouse each quarter.")
