"""The Dagster code location: `dagster dev -m pipelines.definitions` and the command line both load
these definitions, so runs from either appear in the same history under <home>/dagster."""

from __future__ import annotations

import dagster as dg

from pipelines.dagster_assets import inbox_packs, scores, site
from pipelines.resources import build_resources

AUDIT_JOB = "audit"


def build_definitions(home: str | None = None, inbox: str | None = None) -> dg.Definitions:
    audit_job = dg.define_asset_job(AUDIT_JOB, selection=dg.AssetSelection.all(),
                                    description="Ingest new packs, score every case, publish the site.")
    return dg.Definitions(assets=[inbox_packs, scores, site], jobs=[audit_job], resources=build_resources(home, inbox))


defs = build_definitions()
