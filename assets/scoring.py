"""Score every case against the indicator framework (config/indicators.yaml) in DuckDB.

The framework is data; this module turns it into SQL. Per case: tallies of its meetings and
actions dated inside the period, then each indicator's applicability, value and met rule. Rates,
domain scores and the practice score are all derived from `case_indicators`, never computed twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache

import duckdb
import pandas as pd

from assets.config import CONFIG_DIR, load_yaml
from assets.contract_rules import quote
from assets.reading import pack_keys
from assets.statistics import wilson_interval
from assets.warehouse import PACK_SCOPE, SCHEMA_SQL, transaction

REQUIRED_KEYS = ("id", "domain", "title", "question", "applicable", "met", "direction", "source")
DIRECTIONS = ("higher", "lower")

# First and last day of a period 'YYYYQn'.
PERIOD_START = "make_date(CAST(left({p}, 4) AS INTEGER), 3 * CAST(right({p}, 1) AS INTEGER) - 2, 1)"
PERIOD_END = f"CAST(({PERIOD_START}) + INTERVAL 3 MONTH - INTERVAL 1 DAY AS DATE)"


@dataclass(frozen=True)
class Unit:
    """What a framework scores: one row of `table` per (la_code, period, key), with tallies counted
    over the `sources` tables (each with the date column that places a row in the period)."""

    table: str
    key: str
    sources: dict
    window_start: str = PERIOD_START  # SQL over {p}, the period column
    window_end: str = PERIOD_END


# The audit framework scores cases of export packs, counting meetings and actions in the quarter.
CASE_UNIT = Unit("cases", "case_key", {"meetings": "meeting_date", "actions": "action_date"})
TALLY_SOURCES = CASE_UNIT.sources


class FrameworkError(ValueError):
    """A definition in the framework file is wrong; the message names the indicator."""


@cache
def rule_language() -> dict:
    """The name patterns and the functions rules may call (config/rule_language.yaml)."""
    return load_yaml("rule_language.yaml")


@cache
def allowed_functions() -> frozenset[str]:
    return frozenset(name for group in rule_language()["functions"].values() for name in group)


def check_name(kind: str, value, what: str) -> str:
    """`value` as a name of this kind (indicator, domain, name), or FrameworkError saying `what` it is
    and which characters it may use."""
    spec = rule_language()["names"][kind]
    if not isinstance(value, str) or not re.fullmatch(spec["pattern"], value):
        raise FrameworkError(f"{what} {value!r} may use only {spec['rule']}")
    return value


def parse_unit(spec: dict | None) -> Unit:
    if not spec:
        return CASE_UNIT
    for field_name in ("table", "key"):
        check_name("name", spec.get(field_name), f"unit: the {field_name}")
    for source, date_column in (spec.get("sources") or {}).items():
        check_name("name", source, "unit: the source table")
        if date_column is not None:
            check_name("name", date_column, f"unit: the date column of {source}")
    return Unit(spec["table"], spec["key"], dict(spec["sources"]), spec.get("window_start", PERIOD_START),
                spec.get("window_end", PERIOD_END))


@dataclass(frozen=True)
class Indicator:
    id: str
    domain: str
    title: str
    question: str
    applicable: str
    met: str
    value: str | None
    direction: str
    informational: bool
    source: str
    citation: str


@dataclass(frozen=True)
class Framework:
    domains: dict
    weights: dict
    flags: dict
    tallies: dict
    sources: dict
    indicators: tuple[Indicator, ...]
    sha256: str = ""  # of the framework file's content: a change rescores every pack
    unit: Unit = CASE_UNIT

    @property
    def scored_domains(self) -> list[str]:
        return [d for d, spec in self.domains.items() if spec.get("scored")]

    def indicator(self, indicator_id: str) -> Indicator:
        return next(i for i in self.indicators if i.id == indicator_id)


def parse_framework(data: dict) -> Framework:
    """Check the framework's structure; every problem names the indicator it is in."""
    domains = data.get("domains") or {}
    tallies = data.get("tallies") or {}
    unit = parse_unit(data.get("unit"))
    for code in domains:
        check_name("domain", code, "domain: the code")
    for name in data.get("flags") or {}:
        check_name("name", name, "flag: the name")
    for key in data.get("sources") or {}:
        check_name("name", key, "source: the key")
    for name, tally in tallies.items():
        check_name("name", name, "tally: the name")
        if tally.get("count_distinct") is not None:
            check_name("name", tally["count_distinct"], f"tally {name}: the count_distinct column")
        if tally.get("from") not in unit.sources:
            raise FrameworkError(f"tally {name}: 'from' must be one of {', '.join(unit.sources)}")
        if tally.get("window", "period") not in ("period", "all"):
            raise FrameworkError(f"tally {name}: 'window' must be period or all")
        if unit.sources[tally["from"]] is None and tally.get("window") != "all":
            raise FrameworkError(f"tally {name}: {tally['from']} has no date, so the tally needs window: all")
        if "count_where" not in tally:
            raise FrameworkError(f"tally {name}: 'count_where' is missing")
    indicators, seen = [], set()
    for position, entry in enumerate(data.get("indicators") or [], start=1):
        if entry.get("id"):
            check_name("indicator", entry["id"], f"indicator number {position}: the id")
        label = entry.get("id") or f"number {position}"
        missing = [k for k in REQUIRED_KEYS if not entry.get(k)]
        if missing:
            raise FrameworkError(f"indicator {label}: missing {', '.join(missing)}")
        if label in seen:
            raise FrameworkError(f"indicator {label}: the id is used twice")
        seen.add(label)
        if entry["domain"] not in domains:
            raise FrameworkError(f"indicator {label}: domain {entry['domain']} is not listed under domains")
        if entry["direction"] not in DIRECTIONS:
            raise FrameworkError(f"indicator {label}: direction must be higher or lower")
        if entry["source"] not in (data.get("sources") or {}):
            raise FrameworkError(f"indicator {label}: source {entry['source']} is not listed under sources")
        indicators.append(Indicator(
            id=entry["id"], domain=entry["domain"], title=entry["title"], question=entry["question"],
            applicable=str(entry["applicable"]), met=str(entry["met"]),
            value=str(entry["value"]) if entry.get("value") else None, direction=entry["direction"],
            informational=bool(entry.get("informational", False)) or not domains[entry["domain"]].get("scored"),
            source=entry["source"], citation=entry.get("citation", ""),
        ))
    framework = Framework(domains, data.get("practice_score_weights") or {}, data.get("flags") or {}, tallies,
                          data.get("sources") or {}, tuple(indicators),
                          hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest(), unit)
    check_sql(framework)
    return framework


LOCAL_FRAMEWORK = "indicators.local.yaml"


def merge_local(data: dict, local: dict, source: str = LOCAL_FRAMEWORK) -> dict:
    """Add a partnership's own indicators (and the domains, flags, tallies and sources they need)
    to the framework. Local names may not replace built-in ones."""
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


def without_external_access(con: duckdb.DuckDBPyConnection) -> None:
    """Stop the connection's database from reading or writing files other than its own, or
    loading extensions, before a framework's rules run on it: a rule that got past the checks
    still cannot read the host. Registered pandas and Arrow objects are still readable. DuckDB
    holds this for the whole database until its last connection closes and will not turn it back
    on, so call it only where nothing later on the connection reads files."""
    con.execute("SET enable_external_access = false")


# What a rule may be built of besides the functions in config/rule_language.yaml: DuckDB's
# expression classes, as json_serialize_sql names them. Anything else (subqueries, window
# functions, *, parameters, positional references) is refused with the words here.
RULE_CONSTRUCTS = {"CONSTANT", "COLUMN_REF", "FUNCTION", "OPERATOR", "COMPARISON", "CONJUNCTION", "CASE", "CAST",
                   "BETWEEN", "TYPE", "LAMBDA", "COLLATE"}
REFUSED_CONSTRUCTS = {"SUBQUERY": "a subquery (SELECT ...)", "WINDOW": "a window function (... OVER ...)",
                      "STAR": "* or COLUMNS(...)", "PARAMETER": "a parameter ($1 or ?)",
                      "POSITIONAL_REFERENCE": "a positional reference (#1)"}
RULE_SCOPE = "rules are expressions over the case's columns, flags and tallies"
# The parts of a SELECT that must be empty for `SELECT (<rule>) AS r` to be one expression.
EMPTY_SELECT_PARTS = {"modifiers": [], "where_clause": None, "group_expressions": [], "group_sets": [],
                      "having": None, "sample": None, "qualify": None}


def check_rule(con: duckdb.DuckDBPyConnection, rule: str, what: str) -> None:
    """Refuse a rule that is not one expression in the rule language, saying why; `what` names it
    ("indicator PI1: met"). DuckDB parses `SELECT (<rule>) AS r` and the tree is walked: one
    statement, one select expression, nothing else in the SELECT, and only allowed constructs and
    functions inside it. A `;` or a comment could otherwise end the expression early and the rest
    of the rule run as SQL of its own."""
    rule = str(rule)
    if any(kind == duckdb.token_type.comment for _, kind in duckdb.tokenize(rule)):
        raise FrameworkError(f"{what} may not hold a comment (-- or /* */): {RULE_SCOPE}")
    parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [f"SELECT ({rule}) AS r"]).fetchall()[0][0])
    if parsed.get("error"):
        raise FrameworkError(f"{what} is not one expression ({parsed.get('error_message', 'cannot be parsed')}): "
                             f"{RULE_SCOPE}")
    statements = parsed["statements"]
    node = statements[0]["node"] if len(statements) == 1 else {}
    if (node.get("type") != "SELECT_NODE" or len(node.get("select_list", [])) != 1
            or node["select_list"][0].get("alias") != "r" or node.get("from_table", {}).get("type") != "EMPTY"
            or node.get("cte_map", {}).get("map") or any(node.get(k) != v for k, v in EMPTY_SELECT_PARTS.items())):
        raise FrameworkError(f"{what} is not one expression (a ; , FROM, WHERE or the like ends it early): "
                             f"{RULE_SCOPE}")
    allowed = allowed_functions()
    pending = [node["select_list"][0]]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        construct = item.get("class")
        if construct is not None and construct not in RULE_CONSTRUCTS:
            words = REFUSED_CONSTRUCTS.get(construct, construct.lower().replace("_", " "))
            raise FrameworkError(f"{what} may not use {words}: {RULE_SCOPE}")
        if construct == "FUNCTION":
            name = item.get("function_name", "")
            if item.get("schema") or item.get("catalog"):
                raise FrameworkError(f"{what} may not name a schema ({item.get('schema')}.{name}): {RULE_SCOPE}")
            if name not in allowed:
                raise FrameworkError(f"{what} may not use {name}: {RULE_SCOPE} (the functions allowed are "
                                     "listed in config/rule_language.yaml)")
        pending.extend(item.values())


def framework_rules(framework: Framework) -> list[tuple[str, str]]:
    """(what it is, rule) for every SQL expression the framework holds."""
    unit = framework.unit
    rules = [(f"unit: {name}", template.format(p="period"))
             for name, template in (("window_start", unit.window_start), ("window_end", unit.window_end))]
    rules += [(f"flag {name}:", expression) for name, expression in framework.flags.items()]
    rules += [(f"tally {name}: count_where", tally["count_where"]) for name, tally in framework.tallies.items()]
    for indicator in framework.indicators:
        rules += [(f"indicator {indicator.id}: {field_name}", rule)
                  for field_name, rule in (("applicable", indicator.applicable), ("met", indicator.met),
                                           ("value", indicator.value)) if rule is not None]
    return rules


def check_sql(framework: Framework) -> None:
    """Check every rule is an expression of the rule language, then compile every indicator against
    an empty warehouse, so a bad rule fails at load, by id."""
    con = duckdb.connect(":memory:")
    try:
        without_external_access(con)
        for what, rule in framework_rules(framework):
            check_rule(con, rule, what)
        con.execute(SCHEMA_SQL)
        try:
            con.execute(f"CREATE TEMP TABLE case_base AS {case_base_sql(framework)}", [None])
        except duckdb.Error as error:
            raise FrameworkError(f"flags or tallies: {first_line(error)}") from error
        for indicator in framework.indicators:
            try:
                con.execute(f"EXPLAIN {indicator_sql(indicator, framework.unit)}")
            except duckdb.Error as error:
                raise FrameworkError(f"indicator {indicator.id}: {first_line(error)}") from error
    finally:
        con.close()


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def case_base_sql(framework: Framework) -> str:
    """One row per unit (case) of the packs in scope ($1: list of 'LA|period' keys, or NULL for
    all), with its flags and tallies."""
    unit = framework.unit
    scope = PACK_SCOPE
    parts = []
    for source, date_column in unit.sources.items():
        selected = {n: t for n, t in framework.tallies.items() if t["from"] == source}
        if not selected:
            continue
        in_window = (f"{date_column} BETWEEN {unit.window_start.format(p='period')} AND "
                     f"{unit.window_end.format(p='period')}") if date_column else "true"
        columns = ", ".join(
            (f"count(DISTINCT {t['count_distinct']})" if t.get("count_distinct") else "count(*)")
            + f" FILTER (WHERE ({t['count_where']})"
            + ("" if t.get("window") == "all" else f" AND {in_window}") + f") AS {name}"
            for name, t in selected.items()
        )
        parts.append((source, list(selected), f"""
            SELECT la_code, period, {unit.key}, {columns}
            FROM {source}
            WHERE {scope}
            GROUP BY la_code, period, {unit.key}"""))
    joins = " ".join(f"LEFT JOIN ({sql}) t_{source} USING (la_code, period, {unit.key})"
                     for source, _, sql in parts)
    tallies = ", ".join(f"coalesce({name}, 0) AS {name}" for _, names, _ in parts for name in names)
    flags = ", ".join(f"({expression}) AS {name}" for name, expression in framework.flags.items())
    return f"""
        SELECT c.* {', ' + tallies if tallies else ''}
        FROM (SELECT {unit.table}.*, {flags or 'NULL AS no_flags'} FROM {unit.table} WHERE {scope}) c
        {joins}"""


def indicator_sql(indicator: Indicator, unit: Unit = CASE_UNIT) -> str:
    value = indicator.value or "NULL"
    return f"""
        SELECT la_code, period, {unit.key}, {quote(indicator.id)} AS indicator_id,
               applicable,
               CASE WHEN applicable THEN coalesce(({indicator.met}), false) END AS met,
               CASE WHEN applicable THEN {'value' if indicator.value else
                   f'CAST(coalesce(({indicator.met}), false) AS DOUBLE)'} END AS value
        FROM (SELECT *, coalesce(({indicator.applicable}), false) AS applicable, ({value}) AS value
              FROM case_base)"""


def score(con: duckdb.DuckDBPyConnection, packs: list[tuple[str, str]] | None = None,
          fw: Framework | None = None) -> None:
    """(Re)compute case_indicators, case_domain_scores, indicator_rates and pack_scores for the given
    packs, or for every pack, in one transaction. The connection's database can no longer read
    files once this has run (see `without_external_access`)."""
    fw = fw or framework()
    without_external_access(con)
    keys = None if packs is None else pack_keys(packs)
    scope = PACK_SCOPE
    try:
        with transaction(con):
            con.execute(f"CREATE OR REPLACE TEMP TABLE case_base AS {case_base_sql(fw)}", [keys])
            for table in ("case_indicators", "case_domain_scores", "indicator_rates", "pack_scores"):
                con.execute(f"DELETE FROM {table} WHERE {scope}", [keys])
            con.execute("INSERT INTO case_indicators " + " UNION ALL ".join(indicator_sql(i) for i in fw.indicators))
            con.register("indicator_domains", indicator_domains(fw))
            con.execute(f"""
                INSERT INTO case_domain_scores
                SELECT ci.la_code, ci.period, ci.case_key, d.domain,
                       avg(ci.value ORDER BY ci.indicator_id) FILTER (WHERE ci.applicable) AS score,
                       count(*) FILTER (WHERE ci.applicable) AS indicators_applicable
                FROM case_indicators ci JOIN indicator_domains d USING (indicator_id)
                WHERE d.scored AND {scope}
                GROUP BY ALL""", [keys])
            con.execute(f"INSERT INTO pack_scores {scores_sql(fw, ['la_code', 'period'])}", [keys])
            rates = pooled_rates(con, ["la_code", "period", "indicator_id"], keys)
            con.register("new_rates", rates)
            con.execute("INSERT INTO indicator_rates BY NAME SELECT * FROM new_rates")
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


def scores_sql(fw: Framework, group_by: list[str]) -> str:
    """Domain scores (the mean of the cases' domain scores) and the practice score (the mean of the
    domain scores, weighted by config/indicators.yaml), grouped by `group_by` (a pack: la_code and
    period; the partnership's quarter: period), for the packs in scope ($1). The one place the
    practice score is defined. Case scores are summed as decimals, exactly, so a score does not
    depend on the order of its cases (which follows their keys, and so the installation's key)."""
    group = ", ".join(group_by)
    weights = ", ".join(f"({quote(d)}, {float(fw.weights.get(d, 1))})" for d in fw.scored_domains)
    return f"""
        WITH domains AS (
            SELECT {group}, domain, CAST(avg(CAST(score AS DECIMAL(38, 18))) AS DOUBLE) AS score,
                   count(score) AS cases_scored
            FROM case_domain_scores WHERE {PACK_SCOPE} GROUP BY ALL),
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
                 table: str = "case_indicators") -> pd.DataFrame:
    """Numerator (cases met), denominator (cases applicable), rate and 95% Wilson interval, pooled
    over any grouping of case_indicators' columns (pack, LA-year, partnership-quarter...). Groups
    where nothing applies keep a row with denominator 0 and no rate."""
    allowed = {"la_code", "period", "indicator_id", "year"}
    if not set(group_by) <= allowed:
        raise ValueError(f"can group only by {sorted(allowed)}")
    columns = ", ".join("left(period, 4) AS year" if g == "year" else g for g in group_by)
    frame = con.execute(f"""
        SELECT {columns},
               count(*) FILTER (WHERE applicable AND met) AS numerator,
               count(*) FILTER (WHERE applicable) AS denominator
        FROM {table}
        WHERE {PACK_SCOPE}
        GROUP BY ALL ORDER BY ALL""", [packs]).df()
    frame["numerator"] = frame["numerator"].astype("int64")
    frame["denominator"] = frame["denominator"].astype("int64")
    rate, low, high = wilson_interval(frame["numerator"].to_numpy(), frame["denominator"].to_numpy())
    frame["rate"], frame["ci_low"], frame["ci_high"] = rate, low, high
    return frame
