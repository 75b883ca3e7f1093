"""Turn a pack's text tables into the contract's typed tables, quarantining rows that break a rule.

The parsing and the row rules are generated from config/contract.yaml as SQL and run in a private
in-memory DuckDB session (`Session`), so raw case references exist only there and never in the
warehouse: even the case_key pseudonym is computed inside it. The session may spill to a private
temporary folder, so a batch larger than memory still standardises in bounded memory. Every input
row ends up in exactly one place: loaded, or quarantined with one row per broken rule.
"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from dataclasses import dataclass, field
from functools import cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets.config import action_targets, contract, load_yaml
from assets.contract_rules import code_values, contract_rules, quote, rule_message
from assets.reading import TABLES, Pack, PackRejected, period_bounds
from assets.table_files import CellProblem

CONTEXT_COLUMNS = ("la_code", "period")  # optional columns that must agree with the pack name


def case_key(secret: bytes, la_code: str, case_id: str) -> str:
    """The contract's pseudonym: first 16 hex characters of HMAC-SHA256(key, "<LA code>:<case_id>")."""
    return hmac.new(secret, f"{la_code}:{case_id}".encode(), hashlib.sha256).hexdigest()[:16]


def context_key(secret: bytes, la_code: str, context_id: str) -> str:
    """A context's pseudonym (contract v1.1), with the same key as case_key but its own prefix, so a
    context and a case with the same reference never share a key:
    first 16 hex characters of HMAC-SHA256(key, "<LA code>:context:<context_id>")."""
    return hmac.new(secret, f"{la_code}:context:{context_id}".encode(), hashlib.sha256).hexdigest()[:16]


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of HMAC-SHA256 (RFC 2104), so that the session's SQL can
    compute exactly what `case_key` does: sha256(opad || sha256(ipad || message))."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


@dataclass
class StandardisedPack:
    """A validated pack's row counts and, when it was standardised on its own (`standardise`), its
    typed tables ready to load and its quarantine rows. In a batch the rows stay in the session."""

    la_code: str
    period: str
    cases: pd.DataFrame | None = None
    meetings: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    contexts: pd.DataFrame | None = None
    case_contexts: pd.DataFrame | None = None
    quarantine: pd.DataFrame | None = None
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_quarantined: dict[str, int] = field(default_factory=dict)
    dropped_columns: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # table -> (position, name)
    quarantine_rules: dict[str, int] = field(default_factory=dict)  # rule -> rows it quarantined
    quarantine_rows: int = 0  # rows of `quarantine`: one per quarantined row and rule broken

    @property
    def total_quarantined(self) -> int:
        return sum(self.rows_quarantined.values())

    @property
    def quarantined_share(self) -> float:
        received = sum(self.rows_in.values())
        return self.total_quarantined / received if received else 0.0

    def reconciles(self) -> bool:
        """Rows in = rows loaded + rows quarantined, for every table."""
        return all(self.rows_in[t] == self.rows_loaded[t] + self.rows_quarantined[t] for t in TABLES)


def check_columns(pack_source: str, table: str, source_file: str, columns: list[str]) -> None:
    """Every required column of the contract table is there (after any mapping profile)."""
    present = set(columns)
    for column, column_spec in contract()["tables"][table]["columns"].items():
        if column_spec.get("required") and column not in present:
            raise PackRejected(
                "missing_column",
                f"{source_file}: required column '{column}' of table '{table}' is missing. "
                "Add it, or map the LA's own column name to it in a mapping profile.",
                table, column)


def extra_columns(table: str, columns: list[str]) -> list[tuple[int, str]]:
    """(position, name) of the columns outside the contract, as mapped; not those a profile drops."""
    from assets.profiles import DROPPED
    from assets.workbooks import BEYOND_HEADER

    known = set(contract()["tables"][table]["columns"]) | set(CONTEXT_COLUMNS) | {BEYOND_HEADER}
    return [(position, column) for position, column in enumerate(columns, start=1)
            if column not in known and not column.startswith(DROPPED)]


def check_name_agreement(pack: Pack, table: str, source_file: str, batch: pa.RecordBatch | pa.Table,
                         first_row: int) -> None:
    """Where a table carries la_code or period columns, every value must match the pack's name."""
    import pyarrow.compute as pc

    expected = {"la_code": pack.la_code, "period": pack.period}
    for column in CONTEXT_COLUMNS:
        if column in batch.schema.names:
            values = pc.utf8_upper(pc.utf8_trim_whitespace(batch.column(column)))
            wrong = pc.and_(pc.not_equal(values, ""), pc.not_equal(values, expected[column]))
            if pc.any(wrong).as_py():
                row = first_row + pc.index(wrong, True).as_py()
                raise PackRejected(
                    "name_mismatch",
                    f"{source_file}: column '{column}' says another {column.replace('_', ' ')} than the "
                    f"pack name ({expected[column]}) on row {row}. Rename the pack or correct the column.",
                    table, column)


def contract_rows(table: str, batch: pa.RecordBatch | pa.Table, pack_id: int, first_row: int) -> pa.Table:
    """One batch of a table's rows in the session's layout: pack_id, row_number (from 1 within its
    pack), then the contract's columns (blank where an optional one is absent)."""
    rows = batch.num_rows
    data = {"pack_id": pa.array(np.full(rows, pack_id, dtype=np.int32)),
            "row_number": pa.array(np.arange(first_row, first_row + rows, dtype=np.int64))}
    names = batch.schema.names
    for column in contract()["tables"][table]["columns"]:
        if column in names:
            text = batch.column(column).cast(pa.string())
            data[column] = pc.utf8_slice_codeunits(text, 0, kept_characters(table, column))
        else:
            data[column] = pa.array([""] * rows, pa.string())
    return pa.table(data)


@cache
def kept_characters(table: str, column: str) -> int:
    """How much of a value the session keeps. Past this a value breaks its column's rules whatever
    the rest of it says (a reference longer than the longest max_length, a code, date or number of
    hundreds of characters), so it is quarantined just the same, and a file of very long values
    cannot fill the session: the rest is never looked at (it was scanned for identifiers already)."""
    spec = contract()["tables"][table]["columns"][column]
    if spec["type"] == "text":
        return 1 + max(s.get("max_length", 0) for t in contract()["tables"].values() for s in t["columns"].values())
    return 256


@cache
def session_settings() -> dict[str, str]:
    return {key: str(value) for key, value in load_yaml("performance.yaml")["standardise_session"].items()}


class Session:
    """A private in-memory DuckDB database for one batch of packs: their raw rows go in (`insert`),
    are parsed and checked against the contract (`standardise`), and come out typed, pseudonymised
    and ready to load (`rows`). Beyond its memory limit it spills to a temporary folder only its
    owner can read, removed when the session closes."""

    def __init__(self, secret: bytes):
        self.spill = tempfile.TemporaryDirectory(prefix="safeguarding-audit-")
        self.con = duckdb.connect(":memory:", config={**session_settings(), "temp_directory": self.spill.name})
        for table in TABLES:
            columns = ", ".join(f"{c} VARCHAR" for c in contract()["tables"][table]["columns"])
            self.con.execute(f"CREATE TABLE raw_{table} (pack_id INTEGER, row_number BIGINT, {columns})")
        self.con.execute("CREATE TABLE reader_problems (pack_id INTEGER, table_name VARCHAR, row_number BIGINT, "
                         "column_name VARCHAR, rule VARCHAR)")
        inner, outer = hmac_pads(secret)
        self.con.execute("CREATE TABLE pseudonym_key AS SELECT $1::BLOB AS ipad, $2::BLOB AS opad", [inner, outer])
        self.rows_in: dict[tuple[int, str], int] = {}
        self.outputs: list[str] = []

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()
        self.spill.cleanup()

    def insert(self, table: str, rows: pa.Table) -> None:
        """Add rows laid out by `contract_rows` (any number of packs)."""
        if not rows.num_rows:
            return
        self.con.register("incoming", rows)
        self.con.execute(f"INSERT INTO raw_{table} SELECT * FROM incoming")
        self.con.unregister("incoming")
        for pack_id, count in zip(*np.unique(rows.column("pack_id").to_numpy(), return_counts=True), strict=True):
            self.rows_in[(int(pack_id), table)] = self.rows_in.get((int(pack_id), table), 0) + int(count)

    def add_problems(self, pack_id: int, table: str, problems: list[CellProblem]) -> None:
        """Cells the reader itself could not read, quarantined under their own rule."""
        known = set(contract()["tables"][table]["columns"])
        problems = [p for p in problems if p.column in known]
        if problems:
            self.con.executemany("INSERT INTO reader_problems VALUES (?, ?, ?, ?, ?)",
                                 [[pack_id, table, p.row_number, p.column, p.rule] for p in problems])

    def discard(self, pack_id: int, table: str | None = None) -> None:
        """Forget a pack's rows (one table's, or all): the pack was refused, or is read again."""
        for name in [table] if table else TABLES:
            self.con.execute(f"DELETE FROM raw_{name} WHERE pack_id = ?", [pack_id])
            self.con.execute("DELETE FROM reader_problems WHERE pack_id = ? AND table_name = ?", [pack_id, name])
            self.rows_in.pop((pack_id, name), None)

    def standardise(self, packs: list[tuple[int, Pack]]) -> StandardisedBatch:
        """Parse and validate every row of these packs, in one set of statements for all of them, with
        the pack in every partition and join (uniqueness, references, the period window)."""
        con = self.con
        bounds = [period_bounds(p.period) for _, p in packs]
        con.register("batch_packs", pa.table({
            "pack_id": pa.array([i for i, _ in packs], pa.int32()),
            "la_code": [p.la_code for _, p in packs], "period": [p.period for _, p in packs],
            "period_start": [b[0] for b in bounds], "period_end": [b[1] for b in bounds]}))
        con.execute("""CREATE OR REPLACE TEMP TABLE case_keys AS
            SELECT DISTINCT r.pack_id, trim(r.case_id) AS case_id,
                   left(sha256(k.opad || unhex(sha256(k.ipad || encode(b.la_code || ':' || trim(r.case_id))))), 16)
                   AS case_key
            FROM raw_cases r JOIN batch_packs b USING (pack_id) CROSS JOIN pseudonym_key k
            WHERE trim(r.case_id) <> ''""")
        con.execute("""CREATE OR REPLACE TEMP TABLE context_keys AS
            SELECT DISTINCT r.pack_id, trim(r.context_id) AS context_id,
                   left(sha256(k.opad || unhex(sha256(
                       k.ipad || encode(b.la_code || ':context:' || trim(r.context_id))))), 16) AS context_key
            FROM raw_contexts r JOIN batch_packs b USING (pack_id) CROSS JOIN pseudonym_key k
            WHERE trim(r.context_id) <> ''""")
        con.register("action_targets", pa.table({"action_type": list(action_targets()),
                                                 "target": list(action_targets().values())}))
        for table in TABLES:
            con.execute(f"CREATE OR REPLACE TEMP TABLE p_{table} AS {parse_sql(table)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE violations AS {violations_sql()}")
        con.execute(CASCADE_SQL)
        con.register("source_files", pa.table({
            "pack_id": pa.array([i for i, _ in packs for _ in TABLES], pa.int32()),
            "table_name": [t for _ in packs for t in TABLES],
            "source_file": [p.tables[t].source_file for _, p in packs for t in TABLES]}))
        broken = con.sql("SELECT DISTINCT table_name, column_name, rule FROM violations").fetchall()
        con.register("rule_messages", pa.table({
            "table_name": [t for t, _, _ in broken], "column_name": [c for _, c, _ in broken],
            "rule": [r for _, _, r in broken], "message": [rule_message(r, t, c) for t, c, r in broken]}))
        for table, sql in LOAD_SQL.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE out_{table} AS {sql}")
        quarantined = {(pack_id, table): rows for pack_id, table, rows in con.sql(
            "SELECT pack_id, table_name, count(DISTINCT row_number) FROM violations GROUP BY ALL").fetchall()}
        by_rule = {}
        for pack_id, rule, rows in con.sql("SELECT pack_id, rule, count(DISTINCT (table_name, row_number)) "
                                           "FROM violations GROUP BY ALL ORDER BY 3 DESC, 2").fetchall():
            by_rule.setdefault(pack_id, {})[rule] = rows
        loaded = {(pack_id, table): rows for table in (*TABLES, "quarantine") for pack_id, rows in con.sql(
            f"SELECT pack_id, count(*) FROM out_{table} GROUP BY ALL").fetchall()}
        results = []
        for pack_id, pack in packs:
            result = StandardisedPack(la_code=pack.la_code, period=pack.period)
            for table in TABLES:
                result.rows_in[table] = self.rows_in.get((pack_id, table), 0)
                result.rows_quarantined[table] = quarantined.get((pack_id, table), 0)
                result.rows_loaded[table] = loaded.get((pack_id, table), 0)
            result.quarantine_rules = by_rule.get(pack_id, {})
            result.quarantine_rows = loaded.get((pack_id, "quarantine"), 0)
            result.dropped_columns = {t: dropped for t, source in pack.tables.items() if (dropped := extra_columns(
                t, pack.mapped_columns.get(t, source.columns)))}
            results.append(result)
        return StandardisedBatch(results, [i for i, _ in packs], self)

    def rows(self, table: str, pack_ids: list[int] | None = None) -> pa.RecordBatchReader:
        """The standardised rows of one output table (cases, meetings, actions or quarantine), in pack
        and row order, as a stream, so a load never holds them all in memory."""
        where = "" if pack_ids is None else f"WHERE pack_id IN ({', '.join(str(int(i)) for i in pack_ids)})"
        # Output tables were written in pack and row order, and DuckDB keeps insertion order.
        return self.con.sql(f"SELECT * FROM out_{table} {where}").to_arrow_reader(65_536)

    def reset(self) -> None:
        """Empty the session for the next batch."""
        for table in TABLES:
            self.con.execute(f"DELETE FROM raw_{table}")
        self.con.execute("DELETE FROM reader_problems")
        self.rows_in.clear()


@dataclass
class StandardisedBatch:
    """Several checked packs standardised together: one StandardisedPack per pack (its counts); the
    rows to load stay in the session until they are streamed into the warehouse."""

    packs: list[StandardisedPack]
    pack_ids: list[int]
    session: Session

    def rows(self, table: str, pack_ids: list[int] | None = None) -> pa.RecordBatchReader:
        return self.session.rows(table, pack_ids)


# --- SQL generated from the contract -------------------------------------------------------------

def blank_is_null(column: str) -> str:
    return f"nullif(trim(r.{column}), '')"


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
    """Typed columns (same names), plus x_<column>: the trimmed text, NULL where blank."""
    columns = contract()["tables"][table]["columns"]
    select = ["r.pack_id", "r.row_number", "b.period_start", "b.period_end"]
    for column, spec in columns.items():
        select.append(f"{parsed_expression(column, spec)} AS {column}")
        select.append(f"{blank_is_null(column)} AS x_{column}")
    return f"SELECT {', '.join(select)} FROM raw_{table} r JOIN batch_packs b USING (pack_id)"


def violations_sql() -> str:
    """One row per broken rule: the contract's rules (config/rule_kinds.yaml), and the cells the
    reader could not read (for which the reader's rule replaces what the contract's rules would
    say of a blank). Each rule is evaluated in a select list, so a rule may use a window."""
    parts = [
        f"SELECT pack_id, {quote(rule.table)} AS table_name, row_number, {quote(rule.column)} AS column_name, "
        f"{quote(rule.rule)} AS rule FROM (SELECT p.pack_id, p.row_number, coalesce(({rule.condition()}), false) "
        f"AS broken FROM p_{rule.table} p) WHERE broken"
        for rule in contract_rules()]
    return f"""
SELECT * FROM ({" UNION ALL ".join(parts)}) v
WHERE NOT EXISTS (SELECT 1 FROM reader_problems r WHERE r.pack_id = v.pack_id AND r.table_name = v.table_name
                  AND r.row_number = v.row_number AND r.column_name = v.column_name)
UNION ALL
SELECT pack_id, table_name, row_number, column_name, rule FROM reader_problems SEMI JOIN batch_packs USING (pack_id)
"""


# A row whose case (or context) was quarantined cannot load either: what it belongs to is not there.
# Contexts first, so that a link of a quarantined case to a quarantined context is quarantined
# for both reasons.
def cascade_sql(parent: str, reference: str, rule: str) -> str:
    """Quarantine every row of the tables that refer to `parent` through `reference` whose parent
    row was quarantined."""
    children = " UNION ALL ".join(
        f"SELECT pack_id, '{table}' AS table_name, row_number, x_{reference} FROM p_{table}"
        for table, spec in contract()["tables"].items()
        if spec["columns"].get(reference, {}).get("references") == f"{parent}.{reference}")
    return f"""
INSERT INTO violations
SELECT child.pack_id, child.table_name, child.row_number, '{reference}', '{rule}'
FROM ({children}) child
SEMI JOIN (
    SELECT c.pack_id, c.x_{reference} FROM p_{parent} c
    SEMI JOIN violations v ON v.table_name = '{parent}' AND v.pack_id = c.pack_id AND v.row_number = c.row_number
) broken ON broken.pack_id = child.pack_id AND broken.x_{reference} = child.x_{reference};"""


CASCADE_SQL = cascade_sql("contexts", "context_id", "context_quarantined") + cascade_sql("cases", "case_id",
                                                                                        "case_quarantined")

# A row loads when no rule quarantined it.
NOT_QUARANTINED = ("SELECT 1 FROM violations v WHERE v.table_name = '{table}' AND v.pack_id = p.pack_id "
                   "AND v.row_number = p.row_number")


def load_sql(table: str, columns: str, joins: str = "", keyed_by: str = "k.case_key") -> str:
    """The rows of one parsed table that no rule quarantined, keyed by case_key (or `keyed_by`), in
    pack and row order."""
    case_join = "JOIN case_keys k ON k.pack_id = p.pack_id AND k.case_id = p.x_case_id" \
        if "k." in keyed_by else ""
    return f"""
SELECT p.pack_id, b.la_code, b.period, {keyed_by}, {columns}
FROM p_{table} p JOIN batch_packs b USING (pack_id)
{case_join} {joins}
WHERE NOT EXISTS ({NOT_QUARANTINED.format(table=table)})
ORDER BY p.pack_id, p.row_number
"""


# A meeting, action or link about a context carries the context's key; blank stays NULL.
CONTEXT_JOIN = "LEFT JOIN context_keys x ON x.pack_id = p.pack_id AND x.context_id = p.x_context_id"


LOAD_CASES_SQL = load_sql("cases", """p.age, p.sex, p.ethnicity_group, p.harm_types, p.intrafamilial_harm,
    p.referral_date, p.case_end_date, p.plan_type, p.lives_with_parent, p.parent_partnership_exception,
    p.risk_level_start, p.risk_level_end, p.missing_episodes, p.return_interviews_72h""")
LOAD_MEETINGS_SQL = load_sql("meetings", """p.row_number AS source_row, p.meeting_date, p.meeting_type,
    p.parent_invited, p.parent_attended, p.parent_views_recorded, p.parent_informed_of_outcome,
    x.context_key""", joins=CONTEXT_JOIN)
LOAD_ACTIONS_SQL = load_sql("actions", """p.row_number AS source_row, p.action_date, p.action_type, t.target,
    p.lead_agency, p.status, p.info_source, x.context_key""",
    joins=f"LEFT JOIN action_targets t ON t.action_type = p.action_type {CONTEXT_JOIN}")
LOAD_CONTEXTS_SQL = load_sql("contexts", """p.context_type, p.identified_date, p.risk_level_start,
    p.risk_level_end, p.closed_date""", joins=CONTEXT_JOIN, keyed_by="x.context_key")
LOAD_CASE_CONTEXTS_SQL = load_sql("case_contexts", "x.context_key, p.link_type", joins=CONTEXT_JOIN)

# One row per quarantined row and broken rule; the message names table, column and rule, never a value.
QUARANTINE_SQL = """
SELECT v.pack_id, b.la_code, b.period, s.source_file, v.table_name, v.row_number, v.column_name, v.rule, m.message
FROM violations v JOIN batch_packs b USING (pack_id)
JOIN source_files s ON s.pack_id = v.pack_id AND s.table_name = v.table_name
JOIN rule_messages m ON m.table_name = v.table_name AND m.column_name = v.column_name AND m.rule = v.rule
ORDER BY v.pack_id, v.table_name, v.row_number, v.rule
"""
LOAD_SQL = {"cases": LOAD_CASES_SQL, "meetings": LOAD_MEETINGS_SQL, "actions": LOAD_ACTIONS_SQL,
            "contexts": LOAD_CONTEXTS_SQL, "case_contexts": LOAD_CASE_CONTEXTS_SQL, "quarantine": QUARANTINE_SQL}

