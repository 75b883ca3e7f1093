"""The EFH pathway: section 47 enquiries read from the CIN census, the pathway counted on a small
hand-built return whose stages are worked out here child by child, its disclosure control, the
tidy export frame, and the statutory page's flow chart and table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from assets.cin_census import read_cin_census
from assets.efh_pathway import categories, pathway_children, pathway_counts, stages
from assets.standardise import case_key
from assets.statutory import ingest_statutory, score_statutory
from assets.warehouse import connect
from dashboards.efh_pathway import pathway_export_frame, suppress_pathway, with_partnership
from dashboards.publication import published_efh_pathway

SECRET = b"test-key"
CITY = "E09000001"  # LEA 201
HARTLEPOOL = "E06000001"  # LEA 805


def assessment(start: str, factors: list[str]) -> str:
    return (f"<Assessments><AssessmentActualStartDate>{start}</AssessmentActualStartDate>"
            f"<AssessmentAuthorisationDate>{start}</AssessmentAuthorisationDate><FactorsIdentifiedAtAssessment>"
            + "".join(f"<AssessmentFactors>{f}</AssessmentFactors>" for f in factors)
            + "</FactorsIdentifiedAtAssessment></Assessments>")


def enquiry(start: str, conference: str | None = None, not_required: bool = False) -> str:
    held = f"<DateOfInitialCPC>{conference}</DateOfInitialCPC>" if conference else ""
    return (f"<Section47><S47ActualStartDate>{start}</S47ActualStartDate><InitialCPCtarget>{start}</InitialCPCtarget>"
            f"{held}<ICPCnotRequired>{'true' if not_required else 'false'}</ICPCnotRequired></Section47>")


def plan(start: str, category: str) -> str:
    return (f"<ChildProtectionPlans><CPPstartDate>{start}</CPPstartDate><InitialCategoryOfAbuse>{category}"
            f"</InitialCategoryOfAbuse><LatestCategoryOfAbuse>{category}</LatestCategoryOfAbuse>"
            "</ChildProtectionPlans>")


def episode(referral: str, *blocks: str, closure: str = "") -> str:
    inner = [b for b in blocks if not b.startswith("<ChildProtectionPlans>")]
    plans = [b for b in blocks if b.startswith("<ChildProtectionPlans>")]
    closed = f"<CINclosureDate>{closure}</CINclosureDate><ReasonForClosure>RC7</ReasonForClosure>" if closure else ""
    return (f"<CINdetails><CINreferralDate>{referral}</CINreferralDate><ReferralSource>6</ReferralSource>"
            f"<PrimaryNeedCode>N1</PrimaryNeedCode>{closed}" + "".join(inner) + "<ReferralNFA>false</ReferralNFA>"
            + "".join(plans) + "</CINdetails>")


def child(child_id: str, *episodes: str) -> str:
    return (f"<Child><ChildIdentifiers><LAchildID>{child_id}</LAchildID><UPN>A123456789012</UPN>"
            "<PersonBirthDate>2010-05-01</PersonBirthDate><Sex>F</Sex></ChildIdentifiers>"
            "<ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>" + "".join(episodes)
            + "</Child>")


def census(lea: str, children: str, reference: str = "2025-03-31") -> str:
    return (f"<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{reference[:4]}</Year>"
            f"<ReferenceDate>{reference}</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel>"
            f"<LEA>{lea}</LEA></Source></Header><Children>{children}</Children></Message>")


# The 2025 census (1 April 2024 to 31 March 2025), child by child: the furthest stage each reaches
# (0 assessed with an EFH factor, 1 EFH only, 2 section 47, 3 conference, 4 plan) and the category.
PATHWAY_CHILDREN = {
    "A1": (child("A1", episode("2024-05-01", assessment("2024-05-01", ["11A"]), enquiry("2024-05-10", "2024-05-30"),
                                plan("2024-05-30", "NEG"))), 4, "NEG"),
    # Two assessments, one EFH and one intra-familial, in two episodes: outside the EFH-only cohort.
    "A2": (child("A2", episode("2024-06-01", assessment("2024-06-01", ["10A"]), closure="2024-07-01"),
                 episode("2024-09-01", assessment("2024-09-01", ["16A"]), enquiry("2024-09-05", "2024-09-20"))),
           0, None),
    # Two EFH-only assessments count once; an enquiry that needed no conference stops at stage 2.
    "A3": (child("A3", episode("2024-06-01", assessment("2024-06-01", ["24A"]), closure="2024-06-20"),
                 episode("2024-07-01", assessment("2024-07-01", ["13A", "10A"]),
                         enquiry("2024-07-01", not_required=True))), 2, None),
    # Two plans: counted once, under the first plan's initial category (multiple).
    "A4": (child("A4", episode("2024-08-01", assessment("2024-08-01", ["19B"]), enquiry("2024-08-01", "2024-08-20"),
                                plan("2024-08-20", "MUL"), plan("2025-01-10", "PHY"))), 4, "MUL"),
    "A5": (child("A5", episode("2024-09-01", assessment("2024-09-02", ["12A"]), enquiry("2024-09-03", "2024-10-01"),
                                plan("2024-10-01", "EMO"))), 4, "EMO"),
    "A6": (child("A6", episode("2024-10-01", assessment("2024-10-01", ["10A"]))), 1, None),
    # Assessed in the year before: not in the 2025 pathway at all.
    "A7": (child("A7", episode("2024-02-01", assessment("2024-02-01", ["11A"]), enquiry("2024-04-02", "2024-04-20"))),
           None, None),
    # Intra-familial only: not in the pathway.
    "A8": (child("A8", episode("2024-05-01", assessment("2024-05-01", ["3B"]), enquiry("2024-05-02", "2024-05-20"),
                                plan("2024-05-20", "NEG"))), None, None),
    # An enquiry that started in the year before, with its conference in this year: not counted.
    "A9": (child("A9", episode("2024-03-01", enquiry("2024-03-20", "2024-04-10")),
                 episode("2024-05-01", assessment("2024-05-01", ["11A"]))), 1, None),
    # A conference, no plan (yet, or not needed).
    "A10": (child("A10", episode("2024-11-01", assessment("2024-11-01", ["18B"]), enquiry("2024-11-01", "2024-11-15"))),
            3, None),
    # EFH and intra-familial factors in the same assessment.
    "A11": (child("A11", episode("2024-06-01", assessment("2024-06-01", ["10A", "3B"]))), 0, None),
    # An enquiry dated before its episode's referral does not count.
    "A12": (child("A12", episode("2024-06-01", assessment("2024-06-01", ["11A"]), enquiry("2024-05-01", "2024-05-20"))),
            1, None),
}
EXPECTED_COUNTS = {"assessed_efh": 10, "efh_only": 8, "s47_started": 5, "icpc_held": 4, "plan_started": 3,
                   "category_neglect": 1, "category_emotional": 1, "category_physical": 0, "category_sexual": 0,
                   "category_multiple": 1}


def load(tmp_path, returns: dict[str, str]):
    inbox = tmp_path / "statutory"
    inbox.mkdir()
    for name, xml in returns.items():
        (inbox / name).write_text(xml, encoding="utf-8")
    con = connect(tmp_path / "warehouse.duckdb")
    outcomes = ingest_statutory(con, inbox, SECRET)
    assert {o.status for o in outcomes} == {"loaded"}, outcomes
    score_statutory(con)
    return con


@pytest.fixture
def pathway_con(tmp_path):
    xml = census("201", "".join(c for c, _, _ in PATHWAY_CHILDREN.values()))
    con = load(tmp_path, {f"{CITY}_2025_cin_census.xml": xml})
    yield con
    con.close()


def test_section47_enquiries_are_read_pseudonymised(tmp_path):
    path = tmp_path / "cin.xml"
    path.write_text(census("201", PATHWAY_CHILDREN["A3"][0] + PATHWAY_CHILDREN["A4"][0]
                           + child("B1", episode("2024-06-01", "<Section47><InitialCPCtarget>2024-06-20"
                                                 "</InitialCPCtarget><ICPCnotRequired>maybe</ICPCnotRequired>"
                                                 "</Section47>"))), encoding="utf-8")
    cin = read_cin_census(path, SECRET)
    s47 = cin.section47
    assert list(s47.columns) == ["la_code", "collection_year", "child_key", "episode", "start_date",
                                 "icpc_target_date", "icpc_date", "icpc_not_required"]
    assert s47[["child_key", "episode"]].values.tolist() == [[case_key(SECRET, CITY, "A3"), 2],
                                                             [case_key(SECRET, CITY, "A4"), 1]]
    assert s47["icpc_not_required"].tolist() == [True, False]
    assert pd.isna(s47["icpc_date"].iloc[0]) and str(s47["icpc_date"].iloc[1].date()) == "2024-08-20"
    problems = set(zip(cin.quarantine["table_name"], cin.quarantine["column_name"], cin.quarantine["rule"],
                       strict=True))
    assert problems == {("cin_section47", "S47ActualStartDate", "required"),
                        ("cin_section47", "ICPCnotRequired", "type_yes_no"),
                        ("cin_section47", "Section47", "record_dropped")}
    assert cin.rows_read["cin_section47"] == 3
    text = s47.to_string() + cin.quarantine.to_string()
    assert "A3" not in text and "A123456789012" not in text and "maybe" not in text


def test_each_child_reaches_the_hand_worked_stage(pathway_con):
    children = pathway_children(pathway_con)
    keys = {case_key(SECRET, CITY, name): name for name in PATHWAY_CHILDREN}
    found = {keys[k]: (stage, None if pd.isna(cat) else cat)
             for k, stage, cat in zip(children["child_key"], children["furthest_stage"], children["category"],
                                      strict=True)}
    assert found == {name: (stage, cat) for name, (_, stage, cat) in PATHWAY_CHILDREN.items() if stage is not None}


def test_pathway_counts_equal_hand_worked_values(pathway_con):
    counts = pathway_counts(pathway_con)
    assert set(counts["period"]) == {"2025"} and set(counts["la_code"]) == {CITY}
    assert dict(zip(counts["step"], counts["count"], strict=True)) == EXPECTED_COUNTS
    # The EFH-only cohort is ST1's denominator, and ST1 counts any plan started in the year.
    st1 = pathway_con.execute("SELECT numerator, denominator FROM statutory_rates WHERE indicator_id = 'ST1'"
                              ).fetchone()
    assert st1[1] == EXPECTED_COUNTS["efh_only"] and st1[0] >= EXPECTED_COUNTS["plan_started"]


# ---------------------------------------------------------------- disclosure control

def random_counts(rng: np.random.Generator, las: int) -> pd.DataFrame:
    """Pathway counts for `las` LAs, each stage a random part of the one before, the plans split
    into categories at random: small numbers on purpose, so that much has to be hidden."""
    rows = []
    for la in range(las):
        count = int(rng.integers(0, 60))
        for position, step in enumerate(s.id for s in stages()):
            count = count if position == 0 else int(rng.binomial(count, rng.uniform(0.3, 1.0)))
            rows.append((f"E0900000{la}", "2025", step, "stage", position, count))
        split = rng.multinomial(count, rng.dirichlet(np.ones(len(categories()))))
        rows += [(f"E0900000{la}", "2025", c.id, "category", len(stages()) + i, int(n))
                 for i, (c, n) in enumerate(zip(categories(), split, strict=True))]
    return pd.DataFrame(rows, columns=["la_code", "period", "step", "kind", "position", "count"])


def feasible_range(frame: pd.DataFrame, objective: np.ndarray) -> tuple[float, float]:
    """The least and greatest value of `objective` . cells that a reader could get from what is
    published and the relations between the cells (LP relaxation: if it pins a value, so would
    integers)."""
    n = len(frame)
    equalities, targets = [], []
    for row in np.flatnonzero(~frame["count_suppressed"].to_numpy()):
        equalities.append(np.eye(n)[row])
        targets.append(frame["count"].iloc[row])
    for _, group in frame.groupby(["period", "step"]):
        equalities.append(np.isin(np.arange(n), group.index[~group["is_total"]]) * 1.0
                          - np.isin(np.arange(n), group.index[group["is_total"]]))
        targets.append(0.0)
    bounds = []
    for _, area in frame.groupby(["la_code", "period"]):
        split = np.isin(np.arange(n), area.index[area["kind"] == "category"]) * 1.0
        split[area.index[area["step"] == stages()[-1].id]] = -1.0
        equalities.append(split)
        targets.append(0.0)
        chain = area[area["kind"] == "stage"].sort_values("position").index
        for earlier, later in zip(chain, chain[1:], strict=False):
            bounds.append(np.eye(n)[later] - np.eye(n)[earlier])  # later <= earlier
    result = [linprog(sign * objective, A_ub=np.array(bounds), b_ub=np.zeros(len(bounds)), A_eq=np.array(equalities),
                      b_eq=np.array(targets), bounds=(0, None), method="highs") for sign in (1, -1)]
    assert all(r.status in (0, 3) for r in result)  # solved, or unbounded: nothing above a first stage
    low, high = (r.fun if r.status == 0 else -np.inf for r in result)
    return low, -high


@pytest.mark.parametrize("seed", range(12))
def test_no_small_count_or_drop_out_can_be_recovered(seed):
    frame = with_partnership(random_counts(np.random.default_rng(seed), las=3), "")
    published = suppress_pathway(frame, limit=5)
    for row in range(len(published)):
        if 1 <= published["count"].iloc[row] <= 5:  # [c], and not to be worked out from the rest
            assert published["count_suppressed"].iloc[row]
            low, high = feasible_range(published, np.eye(len(published))[row])
            assert high - low > 0.5, (seed, published.iloc[row].to_dict())
    for _, area in published[published["kind"] == "stage"].groupby(["la_code", "period"]):
        rows = area.sort_values("position").index
        for earlier, later in zip(rows, rows[1:], strict=False):
            left = published.at[earlier, "count"] - published.at[later, "count"]
            if 1 <= left <= 5:  # the children leaving between two stages, when few
                low, high = feasible_range(published, np.eye(len(published))[earlier] - np.eye(len(published))[later])
                assert high - low > 0.5, (seed, earlier, later)


def test_shares_hide_with_their_counts_and_the_first_stage_has_none():
    frame = with_partnership(random_counts(np.random.default_rng(3), las=2), "")
    published = suppress_pathway(frame, limit=5)
    first = published[published["step"] == stages()[0].id]
    later = published[published["step"] != stages()[0].id]
    assert (later["share_suppressed"] == (later["count_suppressed"] | later["previous_suppressed"])).all()
    assert first["share"].isna().all() and not first["share_suppressed"].any()
    shown = published[~published["share_suppressed"] & published["previous"].gt(0)]
    assert np.allclose(shown["share"], shown["count"] / shown["previous"])
    assert (shown["ci_low"] <= shown["share"]).all() and (shown["share"] <= shown["ci_high"]).all()


def test_the_hand_worked_return_is_published_with_its_small_stages_hidden(pathway_con):
    published = published_efh_pathway(pathway_con, limit=5)
    city = published[published["la_code"] == CITY].set_index("step")
    assert city.loc["assessed_efh", "count"] == 10 and not city.loc["assessed_efh", "count_suppressed"]
    # 8 of 10 would show that 2 children had an intra-familial factor: hidden, and every later stage.
    assert city.loc[["efh_only", "s47_started", "icpc_held", "plan_started"], "count_suppressed"].all()
    # Each category of 1 is hidden; a true zero is published as 0.
    assert city.loc[["category_neglect", "category_emotional", "category_multiple"], "count_suppressed"].all()
    assert not city.loc[["category_physical", "category_sexual"], "count_suppressed"].any()
    assert city.loc["category_neglect", "share_suppressed"] and city.loc["efh_only", "share_suppressed"]
    unsuppressed = published_efh_pathway(pathway_con, limit=0)
    assert dict(zip(unsuppressed.loc[unsuppressed["la_code"] == CITY, "step"],
                    unsuppressed.loc[unsuppressed["la_code"] == CITY, "count"], strict=True)) == EXPECTED_COUNTS
    pool = unsuppressed[unsuppressed["la_code"] == ""].set_index("step")
    assert pool.loc["s47_started", "share"] == pytest.approx(5 / 8)
    assert pool.loc["category_multiple", "share"] == pytest.approx(1 / 3)


def test_the_export_frame_is_typed_with_suppressed_values_missing(pathway_con):
    frame = pathway_export_frame(published_efh_pathway(pathway_con, limit=5))
    assert list(frame.columns) == ["time_period", "time_identifier", "geographic_level", "la_code", "la_name", "stage",
                                   "stage_kind", "stage_order", "stage_label", "count", "count_suppressed", "share",
                                   "ci_low", "ci_high", "share_suppressed", "share_status"]
    assert str(frame["count"].dtype) == "Int64" and str(frame["share"].dtype) == "Float64"
    assert frame.loc[frame["count_suppressed"], "count"].isna().all()
    assert frame.loc[frame["share_suppressed"], ["share", "ci_low", "ci_high"]].isna().all().all()
    assert set(frame["share_status"]) <= {"", "c", "z"}
    assert (frame.loc[frame["stage"] == "assessed_efh", "share_status"] == "z").all()
    assert set(frame["geographic_level"]) == {"Local authority", "Partnership"}
    assert pathway_export_frame(None).empty


def test_the_statutory_page_shows_the_flow_chart_and_its_table(tmp_path):
    from dashboards.pages import statutory_page
    from dashboards.publication import build_publication, partnership_name

    hartlepool = census("805", child("H1", episode("2024-05-01", assessment("2024-05-01", ["24A"]))))
    city = census("201", "".join(c for c, _, _ in PATHWAY_CHILDREN.values()))
    con = load(tmp_path, {f"{CITY}_2025_cin_census.xml": city, f"{HARTLEPOOL}_2025_cin_census.xml": hartlepool})
    page = statutory_page(build_publication(con))
    body = page.body
    assert '"type": "funnel"' in body and "The EFH pathway" in body
    assert "EFH pathway, City of London, 2024-25" in body and "EFH pathway, Hartlepool, 2024-25" in body
    assert f"{partnership_name()} pool share" in body and "No statistical-neighbour comparison" in body
    # LAs in alphabetical order of name, then the partnership pool.
    assert body.index("<h3 id=\"pathway-2025-E09000001\">") < body.index("<h3 id=\"pathway-2025-E06000001\">") \
        < body.index("<h3 id=\"pathway-2025-all\">")
    # Hidden counts never travel inside a chart: City of London's 8 EFH-only children are [c] (and,
    # with Hartlepool's one child hidden, its 10 assessed too).
    start = body.index('id="pathway-2025-E09000001-chart"')
    city_chart = body[start:body.index("<table", start)]
    assert '"type": "funnel", "x": [null, null, null, null, null]' in city_chart and "EFH only [c]" in city_chart
    assert body.count('class="chart"') >= 3 + len([i for i in ("ST1", "ST2") if f'id="{i}"' in body])
    con.close()
