"""The direct-identifier scan: a pack that carries names, dates of birth, addresses or full
postcodes, NHS numbers, UPNs, phone numbers or e-mail addresses is refused before anything from it
is stored. Messages name the table, the column and the kind of identifier, never the value.

The patterns live in config/identifiers.yaml. A kind is found in a column when its column-name
pattern matches, or when enough of the column's values match its value pattern (`min_share`; a
share guards against codes that look like an identifier by chance, such as ten-digit case
references of which one in eleven passes the NHS check digit)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.config import contract, load_yaml
from assets.reading import PackRejected, RawTable

# Columns the contract defines and whose values are codes, numbers or dates: only their names are
# the contract's, so they are not scanned for values (ages and dates are expected there).
VALUE_SCAN_EXEMPT_TYPES = {"integer", "code", "codelist", "yn", "date"}


@dataclass(frozen=True)
class IdentifierKind:
    kind: str
    label: str
    column_pattern: re.Pattern | None
    value_pattern: re.Pattern | None
    min_share: float
    check: str | None


@cache
def identifier_kinds() -> tuple[IdentifierKind, ...]:
    return tuple(identifier_kind(kind, spec) for kind, spec in load_yaml("identifiers.yaml")["kinds"].items())


def identifier_kind(kind: str, spec: dict) -> IdentifierKind:
    """One kind from config/identifiers.yaml. Value patterns run on RE2 (through Arrow), which has
    no look-around or back-references: a pattern it cannot run is refused here, by name."""
    value_pattern = spec.get("value_pattern")
    if value_pattern:
        try:
            pc.match_substring_regex(pa.array([""], pa.string()), f"^(?:{value_pattern})$")
        except pa.ArrowInvalid as error:
            raise ValueError(f"config/identifiers.yaml: the value_pattern of '{kind}' is not RE2 syntax "
                             f"(no look-around or back-references): {error}") from None
    return IdentifierKind(
        kind=kind,
        label=spec["label"],
        column_pattern=re.compile(spec["column_pattern"], re.I) if spec.get("column_pattern") else None,
        value_pattern=re.compile(value_pattern) if value_pattern else None,
        min_share=float(spec.get("min_share", 0.0)),
        check=spec.get("check"),
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


CHECKS = {"nhs_modulus_11": nhs_check_digit_ok}


@dataclass(frozen=True)
class Finding:
    table: str
    column: str
    kind: str
    label: str
    how: str  # "column name" or "values"

    def message(self, source_file: str) -> str:
        return (f"{source_file}: column '{self.column}' of table '{self.table}' looks like it holds "
                f"{self.label} (from its {self.how}). Direct identifiers must not leave the LA: remove the "
                "column, or anonymise it, and send the pack again. Nothing from this pack was stored.")


def column_names_finding(table: str, column: str) -> Finding | None:
    """A column whose name says it holds an identifier."""
    for kind in identifier_kinds():
        if kind.column_pattern and kind.column_pattern.search(column):
            return Finding(table, column, kind.kind, kind.label, "column name")
    return None


def value_findings(table: str, column: str, columns: list[pa.ChunkedArray]) -> list[Finding | None]:
    """For one column found in several packs (its text in each): the first identifier kind whose
    values it holds, or None, per pack. The values of every pack are matched in one pass (RE2
    through Arrow), since packs arrive by the thousand."""
    text = pc.utf8_trim_whitespace(pa.chunked_array([chunk for c in columns for chunk in c.chunks], pa.string()))
    pack_of = np.repeat(np.arange(len(columns)), [len(c) for c in columns])
    present = np.asarray(pc.not_equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)
    nonblank = np.bincount(pack_of[present], minlength=len(columns))
    found: list[Finding | None] = [None] * len(columns)
    for kind in identifier_kinds():
        if kind.value_pattern is None:
            continue
        matched = np.asarray(pc.match_substring_regex(text, f"^(?:{kind.value_pattern.pattern})$")
                             .to_numpy(zero_copy_only=False), dtype=bool)
        if kind.check and matched.any():
            check = CHECKS[kind.check]
            where = np.flatnonzero(matched)
            values = pc.take(text, pa.array(where)).to_pylist()
            matched[where[[not check(v) for v in values]]] = False
        counts = np.bincount(pack_of[matched], minlength=len(columns))
        for i, count in enumerate(counts):
            if found[i] is None and count and count >= kind.min_share * nonblank[i]:
                found[i] = Finding(table, column, kind.kind, kind.label, "values")
    return found


def find_identifiers_in_packs(packs: list[dict[str, RawTable]]) -> list[list[Finding]]:
    """Every column of every table of each pack that looks like it holds a direct identifier."""
    by_column: dict[tuple[str, str], list[int]] = {}
    for i, tables in enumerate(packs):
        for table, raw in tables.items():
            specs = contract()["tables"].get(table, {}).get("columns", {})
            for column in raw.columns:
                spec = specs.get(column)
                if spec is None or spec["type"] not in VALUE_SCAN_EXEMPT_TYPES:
                    by_column.setdefault((table, column), []).append(i)
    values: dict[tuple[int, str, str], Finding] = {}
    for (table, column), owners in by_column.items():
        results = value_findings(table, column, [packs[i][table].column(column) for i in owners])
        values.update({(i, table, column): f for i, f in zip(owners, results, strict=True) if f})
    findings = []
    for i, tables in enumerate(packs):
        found = []
        for table, raw in tables.items():
            specs = contract()["tables"].get(table, {}).get("columns", {})
            for column in raw.columns:
                in_contract = column in specs or column in ("la_code", "period")
                by_name = None if in_contract else column_names_finding(table, column)
                finding = by_name or values.get((i, table, column))
                if finding:
                    found.append(finding)
        findings.append(found)
    return findings


def find_identifiers(tables: dict[str, RawTable]) -> list[Finding]:
    """Every column of every table of one pack that looks like it holds a direct identifier."""
    return find_identifiers_in_packs([tables])[0]


def identifier_rejection(tables: dict[str, RawTable], findings: list[Finding]) -> PackRejected:
    """The pack's refusal for the first identifier found; the message never holds a value."""
    first = findings[0]
    others = "" if len(findings) == 1 else f" ({len(findings) - 1} more column(s) also look identifying.)"
    return PackRejected("direct_identifier", first.message(tables[first.table].source_file) + others,
                        first.table, first.column)


def scan_pack(tables: dict[str, RawTable]) -> None:
    """Refuse the pack on the first identifier found."""
    findings = find_identifiers(tables)
    if findings:
        raise identifier_rejection(tables, findings)
