"""Ingest an inbox: every pack that is new or changed is read, checked, standardised and loaded,
or rejected with its reason. A pack seen before (same name, same content) is left alone, so a
second run over the same inbox changes nothing.

Packs are read as streams (assets/table_files.py): their rows pass a batch at a time through the
mapping profile, the name check and the identifier scan into a private standardise session
(assets/standardise.py), so memory does not grow with the size of a file or of the inbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from assets import warehouse
from assets.config import load_yaml
from assets.identifiers import Finding, IdentifierScan, rejection
from assets.profiles import Profile, apply_to_table, load_profile, profiles_for, table_file_names
from assets.reading import (
    TABLES,
    Pack,
    PackRejected,
    RawTable,
    check_identity,
    content_sha256,
    discover_packs,
    open_pack,
    open_tables,
    pack_key,
    pack_keys,
)
from assets.standardise import (
    Session,
    StandardisedPack,
    check_columns,
    check_name_agreement,
    contract_rows,
)
from assets.table_files import ReadAgain, TableFile

Progress = Callable[[str], None]


@dataclass
class PackOutcome:
    source: str
    la_code: str | None
    period: str | None
    status: str  # loaded | rejected | unchanged
    cases_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""
    rule: str | None = None


@dataclass
class IngestReport:
    outcomes: list[PackOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def changed(self) -> bool:
        return any(o.status != "unchanged" for o in self.outcomes)


def inbox_periods(inbox: Path) -> list[str]:
    """The quarters the inbox's packs are for, in name order, each once."""
    return list(dict.fromkeys(p.quarter for path in discover_packs(inbox)
                              if (p := open_pack(path, hash_content=False)).quarter))


@dataclass
class InboxState:
    """The inbox against the warehouse: what a run has work to do for."""

    pending: list[str]  # quarters with a pack new or changed, or loaded but not scored with this framework
    unchanged: list[str]  # names of packs loaded (or rejected) before with the same content
    rejected: list[str]  # names of packs whose present content stands rejected


def inbox_state(con: duckdb.DuckDBPyConnection | None, inbox: Path, force: set[str] = frozenset()) -> InboxState:
    """Compare the inbox with the warehouse (`con` None: an empty warehouse), by content hash. Packs
    whose keys are in `force` have work to do whatever their hash says."""
    from assets.scoring import framework, packs_to_score

    packs = [open_pack(path) for path in discover_packs(inbox)]
    received = warehouse.received_packs(con) if con is not None else {}
    to_score = packs_to_score(con, framework()) if con is not None else []
    unscored = (set(pack_keys(to_score)) if to_score is not None else
                {pack_key(la, period) for la, period in con.execute(
                    "SELECT la_code, period FROM submissions WHERE status = 'loaded'").fetchall()})
    state = InboxState([], [], [])
    for pack in packs:
        status = received.get((pack.source, pack.content_sha256))
        if status is None or pack.key in unscored or pack.key in force:
            if pack.quarter:  # other entries are refused by every run's inbox_entries step
                state.pending.append(pack.quarter)
        else:
            state.unchanged.append(pack.source)
        if status == "rejected":
            state.rejected.append(pack.source)
    state.pending = list(dict.fromkeys(state.pending))
    return state


# --- reading packs into a session ----------------------------------------------------------------

@dataclass
class PendingRows:
    pack_id: int
    table: str
    batch: pa.Table  # every column, for the scan; only the contract's are inserted
    first_row: int
    insert: bool  # False for sheets that are not tables: scanned, never stored


class PackIntake:
    """Packs on their way into a standardise session. Each pack's tables are opened and checked,
    then streamed a batch at a time: mapped by its profiles, checked against its name, held until
    about `flush_bytes` have gathered (so that the identifier scan and the insert run over many
    small packs at once), then scanned and inserted. A pack refused part-way leaves no row behind."""

    def __init__(self, session: Session, flush_bytes: int | None = None):
        self.session = session
        self.scan = IdentifierScan()
        self.pending: list[PendingRows] = []
        self.pending_bytes = 0
        self.flush_bytes = flush_bytes or int(load_yaml("performance.yaml")["intake_flush_bytes"])
        self.packs: list[Pack] = []
        self.rows: Counter = Counter()  # (pack_id, table) -> rows taken

    def __enter__(self) -> PackIntake:
        return self

    def __exit__(self, *exc) -> None:
        self.pending.clear()

    def take(self, pack: Pack, profiles: list[Profile] | None = None) -> int:
        """Read one opened, identified pack into the session; returns its pack_id. Raises
        PackRejected, having discarded whatever of the pack was read."""
        pack_id = len(self.packs)
        self.packs.append(pack)
        source = None
        try:
            for source in [*pack.tables.values(), *pack.other_sheets]:
                self.take_table(pack, pack_id, source, profiles or [], insert=source in pack.tables.values())
        except PackRejected:
            self.drop(pack_id)
            raise
        except Exception as error:  # whatever else a hostile file does to a reader, it is the file's fault
            self.drop(pack_id)
            raise PackRejected("unreadable", f"{source.source_file if source else pack.source} could not be read "
                               f"({type(error).__name__}).") from None
        return pack_id

    def take_table(self, pack: Pack, pack_id: int, source: TableFile, profiles: list[Profile], insert: bool) -> None:
        table = source.table
        columns = mapped_columns(source, profiles)
        if insert:
            check_columns(pack.source, table, source.source_file, columns)
            pack.mapped_columns[table] = columns
        for attempt in range(2):
            self.scan.add_header(pack_id, table, source.header, columns)
            try:
                first_row = 1
                for batch in source.batches():
                    mapped = map_batch(source, pa.Table.from_batches([batch]), profiles)
                    if insert:
                        check_name_agreement(pack, table, source.source_file, mapped, first_row)
                    self.add(PendingRows(pack_id, table, mapped, first_row, insert))
                    first_row += batch.num_rows
                    if insert:
                        self.rows[(pack_id, table)] += batch.num_rows
                break
            except ReadAgain:
                if attempt:
                    raise
                self.drop(pack_id, table)
                self.rows[(pack_id, table)] = 0
        if insert:
            self.session.add_problems(pack_id, table, source.problems)

    def add(self, rows: PendingRows) -> None:
        self.pending.append(rows)
        self.pending_bytes += rows.batch.nbytes
        if self.pending_bytes >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        """Scan what has gathered, a column at a time over every pack in it, then insert it."""
        by_column: dict[tuple[str, str], list[tuple[int, pa.Array, int]]] = {}
        for rows in self.pending:
            for column in rows.batch.column_names:
                by_column.setdefault((rows.table, column), []).append(
                    (rows.pack_id, rows.batch.column(column).combine_chunks(), rows.first_row))
        for (table, column), pieces in by_column.items():
            self.scan.add_values(table, column, pieces)
        by_table: dict[str, list[pa.Table]] = {}
        for rows in self.pending:
            if rows.insert:
                by_table.setdefault(rows.table, []).append(
                    contract_rows(rows.table, rows.batch, rows.pack_id, rows.first_row))
        for table, parts in by_table.items():
            self.session.insert(table, pa.concat_tables(parts))
        self.pending, self.pending_bytes = [], 0

    def drop(self, pack_id: int, table: str | None = None) -> None:
        self.pending = [r for r in self.pending if not (r.pack_id == pack_id and (table is None or r.table == table))]
        self.pending_bytes = sum(r.batch.nbytes for r in self.pending)
        self.session.discard(pack_id, table)
        self.scan.forget(pack_id, table)

    def finish(self) -> None:
        self.flush()

    def findings(self, pack_id: int) -> list[Finding]:
        pack = self.packs[pack_id]
        return self.scan.findings(pack_id, {s.table: s for s in [*pack.tables.values(), *pack.other_sheets]})

    @staticmethod
    def identifier_rejection(pack: Pack, findings: list[Finding]) -> PackRejected:
        return rejection({s.table: s.source_file for s in [*pack.tables.values(), *pack.other_sheets]}, findings)


def mapped_columns(source: TableFile, profiles: list[Profile]) -> list[str]:
    """The table's column names once its profiles are applied (dropped columns kept for the scan)."""
    empty = pa.table({name: pa.array([], pa.string()) for name in source.columns})
    return map_batch(source, empty, profiles).column_names


def map_batch(source: TableFile, batch: pa.Table, profiles: list[Profile]) -> pa.Table:
    for profile in profiles:
        mapped = apply_to_table(RawTable(source.table, source.source_file, batch), profile, keep_dropped=True).arrow
        batch = mapped.cast(pa.schema([(name, pa.string()) for name in mapped.column_names]))
    return batch


# --- the inbox -----------------------------------------------------------------------------------

def forced_packs(inbox: Path, periods: list[str], rerun: list[str]) -> set[str]:
    """The pack keys to load again whatever their hash: each entry of `rerun` is a pack key
    (E06000001|2025Q3: that pack) or an LA code (that LA's packs in every one of `periods`). An entry
    that names no pack of those quarters in the inbox is refused, so a typing slip is not a silent
    no-op."""
    present = {open_pack(path, hash_content=False).key for path in discover_packs(inbox)}
    forced = set()
    for entry in rerun:
        code, _, period = entry.strip().upper().partition("|")
        keys = {pack_key(code, period)} if period else {pack_key(code, p) for p in periods}
        found = keys & present & {pack_key(code, p) for p in periods}
        if not found:
            raise ValueError(f"rerun: {entry!r} names no pack of {', '.join(periods) or 'this run'} in the inbox")
        forced |= found
    return forced


def ingest_inbox(con: duckdb.DuckDBPyConnection, inbox: Path, secret: bytes,
                 progress: Progress = lambda _: None, periods: set[str] | None = None,
                 batch_rows: int | None = None, force: set[str] = frozenset(), entries: bool | None = None
                 ) -> IngestReport:
    """Ingest the inbox's new or changed packs; with `periods`, only the packs of those quarters
    (and, unless `entries`, none of the inbox entries that are not a quarter's pack); packs whose
    keys are in `force` are loaded again even when unchanged.

    Each pack is read and checked on its own (a bad pack is rejected alone); packs that pass are
    standardised and loaded in batches of about `batch_rows` rows (default: config/performance.yaml),
    each batch in one transaction. A pack that loses more of its rows to quarantine than
    config/checks.yaml allows is held back, rejected with its reason, alone."""
    batch_rows = batch_rows or int(load_yaml("performance.yaml")["ingest_batch_rows"])
    max_share = float(load_yaml("checks.yaml")["max_quarantined_share"])
    report = IngestReport()
    every_pack = [open_pack(path, hash_content=False) for path in discover_packs(inbox)]
    claims = Counter((p.la_code, p.period) for p in every_pack if p.la_code)
    entries = periods is None if entries is None else entries
    packs = [p for p in every_pack if (p.quarter in periods if p.quarter else entries)] if periods is not None \
        else every_pack if entries else [p for p in every_pack if p.quarter]
    if not packs and periods == set():
        return report  # only the entries were asked for, and there are none: nothing to say
    for pack in packs:
        pack.content_sha256 = content_sha256(pack.path)
    progress(f"{len(packs)} pack(s) to look at in {inbox}")
    received = warehouse.received_packs(con)
    todo = []
    for pack in packs:
        if (pack.source, pack.content_sha256) in received and pack.key not in force:
            report.outcomes.append(PackOutcome(pack.source, pack.la_code, pack.period, "unchanged"))
        else:
            todo.append(pack)
    if len(todo) < len(packs):
        progress(f"{len(packs) - len(todo)} pack(s) unchanged, skipped")

    def reject(pack: Pack, error: PackRejected, number: int) -> None:
        warehouse.record_rejection(con, pack, error)
        report.outcomes.append(PackOutcome(pack.source, pack.la_code, pack.period, "rejected",
                                           message=error.message, rule=error.rule))
        progress(f"[{number}/{len(todo)}] {pack.source}: REJECTED ({error.rule}) {error.message}")

    with Session(secret) as session:
        intake = PackIntake(session)
        taken: list[tuple[int, Pack]] = []
        rows = 0

        def load(number: int) -> None:
            """Judge the gathered packs' identifier scans, then standardise and load those that pass."""
            nonlocal taken, rows, intake
            intake.finish()
            clean = []
            for pack_id, pack in taken:
                findings = intake.findings(pack_id)
                if findings:
                    reject(pack, intake.identifier_rejection(pack, findings), number)
                else:
                    clean.append((pack_id, pack))
            if clean:
                outcomes = load_batch(con, session, clean, max_share)
                for (_, pack), outcome in zip(clean, outcomes, strict=True):
                    if outcome.status == "rejected":
                        reject(pack, PackRejected(outcome.rule, outcome.message), number)
                loaded = [o for o in outcomes if o.status == "loaded"]
                report.outcomes.extend(loaded)
                if loaded:
                    progress(f"[{number}/{len(todo)}] {batch_summary(loaded)}")
            session.reset()
            intake = PackIntake(session)
            taken, rows = [], 0

        for number, pack in enumerate(todo, start=1):
            try:
                if pack.la_code and claims[(pack.la_code, pack.period)] > 1:
                    raise PackRejected("duplicate_pack", f"{pack.source}: the inbox holds another pack for "
                                       f"{pack.la_code} {pack.period}. Keep one and run again.")
                profiles = open_pack_tables(pack)
                pack_id = intake.take(pack, profiles)
            except PackRejected as error:
                reject(pack, error, number)
                continue
            taken.append((pack_id, pack))
            rows += sum(intake.rows[(pack_id, table)] for table in pack.tables)
            if rows >= batch_rows:
                load(number)
        if taken:
            load(len(todo))
    order = {pack.source: number for number, pack in enumerate(packs)}
    report.outcomes.sort(key=lambda outcome: order[outcome.source])  # inbox order, whatever the batches
    return report


def open_pack_tables(pack: Pack, profile: Path | None = None) -> list[Profile]:
    """Identify a pack and open its tables with the LA's mapping profiles (the one given, or else
    those in config/profiles/ that name the LA); returns the profiles. Raises PackRejected."""
    check_identity(pack)
    chosen = [load_profile(profile)] if profile else profiles_for(pack.la_code)
    aliases = {}
    for item in chosen:
        aliases.update(table_file_names(item))
    try:
        open_tables(pack, aliases)
    except PackRejected:
        raise
    except Exception as error:  # whatever a hostile file does to a reader's first look is the file's fault
        raise PackRejected("unreadable", f"{pack.source} could not be read ({type(error).__name__}).") from None
    return chosen


def too_heavily_quarantined(std: StandardisedPack, max_share: float) -> PackRejected | None:
    """A pack that lost more than `max_share` of its rows is probably in the wrong layout (a missing
    mapping profile, shifted columns, a header-only cases table): it is held back, not loaded."""
    if std.quarantined_share <= max_share:
        return None
    rules = ", ".join(f"{rule} ({rows})" for rule, rows in list(std.quarantine_rules.items())[:3])
    return PackRejected("too_many_quarantined", (
        f"{std.total_quarantined} of its {sum(std.rows_in.values())} rows would be quarantined "
        f"({std.quarantined_share:.0%}, more than the {max_share:.0%} allowed by config/checks.yaml); most often "
        f"{rules}. Nothing from this pack was stored. Run `safeguarding-audit validate` on it to see every row, "
        "then correct the export or its mapping profile."))


def load_batch(con: duckdb.DuckDBPyConnection, session: Session, packs: list[tuple[int, Pack]],
               max_share: float) -> list[PackOutcome]:
    """Standardise checked packs together and load in one transaction those not held back."""
    batch = session.standardise(packs)
    outcomes, keep = [], []
    for (pack_id, pack), std in zip(packs, batch.packs, strict=True):
        held = too_heavily_quarantined(std, max_share)
        if held:
            outcomes.append(PackOutcome(pack.source, pack.la_code, pack.period, "rejected",
                                        message=f"{pack.source}: {held.message}", rule=held.rule))
        else:
            keep.append((pack_id, pack, std))
            outcomes.append(PackOutcome(pack.source, pack.la_code, pack.period, "loaded", std.rows_loaded["cases"],
                                        std.total_quarantined, warehouse.loaded_message(std, pack)))
    if keep:
        warehouse.load_batch(con, [p for _, p, _ in keep], [s for _, _, s in keep], batch, [i for i, _, _ in keep])
    return outcomes


def prepare_pack(pack: Pack, secret: bytes, profile: Path | None = None,
                 problems_listed: int | None = None) -> StandardisedPack:
    """Identify, read, map, check and standardise one pack, storing nothing. Raises PackRejected.
    The first `problems_listed` quarantine rows (all by default) come back as a frame, and
    `quarantine_rules` counts them all; the loadable rows are only counted."""
    return standardise_alone(pack, secret, open_pack_tables(pack, profile), problems_listed)


def standardise(pack: Pack, secret: bytes) -> StandardisedPack:
    """Standardise one pack whose tables are already opened or read (for small packs: tests and
    tools), with every output table as a frame."""
    return standardise_alone(pack, secret, [], None, frames=True)


def standardise_alone(pack: Pack, secret: bytes, profiles: list[Profile], problems_listed: int | None,
                      frames: bool = False) -> StandardisedPack:
    """One pack through the intake and the contract rules in a session of its own, storing nothing."""
    with Session(secret) as session:
        intake = PackIntake(session)
        pack_id = intake.take(pack, profiles)
        intake.finish()
        findings = intake.findings(pack_id)
        if findings:
            raise intake.identifier_rejection(pack, findings)
        batch = session.standardise([(pack_id, pack)])
        result = batch.packs[0]
        for table in (*TABLES, "quarantine") if frames else ("quarantine",):
            rows = batch.rows(table)
            listed = pa.Table.from_batches(first_rows(rows, problems_listed), schema=rows.schema)
            setattr(result, table, listed.drop_columns(["pack_id"]).to_pandas())
    return result


def first_rows(stream: pa.RecordBatchReader, limit: int | None) -> list[pa.RecordBatch]:
    """The first `limit` rows of a stream (all of them when `limit` is None), as batches."""
    batches, taken = [], 0
    for batch in stream:
        if limit is not None and taken + batch.num_rows >= limit:
            batches.append(batch.slice(0, limit - taken))
            break
        batches.append(batch)
        taken += batch.num_rows
    return batches


def batch_summary(outcomes: list[PackOutcome]) -> str:
    if len(outcomes) == 1:
        only = outcomes[0]
        return f"{only.source}: loaded {only.cases_loaded} cases, {only.rows_quarantined} row(s) quarantined"
    return (f"loaded {sum(o.cases_loaded for o in outcomes)} cases from {len(outcomes)} packs "
            f"({outcomes[0].source} to {outcomes[-1].source}), "
            f"{sum(o.rows_quarantined for o in outcomes)} row(s) quarantined")
