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

import pandas as pd

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
    kinds = []
    for kind, spec in load_yaml("identifiers.yaml")["kinds"].items():
        kinds.append(IdentifierKind(
            kind=kind,
            label=spec["label"],
            column_pattern=re.compile(spec["column_pattern"], re.I) if spec.get("column_pattern") else None,
            value_pattern=re.compile(spec["value_pattern"]) if spec.get("value_pattern") else None,
            min_share=float(spec.get("min_share", 0.0)),
            check=spec.get("check"),
        ))
    return tuple(kinds)


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


def scan_column(table: str, column: str, values: pd.Series, scan_values: bool, scan_name: bool = True
                ) -> Finding | None:
    for kind in identifier_kinds():
        if scan_name and kind.column_pattern and kind.column_pattern.search(column):
            return Finding(table, column, kind.kind, kind.label, "column name")
    if not scan_values:
        return None
    text = values.astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return None
    for kind in identifier_kinds():
        if kind.value_pattern is None:
            continue
        matches = text[text.str.fullmatch(kind.value_pattern)]
        if kind.check:
            matches = matches[matches.map(CHECKS[kind.check])]
        if len(matches) and len(matches) >= kind.min_share * len(text):
            return Finding(table, column, kind.kind, kind.label, "values")
    return None


def find_identifiers(tables: dict[str, RawTable]) -> list[Finding]:
    """Every column of every table that looks like it holds a direct identifier."""
    findings = []
    for table, raw in tables.items():
        specs = contract()["tables"].get(table, {}).get("columns", {})
        for column in raw.frame.columns:
            spec = specs.get(column)
            in_contract = spec is not None or column in ("la_code", "period")
            scan_values = spec is None or spec["type"] not in VALUE_SCAN_EXEMPT_TYPES
            finding = scan_column(table, column, raw.frame[column], scan_values, scan_name=not in_contract)
            if finding:
                findings.append(finding)
    return findings


def scan_pack(tables: dict[str, RawTable]) -> None:
    """Refuse the pack on the first identifier found; the message never holds a value."""
    findings = find_identifiers(tables)
    if findings:
        first = findings[0]
        others = "" if len(findings) == 1 else f" ({len(findings) - 1} more column(s) also look identifying.)"
        raise PackRejected("direct_identifier", first.message(tables[first.table].source_file) + others,
                           first.table, first.column)
