"""The Dagster code location: `dagster dev -m pipelines.definitions` and the command line both load
these definitions, so runs from either appear in the same history under <home>/dagster."""

from __future__ import annotations

import dagster as dg

from pipelines.dagster_assets import (
    audit_findings,
    audit_returns,
    dfe_benchmarks,
    dfe_c3,
    inbox_entries,
    packs,
    publication,
    restricted_edition,
    scored_packs,
    statutory_returns,
    statutory_scoring,
)
from pipelines.resources import build_resources
from pipelines.schedules import quarterly_republish
from pipelines.sensors import inbox_sensor

AUDIT_JOB = "audit"
PUBLISH_JOB = "publish"
RETURNS_JOB = "case_audits"


def build_definitions(home: str | None = None, inbox: str | None = None) -> dg.Definitions:
    audit_job = dg.define_asset_job(
        AUDIT_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.assets(audit_returns),
        description="Ingest the packs of the chosen quarters (skipping unchanged ones), score them, publish.")
    publish_job = dg.define_asset_job(
        PUBLISH_JOB, selection=dg.AssetSelection.assets(inbox_entries, statutory_returns, statutory_scoring, dfe_c3,
                                                        dfe_benchmarks, audit_findings, publication,
                                                        restricted_edition),
        description="Refuse inbox entries that are not packs, load new statutory returns and the benchmarks, "
                    "then republish the site and the exports.")
    returns_job = dg.define_asset_job(
        RETURNS_JOB, selection=dg.AssetSelection.assets(audit_returns, audit_findings, restricted_edition),
        description="Load the chosen audits' new or changed returns and action trackers, then work out the "
                    "findings and rewrite the restricted edition.")
    return dg.Definitions(assets=[packs, inbox_entries, scored_packs, statutory_returns, statutory_scoring, dfe_c3,
                                  dfe_benchmarks, audit_returns, audit_findings, publication, restricted_edition],
                          jobs=[audit_job, publish_job, returns_job],
                          sensors=[inbox_sensor(audit_job, publish_job, returns_job)],
                          schedules=[quarterly_republish(publish_job)],
                          resources=build_resources(home, inbox))


defs = build_definitions()
