"""Seeded random draws shared by the case, activity, encoding and fault code."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence

from synth.vocabulary import codes


def weighted_choice(
    rng: random.Random, choices: Sequence[str], weights: Mapping[str, float], default: float = 0.0
) -> str:
    """Pick one of ``choices`` (a contract vocabulary) with the given relative weights.

    Choices missing from ``weights`` get ``default``. A weight for a code the contract does not know
    is an error, so a renamed code in the contract cannot silently vanish from the synthetic data.
    """
    unknown = weights.keys() - set(choices)
    if unknown:
        raise ValueError(f"weights name codes outside the contract vocabulary: {sorted(unknown)}")
    return rng.choices(choices, weights=[weights.get(code, default) for code in choices])[0]


def pick(
    rng: random.Random, table: str, column: str, weights: Mapping[str, float], default: float = 0.0
) -> str:
    """Pick a value of a contract code column with the given relative weights."""
    return weighted_choice(rng, codes(table, column), weights, default)


def random_date(rng: random.Random, low: dt.date, high: dt.date) -> dt.date:
    """A uniformly random date in [low, high]."""
    return low + dt.timedelta(days=rng.randint(0, (high - low).days))


def chance(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability


def age_on(birth_date: dt.date, on: dt.date) -> int:
    """Age in whole years on a date."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday


def next_risk_level(rng: random.Random, levels: Sequence[str], start: str, fall_below: float,
                    rise_above: float) -> str:
    """A risk level a quarter on from `start` (levels low to high): one step down when a roll is
    under `fall_below`, one step up when it is over `rise_above`, else the same. One roll."""
    index = levels.index(start)
    roll = rng.random()
    if roll < fall_below:
        index = max(0, index - 1)
    elif roll > rise_above:
        index = min(len(levels) - 1, index + 1)
    return levels[index]
