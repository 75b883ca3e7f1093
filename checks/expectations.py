"""Great Expectations suites generated from the contract (config/contract.yaml), run where the data
is: each suite is compiled to one DuckDB query over the rows a load has just put in the warehouse.

The row rules in assets/standardise.py decide what is quarantined; these suites are the
independent second opinion that what was loaded meets the contract: types, required values,
vocabularies, ranges, uniqueness within a pack, every meeting and action belonging to a loaded
case, dates inside the period, return interviews not above missing episodes. They run as blocking
Dagster asset checks, so nothing is scored from a load that fails them.

The expectations are Great Expectations' own classes and arguments (config/rule_kinds.yaml);
UNEXPECTED_SQL says, for each class the registry uses, which rows GX counts as unexpected, as a
DuckDB aggregate. tests/test_expectations.py runs the same suites through GX's pandas engine on the
same rows and checks that both count the same unexpected rows for every expectation. Reading every
loaded row into pandas frames for GX took most of a national run's validation time; the query
reads them once, in the warehouse. Great Expectations itself is imported only to build the suite
objects (contract_expectations), never on a run: it takes seconds to import."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache

import duckdb
import pandas as pd

from assets.config import contract
from assets.contract_rules import column_rules


def loaded(table: str, alias: str, key: str) -> str:
    """`<table>_loaded`: whether the row's case (or context) was loaded, NULL where it names none."""
    return (f"CASE WHEN {alias}.{key} IS NOT NULL THEN EXISTS (SELECT 1 FROM {table} t WHERE t.la_code = "
            f"{alias}.la_code AND t.period = {alias}.period AND t.{key} = {alias}.{key}) END AS {table}_loaded")


# The loaded rows of the given packs, with the derived columns the rule kinds' expectations name
# (config/rule_kinds.yaml): the pack's period bounds, the pack-qualified pseudonyms of case_id and
# context_id (for `unique` and `unique_pair`: the references themselves are never stored), and whether
# the row's case or context was loaded (`references`).
FRAMES_SQL = {
    "cases": """
        SELECT c.*, c.la_code || '|' || c.period || '|' || c.case_key AS pack_case_id,
               p.period_start, p.period_end
        FROM cases c JOIN packs p USING (la_code, period)""",
    "meetings": f"""
        SELECT m.*, p.period_start, p.period_end, {loaded('cases', 'm', 'case_key')},
               {loaded('contexts', 'm', 'context_key')}
        FROM meetings m JOIN packs p USING (la_code, period)""",
    "actions": f"""
        SELECT a.*, p.period_start, p.period_end, {loaded('cases', 'a', 'case_key')},
               {loaded('contexts', 'a', 'context_key')}
        FROM actions a JOIN packs p USING (la_code, period)""",
    "contexts": """
        SELECT x.*, x.la_code || '|' || x.period || '|' || x.context_key AS pack_context_id,
               p.period_start, p.period_end
        FROM contexts x JOIN packs p USING (la_code, period)""",
    "case_contexts": f"""
        SELECT l.*, l.la_code || '|' || l.period || '|' || l.case_key AS pack_case_id,
               l.la_code || '|' || l.period || '|' || l.context_key AS pack_context_id,
               p.period_start, p.period_end, {loaded('cases', 'l', 'case_key')},
               {loaded('contexts', 'l', 'context_key')}
        FROM case_contexts l JOIN packs p USING (la_code, period)""",
}
# The pseudonyms every loaded row of a table carries.
KEYS = {"contexts": ("context_key",), "case_contexts": ("case_key", "context_key")}


@dataclass
class SuiteOutcome:
    table: str
    rows: int
    evaluated: int = 0
    failures: list[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failures


def expectation_specs(table: str) -> list[tuple[str, dict]]:
    """The suite for one standardised table as (GX expectation class, its arguments): those of the
    rule kinds on its columns (config/rule_kinds.yaml), where the loaded table has the columns they
    name, and what loading itself guarantees (every row keyed, every action's target derived)."""
    present = frame_columns(table)
    items = [("ExpectColumnValuesToNotBeNull", {"column": c})
             for c in ("la_code", "period", *KEYS.get(table, ("case_key",)))]
    for column, spec in contract()["tables"][table]["columns"].items():
        for rule in column_rules(table, column, spec):
            for name, arguments in rule.expectations():
                named = [v for k, v in arguments.items() if k in ("column", "column_A", "column_B")]
                named += arguments.get("column_list", [])
                if all(v in present for v in named):
                    items.append((name, arguments))
    if table == "actions":
        items.append(("ExpectColumnValuesToBeInSet", {"column": "target",
                                                      "value_set": sorted(contract()["action_targets"])}))
    return items


@cache
def frame_columns(table: str) -> frozenset[str]:
    """The columns of a table's loaded rows as the suites see them (FRAMES_SQL over the schema)."""
    from assets.warehouse import SCHEMA_SQL

    con = duckdb.connect(":memory:")
    try:
        con.execute(SCHEMA_SQL)
        con.execute("CREATE TABLE packs (la_code VARCHAR, period VARCHAR, period_start DATE, period_end DATE)")
        return frozenset(name for name, *_ in con.execute(f"DESCRIBE {FRAMES_SQL[table]}").fetchall())
    finally:
        con.close()


def contract_expectations(table: str) -> list:
    """The suite for one table as Great Expectations expectation objects."""
    import great_expectations as gx

    return [getattr(gx.expectations, name)(**arguments) for name, arguments in expectation_specs(table)]


def identifier(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def literal(value) -> str:
    """A value of an expectation's arguments as a DuckDB literal (they come from config: quoted)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"an expectation's bound or value is {value!r}: give a finite number")
        return repr(float(value)) if isinstance(value, float) else str(int(value))
    return "'" + str(value).replace("'", "''") + "'"


def in_set(arguments: dict) -> str:
    column = identifier(arguments["column"])
    if not arguments["value_set"]:
        raise ValueError(f"ExpectColumnValuesToBeInSet on {arguments['column']}: the value set is empty")
    values = ", ".join(literal(v) for v in arguments["value_set"])
    return f"count_if({column} IS NOT NULL AND {column} NOT IN ({values}))"


def between(arguments: dict) -> str:
    column, outside = identifier(arguments["column"]), []
    if arguments.get("min_value") is not None:
        outside.append(f"{column} {'<=' if arguments.get('strict_min') else '<'} {literal(arguments['min_value'])}")
    if arguments.get("max_value") is not None:
        outside.append(f"{column} {'>=' if arguments.get('strict_max') else '>'} {literal(arguments['max_value'])}")
    return f"count_if({column} IS NOT NULL AND ({' OR '.join(outside) or 'FALSE'}))"


def pair_greater(arguments: dict) -> str:
    if arguments.get("ignore_row_if") != "either_value_is_missing":
        raise ValueError("ExpectColumnPairValuesAToBeGreaterThanB is compiled for ignore_row_if: "
                         "either_value_is_missing only")
    a, b = identifier(arguments["column_A"]), identifier(arguments["column_B"])
    above = ">=" if arguments.get("or_equal") else ">"
    return f"count_if({a} IS NOT NULL AND {b} IS NOT NULL AND NOT ({a} {above} {b}))"


def unique(arguments: dict) -> str:
    # GX counts every row whose value another row shares (all of a duplicate's copies), nulls aside.
    column = identifier(arguments["column"])
    return (f"(SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM frame WHERE {column} IS NOT NULL "
            f"GROUP BY {column} HAVING count(*) > 1))")


def compound_unique(arguments: dict) -> str:
    # GX counts every row whose combination another row shares, rows missing every value aside.
    columns = ", ".join(identifier(c) for c in arguments["column_list"])
    present = " OR ".join(f"{identifier(c)} IS NOT NULL" for c in arguments["column_list"])
    return (f"(SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM frame WHERE {present} "
            f"GROUP BY {columns} HAVING count(*) > 1))")


# Which rows each Great Expectations class the registry uses counts as unexpected, over `frame`.
UNEXPECTED_SQL = {
    "ExpectColumnValuesToNotBeNull": lambda arguments: f"count_if({identifier(arguments['column'])} IS NULL)",
    "ExpectColumnValuesToBeInSet": in_set,
    "ExpectColumnValuesToBeBetween": between,
    "ExpectColumnPairValuesAToBeGreaterThanB": pair_greater,
    "ExpectColumnValuesToBeUnique": unique,
    "ExpectCompoundColumnsToBeUnique": compound_unique,
}


def unexpected_sql(name: str, arguments: dict) -> str:
    """The DuckDB aggregate counting the rows that break one expectation."""
    if name not in UNEXPECTED_SQL:
        raise ValueError(f"no DuckDB form for the expectation {name}: add one to checks/expectations.py")
    if arguments.get("mostly", 1) != 1:
        raise ValueError(f"{name}: 'mostly' below 1 is not compiled; every row must meet the contract")
    return UNEXPECTED_SQL[name](arguments)


def snake_case(name: str) -> str:
    """ExpectColumnValuesToBeInSet -> expect_column_values_to_be_in_set (GX's name for the type)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def suite_query(table: str) -> tuple[str, list[tuple[str, dict]]]:
    """One query over the run's packs (`run_packs`) that counts the table's rows and each
    expectation's unexpected rows."""
    specs = expectation_specs(table)
    counts = ",\n       ".join(unexpected_sql(name, arguments) for name, arguments in specs)
    sql = (f"WITH packs AS (SELECT * FROM run_packs), frame AS ({FRAMES_SQL[table]})\n"
           f"SELECT count(*),\n       {counts}\nFROM frame")
    return sql, specs


def validate_loaded(con: duckdb.DuckDBPyConnection, packs: list[tuple[str, str]]) -> list[SuiteOutcome]:
    """Run the contract suites over the loaded rows of these packs (LA code, period), one query a
    table in the warehouse (DuckDB spills what does not fit, so memory stays flat)."""
    from assets.reading import period_bounds

    outcomes = {table: SuiteOutcome(table, 0) for table in FRAMES_SQL}
    if not packs:
        return list(outcomes.values())
    bounds = pd.DataFrame([(la, period, *period_bounds(period)) for la, period in packs],
                          columns=["la_code", "period", "period_start", "period_end"])
    bounds["period_start"] = pd.to_datetime(bounds["period_start"]).dt.date
    bounds["period_end"] = pd.to_datetime(bounds["period_end"]).dt.date
    con.register("run_packs", bounds)
    try:
        for table, outcome in outcomes.items():
            sql, specs = suite_query(table)
            rows, *unexpected = con.execute(sql).fetchall()[0]
            outcome.rows, outcome.evaluated = int(rows), len(specs) if rows else 0
            for (name, arguments), count in zip(specs, unexpected, strict=True):
                if count:
                    add_failure(outcome, name, arguments, int(count))
    finally:
        con.unregister("run_packs")
    return list(outcomes.values())


def add_failure(outcome: SuiteOutcome, name: str, arguments: dict, count: int) -> None:
    """Add a failed expectation's unexpected rows to the outcome (one entry per expectation)."""
    column = arguments.get("column") or f"{arguments.get('column_A')} vs {arguments.get('column_B')}"
    for failure in outcome.failures:
        if (failure["expectation"], failure["column"]) == (snake_case(name), column):
            failure["unexpected_count"] += count
            return
    outcome.failures.append({"expectation": snake_case(name), "column": column, "unexpected_count": count})
