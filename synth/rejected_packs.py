"""Whole packs that must be rejected, one for each kind of file-level fault (a bad name, an unknown
LA code, a missing table or column, an empty or unreadable file, a name mismatch, direct
identifiers: children's names, e-mail addresses, and the street addresses of contexts, which are
described only by their reference), with the manifest entries that say so. They are v1 packs of
three tables, but for the one whose contexts table holds addresses."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from synth.cases import generate_la_packs
from synth.contexts import ContextNetwork
from synth.population import Quarter, english_codes, welsh_codes
from synth.writers import CSV_STYLE, clear_pack_slot, write_pack

_FIRST_NAMES = ("Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Leo", "Freya",
                "Arthur", "Lily", "Muhammad", "Grace", "Harry", "Sophia", "Jack")
_SURNAMES = ("Jones", "Smith", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson",
             "Khan", "Patel", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green")
_STREETS = ("Station Road", "High Street", "Mill Lane", "Church Street", "Victoria Road", "Park Avenue",
            "Queens Drive", "Market Place", "Canal Walk", "Albert Terrace")


def _reject_pack_names(
    chosen: Sequence[str], quarters: Sequence[Quarter]
) -> dict[str, tuple[str, Quarter | str]]:
    """(LA code, period) for every rejected pack, never colliding with a clean pack.

    Rejected packs use the quarter before the first clean quarter, each with a different LA
    (chosen LAs first, then others). The fixed-name cases use an unknown LA code or an impossible
    period, and the e-mail pack uses an LA that is not in the clean set where there is one.
    """
    reject_quarter = quarters[0].shifted(-1)
    pool = list(chosen) + [code for code in english_codes() + welsh_codes() if code not in chosen]
    names: dict[str, tuple[str, Quarter | str]] = {}
    plain = ("missing_table", "missing_column", "empty_file", "unreadable", "name_mismatch",
             "direct_identifier")
    for index, fault in enumerate(plain):
        names[fault] = (pool[index], reject_quarter)
    last = quarters[-1]
    names["unknown_la_code"] = ("E99999999", last)
    names["bad_period"] = (chosen[0], f"{last.year}Q5")
    new_las = [code for code in english_codes() if code not in chosen]
    if new_las:
        names["direct_identifier_contact"] = (new_las[0], last)
    else:
        names["direct_identifier_contact"] = (pool[len(plain)], reject_quarter)
    names["direct_identifier_context"] = (pool[len(plain) + 1], reject_quarter)
    return names


def write_rejected_packs(
    out_dir: Path, chosen: Sequence[str], quarters: Sequence[Quarter], seed: int,
    report: Callable[[str], None],
) -> tuple[list[Path], list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Write one pack per file-level fault; return paths, manifest entries and row counts."""
    paths: list[Path] = []
    entries: list[dict[str, Any]] = []
    rows: dict[str, dict[str, int]] = {}
    english = english_codes()
    for fault, (la_code, period) in _reject_pack_names(chosen, quarters).items():
        # A pack's LA/period from its name; the bad period is generated as the last real quarter.
        quarter = period if isinstance(period, Quarter) else quarters[-1]
        name = f"{la_code}_{period.label if isinstance(period, Quarter) else period}"
        records_contexts = quarter if fault == "direct_identifier_context" else None
        pack = generate_la_packs(la_code, [quarter], 8, f"{seed}:reject:{fault}", contexts_from=records_contexts)[0]
        rng = random.Random(f"synth:{seed}:reject-detail:{fault}")
        rule, table, column = fault, None, None
        if fault == "unreadable":
            clear_pack_slot(out_dir, name)
            path = out_dir / f"{name}.xlsx"
            # Random bytes after a plausible-looking but truncated zip signature.
            path.write_bytes(b"PK\x03\x04" + rng.randbytes(2048))
            note = "the workbook is random bytes, not a readable .xlsx"
            entries.append(_reject_entry(path.name, rule, table, column, note))
            rows[path.name] = {}
            paths.append(path)
            report(f"{path.name}: rejected pack ({fault})")
            continue
        if fault == "missing_table":
            del pack.tables["actions"]
            table, note = "actions", "the pack has no actions table"
        elif fault == "missing_column":
            pack.columns["cases"].remove("sex")
            table, column, note = "cases", "sex", "cases has no sex column"
        elif fault == "empty_file":
            pack.empty_files.add("meetings")
            table, note = "meetings", "meetings.csv is a 0-byte file"
        elif fault == "unknown_la_code":
            table, note = None, f"{la_code} is not an English or Welsh LA code"
        elif fault == "bad_period":
            table, note = None, f"{period} is not a calendar quarter"
        elif fault == "name_mismatch":
            other = next(code for code in english if code != la_code)
            pack.columns["cases"].insert(0, "la_code")
            for row in pack.tables["cases"]:
                row["la_code"] = other
            table, column = "cases", "la_code"
            note = f"cases.la_code is {other} but the pack is named for {la_code}"
        elif fault == "direct_identifier":
            pack.columns["cases"].insert(1, "child_name")
            for row in pack.tables["cases"]:
                row["child_name"] = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
            table, column, note = "cases", "child_name", "a column of children's names"
        elif fault == "direct_identifier_context":
            rule = "direct_identifier"
            # A place written down as its address rather than by reference: the address column is
            # named plainly, so only its values give it away.
            pack.columns["contexts"].insert(1, "location")
            contexts = pack.tables["contexts"]
            while len(contexts) < 3:  # enough addresses to be judged a column of them
                contexts.append(ContextNetwork(rng).standalone_row(quarter))
            for row in contexts:
                row["location"] = f"{rng.randint(1, 180)} {rng.choice(_STREETS)}"
            table, column, note = "contexts", "location", "a column of the contexts' street addresses"
        else:  # direct_identifier_contact
            rule = "direct_identifier"
            pack.columns["cases"].append("contact")
            for row in pack.tables["cases"]:
                first, last = rng.choice(_FIRST_NAMES), rng.choice(_SURNAMES)
                row["contact"] = f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@example.com"
            table, column, note = "cases", "contact", "a column of e-mail addresses"
        # Written under the explicit name: the bad-period name cannot come from a real quarter.
        path = write_pack(out_dir, pack, CSV_STYLE, seed, name=name)
        entries.append(_reject_entry(name, rule, table, column, note))
        rows[name] = {
            table_name: 0 if table_name in pack.empty_files else len(table_rows)
            for table_name, table_rows in pack.tables.items()
        }
        paths.append(path)
        report(f"{name}: rejected pack ({fault})")
    return paths, entries, rows


def _reject_entry(
    pack: str, rule: str, table: str | None, column: str | None, note: str
) -> dict[str, Any]:
    return {"pack": pack, "outcome": "reject", "table": table, "row_number": None,
            "column": column, "rule": rule, "note": note}
