"""The direct-identifier scan: a pack that carries names, dates of birth, addresses or full
postcodes, NHS numbers, UPNs, phone numbers or e-mail addresses is refused before anything from it
is stored. Every column of every table and sheet is scanned, contract or not, and every column
name. Messages name the table, the column (by position where its name could itself identify
someone) and the kind of identifier, never the value.

The kinds and how each is judged live in config/identifiers.yaml: high-specificity kinds are
found anywhere inside a value, low-specificity kinds (names, dates) by the share of a column's
values they match. Values are matched a whole column at a time, over many packs at once, with RE2
through Arrow: packs arrive by the thousand."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.config import contract, load_yaml
from assets.reading import PackRejected, RawTable

# Contract columns whose values are held to codes, numbers or dates: only `anywhere` kinds are
# looked for in them (an age or a referral date is expected there).
TYPED = {"integer", "code", "codelist", "yn", "date"}
SAFE_NAME_CHARACTERS = re.compile(r"^[\w .,()/&#+'-]{1,64}$")


@dataclass(frozen=True)
class IdentifierKind:
    kind: str
    label: str
    column_pattern: re.Pattern | None
    value_pattern: str | None  # RE2
    anywhere: bool
    min_share: float
    check: str | None
    in_headers: bool
    reference_share: float | None  # in the contract's reference columns: judged by share...
    reference_count: int  # ...and by at least this many values

    @property
    def re2(self) -> str:
        return self.value_pattern


@cache
def identifier_kinds() -> tuple[IdentifierKind, ...]:
    return tuple(identifier_kind(kind, spec) for kind, spec in load_yaml("identifiers.yaml")["kinds"].items())


def identifier_kind(kind: str, spec: dict) -> IdentifierKind:
    """One kind from config/identifiers.yaml. Value patterns run on RE2 (through Arrow), which has
    no look-around or back-references: a pattern it cannot run is refused here, by name."""
    value_pattern = spec.get("value_pattern")
    if value_pattern:
        try:
            pc.match_substring_regex(pa.array([""], pa.string()), value_pattern)
        except pa.ArrowInvalid as error:
            raise ValueError(f"config/identifiers.yaml: the value_pattern of '{kind}' is not RE2 syntax "
                             f"(no look-around or back-references): {error}") from None
    references = spec.get("in_references") or {}
    return IdentifierKind(
        kind=kind,
        label=spec["label"],
        column_pattern=re.compile(spec["column_pattern"], re.I) if spec.get("column_pattern") else None,
        value_pattern=value_pattern or None,
        anywhere=bool(spec.get("anywhere")),
        min_share=float(spec.get("min_share", 0.0)),
        check=spec.get("check"),
        in_headers=bool(spec.get("in_headers")),
        reference_share=float(references["min_share"]) if references else None,
        reference_count=int(references.get("min_count", 1)) if references else 0,
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


# Ten digits, grouped 3-3-4 or not, standing alone as \b does in the RE2 pattern.
NHS_CANDIDATE = re.compile(r"(?<!\w)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\w)")


def holds_valid_nhs_number(text: str) -> bool:
    """Some ten-digit number in the text passes the NHS check digit."""
    return any(nhs_check_digit_ok(match.group(0)) for match in NHS_CANDIDATE.finditer(text))


# A kind's `check`: given a text its pattern matched, whether the text really holds the kind.
CHECKS = {"nhs_modulus_11": holds_valid_nhs_number}


def passes_check(kind: IdentifierKind, text: str) -> bool:
    return kind.check is None or CHECKS[kind.check](text)


def kinds_found(texts: list[str], kinds: list[IdentifierKind], whole: bool = False) -> list[IdentifierKind | None]:
    """For each text, the first of the kinds it holds (anywhere inside it, or as the whole text)."""
    found: list[IdentifierKind | None] = [None] * len(texts)
    array = pa.array(texts, pa.string())
    for kind in kinds:
        if not kind.value_pattern:
            continue
        pattern = f"^(?:{kind.re2})$" if whole else kind.re2
        matched = pc.match_substring_regex(array, pattern).to_pylist()
        for i, hit in enumerate(matched):
            if hit and found[i] is None and passes_check(kind, texts[i]):
                found[i] = kind
    return found


@cache
def anywhere_pattern(in_reference: bool) -> str:
    """One RE2 alternation of every kind looked for anywhere: one pass finds the few values worth a
    closer look."""
    kinds = [k for k in identifier_kinds() if k.anywhere and k.value_pattern
             and not (in_reference and k.reference_share is not None)]
    return "|".join(f"(?:{k.re2})" for k in kinds) or "$^"


@cache
def is_safe_name(name: str) -> bool:
    """A column or sheet name that can be stored and shown: plain characters, and nothing in it
    that looks like any kind of identifier (names and dates included)."""
    text = str(name).strip()
    if not SAFE_NAME_CHARACTERS.match(text):
        return False
    inside = [k for k in identifier_kinds() if k.anywhere or k.in_headers]
    if kinds_found([text], inside) != [None]:
        return False
    # "Post Code" or "Child Name" reads like a name, but says what a column holds: it is a label.
    if any(k.column_pattern and k.column_pattern.search(text) for k in identifier_kinds()):
        return True
    whole = [k for k in identifier_kinds() if not (k.anywhere or k.in_headers)]
    return kinds_found([text], whole, whole=True) == [None]


@cache
def identifiers_in_names(names: tuple[str, ...]) -> list[IdentifierKind | None]:
    """For each column name, the first kind found inside it: headers repeat from pack to pack."""
    return kinds_found(list(names), [k for k in identifier_kinds() if k.anywhere or k.in_headers])


@dataclass(frozen=True)
class Finding:
    table: str
    column: str | None  # the column's name, or None where the name itself could identify someone
    position: int  # the column's place in its table, from 1
    kind: str
    label: str
    how: str  # "column name", "values" or "name" (the column's name itself holds the identifier)
    row: int | None = None  # the first data row holding it, for kinds found in one value
    where: str = ""  # that row as the file says it ("line 12"), when known

    def message(self, source_file: str) -> str:
        found = {"column name": "from its name", "name": "in its name",
                 "values": "from its values"}[self.how]
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
    klass: str  # "typed", "reference" or "free"
    nonblank: int = 0
    whole: dict[str, int] = field(default_factory=dict)  # kind -> values matching in full
    anywhere: tuple[str, int] | None = None  # (kind, data row) of the first occurrence


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
        in_names = identifiers_in_names(tuple(str(h) for h in header))
        for position, (original, column) in enumerate(zip(header, columns, strict=True), start=1):
            shown = str(original).strip() if is_safe_name(original) else None
            klass = column_class(specs.get(column), column)
            if (pack_id, table, column) not in self.evidence:
                self.evidence[(pack_id, table, column)] = ColumnEvidence(shown, position, klass)
                self.columns_of.setdefault(pack_id, []).append((table, column))
            if in_names[position - 1] is not None:
                kind = in_names[position - 1]
                found.append(Finding(table, None, position, kind.kind, kind.label, "name"))
            else:
                if column not in specs and column not in ("la_code", "period"):
                    for kind in identifier_kinds():
                        if kind.column_pattern and kind.column_pattern.search(column):
                            found.append(Finding(table, shown, position, kind.kind, kind.label, "column name"))
                            break

    def add_values(self, table: str, column: str, pieces: list[tuple[int, pa.Array, int]]) -> None:
        """One column's values from several packs: (pack_id, values, row number of the first)."""
        if not pieces:
            return
        text = pc.utf8_trim_whitespace(pa.chunked_array([values for _, values, _ in pieces], pa.string()))
        owner = np.repeat(np.arange(len(pieces)), [len(values) for _, values, _ in pieces])
        first_rows = np.repeat([first for _, _, first in pieces], [len(values) for _, values, _ in pieces])
        offsets = np.concatenate([[0], np.cumsum([len(values) for _, values, _ in pieces])])[:-1]
        evidence = [self.evidence[(pack_id, table, column)] for pack_id, _, _ in pieces]
        klass = evidence[0].klass
        present = np.asarray(pc.not_equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)
        for i, count in enumerate(np.bincount(owner[present], minlength=len(pieces))):
            evidence[i].nonblank += int(count)
        distinct = DistinctValues(text)
        # Kinds found anywhere: one pass of the joint pattern, then a closer look at the few hits.
        hits = np.flatnonzero(distinct.matching(anywhere_pattern(klass == "reference")))
        if len(hits):
            kinds = [k for k in identifier_kinds() if k.anywhere
                     and not (klass == "reference" and k.reference_share is not None)]
            values = pc.take(text, pa.array(hits)).to_pylist()
            for index, kind in zip(hits, kinds_found(values, kinds), strict=True):
                item = evidence[owner[index]]
                if kind is not None and item.anywhere is None:
                    item.anywhere = (kind.kind, int(first_rows[index] + index - offsets[owner[index]]))
        if klass == "typed":
            return
        # Kinds judged by share: values matching in full.
        for kind in identifier_kinds():
            by_share = (kind.reference_share is not None) if klass == "reference" else False
            if not kind.value_pattern or (kind.anywhere and not by_share):
                continue
            matched = distinct.matching(f"^(?:{kind.re2})$")
            if kind.check and matched.any():
                where = np.flatnonzero(matched)
                values = pc.take(text, pa.array(where)).to_pylist()
                matched[where[[not CHECKS[kind.check](v) for v in values]]] = False
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
                if item.klass == "reference" and kind.reference_share is not None:
                    judged = count >= kind.reference_count and count >= kind.reference_share * item.nonblank
                else:
                    judged = count >= kind.min_share * item.nonblank
                if count and judged:
                    found.append(Finding(table, item.column, item.position, name, kind.label, "values"))
                    break
        return found

    def forget(self, pack_id: int) -> None:
        self.header_findings.pop(pack_id, None)
        for table, column in self.columns_of.pop(pack_id, []):
            del self.evidence[(pack_id, table, column)]


class DistinctValues:
    """A column's values, matched against patterns once per distinct value: codes, dates and ages
    repeat on every row, so a column of a million rows often holds a few dozen values."""

    def __init__(self, text: pa.ChunkedArray):
        encoded = pc.dictionary_encode(text).combine_chunks()
        if len(encoded.dictionary) * 2 < len(text):
            self.values, self.rows = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
        else:
            self.values, self.rows = text, None

    def matching(self, pattern: str) -> np.ndarray:
        """Per row, whether its value matches the RE2 pattern somewhere."""
        hit = np.asarray(pc.match_substring_regex(self.values, pattern).to_numpy(zero_copy_only=False), dtype=bool)
        return hit if self.rows is None else hit[self.rows]


def column_class(spec: dict | None, column: str) -> str:
    if column in ("la_code", "period"):
        return "typed"
    if spec is None:
        return "free"
    if spec["type"] in TYPED:
        return "typed"
    return "reference" if spec.get("identifier") else "free"


def find_identifiers_in_packs(packs: list[dict[str, RawTable]]) -> list[list[Finding]]:
    """Every column of every table of each pack (held whole in memory) that looks like it holds a
    direct identifier."""
    scan = IdentifierScan()
    for pack_id, tables in enumerate(packs):
        for table, raw in tables.items():
            scan.add_header(pack_id, table, raw.columns, raw.columns)
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
                        first.table, first.column)  # the column only where its name is safe to keep


def identifier_rejection(tables: dict[str, RawTable], findings: list[Finding]) -> PackRejected:
    return rejection({name: raw.source_file for name, raw in tables.items()}, findings)


def scan_pack(tables: dict[str, RawTable]) -> None:
    """Refuse the pack on the first identifier found."""
    findings = find_identifiers(tables)
    if findings:
        raise identifier_rejection(tables, findings)
