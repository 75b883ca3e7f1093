"""The case factory: children, their case rows from quarter to quarter, and the meetings and actions
on each case, gathered into one logical pack per LA and quarter."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synth.activity import (
    ACTION_COUNT_WEIGHTS,
    MEETING_COUNT_WEIGHTS,
    action_row,
    activity_window,
    choose_meeting_type,
    meeting_row,
)
from synth.contexts import ContextNetwork
from synth.draws import age_on, chance, next_risk_level, pick, random_date
from synth.population import PracticeProfile, Quarter, practice_trajectory
from synth.vocabulary import OPTIONAL_TABLES, TABLES, codes, contract_columns


@dataclass
class Child:
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


class CaseFactory:
    """Makes children, case rows, meetings and actions for one LA, with its own ID sequences."""

    def __init__(self, rng: random.Random, id_prefix_digit: str | None = None) -> None:
        self.rng = rng
        # Clean IDs are a letter and seven digits; planted ones add a leading digit so the two
        # ranges can never meet (see faults.PLANTED_ID_PREFIX).
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
            chosen.add(pick(self.rng, "cases", "harm_types", remaining))
        return tuple(code for code in codes("cases", "harm_types") if code in chosen)

    def new_child(self, quarter: Quarter, practice: PracticeProfile, first_quarter: bool) -> Child:
        """A child newly in the cohort this quarter.

        In the first generated quarter the cohort is everyone open, so many were referred long
        before; later, newcomers are mostly fresh referrals, with some transfers and re-referrals.
        """
        rng = self.rng
        age = self._new_age()
        anniversary = dt.date(quarter.end.year - age, quarter.end.month, quarter.end.day)
        birth_date = anniversary - dt.timedelta(days=rng.randint(0, 364))
        sex = pick(rng, "cases", "sex", {"F": 46, "M": 49, "X": 1, "U": 4})
        ethnicity = None if chance(rng, 0.02) else pick(
            rng, "cases", "ethnicity_group",
            {"White": 64, "Mixed": 9, "Asian": 8, "Black": 11, "Other": 3, "Unknown": 3},
        )
        intrafamilial = chance(rng, 0.15)

        referred_before = chance(rng, 0.55 if first_quarter else 0.2)
        if not referred_before:
            referral_date = random_date(rng, quarter.start, quarter.end)
        elif chance(rng, 0.12):  # long-running cases, up to five years old
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
        plan_type = pick(rng, "cases", "plan_type", plan_weights)
        lives_with_parent = plan_type != "LAC" and not chance(rng, 0.07)

        if intrafamilial and chance(rng, 0.3):
            exception = "alleged_perpetrator"
        elif plan_type == "LAC" and chance(rng, 0.35):
            exception = "court_order"
        elif not lives_with_parent and chance(rng, 0.25):
            exception = "whereabouts_unknown"
        elif chance(rng, 0.06):
            exception = pick(rng, "cases", "parent_partnership_exception",
                             {"young_person_declined": 3, "whereabouts_unknown": 1,
                              "court_order": 1, "other": 1.5, "alleged_perpetrator": 0.5})
        else:
            exception = None

        risk = None if chance(rng, 0.08) else pick(
            rng, "cases", "risk_level_start", {"low": 2, "medium": 4.5, "high": 3.5}
        )
        return Child(
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
        self, child: Child, quarter: Quarter, practice: PracticeProfile, ends: bool
    ) -> dict[str, Any]:
        """The child's ``cases`` row for one quarter; updates the child's carried risk level."""
        rng = self.rng
        end_date = None
        if ends:
            end_date = random_date(rng, max(quarter.start, child.referral_date), quarter.end)

        risk_start = child.risk_level
        risk_end = None
        if risk_start is not None and not chance(rng, 0.25):
            risk_end = next_risk_level(rng, codes("cases", "risk_level_end"), risk_start,
                                       0.15 + 0.35 * practice.quality, 0.97 - 0.15 * (1 - practice.quality))
        child.risk_level = risk_end or risk_start

        missing_episodes: int | None
        if chance(rng, 0.12):
            missing_episodes = None
        elif "missing" in child.harm_types:
            missing_episodes = 1
            while missing_episodes < 15 and chance(rng, 0.65):
                missing_episodes += 1
        else:
            missing_episodes = 0 if chance(rng, 0.78) else rng.randint(1, 3)

        returns: int | None
        if missing_episodes is None or (missing_episodes > 0 and chance(rng, 0.06)):
            returns = None
        else:
            timely = 0.35 + 0.55 * practice.quality
            returns = sum(chance(rng, timely) for _ in range(missing_episodes))

        return {
            "case_id": child.case_id,
            "age": age_on(child.birth_date, quarter.end),
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

    # -- meetings and actions -----------------------------------------------------------------

    def meeting_rows(
        self, case_row: Mapping[str, Any], quarter: Quarter, practice: PracticeProfile
    ) -> list[dict[str, Any]]:
        """The case's meetings in the quarter (0-8), in date order."""
        low, high = activity_window(case_row, quarter)
        count = self.rng.choices(range(len(MEETING_COUNT_WEIGHTS)), MEETING_COUNT_WEIGHTS)[0]
        if (high - low).days < 21:  # a case open only briefly this quarter has few meetings
            count = min(count, 2)
        dates = sorted(random_date(self.rng, low, high) for _ in range(count))
        return [
            meeting_row(self.rng, case_row, practice, day,
                        choose_meeting_type(self.rng, case_row, practice), self.new_meeting_id())
            for day in dates
        ]

    def action_rows(
        self, case_row: Mapping[str, Any], quarter: Quarter, practice: PracticeProfile
    ) -> list[dict[str, Any]]:
        """The case's actions in the quarter (0-12), in date order."""
        low, high = activity_window(case_row, quarter)
        count = self.rng.choices(range(len(ACTION_COUNT_WEIGHTS)), ACTION_COUNT_WEIGHTS)[0]
        if (high - low).days < 21:
            count = min(count, 4)
        dates = sorted(random_date(self.rng, low, high) for _ in range(count))
        return [action_row(self.rng, case_row, practice, day, self.new_action_id()) for day in dates]


def generate_la_packs(
    la_code: str, quarters: Sequence[Quarter], cases_per_quarter: int, seed: int | str,
    contexts_from: Quarter | None = None,
) -> list[LogicalPack]:
    """Every quarter's logical pack for one LA.

    Open cases carry over from quarter to quarter (same case_id, referral date and child), about
    30% close each quarter and newcomers keep the cohort at exactly ``cases_per_quarter``. The
    LA's random stream depends only on the seed and the LA code, so an LA's packs are the same
    whichever other LAs are chosen.

    The packs from ``contexts_from`` on record contexts (contract v1.1: the contexts and
    case_contexts tables, and context_id on meetings and actions); earlier ones, and all of them
    where it is None, are v1 packs. The contexts have a stream of their own, so where they start
    changes nothing else.
    """
    rng = random.Random(f"synth:{seed}:la:{la_code}")
    network = ContextNetwork(random.Random(f"synth:{seed}:contexts:{la_code}"))
    first_recorded = len(quarters) if contexts_from is None else list(quarters).index(contexts_from)
    trajectory = practice_trajectory(rng, len(quarters))
    factory = CaseFactory(rng)
    open_children: list[Child] = []
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
        tables: dict[str, list[dict[str, Any]]] = {
            table: [] for table in TABLES if table not in OPTIONAL_TABLES}
        still_open = []
        for child in carried + newcomers:
            # Young adults' cases close sooner; nobody stays past the contract's age range.
            age = age_on(child.birth_date, quarter.end)
            ends = age >= 24 or chance(rng, 0.5 if age >= 18 else 0.3)
            case_row = factory.case_row(child, quarter, practice, ends)
            tables["cases"].append(case_row)
            tables["meetings"].extend(factory.meeting_rows(case_row, quarter, practice))
            tables["actions"].extend(factory.action_rows(case_row, quarter, practice))
            if not ends:
                still_open.append(child)
        open_children = still_open
        context_tables = network.quarter_tables(quarter, practice, tables, first_quarter=index == 0)
        recorded = index >= first_recorded
        if recorded:
            tables.update(context_tables)
        packs.append(LogicalPack(la_code, quarter, tables, contract_columns(optional=recorded)))
    return packs
