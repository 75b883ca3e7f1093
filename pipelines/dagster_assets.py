"""The asset graph. Each asset is a thin wrapper over a plain function in `assets/`, `checks/` or
`dashboards/`, which can be run and tested without Dagster."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from assets import warehouse as warehouse_tables
from assets.ingest import ingest_inbox
from assets.scoring import framework, score_pending
from assets.secret import load_secret
from checks import reconciliation
from checks.expectations import validate_loaded
from dashboards.site import write_site
from pipelines.resources import AuditHomeResource, progress_for

PACK_TABLE_KEYS = ["submissions", "cases", "meetings", "actions", "quarantine"]
SCORE_TABLE_KEYS = ["case_indicators", "case_domain_scores", "indicator_rates", "pack_scores"]


def row_counts(con, tables: list[str]) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


@dg.multi_asset(
    specs=[
        dg.AssetSpec("submissions", description="One row per pack received: loaded, or rejected and why.",
                     kinds={"duckdb"}, group_name="ingest"),
        dg.AssetSpec("cases", description="Standardised cases, pseudonymised by case_key.",
                     kinds={"duckdb"}, group_name="ingest"),
        dg.AssetSpec("meetings", description="Standardised multi-agency meetings.", kinds={"duckdb"},
                     group_name="ingest"),
        dg.AssetSpec("actions", description="Standardised plan actions with their target.", kinds={"duckdb"},
                     group_name="ingest"),
        dg.AssetSpec("quarantine", description="Rows refused by a rule: where, which rule, and how to fix.",
                     kinds={"duckdb"}, group_name="ingest"),
    ],
    check_specs=[
        dg.AssetCheckSpec("rows_reconcile", asset="submissions", blocking=True,
                          description="For every loaded pack, rows received = loaded + quarantined."),
        *[dg.AssetCheckSpec("contract_expectations", asset=table, blocking=True,
                            description=f"Great Expectations suite from the contract over the {table} rows "
                                        "loaded in this run.")
          for table in ("cases", "meetings", "actions")],
    ],
)
def inbox_packs(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: DuckDBResource):
    """Every new or changed pack in the inbox, read, checked, standardised and loaded or rejected."""
    paths = audit_home.paths.prepare()
    secret = load_secret(paths.key_file)
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        report = ingest_inbox(con, audit_home.inbox_path, secret, progress_for(context))
        counts = row_counts(con, PACK_TABLE_KEYS)
        unreconciled = reconciliation.unreconciled_packs(con)
        loaded = [(o.la_code, o.period) for o in report.outcomes if o.status == "loaded"]
        suites = validate_loaded(con, loaded)
    for key in PACK_TABLE_KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata={
            "dagster/row_count": counts[key],
            "packs_loaded": report.count("loaded"),
            "packs_rejected": report.count("rejected"),
            "packs_unchanged": report.count("unchanged"),
        })
    yield dg.AssetCheckResult(
        check_name="rows_reconcile", asset_key="submissions", passed=not unreconciled,
        metadata={"unreconciled_packs": len(unreconciled),
                  "packs": ", ".join(f"{la} {p}" for la, p, *_ in unreconciled[:20])})
    for suite in suites:
        yield dg.AssetCheckResult(
            check_name="contract_expectations", asset_key=suite.table, passed=suite.success,
            metadata={"packs_checked": len(loaded), "rows_checked": suite.rows,
                      "expectations_evaluated": suite.evaluated, "expectations_failed": len(suite.failures),
                      "failures": dg.MetadataValue.json(suite.failures[:20])})


@dg.multi_asset(
    specs=[
        dg.AssetSpec("case_indicators", deps=["cases", "meetings", "actions"], kinds={"duckdb"},
                     group_name="score", description="One row per case and indicator of the framework."),
        dg.AssetSpec("case_domain_scores", deps=["cases", "meetings", "actions"], kinds={"duckdb"},
                     group_name="score", description="Each case's score in each scored domain."),
        dg.AssetSpec("indicator_rates", deps=["cases", "meetings", "actions"], kinds={"duckdb"},
                     group_name="score", description="Per pack and indicator: met / applicable, Wilson 95% CI."),
        dg.AssetSpec("pack_scores", deps=["cases", "meetings", "actions"], kinds={"duckdb"},
                     group_name="score", description="Per pack: domain scores and the practice score."),
    ],
    check_specs=[
        dg.AssetCheckSpec("every_case_scored", asset="case_indicators", blocking=True,
                          description="Every case has exactly one row per indicator."),
        dg.AssetCheckSpec("rates_reconcile", asset="indicator_rates", blocking=True,
                          description="Rates recount exactly from case_indicators."),
    ],
)
def scores(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Score every case against the indicator framework, then pool rates and scores per pack."""
    fw = framework()
    progress = progress_for(context)
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        scored = score_pending(con, fw)
        progress("scored every pack (the framework changed)" if scored is None else
                 f"scored {len(scored)} new or changed pack(s) against {len(fw.indicators)} indicators")
        counts = row_counts(con, SCORE_TABLE_KEYS)
        incomplete = reconciliation.incomplete_cases(con, len(fw.indicators))
        mismatched = reconciliation.rate_mismatches(con)
    for key in SCORE_TABLE_KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata={"dagster/row_count": counts[key]})
    yield dg.AssetCheckResult(check_name="every_case_scored", asset_key="case_indicators",
                              passed=not incomplete, metadata={"cases_incomplete": len(incomplete)})
    yield dg.AssetCheckResult(check_name="rates_reconcile", asset_key="indicator_rates",
                              passed=not mismatched, metadata={"rates_mismatched": len(mismatched)})


@dg.asset(deps=["indicator_rates", "pack_scores", "submissions", "quarantine"], kinds={"html"},
          group_name="publish")
def site(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: DuckDBResource):
    """The static dashboard site under <home>/site/: aggregates only, opens offline."""
    paths = audit_home.paths
    with warehouse.get_connection() as con:
        pages = write_site(con, paths.site)
    progress_for(context)(f"site written: {paths.site / 'index.html'}")
    return dg.MaterializeResult(metadata={"pages": len(pages), "index": dg.MetadataValue.path(
        str(paths.site / "index.html"))})
