"""Meetings and actions on a case, drawn from the LA's practice profile: parent involvement follows
its parent inclusion, and the mix of action targets its offender focus and context work."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from synth.draws import chance, pick, weighted_choice
from synth.population import PracticeProfile, Quarter
from synth.vocabulary import action_types_by_target

# How many meetings (0-8) and actions (0-12) a case has in a quarter, as relative weights.
MEETING_COUNT_WEIGHTS = (10, 14, 18, 17, 14, 10, 8, 5, 4)
ACTION_COUNT_WEIGHTS = (6, 8, 10, 11, 11, 10, 9, 8, 7, 6, 5, 5, 4)


def activity_window(case_row: Mapping[str, Any], quarter: Quarter) -> tuple[dt.date, dt.date]:
    """The dates inside the quarter when the case was open, for meetings and actions.

    Never empty: referral is on or before the quarter end and the case (being in the cohort) ends,
    if at all, on or after both the referral and the quarter start.
    """
    low = max(quarter.start, case_row["referral_date"])
    end_date = case_row["case_end_date"]
    high = quarter.end if end_date is None else min(quarter.end, end_date)
    return low, high


def choose_meeting_type(rng: random.Random, case_row: Mapping[str, Any], practice: PracticeProfile) -> str:
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
    return pick(rng, "meetings", "meeting_type", weights, default=0.1)


def meeting_row(
    rng: random.Random,
    case_row: Mapping[str, Any],
    practice: PracticeProfile,
    meeting_date: dt.date,
    meeting_type: str,
    meeting_id: str,
) -> dict[str, Any]:
    """One meeting; parent involvement follows the LA's parent-inclusion propensity."""
    inclusion = practice.parent_inclusion
    eligible = case_row["lives_with_parent"] and case_row["parent_partnership_exception"] is None
    if meeting_type == "strategy":  # parents rarely join strategy discussions
        invite_chance = 0.05 + 0.15 * inclusion
    elif eligible:
        invite_chance = 0.25 + 0.7 * inclusion
    else:
        invite_chance = 0.1
    invited = chance(rng, invite_chance)
    attended = invited and chance(rng, 0.45 + 0.45 * inclusion)
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
        "parent_views_recorded": chance(rng, views_chance),
        "parent_informed_of_outcome": chance(rng, informed_chance),
    }


def action_row(
    rng: random.Random,
    case_row: Mapping[str, Any],
    practice: PracticeProfile,
    action_date: dt.date,
    action_id: str,
) -> dict[str, Any]:
    """One action; its target mix follows the LA's practice profile."""
    inclusion, offender, context = (
        practice.parent_inclusion, practice.offender_focus, practice.context_work
    )
    eligible = case_row["lives_with_parent"] and case_row["parent_partnership_exception"] is None
    harm = set(case_row["harm_types"])
    targets = action_types_by_target()
    target = weighted_choice(rng, tuple(targets), {
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
    action_type = weighted_choice(rng, targets[target], type_weights.get(target, {}), 1.0)
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
    lead_agency = pick(rng, "actions", "lead_agency", agency_weights.get(target, {}), 1.0)
    status = pick(rng, "actions", "status", {
        "completed": 0.35 + 0.3 * practice.quality, "in_progress": 0.25, "planned": 0.2,
        "not_done": 0.15 * (1.2 - practice.quality),
    })
    info_source = None
    if action_type == "intelligence_submission":
        info_source = pick(rng, "actions", "info_source", {
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
