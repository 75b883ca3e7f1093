"""The places, peer groups, schools and online spaces that children's cases share (the contexts and
case_contexts tables of contract v1.1), and which meetings and actions are about one of them.

An LA's contexts persist from quarter to quarter, as its cases do: a context is identified with the
first cases linked to it (or with none, from community intelligence), cases newly open later join
it, and it closes at some point; one whose cases have all closed may still be worked on for a while.
Most cases sit in small networks of two to five, a few in larger ones, some in none. Context work
(assessments, interventions) and some offender disruption (closure orders at a flat, child
abduction warning notices about a place) name the context they are about, as do the MACE meetings
and context conferences about shared contexts; everything else leaves ``context_id`` blank.

The network draws from its own seeded stream, after the LA's cases, meetings and actions are drawn,
so the same seed gives the same cases, meetings and actions whether or not contexts are recorded."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synth.draws import chance, next_risk_level, pick, random_date
from synth.population import NEUTRAL_PRACTICE, PracticeProfile, Quarter
from synth.vocabulary import action_types_by_target, codes

# Which LAs record contexts yet, and from which quarter: case system vendors are only now adding
# them, so some LAs send v1 packs throughout and others start part-way through 2025. The first
# quarter an LA records contexts in ("always": every quarter of the run; "never": none), with its
# share of LAs.
CONTEXT_RECORDING_FROM = {"always": 0.45, "2025Q2": 0.12, "2025Q3": 0.12, "2025Q4": 0.11, "never": 0.2}

# How many contexts a newly open case is linked to (0-3), as relative weights: first those its
# context work this quarter is about (each with WORKED_ON_LINKED_SHARE, and then at least one),
# then contexts of types drawn from its harm types.
CONTEXTS_PER_CASE_WEIGHTS = (30, 52, 14, 4)
WORKED_ON_LINKED_SHARE = 0.8
# The type of a case's context: base weights, then what each of the case's harm types adds.
CONTEXT_TYPE_WEIGHTS = {"location": 3, "peer_group": 2.5, "school": 1, "online": 0.5, "other": 0.3}
HARM_CONTEXT_TYPE_WEIGHTS = {
    "CSE": {"location": 2}, "CCE": {"location": 2, "peer_group": 1}, "county_lines": {"location": 2},
    "trafficking": {"location": 1.5}, "missing": {"location": 1}, "online": {"online": 4},
    "peer_abuse": {"peer_group": 3, "school": 1}, "serious_youth_violence": {"peer_group": 3, "location": 1},
}
# How many cases a new context links (the index), as relative weights: most two to five, some one,
# a few six to fifteen. A context starts with half to all of them; the rest join in later quarters.
NETWORK_SIZE_WEIGHTS = (0, 18, 25, 20, 13, 9, 4, 3, 2.5, 2, 1.5, 1.2, 0.9, 0.6, 0.4, 0.3)
JOIN_SHARE = 0.5  # the share of open contexts with room that newly open cases join in a quarter
CASELESS_SHARE = 0.08  # new contexts identified with no case yet (from community intelligence)
IDENTIFIED_BEFORE_SHARE = 0.5  # contexts open when the run starts that were identified before it
CLOSE_SHARE = 0.2  # open contexts closed in a quarter
CLOSE_SHARE_WITHOUT_CASES = 0.6  # the same, for a context none of whose cases is still open
LINK_TYPES = {"location": "harmed_at", "peer_group": "peer_group_member", "school": "attends",
              "online": "online_contact", "other": "other"}
LINK_TYPE_BLANK_SHARE = 0.1
UNASSESSED_GRADED_SHARE = 0.15  # contexts given a risk level without an assessment (at a MACE)
RISK_END_SHARE = 0.7  # graded contexts whose risk is graded again at the end of the quarter
RISK_WEIGHTS = {"low": 2, "medium": 4, "high": 3}

# Actions about a context: the context types each may be about, and how often it names one. The
# four assessments are what make a context assessed.
CONTEXT_ASSESSMENTS = {"location_assessment": ("location",), "peer_group_assessment": ("peer_group",),
                       "school_assessment": ("school",), "online_context_assessment": ("online",)}
ACTIONS_ABOUT_CONTEXTS: dict[str, tuple[tuple[str, ...], float]] = {
    **{action: (types, 0.9) for action, types in CONTEXT_ASSESSMENTS.items()},
    "context_safety_plan": (tuple(CONTEXT_TYPE_WEIGHTS), 0.85),
    "location_disruption": (("location",), 0.9),
    "detached_youth_work": (("location", "peer_group"), 0.8),
    "guardianship_engagement": (("location",), 0.85),
    "licensing_review": (("location",), 0.85),
    "transport_safety": (("location",), 0.8),
    "school_intervention": (("school",), 0.9),
    "peer_group_intervention": (("peer_group",), 0.9),
    # Offender disruption at a place.
    "closure_order": (("location",), 0.9),
    "hotel_information_request": (("location",), 0.8),
    "cawn_issued": (("location",), 0.4),
    "offender_disruption_other": (("location", "peer_group"), 0.3),
}
# Context work on a case (the contract's context actions, not offender disruption) says what type
# its contexts are.
CONTEXT_WORK = frozenset(action_types_by_target()["context"])
# Meetings about a context: a MACE or context conference on a case in a shared context names it.
MEETINGS_ABOUT_CONTEXTS = {"mace": 0.7, "context_conference": 0.85}


def recording_start(la_code: str, quarters: Sequence[Quarter], seed: int | str) -> Quarter | None:
    """The first of the run's quarters whose pack from this LA records contexts, or None.

    Drawn per LA, so an LA's packs are the same whichever other LAs are chosen."""
    rng = random.Random(f"synth:{seed}:context-recording:{la_code}")
    start = rng.choices(tuple(CONTEXT_RECORDING_FROM), weights=tuple(CONTEXT_RECORDING_FROM.values()))[0]
    if start == "never":
        return None
    if start == "always":
        return quarters[0]
    year, number = (int(part) for part in start.split("Q"))
    return next((quarter for quarter in quarters if (quarter.year, quarter.number) >= (year, number)), None)


@dataclass
class Context:
    """A context as it persists from quarter to quarter while it stays open."""

    context_id: str
    context_type: str
    identified_date: dt.date
    size: int  # the cases it will link in all
    links: dict[str, str | None] = field(default_factory=dict)  # case_id -> link_type, in link order
    risk_level: str | None = None  # latest graded risk; the next quarter starts from it
    assessed: bool = False
    closed_date: dt.date | None = None

    def open_on(self, day: dt.date) -> bool:
        return self.identified_date <= day and (self.closed_date is None or day <= self.closed_date)


class ContextNetwork:
    """One LA's contexts and their links to its cases, quarter by quarter."""

    def __init__(self, rng: random.Random, id_prefix_digit: str | None = None) -> None:
        self.rng = rng
        # Clean IDs are a letter and seven digits; planted ones add a leading digit.
        self._prefix = id_prefix_digit or ""
        self._next_context = rng.randint(1_000_000, 1_999_999)
        self.open: dict[str, Context] = {}
        self.case_links: dict[str, list[str]] = {}  # case_id -> its contexts, in link order
        self.seen: set[str] = set()

    def new_context_id(self) -> str:
        self._next_context += self.rng.randint(1, 3)
        return f"X{self._prefix}{self._next_context}"

    # -- the network -----------------------------------------------------------------------------

    def quarter_tables(
        self, quarter: Quarter, practice: PracticeProfile, tables: Mapping[str, list[dict[str, Any]]],
        first_quarter: bool,
    ) -> dict[str, list[dict[str, Any]]]:
        """The quarter's contexts and case_contexts rows; names the contexts that the quarter's
        meetings and actions are about (their ``context_id``)."""
        cases = tables["cases"]
        self._link_new_cases(cases, self._worked_on_types(tables["actions"]), quarter, first_quarter)
        in_pack = {row["case_id"] for row in cases}
        listed = dict(self.open)
        for context in listed.values():
            has_cases = any(case_id in in_pack for case_id in context.links)
            if chance(self.rng, CLOSE_SHARE if has_cases else CLOSE_SHARE_WITHOUT_CASES):
                context.closed_date = random_date(self.rng, max(context.identified_date, quarter.start), quarter.end)
        shared = {context_id for context_id, context in listed.items()
                  if sum(case_id in in_pack for case_id in context.links) >= 2}
        assessed_now = self._name_contexts(tables, listed, shared)
        context_rows = [self._context_row(listed[context_id], context_id in assessed_now, practice)
                        for context_id in sorted(listed)]
        link_rows = [{"case_id": row["case_id"], "context_id": context_id,
                      "link_type": listed[context_id].links[row["case_id"]]}
                     for row in cases for context_id in self.case_links.get(row["case_id"], ())
                     if context_id in listed]
        for context_id, context in listed.items():
            if context.closed_date is not None:
                self._forget(context_id, context)
        return {"contexts": context_rows, "case_contexts": link_rows}

    @staticmethod
    def _worked_on_types(actions: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
        """case_id -> the context types its context work this quarter is about (a school
        assessment: a school), each once, in action order."""
        worked_on: dict[str, list[str]] = {}
        for row in actions:
            about = ACTIONS_ABOUT_CONTEXTS.get(row["action_type"])
            if about is not None and len(about[0]) == 1 and row["action_type"] in CONTEXT_WORK:
                types = worked_on.setdefault(row["case_id"], [])
                if about[0][0] not in types:
                    types.append(about[0][0])
        return worked_on

    def _link_new_cases(
        self, cases: Sequence[Mapping[str, Any]], worked_on: Mapping[str, list[str]], quarter: Quarter,
        first_quarter: bool,
    ) -> None:
        """Links each case seen for the first time to its contexts (mostly those its context work
        is about, then a drawn number of others): some join open contexts with room, the rest form
        new ones; a few new contexts have no case yet."""
        rng = self.rng
        wanted: dict[str, list[str]] = {}  # context type -> a new case for each context it wants
        for row in cases:
            case_id = row["case_id"]
            if case_id in self.seen:
                continue
            self.seen.add(case_id)
            how_many = rng.choices(range(len(CONTEXTS_PER_CASE_WEIGHTS)), CONTEXTS_PER_CASE_WEIGHTS)[0]
            types = [context_type for context_type in worked_on.get(case_id, ())
                     if chance(rng, WORKED_ON_LINKED_SHARE)]
            how_many = max(how_many, min(len(types), 1))
            types += [self._context_type(row["harm_types"]) for _ in range(how_many - len(types))]
            for context_type in types[:how_many]:
                wanted.setdefault(context_type, []).append(case_id)
        for context_type in sorted(wanted):
            waiting = wanted[context_type]
            rng.shuffle(waiting)
            for context in sorted(self.open.values(), key=lambda c: c.context_id):
                if context.context_type == context_type and len(context.links) < context.size \
                        and chance(rng, JOIN_SHARE):
                    self._join(context, self._take(waiting, context, rng.randint(1, 2)))
            while waiting:
                size = rng.choices(range(len(NETWORK_SIZE_WEIGHTS)), NETWORK_SIZE_WEIGHTS)[0]
                context = self._new_context(context_type, quarter, first_quarter, size)
                self._join(context, self._take(waiting, context, max(1, round(size * rng.uniform(0.5, 1)))))
                if chance(rng, CASELESS_SHARE):
                    self._new_context(self._context_type(()), quarter, first_quarter=False, size=size)

    def _context_type(self, harm_types: Iterable[str]) -> str:
        weights = dict(CONTEXT_TYPE_WEIGHTS)
        for harm in harm_types:
            for context_type, extra in HARM_CONTEXT_TYPE_WEIGHTS.get(harm, {}).items():
                weights[context_type] += extra
        return pick(self.rng, "contexts", "context_type", weights)

    def _new_context(self, context_type: str, quarter: Quarter, first_quarter: bool, size: int) -> Context:
        if first_quarter and chance(self.rng, IDENTIFIED_BEFORE_SHARE):
            identified = quarter.start - dt.timedelta(days=self.rng.randint(1, 540))
        else:
            identified = random_date(self.rng, quarter.start, quarter.end)
        context = Context(self.new_context_id(), context_type, identified, size)
        self.open[context.context_id] = context
        return context

    @staticmethod
    def _take(waiting: list[str], context: Context, how_many: int) -> list[str]:
        """Up to ``how_many`` waiting cases not yet linked to the context, taken off the list."""
        taken: list[str] = []
        passed_over = []
        while waiting and len(taken) < how_many:
            case_id = waiting.pop()
            if case_id in context.links or case_id in taken:
                passed_over.append(case_id)  # a case wanting two contexts of a type is in two
            else:
                taken.append(case_id)
        waiting.extend(reversed(passed_over))
        return taken

    def _join(self, context: Context, case_ids: Iterable[str]) -> None:
        for case_id in case_ids:
            link_type = None if chance(self.rng, LINK_TYPE_BLANK_SHARE) else LINK_TYPES[context.context_type]
            context.links[case_id] = link_type
            self.case_links.setdefault(case_id, []).append(context.context_id)

    def _forget(self, context_id: str, context: Context) -> None:
        del self.open[context_id]
        for case_id in context.links:
            self.case_links[case_id].remove(context_id)

    # -- what meetings and actions are about -------------------------------------------------------

    def _name_contexts(
        self, tables: Mapping[str, list[dict[str, Any]]], listed: Mapping[str, Context], shared: set[str]
    ) -> set[str]:
        """Sets ``context_id`` on the meetings and actions about a context of their case; returns
        the contexts assessed this quarter."""
        rng = self.rng
        assessed: set[str] = set()
        for row in tables["actions"]:
            about = ACTIONS_ABOUT_CONTEXTS.get(row["action_type"])
            linked = self.case_links.get(row["case_id"])
            if about is None or not linked:
                continue
            types, share = about
            fitting = [context_id for context_id in linked if context_id in listed
                       and listed[context_id].context_type in types and listed[context_id].open_on(row["action_date"])]
            if fitting and chance(rng, share):
                row["context_id"] = context_id = rng.choice(fitting)
                if row["action_type"] in CONTEXT_ASSESSMENTS and row["status"] != "not_done":
                    assessed.add(context_id)
        for row in tables["meetings"]:
            share = MEETINGS_ABOUT_CONTEXTS.get(row["meeting_type"])
            linked = self.case_links.get(row["case_id"])
            if share is None or not linked:
                continue
            fitting = [context_id for context_id in linked
                       if context_id in shared and listed[context_id].open_on(row["meeting_date"])]
            if fitting and chance(rng, share):
                row["context_id"] = rng.choice(fitting)
        return assessed

    def _context_row(self, context: Context, assessed_now: bool, practice: PracticeProfile) -> dict[str, Any]:
        """The context's row for one quarter; updates its carried risk level."""
        rng = self.rng
        start = context.risk_level
        if start is None and (assessed_now or chance(rng, UNASSESSED_GRADED_SHARE)):
            start = pick(rng, "contexts", "risk_level_start", RISK_WEIGHTS)
        end = None
        if start is not None and (assessed_now or context.assessed) and chance(rng, RISK_END_SHARE):
            end = next_risk_level(rng, codes("contexts", "risk_level_end"), start,
                                  0.1 + 0.4 * practice.context_work, 0.95 - 0.15 * (1 - practice.context_work))
        context.risk_level = end or start
        context.assessed = context.assessed or assessed_now
        return {"context_id": context.context_id, "context_type": context.context_type,
                "identified_date": context.identified_date, "risk_level_start": start,
                "risk_level_end": end, "closed_date": context.closed_date}

    # -- single rows, for planted faults ---------------------------------------------------------------

    def standalone_row(self, quarter: Quarter) -> dict[str, Any]:
        """A clean context row identified in the quarter, linked to no case."""
        context = Context(self.new_context_id(), self._context_type(()), random_date(self.rng, quarter.start,
                                                                                    quarter.end), size=1)
        return self._context_row(context, assessed_now=chance(self.rng, 0.5), practice=NEUTRAL_PRACTICE)

    def link_row(self, case_id: str, context_row: Mapping[str, Any]) -> dict[str, Any]:
        """A clean case_contexts row linking a case to a context."""
        return {"case_id": case_id, "context_id": context_row["context_id"],
                "link_type": LINK_TYPES[context_row["context_type"]]}

