"""Contexts as units (contract v1.1): every branch of the context indicators CX1-CX6 and of the
case indicators CI5-CI6 on hand-built rows, the pack context score beside the practice score, a v1
pack scoring exactly as before, shared contexts and networks counted by hand, `explain
--context-key`, and framework errors for units."""

from __future__ import annotations

import datetime as dt

import pytest

from assets import warehouse
from assets.config import load_yaml
from assets.explain import explain_case, explain_context
from assets.networks import pooled_networks
from assets.scoring import FrameworkError, framework, merge_local, parse_framework, pooled_rates, score

LA, V1_LA, PERIOD = "E06000001", "E08000011", "2025Q3"  # 1 July to 30 September 2025
IN_PERIOD, BEFORE = dt.date(2025, 8, 1), dt.date(2025, 6, 30)
NA = None  # not applicable
NEW_INDICATORS = {"CI5", "CI6", "CX1", "CX2", "CX3", "CX4", "CX5", "CX6"}
TARGETS = {t: target for target, types in load_yaml("contract.yaml")["action_targets"].items() for t in types}


class Pack:
    """Rows for one warehouse, inserted with SQL; `row` numbers the meetings and actions."""

    def __init__(self, tmp_path):
        self.con = warehouse.connect(tmp_path / "warehouse.duckdb")
        self.row = 0

    def submission(self, la=LA, has_contexts=True):
        self.con.execute("INSERT INTO submissions (la_code, period, source, content_sha256, received_at, status, "
                         "cases_loaded, rows_quarantined, has_contexts) VALUES (?, ?, 'pack', 'sha', now(), "
                         "'loaded', 0, 0, ?)", [la, PERIOD, has_contexts])

    def case(self, key, la=LA, **columns):
        row = {"lives_with_parent": True, "intrafamilial_harm": False, "harm_types": ["CSE"], "plan_type": "CSP",
               **columns}
        names = ", ".join(row)
        self.con.execute(f"INSERT INTO cases (la_code, period, case_key, {names}) VALUES (?, ?, ?"
                         f"{', ?' * len(row)})", [la, PERIOD, key, *row.values()])

    def context(self, key, context_type="location", start=None, end=None, la=LA):
        self.con.execute("INSERT INTO contexts VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                         [la, PERIOD, key, context_type, dt.date(2025, 7, 1), start, end])

    def link(self, case_key, context_key, la=LA):
        self.con.execute("INSERT INTO case_contexts VALUES (?, ?, ?, ?, 'harmed_at')",
                         [la, PERIOD, case_key, context_key])

    def action(self, case_key, action_type, context=None, status="completed", lead="police", date=IN_PERIOD, la=LA):
        self.row += 1
        self.con.execute("INSERT INTO actions (la_code, period, case_key, source_row, action_date, action_type, "
                         "target, lead_agency, status, info_source, context_key) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                         [la, PERIOD, case_key, self.row, date, action_type, TARGETS[action_type], lead, status,
                          context])

    def meeting(self, case_key, meeting_type, context=None, date=IN_PERIOD, la=LA):
        self.row += 1
        self.con.execute("INSERT INTO meetings VALUES (?, ?, ?, ?, ?, ?, true, true, true, true, ?)",
                         [la, PERIOD, case_key, self.row, date, meeting_type, context])

    def result(self, indicator, key, table="context_indicators", column="context_key"):
        applicable, met = self.con.execute(f"SELECT applicable, met FROM {table} WHERE {column} = ? AND "
                                           "indicator_id = ?", [key, indicator]).fetchone()
        assert applicable == (met is not None)
        return met if applicable else NA

    def case_result(self, indicator, key):
        return self.result(indicator, key, "case_indicators", "case_key")


@pytest.fixture
def pack(tmp_path):
    """One v1.1 pack. Contexts:
    X1 location, cases a and b, risk high -> low: completed location assessment, a context
       conference, a planned location disruption and an arrest, all led by police;
    X2 peer group, cases b and d, risk low -> medium: a planned (not completed) peer group
       assessment and an intelligence submission, both led by social care;
    X3 school, no case, no risk levels, nothing done;
    X4 online, case e: an assessment dated before the period and a not_done intervention.
    Cases a (X1), b (X1, X2), c (none), d (X2), e (X4)."""
    p = Pack(tmp_path)
    p.submission()
    for key in "abcde":
        p.case(key)
    p.context("X1", "location", "high", "low")
    p.context("X2", "peer_group", "low", "medium")
    p.context("X3", "school")
    p.context("X4", "online")
    for case_key, context_key in (("a", "X1"), ("b", "X1"), ("b", "X2"), ("d", "X2"), ("e", "X4")):
        p.link(case_key, context_key)
    p.action("a", "location_assessment", "X1")
    p.meeting("b", "context_conference", "X1")
    p.action("a", "location_disruption", "X1", status="planned")
    p.action("b", "arrest", "X1")
    p.action("b", "peer_group_assessment", "X2", status="planned", lead="childrens_social_care")
    p.action("d", "intelligence_submission", "X2", lead="childrens_social_care")
    p.action("e", "online_context_assessment", "X4", date=BEFORE)
    p.action("e", "school_intervention", "X4", status="not_done", lead="education")
    p.action("c", "arrest")  # no context: counts for case c only
    score(p.con)
    return p


# (indicator, context, expected)
CONTEXT_SCENARIOS = [
    ("CX1", "X1", True), ("CX1", "X2", False),  # planned is not completed
    ("CX1", "X4", False),  # dated before the period
    ("CX2", "X1", True), ("CX2", "X2", False),  # two cases, no conference
    ("CX2", "X3", NA), ("CX2", "X4", NA),  # fewer than two cases
    ("CX3", "X1", True), ("CX3", "X2", False),  # an assessment is not an intervention
    ("CX3", "X4", False),  # not_done never counts
    ("CX4", "X1", True), ("CX4", "X2", False),  # every counted action led by social care
    ("CX4", "X3", NA), ("CX4", "X4", NA),  # no counted action
    ("CX5", "X1", True), ("CX5", "X2", False),  # intelligence submission is not disruption
    ("CX5", "X3", NA), ("CX5", "X4", NA),  # school and online
    ("CX6", "X1", True), ("CX6", "X2", False), ("CX6", "X3", NA),
]


@pytest.mark.parametrize("indicator,context_key,expected", CONTEXT_SCENARIOS,
                         ids=[f"{i}-{c}" for i, c, _ in CONTEXT_SCENARIOS])
def test_context_indicator_branch(pack, indicator, context_key, expected):
    assert pack.result(indicator, context_key) == expected


def test_every_new_indicator_has_each_of_its_outcomes_covered():
    outcomes = {}
    for indicator, _, expected in CONTEXT_SCENARIOS:
        outcomes.setdefault(indicator, set()).add(expected)
    for indicator in ("CX2", "CX4", "CX5", "CX6"):
        assert outcomes[indicator] >= {True, False, NA}, indicator
    for indicator in ("CX1", "CX3"):  # every context
        assert outcomes[indicator] >= {True, False}, indicator
    assert {i.id for i in framework().indicators_of("context")} == set(outcomes)


def test_case_indicators_about_contexts(pack):
    # CI5: linked to a context (c is not); CI6: one of its contexts assessed (X1 was; X2, X4 were not).
    assert [pack.case_result("CI5", k) for k in "abcde"] == [True, True, False, True, True]
    assert [pack.case_result("CI6", k) for k in "abcde"] == [True, True, NA, False, False]
    # The case's own actions are unchanged by context_key: c's arrest counts for c (OF1).
    assert pack.case_result("OF1", "c") is True and pack.case_result("OF1", "a") is False


def test_context_scores_sit_beside_the_practice_score(pack):
    con = pack.con
    scores = dict(con.execute("SELECT context_key, score FROM context_domain_scores WHERE domain = 'CX'").fetchall())
    # X1 all five met; X2 CX1 CX3 CX4 CX5 not met; X3 and X4 CX1 CX3 not met. CX6 is informational.
    assert scores == {"X1": 1.0, "X2": 0.0, "X3": 0.0, "X4": 0.0}
    assert con.execute("SELECT score, cases_scored FROM pack_scores WHERE domain = 'CX'").fetchone() == (0.25, 4)
    domains = dict(con.execute("SELECT domain, score FROM pack_scores WHERE domain IN ('PI', 'OF', 'CI', 'PF')"
                               ).fetchall())
    practice = con.execute("SELECT score FROM pack_scores WHERE domain = 'PRACTICE'").fetchone()[0]
    assert practice == pytest.approx(sum(domains.values()) / 4)
    assert con.execute("SELECT count(*) FROM context_indicators").fetchone()[0] == 4 * 6
    # CX rates in indicator_rates like any indicator: CX2 applies to X1 and X2, met by X1.
    assert con.execute("SELECT numerator, denominator FROM indicator_rates WHERE indicator_id = 'CX2'"
                       ).fetchone() == (1, 2)
    partnership = pooled_rates(con, ["period", "indicator_id"], indicators=[i.id for i in framework().indicators])
    assert partnership.set_index("indicator_id").loc["CX1", ["numerator", "denominator"]].tolist() == [1, 4]


def test_rescoring_is_idempotent(pack):
    tables = ("context_indicators", "context_domain_scores", "case_indicators", "indicator_rates", "pack_scores",
              "context_networks")
    before = {t: sorted(pack.con.execute(f"SELECT * FROM {t}").fetchall(), key=str) for t in tables}
    score(pack.con, [(LA, PERIOD)])
    assert {t: sorted(pack.con.execute(f"SELECT * FROM {t}").fetchall(), key=str) for t in tables} == before


def v1_rows(p: Pack, la: str) -> None:
    """A v1 pack: cases with meetings and actions and no contexts (no has_contexts)."""
    p.submission(la, has_contexts=None)
    p.case("v1", la, plan_type="CP", risk_level_start="high", risk_level_end="low")
    p.case("v2", la, lives_with_parent=False, harm_types=["county_lines"])
    p.case("v3", la, missing_episodes=2, return_interviews_72h=1)
    p.meeting("v1", "core_group", la=la)
    p.meeting("v1", "strategy", la=la)
    p.meeting("v2", "mace", la=la)
    p.action("v1", "parent_needs_assessment", lead="childrens_social_care", la=la)
    p.action("v1", "arrest", la=la)
    p.action("v2", "nrm_referral", la=la)
    p.action("v2", "location_assessment", lead="education", la=la)
    p.action("v3", "direct_work", lead="childrens_social_care", la=la)
    p.action("v3", "school_intervention", status="planned", lead="education", la=la)


def framework_before_contexts():
    """The framework as it was before contexts: without the new indicators, the context unit, its
    domain and its flags and tallies."""
    data = load_yaml("indicators.yaml")
    context_names = {n for n, spec in {**data["flags"], **data["tallies"]}.items()
                     if isinstance(spec, dict) and spec.get("unit") == "context"}
    return parse_framework({
        **{k: v for k, v in data.items() if k not in ("units", "networks")},
        "domains": {d: spec for d, spec in data["domains"].items() if d != "CX"},
        "flags": {n: s for n, s in data["flags"].items() if n not in context_names | {"contexts_in_pack"}},
        "tallies": {n: t for n, t in data["tallies"].items()
                    if n not in context_names | {"linked_contexts", "linked_contexts_assessed"}},
        "indicators": [i for i in data["indicators"] if i["id"] not in NEW_INDICATORS]})


def test_a_v1_pack_scores_exactly_as_before(tmp_path):
    (tmp_path / "now").mkdir()
    (tmp_path / "before").mkdir()
    now, before = Pack(tmp_path / "now"), Pack(tmp_path / "before")
    for p in (now, before):
        v1_rows(p, V1_LA)
    score(now.con)
    score(before.con, fw=framework_before_contexts())
    old_ids = "indicator_id NOT IN ('CI5', 'CI6', 'CX1', 'CX2', 'CX3', 'CX4', 'CX5', 'CX6')"
    for query in (f"SELECT * FROM case_indicators WHERE {old_ids}", "SELECT * FROM case_domain_scores",
                  "SELECT * FROM pack_scores", f"SELECT * FROM indicator_rates WHERE {old_ids}"):
        assert sorted(now.con.execute(query).fetchall(), key=str) == sorted(before.con.execute(query).fetchall(),
                                                                               key=str), query
    con = now.con
    assert {row[0] for row in con.execute("SELECT domain FROM pack_scores").fetchall()} == {
        "PI", "OF", "CI", "PF", "PRACTICE"}  # no CX: not available, never 0
    assert con.execute("SELECT count(*) FROM case_indicators WHERE indicator_id IN ('CI5', 'CI6') "
                       "AND applicable").fetchone()[0] == 0
    rates = con.execute("SELECT indicator_id, numerator, denominator, rate FROM indicator_rates "
                        "WHERE indicator_id IN ('CI5', 'CI6') OR indicator_id LIKE 'CX%' ORDER BY 1").fetchall()
    assert rates == [(i, 0, 0, None) for i in sorted(NEW_INDICATORS)]
    assert con.execute("SELECT count(*) FROM indicator_rates").fetchone()[0] == len(framework().indicators)
    assert con.execute("SELECT count(*) FROM context_indicators").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM context_networks").fetchone()[0] == 0  # not available


def network_graph(p: Pack, la: str) -> None:
    for key, context_type in (("P", "location"), ("Q", "peer_group"), ("R", "location"), ("S", "school"),
                              ("T", "online"), ("U", "location"), ("V", "peer_group"), ("W", "location")):
        p.context(key, context_type, la=la)
    links = [("a", "P"), ("b", "P"), ("b", "Q"), ("c", "Q"), ("d", "R"), ("e", "R"), ("f", "S")]
    links += [(f"g{i}", "U") for i in range(1, 7)] + [(f"h{i}", "V") for i in range(1, 12)]
    links += [("h1", "W"), ("h2", "W")]
    for case_key in sorted({c for c, _ in links}):
        p.case(case_key, la)
    for case_key, context_key in links:
        p.link(case_key, context_key, la)
    for context_key in "PQUW":
        p.action("a", "location_assessment", context_key, la=la)


def test_networks_counted_by_hand(tmp_path):
    """The graph (cases - contexts):
        a - P - b - Q - c       one network of 3 cases; shared P, Q, both assessed
        d - R - e               one network of 2; shared R, not assessed
        f - S                   S unshared: f is linked but in no network
        T                       linked to no case
        g1..g6 - U              one network of 6; shared U, assessed
        h1..h11 - V, h1 h2 - W  one network of 11; shared V (not assessed) and W (assessed)
    By hand: contexts 8; shared P Q R U V W = 6; cases linked 3+2+1+6+11 = 23; cases sharing 22
    (all but f); networks 4: one of 2, one of 3-5, one of 6-10, one of 11+; cases in networks
    3+2+6+11 = 22; in networks whose shared contexts were all assessed: abc and g1..g6 = 9.
    A second LA with the same graph doubles every count in the partnership's quarter; a v1 pack
    has no row."""
    p = Pack(tmp_path)
    other = "E09000033"
    for la in (LA, other):
        p.submission(la)
        network_graph(p, la)
    v1_rows(p, V1_LA)
    score(p.con)
    columns = [d[0] for d in p.con.execute("SELECT * FROM context_networks").description]
    rows = {r[0]: dict(zip(columns, r, strict=True)) for r in p.con.execute(
        "SELECT * FROM context_networks").fetchall()}
    expected = dict(contexts=8, shared_contexts=6, cases_linked=23, cases_sharing=22, networks=4, networks_2=1,
                    networks_3_5=1, networks_6_10=1, networks_11_plus=1, cases_in_networks=22,
                    cases_in_assessed_networks=9)
    assert set(rows) == {LA, other}
    assert {k: rows[LA][k] for k in expected} == expected
    pooled = pooled_networks(p.con).iloc[0].to_dict()
    assert pooled["packs"] == 2 and {k: pooled[k] for k in expected} == {k: 2 * v for k, v in expected.items()}


def test_a_pack_with_an_empty_contexts_table_has_a_row_of_zeros(tmp_path):
    p = Pack(tmp_path)
    p.submission()
    p.case("a")
    score(p.con)
    row = p.con.execute("SELECT * EXCLUDE (la_code, period) FROM context_networks").fetchall()
    assert row == [(0,) * 11]
    assert p.case_result("CI5", "a") is False and p.case_result("CI6", "a") is NA


def test_explain_a_context(pack, tmp_path, capsys):
    text = explain_context(pack.con, LA, PERIOD, "X1").to_text()
    assert text.startswith(f"Context X1, {LA} {PERIOD}")
    assert "context_type location" in text and "risk_level_start high, risk_level_end low" in text
    assert "linked cases 2" in text
    assert "CX1 The context was assessed: MET" in text
    assert "assessments_of_context = 1 (actions row 1)" in text
    assert "CX2 A context shared by cases was conferenced: MET" in text
    assert "cases_linked = 2; conferences_about_context = 1 (meetings row 2)" in text
    assert "CX6 The context was made safer: MET" in text
    x3 = explain_context(pack.con, LA, PERIOD, "X3").to_text()
    assert "CX5 Offenders at the context disrupted: not applicable" in x3 and "linked cases 0" in x3
    for key in "abde":  # no case key is ever shown for a context
        assert f" {key} " not in text.replace("case_key", "")
    case_text = explain_case(pack.con, LA, PERIOD, "d").to_text()
    assert "CI5 The case is linked to a context: MET" in case_text
    assert "CI6 One of the case's contexts was assessed: not met" in case_text
    assert "linked_contexts = 1; linked_contexts_assessed = 0" in case_text
    with pytest.raises(LookupError, match="no context X9"):
        explain_context(pack.con, LA, PERIOD, "X9")
    # The command line, on a home holding this warehouse.
    from pipelines.cli import main

    pack.con.close()
    (tmp_path / "home").mkdir()
    (tmp_path / "warehouse.duckdb").rename(tmp_path / "home" / "warehouse.duckdb")
    assert main(["explain", "--home", str(tmp_path / "home"), "--la", LA, "--period", PERIOD,
                 "--context-key", "X2"]) == 0
    out = capsys.readouterr().out
    assert "Context X2" in out and "CX1 The context was assessed: not met" in out


def unit_error(change) -> str:
    data = load_yaml("indicators.yaml")
    with pytest.raises(FrameworkError) as error:
        parse_framework(change(data))
    return str(error.value)


def test_a_bad_or_mixed_unit_is_refused_by_name():
    def tally(spec):
        return lambda d: {**d, "tallies": {**d["tallies"], "stray": spec}}

    def indicator(**changes):
        return lambda d: {**d, "indicators": [{**i, **changes} if i["id"] == "CX3" else i for i in d["indicators"]]}

    assert "tally stray: unit 'place' is not one of" in unit_error(
        tally({"unit": "place", "from": "actions", "count_where": "true"}))
    assert "tally stray: 'from' must be one of meetings, actions, case_contexts" in unit_error(
        tally({"unit": "context", "from": "case_context_results", "count_where": "true", "window": "all"}))
    assert "indicator CX3: unit 'place' is not one of" in unit_error(indicator(unit="place"))
    assert "indicator CX3: mixes units: it is of unit case, and its domain CX of unit context" in unit_error(
        indicator(unit="case"))
    assert ("indicator CX3: mixes units: counted_actions is of unit case, and this is of unit context"
            in unit_error(indicator(met="counted_actions >= 1")))
    assert "flag odd: unit 'place'" in unit_error(lambda d: {**d, "flags": {**d["flags"], "odd": {
        "unit": "place", "rule": "true"}}})
    assert "practice_score_weights: CX is a domain of unit context" in unit_error(
        lambda d: {**d, "practice_score_weights": {**d["practice_score_weights"], "CX": 1}})
    assert "networks: assessed_by 'CI1'" in unit_error(lambda d: {**d, "networks": {"assessed_by": "CI1"}})
    with pytest.raises(FrameworkError, match="units are defined in indicators.yaml only"):
        merge_local(load_yaml("indicators.yaml"), {"units": {"school": {"table": "x", "key": "y"}}})


def test_the_statutory_frameworks_single_unit_still_scores_children():
    from assets.statutory import statutory_framework

    fw = statutory_framework()
    assert list(fw.units) == ["case"] and fw.unit.table == "cin_children"
    assert {i.unit for i in fw.indicators} == {"case"}
