"""The asset graph. Each asset is a thin wrapper: it opens its resources, calls plain functions of
`assets/`, `checks/` and `dashboards/` (which run and are tested without Dagster), and turns what
they return into Dagster's results.

Per-pack work (ingest, validate, standardise, score) is partitioned by pack: dynamic partitions
keyed `<LA code>|<period>`, added as packs arrive. A run may cover one pack or a range of them in a
single run (the command line runs every pack in the inbox at once; unchanged packs are skipped by
their content hash). Partnership-wide assets (the site) depend on every partition."""

import warnings
from pathlib import Path

import dagster as dg

from assets.benchmarks import load_c3
from assets.ingest import ingest_inbox
from assets.metadata import (
    PACK_TABLES,
    SCORE_TABLES,
    STATUTORY_SCORE_TABLES,
    STATUTORY_TABLES,
    Columns,
    Markdown,
    benchmark_metadata,
    pack_metadata,
    score_metadata,
    statutory_metadata,
    statutory_score_metadata,
)
from assets.scoring import framework, score_pending
from assets.statutory import ingest_statutory, score_statutory
from checks.asset_checks import CheckOutcome, pack_checks, score_checks
from dashboards.exports import write_exports
from dashboards.publication import build_publication, exports_metadata, site_metadata
from dashboards.site import write_site
from pipelines.partitions import pack_partitions
from pipelines.resources import AuditHomeResource, WarehouseResource, progress_for

# No Dagster concurrency pool: DuckDB has one writer per file, and WarehouseResource takes the file
# lock of assets.warehouse.locked for that, which the operating system frees when a process dies. A
# pool's slot is held in the instance's storage instead: a run killed while holding it keeps it, and
# every later run would wait for it.
# Single-run backfills over a range of pack partitions are what the command line and sensor rely on;
# the parameter is marked beta on `@asset` only, and the warning would reach every user's terminal.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
PER_PACK = {"partitions_def": pack_partitions, "backfill_policy": dg.BackfillPolicy.single_run()}


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


# Each pack is one partition of two assets, `packs` and `scored_packs`, and each asset writes
# several warehouse tables. One asset per table would be tidier to look at, but Dagster records an
# event per partition and asset (about 25 ms each on the SQLite instance): nine assets made a national
# load of 1,224 packs spend minutes on bookkeeping alone (docs/scaling.md).
@dg.asset(
    description="Each pack of the inbox, read, checked and standardised, then loaded into the warehouse tables "
                f"{', '.join(PACK_TABLES)}; or rejected with its reason. A pack loaded before is skipped.",
    kinds={"duckdb"}, group_name="ingest",
    check_specs=[
        check_spec("packs", "rows_reconcile", "For every loaded pack, rows received = loaded + quarantined."),
        check_spec("packs", "quarantine_share", "No loaded pack of the run's partitions lost more than the share of "
                   "its rows to quarantine set in config/checks.yaml (a pack over it is held back at ingest, "
                   "rejected alone)."),
        check_spec("packs", "contract_expectations", "Great Expectations suites from the contract over the cases, "
                   "meetings and actions rows loaded in this run."),
    ],
    **PER_PACK,
)
def packs(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource):
    """The packs of this run's partitions, read from the inbox, checked, standardised and loaded or
    rejected. A pack whose content was loaded before is skipped."""
    keys = list(context.partition_keys)
    audit_home.paths.prepare()
    with warehouse.get_connection() as con:
        report = ingest_inbox(con, audit_home.inbox_path, audit_home.secret(), progress_for(context), keys=set(keys))
        metadata = pack_metadata(con, keys, report.outcomes)
        checks = pack_checks(con, keys, report.outcomes)
    yield dg.MaterializeResult(asset_key="packs", metadata=dagster_metadata(metadata))
    for outcome in checks:
        yield check_result("packs", outcome)


@dg.asset(
    deps=["packs"], kinds={"duckdb"}, group_name="score",
    description="Each loaded pack scored against the indicator framework: its rows in the warehouse tables "
                f"{', '.join(SCORE_TABLES)} (per case and indicator, per case and domain, and per pack).",
    check_specs=[
        check_spec("scored_packs", "every_case_scored", "Every case has exactly one row per indicator."),
        check_spec("scored_packs", "rates_reconcile", "Rates recount exactly from case_indicators."),
    ],
    **PER_PACK,
)
def scored_packs(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Score the cases of this run's packs against the indicator framework, then pool rates and
    scores per pack. A run for one pack always rescores it; a change to the framework rescores all."""
    keys, fw = list(context.partition_keys), framework()
    with warehouse.get_connection() as con:
        scored = score_pending(con, fw, keys=set(keys), force=set(keys) if len(keys) == 1 else set())
        progress_for(context)("scored every pack (the framework changed)" if scored is None else
                              f"scored {len(scored)} new or changed pack(s) against {len(fw.indicators)} indicators")
        metadata = score_metadata(con, keys)
        checks = score_checks(con, len(fw.indicators))
    yield dg.MaterializeResult(asset_key="scored_packs", metadata=dagster_metadata(metadata))
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


PUBLISHED_FROM = ["packs", "scored_packs", "statutory_rates", "dfe_c3"]


@dg.multi_asset(
    specs=[dg.AssetSpec("site", deps=PUBLISHED_FROM, kinds={"html"}, group_name="publish",
                        description="The static dashboard site under <home>/site/: aggregates only, opens "
                                    "offline."),
           dg.AssetSpec("exports", deps=PUBLISHED_FROM, kinds={"csv", "parquet"}, group_name="publish",
                        description="Open data under <home>/exports/: the published aggregates (suppressed) as "
                                    "CSV and Parquet in DfE's tidy layout, with a data dictionary.")],
)
def publication(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource):
    """The disclosure-controlled publication, built once from the warehouse, written as the site and
    as the exports (both while the warehouse lock is held: two runs never swap the same folder)."""
    paths = audit_home.paths
    with warehouse.get_connection() as con:
        published = build_publication(con, limit=audit_home.threshold)
        pages = write_site(published, paths.site)
        written = write_exports(published, paths.exports)
    progress_for(context)(f"site written: {paths.site / 'index.html'}")
    yield dg.MaterializeResult(asset_key="site", metadata=dagster_metadata(
        site_metadata(published, pages, paths.site / "index.html")))
    yield dg.MaterializeResult(asset_key="exports", metadata=dagster_metadata(
        exports_metadata(published, written, paths.exports)))
