"""Who and when the synthetic data is about: which LAs, how many open cases each has (in proportion
to DfE table C3), the quarters, and how well each LA works from quarter to quarter."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from assets.config import CONFIG_DIR, local_authorities
from assets.reading import period_bounds
from synth.draws import chance

C3_PATH = (
    CONFIG_DIR / "reference" / "dfe" / "c3_factors_identified_at_end_of_assessment_2018_to_2025.csv"
)

# The last quarter of every run: the generated quarters always end here.
LAST_YEAR, LAST_QUARTER = 2025, 4

# C3 factors that together stand in for extra-familial harm when sizing an LA's caseload.
C3_EXPLOITATION_COLUMNS = (
    "Going_missing",
    "Child_sexual_exploitation",
    "Child_criminal_exploitation",
    "Trafficking",
    "Gangs",
)
NATIONAL_OPEN_CASES_PER_QUARTER = 25_000
MIN_CASES_PER_LA = 5


# --------------------------------------------------------------------------------------------
# Local authorities and their volumes
# --------------------------------------------------------------------------------------------


def english_codes() -> list[str]:
    return sorted(la.code for la in local_authorities().values() if la.country == "England")


def welsh_codes() -> list[str]:
    return sorted(la.code for la in local_authorities().values() if la.country == "Wales")


def _c3_number(text: str | None) -> int | None:
    """A C3 cell as a number; suppression and other markers (c, x, z, u, k) count as missing."""
    cleaned = (text or "").strip().replace(",", "")
    return int(cleaned) if cleaned.isdigit() else None


@functools.cache
def c3_exploitation_totals() -> dict[str, int]:
    """Latest published C3 total of the exploitation factors for each LA in the C3 table.

    The total is the sum of the factors in ``C3_EXPLOITATION_COLUMNS`` that are published (markers
    are skipped). "Latest" is the most recent year in which at least one of them is published, so
    an LA whose latest row is fully suppressed falls back to its previous year.
    """
    latest: dict[str, tuple[int, int]] = {}
    with C3_PATH.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["geographic_level"] != "Local authority":
                continue
            published = [_c3_number(row[column]) for column in C3_EXPLOITATION_COLUMNS]
            known = [value for value in published if value is not None]
            if not known:
                continue
            year = int(row["time_period"][:4])
            code = row["new_la_code"]
            if code not in latest or year > latest[code][0]:
                latest[code] = (year, sum(known))
    return {code: total for code, (_year, total) in sorted(latest.items())}


def national_case_counts(scale: float = 1.0) -> dict[str, int]:
    """Open EFH cases per quarter for every English LA, proportional to its C3 exploitation total.

    ``scale`` multiplies the national volume: 1.0 gives about ``NATIONAL_OPEN_CASES_PER_QUARTER``
    (25,000) cases across the 153 English LAs, 0.1 about 2,500. Each LA gets
    ``round(share * 25,000 * scale)`` cases and at least ``MIN_CASES_PER_LA``. An English LA with
    no published C3 figures at all gets the median count.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    english = english_codes()
    totals = {code: total for code, total in c3_exploitation_totals().items() if code in english}
    grand_total = sum(totals.values())
    national = NATIONAL_OPEN_CASES_PER_QUARTER * scale
    counts = {
        code: max(MIN_CASES_PER_LA, round(total / grand_total * national))
        for code, total in totals.items()
    }
    median = sorted(counts.values())[len(counts) // 2]
    return {code: counts.get(code, median) for code in english}


def case_volumes(la_codes: Sequence[str], scale: float = 1.0) -> dict[str, int]:
    """Cases per quarter for the chosen LAs; Welsh LAs (not in C3) get the English median."""
    counts = national_case_counts(scale)
    median = sorted(counts.values())[len(counts) // 2]
    return {code: counts.get(code, median) for code in la_codes}


def choose_local_authorities(las: int, seed: int) -> list[str]:
    """A seeded choice of ``las`` LA codes, sorted.

    English LAs first (they are the ones with C3 data); asking for more than 153 adds Welsh LAs,
    and the choice is capped at every known LA.
    """
    if las < 1:
        raise ValueError(f"las must be at least 1, got {las}")
    rng = random.Random(f"synth:{seed}:choose-las")
    english, welsh = english_codes(), welsh_codes()
    if las <= len(english):
        return sorted(rng.sample(english, las))
    extra = min(las - len(english), len(welsh))
    return sorted(english + rng.sample(welsh, extra))


# --------------------------------------------------------------------------------------------
# Quarters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter, the contract's audit period."""

    year: int
    number: int

    @property
    def label(self) -> str:
        """The period as written in pack names, e.g. ``2025Q3``."""
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> dt.date:
        return period_bounds(self.label)[0]

    @property
    def end(self) -> dt.date:
        return period_bounds(self.label)[1]

    def shifted(self, quarters: int) -> Quarter:
        """The quarter ``quarters`` later (negative for earlier)."""
        index = self.year * 4 + (self.number - 1) + quarters
        return Quarter(index // 4, index % 4 + 1)


def audit_quarters(quarters: int) -> list[Quarter]:
    """The ``quarters`` consecutive quarters ending 2025Q4, oldest first."""
    if quarters < 1:
        raise ValueError(f"quarters must be at least 1, got {quarters}")
    last = Quarter(LAST_YEAR, LAST_QUARTER)
    return [last.shifted(offset) for offset in range(1 - quarters, 1)]


# --------------------------------------------------------------------------------------------
# Practice
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PracticeProfile:
    """How well an LA works in one quarter, each dimension a propensity in [0, 1]."""

    parent_inclusion: float
    offender_focus: float
    context_work: float

    @property
    def quality(self) -> float:
        """Overall practice quality, used where no single dimension applies."""
        return (self.parent_inclusion + self.offender_focus + self.context_work) / 3


# Planted rows are drawn with middling practice, so a fault never depends on an LA's profile.
NEUTRAL_PRACTICE = PracticeProfile(0.5, 0.5, 0.5)


def practice_trajectory(rng: random.Random, quarters: int) -> list[PracticeProfile]:
    """An LA's practice profile for each quarter: a seeded start that improves or worsens.

    Most LAs improve (audits tend to drive improvement) but some get worse, and each dimension
    moves at its own pace, so the dashboards show both levels and trends that differ by LA.
    """
    direction = 1 if chance(rng, 0.65) else -1
    start = [rng.uniform(0.15, 0.85) for _ in range(3)]
    drift = [direction * rng.uniform(0.01, 0.07) for _ in range(3)]

    def clip(value: float) -> float:
        return min(0.95, max(0.05, value))

    return [
        PracticeProfile(*(clip(base + step * index) for base, step in zip(start, drift, strict=True)))
        for index in range(quarters)
    ]
