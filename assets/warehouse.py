"""The DuckDB warehouse: its schema, and loads that are atomic and idempotent.

A pack is keyed by (LA, period) and the hash of its content. Loading a batch of packs replaces
everything held for their LAs and periods in one transaction, so a corrected pack leaves no trace
of the one before and a failure part-way leaves the warehouse as it was."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from assets.config import load_yaml
from assets.reading import Pack, PackRejected
from assets.standardise import StandardisedBatch, StandardisedPack

SCHEMA_SQL = (Path(__file__).parent / "sql" / "schema.sql").read_text(encoding="utf-8")
# Rows of the packs in scope: $1 is a list of pack keys (assets.reading.pack_key), or NULL for all.
# (la_code, period) pairs rather than a key built per row: a semi-join on the two columns is several
# times faster over the national case_indicators table.
PACK_SCOPE = ("($1 IS NULL OR (la_code, period) IN "
              "(SELECT (split_part(k, '|', 1), split_part(k, '|', 2)) FROM (SELECT unnest($1) AS k)))")
# Rows of the quarters in scope: $1 is a list of periods, or NULL for all.
PERIOD_SCOPE = "($1 IS NULL OR period IN (SELECT unnest($1)))"

PACK_TABLES = ("cases", "meetings", "actions", "contexts", "case_contexts", "quarantine")


def connection_config() -> dict[str, str]:
    """DuckDB settings for warehouse connections (config/performance.yaml)."""
    return {key: str(value) for key, value in load_yaml("performance.yaml")["warehouse_connection"].items()}


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the schema when writing."""
    con = duckdb.connect(str(path), read_only=read_only, config=connection_config())
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
    fail. The lock is released by the operating system if the process dies.

    A writer records in the lock file which process holds it and since when, so that one waiting can
    say whom it waits for; it clears the record before letting go. Readers share the lock and never
    write the file."""
    lock_path = Path(f"{database}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with open(lock_path, "a+", encoding="utf-8") as handle:
        started, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and wait_message:
                    readers = exclusive and only_readers_hold(lock_path)
                    wait_message(waiting_for(None if readers else read_lock_holder(handle), database, readers))
                    told = True
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{database} stayed locked by another run for {timeout:.0f} s") from None
                time.sleep(0.2)
        try:
            if exclusive:
                record_lock_holder(handle)
            yield
        finally:
            if exclusive:
                rewrite_lock_file(handle, "")
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_lock_holder(handle) -> None:
    """Write this process into the lock file as its holder; only the exclusive holder writes."""
    rewrite_lock_file(handle, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                          "since": dt.datetime.now().isoformat(timespec="seconds")}) + "\n")


def rewrite_lock_file(handle, text: str) -> None:
    # The record only serves messages: a disk too full to take it must not stop the run.
    try:
        # The file is open for appending: once truncated, the write lands at its start.
        handle.seek(0)
        handle.truncate()
        handle.write(text)
        handle.flush()
    except OSError:
        pass


def read_lock_holder(handle) -> dict | None:
    """The holder recorded in the lock file, or None when there is none (a reader holds the lock, or
    a writer has only just taken it)."""
    try:
        handle.seek(0)
        holder = json.loads(handle.read() or "null")
        if isinstance(holder, dict) and isinstance(holder.get("pid"), int):
            holder["since"] = dt.datetime.fromisoformat(holder["since"]) if holder.get("since") else None
            return holder
    except (OSError, ValueError, TypeError):
        pass
    return None


def only_readers_hold(lock_path: Path) -> bool:
    """Whether the lock is held shared only. Readers leave no record, so a record found while they
    hold the lock is an old one, left by a writer that was killed."""
    with open(lock_path, "a+") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True


def waiting_for(holder: dict | None, database: Path | str, readers: bool = False) -> str:
    """What a run waiting for the lock tells the user, in plain words."""
    if readers:
        return f"waiting for a command reading {database} (an export or explain) to finish"
    if holder is None:
        return f"waiting for another run or command to finish with {database}"
    since = holder["since"]
    when = "" if since is None else f", writing since {since:%H:%M:%S}" if since.date() == dt.date.today() \
        else f", writing since {since:%Y-%m-%d %H:%M}"
    host = holder.get("host")
    if host and host != socket.gethostname():
        return f"waiting for another run (process {holder['pid']} on {host}{when}) to finish with {database}"
    if process_exists(holder["pid"]):
        return f"waiting for another run (process {holder['pid']}{when}) to finish with {database}"
    return (f"waiting for {database}: the run that locked it (process {holder['pid']}{when}) has ended, but a "
            "process it started still holds the lock; the wait ends when that process does")


def process_exists(pid: int) -> bool:
    """Whether a process of this id is running here; one that has exited but not yet been waited
    for by its parent (a zombie) has ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc here, or it has just gone
        return True
    return state != "Z"


@contextmanager
def reading(database: Path | str, timeout: float = 3600.0) -> Iterator:
    """A read-only connection, taken only when no run is writing."""
    with locked(database, exclusive=False, timeout=timeout):
        con = connect(database, read_only=True)
        try:
            yield con
        finally:
            con.close()


def received_packs(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """(source name, content hash) -> status of every pack seen before. A pack refused only because
    another pack claimed its slot is left out, so that it is looked at again."""
    return {(source, sha): status for source, sha, status in con.execute(
        "SELECT source, content_sha256, status FROM submissions WHERE coalesce(rule, '') <> 'duplicate_pack'"
    ).fetchall()}


def load_batch(con: duckdb.DuckDBPyConnection, packs: list[Pack], standardised: list[StandardisedPack],
               batch: StandardisedBatch, pack_ids: list[int]) -> None:
    """Replace each pack's LA period with the pack's rows: the whole batch, all or nothing. The rows
    stream from the standardise session, so the load never holds a table in memory."""
    for pack, std in zip(packs, standardised, strict=True):
        if not std.reconciles():
            raise RuntimeError(f"{pack.source}: rows in do not equal rows loaded plus rows quarantined")
    received_at = now()
    slots = pa.table({"la_code": [p.la_code for p in packs], "period": [p.period for p in packs]})
    submissions = pa.table({
        "la_code": [p.la_code for p in packs], "period": [p.period for p in packs],
        "source": [p.source for p in packs], "content_sha256": [p.content_sha256 for p in packs],
        "received_at": [received_at] * len(packs), "status": ["loaded"] * len(packs),
        "cases_loaded": [s.rows_loaded["cases"] for s in standardised],
        "rows_quarantined": [s.total_quarantined for s in standardised],
        "message": [loaded_message(s, p) for s, p in zip(standardised, packs, strict=True)],
        "rows_received": [sum(s.rows_in.values()) for s in standardised],
        # A contexts table of no loaded row (a template's sheet left empty) is no contexts: the
        # pack's context measures are not available, never 0 out of its cases.
        "has_contexts": [p.has_contexts and s.rows_loaded["contexts"] > 0
                         for p, s in zip(packs, standardised, strict=True)]})
    with transaction(con):
        con.register("incoming_slots", slots)
        replaces = con.execute("SELECT count(*) FROM submissions SEMI JOIN incoming_slots USING (la_code, period) "
                               "WHERE status = 'loaded'").fetchall()[0][0]
        # Only packs that replace loaded ones have rows to remove: new LA quarters skip the table
        # scans, which would otherwise grow with the warehouse on every load.
        if replaces:
            # scored_packs too: the scores of what is replaced no longer stand for what is loaded.
            for table in (*PACK_TABLES, "scored_packs"):
                con.execute(f"DELETE FROM {table} t USING incoming_slots s "
                            "WHERE t.la_code = s.la_code AND t.period = s.period")
            con.execute("DELETE FROM submissions t USING incoming_slots s "
                        "WHERE t.la_code = s.la_code AND t.period = s.period AND t.status = 'loaded'")
        for table in PACK_TABLES:
            con.register("incoming", batch.rows(table, pack_ids))
            con.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (pack_id) FROM incoming")
            con.unregister("incoming")
        con.register("incoming", submissions)
        con.execute("INSERT INTO submissions BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
        con.unregister("incoming_slots")


def record_rejection(con: duckdb.DuckDBPyConnection, pack: Pack, error: PackRejected) -> None:
    """A rejected pack stores nothing but the reason it was refused."""
    la_code = pack.la_code
    with transaction(con):
        con.execute("DELETE FROM submissions WHERE source = ? AND status = 'rejected'", [pack.source])
        con.execute(
            "INSERT INTO submissions (la_code, period, source, content_sha256, received_at, status, cases_loaded, "
            "rows_quarantined, message, rule) VALUES (?, ?, ?, ?, ?, 'rejected', 0, 0, ?, ?)",
            [la_code, pack.period, pack.source, pack.content_sha256, now(), error.message, error.rule],
        )


def loaded_message(std: StandardisedPack, pack: Pack) -> str:
    parts = [f"{std.rows_loaded[t]} of {std.rows_in[t]} {t} rows loaded" for t in std.rows_in
             if t not in pack.absent_tables]
    if pack.absent_tables:
        parts.append(f"no {' or '.join(sorted(pack.absent_tables))} table (optional, contract v1.1)")
    if std.dropped_columns:  # by position only: a column's name could itself identify someone
        dropped = "; ".join(f"{t}: {', '.join(f'column {p}' for p, _ in cols)}"
                            for t, cols in std.dropped_columns.items())
        parts.append(f"columns outside the contract were not stored ({dropped})")
    return "; ".join(parts) + "."


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
