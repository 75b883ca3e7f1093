"""What the synthetic data needs to know of the export pack contract, derived from
``assets.config.contract()``: the tables and their columns, each column's type, the codes of a code
column and the accepted Y/N spellings."""

from __future__ import annotations

import functools

from assets.config import action_targets, contract

# Every table of the contract in contract order; the optional ones (contract v1.1: contexts and
# case_contexts) are left out of a pack from an LA whose case system does not record them yet.
TABLES = tuple(contract()["tables"])
OPTIONAL_TABLES = tuple(table for table in TABLES if contract()["tables"][table].get("optional"))


@functools.cache
def codes(table: str, column: str) -> tuple[str, ...]:
    """The contract vocabulary of a code or codelist column, in contract order."""
    spec = contract()["tables"][table]["columns"][column]
    if "values_from" in spec:
        groups = contract()[spec["values_from"]]
        return tuple(code for group in groups.values() for code in group)
    return tuple(spec["values"])


@functools.cache
def column_types(table: str) -> dict[str, str]:
    """Column name -> contract type for one table, in contract column order."""
    return {name: spec["type"] for name, spec in contract()["tables"][table]["columns"].items()}


@functools.cache
def refers_to_optional_table(table: str, column: str) -> bool:
    """Whether a column refers to an optional table (meetings.context_id): it came with that table
    and is left out with it."""
    target = contract()["tables"][table]["columns"][column].get("references", "")
    return target.split(".")[0] in OPTIONAL_TABLES


def contract_columns(optional: bool = True) -> dict[str, list[str]]:
    """Each table's columns in contract order; a fresh copy, since faults may add or remove one.

    Without ``optional``, a v1 pack's: no optional table, and no column referring to one.
    """
    if optional:
        return {table: list(column_types(table)) for table in TABLES}
    return {table: [column for column in column_types(table) if not refers_to_optional_table(table, column)]
            for table in TABLES if table not in OPTIONAL_TABLES}


@functools.cache
def action_types_by_target() -> dict[str, tuple[str, ...]]:
    """Action types grouped by target (child, parent, offender, context), in contract order.

    Grouped from the same mapping the indicators score actions by, so a synthetic action always
    counts towards the target it was drawn for.
    """
    grouped: dict[str, list[str]] = {}
    for action_type, target in action_targets().items():
        grouped.setdefault(target, []).append(action_type)
    return {target: tuple(types) for target, types in grouped.items()}


@functools.cache
def yes_no_pairs() -> dict[str, str]:
    """Accepted yes spelling -> matching no spelling (y->n, yes->no, true->false, 1->0)."""
    values = contract()["values"]
    return dict(zip(values["yes_values"], values["no_values"], strict=True))
