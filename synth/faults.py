"""Planted faults and the manifest that describes them: bad rows put into clean packs (each one to
be quarantined) and whole packs that must be rejected, so validation and quarantine can be checked
end to end against ``faults_manifest.json``."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from synth.activity import action_row, activity_window, choose_meeting_type, meeting_row
from synth.cases import CaseFactory, LogicalPack, Raw, generate_la_packs
from synth.draws import random_date
from synth.population import NEUTRAL_PRACTICE, Quarter, english_codes, welsh_codes
from synth.writers import CSV_STYLE, PackStyle, clear_pack_slot, pack_entry_name, write_pack

MANIFEST_NAME = "faults_manifest.json"

# Identifiers planted by the fault injector use a prefix that clean identifiers never have
# (clean ones are a letter and seven digits starting 1-8), so they can never collide.
PLANTED_ID_PREFIX = "9"
UNKNOWN_CASE_ID = "C0000000"


# --------------------------------------------------------------------------------------------
# Row faults
# --------------------------------------------------------------------------------------------


class RowFaultPlanter:
    """Plants row-level faults into one logical pack, each on a fresh row.

    Case faults go on newly added cases with no meetings or actions, so no other row depends on
    a quarantined case. Meeting and action faults go on newly added rows attached to a different
    clean case each (a "carrier"), so every planted fault has its own case and the pack's
    original rows all stay clean. Planted rows are inserted at seeded positions; their row
    numbers are filled in by ``finalise`` once every row is in place.
    """

    def __init__(self, pack: LogicalPack, entry_name: str, seed: int | str) -> None:
        self.pack = pack
        self.entry_name = entry_name
        self.rng = random.Random(f"synth:{seed}:faults:{pack.name}")
        self.factory = CaseFactory(self.rng, id_prefix_digit=PLANTED_ID_PREFIX)
        self.carriers = list(pack.tables["cases"])
        self.rng.shuffle(self.carriers)
        self.entries: list[dict[str, Any]] = []

    def _entry(self, table: str, column: str, rule: str, note: str) -> dict[str, Any]:
        entry = {"pack": self.entry_name, "outcome": "quarantine", "table": table,
                 "row_number": None, "column": column, "rule": rule, "note": note}
        self.entries.append(entry)
        return entry

    def _insert(self, table: str, row: dict[str, Any], entry: dict[str, Any]) -> None:
        row["_fault_entry"] = entry
        rows = self.pack.tables[table]
        rows.insert(self.rng.randint(0, len(rows)), row)

    def _carrier(self) -> dict[str, Any]:
        """A clean case with no planted fault yet; adds a fresh clean case when none is left."""
        if self.carriers:
            return self.carriers.pop()
        child = self.factory.new_child(self.pack.quarter, NEUTRAL_PRACTICE, first_quarter=False)
        row = self.factory.case_row(child, self.pack.quarter, NEUTRAL_PRACTICE, ends=False)
        cases = self.pack.tables["cases"]
        cases.insert(self.rng.randint(0, len(cases)), row)
        return row

    def _fresh_case(self) -> dict[str, Any]:
        child = self.factory.new_child(self.pack.quarter, NEUTRAL_PRACTICE, first_quarter=False)
        return self.factory.case_row(child, self.pack.quarter, NEUTRAL_PRACTICE, ends=False)

    def _meeting(self, carrier: Mapping[str, Any], meeting_id: str | None = None) -> dict:
        low, high = activity_window(carrier, self.pack.quarter)
        day = random_date(self.rng, low, high)
        meeting_type = choose_meeting_type(self.rng, carrier, NEUTRAL_PRACTICE)
        return meeting_row(self.rng, carrier, NEUTRAL_PRACTICE, day, meeting_type,
                           meeting_id or self.factory.new_meeting_id())

    def _action(self, carrier: Mapping[str, Any]) -> dict[str, Any]:
        low, high = activity_window(carrier, self.pack.quarter)
        day = random_date(self.rng, low, high)
        return action_row(self.rng, carrier, NEUTRAL_PRACTICE, day, self.factory.new_action_id())

    # Each planter adds exactly one fault (the duplicate-ID fault adds its two rows).

    def case_fault(self, rule: str) -> None:
        row = self._fresh_case()
        quarter = self.pack.quarter
        if rule == "required":
            row["harm_types"] = None
            entry = self._entry("cases", "harm_types", rule, "harm_types is blank")
        elif rule == "type_integer":
            row["age"] = Raw("abc")
            entry = self._entry("cases", "age", rule, "age is 'abc', not a whole number")
        elif rule == "range":
            row["age"] = 40
            entry = self._entry("cases", "age", rule, "age 40 is above the maximum of 25")
        elif rule == "vocabulary":
            row["sex"] = Raw("Q")
            entry = self._entry("cases", "sex", rule, "sex 'Q' is not one of F, M, X, U")
        elif rule == "return_interviews_exceed_missing":
            row["missing_episodes"], row["return_interviews_72h"] = 1, 3
            entry = self._entry("cases", "return_interviews_72h", rule,
                                "3 return interviews for 1 missing episode")
        elif rule == "end_before_referral":
            referral = quarter.start + dt.timedelta(days=self.rng.randint(15, 60))
            row["referral_date"] = referral
            row["case_end_date"] = referral - dt.timedelta(days=self.rng.randint(1, 14))
            entry = self._entry("cases", "case_end_date", rule,
                                "case_end_date is before referral_date")
        else:
            raise ValueError(f"no case planter for rule {rule!r}")
        self._insert("cases", row, entry)

    def meeting_fault(self, rule: str) -> None:
        carrier = self._carrier()
        if rule == "unique":
            shared_id = self.factory.new_meeting_id()
            for _ in range(2):
                entry = self._entry("meetings", "meeting_id", rule,
                                    f"meeting_id {shared_id} appears twice")
                self._insert("meetings", self._meeting(carrier, shared_id), entry)
            return
        row = self._meeting(carrier)
        if rule == "type_date":
            row["meeting_date"] = Raw(f"31/02/{self.pack.quarter.year}")
            entry = self._entry("meetings", "meeting_date", rule,
                                f"meeting_date 31/02/{self.pack.quarter.year} is not a date")
        elif rule == "vocabulary":
            row["meeting_type"] = Raw("lunch")
            entry = self._entry("meetings", "meeting_type", rule,
                                "meeting_type 'lunch' is not in the vocabulary")
        elif rule == "references":
            row["case_id"] = UNKNOWN_CASE_ID
            entry = self._entry("meetings", "case_id", rule,
                                f"case_id {UNKNOWN_CASE_ID} is not in cases")
        elif rule == "attended_not_invited":
            row["parent_invited"], row["parent_attended"] = False, True
            entry = self._entry("meetings", "parent_attended", rule,
                                "parent_attended Y but parent_invited N")
        else:
            raise ValueError(f"no meeting planter for rule {rule!r}")
        self._insert("meetings", row, entry)

    def action_fault(self, rule: str) -> None:
        row = self._action(self._carrier())
        if rule == "outside_period":
            row["action_date"] = self.pack.quarter.start - dt.timedelta(
                days=self.rng.randint(20, 80))
            entry = self._entry("actions", "action_date", rule,
                                f"action_date {row['action_date'].isoformat()} is before "
                                f"{self.pack.quarter.label}")
        elif rule == "info_source_required":
            row["action_type"], row["lead_agency"], row["info_source"] = (
                "intelligence_submission", "police", None)
            entry = self._entry("actions", "info_source", rule,
                                "intelligence_submission without info_source")
        elif rule == "required":
            row["lead_agency"] = None
            entry = self._entry("actions", "lead_agency", rule, "lead_agency is blank")
        elif rule == "references":
            row["case_id"] = UNKNOWN_CASE_ID
            entry = self._entry("actions", "case_id", rule,
                                f"case_id {UNKNOWN_CASE_ID} is not in cases")
        else:
            raise ValueError(f"no action planter for rule {rule!r}")
        self._insert("actions", row, entry)

    def finalise(self) -> list[dict[str, Any]]:
        """Fill in the planted rows' data row numbers (1 = first row after the header)."""
        for rows in self.pack.tables.values():
            for number, row in enumerate(rows, start=1):
                entry = row.pop("_fault_entry", None)
                if entry is not None:
                    entry["row_number"] = number
        return self.entries


# (table, rule) for every row-level fault planted; spread round-robin over the faulty packs.
ROW_FAULTS: tuple[tuple[str, str], ...] = (
    ("cases", "required"),
    ("cases", "type_integer"),
    ("meetings", "type_date"),
    ("cases", "range"),
    ("cases", "vocabulary"),
    ("meetings", "vocabulary"),
    ("meetings", "unique"),
    ("meetings", "references"),
    ("actions", "outside_period"),
    ("cases", "return_interviews_exceed_missing"),
    ("meetings", "attended_not_invited"),
    ("cases", "end_before_referral"),
    ("actions", "info_source_required"),
    ("actions", "required"),
    ("actions", "references"),
)


def plant_row_faults(
    packs: Sequence[LogicalPack], styles: Mapping[str, PackStyle], seed: int
) -> list[dict[str, Any]]:
    """Plant every ``ROW_FAULTS`` entry into up to three packs; return the manifest entries.

    Plain CSV packs are preferred so the planted text ("31/02/2025", "abc") reads back exactly
    as written; any pack will do when no CSV pack exists.
    """
    candidates = [pack for pack in packs if styles[pack.name].all_csv] or list(packs)
    rng = random.Random(f"synth:{seed}:fault-packs")
    chosen = sorted(rng.sample(candidates, min(3, len(candidates))), key=lambda p: p.name)
    planters = [
        RowFaultPlanter(pack, pack_entry_name(pack, styles[pack.name]), seed) for pack in chosen
    ]
    for index, (table, rule) in enumerate(ROW_FAULTS):
        planter = planters[index % len(planters)]
        {"cases": planter.case_fault, "meetings": planter.meeting_fault,
         "actions": planter.action_fault}[table](rule)
    return [entry for planter in planters for entry in planter.finalise()]


# --------------------------------------------------------------------------------------------
# Rejected packs
# --------------------------------------------------------------------------------------------

_FIRST_NAMES = ("Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Leo", "Freya",
                "Arthur", "Lily", "Muhammad", "Grace", "Harry", "Sophia", "Jack")
_SURNAMES = ("Jones", "Smith", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson",
             "Khan", "Patel", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Green")


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
        pack = generate_la_packs(la_code, [quarter], 8, f"{seed}:reject:{fault}")[0]
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


# --------------------------------------------------------------------------------------------
# The manifest
# --------------------------------------------------------------------------------------------


def write_manifest(
    out_dir: Path, entries: Sequence[dict[str, Any]], row_counts: Mapping[str, Mapping[str, int]]
) -> Path:
    """Write ``faults_manifest.json``: every planted fault, the rows written and the rows expected
    to load clean, per pack and table."""
    manifest = {
        "faults": sorted(entries, key=lambda e: (e["pack"], e["table"] or "",
                                                 e["row_number"] or 0, e["rule"])),
        "rows": row_counts,
        "clean_rows": _clean_row_counts(row_counts, entries),
    }
    path = out_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def _clean_row_counts(
    row_counts: Mapping[str, Mapping[str, int]], entries: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, int]]:
    """Rows expected to load clean: none in a rejected pack, else all but the listed rows."""
    rejected = {entry["pack"] for entry in entries if entry["outcome"] == "reject"}
    clean: dict[str, dict[str, int]] = {}
    for pack, tables in row_counts.items():
        clean[pack] = {}
        for table, total in tables.items():
            listed = sum(1 for entry in entries
                         if entry["pack"] == pack and entry["table"] == table
                         and entry["row_number"] is not None)
            clean[pack][table] = 0 if pack in rejected else total - listed
    return clean
