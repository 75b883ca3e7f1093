"""The direct-identifier scan: a pack that carries names, dates of birth, addresses or full
postcodes, NHS numbers, UPNs, phone numbers or e-mail addresses is refused before anything from it
is stored. Every column of every table and sheet is scanned, contract or not, and every column
name. Messages name the table, the column (by its position unless it is a contract column: a
column's name can itself identify someone) and the kind of identifier, never the value.

The kinds and how each is judged live in config/identifiers.yaml: high-specificity kinds are
found anywhere inside a value, low-specificity kinds (names, dates, addresses) by the share of a
column's values they match. Values are matched a whole column at a time, over many packs at once
and once per distinct value, with RE2 through Arrow (linear time): packs arrive by the thousand."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.config import contract, load_yaml
from assets.reading import PackRejected, RawTable
from assets.table_files import contract_column_names

# Contract columns whose values are held to codes, numbers or dates: they are not judged by share
# (an age or a referral date is expected there), only searched for the `anywhere` kinds.
TYPED = {"integer", "code", "codelist", "yn", "date"}


@dataclass(frozen=True)
class IdentifierKind:
    kind: str
    label: str
    column_pattern: re.Pattern | None  # Python: column names are short, and the patterns simple
    value_pattern: str | None  # RE2
    anywhere: bool
    min_share: float
    check: str | None
    bare_share: float | None  # a value that is nothing but the match: judged by share...
    bare_count: int  # ...and by at least this many values
    unless: str | None  # RE2: a value matching it is not this kind

    @property
    def whole(self) -> str:
        return f"^(?:{self.value_pattern})$"


@cache
def identifier_kinds() -> tuple[IdentifierKind, ...]:
    return tuple(identifier_kind(kind, spec) for kind, spec in load_yaml("identifiers.yaml")["kinds"].items())


def identifier_kind(kind: str, spec: dict) -> IdentifierKind:
    """One kind from config/identifiers.yaml. Value patterns run on RE2 (through Arrow), which has
    no look-around or back-references: a pattern it cannot run is refused here, by name."""
    value_pattern = spec.get("value_pattern")
    unless = ("(?i)\\b(?:" + "|".join(str(spec["unless"]).split()) + ")\\b") if spec.get("unless") else None
    for what, pattern in (("value_pattern", value_pattern), ("unless words", unless)):
        try:
            if pattern:
                pc.match_substring_regex(pa.array([""], pa.string()), pattern)
        except pa.ArrowInvalid as error:
            raise ValueError(f"config/identifiers.yaml: the {what} of '{kind}' is not RE2 syntax "
                             f"(no look-around or back-references): {error}") from None
    bare = spec.get("bare") or {}
    return IdentifierKind(
        kind=kind,
        label=spec["label"],
        column_pattern=re.compile(spec["column_pattern"], re.I) if spec.get("column_pattern") else None,
        value_pattern=value_pattern or None,
        anywhere=bool(spec.get("anywhere")),
        min_share=float(spec.get("min_share", 0.0)),
        check=spec.get("check"),
        bare_share=float(bare["min_share"]) if bare else None,
        bare_count=int(bare.get("min_count", 1)) if bare else 0,
        unless=unless,
    )


def nhs_check_digit_ok(text: str) -> bool:
    """NHS numbers: ten digits, the last a modulus-11 check digit over the first nine."""
    digits = [int(c) for c in text if c.isdigit()]
    if len(digits) != 10:
        return False
    remainder = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    check = 11 - remainder
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


# Ten digits, grouped 3-3-4 or not, standing alone as \b does in the RE2 pattern (a fixed shape:
# no backtracking).
NHS_CANDIDATE = re.compile(r"(?<!\w)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\w)")


def holds_valid_nhs_number(text: str) -> bool:
    """Some ten-digit number in the text passes the NHS check digit."""
    return any(nhs_check_digit_ok(match.group(0)) for match in NHS_CANDIDATE.finditer(text))


# A kind's `check`: given a text its pattern matched, whether the text really holds the kind.
CHECKS = {"nhs_modulus_11": holds_valid_nhs_number}


def matching(values: pa.Array, kind: IdentifierKind, whole: bool = False) -> np.ndarray:
    """Per value: it holds the kind (anywhere inside it, or as the whole value), passes the kind's
    check, and is not excused by its `unless` words."""
    hit = as_bools(pc.match_substring_regex(values, kind.whole if whole else kind.value_pattern))
    if kind.unless and hit.any():
        hit &= ~as_bools(pc.match_substring_regex(values, kind.unless))
    if kind.check and hit.any():
        where = np.flatnonzero(hit)
        texts = pc.take(values, pa.array(where)).to_pylist()
        hit[where[[not CHECKS[kind.check](t) for t in texts]]] = False
    return hit


def as_bools(array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def anywhere_kinds() -> list[IdentifierKind]:
    return [k for k in identifier_kinds() if k.anywhere and k.value_pattern]


@cache
def anywhere_pattern() -> str:
    """One RE2 alternation of every kind looked for anywhere: one pass finds the few values worth a
    closer look."""
    return "|".join(f"(?:{k.value_pattern})" for k in anywhere_kinds()) or "$^"


def first_kind_inside(values: pa.Array) -> list[IdentifierKind | None]:
    """For each value, the first `anywhere` kind inside it that is not the bare value of a kind
    judged by share when bare."""
    found: list[IdentifierKind | None] = [None] * len(values)
    for kind in anywhere_kinds():
        hit = matching(values, kind)
        if kind.bare_share is not None:
            hit &= ~matching(values, kind, whole=True)
        for i in np.flatnonzero(hit):
            found[i] = found[i] or kind
    return found


@cache
def identifiers_in_names(names: tuple[str, ...]) -> list[IdentifierKind | None]:
    """For each column name, the first `anywhere` kind inside it: headers repeat from pack to pack."""
    found: list[IdentifierKind | None] = [None] * len(names)
    array = pa.array(list(names), pa.string())
    for kind in anywhere_kinds():
        for i in np.flatnonzero(matching(array, kind)):
            found[i] = found[i] or kind
    return found


@dataclass(frozen=True)
class Finding:
    table: str
    column: str | None  # the column's name where it is a contract column, else None (see `named`)
    position: int  # the column's place in its table, from 1
    kind: str
    label: str
    how: str  # "column name", "values" or "name" (the column's name itself holds the identifier)
    row: int | None = None  # the first data row holding it, for kinds found in one value
    where: str = ""  # that row as the file says it ("line 12"), when known

    def message(self, source_file: str) -> str:
        found = {"column name": "from its name", "name": "in its name", "values": "from its values"}[self.how]
        if self.row:
            found += f", first on {self.where or f'row {self.row}'}"
        return (f"{source_file}: {self.named} of table '{self.table}' looks like it holds {self.label} "
                f"({found}). Direct identifiers must not leave the LA: remove the column or the values, or "
                "anonymise them, and send the pack again. Nothing from this pack was stored.")

    @property
    def named(self) -> str:
        return f"column '{self.column}'" if self.column is not None else f"column {self.position}"


@dataclass
class ColumnEvidence:
    """What the scan has seen of one column of one pack, over all its batches."""

    column: str | None  # its name where safe to show (see Finding.column)
    position: int
    typed: bool  # a contract column of codes, numbers or dates
    nonblank: int = 0
    whole: dict[str, int] = field(default_factory=dict)  # kind -> values matching in full
    anywhere: tuple[str, int] | None = None  # (kind, data row) of the first occurrence inside a value


class IdentifierScan:
    """The scan of a batch of packs, fed a column at a time as rows stream in (`add_values`) and
    judged per pack once its rows have all been seen (`findings`)."""

    def __init__(self):
        self.header_findings: dict[int, list[Finding]] = {}
        self.evidence: dict[tuple[int, str, str], ColumnEvidence] = {}
        self.columns_of: dict[int, list[tuple[str, str]]] = {}  # pack_id -> its (table, column) keys

    def add_header(self, pack_id: int, table: str, header: list[str], columns: list[str]) -> None:
        """Column names: those that say they hold an identifier, and those that are one."""
        specs = contract()["tables"].get(table, {}).get("columns", {})
        found = self.header_findings.setdefault(pack_id, [])
        inside = identifiers_in_names(tuple(str(h) for h in header))
        for position, column in enumerate(columns, start=1):
            shown = column if column in contract_column_names() else None
            if (pack_id, table, column) not in self.evidence:
                self.evidence[(pack_id, table, column)] = ColumnEvidence(shown, position, is_typed(specs, column))
                self.columns_of.setdefault(pack_id, []).append((table, column))
            if inside[position - 1] is not None:
                kind = inside[position - 1]
                found.append(Finding(table, None, position, kind.kind, kind.label, "name"))
            elif column not in contract_column_names():
                kind = next((k for k in identifier_kinds() if k.column_pattern and k.column_pattern.search(column)),
                            None)
                if kind:
                    found.append(Finding(table, shown, position, kind.kind, kind.label, "column name"))

    def add_values(self, table: str, column: str, pieces: list[tuple[int, pa.Array, int]]) -> None:
        """One column's values from several packs: (pack_id, values, row number of the first)."""
        if not pieces:
            return
        text = pc.utf8_trim_whitespace(pa.chunked_array([values for _, values, _ in pieces], pa.string()))
        sizes = [len(values) for _, values, _ in pieces]
        owner = np.repeat(np.arange(len(pieces)), sizes)
        first_row = np.repeat([first for _, _, first in pieces], sizes) - np.repeat(np.cumsum([0, *sizes[:-1]]), sizes)
        evidence = [self.evidence[(pack_id, table, column)] for pack_id, _, _ in pieces]
        distinct = DistinctValues(text)
        for i, count in enumerate(np.bincount(owner[distinct.rows_where(pc.not_equal(distinct.values, ""))],
                                              minlength=len(pieces))):
            evidence[i].nonblank += int(count)
        # Kinds found anywhere: one pass of the joint pattern over the distinct values, then a closer
        # look at the few that match.
        hits = np.flatnonzero(as_bools(pc.match_substring_regex(distinct.values, anywhere_pattern())))
        if len(hits):
            kinds = dict(zip(hits, first_kind_inside(pc.take(distinct.values, pa.array(hits))), strict=True))
            rows = np.flatnonzero(np.isin(distinct.codes, [h for h, k in kinds.items() if k is not None]))
            owners, first = np.unique(owner[rows], return_index=True)  # each pack's first such row
            for piece, row in zip(owners, rows[first], strict=True):
                if evidence[piece].anywhere is None:
                    kind = kinds[distinct.codes[row]]
                    evidence[piece].anywhere = (kind.kind, int(first_row[row] + row))
        # Kinds judged by share: values matching in full.
        for kind in identifier_kinds():
            by_share = kind.bare_share is not None or (not kind.anywhere and not evidence[0].typed)
            if not kind.value_pattern or not by_share:
                continue
            matched = distinct.rows_where(matching(distinct.values, kind, whole=True))
            for i, count in enumerate(np.bincount(owner[matched], minlength=len(pieces))):
                if count:
                    evidence[i].whole[kind.kind] = evidence[i].whole.get(kind.kind, 0) + int(count)

    def findings(self, pack_id: int, tables: dict | None = None) -> list[Finding]:
        """Every column of the pack that looks like it holds a direct identifier: by its name first,
        then by its values. `tables` (name -> object with `where(row)`) locates rows in messages."""
        kinds = {k.kind: k for k in identifier_kinds()}
        found = list(self.header_findings.get(pack_id, []))
        named = {(f.table, f.position) for f in found}
        for table, column in self.columns_of.get(pack_id, []):
            item = self.evidence[(pack_id, table, column)]
            if (table, item.position) in named:
                continue
            if item.anywhere:
                kind, row = item.anywhere
                where = tables[table].where(row) if tables and table in tables else ""
                found.append(Finding(table, item.column, item.position, kind, kinds[kind].label, "values", row, where))
                continue
            for name, count in item.whole.items():
                kind = kinds[name]
                if kind.bare_share is not None:
                    judged = count >= kind.bare_count and count >= kind.bare_share * item.nonblank
                else:
                    judged = count >= kind.min_share * item.nonblank
                if count and judged:
                    found.append(Finding(table, item.column, item.position, name, kind.label, "values"))
                    break
        return found

    def forget(self, pack_id: int, table: str | None = None) -> None:
        """Forget what was seen of a pack (refused), or of one of its tables (read again)."""
        if table is None:
            self.header_findings.pop(pack_id, None)
        keep = []
        for key in self.columns_of.pop(pack_id, []):
            if table is None or key[0] == table:
                del self.evidence[(pack_id, *key)]
            else:
                keep.append(key)
        if keep:
            self.columns_of[pack_id] = keep
        if table is not None:
            self.header_findings[pack_id] = [f for f in self.header_findings.get(pack_id, []) if f.table != table]


class DistinctValues:
    """A column's values, to be matched against patterns once per distinct value: codes, dates and
    ages repeat on every row, so a column of a million rows often holds a few dozen values."""

    def __init__(self, text: pa.ChunkedArray):
        encoded = pc.dictionary_encode(text).combine_chunks()
        self.values = encoded.dictionary
        self.codes = encoded.indices.to_numpy(zero_copy_only=False)

    def rows_where(self, per_value) -> np.ndarray:
        """Per row, the flag its value has in `per_value` (one flag per distinct value)."""
        flags = as_bools(per_value) if not isinstance(per_value, np.ndarray) else per_value
        return flags[self.codes]


def is_typed(specs: dict, column: str) -> bool:
    if column in ("la_code", "period"):
        return True
    return column in specs and specs[column]["type"] in TYPED


def find_identifiers_in_packs(packs: list[dict[str, RawTable]]) -> list[list[Finding]]:
    """Every column of every table of each pack (held whole in memory) that looks like it holds a
    direct identifier."""
    scan = IdentifierScan()
    for pack_id, tables in enumerate(packs):
        for table, raw in tables.items():
            scan.add_header(pack_id, table, raw.header, raw.columns)
    for table in {t for tables in packs for t in tables}:
        for column in {c for tables in packs if table in tables for c in tables[table].columns}:
            scan.add_values(table, column, [
                (pack_id, tables[table].column(column).combine_chunks(), 1)
                for pack_id, tables in enumerate(packs) if table in tables and column in tables[table].columns])
    return [scan.findings(pack_id) for pack_id in range(len(packs))]


def find_identifiers(tables: dict[str, RawTable]) -> list[Finding]:
    """Every column of every table of one pack that looks like it holds a direct identifier."""
    return find_identifiers_in_packs([tables])[0]


def rejection(source_files: dict[str, str], findings: list[Finding]) -> PackRejected:
    """The pack's refusal for the first identifier found; the message never holds a value."""
    first = findings[0]
    others = "" if len(findings) == 1 else f" ({len(findings) - 1} more column(s) also look identifying.)"
    return PackRejected("direct_identifier", first.message(source_files.get(first.table, first.table)) + others,
                        first.table, first.column)


def scan_pack(tables: dict[str, RawTable]) -> None:
    """Refuse the pack on the first identifier found."""
    findings = find_identifiers(tables)
    if findings:
        raise rejection({name: raw.source_file for name, raw in tables.items()}, findings)
