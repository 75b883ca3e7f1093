"""The asset graph. Each asset is a thin wrapper over a plain function in `assets/`, `checks/` or
`dashboards/`, which can be run and tested without Dagster.

Per-pack work (ingest, validate, standardise, score) is partitioned by pack: dynamic partitions
keyed `<LA code>|<period>`, added as packs arrive. A run may cover one pack or a range of them in a
single run (the command line runs every pack in the inbox at once; unchanged packs are skipped by
their content hash). Partnership-wide assets (the site) depend on every partition."""

import warnings

import dagster as dg

from assets import warehouse as warehouse_tables
from assets.benchmarks import load_c3
from assets.config import load_yaml
from assets.ingest import ingest_inbox
from assets.scoring import framework, score_pending
from assets.statutory import ingest_statutory, score_statutory
from checks import reconciliation
from checks.expectations import validate_loaded
from dashboards.exports import write_exports
from dashboards.publication import build_publication, tidy_export
from dashboards.site import write_site
from pipelines.partitions import pack_partitions
from pipelines.resources import AuditHomeResource, WarehouseResource, progress_for

PACK_TABLE_KEYS = ["submissions", "cases", "meetings", "actions", "quarantine"]
SCORE_TABLE_KEYS = ["case_indicators", "case_domain_scores", "indicator_rates", "pack_scores"]
# No Dagster concurrency pool: DuckDB has one writer per file, and WarehouseResource takes the file
# lock of assets.warehouse.locked for that, which the operating system frees when a process dies. A
# pool's slot is held in the instance's storage instead: a run killed while holding it keeps it, and
# every later run would wait for it.
# Single-run backfills over a range of pack partitions are what the command line and sensor rely on;
# the parameter is marked beta on `@asset` only, and the warning would reach every user's terminal.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
PER_PACK = {"partitions_def": pack_partitions, "backfill_policy": dg.BackfillPolicy.single_run()}


def row_counts(con, tables: list[str], keys: list[str]) -> dict[str, int]:
    """Rows held for the given packs in each table."""
    return {t: con.execute(f"SELECT count(*) FROM {t} WHERE (la_code || '|' || period) IN (SELECT unnest($1))",
                           [keys]).fetchone()[0] for t in tables}


def rows_by_pack(con, table: str, keys: list[str]) -> str:
    """A short markdown preview: the table's rows for each pack of the run (first 20 packs)."""
    rows = con.execute(f"""SELECT la_code, period, count(*) FROM {table}
                           WHERE (la_code || '|' || period) IN (SELECT unnest($1))
                           GROUP BY ALL ORDER BY ALL LIMIT 20""", [keys]).fetchall()
    return markdown_table(rows, ("LA", "period", "rows"))


def markdown_table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def column_schema(con, table: str) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind, *_ in
                                   con.execute(f"DESCRIBE {table}").fetchall()])


def table_rows(counts: dict[str, int]) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(list(counts.items()), ("warehouse table", "rows for this run's packs")))


# Each pack is one partition of two assets, `packs` and `scored_packs`, and each asset writes
# several warehouse tables. One asset per table would be tidier to look at, but Dagster records an
# event per partition and asset (about 25 ms each on the SQLite instance): nine assets made a national
# load of 1,224 packs spend minutes on bookkeeping alone (docs/scaling.md).
@dg.asset(
    description="Each pack of the inbox, read, checked and standardised, then loaded into the warehouse tables "
                f"{', '.join(PACK_TABLE_KEYS)}; or rejected with its reason. A pack loaded before is skipped.",
    kinds={"duckdb"}, group_name="ingest",
    check_specs=[
        dg.AssetCheckSpec("rows_reconcile", asset="packs", blocking=True,
                          description="For every loaded pack, rows received = loaded + quarantined."),
        dg.AssetCheckSpec("quarantine_share", asset="packs", blocking=True,
                          description="No loaded pack of the run's partitions lost more than the share of its "
                                      "rows to quarantine set in config/checks.yaml (a pack over it is held "
                                      "back at ingest, rejected alone)."),
        dg.AssetCheckSpec("contract_expectations", asset="packs", blocking=True,
                          description="Great Expectations suites from the contract over the cases, meetings and "
                                      "actions rows loaded in this run."),
    ],
    **PER_PACK,
)
def packs(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource):
    """The packs of this run's partitions, read from the inbox, checked, standardised and loaded or
    rejected. A pack whose content was loaded before is skipped."""
    keys = list(context.partition_keys)
    audit_home.paths.prepare()
    secret = audit_home.secret()
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        report = ingest_inbox(con, audit_home.inbox_path, secret, progress_for(context), keys=set(keys))
        counts = row_counts(con, PACK_TABLE_KEYS, keys)
        cases_by_pack = rows_by_pack(con, "cases", keys)
        unreconciled = reconciliation.unreconciled_packs(con)
        loaded = [(o.la_code, o.period) for o in report.outcomes if o.status == "loaded"]
        suites = validate_loaded(con, loaded)
        max_share = float(load_yaml("checks.yaml")["max_quarantined_share"])
        # Every pack of the run's partitions, not only those loaded now: a bad pack keeps stopping
        # the runs that include it until it is replaced.
        in_run = [tuple(key.split("|")) for key in keys if "|" in key]
        heavy = reconciliation.heavily_quarantined_packs(con, in_run, max_share)
        sample_rows = con.execute("""SELECT la_code, period, table_name, list(row_number ORDER BY row_number)[:10]
                                     FROM quarantine WHERE (la_code || '|' || period) IN (SELECT unnest($1))
                                     GROUP BY ALL ORDER BY ALL LIMIT 20""",
                                  [[f"{la}|{p}" for la, p in loaded]]).fetchall()
        rules = con.execute("""SELECT rule, count(*) FROM quarantine
                               WHERE (la_code || '|' || period) IN (SELECT unnest($1))
                               GROUP BY ALL ORDER BY 2 DESC, 1""", [keys]).fetchall()
    outcomes = [(o.source, o.status, o.cases_loaded, o.rows_quarantined, o.rule or "") for o in report.outcomes]
    yield dg.MaterializeResult(asset_key="packs", metadata={
        "dagster/row_count": counts["cases"], "tables": table_rows(counts),
        "packs_loaded": report.count("loaded"), "packs_rejected": report.count("rejected"),
        "packs_unchanged": report.count("unchanged"),
        "submissions": dg.MetadataValue.md(markdown_table(
            outcomes[:20], ("pack", "status", "cases loaded", "rows quarantined", "rule"))),
        "cases_by_pack": dg.MetadataValue.md(cases_by_pack),
    })
    yield dg.AssetCheckResult(
        check_name="rows_reconcile", asset_key="packs", passed=not unreconciled,
        metadata={"unreconciled_packs": len(unreconciled),
                  "packs": ", ".join(f"{la} {p}" for la, p, *_ in unreconciled[:20])})
    yield dg.AssetCheckResult(
        check_name="quarantine_share", asset_key="packs", passed=not heavy,
        description=None if not heavy else "Packs losing most of their rows: check the layout or mapping profile.",
        metadata={"max_share": max_share,
                  "packs_over": ", ".join(f"{la} {p} ({share:.0%})" for la, p, share in heavy[:20]) or "none",
                  "failing_rules": dg.MetadataValue.md(markdown_table(rules, ("rule", "rows"))),
                  "sample_row_numbers": dg.MetadataValue.json(
                      {f"{la} {p} {t}": rows for la, p, t, rows in sample_rows})})
    yield dg.AssetCheckResult(
        check_name="contract_expectations", asset_key="packs", passed=all(s.success for s in suites),
        metadata={"packs_checked": len(loaded),
                  "suites": dg.MetadataValue.md(markdown_table(
                      [(s.table, s.rows, s.evaluated, len(s.failures)) for s in suites],
                      ("table", "rows checked", "expectations evaluated", "expectations failed"))),
                  "failures": dg.MetadataValue.json([f for s in suites for f in s.failures][:20])})


@dg.asset(
    deps=["packs"], kinds={"duckdb"}, group_name="score",
    description="Each loaded pack scored against the indicator framework: its rows in the warehouse tables "
                f"{', '.join(SCORE_TABLE_KEYS)} (per case and indicator, per case and domain, and per pack).",
    check_specs=[
        dg.AssetCheckSpec("every_case_scored", asset="scored_packs", blocking=True,
                          description="Every case has exactly one row per indicator."),
        dg.AssetCheckSpec("rates_reconcile", asset="scored_packs", blocking=True,
                          description="Rates recount exactly from case_indicators."),
    ],
    **PER_PACK,
)
def scored_packs(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Score the cases of this run's packs against the indicator framework, then pool rates and
    scores per pack. A run for one pack always rescores it; a change to the framework rescores all."""
    keys = list(context.partition_keys)
    fw = framework()
    progress = progress_for(context)
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        scored = score_pending(con, fw, keys=set(keys), force=set(keys) if len(keys) == 1 else set())
        progress("scored every pack (the framework changed)" if scored is None else
                 f"scored {len(scored)} new or changed pack(s) against {len(fw.indicators)} indicators")
        counts = row_counts(con, SCORE_TABLE_KEYS, keys)
        rates = markdown_table(con.execute("""
            SELECT indicator_id, sum(numerator), sum(denominator), round(sum(numerator) / sum(denominator), 3)
            FROM indicator_rates WHERE (la_code || '|' || period) IN (SELECT unnest($1))
            GROUP BY ALL ORDER BY ALL""", [keys]).fetchall(), ("indicator", "met", "applicable", "rate"))
        incomplete = reconciliation.incomplete_cases(con, len(fw.indicators))
        mismatched = reconciliation.rate_mismatches(con)
        practice = con.execute("""SELECT la_code, period, round(score, 3) FROM pack_scores
                                  WHERE domain = 'PRACTICE' AND (la_code || '|' || period) IN (SELECT unnest($1))
                                  ORDER BY ALL LIMIT 20""", [keys]).fetchall()
    yield dg.MaterializeResult(asset_key="scored_packs", metadata={
        "dagster/row_count": counts["case_indicators"], "tables": table_rows(counts),
        "indicator_rates": dg.MetadataValue.md(rates),
        "practice_scores": dg.MetadataValue.md(markdown_table(practice, ("LA", "period", "practice score"))),
    })
    yield dg.AssetCheckResult(check_name="every_case_scored", asset_key="scored_packs",
                              passed=not incomplete, metadata={"cases_incomplete": len(incomplete)})
    yield dg.AssetCheckResult(check_name="rates_reconcile", asset_key="scored_packs",
                              passed=not mismatched, metadata={"rates_mismatched": len(mismatched)})


STATUTORY_TABLE_KEYS = ["statutory_submissions", "cin_children", "cin_episodes", "cin_assessments", "cin_cp_plans",
                        "ssda903_missing", "ssda903_children", "statutory_quarantine"]


@dg.multi_asset(
    specs=[dg.AssetSpec(key, kinds={"duckdb"}, group_name="statutory",
                        description="Statutory returns (CIN census, SSDA903 missing episodes), pseudonymised "
                                    "and degraded on the way in.")
           for key in STATUTORY_TABLE_KEYS],
)
def statutory_returns(context: dg.AssetExecutionContext, audit_home: AuditHomeResource,
                      warehouse: WarehouseResource):
    """New or changed CIN census XML files and SSDA903 folders in <home>/statutory/, loaded or
    rejected; a return seen before is skipped."""
    paths = audit_home.paths.prepare()
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        outcomes = ingest_statutory(con, paths.statutory, audit_home.secret(), progress_for(context))
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in STATUTORY_TABLE_KEYS}
        schemas = {t: column_schema(con, t) for t in STATUTORY_TABLE_KEYS}
    preview = markdown_table([(o.source, o.kind, o.la_code or "", o.period or "", o.status, o.rows_quarantined)
                              for o in outcomes[:50]], ("file", "kind", "LA", "year", "status", "quarantined"))
    for key in STATUTORY_TABLE_KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata={
            "dagster/row_count": counts[key], "dagster/column_schema": schemas[key],
            "preview": dg.MetadataValue.md(preview)})


@dg.multi_asset(
    specs=[dg.AssetSpec("statutory_child_indicators", deps=STATUTORY_TABLE_KEYS, kinds={"duckdb"},
                        group_name="statutory", description="Each child of each CIN year against the statutory "
                                                             "indicators."),
           dg.AssetSpec("statutory_rates", deps=STATUTORY_TABLE_KEYS, kinds={"duckdb"}, group_name="statutory",
                        description="Statutory indicator rates per LA and year, with Wilson intervals.")],
)
def statutory_scoring(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Score every child in the statutory returns with config/statutory_indicators.yaml."""
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        rows = score_statutory(con)
        rates = con.execute("""SELECT indicator_id, sum(numerator), sum(denominator) FROM statutory_rates
                               GROUP BY ALL ORDER BY ALL""").fetchall()
        schemas = {t: column_schema(con, t) for t in ("statutory_child_indicators", "statutory_rates")}
        rate_rows = con.execute("SELECT count(*) FROM statutory_rates").fetchone()[0]
    preview = dg.MetadataValue.md(markdown_table(rates, ("indicator", "met", "applicable")))
    yield dg.MaterializeResult(asset_key="statutory_child_indicators", metadata={
        "dagster/row_count": rows, "dagster/column_schema": schemas["statutory_child_indicators"],
        "preview": preview})
    yield dg.MaterializeResult(asset_key="statutory_rates", metadata={
        "dagster/row_count": rate_rows, "dagster/column_schema": schemas["statutory_rates"], "preview": preview})


@dg.asset(kinds={"duckdb"}, group_name="statutory")
def dfe_c3(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """DfE table C3 (factors at the end of assessment, 2018-2025) as published, tidy, with its
    suppression markers kept apart from the numbers: the national and regional benchmarks."""
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        rows = load_c3(con)
        schema = column_schema(con, "dfe_c3")
        latest = con.execute("""SELECT factor, value FROM dfe_c3 WHERE geographic_level = 'National'
                                AND time_period = (SELECT max(time_period) FROM dfe_c3) ORDER BY factor
                                LIMIT 12""").fetchall()
    context.add_output_metadata({"dagster/row_count": rows, "dagster/column_schema": schema,
                                 "preview": dg.MetadataValue.md(markdown_table(latest, ("factor", "England")))})


PUBLISHED_FROM = ["packs", "scored_packs", "statutory_rates", "dfe_c3"]


@dg.asset(deps=PUBLISHED_FROM, kinds={"csv", "parquet"}, group_name="publish")
def exports(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource) -> None:
    """Open data under <home>/exports/: the published aggregates (suppressed) as CSV and Parquet in
    DfE's tidy layout, with a data dictionary."""
    paths = audit_home.paths
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        publication = build_publication(con, limit=audit_home.threshold)
        # Written while the warehouse lock is held: two runs never swap the same folder at once.
        written = write_exports(publication, paths.exports)
    rates = tidy_export(publication)
    hidden = int((rates["numerator"] == "c").sum())
    context.add_output_metadata({
        "files": len(written), "folder": dg.MetadataValue.path(str(paths.exports)),
        "dagster/row_count": len(rates), "rates_suppressed": hidden,
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(name, "string") for name in rates.columns]),
        "preview": dg.MetadataValue.md(markdown_table(
            list(rates.head(10).itertuples(index=False, name=None)), tuple(rates.columns))),
    })


@dg.asset(deps=PUBLISHED_FROM, kinds={"html"}, group_name="publish")
def site(context: dg.AssetExecutionContext, audit_home: AuditHomeResource, warehouse: WarehouseResource) -> None:
    """The static dashboard site under <home>/site/: aggregates only, opens offline."""
    paths = audit_home.paths
    with warehouse.get_connection() as con:
        con.execute(warehouse_tables.SCHEMA_SQL)
        publication = build_publication(con, limit=audit_home.threshold)
        # Written while the warehouse lock is held: two runs never swap the same folder at once.
        pages = write_site(publication, paths.site)
    progress_for(context)(f"site written: {paths.site / 'index.html'}")
    practice = publication.scores[(publication.scores["domain"] == "PRACTICE")]
    latest = practice[practice["period"] == practice["period"].max()] if len(practice) else practice
    context.add_output_metadata({
        "pages": len(pages), "index": dg.MetadataValue.path(str(paths.site / "index.html")),
        "dagster/row_count": len(publication.rates),
        "dagster/column_schema": dg.TableSchema(columns=[
            dg.TableColumn(name, str(kind)) for name, kind in publication.rates.dtypes.items()]),
        "preview": dg.MetadataValue.md(markdown_table(
            [(row.la_name, row.period, "[c]" if row.score_suppressed else f"{row.score:.3f}")
             for row in latest.itertuples()], ("area", "quarter", "practice score"))),
    })
