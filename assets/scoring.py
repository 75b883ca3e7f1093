"""Score every unit (case, context) against the indicator framework (config/indicators.yaml) in
DuckDB.

The framework is data (assets/framework.py turns it into SQL). Per unit: tallies of its rows dated
inside the period, then each indicator's applicability, value and met rule. Rates, domain scores,
the practice score and the pack context score are all derived from `case_indicators` and
`context_indicators`, never computed twice.
"""

from __future__ import annotations

from functools import cache

import duckdb
import pandas as pd

from assets.config import CONFIG_DIR, load_yaml
from assets.contract_rules import quote
from assets.framework import (
    CASE_UNIT,
    DEFAULT_UNIT,
    PERIOD_END,
    PERIOD_START,
    Framework,
    FrameworkError,
    Indicator,
    Unit,
    case_base_sql,
    check_rule,
    indicator_sql,
    parse_framework,
    unit_base_sql,
    without_external_access,
)
from assets.networks import write_networks
from assets.reading import pack_keys
from assets.statistics import wilson_interval
from assets.warehouse import PACK_SCOPE, transaction

# The framework's parts, importable from here as from assets.framework.
__all__ = ["CASE_UNIT", "DEFAULT_UNIT", "PERIOD_END", "PERIOD_START", "Framework", "FrameworkError", "Indicator",
           "Unit", "case_base_sql", "check_rule", "framework", "indicator_sql", "merge_local", "parse_framework",
           "pooled_rates", "score", "score_pending", "scores_sql", "unit_base_sql", "without_external_access"]

LOCAL_FRAMEWORK = "indicators.local.yaml"


def merge_local(data: dict, local: dict, source: str = LOCAL_FRAMEWORK) -> dict:
    """Add a partnership's own indicators (and the domains, flags, tallies and sources they need)
    to the framework. Local names may not replace built-in ones, and the units are the built-in
    ones: a unit is a table of the warehouse, which a local file cannot add."""
    if local.get("units") or local.get("unit"):
        raise FrameworkError(f"{source}: units are defined in indicators.yaml only")
    merged = {**data}
    for section in ("domains", "flags", "tallies", "sources"):
        clash = set(local.get(section) or {}) & set(data.get(section) or {})
        if clash:
            raise FrameworkError(f"{source}: {section} {', '.join(sorted(clash))} already defined in indicators.yaml")
        merged[section] = {**(data.get(section) or {}), **(local.get(section) or {})}
    merged["practice_score_weights"] = {**(data.get("practice_score_weights") or {}),
                                        **(local.get("practice_score_weights") or {})}
    merged["indicators"] = list(data.get("indicators") or []) + list(local.get("indicators") or [])
    return merged


@cache
def framework() -> Framework:
    """The framework in config/indicators.yaml, plus any local indicators in
    config/indicators.local.yaml."""
    data = load_yaml("indicators.yaml")
    if (CONFIG_DIR / LOCAL_FRAMEWORK).exists():
        data = merge_local(data, load_yaml(LOCAL_FRAMEWORK) or {})
    return parse_framework(data)


def score(con: duckdb.DuckDBPyConnection, packs: list[tuple[str, str]] | None = None,
          fw: Framework | None = None) -> None:
    """(Re)compute, for the given packs or every pack, in one transaction: each unit's indicators
    and domain scores (case_indicators, case_domain_scores, context_indicators,
    context_domain_scores), indicator_rates, pack_scores and context_networks. Units are scored in
    the framework's order: the context unit first, since case indicators read the results of the
    case's contexts. The connection's database can no longer read files once this has run (see
    `without_external_access`)."""
    fw = fw or framework()
    without_external_access(con)
    keys = None if packs is None else pack_keys(packs)
    scope = PACK_SCOPE
    tables = [table for unit in fw.units.values() for table in (unit.results, unit.domain_scores)]
    try:
        with transaction(con):
            for table in (*tables, "indicator_rates", "pack_scores", "context_networks"):
                con.execute(f"DELETE FROM {table} WHERE {scope}", [keys])
            con.register("indicator_domains", indicator_domains(fw))
            for unit in fw.units.values():
                score_unit(con, fw, unit, keys)
            con.execute(f"INSERT INTO pack_scores {scores_sql(fw, ['la_code', 'period'])}", [keys])
            rates = pooled_rates(con, ["la_code", "period", "indicator_id"], keys,
                                 indicators=[i.id for i in fw.indicators])
            con.register("new_rates", rates)
            con.execute("INSERT INTO indicator_rates BY NAME SELECT * FROM new_rates")
            if fw.network_assessed:
                write_networks(con, fw.network_assessed, keys)
            con.execute(f"DELETE FROM scored_packs WHERE {scope}", [keys])
            con.execute(f"""
                INSERT INTO scored_packs SELECT la_code, period, content_sha256, $2 FROM submissions
                WHERE status = 'loaded' AND {scope}""", [keys, fw.sha256])
    finally:
        for view in ("indicator_domains", "new_rates"):
            try:
                con.unregister(view)
            except duckdb.Error:
                pass


def score_unit(con: duckdb.DuckDBPyConnection, fw: Framework, unit: Unit, keys: list[str] | None) -> None:
    """One unit's indicators and domain scores for the packs in scope (inside `score`'s transaction;
    `indicator_domains` registered)."""
    members = fw.indicators_of(unit.name)
    if not members:
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {unit.base} AS {unit_base_sql(fw, unit)}", [keys])
    con.execute(f"INSERT INTO {unit.results} " + " UNION ALL ".join(indicator_sql(i, unit) for i in members))
    con.execute(f"""
        INSERT INTO {unit.domain_scores}
        SELECT ci.la_code, ci.period, ci.{unit.key}, d.domain,
               avg(ci.value ORDER BY ci.indicator_id) FILTER (WHERE ci.applicable) AS score,
               count(*) FILTER (WHERE ci.applicable) AS indicators_applicable
        FROM {unit.results} ci JOIN indicator_domains d USING (indicator_id)
        WHERE d.scored AND {PACK_SCOPE}
        GROUP BY ALL""", [keys])


def scores_sql(fw: Framework, group_by: list[str]) -> str:
    """Domain scores (the mean of the units' domain scores: cases' for PI, OF, CI and PF, contexts'
    for CX, the pack context score) and the practice score (the mean of the case domain scores,
    weighted by config/indicators.yaml; never CX), grouped by `group_by` (a pack: la_code and
    period; the partnership's quarter: period), for the packs in scope ($1). The one place the
    practice score and the pack context score are defined. Scores are summed as decimals, exactly,
    so a score does not depend on the order of its units (which follows their keys, and so the
    installation's key). A group without contexts has no CX row: not available, never 0."""
    group = ", ".join(group_by)
    weights = ", ".join(f"({quote(d)}, {float(fw.weights.get(d, 1))})" for d in fw.scored_domains)
    domains = " UNION ALL ".join(f"""
            SELECT {group}, domain, CAST(avg(CAST(score AS DECIMAL(38, 18))) AS DOUBLE) AS score,
                   count(score) AS cases_scored
            FROM {unit.domain_scores} WHERE {PACK_SCOPE} GROUP BY ALL"""
                                 for unit in fw.units.values() if fw.unit_domains(unit.name))
    return f"""
        WITH domains AS ({domains}),
        weights(domain, weight) AS (VALUES {weights})
        SELECT {group}, domain, score, cases_scored FROM domains
        UNION ALL
        SELECT {group}, 'PRACTICE', sum(score * weight ORDER BY domain) / sum(weight), max(cases_scored)
        FROM domains JOIN weights USING (domain) WHERE score IS NOT NULL GROUP BY ALL"""


def packs_to_score(con: duckdb.DuckDBPyConnection, fw: Framework) -> list[tuple[str, str]] | None:
    """Packs loaded since they were last scored, or None (all) when the framework has changed."""
    stamp = con.execute("SELECT DISTINCT framework_sha256 FROM scored_packs").fetchall()
    if stamp and stamp != [(fw.sha256,)]:
        return None
    return [tuple(r) for r in con.execute("""
        SELECT s.la_code, s.period FROM submissions s
        WHERE s.status = 'loaded' AND NOT EXISTS (
            SELECT 1 FROM scored_packs p WHERE p.la_code = s.la_code AND p.period = s.period
              AND p.content_sha256 = s.content_sha256)
        ORDER BY ALL""").fetchall()]


def score_pending(con: duckdb.DuckDBPyConnection, fw: Framework | None = None,
                  periods: set[str] | None = None) -> list[tuple[str, str]] | None:
    """Score what is new: the packs loaded since they were last scored (only those of `periods`,
    when given); every pack when the framework file changed, so the warehouse never mixes two
    frameworks. A pack loaded again (a correction, or a forced rerun) has lost its score stamp and
    is scored again. Returns the packs scored (None: all)."""
    fw = fw or framework()
    pending = packs_to_score(con, fw)
    if pending is None:
        score(con, None, fw)
        return None
    packs = sorted(pack for pack in pending if periods is None or pack[1] in periods)
    if packs:
        score(con, packs, fw)
    return packs


def indicator_domains(fw: Framework) -> pd.DataFrame:
    return pd.DataFrame({
        "indicator_id": [i.id for i in fw.indicators],
        "domain": [i.domain for i in fw.indicators],
        "scored": [not i.informational for i in fw.indicators],
    })


def pooled_rates(con: duckdb.DuckDBPyConnection, group_by: list[str], packs: list[str] | None = None,
                 table: str = "unit_indicators", indicators: list[str] | None = None) -> pd.DataFrame:
    """Numerator (units met), denominator (units applicable), rate and 95% Wilson interval, pooled
    over any grouping of an indicator table's columns (pack, LA-year, partnership-quarter...).
    `unit_indicators` holds every unit's results (case_indicators and context_indicators); a unit's
    own table, or statutory_child_indicators, may be given instead. Groups where nothing applies
    keep a row with denominator 0 and no rate. With `indicators` (and indicator_id in `group_by`),
    every group has a row for each of them, denominator 0 where it has no unit to score (a v1 pack
    has no contexts, so its context indicators are not available rather than 0)."""
    allowed = {"la_code", "period", "indicator_id", "year"}
    if not set(group_by) <= allowed:
        raise ValueError(f"can group only by {sorted(allowed)}")
    columns = ", ".join("left(period, 4) AS year" if g == "year" else g for g in group_by)
    counted = f"""
        SELECT {columns},
               count(*) FILTER (WHERE applicable AND met) AS numerator,
               count(*) FILTER (WHERE applicable) AS denominator
        FROM {table}
        WHERE {PACK_SCOPE}
        GROUP BY ALL"""
    if indicators is not None and "indicator_id" in group_by:
        others = [g for g in group_by if g != "indicator_id"]
        groups = f"SELECT DISTINCT {', '.join(others)} FROM counted" if others else "SELECT 1 AS every_unit"
        counted = f"""
            WITH counted AS ({counted}),
                 grid AS (SELECT * FROM ({groups}) CROSS JOIN (SELECT unnest($2::VARCHAR[]) AS indicator_id))
            SELECT {', '.join(group_by)}, coalesce(numerator, 0) AS numerator, coalesce(denominator, 0) AS denominator
            FROM grid LEFT JOIN counted USING ({', '.join(group_by)})"""
    frame = con.execute(f"SELECT * FROM ({counted}) ORDER BY ALL",
                        [packs] if indicators is None or "indicator_id" not in group_by else [packs, indicators]).df()
    frame["numerator"] = frame["numerator"].astype("int64")
    frame["denominator"] = frame["denominator"].astype("int64")
    rate, low, high = wilson_interval(frame["numerator"].to_numpy(), frame["denominator"].to_numpy())
    frame["rate"], frame["ci_low"], frame["ci_high"] = rate, low, high
    return frame
