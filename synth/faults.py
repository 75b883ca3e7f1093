"""Planted row faults and the manifest that describes every planted fault: bad rows put into clean
packs, each one to be quarantined (the rejected packs are synth/rejected_packs.py), so validation
and quarantine can be checked end to end against ``faults_manifest.json``.

The bad rows follow the registry of rule kinds (config/rule_kinds.yaml): every rule on every
contract column gets a row that breaks it and nothing else, made by the plant operation its kind
names. A new kind that uses one of the operations here is planted without any change to this file."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets.config import contract
from assets.contract_rules import ColumnRule, code_values, contract_rules, fill_value
from synth.activity import action_row, activity_window, choose_meeting_type, meeting_row
from synth.cases import CaseFactory, LogicalPack, Raw
from synth.contexts import ContextNetwork
from synth.draws import random_date
from synth.population import NEUTRAL_PRACTICE, Quarter
from synth.vocabulary import TABLES
from synth.writers import PackStyle, pack_entry_name

MANIFEST_NAME = "faults_manifest.json"

# Identifiers planted by the fault injector use a prefix that clean identifiers never have
# (clean ones are a letter and seven digits starting 1-8), so they can never collide.
PLANTED_ID_PREFIX = "9"


# --------------------------------------------------------------------------------------------
# Row faults
# --------------------------------------------------------------------------------------------


class PlantError(ValueError):
    """A rule kind's plant entry (config/rule_kinds.yaml) names no operation of this module, or
    lacks what its operation needs; the message names the kind."""


class PlantSkipped(Exception):
    """The rule cannot be broken on a row without breaking another rule of that row too."""


@dataclass
class Plant:
    """One rule being broken: the planted rows (one, or two that share a value), the columns the
    operation changed on them, and what an operation needs of the rule and the pack."""

    rule: ColumnRule
    rows: list[dict[str, Any]]
    quarter: Quarter
    new_row: Callable[[], dict[str, Any]]  # another clean row of the same table (and case)
    taken_texts: set[tuple[str, str, str]]  # fixed texts already planted in the pack's unique columns
    table_rows: Sequence[dict[str, Any]] = ()  # the pack's rows of the table, before this plant
    changed: set[str] = field(default_factory=set)
    claimed_texts: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def column(self) -> str:
        return self.rule.column

    def put(self, column: str, value: Any, rows: Sequence[dict[str, Any]] | None = None) -> None:
        for row in self.rows[:1] if rows is None else rows:
            row[column] = value
        self.changed.add(column)

    def argument(self, name: str) -> Any:
        """An argument of the kind's plant entry, its templates filled in for this column."""
        entry = self.rule.kind.plant
        if name not in entry:
            raise PlantError(f"config/rule_kinds.yaml: kind {self.rule.kind.name}: plant operation "
                             f"{entry['operation']} needs '{name}'")
        return fill_value(entry[name], self.rule.values(sql=False))

    def other_column(self, key: str = "param") -> str:
        """The column of the same row that the rule compares this one with (its spec's param)."""
        name = self.rule.values(sql=False).get(key)
        if name not in contract()["tables"][self.rule.table]["columns"]:
            raise PlantError(f"config/rule_kinds.yaml: kind {self.rule.kind.name}: plant operation "
                             f"{self.rule.kind.plant['operation']} needs a column of {self.rule.table} as "
                             f"its {key}, not {name!r}")
        return name


# Plant operations: each changes a clean row so that it breaks its rule, and says what it did in
# words that hold no value (they go into the manifest's note).


def plant_set(plant: Plant) -> str:
    """The column's text becomes `value`."""
    text = str(plant.argument("value"))
    if not text.strip():
        plant.put(plant.column, None)  # written as each pack form writes a missing value
        return "left blank"
    key = (plant.rule.table, plant.column, text)
    if must_differ(plant.rule.table, plant.column):
        # Two kinds planting the same text on a column that must differ on every row would break
        # that too; the later one in contract order is skipped in this pack.
        if key in plant.taken_texts:
            raise PlantSkipped(f"{text!r} is already planted in {plant.column}, which must differ on every row")
        plant.claimed_texts.add(key)
    plant.put(plant.column, Raw(text))
    return "set to text that breaks it"


def plant_outside_range(plant: Plant) -> str:
    """A whole number just past the range: the maximum plus 15 where there is one, else the minimum
    minus 1 (a whole number, so no type rule is broken with it)."""
    spec = plant.rule.spec
    if spec.get("max") is not None:
        plant.put(plant.column, int(spec["max"]) + 15)
        return "set above the maximum"
    if spec.get("min") is not None:
        plant.put(plant.column, int(spec["min"]) - 1)
        return "set below the minimum"
    raise PlantError(f"config/rule_kinds.yaml: kind {plant.rule.kind.name}: {plant.rule.table}.{plant.column} "
                     "has neither a min nor a max to plant outside")


def plant_longer_than(plant: Plant) -> str:
    """The clean value, padded to one character more than `length` (so still different from every
    other row's)."""
    length = int(plant.argument("length"))
    if plant.rule.spec.get("references"):
        # A longer value is no reference of the other table (whose own are at most as long), so it
        # would break the reference rule too.
        raise PlantSkipped(f"a longer {plant.column} could not be a {plant.rule.spec['references']}")
    clean = plant.rows[0].get(plant.column)
    plant.put(plant.column, Raw(("" if clean is None else str(clean)).ljust(length + 1, "X")))
    return "one character longer than allowed"


def plant_copy_from_other_row(plant: Plant) -> str:
    """A second planted row takes the first one's (newly made) value: both rows break the rule."""
    shared = plant.rows[0].get(plant.column)
    if shared is None:
        # A blank is never a duplicate, so there is nothing to share.
        raise PlantSkipped(f"the clean row has no {plant.column} to share")
    second = plant.new_row()
    plant.rows.append(second)
    plant.put(plant.column, shared, rows=[second])
    return "the same as on another planted row"


def plant_copy_pair_from_other_row(plant: Plant) -> str:
    """A second planted row takes the first one's pair of values (its column and the `param`
    column, a case and a context): both rows break the rule."""
    other = plant.other_column()
    first = plant.rows[0]
    if first.get(plant.column) is None or first.get(other) is None:
        raise PlantSkipped(f"the clean row has no {other} and {plant.column} pair to share")
    second = plant.new_row()
    plant.rows.append(second)
    plant.put(other, first[other], rows=[second])
    plant.put(plant.column, first[plant.column], rows=[second])
    return f"the same {other} and {plant.column} as on another planted row"


def plant_date_after_period(plant: Plant) -> str:
    """`days` after the last day of the pack's quarter."""
    plant.put(plant.column, plant.quarter.end + dt.timedelta(days=int(plant.argument("days"))))
    return "dated after the end of the quarter"


def plant_date_before_column(plant: Plant) -> str:
    """`days` before the other column's date (given a valid date where the clean row has none)."""
    other = plant.other_column()
    base = plant.rows[0].get(other)
    if not isinstance(base, dt.date):
        base = plant.quarter.start
        plant.put(other, base)
    plant.put(plant.column, base - dt.timedelta(days=int(plant.argument("days"))))
    return f"dated before {other}"


def plant_above_column(plant: Plant) -> str:
    other = plant.other_column()
    plant.put(other, 1)
    plant.put(plant.column, 3)
    return f"larger than {other}"


def plant_yes_where_other_no(plant: Plant) -> str:
    other = plant.other_column()
    plant.put(plant.column, True)
    plant.put(other, False)
    return f"Y where {other} is N"


def plant_blank_where_required(plant: Plant) -> str:
    key = plant.other_column("param_key")
    value = plant.rule.values(sql=False)["param_value"]
    plant.put(key, Raw(value))
    plant.put(plant.column, None)
    return f"blank where {key} is {value}"


PLANT_OPERATIONS: dict[str, Callable[[Plant], str]] = {
    "set": plant_set,
    "outside_range": plant_outside_range,
    "longer_than": plant_longer_than,
    "copy_from_other_row": plant_copy_from_other_row,
    "copy_pair_from_other_row": plant_copy_pair_from_other_row,
    "date_after_period": plant_date_after_period,
    "date_before_column": plant_date_before_column,
    "above_column": plant_above_column,
    "yes_where_other_no": plant_yes_where_other_no,
    "blank_where_required": plant_blank_where_required,
}


# Keeping a rule clear: where a planted row changes a column that another rule of the row compares
# with, that other rule's own column is set so that it holds whatever the changed column now says
# (a blank end date cannot be before any referral date). Keyed by that rule's plant operation.


def clear_by_blank(plant: Plant, rule: ColumnRule) -> None:
    # A column that may not be blank cannot be kept clear this way: the plant would break its
    # blank rule as well, so it is skipped (the same rule and column every time).
    if blank_breaks(rule.table, rule.column):
        raise PlantSkipped(f"{rule.column} would have to be blank to keep {rule.rule} clear, and may not be")
    plant.put(rule.column, None, rows=plant.rows)


def clear_by_no(plant: Plant, rule: ColumnRule) -> None:
    plant.put(rule.column, False, rows=plant.rows)


def clear_by_filling_in(plant: Plant, rule: ColumnRule) -> None:
    blank = [row for row in plant.rows if row.get(rule.column) is None]
    if not blank:
        return
    # Only a code column has a value known to be valid whatever the row says; any other is skipped.
    if rule.spec["type"] not in ("code", "codelist"):
        raise PlantSkipped(f"{rule.column} would have to be filled in to keep {rule.rule} clear, "
                           "and no valid value of it is known")
    first = code_values(rule.spec)[0]
    plant.put(rule.column, (first,) if rule.spec["type"] == "codelist" else first, rows=blank)


def clear_pair_unrepeated(plant: Plant, rule: ColumnRule) -> None:
    # A pair that must appear once stays clear while no other row of the pack has the planted
    # rows' pair; planted rows sit on cases of their own, so this only skips a plant by chance.
    other = rule.values(sql=False)["param"]
    taken = {(row.get(other), row.get(rule.column)) for row in plant.table_rows}
    pairs = [(row.get(other), row.get(rule.column)) for row in plant.rows]
    if any(None not in pair and (pair in taken or pairs.count(pair) > 1) for pair in pairs):
        raise PlantSkipped(f"the planted {other} and {rule.column} pair is already in the table")


KEEP_CLEAR: dict[str, Callable[[Plant, ColumnRule], None]] = {
    "date_before_column": clear_by_blank,
    "above_column": clear_by_blank,
    "yes_where_other_no": clear_by_no,
    "blank_where_required": clear_by_filling_in,
    "copy_pair_from_other_row": clear_pair_unrepeated,
}


def keep_other_rules_clear(plant: Plant) -> None:
    """Every other rule of the planted rows that compares a changed column with its own is kept
    clear, and so on for the columns that changes in turn; the operation's own columns are left
    as it set them. A rule that cannot be kept clear skips the plant."""
    owned = set(plant.changed)
    pending = sorted(owned)
    seen: set[str] = set()
    while pending:
        column = pending.pop(0)
        if column in seen:
            continue
        seen.add(column)
        for other in table_rules(plant.rule.table):
            if other.column in owned or column not in compared_columns(other):
                continue
            keep_clear = KEEP_CLEAR.get(other.kind.plant.get("operation"))
            # A kind comparing two columns with no way here to hold it whatever the other says
            # could be broken by this plant too, so the plant is skipped rather than risk it.
            if keep_clear is None:
                raise PlantSkipped(f"{other.rule} on {other.column} compares it with {column} and cannot be kept clear")
            keep_clear(plant, other)
            pending.append(other.column)


def plant_operation(rule: ColumnRule) -> Callable[[Plant], str]:
    name = rule.kind.plant.get("operation")
    operation = PLANT_OPERATIONS.get(name)
    if operation is None:
        raise PlantError(f"config/rule_kinds.yaml: kind {rule.kind.name}: no plant operation {name!r} in "
                         f"synth/faults.py (there are {', '.join(PLANT_OPERATIONS)})")
    return operation


def table_rules(table: str) -> list[ColumnRule]:
    return [rule for rule in contract_rules() if rule.table == table]


def compared_columns(rule: ColumnRule) -> set[str]:
    """The other columns of the same row that a rule reads (its param, or a mapping param's key)."""
    values = rule.values(sql=False)
    columns = contract()["tables"][rule.table]["columns"]
    return {values[key] for key in ("param", "param_key")
            if isinstance(values.get(key), str) and values[key] in columns and values[key] != rule.column}


def blank_breaks(table: str, column: str) -> bool:
    """Whether a blank breaks a rule of the column: one that the registry plants by blanking it."""
    return any(rule.column == column and rule.kind.plant.get("operation") == "set"
               and not str(rule.kind.plant.get("value", "x")).strip() for rule in table_rules(table))


def must_differ(table: str, column: str) -> bool:
    """Whether the column must differ on every row: a rule of it is planted by sharing a value."""
    return any(rule.column == column and rule.kind.plant.get("operation") == "copy_from_other_row"
               for rule in table_rules(table))


class RowFaultPlanter:
    """Plants row-level faults into one logical pack: for each rule, rows that break it alone.

    Case and context faults go on newly added cases and contexts that nothing else refers to, so
    no other row depends on a quarantined one. Meeting, action and case_contexts faults go on newly
    added rows attached to a different clean case each (a "carrier"; a link also to a clean
    context the carrier is not linked to yet), so every planted fault has its own case and the
    pack's original rows all stay clean. Planted rows are inserted at seeded positions; their row
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
        self.taken_texts: set[tuple[str, str, str]] = set()
        # Contexts draw from a stream of their own, so the other tables' plants are drawn as
        # they are in a pack without contexts.
        self.contexts = ContextNetwork(random.Random(f"synth:{seed}:faults:{pack.name}:contexts"),
                                       id_prefix_digit=PLANTED_ID_PREFIX)

    def plant(self, rule: ColumnRule) -> bool:
        """Plant rows breaking one rule (two for a shared value); False where it was skipped."""
        operation = plant_operation(rule)
        new_row = self._clean_row_maker(rule.table)
        plant = Plant(rule, [new_row()], self.pack.quarter, new_row, self.taken_texts,
                      table_rows=self.pack.tables[rule.table])
        try:
            did = operation(plant)
            keep_other_rules_clear(plant)
        except PlantSkipped:
            return False
        self.taken_texts |= plant.claimed_texts
        note = f"{rule.column}: {rule.describe() or rule.rule} broken ({did})"
        for row in plant.rows:
            self._insert(rule.table, row, self._entry(rule.table, rule.column, rule.rule, note))
        return True

    def _clean_row_maker(self, table: str) -> Callable[[], dict[str, Any]]:
        """Makes clean rows to plant on: fresh cases or contexts, or meetings, actions or links on
        one new carrier."""
        if table == "cases":
            return self._fresh_case
        if table == "contexts":
            return lambda: self.contexts.standalone_row(self.pack.quarter)
        make = {"meetings": self._meeting, "actions": self._action, "case_contexts": self._link}.get(table)
        if make is None:
            raise PlantError(f"config/contract.yaml: synth makes no rows of table {table}")
        carrier = self._carrier()
        return lambda: make(carrier)

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
        row = self._fresh_case()
        cases = self.pack.tables["cases"]
        cases.insert(self.rng.randint(0, len(cases)), row)
        return row

    def _fresh_case(self) -> dict[str, Any]:
        child = self.factory.new_child(self.pack.quarter, NEUTRAL_PRACTICE, first_quarter=False)
        return self.factory.case_row(child, self.pack.quarter, NEUTRAL_PRACTICE, ends=False)

    def _meeting(self, carrier: Mapping[str, Any]) -> dict[str, Any]:
        low, high = activity_window(carrier, self.pack.quarter)
        day = random_date(self.rng, low, high)
        meeting_type = choose_meeting_type(self.rng, carrier, NEUTRAL_PRACTICE)
        return meeting_row(self.rng, carrier, NEUTRAL_PRACTICE, day, meeting_type, self.factory.new_meeting_id())

    def _action(self, carrier: Mapping[str, Any]) -> dict[str, Any]:
        low, high = activity_window(carrier, self.pack.quarter)
        day = random_date(self.rng, low, high)
        return action_row(self.rng, carrier, NEUTRAL_PRACTICE, day, self.factory.new_action_id())

    def _link(self, carrier: Mapping[str, Any]) -> dict[str, Any]:
        """A link from the carrier to a clean context it is not yet linked to (a new clean context
        where there is none)."""
        linked = {row["context_id"] for row in self.pack.tables["case_contexts"]
                  if row["case_id"] == carrier["case_id"]}
        free = [row for row in self.pack.tables["contexts"]
                if "_fault_entry" not in row and row["context_id"] not in linked]
        if free:
            context = self.rng.choice(free)
        else:
            context = self.contexts.standalone_row(self.pack.quarter)
            contexts = self.pack.tables["contexts"]
            contexts.insert(self.rng.randint(0, len(contexts)), context)
        return self.contexts.link_row(carrier["case_id"], context)

    def finalise(self) -> list[dict[str, Any]]:
        """Fill in the planted rows' data row numbers (1 = first row after the header)."""
        for rows in self.pack.tables.values():
            for number, row in enumerate(rows, start=1):
                entry = row.pop("_fault_entry", None)
                if entry is not None:
                    entry["row_number"] = number
        return self.entries


def plant_row_faults(
    packs: Sequence[LogicalPack], styles: Mapping[str, PackStyle], seed: int
) -> list[dict[str, Any]]:
    """Plant one fault for every rule on every contract column (config/rule_kinds.yaml), spread
    round-robin over up to three packs; return the manifest entries. A rule that cannot be broken
    on a row without breaking another there too (``PlantSkipped``) is left out.

    Packs with every table (contexts recorded) are preferred, so the optional tables' rules are
    planted too, and among them plain CSV packs, so the planted text ("31/13/2025", "abc") reads
    back exactly as written; any pack will do when there is none. A rule on a table or column the
    chosen packs leave out is not planted.
    """
    rules = contract_rules()
    for rule in rules:  # a kind with an unknown operation fails before anything is planted
        plant_operation(rule)
    complete = [pack for pack in packs if set(TABLES) <= set(pack.tables)]
    candidates = next(group for group in (
        [pack for pack in complete if styles[pack.name].all_csv], complete,
        [pack for pack in packs if styles[pack.name].all_csv], list(packs)) if group)
    rng = random.Random(f"synth:{seed}:fault-packs")
    chosen = sorted(rng.sample(candidates, min(3, len(candidates))), key=lambda p: p.name)
    planters = [
        RowFaultPlanter(pack, pack_entry_name(pack, styles[pack.name]), seed) for pack in chosen
    ]
    for index, rule in enumerate(rules):
        able = [planter for planter in planters if rule.column in planter.pack.columns.get(rule.table, ())]
        if able:
            able[index % len(able)].plant(rule)
    return [entry for planter in planters for entry in planter.finalise()]


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
