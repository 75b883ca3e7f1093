"""The DuckDB warehouse: its schema, and loads that are atomic and idempotent.

A pack is keyed by (LA, period) and the hash of its content. Loading replaces everything held for
that LA and period in one transaction, so a corrected pack leaves no trace of the one before and a
failure part-way leaves the warehouse as it was."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from assets.reading import Pack, PackRejected
from assets.standardise import StandardisedPack

SCHEMA_SQL = (Path(__file__).parent / "sql" / "schema.sql").read_text(encoding="utf-8")
PACK_TABLES = ("cases", "meetings", "actions", "quarantine")


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the schema when writing."""
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        con.execute(SCHEMA_SQL)
    return con


def already_received(con: duckdb.DuckDBPyConnection, pack: Pack) -> str | None:
    """The status of this exact pack (same source name and content) if it was seen before. A pack
    refused only because another pack claimed its slot is looked at again."""
    row = con.execute(
        "SELECT status FROM submissions WHERE source = ? AND content_sha256 = ? "
        "AND coalesce(rule, '') <> 'duplicate_pack'",
        [pack.source, pack.content_sha256],
    ).fetchone()
    return row[0] if row else None


def load_pack(con: duckdb.DuckDBPyConnection, pack: Pack, std: StandardisedPack) -> None:
    """Replace the LA's period with this pack, all or nothing."""
    if not std.reconciles():
        raise RuntimeError(f"{pack.source}: rows in do not equal rows loaded plus rows quarantined")
    con.execute("BEGIN TRANSACTION")
    try:
        for table in PACK_TABLES:
            con.execute(f"DELETE FROM {table} WHERE la_code = ? AND period = ?", [pack.la_code, pack.period])
        con.execute(
            "DELETE FROM submissions WHERE la_code = ? AND period = ? AND status = 'loaded'",
            [pack.la_code, pack.period],
        )
        for table, frame in (("cases", std.cases), ("meetings", std.meetings), ("actions", std.actions),
                             ("quarantine", std.quarantine)):
            if len(frame):
                con.register("incoming", frame)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
                con.unregister("incoming")
        con.execute(
            "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, 'loaded', ?, ?, ?, NULL, ?)",
            [pack.la_code, pack.period, pack.source, pack.content_sha256, now(), std.rows_loaded["cases"],
             std.total_quarantined, loaded_message(std), sum(std.rows_in.values())],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def record_rejection(con: duckdb.DuckDBPyConnection, pack: Pack, error: PackRejected) -> None:
    """A rejected pack stores nothing but the reason it was refused."""
    la_code = pack.la_code if error.rule not in ("bad_pack_name",) else None
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM submissions WHERE source = ? AND status = 'rejected'", [pack.source])
        con.execute(
            "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, 'rejected', 0, 0, ?, ?, NULL)",
            [la_code, pack.period, pack.source, pack.content_sha256, now(), error.message, error.rule],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def loaded_message(std: StandardisedPack) -> str:
    parts = [f"{std.rows_loaded[t]} of {std.rows_in[t]} {t} rows loaded" for t in std.rows_in]
    if std.dropped_columns:
        dropped = "; ".join(f"{t}: {', '.join(cols)}" for t, cols in std.dropped_columns.items())
        parts.append(f"columns outside the contract were not stored ({dropped})")
    return "; ".join(parts) + "."


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
