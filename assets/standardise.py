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
import numpy as np
import pandas as pd
import pyarrow as pa

from assets.config import action_targets, contract, load_yaml
from assets.reading import TABLES, Pack, PackRejected, RawTable, period_bounds
from checks.identifiers import scan_pack

CONTEXT_COLUMNS = ("la_code", "period")  # optional columns that must agree with the pack name


def case_key(secret: bytes, la_code: str, case_id: str) -> str:
    """The contract's pseudonym: first 16 hex characters of HMAC-SHA256(key, "<LA code>:<case_id>")."""
    return hmac.new(secret, f"{la_code}:{case_id}".encode(), hashlib.sha256).hexdigest()[:16]


@dataclass
class StandardisedPack:
    """A validated pack's row counts and, when it was standardised on its own (`standardise`), its
    typed tables ready to load and its quarantine rows. In a batch the rows are in the batch's tables."""

    la_code: str
    period: str
    cases: pd.DataFrame | None = None
    meetings: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    quarantine: pd.DataFrame | None = None
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


def check_shape(pack: Pack) -> None:
    """Required columns present, and la_code / period columns agreeing with the pack's name."""
    check_columns(pack.tables)
    check_name_agreement(pack)


def check_pack(pack: Pack) -> None:
    """The whole-pack checks on a read pack: its shape and the direct-identifier scan. Raises
    PackRejected, before anything from the pack is stored."""
    check_shape(pack)
    scan_pack(pack.tables)


def standardise(pack: Pack, secret: bytes) -> StandardisedPack:
    """Check a read pack's shape and identifiers, then parse and validate every row."""
    check_pack(pack)
    batch = standardise_batch([pack], secret)
    result = batch.packs[0]
    for table in (*TABLES, "quarantine"):
        frame = batch.tables[table].drop_columns(["pack_id"]).to_pandas()
        setattr(result, table, frame)
    return result


@dataclass
class StandardisedBatch:
    """Several checked packs standardised together: one StandardisedPack per pack (its counts), and
    the rows to load for all of them, each table with a pack_id column (the pack's index)."""

    packs: list[StandardisedPack]
    tables: dict[str, pa.Table]


def standardise_batch(packs: list[Pack], secret: bytes) -> StandardisedBatch:
    """Parse and validate every row of packs that passed `check_pack`, all in one private session.

    The generated rules run once over every pack's rows, with the pack in every partition and join
    (uniqueness, references, the period window), so many small packs cost one set of statements
    rather than one each."""
    con = duckdb.connect(":memory:", config={"temp_directory": ""})
    try:
        bounds = [period_bounds(p.period) for p in packs]
        con.register("batch_packs", pa.table({
            "pack_id": pa.array(range(len(packs)), pa.int32()),
            "la_code": [p.la_code for p in packs], "period": [p.period for p in packs],
            "period_start": [b[0] for b in bounds], "period_end": [b[1] for b in bounds]}))
        for table in TABLES:
            con.register(f"raw_{table}", contract_rows(packs, table))
        case_ids = con.sql("""SELECT DISTINCT r.pack_id, b.la_code, trim(r.case_id) FROM raw_cases r
                              JOIN batch_packs b USING (pack_id) WHERE trim(r.case_id) <> ''""").fetchall()
        con.register("case_keys", pa.table({
            "pack_id": pa.array([row[0] for row in case_ids], pa.int32()),
            "case_id": [row[2] for row in case_ids],
            "case_key": [case_key(secret, row[1], row[2]) for row in case_ids]}))
        con.register("action_targets", pa.table({"action_type": list(action_targets()),
                                                 "target": list(action_targets().values())}))
        for table in TABLES:
            con.execute(f"CREATE TEMP TABLE p_{table} AS {parse_sql(table)}")
        con.execute(f"CREATE TEMP TABLE violations AS {violations_sql()}")
        con.execute(CASCADE_SQL)
        con.register("source_files", pa.table({
            "pack_id": pa.array([i for i in range(len(packs)) for _ in TABLES], pa.int32()),
            "table_name": [t for _ in packs for t in TABLES],
            "source_file": [p.tables[t].source_file for p in packs for t in TABLES]}))
        broken = con.sql("SELECT DISTINCT table_name, column_name, rule FROM violations").fetchall()
        rules = rule_messages()
        con.register("rule_messages", pa.table({
            "table_name": [t for t, _, _ in broken], "column_name": [c for _, c, _ in broken],
            "rule": [r for _, _, r in broken],
            "message": [rules[r]["message"].format(table=t, column=c) + " " + rules[r]["fix"].format(table=t, column=c)
                        for t, c, r in broken]}))
        tables = {"cases": con.sql(LOAD_CASES_SQL).arrow().read_all(),
                  "meetings": con.sql(LOAD_MEETINGS_SQL).arrow().read_all(),
                  "actions": con.sql(LOAD_ACTIONS_SQL).arrow().read_all(),
                  "quarantine": con.sql(QUARANTINE_SQL).arrow().read_all()}
        quarantined = {(pack_id, table): rows for pack_id, table, rows in con.sql(
            "SELECT pack_id, table_name, count(DISTINCT row_number) FROM violations GROUP BY ALL").fetchall()}
        loaded = {(pack_id, table): rows for table in TABLES for pack_id, rows in zip(
            *tables[table].group_by("pack_id").aggregate([("pack_id", "count")]).to_pydict().values(), strict=True)}
    finally:
        con.close()
    results = []
    for pack_id, pack in enumerate(packs):
        result = StandardisedPack(la_code=pack.la_code, period=pack.period)
        for table in TABLES:
            result.rows_in[table] = pack.tables[table].num_rows
            result.rows_quarantined[table] = quarantined.get((pack_id, table), 0)
            result.rows_loaded[table] = loaded.get((pack_id, table), 0)
        result.dropped_columns = {t: dropped for t in TABLES if (dropped := extra_columns(pack.tables[t]))}
        results.append(result)
    return StandardisedBatch(results, tables)


@cache
def rule_messages() -> dict:
    return load_yaml("rules.yaml")["row_rules"]


def check_columns(tables: dict[str, RawTable]) -> None:
    for table, spec in contract()["tables"].items():
        present = set(tables[table].columns)
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
            if column in raw.columns:
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
    return [c for c in raw.columns if c not in known]


def contract_rows(packs: list[Pack], table: str) -> pa.Table:
    """One table's rows of every pack, contract columns only (blank where an optional one is absent),
    with pack_id (the pack's index) and row_number (from 1 within its pack)."""
    columns = contract()["tables"][table]["columns"]
    raws = [pack.tables[table] for pack in packs]
    data = {
        "pack_id": pa.array(np.repeat(np.arange(len(raws), dtype=np.int32), [r.num_rows for r in raws])),
        "row_number": pa.array(np.concatenate([np.arange(1, r.num_rows + 1, dtype=np.int64) for r in raws]
                                              or [np.zeros(0, np.int64)])),
    }
    for column in columns:
        data[column] = pa.chunked_array(
            [chunk for r in raws for chunk in (r.column(column).chunks if column in r.columns
                                               else [pa.array([""] * r.num_rows, pa.string())])], pa.string())
    return pa.table(data)


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
    select = ["r.pack_id", "r.row_number", "b.period_start", "b.period_end"]
    for column, spec in columns.items():
        select.append(f"{parsed_expression(column, spec)} AS {column}")
        select.append(f"{blank_is_null(column)} AS x_{column}")
        if spec.get("unique"):
            select.append(f"({blank_is_null(column)} IS NOT NULL AND "
                          f"count(*) OVER (PARTITION BY r.pack_id, {blank_is_null(column)}) > 1) AS d_{column}")
    return f"SELECT {', '.join(select)} FROM raw_{table} r JOIN batch_packs b USING (pack_id)"


def column_rules(table: str, column: str, spec: dict) -> list[tuple[str, str]]:
    """(rule, condition over p_<table> as `p`) for one column; the condition is true on a broken row."""
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
        rules.append(("references", f"{x} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM p_{ref_table} ref "
                      f"WHERE ref.pack_id = p.pack_id AND ref.x_{ref_column} = p.{x})"))
    if spec.get("inside_period"):
        rules.append(("outside_period", f"{v} NOT BETWEEN period_start AND period_end"))
    if spec.get("not_after") == "period_end":
        rules.append(("referral_after_period", f"{v} > period_end"))
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
                    f"SELECT pack_id, {quote(table)} AS table_name, row_number, {quote(column)} AS column_name, "
                    f"{quote(rule)} AS rule FROM p_{table} p WHERE coalesce({condition}, false)"
                )
    return " UNION ALL ".join(parts)


# A meeting or action whose case was quarantined cannot load either (its case is not there).
CASCADE_SQL = """
INSERT INTO violations
SELECT child.pack_id, child.table_name, child.row_number, 'case_id', 'case_quarantined'
FROM (
    SELECT pack_id, 'meetings' AS table_name, row_number, x_case_id FROM p_meetings
    UNION ALL SELECT pack_id, 'actions', row_number, x_case_id FROM p_actions
) child
SEMI JOIN (
    SELECT c.pack_id, c.x_case_id FROM p_cases c
    SEMI JOIN violations v ON v.table_name = 'cases' AND v.pack_id = c.pack_id AND v.row_number = c.row_number
) broken ON broken.pack_id = child.pack_id AND broken.x_case_id = child.x_case_id
"""

# A row loads when no rule quarantined it.
NOT_QUARANTINED = ("SELECT 1 FROM violations v WHERE v.table_name = '{table}' AND v.pack_id = p.pack_id "
                   "AND v.row_number = p.row_number")


def load_sql(table: str, columns: str, joins: str = "") -> str:
    """The rows of one parsed table that no rule quarantined, keyed by case_key, in pack and row order."""
    return f"""
SELECT p.pack_id, b.la_code, b.period, k.case_key, {columns}
FROM p_{table} p JOIN batch_packs b USING (pack_id)
JOIN case_keys k ON k.pack_id = p.pack_id AND k.case_id = p.x_case_id {joins}
WHERE NOT EXISTS ({NOT_QUARANTINED.format(table=table)})
ORDER BY p.pack_id, p.row_number
"""


LOAD_CASES_SQL = load_sql("cases", """p.age, p.sex, p.ethnicity_group, p.harm_types, p.intrafamilial_harm,
    p.referral_date, p.case_end_date, p.plan_type, p.lives_with_parent, p.parent_partnership_exception,
    p.risk_level_start, p.risk_level_end, p.missing_episodes, p.return_interviews_72h""")
LOAD_MEETINGS_SQL = load_sql("meetings", """p.row_number AS source_row, p.meeting_date, p.meeting_type,
    p.parent_invited, p.parent_attended, p.parent_views_recorded, p.parent_informed_of_outcome""")
LOAD_ACTIONS_SQL = load_sql("actions", """p.row_number AS source_row, p.action_date, p.action_type, t.target,
    p.lead_agency, p.status, p.info_source""", joins="LEFT JOIN action_targets t ON t.action_type = p.action_type")

# One row per quarantined row and broken rule; the message names table, column and rule, never a value.
QUARANTINE_SQL = """
SELECT v.pack_id, b.la_code, b.period, s.source_file, v.table_name, v.row_number, v.column_name, v.rule, m.message
FROM violations v JOIN batch_packs b USING (pack_id)
JOIN source_files s ON s.pack_id = v.pack_id AND s.table_name = v.table_name
JOIN rule_messages m ON m.table_name = v.table_name AND m.column_name = v.column_name AND m.rule = v.rule
ORDER BY v.pack_id, v.table_name, v.row_number, v.rule
"""
