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
from assets.standardise import StandardisedPack, standardise

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


def ingest_inbox(con: duckdb.DuckDBPyConnection, inbox: Path, secret: bytes,
                 progress: Progress = lambda _: None, keys: set[str] | None = None) -> IngestReport:
    """Ingest the inbox's new or changed packs; with `keys`, only the packs with those partition keys."""
    report = IngestReport()
    every_pack = [open_pack(path, hash_content=False) for path in discover_packs(inbox)]
    claims = Counter((p.la_code, p.period) for p in every_pack if p.la_code)
    packs = [p for p in every_pack if keys is None or p.key in keys]
    for pack in packs:
        pack.content_sha256 = content_sha256(pack.path)
    progress(f"{len(packs)} pack(s) to look at in {inbox}")
    for number, pack in enumerate(packs, start=1):
        prefix = f"[{number}/{len(packs)}] {pack.source}"
        if warehouse.already_received(con, pack):
            report.outcomes.append(PackOutcome(pack.source, pack.la_code, pack.period, "unchanged"))
            progress(f"{prefix}: unchanged, skipped")
            continue
        try:
            if pack.la_code and claims[(pack.la_code, pack.period)] > 1:
                raise PackRejected("duplicate_pack", f"{pack.source}: the inbox holds another pack for "
                                   f"{pack.la_code} {pack.period}. Keep one and run again.")
            outcome = ingest_pack(con, pack, secret)
        except PackRejected as error:
            warehouse.record_rejection(con, pack, error)
            outcome = PackOutcome(pack.source, pack.la_code, pack.period, "rejected", message=error.message,
                                  rule=error.rule)
            progress(f"{prefix}: REJECTED ({error.rule}) {error.message}")
        else:
            progress(f"{prefix}: loaded {outcome.cases_loaded} cases, "
                     f"{outcome.rows_quarantined} row(s) quarantined")
        report.outcomes.append(outcome)
    return report


def prepare_pack(pack: Pack, secret: bytes, profile: Path | None = None) -> StandardisedPack:
    """Identify, read, map and standardise a pack, storing nothing. Raises PackRejected.

    The mapping profile is the one given, or else those in config/profiles/ that name the LA."""
    check_identity(pack)
    chosen = [load_profile(profile)] if profile else profiles_for(pack.la_code)
    aliases = {}
    for item in chosen:
        aliases.update(table_file_names(item))
    read_tables(pack, aliases)
    for item in chosen:
        pack.tables = apply_profile(pack.tables, item)
    return standardise(pack, secret)


def ingest_pack(con: duckdb.DuckDBPyConnection, pack: Pack, secret: bytes) -> PackOutcome:
    std = prepare_pack(pack, secret)
    warehouse.load_pack(con, pack, std)
    return PackOutcome(pack.source, pack.la_code, pack.period, "loaded", std.rows_loaded["cases"],
                       std.total_quarantined, warehouse.loaded_message(std))
