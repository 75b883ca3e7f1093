"""Turn a pack's text tables into the contract's typed tables, quarantining rows that break a rule.

The parsing and the row rules are generated from config/contract.yaml as SQL and run in a private
in-memory DuckDB connection, so raw case references exist only there and never in the warehouse.
Every input row ends up in exactly one place: loaded, or quarantined with one row per broken rule.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from functools import cache

import duckdb
import pandas as pd

from assets.config import action_targets, contract, load_yaml
from assets.reading import TABLES, Pack, PackRejected, RawTable, period_bounds
from checks.identifiers import scan_pack

CONTEXT_COLUMNS = ("la_code", "period")  # optional columns that must agree with the pack name


def case_key(secret: bytes, la_code: str, case_id: str) -> str:
    """The contract's pseudonym: first 16 hex characters of HMAC-SHA256(key, "<LA code>:<case_id>")."""
    return hmac.new(secret, f"{la_code}:{case_id}".encode(), hashlib.sha256).hexdigest()[:16]


@dataclass
class StandardisedPack:
    """A validated pack: typed tables ready to load, quarantine rows, and the row counts."""

    la_code: str
    period: str
    cases: pd.DataFrame
    meetings: pd.DataFrame
    actions: pd.DataFrame
    quarantine: pd.DataFrame
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_quarantined: dict[str, int] = field(default_factory=dict)
    dropped_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total_quarantined(self) -> int:
        return sum(self.rows_quarantined.values())

    def reconciles(self) -> bool:
        """Rows in = rows loaded + rows quarantined, for every table."""
        return all(self.rows_in[t] == self.rows_loaded[t] + self.rows_quarantined[t] for t in TABLES)


def standardise(pack: Pack, secret: bytes) -> StandardisedPack:
    """Check a read pack's shape and identifiers, then parse and validate every row."""
    tables = pack.tables
    check_columns(tables)
    check_name_agreement(pack)
    scan_pack(tables)  # raises PackRejected(direct_identifier) before anything is stored

    start, end = period_bounds(pack.period)
    con = duckdb.connect(":memory:", config={"temp_directory": ""})
    try:
        for table in TABLES:
            con.register(f"raw_{table}", contract_frame(tables[table], table))
        case_ids = [row[0] for row in con.sql(
            "SELECT DISTINCT trim(case_id) FROM raw_cases WHERE trim(case_id) <> ''").fetchall()]
        keys = pd.DataFrame({"case_id": case_ids,
                             "case_key": [case_key(secret, pack.la_code, c) for c in case_ids]}, dtype=str)
        con.register("case_keys", keys)
        con.register("action_targets", pd.DataFrame(list(action_targets().items()),
                                                    columns=["action_type", "target"], dtype=str))
        params = {"la_code": pack.la_code, "period": pack.period}
        for table in TABLES:
            con.execute(f"CREATE TEMP TABLE p_{table} AS {parse_sql(table)}")
        con.execute(f"CREATE TEMP TABLE violations AS {violations_sql()}", {"start": start, "end": end})
        con.execute(CASCADE_SQL)
        rules = rule_messages()
        quarantine = con.sql(
            "SELECT table_name, row_number, column_name, rule FROM violations ORDER BY table_name, row_number, rule"
        ).df()
        quarantine.insert(0, "source_file", quarantine["table_name"].map(lambda t: tables[t].source_file))
        quarantine.insert(0, "period", pack.period)
        quarantine.insert(0, "la_code", pack.la_code)
        quarantine["message"] = [
            rules[rule]["message"].format(table=t, column=c) + " " + rules[rule]["fix"].format(table=t, column=c)
            for t, c, rule in zip(quarantine["table_name"], quarantine["column_name"], quarantine["rule"],
                                  strict=True)
        ]
        quarantine["row_number"] = quarantine["row_number"].astype("int64")
        result = StandardisedPack(
            la_code=pack.la_code,
            period=pack.period,
            cases=con.execute(LOAD_CASES_SQL, params).df(),
            meetings=con.execute(LOAD_MEETINGS_SQL, params).df(),
            actions=con.execute(LOAD_ACTIONS_SQL, params).df(),
            quarantine=quarantine,
        )
        for table in TABLES:
            result.rows_in[table] = len(tables[table].frame)
            result.rows_quarantined[table] = con.execute(
                "SELECT count(DISTINCT row_number) FROM violations WHERE table_name = ?", [table]).fetchone()[0]
        result.rows_loaded = {"cases": len(result.cases), "meetings": len(result.meetings),
                              "actions": len(result.actions)}
        result.dropped_columns = {t: extra_columns(tables[t]) for t in TABLES if extra_columns(tables[t])}
        return result
    finally:
        con.close()


@cache
def rule_messages() -> dict:
    return load_yaml("rules.yaml")["row_rules"]


def check_columns(tables: dict[str, RawTable]) -> None:
    for table, spec in contract()["tables"].items():
        present = set(tables[table].frame.columns)
        for column, column_spec in spec["columns"].items():
            if column_spec.get("required") and column not in present:
                raise PackRejected(
                    "missing_column",
                    f"{tables[table].source_file}: required column '{column}' of table '{table}' is missing. "
                    "Add it, or map the LA's own column name to it in a mapping profile.",
                    table, column)


def check_name_agreement(pack: Pack) -> None:
    """Where a table carries la_code or period columns, every value must match the pack's name."""
    expected = {"la_code": pack.la_code, "period": pack.period}
    for table, raw in pack.tables.items():
        for column in CONTEXT_COLUMNS:
            if column in raw.frame.columns:
                values = raw.frame[column].str.strip().str.upper()
                wrong = values[(values != "") & (values != expected[column])]
                if len(wrong):
                    raise PackRejected(
                        "name_mismatch",
                        f"{raw.source_file}: column '{column}' says another {column.replace('_', ' ')} than the "
                        f"pack name ({expected[column]}) on row {int(wrong.index[0]) + 1}. "
                        "Rename the pack or correct the column.",
                        table, column)


def extra_columns(raw: RawTable) -> list[str]:
    known = set(contract()["tables"][raw.name]["columns"]) | set(CONTEXT_COLUMNS)
    return [c for c in raw.frame.columns if c not in known]


def contract_frame(raw: RawTable, table: str) -> pd.DataFrame:
    """The contract's columns only (blank where an optional one is absent), plus row_number from 1."""
    columns = contract()["tables"][table]["columns"]
    frame = pd.DataFrame({"row_number": range(1, len(raw.frame) + 1)})
    for column in columns:
        frame[column] = raw.frame[column].to_numpy() if column in raw.frame.columns else ""
    return frame


# --- SQL generated from the contract -------------------------------------------------------------

def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def blank_is_null(column: str) -> str:
    return f"nullif(trim(r.{column}), '')"


def code_values(spec: dict) -> list[str]:
    if "values_from" in spec:
        return sorted(action_targets())
    return [str(v) for v in spec["values"]]


def code_lookup(expression: str, values: list[str]) -> str:
    """Codes match without regard to case or surrounding spaces; the contract's spelling is kept."""
    branches = " ".join(f"WHEN {quote(v.lower())} THEN {quote(v)}" for v in values)
    return f"CASE lower(trim({expression})) {branches} END"


def parsed_expression(column: str, spec: dict) -> str:
    x = blank_is_null(column)
    kind = spec["type"]
    if kind == "text":
        return x
    if kind == "integer":
        return f"TRY_CAST({x} AS BIGINT)"
    if kind == "code":
        return code_lookup(x, code_values(spec))
    if kind == "codelist":
        separator = quote(spec["separator"])
        return (f"list_transform(list_filter(string_split({x}, {separator}), lambda e: trim(e) <> ''), "
                f"lambda e: {code_lookup('e', code_values(spec))})")
    if kind == "yn":
        values = contract()["values"]
        yes = ", ".join(quote(v) for v in values["yes_values"])
        no = ", ".join(quote(v) for v in values["no_values"])
        return f"CASE WHEN lower({x}) IN ({yes}) THEN true WHEN lower({x}) IN ({no}) THEN false END"
    if kind == "date":
        formats = ", ".join(quote(f) for f in contract()["values"]["date_formats"])
        return f"CAST(try_strptime({x}, [{formats}]) AS DATE)"
    raise ValueError(f"contract: unknown column type {kind!r} for {column}")


def parse_sql(table: str) -> str:
    """Typed columns (same names), plus x_<column>: the trimmed text, and d_<column>: duplicate flags."""
    columns = contract()["tables"][table]["columns"]
    select = ["r.row_number"]
    for column, spec in columns.items():
        select.append(f"{parsed_expression(column, spec)} AS {column}")
        select.append(f"{blank_is_null(column)} AS x_{column}")
        if spec.get("unique"):
            select.append(f"({blank_is_null(column)} IS NOT NULL AND "
                          f"count(*) OVER (PARTITION BY {blank_is_null(column)}) > 1) AS d_{column}")
    return f"SELECT {', '.join(select)} FROM raw_{table} r"


def column_rules(table: str, column: str, spec: dict) -> list[tuple[str, str]]:
    """(rule, condition over p_<table>) for one column; the condition is true on a broken row."""
    x, v = f"x_{column}", column
    kind = spec["type"]
    rules = []
    if spec.get("required"):
        rules.append(("required", f"{x} IS NULL"))
    type_rule = {"integer": "type_integer", "date": "type_date", "yn": "type_yn"}.get(kind, "vocabulary")
    if kind == "codelist":
        rules.append(("vocabulary", f"{x} IS NOT NULL AND (len({v}) = 0 OR list_count({v}) < len({v}))"))
    elif kind != "text":
        rules.append((type_rule, f"{x} IS NOT NULL AND {v} IS NULL"))
    if "min" in spec or "max" in spec:
        bounds = []
        if "min" in spec:
            bounds.append(f"{v} < {int(spec['min'])}")
        if "max" in spec:
            bounds.append(f"{v} > {int(spec['max'])}")
        rules.append(("range", " OR ".join(bounds)))
    if "max_length" in spec:
        rules.append(("max_length", f"length({x}) > {int(spec['max_length'])}"))
    if spec.get("unique"):
        rules.append(("unique", f"d_{column}"))
    if spec.get("references"):
        ref_table, ref_column = spec["references"].split(".")
        rules.append(("references", f"{x} IS NOT NULL AND {x} NOT IN "
                      f"(SELECT x_{ref_column} FROM p_{ref_table} WHERE x_{ref_column} IS NOT NULL)"))
    if spec.get("inside_period"):
        rules.append(("outside_period", f"{v} NOT BETWEEN $start AND $end"))
    if spec.get("not_after") == "period_end":
        rules.append(("referral_after_period", f"{v} > $end"))
    if "not_before_column" in spec:
        rules.append(("end_before_referral", f"{v} < {spec['not_before_column']}"))
    if "not_above_column" in spec:
        rules.append(("return_interviews_exceed_missing", f"{v} > coalesce({spec['not_above_column']}, 0)"))
    if "not_yes_unless_yes" in spec:
        rules.append(("attended_not_invited", f"{v} AND NOT {spec['not_yes_unless_yes']}"))
    if "required_when" in spec:
        (other, value), = spec["required_when"].items()
        rules.append(("info_source_required", f"{x} IS NULL AND {other} = {quote(value)}"))
    return rules


def violations_sql() -> str:
    parts = []
    for table, table_spec in contract()["tables"].items():
        for column, spec in table_spec["columns"].items():
            for rule, condition in column_rules(table, column, spec):
                parts.append(
                    f"SELECT {quote(table)} AS table_name, row_number, {quote(column)} AS column_name, "
                    f"{quote(rule)} AS rule FROM p_{table} WHERE coalesce({condition}, false)"
                )
    return " UNION ALL ".join(parts)


# A meeting or action whose case was quarantined cannot load either (its case is not there).
CASCADE_SQL = """
INSERT INTO violations
SELECT child.table_name, child.row_number, 'case_id', 'case_quarantined'
FROM (
    SELECT 'meetings' AS table_name, row_number, x_case_id FROM p_meetings
    UNION ALL SELECT 'actions', row_number, x_case_id FROM p_actions
) child
WHERE child.x_case_id IN (
    SELECT c.x_case_id FROM p_cases c JOIN violations v ON v.table_name = 'cases' AND v.row_number = c.row_number
)
"""

LOAD_CASES_SQL = """
SELECT $la_code AS la_code, $period AS period, k.case_key, c.age, c.sex, c.ethnicity_group, c.harm_types,
       c.intrafamilial_harm, c.referral_date, c.case_end_date, c.plan_type, c.lives_with_parent,
       c.parent_partnership_exception, c.risk_level_start, c.risk_level_end, c.missing_episodes,
       c.return_interviews_72h
FROM p_cases c JOIN case_keys k ON k.case_id = c.x_case_id
WHERE c.row_number NOT IN (SELECT row_number FROM violations WHERE table_name = 'cases')
ORDER BY c.row_number
"""

LOAD_MEETINGS_SQL = """
SELECT $la_code AS la_code, $period AS period, k.case_key, m.row_number AS source_row,
       m.meeting_date, m.meeting_type, m.parent_invited, m.parent_attended, m.parent_views_recorded,
       m.parent_informed_of_outcome
FROM p_meetings m JOIN case_keys k ON k.case_id = m.x_case_id
WHERE m.row_number NOT IN (SELECT row_number FROM violations WHERE table_name = 'meetings')
ORDER BY m.row_number
"""

LOAD_ACTIONS_SQL = """
SELECT $la_code AS la_code, $period AS period, k.case_key, a.row_number AS source_row,
       a.action_date, a.action_type, t.target, a.lead_agency, a.status, a.info_source
FROM p_actions a JOIN case_keys k ON k.case_id = a.x_case_id
LEFT JOIN action_targets t ON t.action_type = a.action_type
WHERE a.row_number NOT IN (SELECT row_number FROM violations WHERE table_name = 'actions')
ORDER BY a.row_number
"""
