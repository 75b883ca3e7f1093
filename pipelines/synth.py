"""Synthetic export packs: seeded, realistic test data in every shape the contract accepts.

The generator writes anonymised export packs (see ``config/contract.yaml``) for a seeded choice of
local authorities (LAs) and consecutive quarters ending 2025Q4. It exists so that the ingest
pipeline, the indicator engine and the dashboards can be developed, tested and benchmarked without
real case data.

What it produces:

* One pack per LA x quarter. Case volumes follow each LA's latest published DfE table C3 counts of
  exploitation-related assessment factors, scaled to about 25,000 open cases a quarter nationally,
  unless a fixed ``cases_per_la`` is given.
* Practice quality (parent inclusion, offender focus, context work) differs by LA and drifts from
  quarter to quarter, so the dashboards have something to show.
* With ``formats="mixed"`` the packs use every encoding the contract accepts (CSV with or without
  BOM, Windows-1252 with semicolons, Parquet, Excel workbooks with date cells or text dates, Y/N and
  code spelling variants) while carrying exactly the same logical data as ``formats="csv"``.
* With ``faults=True`` it also plants bad rows and bad packs and describes each one in
  ``faults_manifest.json``, so the validation and quarantine logic can be checked end to end.

Everything is driven by ``random.Random`` instances seeded from strings, so the same arguments give
byte-identical files on every run and machine (Python seeds string seeds through SHA-512, which is
independent of hash randomisation).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import io
import json
import random
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
CONTRACT_PATH = CONFIG_DIR / "contract.yaml"
LA_CODES_PATH = CONFIG_DIR / "la_codes.csv"
C3_PATH = (
    CONFIG_DIR / "reference" / "dfe" / "c3_factors_identified_at_end_of_assessment_2018_to_2025.csv"
)

TABLES = ("cases", "meetings", "actions")
MANIFEST_NAME = "faults_manifest.json"

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

# Text encodings of values. The contract lists the accepted forms; tests check these are among them.
ISO_DATE = "%Y-%m-%d"
UK_DATE = "%d/%m/%Y"
EXCEL_DATE_FORMAT = "DD/MM/YYYY"

# Fixed timestamp written into every workbook so that re-runs are byte-identical.
_ZIP_TIMESTAMP = (2026, 1, 1, 0, 0, 0)
_CORE_XML_TIMESTAMP = b"2026-01-01T00:00:00Z"

# Identifiers planted by the fault injector use a prefix that clean identifiers never have
# (clean ones are a letter and seven digits starting 1-8), so they can never collide.
_PLANTED_ID_PREFIX = "9"
_UNKNOWN_CASE_ID = "C0000000"

# How many meetings (0-8) and actions (0-12) a case has in a quarter, as relative weights.
_MEETING_COUNT_WEIGHTS = (10, 14, 18, 17, 14, 10, 8, 5, 4)
_ACTION_COUNT_WEIGHTS = (6, 8, 10, 11, 11, 10, 9, 8, 7, 6, 5, 5, 4)


# --------------------------------------------------------------------------------------------
# Reference data: the contract, the LA list and DfE table C3
# --------------------------------------------------------------------------------------------


@functools.cache
def load_contract() -> dict[str, Any]:
    """Return the export pack contract (config/contract.yaml) as plain data."""
    with CONTRACT_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.cache
def _codes(table: str, column: str) -> tuple[str, ...]:
    """The contract vocabulary of a code or codelist column, in contract order."""
    contract = load_contract()
    spec = contract["tables"][table]["columns"][column]
    if "values_from" in spec:
        groups = contract[spec["values_from"]]
        return tuple(code for codes in groups.values() for code in codes)
    return tuple(spec["values"])


@functools.cache
def _action_targets() -> dict[str, tuple[str, ...]]:
    """Action types grouped by target (child, parent, offender, context), from the contract."""
    return {target: tuple(types) for target, types in load_contract()["action_targets"].items()}


@functools.cache
def _column_types(table: str) -> dict[str, str]:
    """Column name -> contract type for one table, in contract column order."""
    columns = load_contract()["tables"][table]["columns"]
    return {name: spec["type"] for name, spec in columns.items()}


@functools.cache
def _yes_no_pairs() -> dict[str, str]:
    """Accepted yes spelling -> matching no spelling (y->n, yes->no, true->false, 1->0)."""
    values = load_contract()["values"]
    return dict(zip(values["yes_values"], values["no_values"], strict=True))


@dataclass(frozen=True)
class LocalAuthority:
    """One row of config/la_codes.csv."""

    code: str
    name: str
    country: str


@functools.cache
def load_local_authorities() -> tuple[LocalAuthority, ...]:
    """All English and Welsh LAs known to the project, in file order."""
    with LA_CODES_PATH.open(encoding="utf-8-sig", newline="") as handle:
        return tuple(
            LocalAuthority(row["la_code"], row["la_name"], row["country"])
            for row in csv.DictReader(handle)
        )


def _english_codes() -> list[str]:
    return sorted(la.code for la in load_local_authorities() if la.country == "England")


def _welsh_codes() -> list[str]:
    return sorted(la.code for la in load_local_authorities() if la.country == "Wales")


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
    english = _english_codes()
    totals = {code: total for code, total in c3_exploitation_totals().items() if code in english}
    grand_total = sum(totals.values())
    national = NATIONAL_OPEN_CASES_PER_QUARTER * scale
    counts = {
        code: max(MIN_CASES_PER_LA, round(total / grand_total * national))
        for code, total in totals.items()
    }
    median = sorted(counts.values())[len(counts) // 2]
    return {code: counts.get(code, median) for code in english}


def _case_volumes(la_codes: Sequence[str], scale: float = 1.0) -> dict[str, int]:
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
    english, welsh = _english_codes(), _welsh_codes()
    if las <= len(english):
        return sorted(rng.sample(english, las))
    extra = min(las - len(english), len(welsh))
    return sorted(english + rng.sample(welsh, extra))


# --------------------------------------------------------------------------------------------
# Periods
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
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.shifted(1).start - dt.timedelta(days=1)

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
# Random helpers
# --------------------------------------------------------------------------------------------


def _weighted_choice(
    rng: random.Random, codes: Sequence[str], weights: Mapping[str, float], default: float = 0.0
) -> str:
    """Pick one of ``codes`` (a contract vocabulary) with the given relative weights.

    Codes missing from ``weights`` get ``default``. A weight for a code the contract does not know
    is an error, so a renamed code in the contract cannot silently vanish from the synthetic data.
    """
    unknown = weights.keys() - set(codes)
    if unknown:
        raise ValueError(f"weights name codes outside the contract vocabulary: {sorted(unknown)}")
    return rng.choices(codes, weights=[weights.get(code, default) for code in codes])[0]


def _pick(
    rng: random.Random, table: str, column: str, weights: Mapping[str, float], default: float = 0.0
) -> str:
    """Pick a value of a contract code column with the given relative weights."""
    return _weighted_choice(rng, _codes(table, column), weights, default)


def _random_date(rng: random.Random, low: dt.date, high: dt.date) -> dt.date:
    """A uniformly random date in [low, high]."""
    return low + dt.timedelta(days=rng.randint(0, (high - low).days))


def _chance(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability


def _age_on(birth_date: dt.date, on: dt.date) -> int:
    """Age in whole years on a date."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday


# --------------------------------------------------------------------------------------------
# Logical data generation
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


def _practice_trajectory(rng: random.Random, quarters: int) -> list[PracticeProfile]:
    """An LA's practice profile for each quarter: a seeded start that improves or worsens.

    Most LAs improve (audits tend to drive improvement) but some get worse, and each dimension
    moves at its own pace, so the dashboards show both levels and trends that differ by LA.
    """
    direction = 1 if _chance(rng, 0.65) else -1
    start = [rng.uniform(0.15, 0.85) for _ in range(3)]
    drift = [direction * rng.uniform(0.01, 0.07) for _ in range(3)]

    def clip(value: float) -> float:
        return min(0.95, max(0.05, value))

    return [
        PracticeProfile(*(clip(base + step * index) for base, step in zip(start, drift, strict=True)))
        for index in range(quarters)
    ]


@dataclass
class _Child:
    """A child's case as it persists from quarter to quarter while it stays open."""

    case_id: str
    birth_date: dt.date
    sex: str
    ethnicity_group: str | None
    harm_types: tuple[str, ...]
    intrafamilial_harm: bool
    referral_date: dt.date
    plan_type: str
    lives_with_parent: bool
    parent_partnership_exception: str | None
    risk_level: str | None  # latest graded risk; the next quarter starts from it


@dataclass
class LogicalPack:
    """One pack's data before encoding: typed values (date, int, bool, tuple of codes, None).

    ``columns`` fixes each table's column order (contract order, plus any planted extra column).
    ``empty_files`` names tables written as 0-byte files (a planted file-level fault).
    """

    la_code: str
    quarter: Quarter
    tables: dict[str, list[dict[str, Any]]]
    columns: dict[str, list[str]]
    empty_files: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        """The pack name without any file extension, ``<LA code>_<period>``."""
        return f"{self.la_code}_{self.quarter.label}"


@dataclass(frozen=True)
class Raw:
    """A planted value written verbatim, whatever the pack's encoding style (e.g. age "abc")."""

    text: str


def _activity_window(case_row: Mapping[str, Any], quarter: Quarter) -> tuple[dt.date, dt.date]:
    """The dates inside the quarter when the case was open, for meetings and actions.

    Never empty: referral is on or before the quarter end and the case (being in the cohort) ends,
    if at all, on or after both the referral and the quarter start.
    """
    low = max(quarter.start, case_row["referral_date"])
    end_date = case_row["case_end_date"]
    high = quarter.end if end_date is None else min(quarter.end, end_date)
    return low, high


class _CaseFactory:
    """Makes children, case rows, meetings and actions for one LA, with its own ID sequences."""

    def __init__(self, rng: random.Random, id_prefix_digit: str | None = None) -> None:
        self.rng = rng
        # Clean IDs are a letter and seven digits; planted ones add a leading "9" digit so the
        # two ranges can never meet (see _PLANTED_ID_PREFIX).
        self._prefix = id_prefix_digit or ""
        self._next_case = rng.randint(1_000_000, 1_999_999)
        self._next_meeting = rng.randint(1_000_000, 1_999_999)
        self._next_action = rng.randint(1_000_000, 1_999_999)

    # -- identifiers ---------------------------------------------------------------------------

    def new_case_id(self) -> str:
        # Gaps between case numbers, as in a real case management system shared with other work.
        self._next_case += self.rng.randint(1, 9)
        return f"C{self._prefix}{self._next_case}"

    def new_meeting_id(self) -> str:
        self._next_meeting += 1
        return f"M{self._prefix}{self._next_meeting}"

    def new_action_id(self) -> str:
        self._next_action += 1
        return f"A{self._prefix}{self._next_action}"

    # -- children and case rows ---------------------------------------------------------------

    def _new_age(self) -> int:
        """Age at the end of the first quarter: mostly 10-17, a few younger or care leavers."""
        roll = self.rng.random()
        if roll < 0.05:
            return self.rng.randint(8, 9)
        if roll < 0.11:
            return self.rng.randint(18, 20)
        return self.rng.choices(range(10, 18), weights=(2, 3, 5, 8, 11, 12, 11, 8))[0]

    def _harm_types(self, sex: str) -> tuple[str, ...]:
        """One to three harm types, weighted by sex, in contract order."""
        if sex == "F":
            weights = {"CSE": 5, "CCE": 1.5, "county_lines": 1, "trafficking": 0.5, "missing": 4,
                       "online": 2.5, "peer_abuse": 2, "serious_youth_violence": 0.8,
                       "radicalisation": 0.2}
        elif sex == "M":
            weights = {"CSE": 1, "CCE": 5, "county_lines": 3.5, "trafficking": 0.8, "missing": 3.5,
                       "online": 1.5, "peer_abuse": 1.5, "serious_youth_violence": 3,
                       "radicalisation": 0.6}
        else:
            weights = {"CSE": 3, "CCE": 3, "county_lines": 2, "trafficking": 0.6, "missing": 3.5,
                       "online": 2.5, "peer_abuse": 2, "serious_youth_violence": 1.5,
                       "radicalisation": 0.4}
        how_many = self.rng.choices((1, 2, 3), weights=(50, 32, 18))[0]
        chosen: set[str] = set()
        while len(chosen) < how_many:
            remaining = {code: weight for code, weight in weights.items() if code not in chosen}
            chosen.add(_pick(self.rng, "cases", "harm_types", remaining))
        return tuple(code for code in _codes("cases", "harm_types") if code in chosen)

    def new_child(self, quarter: Quarter, practice: PracticeProfile, first_quarter: bool) -> _Child:
        """A child newly in the cohort this quarter.

        In the first generated quarter the cohort is everyone open, so many were referred long
        before; later, newcomers are mostly fresh referrals, with some transfers and re-referrals.
        """
        rng = self.rng
        age = self._new_age()
        anniversary = dt.date(quarter.end.year - age, quarter.end.month, quarter.end.day)
        birth_date = anniversary - dt.timedelta(days=rng.randint(0, 364))
        sex = _pick(rng, "cases", "sex", {"F": 46, "M": 49, "X": 1, "U": 4})
        ethnicity = None if _chance(rng, 0.02) else _pick(
            rng, "cases", "ethnicity_group",
            {"White": 64, "Mixed": 9, "Asian": 8, "Black": 11, "Other": 3, "Unknown": 3},
        )
        intrafamilial = _chance(rng, 0.15)

        referred_before = _chance(rng, 0.55 if first_quarter else 0.2)
        if not referred_before:
            referral_date = _random_date(rng, quarter.start, quarter.end)
        elif _chance(rng, 0.12):  # long-running cases, up to five years old
            referral_date = quarter.start - dt.timedelta(days=rng.randint(731, 1825))
        else:
            referral_date = quarter.start - dt.timedelta(days=rng.randint(1, 730))

        context = practice.context_work
        if intrafamilial:
            plan_weights = {"CP": 5, "CIN": 2.5, "LAC": 1, "EH": 0.5, "CSP": 0.5, "none": 0.3}
        else:
            # Weaker contextual practice holds more extra-familial cases on CP plans.
            plan_weights = {"CP": 0.5 + 3 * (1 - context), "CIN": 2.5, "CSP": 0.3 + 3 * context,
                            "EH": 1.5, "LAC": 0.8, "none": 0.4}
        plan_type = _pick(rng, "cases", "plan_type", plan_weights)
        lives_with_parent = plan_type != "LAC" and not _chance(rng, 0.07)

        if intrafamilial and _chance(rng, 0.3):
            exception = "alleged_perpetrator"
        elif plan_type == "LAC" and _chance(rng, 0.35):
            exception = "court_order"
        elif not lives_with_parent and _chance(rng, 0.25):
            exception = "whereabouts_unknown"
        elif _chance(rng, 0.06):
            exception = _pick(rng, "cases", "parent_partnership_exception",
                              {"young_person_declined": 3, "whereabouts_unknown": 1,
                               "court_order": 1, "other": 1.5, "alleged_perpetrator": 0.5})
        else:
            exception = None

        risk = None if _chance(rng, 0.08) else _pick(
            rng, "cases", "risk_level_start", {"low": 2, "medium": 4.5, "high": 3.5}
        )
        return _Child(
            case_id=self.new_case_id(),
            birth_date=birth_date,
            sex=sex,
            ethnicity_group=ethnicity,
            harm_types=self._harm_types(sex),
            intrafamilial_harm=intrafamilial,
            referral_date=referral_date,
            plan_type=plan_type,
            lives_with_parent=lives_with_parent,
            parent_partnership_exception=exception,
            risk_level=risk,
        )

    def case_row(
        self, child: _Child, quarter: Quarter, practice: PracticeProfile, ends: bool
    ) -> dict[str, Any]:
        """The child's ``cases`` row for one quarter; updates the child's carried risk level."""
        rng = self.rng
        end_date = None
        if ends:
            end_date = _random_date(rng, max(quarter.start, child.referral_date), quarter.end)

        risk_start = child.risk_level
        risk_end = None
        if risk_start is not None and not _chance(rng, 0.25):
            levels = _codes("cases", "risk_level_end")  # low, medium, high
            index = levels.index(risk_start)
            roll = rng.random()
            if roll < 0.15 + 0.35 * practice.quality:
                index = max(0, index - 1)
            elif roll > 0.97 - 0.15 * (1 - practice.quality):
                index = min(len(levels) - 1, index + 1)
            risk_end = levels[index]
        child.risk_level = risk_end or risk_start

        missing_episodes: int | None
        if _chance(rng, 0.12):
            missing_episodes = None
        elif "missing" in child.harm_types:
            missing_episodes = 1
            while missing_episodes < 15 and _chance(rng, 0.65):
                missing_episodes += 1
        else:
            missing_episodes = 0 if _chance(rng, 0.78) else rng.randint(1, 3)

        returns: int | None
        if missing_episodes is None or (missing_episodes > 0 and _chance(rng, 0.06)):
            returns = None
        else:
            timely = 0.35 + 0.55 * practice.quality
            returns = sum(_chance(rng, timely) for _ in range(missing_episodes))

        return {
            "case_id": child.case_id,
            "age": _age_on(child.birth_date, quarter.end),
            "sex": child.sex,
            "ethnicity_group": child.ethnicity_group,
            "harm_types": child.harm_types,
            "intrafamilial_harm": child.intrafamilial_harm,
            "referral_date": child.referral_date,
            "case_end_date": end_date,
            "plan_type": child.plan_type,
            "lives_with_parent": child.lives_with_parent,
            "parent_partnership_exception": child.parent_partnership_exception,
            "risk_level_start": risk_start,
            "risk_level_end": risk_end,
            "missing_episodes": missing_episodes,
            "return_interviews_72h": returns,
        }

    # -- meetings -----------------------------------------------------------------------------

    def meeting_type(self, case_row: Mapping[str, Any], practice: PracticeProfile) -> str:
        """A meeting type fitting the plan; context meetings are commoner where context work is."""
        plan = case_row["plan_type"]
        context = practice.context_work
        weights = {
            "strategy": 2.5,
            "icpc": 0.8 if plan == "CP" else 0.05,
            "rcpc": 0.5 if plan == "CP" else 0.02,
            "core_group": 3 if plan == "CP" else 0.1,
            "cin_review": 2 if plan == "CIN" else 0.1,
            "lac_review": 2 if plan == "LAC" else 0.05,
            "safety_planning": 0.4 + context + (1.5 if plan in ("CSP", "EH") else 0),
            "mace": 0.2 + 2 * context,
            "context_conference": 0.1 + 1.6 * context,
        }
        return _pick(self.rng, "meetings", "meeting_type", weights, default=0.1)

    def meeting_row(
        self,
        case_row: Mapping[str, Any],
        practice: PracticeProfile,
        meeting_date: dt.date,
        meeting_type: str,
        meeting_id: str,
    ) -> dict[str, Any]:
        """One meeting; parent involvement follows the LA's parent-inclusion propensity."""
        rng = self.rng
        inclusion = practice.parent_inclusion
        eligible = case_row["lives_with_parent"] and case_row["parent_partnership_exception"] is None
        if meeting_type == "strategy":  # parents rarely join strategy discussions
            invite_chance = 0.05 + 0.15 * inclusion
        elif eligible:
            invite_chance = 0.25 + 0.7 * inclusion
        else:
            invite_chance = 0.1
        invited = _chance(rng, invite_chance)
        attended = invited and _chance(rng, 0.45 + 0.45 * inclusion)
        if attended:
            views_chance = 0.9
        else:
            views_chance = 0.15 + 0.5 * inclusion if eligible else 0.05
        informed_chance = 0.2 + 0.75 * inclusion if eligible else 0.15
        return {
            "case_id": case_row["case_id"],
            "meeting_id": meeting_id,
            "meeting_date": meeting_date,
            "meeting_type": meeting_type,
            "parent_invited": invited,
            "parent_attended": attended,
            "parent_views_recorded": _chance(rng, views_chance),
            "parent_informed_of_outcome": _chance(rng, informed_chance),
        }

    def meeting_rows(
        self, case_row: Mapping[str, Any], quarter: Quarter, practice: PracticeProfile
    ) -> list[dict[str, Any]]:
        """The case's meetings in the quarter (0-8), in date order."""
        low, high = _activity_window(case_row, quarter)
        count = self.rng.choices(range(len(_MEETING_COUNT_WEIGHTS)), _MEETING_COUNT_WEIGHTS)[0]
        if (high - low).days < 21:  # a case open only briefly this quarter has few meetings
            count = min(count, 2)
        dates = sorted(_random_date(self.rng, low, high) for _ in range(count))
        return [
            self.meeting_row(case_row, practice, day, self.meeting_type(case_row, practice),
                             self.new_meeting_id())
            for day in dates
        ]

    # -- actions ------------------------------------------------------------------------------

    def action_row(
        self,
        case_row: Mapping[str, Any],
        practice: PracticeProfile,
        action_date: dt.date,
        action_id: str,
    ) -> dict[str, Any]:
        """One action; its target mix follows the LA's practice profile."""
        rng = self.rng
        inclusion, offender, context = (
            practice.parent_inclusion, practice.offender_focus, practice.context_work
        )
        eligible = case_row["lives_with_parent"] and case_row["parent_partnership_exception"] is None
        harm = set(case_row["harm_types"])
        targets = _action_targets()
        target = _weighted_choice(rng, tuple(targets), {
            "child": 3.0,
            "parent": 0.2 + 2.2 * inclusion if eligible else 0.3,
            "offender": 0.3 + 2.8 * offender,
            "context": 0.3 + 2.8 * context,
        })
        trafficking_risk = bool(harm & {"CCE", "county_lines", "trafficking"})
        type_weights: dict[str, dict[str, float]] = {
            "child": {"child_safety_plan": 3, "direct_work": 4, "curfew": 0.7, "relocation": 0.4,
                      "education_change": 0.8, "health_referral": 1.5, "youth_work_referral": 2,
                      "nrm_referral": 0.5 + 2.5 * offender if trafficking_risk else 0.1},
            "parent": {"parenting_programme": 1.5, "parent_safety_advice": 3,
                       "parent_needs_assessment": 2, "parent_specialist_support_referral": 1.5,
                       "parent_specialist_support_received": 1},
            "offender": {"intelligence_submission": 5, "cawn_issued": 1.5 if "CSE" in harm else 0.3,
                         "sexual_risk_order": 0.3, "stpo_stro": 0.3, "arrest": 1.2, "charge": 0.6,
                         "conviction": 0.3, "closure_order": 0.3, "hotel_information_request": 0.5,
                         "offender_disruption_other": 1},
            "context": {"location_assessment": 2, "peer_group_assessment": 2,
                        "school_assessment": 1.5,
                        "online_context_assessment": 2 if "online" in harm else 0.5,
                        "context_safety_plan": 1.5, "location_disruption": 1,
                        "detached_youth_work": 1, "guardianship_engagement": 0.8,
                        "licensing_review": 0.5, "transport_safety": 0.5,
                        "school_intervention": 1, "peer_group_intervention": 1},
        }
        action_type = _weighted_choice(rng, targets[target], type_weights.get(target, {}), 1.0)
        agency_weights: dict[str, dict[str, float]] = {
            "child": {"childrens_social_care": 4, "health": 1.5, "education": 1.5,
                      "youth_justice": 1, "voluntary_sector": 1.5, "other": 0.3},
            "parent": {"childrens_social_care": 4, "voluntary_sector": 2.5, "health": 1,
                       "other": 0.3},
            "offender": {"police": 8, "youth_justice": 0.5, "community_safety": 0.7,
                         "licensing": 0.2, "other": 0.2},
            "context": {"community_safety": 3, "education": 2, "police": 1.5, "licensing": 1,
                        "transport": 0.8, "housing": 0.7, "voluntary_sector": 1.5,
                        "youth_justice": 0.5, "childrens_social_care": 2.5 - 2 * context},
        }
        lead_agency = _pick(rng, "actions", "lead_agency", agency_weights.get(target, {}), 1.0)
        status = _pick(rng, "actions", "status", {
            "completed": 0.35 + 0.3 * practice.quality, "in_progress": 0.25, "planned": 0.2,
            "not_done": 0.15 * (1.2 - practice.quality),
        })
        info_source = None
        if action_type == "intelligence_submission":
            info_source = _pick(rng, "actions", "info_source", {
                "parent": 0.2 + 2.0 * inclusion if eligible else 0.1,
                "child": 1.0, "professional": 2.5, "other": 0.4,
            })
        return {
            "case_id": case_row["case_id"],
            "action_id": action_id,
            "action_date": action_date,
            "action_type": action_type,
            "lead_agency": lead_agency,
            "status": status,
            "info_source": info_source,
        }

    def action_rows(
        self, case_row: Mapping[str, Any], quarter: Quarter, practice: PracticeProfile
    ) -> list[dict[str, Any]]:
        """The case's actions in the quarter (0-12), in date order."""
        low, high = _activity_window(case_row, quarter)
        count = self.rng.choices(range(len(_ACTION_COUNT_WEIGHTS)), _ACTION_COUNT_WEIGHTS)[0]
        if (high - low).days < 21:
            count = min(count, 4)
        dates = sorted(_random_date(self.rng, low, high) for _ in range(count))
        return [self.action_row(case_row, practice, day, self.new_action_id()) for day in dates]


def _contract_columns() -> dict[str, list[str]]:
    return {table: list(_column_types(table)) for table in TABLES}


def _generate_la_packs(
    la_code: str, quarters: Sequence[Quarter], cases_per_quarter: int, seed: int | str
) -> list[LogicalPack]:
    """Every quarter's logical pack for one LA.

    Open cases carry over from quarter to quarter (same case_id, referral date and child), about
    30% close each quarter and newcomers keep the cohort at exactly ``cases_per_quarter``. The
    LA's random stream depends only on the seed and the LA code, so an LA's packs are the same
    whichever other LAs are chosen.
    """
    rng = random.Random(f"synth:{seed}:la:{la_code}")
    trajectory = _practice_trajectory(rng, len(quarters))
    factory = _CaseFactory(rng)
    open_children: list[_Child] = []
    packs = []
    for index, quarter in enumerate(quarters):
        practice = trajectory[index]
        carried = open_children
        if len(carried) > cases_per_quarter:
            carried = sorted(rng.sample(carried, cases_per_quarter), key=lambda c: c.case_id)
        newcomers = [
            factory.new_child(quarter, practice, first_quarter=index == 0)
            for _ in range(cases_per_quarter - len(carried))
        ]
        tables: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
        still_open = []
        for child in carried + newcomers:
            # Young adults' cases close sooner; nobody stays past the contract's age range.
            age = _age_on(child.birth_date, quarter.end)
            ends = age >= 24 or _chance(rng, 0.5 if age >= 18 else 0.3)
            case_row = factory.case_row(child, quarter, practice, ends)
            tables["cases"].append(case_row)
            tables["meetings"].extend(factory.meeting_rows(case_row, quarter, practice))
            tables["actions"].extend(factory.action_rows(case_row, quarter, practice))
            if not ends:
                still_open.append(child)
        open_children = still_open
        packs.append(LogicalPack(la_code, quarter, tables, _contract_columns()))
    return packs


# --------------------------------------------------------------------------------------------
# Encoding styles and writers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackStyle:
    """How a pack's values and files are encoded. Every style is valid under the contract."""

    label: str
    workbook: bool = False  # one <pack>.xlsx with three sheets instead of a folder
    file_formats: tuple[str, str, str] = ("csv", "csv", "csv")  # per table, folder packs only
    encoding: str = "utf-8"
    delimiter: str = ","
    line_terminator: str = "\n"
    text_date_format: str = ISO_DATE
    excel_date_cells: bool = False  # in .xlsx files: real date cells rather than text
    yes_no: tuple[str, str] = ("Y", "N")
    yes_no_mixed_case: bool = False
    odd_codes: bool = False  # codes in random letter case with surrounding spaces

    @property
    def all_csv(self) -> bool:
        return not self.workbook and set(self.file_formats) == {"csv"}


CSV_STYLE = PackStyle("csv utf-8")


def _yes_no(yes: str, upper: bool = False) -> tuple[str, str]:
    """A Y/N spelling pair from the contract's accepted values."""
    pair = (yes, _yes_no_pairs()[yes])
    return (pair[0].upper(), pair[1].upper()) if upper else pair


def _mixed_styles() -> list[PackStyle]:
    """The pack styles cycled through in mixed mode: mostly CSV folders, plus every other form."""
    return [
        PackStyle("csv utf-8"),
        PackStyle("csv utf-8 BOM, UK dates, yes/no", encoding="utf-8-sig", line_terminator="\r\n",
                  text_date_format=UK_DATE, yes_no=_yes_no("yes"), yes_no_mixed_case=True),
        PackStyle("csv cp1252 semicolon, UK dates, odd codes", encoding="cp1252", delimiter=";",
                  line_terminator="\r\n", text_date_format=UK_DATE, yes_no=_yes_no("y"),
                  yes_no_mixed_case=True, odd_codes=True),
        PackStyle("parquet strings, true/false", file_formats=("parquet",) * 3,
                  yes_no=_yes_no("true"), yes_no_mixed_case=True),
        PackStyle("xlsx workbook, date cells", workbook=True, excel_date_cells=True),
        PackStyle("csv utf-8, 1/0, odd codes", yes_no=_yes_no("1"), odd_codes=True),
        PackStyle("xlsx workbook, text UK dates, odd codes", workbook=True,
                  text_date_format=UK_DATE, yes_no=_yes_no("yes", upper=True), odd_codes=True),
        PackStyle("csv utf-8"),
        PackStyle("folder csv+parquet+xlsx", file_formats=("csv", "parquet", "xlsx"),
                  excel_date_cells=True, yes_no=_yes_no("yes"), yes_no_mixed_case=True),
        PackStyle("csv utf-8 BOM", encoding="utf-8-sig", line_terminator="\r\n"),
    ]


def _assign_styles(packs: Sequence[LogicalPack], formats: str, seed: int) -> dict[str, PackStyle]:
    """Pack name -> style. Mixed mode cycles a seeded shuffle of the styles so every style
    appears once there are at least as many packs as styles."""
    if formats == "csv":
        return {pack.name: CSV_STYLE for pack in packs}
    styles = _mixed_styles()
    random.Random(f"synth:{seed}:styles").shuffle(styles)
    return {pack.name: styles[index % len(styles)] for index, pack in enumerate(packs)}


def _pack_entry_name(pack: LogicalPack, style: PackStyle) -> str:
    """The pack's file or folder name in ``out_dir`` (as used in the manifest)."""
    return f"{pack.name}.xlsx" if style.workbook else pack.name


class _ValueEncoder:
    """Turns logical values into the text or cell values of one pack style.

    ``target`` is "text" (CSV), "parquet" (string columns, nulls for blanks) or "excel" (cells).
    Its own random stream decides spelling variants, so variants never disturb the data itself.
    """

    def __init__(self, style: PackStyle, rng: random.Random, target: str) -> None:
        self.style = style
        self.rng = rng
        self.target = target

    def _vary_case(self, text: str) -> str:
        return self.rng.choice((text, text.upper(), text.lower(), text.title()))

    def _odd_code(self, code: str) -> str:
        if not self.style.odd_codes or _chance(self.rng, 0.4):
            return code
        padding = self.rng.choice(((" ", ""), ("", " "), (" ", " "), ("  ", " ")))
        return f"{padding[0]}{self._vary_case(code)}{padding[1]}"

    def encode(self, kind: str, value: Any) -> Any:
        """Encode one value of contract type ``kind`` (text, integer, code, codelist, yn, date)."""
        if isinstance(value, Raw):
            return value.text
        if value is None:
            return "" if self.target == "text" else None
        if kind == "yn":
            token = self.style.yes_no[0 if value else 1]
            return self._vary_case(token) if self.style.yes_no_mixed_case else token
        if kind == "code":
            return self._odd_code(value)
        if kind == "codelist":
            separator = "; " if self.style.odd_codes else ";"
            return separator.join(self._odd_code(code) for code in value)
        if kind == "integer":
            return value if self.target == "excel" else str(value)
        if kind == "date":
            if self.target == "excel" and self.style.excel_date_cells:
                return value
            return value.strftime(self.style.text_date_format)
        return str(value)


def _encoded_rows(
    pack: LogicalPack, table: str, encoder: _ValueEncoder
) -> tuple[list[str], list[list[Any]]]:
    """Header and encoded rows of one table; extra (non-contract) columns are plain text."""
    kinds = _column_types(table)
    columns = pack.columns[table]
    rows = [
        [encoder.encode(kinds.get(column, "text"), row.get(column)) for column in columns]
        for row in pack.tables[table]
    ]
    return columns, rows


def _write_csv(path: Path, header: list[str], rows: list[list[Any]], style: PackStyle) -> None:
    with path.open("w", encoding=style.encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=style.delimiter, lineterminator=style.line_terminator)
        writer.writerow(header)
        writer.writerows(rows)


def _write_parquet(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """All columns as strings, as many LA systems export them; blanks are nulls."""
    columns = {
        name: pa.array([row[index] for row in rows], type=pa.string())
        for index, name in enumerate(header)
    }
    pq.write_table(pa.table(columns), path)


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite an .xlsx so it no longer depends on the clock (zip entry times, core.xml stamps)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + _CORE_XML_TIMESTAMP + rb"\g<2>",
                    payload,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, payload)
    return output.getvalue()


def _xlsx_bytes(sheets: Sequence[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    """A workbook with one sheet per (title, header, rows); dates become real date cells."""
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        sheet.append(header)
        for values in rows:
            cells = []
            for value in values:
                if isinstance(value, dt.date):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = EXCEL_DATE_FORMAT
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _deterministic_zip(buffer.getvalue())


def _clear_pack_slot(out_dir: Path, pack_name: str) -> None:
    """Remove an earlier run's copy of this pack (folder or workbook) so no stale file remains."""
    folder = out_dir / pack_name
    if folder.is_dir():
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
    workbook = out_dir / f"{pack_name}.xlsx"
    if workbook.exists():
        workbook.unlink()


def _write_pack(
    out_dir: Path, pack: LogicalPack, style: PackStyle, seed: int | str, name: str | None = None
) -> Path:
    """Write one logical pack in the given style and return its path.

    ``name`` overrides the pack name derived from its LA and quarter (for planted bad names).
    """
    name = name or pack.name
    _clear_pack_slot(out_dir, name)
    rng = random.Random(f"synth:{seed}:encode:{name}")
    if style.workbook:
        encoder = _ValueEncoder(style, rng, "excel")
        sheets = [(table, *_encoded_rows(pack, table, encoder)) for table in pack.tables]
        path = out_dir / f"{name}.xlsx"
        path.write_bytes(_xlsx_bytes(sheets))
        return path

    folder = out_dir / name
    folder.mkdir(parents=True)
    for table, file_format in zip(TABLES, style.file_formats, strict=True):
        if table not in pack.tables:
            continue
        path = folder / f"{table}.{file_format}"
        if table in pack.empty_files:
            path.write_bytes(b"")
            continue
        header, rows = _encoded_rows(pack, table, _ValueEncoder(style, rng, _target(file_format)))
        if file_format == "csv":
            _write_csv(path, header, rows, style)
        elif file_format == "parquet":
            _write_parquet(path, header, rows)
        else:
            path.write_bytes(_xlsx_bytes([(table, header, rows)]))
    return folder


def _target(file_format: str) -> str:
    return {"csv": "text", "parquet": "parquet", "xlsx": "excel"}[file_format]


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------

_NEUTRAL_PRACTICE = PracticeProfile(0.5, 0.5, 0.5)


class _RowFaultPlanter:
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
        self.factory = _CaseFactory(self.rng, id_prefix_digit=_PLANTED_ID_PREFIX)
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
        child = self.factory.new_child(self.pack.quarter, _NEUTRAL_PRACTICE, first_quarter=False)
        row = self.factory.case_row(child, self.pack.quarter, _NEUTRAL_PRACTICE, ends=False)
        cases = self.pack.tables["cases"]
        cases.insert(self.rng.randint(0, len(cases)), row)
        return row

    def _fresh_case(self) -> dict[str, Any]:
        child = self.factory.new_child(self.pack.quarter, _NEUTRAL_PRACTICE, first_quarter=False)
        return self.factory.case_row(child, self.pack.quarter, _NEUTRAL_PRACTICE, ends=False)

    def _meeting(self, carrier: Mapping[str, Any], meeting_id: str | None = None) -> dict:
        low, high = _activity_window(carrier, self.pack.quarter)
        day = _random_date(self.rng, low, high)
        meeting_type = self.factory.meeting_type(carrier, _NEUTRAL_PRACTICE)
        return self.factory.meeting_row(carrier, _NEUTRAL_PRACTICE, day, meeting_type,
                                        meeting_id or self.factory.new_meeting_id())

    def _action(self, carrier: Mapping[str, Any]) -> dict[str, Any]:
        low, high = _activity_window(carrier, self.pack.quarter)
        day = _random_date(self.rng, low, high)
        return self.factory.action_row(carrier, _NEUTRAL_PRACTICE, day,
                                       self.factory.new_action_id())

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
            row["case_id"] = _UNKNOWN_CASE_ID
            entry = self._entry("meetings", "case_id", rule,
                                f"case_id {_UNKNOWN_CASE_ID} is not in cases")
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
            row["case_id"] = _UNKNOWN_CASE_ID
            entry = self._entry("actions", "case_id", rule,
                                f"case_id {_UNKNOWN_CASE_ID} is not in cases")
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

def _plant_row_faults(
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
        _RowFaultPlanter(pack, _pack_entry_name(pack, styles[pack.name]), seed) for pack in chosen
    ]
    for index, (table, rule) in enumerate(ROW_FAULTS):
        planter = planters[index % len(planters)]
        {"cases": planter.case_fault, "meetings": planter.meeting_fault,
         "actions": planter.action_fault}[table](rule)
    return [entry for planter in planters for entry in planter.finalise()]


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
    pool = list(chosen) + [code for code in _english_codes() + _welsh_codes() if code not in chosen]
    names: dict[str, tuple[str, Quarter | str]] = {}
    plain = ("missing_table", "missing_column", "empty_file", "unreadable", "name_mismatch",
             "direct_identifier")
    for index, fault in enumerate(plain):
        names[fault] = (pool[index], reject_quarter)
    last = quarters[-1]
    names["unknown_la_code"] = ("E99999999", last)
    names["bad_period"] = (chosen[0], f"{last.year}Q5")
    new_las = [code for code in _english_codes() if code not in chosen]
    if new_las:
        names["direct_identifier_contact"] = (new_las[0], last)
    else:
        names["direct_identifier_contact"] = (pool[len(plain)], reject_quarter)
    return names


def _write_rejected_packs(
    out_dir: Path, chosen: Sequence[str], quarters: Sequence[Quarter], seed: int,
    report: Callable[[str], None],
) -> tuple[list[Path], list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Write one pack per file-level fault; return paths, manifest entries and row counts."""
    paths: list[Path] = []
    entries: list[dict[str, Any]] = []
    rows: dict[str, dict[str, int]] = {}
    english = _english_codes()
    for fault, (la_code, period) in _reject_pack_names(chosen, quarters).items():
        # A pack's LA/period from its name; the bad period is generated as the last real quarter.
        quarter = period if isinstance(period, Quarter) else quarters[-1]
        name = f"{la_code}_{period.label if isinstance(period, Quarter) else period}"
        pack = _generate_la_packs(la_code, [quarter], 8, f"{seed}:reject:{fault}")[0]
        rng = random.Random(f"synth:{seed}:reject-detail:{fault}")
        rule, table, column = fault, None, None
        if fault == "unreadable":
            _clear_pack_slot(out_dir, name)
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
        path = _write_pack(out_dir, pack, CSV_STYLE, seed, name=name)
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
# Public entry point
# --------------------------------------------------------------------------------------------


def write_packs(
    out_dir: Path,
    las: int = 3,
    quarters: int = 4,
    seed: int = 1,
    cases_per_la: int | None = None,
    faults: bool = False,
    formats: str = "mixed",
    progress: Callable[[str], None] | None = None,
    scale: float = 1.0,
) -> list[Path]:
    """Write synthetic export packs to ``out_dir`` and return their paths.

    Args:
        out_dir: folder to write into (created if needed). An earlier copy of any pack written
            here is replaced.
        las: how many LAs (seeded choice; English first, Welsh added above 153).
        quarters: how many consecutive quarters, ending 2025Q4.
        seed: the seed; the same arguments always give byte-identical files.
        scale: with cases_per_la None, multiplies the national volume (about 25,000 cases a quarter).
        cases_per_la: exactly this many cases per LA per quarter; if None, volumes follow DfE C3
            (``national_case_counts``).
        faults: also plant bad rows and bad packs, described in ``faults_manifest.json``.
        formats: "csv" (every pack a folder of UTF-8 comma CSVs) or "mixed" (every form the
            contract accepts; the same logical data as "csv").
        progress: called with a short line for each pack written.

    The manifest (faults only) is ``{"faults": [...], "rows": {pack: {table: rows written}},
    "clean_rows": {pack: {table: rows expected to load clean}}}``, where each fault is
    ``{"pack", "outcome" ("quarantine"|"reject"), "table", "row_number" (data rows from 1, or
    null), "column", "rule", "note"}``.
    """
    if formats not in ("csv", "mixed"):
        raise ValueError(f"formats must be 'csv' or 'mixed', got {formats!r}")
    if cases_per_la is not None and cases_per_la < 1:
        raise ValueError(f"cases_per_la must be at least 1, got {cases_per_la}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _line: None)

    chosen = choose_local_authorities(las, seed)
    periods = audit_quarters(quarters)
    if cases_per_la is None:
        volumes = _case_volumes(chosen, scale)
    else:
        volumes = {code: cases_per_la for code in chosen}

    packs = [pack for code in chosen for pack in _generate_la_packs(code, periods, volumes[code], seed)]
    styles = _assign_styles(packs, formats, seed)
    fault_entries = _plant_row_faults(packs, styles, seed) if faults else []

    written: list[Path] = []
    row_counts: dict[str, dict[str, int]] = {}
    for pack in packs:
        style = styles[pack.name]
        path = _write_pack(out_dir, pack, style, seed)
        written.append(path)
        row_counts[path.name] = {table: len(rows) for table, rows in pack.tables.items()}
        counts = row_counts[path.name]
        report(f"{path.name}: {style.label}; {counts['cases']} cases, "
               f"{counts['meetings']} meetings, {counts['actions']} actions")

    manifest_path = out_dir / MANIFEST_NAME
    if not faults:
        # A manifest left by an earlier faulty run would describe packs that are now clean.
        if manifest_path.exists():
            manifest_path.unlink()
        return written

    reject_paths, reject_entries, reject_rows = _write_rejected_packs(
        out_dir, chosen, periods, seed, report
    )
    written.extend(reject_paths)
    row_counts.update(reject_rows)
    all_entries = fault_entries + reject_entries
    manifest = {
        "faults": sorted(all_entries, key=lambda e: (e["pack"], e["table"] or "",
                                                     e["row_number"] or 0, e["rule"])),
        "rows": row_counts,
        "clean_rows": _clean_row_counts(row_counts, all_entries),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return written


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


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m pipelines.synth OUT_DIR [--las N] [--quarters N] ...``."""
    parser = argparse.ArgumentParser(description="Write synthetic export packs.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--las", type=int, default=3)
    parser.add_argument("--quarters", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases-per-la", type=int, default=None)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--formats", choices=("csv", "mixed"), default="mixed")
    args = parser.parse_args(argv)
    write_packs(args.out_dir, las=args.las, quarters=args.quarters, seed=args.seed,
                cases_per_la=args.cases_per_la, faults=args.faults, formats=args.formats,
                progress=print)


if __name__ == "__main__":
    main()
