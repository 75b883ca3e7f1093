"""Disclosure control: the one step every published number passes through.

Following Government Statistical Service and DfE practice for children's social care:
- primary suppression: a count from 1 to the threshold (default 5, config/publication.yaml) is
  shown as [c]; a true zero is shown as 0;
- a count whose complement (denominator - numerator) is from 1 to the threshold is suppressed, so
  the small group cannot be read by subtraction; a rate is suppressed when its numerator or its
  denominator is;
- secondary suppression: where the members of a group add up to a published total (LAs to the
  partnership, rules to a pack's quarantined rows), no suppressed cell may be recoverable by
  subtraction, so the next smallest cells are suppressed until the suppressed cells of the group
  add up to more than the threshold (or to zero) and number at least two. A suppressed total is
  treated as unknown.

Published tables hold numbers as floats with a parallel boolean `<column>_suppressed`; the
renderers write [c] (site) or c (exports) where it is true."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from assets.config import load_yaml

SYMBOLS = {
    "c": "confidential: suppressed to protect children's privacy",
    "z": "not applicable",
    "x": "not available",
}


@cache
def threshold() -> int:
    """The largest count that is never published (config/publication.yaml)."""
    return int(load_yaml("publication.yaml")["disclosure"]["threshold"])


def is_small(values, limit: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return (v >= 1) & (v <= limit)


@dataclass(frozen=True)
class Relation:
    """Members (rows where `member` is true) of each group add up to the group's total row."""

    group_by: tuple[str, ...]
    total_flag: str  # boolean column: this row is the group's total


def suppress_counts(frame: pd.DataFrame, numerator: str = "numerator", denominator: str | None = "denominator",
                    relation: Relation | None = None, limit: int | None = None) -> pd.DataFrame:
    """Suppress counts (and their complements) in a table, adding `<column>_suppressed` flags.

    Rows are cells of one measure. With `relation`, member rows of each group sum to its total
    row, and secondary suppression is applied within the group, column by column."""
    limit = threshold() if limit is None else limit
    out = frame.copy()
    columns = [numerator] + ([denominator] if denominator else [])
    for column in columns:
        out[f"{column}_suppressed"] = is_small(out[column], limit)
    if denominator:
        complement = out[denominator] - out[numerator]
        # A small denominator hides its numerator too; a small complement hides the numerator.
        out[f"{numerator}_suppressed"] |= out[f"{denominator}_suppressed"] | is_small(complement, limit)
    if relation is not None:
        changed = True
        while changed:  # suppressing a numerator can call for a denominator, and back
            changed = False
            for column in columns:
                changed |= secondary(out, column, relation, limit)
            if denominator:
                # A numerator recoverable from a published denominator and rate is covered by the
                # rate rule; a hidden denominator must hide its numerator (num <= den bounds it).
                extra = out[f"{denominator}_suppressed"] & ~out[f"{numerator}_suppressed"]
                if extra.any():
                    out.loc[extra, f"{numerator}_suppressed"] = True
                    changed = True
    return out


def secondary(out: pd.DataFrame, column: str, relation: Relation, limit: int) -> bool:
    """Within each group, make sure suppressed members cannot be recovered from the total: while
    the hidden members are one alone, or sum to a small count, hide the smallest published member
    too (or, when none is left, the total). Plain arrays: a national table has thousands of groups."""
    flag = f"{column}_suppressed"
    values = out[column].to_numpy(dtype=float, na_value=np.nan)
    flags = out[flag].to_numpy(dtype=bool).copy()
    is_total = out[relation.total_flag].to_numpy(dtype=bool)
    changed = False
    for positions in out.groupby(list(relation.group_by), sort=False, dropna=False).indices.values():
        totals, members = positions[is_total[positions]], positions[~is_total[positions]]
        if not len(totals):
            continue
        if flags[totals].all():
            # A hidden total is unknown only while a member is hidden too: were every member shown,
            # their sum would give the total back (and, where the total is a member of another
            # relation, whatever it was hidden to protect there).
            shown_members = members[~flags[members]]
            if len(shown_members) == len(members) and np.nansum(values[members]) > 0:
                nonzero = shown_members[values[shown_members] > 0]
                flags[nonzero[np.argmin(values[nonzero])]] = True
                changed = True
            continue
        while True:
            hidden = members[flags[members]]
            if not len(hidden):
                break
            hidden_sum = float(np.nansum(values[hidden]))
            if len(hidden) >= 2 and (hidden_sum == 0 or hidden_sum > limit):
                break
            candidates = members[~flags[members]]
            if not len(candidates):
                # Every member is hidden and their sum is still small: hide the total as well.
                flags[totals] = True
                changed = True
                break
            known = values[candidates]
            flags[candidates[np.nanargmin(known) if not np.isnan(known).all() else 0]] = True
            changed = True
    out[flag] = flags
    return changed


def suppress_in_relations(frame: pd.DataFrame, column: str, relations: list[Relation],
                          limit: int | None = None, also: pd.Series | None = None) -> pd.DataFrame:
    """Suppress one count column where a cell belongs to several additive relations at once (an
    LA's count adds up with the others' to the partnership's, and its bands add up to its total):
    primary suppression (and the cells in `also`), then secondary suppression in each relation in
    turn until none hides anything more."""
    limit = threshold() if limit is None else limit
    out = frame.copy()
    out[f"{column}_suppressed"] = is_small(out[column], limit)
    if also is not None:
        out[f"{column}_suppressed"] |= also.to_numpy(dtype=bool)
    changed = True
    while changed:
        changed = False
        for relation in relations:
            changed |= secondary(out, column, relation, limit)
    return out


def suppress_rates(frame: pd.DataFrame, numerator: str = "numerator", denominator: str = "denominator",
                   rate_columns: tuple[str, ...] = ("rate", "ci_low", "ci_high")) -> pd.DataFrame:
    """A rate (and its interval) is suppressed when its numerator or denominator is."""
    out = frame.copy()
    hidden = out[f"{numerator}_suppressed"] | out[f"{denominator}_suppressed"]
    for column in rate_columns:
        out[f"{column}_suppressed"] = hidden
    return out


def suppress_scores(frame: pd.DataFrame, basis: str, score_columns: tuple[str, ...], limit: int | None = None
                    ) -> pd.DataFrame:
    """A mean score over few cases describes those children: hidden where its `basis` (the number
    of cases it averages) is from 1 to the threshold."""
    limit = threshold() if limit is None else limit
    out = frame.copy()
    small = is_small(out[basis], limit)
    for column in score_columns:
        out[f"{column}_suppressed"] = small
    return out


def shown(value, suppressed: bool, symbol: str = "[c]", digits: int | None = None) -> str:
    """A published cell as text: the symbol where suppressed, [z] where not applicable."""
    if suppressed:
        return symbol
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "[z]" if symbol == "[c]" else "z"
    if digits is not None:
        return f"{value:.{digits}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
