"""The asset graph. Each asset is a thin wrapper: it opens its resources, calls plain functions of
`assets/`, `checks/` and `dashboards/` (which run and are tested without Dagster), and turns what
they return into Dagster's results.

Per-pack work (ingest, validate, standardise, score) is partitioned by quarter: dynamic partitions
keyed `YYYYQn`, added as packs arrive. A run of a quarter processes every pack of it with work to
do and skips the rest by their content hash; a run may cover a range of quarters (the command line
runs every quarter with work at once). Each quarter's partition carries its own packs' outcomes.
Inbox entries that are not a quarter's pack are refused by `inbox_entries`. Partnership-wide assets
(the site) depend on every partition."""

import warnings
from pathlib import Path

import dagster as dg

from assets.audit_actions import ingest_action_trackers
from assets.audit_findings import compute_all_findings
from assets.audit_returns import ingest_audit_returns
from assets.benchmarks import load_c3, load_reference
from assets.ingest import forced_packs, ingest_inbox
from assets.metadata import (
    PACK_TABLES,
    SCORE_TABLES,
    STATUTORY_SCORE_TABLES,
    STATUTORY_TABLES,
    Columns,
    Markdown,
    audit_findings_metadata,
    audit_returns_metadata,
    benchmark_metadata,
    benchmark_reference_metadata,
    entries_metadata,
    pack_metadata,
    period_pack_metadata,
    score_metadata,
    statutory_metadata,
    statutory_score_metadata,
)
from assets.scoring import framework, score_pending
from assets.statutory import ingest_statutory, score_statutory
from checks.asset_checks import CheckOutcome, moderation_complete, pack_checks, score_checks
from dashboards.exports import exports_metadata, write_exports
from dashboards.publication import build_publication, site_metadata
from dashboards.restricted import write_restricted_edition
from dashboards.site import write_site
from pipelines.partitions import audit_partitions, period_partitions
from pipelines.resources import AuditHomeResource, WarehouseResource, progress_for

# No Dagster concurrency pool: DuckDB has one writer per file, and WarehouseResource takes the file
# lock of assets.warehouse.locked for that, which the operating system frees when a process dies. A
# pool's slot is held in the instance's storage instead: a run killed while holding it keeps it, and
# every later run would wait for it.
# Single-run backfills over a range of quarter partitions are what the command line and sensor rely on;
# the parameter is marked beta on `@asset` only, and the warning would reach every user's terminal.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
PER_QUARTER = {"partitions_def": period_partitions, "backfill_policy": dg.BackfillPolicy.single_run()}
PER_AUDIT = {"partitions_def": audit_partitions, "backfill_policy": dg.BackfillPolicy.single_run()}


def dagster_metadata(values: dict) -> dict:
    """Plain metadata values (assets.metadata) as Dagster shows them."""
    shown = {}
    for key, value in values.items():
        if isinstance(value, Markdown):
            value = dg.MetadataValue.md(value.text)
        elif isinstance(value, Columns):
            value = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in value.columns])
        elif isinstance(value, Path):
            value = dg.MetadataValue.path(str(value))
        elif isinstance(value, list | dict):
            value = dg.MetadataValue.json(value)
        shown[key] = value
    return shown


def check_result(asset: str, outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=outcome.name, asset_key=asset, passed=outcome.passed,
                               description=outcome.description, metadata=dagster_metadata(outcome.metadata))


def check_spec(asset: str, name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


class PacksConfig(dg.Config):
    """Run configuration of `packs` (the UI's launchpad, or `run --la CODE --period P --force`)."""

    # Packs loaded again even if unchanged: LA codes (their packs of this run's quarters) or pack
    # keys (E06000001|2025Q3).
    rerun: list[str] = []


@dg.asset(
    description="Each pack of the inbox, read, checked and standardised, then loaded into the warehouse tables "
                f"{', '.join(PACK_TABLES)}; or rejected with its reason. A pack loaded before is skipped. "
                "Partitioned by quarter.",
    kinds={"duckdb"}, group_name="ingest",
    check_specs=[
        check_spec("packs", "rows_reconcile", "For every loaded pack of the run's quarters, rows received = loaded + "
                   "quarantined."),
        check_spec("packs", "quarantine_share", "No loaded pack of the run's quarters lost more than the share of "
                   "its rows to quarantine set in config/checks.yaml (a pack over it is held back at ingest, "
                   "rejected alone)."),
        check_spec("packs", "contract_expectations", "Great Expectations suites from the contract over the cases, "
                   "meetings and actions rows loaded in this run."),
    ],
    **PER_QUARTER,
)
def packs(context: dg.AssetExecutionContext, config: PacksConfig, audit_home: AuditHomeResource,
          warehouse: WarehouseResource):
    """The packs of this run's quarters, read from the inbox, checked, standardised and loaded or
    rejected. A pack whose content was loaded before is skipped, unless its LA is to be rerun."""
    periods = list(context.partition_keys)
    audit_home.paths.prepare()
    with warehouse.get_connection() as con:
        try:
            rerun = forced_packs(audit_home.inbox_path, periods, config.rerun)
        except ValueError as error:
            raise dg.Failure(str(error)) from None
        report = ingest_inbox(con, audit_home.inbox_path, audit_home.secret(), progress_for(context),
                              periods=set(periods), force=rerun)
        metadata = pack_metadata(con, periods, report.outcomes)
        per_period = {period: period_pack_metadata(con, period, report.outcomes) for period in periods}
        checks = pack_checks(con, periods, report.outcomes)
    yield dg.MaterializeResult(asset_key="packs", metadata=dagster_metadata(metadata))
    for period, values in per_period.items():  # last: each partition shows its own quarter's figures
        yield dg.AssetMaterialization(asset_key="packs", partition=period, metadata=dagster_metadata(values))
    for outcome in checks:
        yield check_result("packs", outcome)


@dg.asset(kinds={"duckdb"}, group_name="audits",
          description="Multi-agency case audit returns: each audit's completed forms (and moderation form) in "
                      "<home>/audits/<audit>/returns/, checked against its sample and tool and loaded into "
                      "audit_answers and audit_comments, or rejected with the reason; and each audit's action "
                      "tracker, into audit_actions. Partitioned by audit. Restricted.",
          **PER_AUDIT)
def audit_returns(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource):
    """Load the run's audits' new or changed returns; an unchanged one is skipped by its hash."""
    audits = set(context.partition_keys)
    with warehouse.get_connection() as con:
        outcomes = ingest_audit_returns(con, audit_home.paths.audits, progress_for(context), audit_ids=audits)
        trackers = ingest_action_trackers(con, audit_home.paths.audits, audit_ids=audits)
        metadata = audit_returns_metadata(con, outcomes) | {
            "action_trackers_loaded": sum(t.status == "loaded" for t in trackers),
            "action_trackers_rejected": sum(t.status == "rejected" for t in trackers)}
    return dg.MaterializeResult(metadata=dagster_metadata(metadata))


@dg.asset(deps=["audit_returns", "scored_packs"], kinds={"duckdb"}, group_name="audits",
          check_specs=[dg.AssetCheckSpec("moderation_complete", asset="audit_findings", blocking=False,
                                         description="Every sampled case has a moderated answer to every "
                                                     "question (a warning: the report is not final yet).")],
          description="What each audit found: agreement among the agencies per question (ordinal Krippendorff's "
                      "alpha) and the moderated judgement against the case's data per domain (Spearman's rho, "
                      "concordant share), in audit_agreement and audit_judgement_vs_data. Restricted.")
def audit_findings(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Recompute every audit's findings from its loaded returns."""
    with warehouse.get_connection() as con:
        audits = compute_all_findings(con)
        metadata = audit_findings_metadata(con, audits)
        moderation = moderation_complete(con)
    yield dg.MaterializeResult(metadata=dagster_metadata(metadata))
    yield dg.AssetCheckResult(check_name=moderation.name, passed=moderation.passed,
                              severity=dg.AssetCheckSeverity.WARN, description=moderation.description,
                              metadata=dagster_metadata(moderation.metadata))


@dg.asset(kinds={"duckdb"}, group_name="ingest",
          description="Entries of the inbox that are not a quarter's pack (a name that is not a pack's, a link, a "
                      "hidden folder, a period that is not a quarter), each refused with its reason.")
def inbox_entries(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource):
    """Refuse what the inbox holds besides packs of quarters, so it is seen and said."""
    with warehouse.get_connection() as con:
        report = ingest_inbox(con, audit_home.inbox_path, audit_home.secret(), progress_for(context),
                              periods=set(), entries=True)
    return dg.MaterializeResult(metadata=dagster_metadata(entries_metadata(report.outcomes)))


@dg.asset(
    deps=["packs"], kinds={"duckdb"}, group_name="score",
    description="Each loaded pack scored against the indicator framework: its rows in the warehouse tables "
                f"{', '.join(SCORE_TABLES)} (per case and indicator, per case and domain, and per pack).",
    check_specs=[
        check_spec("scored_packs", "every_case_scored", "Every case has exactly one row per indicator."),
        check_spec("scored_packs", "rates_reconcile", "Rates recount exactly from case_indicators."),
    ],
    **PER_QUARTER,
)
def scored_packs(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Score the cases of this run's quarters' new or reloaded packs against the indicator framework,
    then pool rates and scores per pack; a change to the framework rescores every pack."""
    periods, fw = list(context.partition_keys), framework()
    with warehouse.get_connection() as con:
        scored = score_pending(con, fw, periods=set(periods))
        progress_for(context)("scored every pack (the framework changed)" if scored is None else
                              f"scored {len(scored)} new or changed pack(s) against {len(fw.indicators)} indicators")
        metadata = score_metadata(con, periods)
        per_period = {period: score_metadata(con, [period]) for period in periods}
        checks = score_checks(con, periods, len(fw.indicators_of("case")))  # every case: each case indicator
    yield dg.MaterializeResult(asset_key="scored_packs", metadata=dagster_metadata(metadata))
    for period, values in per_period.items():
        yield dg.AssetMaterialization(asset_key="scored_packs", partition=period, metadata=dagster_metadata(values))
    for outcome in checks:
        yield check_result("scored_packs", outcome)


@dg.multi_asset(
    specs=[dg.AssetSpec(key, kinds={"duckdb"}, group_name="statutory",
                        description="Statutory returns (CIN census, SSDA903 missing episodes), pseudonymised "
                                    "and degraded on the way in.")
           for key in STATUTORY_TABLES],
)
def statutory_returns(context: dg.AssetExecutionContext, audit_home: AuditHomeResource,
                      warehouse: WarehouseResource):
    """New or changed CIN census XML files and SSDA903 folders in <home>/statutory/, loaded or
    rejected; a return seen before is skipped."""
    paths = audit_home.paths.prepare()
    with warehouse.get_connection() as con:
        outcomes = ingest_statutory(con, paths.statutory, audit_home.secret(), progress_for(context))
        metadata = statutory_metadata(con, outcomes)
    for key, values in metadata.items():
        yield dg.MaterializeResult(asset_key=key, metadata=dagster_metadata(values))


@dg.multi_asset(
    specs=[dg.AssetSpec("statutory_child_indicators", deps=STATUTORY_TABLES, kinds={"duckdb"},
                        group_name="statutory", description="Each child of each CIN year against the statutory "
                                                             "indicators."),
           dg.AssetSpec("statutory_rates", deps=STATUTORY_TABLES, kinds={"duckdb"}, group_name="statutory",
                        description="Statutory indicator rates per LA and year, with Wilson intervals.")],
)
def statutory_scoring(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Score every child in the statutory returns with config/statutory_indicators.yaml."""
    with warehouse.get_connection() as con:
        score_statutory(con)
        metadata = statutory_score_metadata(con)
    for key in STATUTORY_SCORE_TABLES:
        yield dg.MaterializeResult(asset_key=key, metadata=dagster_metadata(metadata[key]))


@dg.asset(kinds={"duckdb"}, group_name="statutory")
def dfe_c3(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """DfE table C3 (factors at the end of assessment, 2018-2025) as published, tidy, with its
    suppression markers kept apart from the numbers: the national and regional benchmarks."""
    with warehouse.get_connection() as con:
        metadata = benchmark_metadata(con, load_c3(con))
    context.add_output_metadata(dagster_metadata(metadata))


@dg.asset(kinds={"duckdb"}, group_name="statutory")
def dfe_benchmarks(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """The rest of the national benchmarks as published: ONS child population (the denominators of
    rates per 10,000), DfE's statistical neighbour model, and child protection plans (D3, D5)."""
    with warehouse.get_connection() as con:
        metadata = benchmark_reference_metadata(con, load_reference(con))
    context.add_output_metadata(dagster_metadata(metadata))


PUBLISHED_FROM = ["packs", "inbox_entries", "scored_packs", "statutory_rates", "dfe_c3", "dfe_benchmarks"]


@dg.multi_asset(
    specs=[dg.AssetSpec("site", deps=PUBLISHED_FROM, kinds={"html"}, group_name="publish",
                        description="The static dashboard site under <home>/site/: aggregates only, opens "
                                    "offline."),
           dg.AssetSpec("exports", deps=PUBLISHED_FROM, kinds={"csv", "parquet"}, group_name="publish",
                        description="Open data under <home>/exports/: every published table (suppressed) as "
                                    "CSV with its .meta.csv in the layout of Explore Education Statistics, "
                                    "and typed Parquet, with a data dictionary.")],
)
def publication(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource):
    """The disclosure-controlled publication, built once from the warehouse, written as the site and
    as the exports (both while the warehouse lock is held: two runs never swap the same folder)."""
    paths = audit_home.paths
    with warehouse.get_connection() as con:
        published = build_publication(con, limit=audit_home.threshold)
        site = write_site(published, paths.site)
        written = write_exports(published, paths.exports)
    progress_for(context)(f"site written: {paths.site / 'index.html'} ({site.summary()})")
    yield dg.MaterializeResult(asset_key="site", metadata=dagster_metadata(
        site_metadata(published, site, paths.site / "index.html")))
    yield dg.MaterializeResult(asset_key="exports", metadata=dagster_metadata(
        exports_metadata(published, written, paths.exports)))


@dg.asset(deps=["audit_findings", *PUBLISHED_FROM], kinds={"html"}, group_name="audits",
          description="The restricted edition for the partnership's own auditors, under <home>/restricted/: the "
                      "site with no small number hidden, marked OFFICIAL-SENSITIVE, with an audit worklist per LA and "
                      "quarter, and every audit's board report. Written when config/publication.yaml's "
                      "restricted.edition says so. Never copied into the public site or the exports.")
def restricted_edition(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource):
    """Write the restricted edition (or nothing, when it is not wanted)."""
    with warehouse.get_connection() as con:
        written = write_restricted_edition(con, audit_home.paths.restricted)
    if written is None:
        return dg.MaterializeResult(metadata={"written": False})
    site, reports = written
    progress_for(context)(f"restricted edition written: {site.pages[0].parent / 'index.html'} ({site.summary()}); "
                          f"{len(reports)} audit report(s)")
    return dg.MaterializeResult(metadata={"written": True, "pages": len(site.pages), "reports": len(reports),
                                          "pages_redrawn": len(site.redrawn)})
