"""Ingest an inbox: every pack that is new or changed is read, checked, standardised and loaded,
or rejected with its reason. A pack seen before (same name, same content) is left alone, so a
second run over the same inbox changes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets import warehouse
from assets.config import load_yaml
from assets.profiles import apply_profile, load_profile, profiles_for, table_file_names
from assets.reading import (
    Pack,
    PackRejected,
    check_identity,
    content_sha256,
    discover_packs,
    open_pack,
    read_tables,
)
from assets.standardise import StandardisedPack, check_shape, standardise, standardise_batch
from checks.identifiers import find_identifiers_in_packs, identifier_rejection

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


def inbox_keys(inbox: Path) -> list[str]:
    """The partition keys of the packs in an inbox, in name order, each once."""
    return list(dict.fromkeys(open_pack(path, hash_content=False).key for path in discover_packs(inbox)))


@dataclass
class InboxState:
    """The inbox against the warehouse: which packs a run has work to do for."""

    pending: list[str]  # partition keys: packs new or changed, or loaded but not scored with this framework
    unchanged: list[str]  # partition keys of packs loaded (or rejected) before with the same content
    rejected: list[str]  # pack names whose present content stands rejected


def inbox_state(con: duckdb.DuckDBPyConnection | None, inbox: Path) -> InboxState:
    """Compare the inbox with the warehouse (`con` None: an empty warehouse), by content hash."""
    from assets.scoring import framework, packs_to_score

    packs = [open_pack(path) for path in discover_packs(inbox)]
    if con is None:
        return InboxState(list(dict.fromkeys(p.key for p in packs)), [], [])
    received = warehouse.received_packs(con)
    to_score = packs_to_score(con, framework())
    unscored = ({f"{la}|{period}" for la, period in to_score} if to_score is not None else
                {f"{la}|{period}" for la, period in con.execute(
                    "SELECT la_code, period FROM submissions WHERE status = 'loaded'").fetchall()})
    state = InboxState([], [], [])
    for pack in packs:
        status = received.get((pack.source, pack.content_sha256))
        if status is None or pack.key in unscored:
            state.pending.append(pack.key)
        else:
            state.unchanged.append(pack.key)
        if status == "rejected":
            state.rejected.append(pack.source)
    state.pending = list(dict.fromkeys(state.pending))
    return state


def ingest_inbox(con: duckdb.DuckDBPyConnection, inbox: Path, secret: bytes,
                 progress: Progress = lambda _: None, keys: set[str] | None = None,
                 batch_rows: int | None = None) -> IngestReport:
    """Ingest the inbox's new or changed packs; with `keys`, only the packs with those partition keys.

    Each pack is read and checked on its own (a bad pack is rejected alone); packs that pass are
    standardised and loaded in batches of about `batch_rows` rows (default: config/performance.yaml),
    each batch in one transaction."""
    batch_rows = batch_rows or int(load_yaml("performance.yaml")["ingest_batch_rows"])
    report = IngestReport()
    every_pack = [open_pack(path, hash_content=False) for path in discover_packs(inbox)]
    claims = Counter((p.la_code, p.period) for p in every_pack if p.la_code)
    packs = [p for p in every_pack if keys is None or p.key in keys]
    for pack in packs:
        pack.content_sha256 = content_sha256(pack.path)
    progress(f"{len(packs)} pack(s) to look at in {inbox}")
    received = warehouse.received_packs(con)
    unchanged = [p for p in packs if (p.source, p.content_sha256) in received]
    for pack in unchanged:
        report.outcomes.append(PackOutcome(pack.source, pack.la_code, pack.period, "unchanged"))
    if unchanged:
        progress(f"{len(unchanged)} pack(s) unchanged, skipped")
    todo = [p for p in packs if (p.source, p.content_sha256) not in received]
    batch: list[Pack] = []
    rows = 0

    def reject(pack: Pack, error: PackRejected, number: int) -> None:
        warehouse.record_rejection(con, pack, error)
        report.outcomes.append(PackOutcome(pack.source, pack.la_code, pack.period, "rejected",
                                           message=error.message, rule=error.rule))
        progress(f"[{number}/{len(todo)}] {pack.source}: REJECTED ({error.rule}) {error.message}")

    def flush(number: int) -> None:
        """Scan the batch for identifiers (all packs in one pass), then load the packs that pass."""
        clean = []
        for pack, findings in zip(batch, find_identifiers_in_packs([p.tables for p in batch]), strict=True):
            if findings:
                reject(pack, identifier_rejection(pack.tables, findings), number)
            else:
                clean.append(pack)
        if clean:
            report.outcomes.extend(load_batch(con, clean, secret))
            progress(f"[{number}/{len(todo)}] {batch_summary(report.outcomes[-len(clean):])}")

    for number, pack in enumerate(todo, start=1):
        try:
            if pack.la_code and claims[(pack.la_code, pack.period)] > 1:
                raise PackRejected("duplicate_pack", f"{pack.source}: the inbox holds another pack for "
                                   f"{pack.la_code} {pack.period}. Keep one and run again.")
            read_pack(pack)
            check_shape(pack)
        except PackRejected as error:
            reject(pack, error, number)
            continue
        batch.append(pack)
        rows += sum(t.num_rows for t in pack.tables.values())
        if rows >= batch_rows:
            flush(number)
            batch, rows = [], 0
    if batch:
        flush(len(todo))
    order = {pack.source: number for number, pack in enumerate(packs)}
    report.outcomes.sort(key=lambda outcome: order[outcome.source])  # inbox order, whatever the batches
    return report


def read_pack(pack: Pack, profile: Path | None = None) -> None:
    """Identify, read and map a pack. Raises PackRejected.

    The mapping profile is the one given, or else those in config/profiles/ that name the LA."""
    check_identity(pack)
    chosen = [load_profile(profile)] if profile else profiles_for(pack.la_code)
    aliases = {}
    for item in chosen:
        aliases.update(table_file_names(item))
    read_tables(pack, aliases)
    for item in chosen:
        pack.tables = apply_profile(pack.tables, item)


def prepare_pack(pack: Pack, secret: bytes, profile: Path | None = None) -> StandardisedPack:
    """Identify, read, map, check and standardise one pack, storing nothing. Raises PackRejected."""
    read_pack(pack, profile)
    return standardise(pack, secret)


def load_batch(con: duckdb.DuckDBPyConnection, packs: list[Pack], secret: bytes) -> list[PackOutcome]:
    """Standardise checked packs together and load them in one transaction."""
    batch = standardise_batch(packs, secret)
    warehouse.load_batch(con, packs, batch)
    for pack in packs:
        pack.tables = {}  # the raw rows are no longer needed: memory stays one batch deep
    return [PackOutcome(pack.source, pack.la_code, pack.period, "loaded", std.rows_loaded["cases"],
                        std.total_quarantined, warehouse.loaded_message(std))
            for pack, std in zip(packs, batch.packs, strict=True)]


def batch_summary(outcomes: list[PackOutcome]) -> str:
    if len(outcomes) == 1:
        only = outcomes[0]
        return f"{only.source}: loaded {only.cases_loaded} cases, {only.rows_quarantined} row(s) quarantined"
    return (f"loaded {sum(o.cases_loaded for o in outcomes)} cases from {len(outcomes)} packs "
            f"({outcomes[0].source} to {outcomes[-1].source}), "
            f"{sum(o.rows_quarantined for o in outcomes)} row(s) quarantined")
