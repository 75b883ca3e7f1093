"""The DuckDB warehouse: its schema, and loads that are atomic and idempotent.

A pack is keyed by (LA, period) and the hash of its content. Loading replaces everything held for
that LA and period in one transaction, so a corrected pack leaves no trace of the one before and a
failure part-way leaves the warehouse as it was."""

from __future__ import annotations

import datetime as dt
import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: committed when the block ends, rolled back if anything in it fails."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def locked(database: Path | str, exclusive: bool = True, wait_message: Callable[[str], None] | None = None,
           timeout: float = 3600.0) -> Iterator[None]:
    """One writer at a time: DuckDB lets one process write a database file, so every writer holds an
    exclusive lock on `<database>.lock` (readers a shared one) and others wait their turn rather than
    fail. The lock is released by the operating system if the process dies."""
    lock_path = Path(f"{database}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with open(lock_path, "a+") as handle:
        started, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and wait_message:
                    wait_message(f"waiting for another run to finish with {database}")
                    told = True
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{database} stayed locked by another run for {timeout:.0f} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def reading(database: Path | str, timeout: float = 3600.0) -> Iterator:
    """A read-only connection, taken only when no run is writing."""
    with locked(database, exclusive=False, timeout=timeout):
        con = connect(database, read_only=True)
        try:
            yield con
        finally:
            con.close()


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
    with transaction(con):
        replaces = con.execute("SELECT count(*) FROM submissions WHERE la_code = ? AND period = ? "
                               "AND status = 'loaded'", [pack.la_code, pack.period]).fetchall()[0][0]
        # Only a pack that replaces a loaded one has rows to remove: a new LA quarter skips four
        # table scans, which would otherwise grow with the warehouse on every load.
        if replaces:
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


def record_rejection(con: duckdb.DuckDBPyConnection, pack: Pack, error: PackRejected) -> None:
    """A rejected pack stores nothing but the reason it was refused."""
    la_code = pack.la_code if error.rule not in ("bad_pack_name",) else None
    with transaction(con):
        con.execute("DELETE FROM submissions WHERE source = ? AND status = 'rejected'", [pack.source])
        con.execute(
            "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, 'rejected', 0, 0, ?, ?, NULL)",
            [la_code, pack.period, pack.source, pack.content_sha256, now(), error.message, error.rule],
        )


def loaded_message(std: StandardisedPack) -> str:
    parts = [f"{std.rows_loaded[t]} of {std.rows_in[t]} {t} rows loaded" for t in std.rows_in]
    if std.dropped_columns:
        dropped = "; ".join(f"{t}: {', '.join(cols)}" for t, cols in std.dropped_columns.items())
        parts.append(f"columns outside the contract were not stored ({dropped})")
    return "; ".join(parts) + "."


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
