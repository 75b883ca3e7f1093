"""The indicator framework as data (config/indicators.yaml, config/statutory_indicators.yaml):
its units, domains, flags, tallies and indicators, checked when it is loaded, and the SQL each unit
and indicator becomes.

A unit is what an indicator is about: a case (the default), a context, a child in a statutory
return. Each unit has its table, its key, and the tables its tallies count over; flags, tallies
and indicators belong to one unit each, and a rule may use only the flags and tallies of its own
unit, so that every unit's indicators are scored by the same SQL whatever the unit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache

import duckdb

from assets.config import load_yaml
from assets.contract_rules import quote
from assets.warehouse import PACK_SCOPE, SCHEMA_SQL

REQUIRED_KEYS = ("id", "domain", "title", "question", "applicable", "met", "direction", "source")
# The rules in plain English, for readers who do not read SQL: whom `applicable` counts, when `met`
# holds, and (with a `value`) what the value is. Pages show these; the SQL sits behind them.
WORDS_KEYS = {"applicable": "applies_to", "met": "met_when", "value": "value_is"}
DIRECTIONS = ("higher", "lower")
# The unit of a flag, tally, domain or indicator that names none; a framework with a single
# `unit:` section (the statutory one) scores that unit under this name.
DEFAULT_UNIT = "case"

# First and last day of a period 'YYYYQn'.
PERIOD_START = "make_date(CAST(left({p}, 4) AS INTEGER), 3 * CAST(right({p}, 1) AS INTEGER) - 2, 1)"
PERIOD_END = f"CAST(({PERIOD_START}) + INTERVAL 3 MONTH - INTERVAL 1 DAY AS DATE)"


@dataclass(frozen=True)
class Unit:
    """What a framework scores: one row of `table` per (la_code, period, key), with tallies counted
    over the `sources` tables (each with the date column that places a row in the period, or None
    for a table without dates, whose tallies count every row: window all). A unit's results go to
    `<name>_indicators` and its domain scores to `<name>_domain_scores`."""

    name: str
    table: str
    key: str
    sources: dict
    window_start: str = PERIOD_START  # SQL over {p}, the period column
    window_end: str = PERIOD_END
    noun: tuple[str, str] = ("case", "cases")  # what one and several of the unit are called on pages
    needs: tuple[str, ...] = ()  # optional pack tables without which the unit's indicators are not available

    @property
    def results(self) -> str:
        return f"{self.name}_indicators"

    @property
    def domain_scores(self) -> str:
        return f"{self.name}_domain_scores"

    @property
    def base(self) -> str:
        """The temporary table of the units in scope with their flags and tallies."""
        return f"{self.name}_base"


# The audit framework's unit when its file names none: cases of export packs, counting their
# meetings and actions in the quarter.
CASE_UNIT = Unit(DEFAULT_UNIT, "cases", "case_key", {"meetings": "meeting_date", "actions": "action_date"})


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


def parse_unit(name: str, spec: dict) -> Unit:
    check_name("name", name, "unit: the name")
    if not isinstance(spec, dict):
        raise FrameworkError(f"unit {name}: give its table, key and sources")
    for field_name in ("table", "key"):
        check_name("name", spec.get(field_name), f"unit {name}: the {field_name}")
    for source, date_column in (spec.get("sources") or {}).items():
        check_name("name", source, f"unit {name}: the source table")
        if date_column is not None:
            check_name("name", date_column, f"unit {name}: the date column of {source}")
    noun = spec.get("noun", ["case", "cases"])
    if not (isinstance(noun, list) and len(noun) == 2 and all(isinstance(n, str) and n.strip() for n in noun)):
        raise FrameworkError(f"unit {name}: noun must be two words, one and several (e.g. [context, contexts])")
    return Unit(name, spec["table"], spec["key"], dict(spec.get("sources") or {}),
                spec.get("window_start", PERIOD_START), spec.get("window_end", PERIOD_END), tuple(noun),
                parse_needs(f"unit {name}", spec))


# What a pack can leave out and a measure can need: the optional tables the warehouse records a
# pack as having sent (submissions.has_contexts).
NEEDABLE_TABLES = ("contexts",)


def parse_needs(what: str, spec: dict) -> tuple[str, ...]:
    """The optional pack tables a unit or an indicator needs: where a pack did not send them, its
    rates are published as not available rather than as 0 out of 0."""
    needs = spec.get("needs") or []
    if not isinstance(needs, list) or any(n not in NEEDABLE_TABLES for n in needs):
        raise FrameworkError(f"{what}: needs must list tables among {', '.join(NEEDABLE_TABLES)}")
    return tuple(needs)


def parse_units(data: dict) -> dict[str, Unit]:
    """The framework's units, in the order they are scored: `units` (several, by name; one of them
    `case`), or one `unit`, or the case unit when neither is given."""
    if data.get("units") and data.get("unit"):
        raise FrameworkError("units: give either `units` (by name) or one `unit`, not both")
    if data.get("unit"):
        return {DEFAULT_UNIT: parse_unit(DEFAULT_UNIT, data["unit"])}
    if not data.get("units"):
        return {DEFAULT_UNIT: CASE_UNIT}
    units = {name: parse_unit(name, spec) for name, spec in data["units"].items()}
    if DEFAULT_UNIT not in units:
        raise FrameworkError(f"units: one unit must be named {DEFAULT_UNIT}")
    return units


def unit_of(what: str, spec, units: dict[str, Unit], default: str = DEFAULT_UNIT) -> str:
    """The unit a flag, tally, domain or indicator declares (`unit:`), which must be one of the
    framework's."""
    unit = spec.get("unit", default) if isinstance(spec, dict) else default
    if unit not in units:
        raise FrameworkError(f"{what}: unit {unit!r} is not one of the framework's units ({', '.join(units)})")
    return unit


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
    unit: str = DEFAULT_UNIT  # what the indicator is about: case, context (config/indicators.yaml `units`)
    needs: tuple[str, ...] = ()  # its own and its unit's: optional pack tables it cannot be measured without
    applies_to: str = ""  # the rules in plain English (WORDS_KEYS): whom it applies to,
    met_when: str = ""  # when it is met,
    value_is: str = ""  # and what its value is, for an indicator with one


@dataclass(frozen=True)
class Framework:
    domains: dict
    weights: dict
    flags: dict  # name -> expression
    tallies: dict  # name -> its spec, with its `unit`
    sources: dict
    indicators: tuple[Indicator, ...]
    sha256: str = ""  # of the framework file's content: a change rescores every pack
    units: dict = field(default_factory=lambda: {DEFAULT_UNIT: CASE_UNIT})  # in the order they are scored
    flag_units: dict = field(default_factory=dict)  # flag name -> its unit (default case)
    network_assessed: str | None = None  # the context indicator that says a context was assessed

    @property
    def unit(self) -> Unit:
        """The framework's main unit: the case (or the child, for the statutory framework)."""
        return self.units[DEFAULT_UNIT]

    def domain_unit(self, domain: str) -> str:
        return self.domains[domain].get("unit", DEFAULT_UNIT)

    @property
    def scored_domains(self) -> list[str]:
        """The domains in the practice score: the scored domains of the case unit."""
        return self.unit_domains(DEFAULT_UNIT)

    def unit_domains(self, unit: str) -> list[str]:
        """The scored domains of a unit (for the context unit: CX, the pack context score)."""
        return [d for d, spec in self.domains.items() if spec.get("scored") and self.domain_unit(d) == unit]

    def indicators_of(self, unit: str) -> list[Indicator]:
        return [i for i in self.indicators if i.unit == unit]

    def flags_of(self, unit: str) -> dict:
        return {n: e for n, e in self.flags.items() if self.flag_units.get(n, DEFAULT_UNIT) == unit}

    def tallies_of(self, unit: str) -> dict:
        return {n: t for n, t in self.tallies.items() if t.get("unit", DEFAULT_UNIT) == unit}

    def indicator(self, indicator_id: str) -> Indicator:
        return next(i for i in self.indicators if i.id == indicator_id)


def names_in(expression: str, names) -> list[str]:
    """The flag and tally names an expression uses, in the order they appear."""
    found = []
    for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression):
        if token in names and token not in found:
            found.append(token)
    return found


def check_one_unit(what: str, unit: str, expressions, fw_names: dict[str, str]) -> None:
    """Refuse a rule of one unit that uses a flag or tally of another: each unit is scored over its
    own rows, so the other unit's names do not exist there."""
    for name in names_in(" ".join(e for e in expressions if e), fw_names):
        if fw_names[name] != unit:
            raise FrameworkError(f"{what}: mixes units: {name} is of unit {fw_names[name]}, and this is of unit "
                                 f"{unit}")


def parse_flags(data: dict, units: dict[str, Unit]) -> tuple[dict, dict]:
    """Flags as name -> expression and name -> unit. A flag is an expression (of the case unit) or
    {unit: ..., rule: ...}."""
    flags, flag_units = {}, {}
    for name, spec in (data.get("flags") or {}).items():
        check_name("name", name, "flag: the name")
        flag_units[name] = unit_of(f"flag {name}", spec, units)
        if isinstance(spec, dict) and "rule" not in spec:
            raise FrameworkError(f"flag {name}: 'rule' is missing")
        flags[name] = str(spec["rule"] if isinstance(spec, dict) else spec)
    return flags, flag_units


def parse_tallies(data: dict, units: dict[str, Unit]) -> dict:
    tallies = {}
    for name, tally in (data.get("tallies") or {}).items():
        check_name("name", name, "tally: the name")
        if not isinstance(tally, dict):
            raise FrameworkError(f"tally {name}: give 'from' and 'count_where'")
        unit = units[unit_of(f"tally {name}", tally, units)]
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
        tallies[name] = {**tally, "unit": unit.name}
    return tallies


def plain_words(label: str, entry: dict) -> dict[str, str]:
    """The indicator's rules in plain English (WORDS_KEYS), one line each; refused, naming the
    indicator, where a rule has none."""
    words = {key: " ".join(entry[key].split()) for key in WORDS_KEYS.values() if isinstance(entry.get(key), str)}
    missing = [key for rule, key in WORDS_KEYS.items() if entry.get(rule) and not words.get(key)]
    if missing:
        raise FrameworkError(f"indicator {label}: missing {', '.join(missing)}: say in plain English what its rules "
                             "do, for readers who do not read SQL (see docs/local-indicators.md)")
    if words.get("value_is") and not entry.get("value"):
        raise FrameworkError(f"indicator {label}: value_is describes a value, but the indicator has no value")
    return words


def parse_framework(data: dict) -> Framework:
    """Check the framework's structure; every problem names the indicator it is in."""
    domains = data.get("domains") or {}
    units = parse_units(data)
    for code, spec in domains.items():
        check_name("domain", code, "domain: the code")
        unit_of(f"domain {code}", spec, units)
    for key in data.get("sources") or {}:
        check_name("name", key, "source: the key")
    flags, flag_units = parse_flags(data, units)
    tallies = parse_tallies(data, units)
    name_units = {**flag_units, **{n: t["unit"] for n, t in tallies.items()}}
    for name, expression in flags.items():
        check_one_unit(f"flag {name}", flag_units[name], [expression], name_units)
    indicators, seen = [], set()
    for position, entry in enumerate(data.get("indicators") or [], start=1):
        if entry.get("id"):
            check_name("indicator", entry["id"], f"indicator number {position}: the id")
        label = entry.get("id") or f"number {position}"
        missing = [k for k in REQUIRED_KEYS if not entry.get(k)]
        if missing:
            raise FrameworkError(f"indicator {label}: missing {', '.join(missing)}")
        words = plain_words(label, entry)
        if label in seen:
            raise FrameworkError(f"indicator {label}: the id is used twice")
        seen.add(label)
        if entry["domain"] not in domains:
            raise FrameworkError(f"indicator {label}: domain {entry['domain']} is not listed under domains")
        if entry["direction"] not in DIRECTIONS:
            raise FrameworkError(f"indicator {label}: direction must be higher or lower")
        if entry["source"] not in (data.get("sources") or {}):
            raise FrameworkError(f"indicator {label}: source {entry['source']} is not listed under sources")
        domain_unit = unit_of(f"domain {entry['domain']}", domains[entry["domain"]], units)
        unit = unit_of(f"indicator {label}", entry, units, domain_unit)
        if unit != domain_unit:
            raise FrameworkError(f"indicator {label}: mixes units: it is of unit {unit}, and its domain "
                                 f"{entry['domain']} of unit {domain_unit}")
        check_one_unit(f"indicator {label}", unit, [entry["applicable"], entry["met"], entry.get("value")],
                       name_units)
        indicators.append(Indicator(
            id=entry["id"], domain=entry["domain"], title=entry["title"], question=entry["question"],
            applicable=str(entry["applicable"]), met=str(entry["met"]),
            value=str(entry["value"]) if entry.get("value") else None, direction=entry["direction"],
            informational=bool(entry.get("informational", False)) or not domains[entry["domain"]].get("scored"),
            source=entry["source"], citation=entry.get("citation", ""), unit=unit,
            needs=tuple(dict.fromkeys(units[unit].needs + parse_needs(f"indicator {label}", entry))), **words,
        ))
    weights = data.get("practice_score_weights") or {}
    for domain in weights:
        if domain in domains and domains[domain].get("unit", DEFAULT_UNIT) != DEFAULT_UNIT:
            raise FrameworkError(f"practice_score_weights: {domain} is a domain of unit {domains[domain]['unit']}; "
                                 f"the practice score weighs domains of unit {DEFAULT_UNIT} only")
    assessed = (data.get("networks") or {}).get("assessed_by")
    framework = Framework(domains, weights, flags, tallies, data.get("sources") or {}, tuple(indicators),
                          hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest(),
                          units, flag_units, assessed)
    check_sql(framework)
    if assessed is not None and next((i.unit for i in indicators if i.id == assessed), DEFAULT_UNIT) == DEFAULT_UNIT:
        raise FrameworkError(f"networks: assessed_by {assessed!r} must be an indicator of a unit other than "
                             f"{DEFAULT_UNIT}")
    return framework


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
    rules = []
    for unit in framework.units.values():
        where = "unit" if len(framework.units) == 1 else f"unit {unit.name}"
        rules += [(f"{where}: {name}", template.format(p="period"))
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
    an empty warehouse, unit by unit in scoring order, so a bad rule fails at load, by id."""
    con = duckdb.connect(":memory:")
    try:
        without_external_access(con)
        for what, rule in framework_rules(framework):
            check_rule(con, rule, what)
        con.execute(SCHEMA_SQL)
        for unit in framework.units.values():
            try:
                con.execute(f"CREATE TEMP TABLE {unit.base} AS {unit_base_sql(framework, unit)}", [None])
            except duckdb.Error as error:
                where = "" if len(framework.units) == 1 else f" of unit {unit.name}"
                raise FrameworkError(f"flags or tallies{where}: {first_line(error)}") from error
            for indicator in framework.indicators_of(unit.name):
                try:
                    con.execute(f"EXPLAIN {indicator_sql(indicator, unit)}")
                except duckdb.Error as error:
                    raise FrameworkError(f"indicator {indicator.id}: {first_line(error)}") from error
    finally:
        con.close()


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def unit_base_sql(framework: Framework, unit: Unit) -> str:
    """One row per unit (case, context...) of the packs in scope ($1: list of 'LA|period' keys, or
    NULL for all), with the unit's flags and tallies."""
    scope = PACK_SCOPE
    tallies_here = framework.tallies_of(unit.name)
    parts = []
    for source, date_column in unit.sources.items():
        selected = {n: t for n, t in tallies_here.items() if t["from"] == source}
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
    flags = ", ".join(f"({expression}) AS {name}" for name, expression in framework.flags_of(unit.name).items())
    return f"""
        SELECT c.* {', ' + tallies if tallies else ''}
        FROM (SELECT {unit.table}.*, {flags or 'NULL AS no_flags'} FROM {unit.table} WHERE {scope}) c
        {joins}"""


def case_base_sql(framework: Framework) -> str:
    """`unit_base_sql` of the framework's main unit."""
    return unit_base_sql(framework, framework.unit)


def indicator_sql(indicator: Indicator, unit: Unit = CASE_UNIT) -> str:
    value = indicator.value or "NULL"
    return f"""
        SELECT la_code, period, {unit.key}, {quote(indicator.id)} AS indicator_id,
               applicable,
               CASE WHEN applicable THEN coalesce(({indicator.met}), false) END AS met,
               CASE WHEN applicable THEN {'value' if indicator.value else
                   f'CAST(coalesce(({indicator.met}), false) AS DOUBLE)'} END AS value
        FROM (SELECT *, coalesce(({indicator.applicable}), false) AS applicable, ({value}) AS value
              FROM {unit.base})"""
