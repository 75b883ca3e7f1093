"""Every indicator's branches (not applicable / met / not met) on small hand-built packs, with the
expected result written in each case; and scores and rates recomputed from case_indicators."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from assets.scoring import FrameworkError, framework, merge_local, parse_framework, score
from assets.warehouse import SCHEMA_SQL

LA, PERIOD = "E06000001", "2025Q3"  # 1 July to 30 September 2025
IN_PERIOD, BEFORE, AFTER = dt.date(2025, 8, 1), dt.date(2025, 6, 30), dt.date(2025, 10, 1)
NA = None  # not applicable


def case(**overrides) -> dict:
    row = dict(la_code=LA, period=PERIOD, case_key="c1", age=14, sex="F", ethnicity_group=None, harm_types=["CSE"],
               intrafamilial_harm=False, referral_date=dt.date(2025, 5, 1), case_end_date=None, plan_type="CSP",
               lives_with_parent=True, parent_partnership_exception=None, risk_level_start=None,
               risk_level_end=None, missing_episodes=None, return_interviews_72h=None)
    row.update(overrides)
    return row


def meeting(meeting_type="core_group", date=IN_PERIOD, invited=True, attended=True, views=True, informed=True,
            key="c1") -> dict:
    return dict(la_code=LA, period=PERIOD, case_key=key, source_row=1, meeting_date=date, meeting_type=meeting_type,
                parent_invited=invited, parent_attended=attended, parent_views_recorded=views,
                parent_informed_of_outcome=informed)


TARGETS = {t: target for target, types in __import__("assets.config", fromlist=["contract"]).contract()[
    "action_targets"].items() for t in types}


def action(action_type, status="completed", lead="police", info_source=None, date=IN_PERIOD, key="c1") -> dict:
    return dict(la_code=LA, period=PERIOD, case_key=key, source_row=1, action_date=date, action_type=action_type,
                target=TARGETS[action_type], lead_agency=lead, status=status, info_source=info_source)


def scored(cases: list[dict], meetings=(), actions=(), fw=None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(SCHEMA_SQL)
    for table, rows in (("cases", cases), ("meetings", meetings), ("actions", actions)):
        if rows:
            frame = pd.DataFrame(list(rows))
            con.register("rows", frame)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows")
            con.unregister("rows")
    score(con, fw=fw)
    return con


def result(con, indicator: str, key: str = "c1"):
    applicable, met, value = con.execute(
        "SELECT applicable, met, value FROM case_indicators WHERE case_key = ? AND indicator_id = ?",
        [key, indicator]).fetchone()
    assert applicable == (met is not None)
    return met if applicable else NA


PLANNING = [meeting("core_group")]
NOT_ELIGIBLE = {"lives_with_parent": False}
EXCEPTION = {"parent_partnership_exception": "young_person_declined"}

# (indicator, expected, case overrides, meetings, actions)
SCENARIOS = [
    # PI1: invited to every planning meeting
    ("PI1", True, {}, [meeting("core_group"), meeting("mace"), meeting("strategy", invited=False)], []),
    ("PI1", False, {}, [meeting("core_group"), meeting("mace", invited=False, attended=False)], []),
    ("PI1", NA, {}, [], []),  # no meetings
    ("PI1", NA, {}, [meeting("strategy")], []),  # strategy discussions are not planning meetings
    ("PI1", NA, EXCEPTION, PLANNING, []),
    ("PI1", NA, NOT_ELIGIBLE, PLANNING, []),
    ("PI1", NA, {}, [meeting("core_group", date=BEFORE)], []),  # meetings outside the period never count
    # PI2: a parent attended a planning meeting
    ("PI2", True, {}, [meeting("icpc", attended=False), meeting("rcpc")], []),
    ("PI2", False, {}, [meeting("icpc", attended=False), meeting("strategy", attended=True)], []),
    ("PI2", False, {}, [meeting("icpc", attended=False), meeting("rcpc", date=AFTER)], []),
    ("PI2", NA, EXCEPTION, PLANNING, []),
    # PI3: views recorded at least once
    ("PI3", True, {}, [meeting("cin_review", views=False), meeting("safety_planning", views=True)], []),
    ("PI3", False, {}, [meeting("cin_review", views=False)], []),
    ("PI3", NA, NOT_ELIGIBLE, PLANNING, []),
    # PI4: informed of the outcome of every meeting of any type (strategy included)
    ("PI4", True, {}, [meeting("strategy"), meeting("core_group")], []),
    ("PI4", False, {}, [meeting("strategy", informed=False), meeting("core_group")], []),
    ("PI4", NA, {}, [], []),
    ("PI4", NA, EXCEPTION, [meeting("strategy")], []),
    # PI5: completed parent needs assessment
    ("PI5", True, {}, [], [action("parent_needs_assessment", lead="childrens_social_care")]),
    ("PI5", False, {}, [], [action("parent_needs_assessment", status="in_progress")]),
    ("PI5", False, {}, [], [action("parent_needs_assessment", date=BEFORE)]),
    ("PI5", NA, EXCEPTION, [], [action("parent_needs_assessment")]),
    # PI6: specialist support referral or received (not not_done)
    ("PI6", True, {}, [], [action("parent_specialist_support_referral", status="planned")]),
    ("PI6", True, {}, [], [action("parent_specialist_support_received")]),
    ("PI6", False, {}, [], [action("parent_specialist_support_referral", status="not_done")]),
    ("PI6", NA, NOT_ELIGIBLE, [], [action("parent_specialist_support_received")]),
    # OF1: offender action other than intelligence submission
    ("OF1", True, {}, [], [action("cawn_issued", status="in_progress")]),
    ("OF1", False, {}, [], [action("intelligence_submission", info_source="parent")]),
    ("OF1", False, {}, [], [action("arrest", status="not_done"), action("charge", status="not_done")]),
    ("OF1", False, NOT_ELIGIBLE, [], []),  # applies to every case
    # OF2: charge or conviction completed
    ("OF2", True, {}, [], [action("conviction")]),
    ("OF2", False, {}, [], [action("charge", status="in_progress"), action("arrest")]),
    # OF3: intelligence from a parent
    ("OF3", True, {}, [], [action("intelligence_submission", info_source="parent")]),
    ("OF3", False, {}, [], [action("intelligence_submission", info_source="professional")]),
    ("OF3", False, {}, [], [action("intelligence_submission", info_source="parent", status="not_done")]),
    ("OF3", NA, EXCEPTION, [], [action("intelligence_submission", info_source="parent")]),
    # OF4: NRM referral where the harm includes CCE, county lines or trafficking
    ("OF4", True, {"harm_types": ["county_lines"]}, [], [action("nrm_referral", lead="childrens_social_care")]),
    ("OF4", False, {"harm_types": ["CSE", "trafficking"]}, [], [action("nrm_referral", status="not_done")]),
    ("OF4", NA, {"harm_types": ["CSE", "missing"]}, [], [action("nrm_referral")]),
    # CI1: completed context assessment
    ("CI1", True, {}, [], [action("online_context_assessment", lead="education")]),
    ("CI1", False, {}, [], [action("location_assessment", status="planned")]),
    ("CI1", False, {}, [], [action("location_disruption")]),  # an intervention, not an assessment
    # CI2: context action that is not an assessment
    ("CI2", True, {}, [], [action("school_intervention", status="planned", lead="education")]),
    ("CI2", False, {}, [], [action("peer_group_assessment"), action("licensing_review", status="not_done")]),
    # CI3: MACE or context conference
    ("CI3", True, {}, [meeting("context_conference")], []),
    ("CI3", True, NOT_ELIGIBLE, [meeting("mace", invited=False, attended=False)], []),
    ("CI3", False, {}, [meeting("core_group"), meeting("mace", date=AFTER)], []),
    # CI4: >= 2 agencies other than children's social care lead counted actions
    ("CI4", True, {}, [], [action("arrest", lead="police"), action("school_intervention", lead="education")]),
    ("CI4", False, {}, [], [action("arrest", lead="police"), action("cawn_issued", lead="police"),
                            action("direct_work", lead="childrens_social_care")]),
    ("CI4", False, {}, [], [action("arrest", lead="police"), action("closure_order", lead="licensing",
                                                                     status="not_done")]),
    ("CI4", NA, {}, [], []),
    ("CI4", NA, {}, [], [action("arrest", status="not_done"), action("curfew", status="not_done")]),  # all not_done
    # PF1: share of counted actions targeting contexts or offenders, met at >= 0.5
    ("PF1", True, {}, [], [action("arrest"), action("direct_work", lead="childrens_social_care")]),
    ("PF1", False, {}, [], [action("arrest"), action("direct_work"), action("parenting_programme")]),
    ("PF1", NA, {}, [], [action("arrest", status="not_done")]),
    # PF2: EFH-only case on a CP plan (informational)
    ("PF2", True, {"plan_type": "CP"}, [], []),
    ("PF2", False, {"plan_type": "CSP"}, [], []),
    ("PF2", NA, {"plan_type": "CP", "intrafamilial_harm": True}, [], []),
    # OC1: risk fell
    ("OC1", True, {"risk_level_start": "high", "risk_level_end": "low"}, [], []),
    ("OC1", False, {"risk_level_start": "low", "risk_level_end": "medium"}, [], []),
    ("OC1", False, {"risk_level_start": "medium", "risk_level_end": "medium"}, [], []),
    ("OC1", NA, {"risk_level_start": "high"}, [], []),
    # OC2: every missing episode followed by a return interview in 72 hours
    ("OC2", True, {"missing_episodes": 3, "return_interviews_72h": 3}, [], []),
    ("OC2", False, {"missing_episodes": 3, "return_interviews_72h": 2}, [], []),
    ("OC2", False, {"missing_episodes": 2, "return_interviews_72h": None}, [], []),
    ("OC2", NA, {"missing_episodes": 0, "return_interviews_72h": 0}, [], []),
    ("OC2", NA, {}, [], []),
]


@pytest.mark.parametrize("indicator,expected,overrides,meetings,actions", SCENARIOS,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SCENARIOS)])
def test_indicator_branch(indicator, expected, overrides, meetings, actions):
    con = scored([case(**overrides)], meetings, actions)
    assert result(con, indicator) == expected


def test_every_indicator_has_all_three_outcomes_covered():
    outcomes = {}
    for indicator, expected, *_ in SCENARIOS:
        outcomes.setdefault(indicator, set()).add(expected)
    everyone = {"OF1", "OF2", "CI1", "CI2", "CI3"}  # these apply to every case: no not-applicable branch
    # The indicators about contexts need context rows: their branches are in test_contexts_scoring.py.
    about_contexts = {"CI5", "CI6"} | {i.id for i in framework().indicators if i.unit == "context"}
    for indicator in (i.id for i in framework().indicators if i.id not in about_contexts):
        wanted = {True, False} if indicator in everyone else {True, False, NA}
        assert outcomes.get(indicator, set()) >= wanted, indicator


def test_pf1_value_is_the_share_of_counted_actions():
    con = scored([case()], [], [action("arrest"), action("location_disruption"), action("direct_work"),
                                action("parenting_programme", status="not_done")])
    assert con.execute("SELECT value FROM case_indicators WHERE indicator_id = 'PF1'").fetchone()[0] == 2 / 3


def test_scores_and_rates_recompute_exactly_from_case_indicators(tmp_path):
    from assets import warehouse
    from assets.ingest import ingest_inbox
    from synth.packs import write_packs

    write_packs(tmp_path / "inbox", las=3, quarters=2, seed=11, cases_per_la=40, formats="csv")
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_inbox(con, tmp_path / "inbox", b"k")
    score(con)
    fw = framework()
    ci = con.execute("SELECT * FROM case_indicators").df()
    assert len(ci) == con.execute("SELECT count(*) FROM cases").fetchone()[0] * len(fw.indicators_of("case"))
    # Rates: numerator = met, denominator = applicable, per pack and indicator, for either unit.
    units = con.execute("SELECT * EXCLUDE (case_key) FROM case_indicators UNION ALL "
                        "SELECT * EXCLUDE (context_key) FROM context_indicators").df()
    assert set(units["indicator_id"]) == {i.id for i in fw.indicators}  # synth packs send contexts too
    applicable = ci[ci["applicable"]]
    expected = units[units["applicable"]].groupby(["la_code", "period", "indicator_id"]).agg(
        numerator=("met", "sum"), denominator=("met", "size")).reset_index()
    rates = con.execute("SELECT la_code, period, indicator_id, numerator, denominator, rate FROM indicator_rates "
                        "WHERE denominator > 0 ORDER BY ALL").df()
    merged = rates.merge(expected, on=["la_code", "period", "indicator_id"], suffixes=("", "_recount"))
    assert len(merged) == len(rates) == len(expected)
    assert (merged["numerator"] == merged["numerator_recount"]).all()
    assert (merged["denominator"] == merged["denominator_recount"]).all()
    assert (merged["rate"] == merged["numerator"] / merged["denominator"]).all()
    # Case domain scores: mean of applicable, non-informational values in the domain.
    domains = {i.id: i.domain for i in fw.indicators_of("case") if not i.informational}
    scored_rows = applicable[applicable["indicator_id"].isin(domains)].copy()
    scored_rows["domain"] = scored_rows["indicator_id"].map(domains)
    by_case = scored_rows.groupby(["la_code", "period", "case_key", "domain"])["value"].mean()
    stored = con.execute("SELECT la_code, period, case_key, domain, score FROM case_domain_scores "
                         "WHERE score IS NOT NULL").df().set_index(["la_code", "period", "case_key", "domain"])["score"]
    assert stored.sort_index().index.equals(by_case.sort_index().index)
    assert (stored.sort_index() - by_case.sort_index()).abs().max() < 1e-12
    # Pack domain scores and the practice score.
    pack = by_case.groupby(["la_code", "period", "domain"]).mean()
    stored_pack = con.execute("SELECT la_code, period, domain, score FROM pack_scores").df().set_index(
        ["la_code", "period", "domain"])["score"]
    for key, value in pack.items():
        assert abs(stored_pack[key] - value) < 1e-12
    practice = pack.groupby(["la_code", "period"]).mean()
    for (la, period), value in practice.items():
        assert abs(stored_pack[(la, period, "PRACTICE")] - value) < 1e-12


def test_a_definition_error_is_reported_at_load_with_the_indicator_id():
    data = __import__("assets.config", fromlist=["load_yaml"]).load_yaml("indicators.yaml")
    broken = {**data, "indicators": [*data["indicators"][:3],
                                     {**data["indicators"][3], "met": "no_such_tally >= 1"}]}
    with pytest.raises(FrameworkError, match="indicator PI4"):
        parse_framework(broken)
    missing = {**data, "indicators": [{k: v for k, v in data["indicators"][0].items() if k != "met"}]}
    with pytest.raises(FrameworkError, match="indicator PI1: missing met"):
        parse_framework(missing)
    with pytest.raises(FrameworkError, match="tallies planning_meetings already defined"):
        merge_local(data, {"tallies": {"planning_meetings": {"from": "meetings", "count_where": "true"}}})


def test_the_documented_local_indicator_works(tmp_path):
    """docs/local-indicators.md: a partnership adds LOC1 by copying one YAML file."""
    from pathlib import Path

    import yaml

    from assets.config import load_yaml

    local = yaml.safe_load((Path(__file__).parents[1] / "docs" / "examples" / "indicators.local.yaml").read_text())
    fw = parse_framework(merge_local(load_yaml("indicators.yaml"), local))
    assert fw.indicator("LOC1").informational
    con = scored([case(case_key="a"), case(case_key="b"), case(case_key="c", lives_with_parent=False)],
                 [meeting("safety_planning", key="a"), meeting("safety_planning", attended=False, key="b"),
                  meeting("safety_planning", key="c")], [], fw=fw)
    assert [result(con, "LOC1", k) for k in ("a", "b", "c")] == [True, False, NA]
    assert con.execute("SELECT numerator, denominator FROM indicator_rates WHERE indicator_id = 'LOC1'"
                       ).fetchone() == (1, 2)
    # Informational: the practice score is the same as without it.
    base = scored([case(case_key="a"), case(case_key="b"), case(case_key="c", lives_with_parent=False)],
                  [meeting("safety_planning", key="a"), meeting("safety_planning", attended=False, key="b"),
                   meeting("safety_planning", key="c")], [])
    practice = "SELECT score FROM pack_scores WHERE domain = 'PRACTICE'"
    assert con.execute(practice).fetchone() == base.execute(practice).fetchone()
