"""The CIN census XML reader: the two public samples, small hand-built returns whose expected tables
are written out here, the layouts by collection year, privacy, file-level rejection and streaming."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.cin_census import read_cin_census
from assets.cin_census_spec import spec
from assets.reading import PackRejected

SAMPLES = Path(__file__).parent / "fixtures" / "statutory"
SECRET = b"cin-test-secret"
CITY = "E09000001"  # LEA 201


def hmac_key(la_code: str, child_id: str) -> str:
    return hmac.new(SECRET, f"{la_code}:{child_id}".encode(), hashlib.sha256).hexdigest()[:16]


def message(children: str, reference: str = "2025-03-31", lea: str = "201", year: str | None = None,
            collection: str = "CIN") -> str:
    year = reference[:4] if year is None else year
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails><Collection>{collection}</Collection><Year>{year}</Year>
      <ReferenceDate>{reference}</ReferenceDate></CollectionDetails>
    <Source><SourceLevel>L</SourceLevel><LEA>{lea}</LEA><SoftwareCode>Test</SoftwareCode></Source>
  </Header>
  <Children>{children}</Children>
</Message>"""


def child(child_id: str = "C1", sex: str = "<Sex>F</Sex>", born: str = "<PersonBirthDate>2010-05-01</PersonBirthDate>",
          identifiers: str = "", ethnicity: str = "WBRI", disabilities: str = "<Disability>NONE</Disability>",
          details: str | None = None) -> str:
    if details is None:
        details = episode()
    return f"""
    <Child>
      <ChildIdentifiers><LAchildID>{child_id}</LAchildID>{identifiers}{born}{sex}</ChildIdentifiers>
      <ChildCharacteristics><Ethnicity>{ethnicity}</Ethnicity>
        <Disabilities>{disabilities}</Disabilities></ChildCharacteristics>
      {details}
    </Child>"""


def episode(referral: str = "2024-06-01", source: str = "6", need: str = "N1", closure: str = "",
            nfa: str = "false", inner: str = "") -> str:
    closed = f"<CINclosureDate>{closure}</CINclosureDate><ReasonForClosure>RC8</ReasonForClosure>" if closure else ""
    return f"""<CINdetails><CINreferralDate>{referral}</CINreferralDate><ReferralSource>{source}</ReferralSource>
        <PrimaryNeedCode>{need}</PrimaryNeedCode>{closed}{inner}<ReferralNFA>{nfa}</ReferralNFA></CINdetails>"""


def assessment(start: str, factors: list[str], authorised: str = "") -> str:
    auth = f"<AssessmentAuthorisationDate>{authorised}</AssessmentAuthorisationDate>" if authorised else ""
    listed = "".join(f"<AssessmentFactors>{f}</AssessmentFactors>" for f in factors)
    return (f"<Assessments><AssessmentActualStartDate>{start}</AssessmentActualStartDate>{auth}"
            f"<FactorsIdentifiedAtAssessment>{listed}</FactorsIdentifiedAtAssessment></Assessments>")


def plan(start: str, initial: str, latest: str, end: str = "") -> str:
    ended = f"<CPPendDate>{end}</CPPendDate>" if end else ""
    return (f"<ChildProtectionPlans><CPPstartDate>{start}</CPPstartDate>{ended}"
            f"<InitialCategoryOfAbuse>{initial}</InitialCategoryOfAbuse>"
            f"<LatestCategoryOfAbuse>{latest}</LatestCategoryOfAbuse>"
            f"<NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>")


def read(tmp_path: Path, xml: str, name: str = "cin.xml", **kwargs):
    path = tmp_path / name
    path.write_text(xml, encoding="utf-8")
    return read_cin_census(path, SECRET, **kwargs)


def problems(result) -> list[tuple]:
    """(table, row, element, rule) of every quarantine row, in order."""
    q = result.quarantine
    return list(zip(q["table_name"], q["row_number"], q["column_name"], q["rule"], strict=True))


def everything(result) -> str:
    """All of a return's output as text, every row and column in full."""
    frames = [result.children, result.episodes, result.assessments, result.cp_plans, result.quarantine]
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 10_000,
                           "display.max_colwidth", None):
        return "\n".join([str(f) for f in frames] + [f.to_csv() for f in frames]
                         + [str(m) for m in result.quarantine["message"]])


def dates(*values):
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[us]")


# --- the public samples ------------------------------------------------------------------------

def test_2022_sample_reads_cleanly():
    result = read_cin_census(SAMPLES / "cin-2022.xml", SECRET)
    assert (result.la_code, result.collection_year, str(result.reference_date)) == (CITY, 2022, "2022-03-31")
    assert result.source_file == "cin-2022.xml"
    assert result.quarantine.empty
    key = hmac_key(CITY, "DfEX0000001")
    child_row = result.children.iloc[0].to_dict()
    assert child_row == {"la_code": CITY, "collection_year": 2022, "child_key": key, "age": 56, "sex": "male",
                         "ethnicity": "WBRI", "disabled": True, "source_row": 1}
    assert result.episodes[["episode", "referral_source", "primary_need", "reason_for_closure"]].iloc[0].tolist() \
        == [1, "1A", "N4", "RC1"]
    assert result.episodes["referral_nfa"].tolist() == [False]
    assert result.assessments["factors"].tolist() == [["2A", "2B"]]
    assert result.cp_plans[["initial_category", "latest_category"]].iloc[0].tolist() == ["PHY", "PHY"]
    assert list(result.cp_plans["start_date"].dt.strftime("%Y-%m-%d")) == ["1970-02-17"]


def test_2024_sample_reports_its_deliberate_errors_without_crashing():
    result = read_cin_census(SAMPLES / "CIN_Census_2024.xml", SECRET)
    assert (result.la_code, result.collection_year, result.quarantine["period"].unique().tolist()) \
        == (CITY, 2024, ["2024"])
    assert problems(result) == [
        ("cin_header", 0, "Year", "header_year"),                                  # Year 2023, ReferenceDate 2024-03-31
        ("cin_children", 1, "ChildIdentifiers", "stray_text"),                     # the stray "PersonBirthDate"
        ("cin_children", 1, "Sex", "wrong_layout"),                                # 2024 census still has GenderCurrent
        ("cin_assessments", 1, "AssessmentActualStartDate", "date_after_reference"),  # 2028-04-28
        ("cin_assessments", 1, "AssessmentFactors", "vocabulary"),                 # "RB"
        ("cin_assessments", 1, "Assessments", "record_dropped"),                   # no usable start date
        ("cin_children", 2, "Sex", "wrong_layout"),                                # "M"
        ("cin_episodes", 2, "CINreferralDate", "date_after_reference"),            # 2024-10-24
        ("cin_episodes", 2, "CINclosureDate", "date_after_reference"),             # 2024-10-29
        ("cin_assessments", 2, "FactorsIdentifiedAtAssessment", "empty_block"),
    ]
    # The rest of both children loads.
    assert result.children["child_key"].tolist() == [hmac_key(CITY, "DfEX0000001"),
                                                     hmac_key(CITY, "child_fails_assessments")]
    assert result.children["age"].tolist() == [9, 0]
    assert result.children["sex"].isna().all()
    assert result.children["disabled"].tolist() == [True, False]
    assert result.episodes["referral_date"].isna().tolist() == [False, True]
    assert result.episodes["reason_for_closure"].tolist() == ["RC1", "RC9"]
    assert result.episodes["referral_nfa"].tolist() == [False, False]  # "0" and "false"
    assert result.assessments["child_key"].tolist() == [hmac_key(CITY, "child_fails_assessments")]
    assert result.assessments["factors"].tolist() == [[]]
    assert len(result.cp_plans) == 1
    rb = result.quarantine.loc[result.quarantine["rule"] == "vocabulary", "message"].item()
    assert "AssessmentFactors" in rb and "RB" not in rb


# --- hand-built returns with their expected tables ---------------------------------------------

EFH_RETURN = message(
    child("EFH-1", sex="<Sex>M</Sex>", born="<PersonBirthDate>2009-08-15</PersonBirthDate>", details=episode(
        referral="2024-06-01", source="6", need="N1", inner=(
            assessment("2024-06-03", ["10A", "11A", "12A", "13A"], authorised="2024-06-20")
            + assessment("2024-09-01", ["24A", "18B", "19B"])
            + plan("2024-07-01", "NEG", "EMO", end="2025-01-15")
            + plan("2025-02-01", "PHY", "PHY"))))
    + child("EFH-2", sex="<Sex>U</Sex>", born="<PersonBirthDate>2012-01-10</PersonBirthDate>",
            disabilities="<Disability>LD</Disability><Disability>AUT</Disability>",
            details=episode(referral="2024-04-10", source="2A", need="N6", closure="2024-05-01", nfa="true")
            + episode(referral="2024-11-05", source="5D", need="N4", inner=(
                assessment("2024-11-06", ["10A", "24A", "10A"], authorised="2024-12-01")
                + "<Section47><S47ActualStartDate>2024-11-07</S47ActualStartDate>"
                  "<ICPCnotRequired>true</ICPCnotRequired></Section47>"
                + plan("2024-12-12", "MUL", "SAB")))))


def test_efh_factors_and_plans_load_into_the_expected_tables(tmp_path):
    result = read(tmp_path, EFH_RETURN)
    assert result.quarantine.empty, result.quarantine["message"].tolist()
    one, two = hmac_key(CITY, "EFH-1"), hmac_key(CITY, "EFH-2")
    common = {"la_code": pd.Series([CITY] * 2, dtype="str"), "collection_year": [2025, 2025]}
    pd.testing.assert_frame_equal(result.children, pd.DataFrame({
        **common,
        "child_key": pd.Series([one, two], dtype="str"),
        "age": pd.Series([15, 13], dtype="Int64"),
        "sex": pd.Series(["male", "unknown"], dtype="str"),
        "ethnicity": pd.Series(["WBRI", "WBRI"], dtype="str"),
        "disabled": [False, True],
        "source_row": [1, 2],
    }))
    common3 = {"la_code": pd.Series([CITY] * 3, dtype="str"), "collection_year": [2025] * 3}
    pd.testing.assert_frame_equal(result.episodes, pd.DataFrame({
        **common3,
        "child_key": pd.Series([one, two, two], dtype="str"),
        "episode": [1, 1, 2],
        "referral_date": dates("2024-06-01", "2024-04-10", "2024-11-05"),
        "referral_source": pd.Series(["6", "2A", "5D"], dtype="str"),
        "primary_need": pd.Series(["N1", "N6", "N4"], dtype="str"),
        "closure_date": dates(None, "2024-05-01", None),
        "reason_for_closure": pd.Series([None, "RC8", None], dtype="str"),
        "referral_nfa": pd.Series([False, True, False], dtype="boolean"),
    }))
    pd.testing.assert_frame_equal(result.assessments, pd.DataFrame({
        **common3,
        "child_key": pd.Series([one, one, two], dtype="str"),
        "episode": [1, 1, 2],
        "start_date": dates("2024-06-03", "2024-09-01", "2024-11-06"),
        "authorisation_date": dates("2024-06-20", None, "2024-12-01"),
        "factors": pd.Series([["10A", "11A", "12A", "13A"], ["24A", "18B", "19B"], ["10A", "24A"]], dtype="object"),
    }))
    pd.testing.assert_frame_equal(result.cp_plans, pd.DataFrame({
        **common3,
        "child_key": pd.Series([one, one, two], dtype="str"),
        "episode": [1, 1, 2],
        "start_date": dates("2024-07-01", "2025-02-01", "2024-12-12"),
        "end_date": dates("2025-01-15", None, None),
        "initial_category": pd.Series(["NEG", "PHY", "MUL"], dtype="str"),
        "latest_category": pd.Series(["EMO", "PHY", "SAB"], dtype="str"),
    }))


def test_child_key_is_the_hmac_of_la_code_and_lachildid(tmp_path):
    result = read(tmp_path, message(child(" LA/42-x ")))
    expected = hmac.new(SECRET, f"{CITY}:LA/42-x".encode(), hashlib.sha256).hexdigest()[:16]
    assert result.children["child_key"].tolist() == [expected]
    assert result.episodes["child_key"].tolist() == [expected]


@pytest.mark.parametrize(("born", "age"), [
    ("2010-03-31", 15),  # birthday on the reference date counts
    ("2010-03-30", 15),  # birthday the day before
    ("2010-04-01", 14),  # birthday the day after: not yet 15
    ("2008-02-29", 17),
    ("2025-03-31", 0),
])
def test_age_in_whole_years_at_the_reference_date(tmp_path, born, age):
    result = read(tmp_path, message(child(born=f"<PersonBirthDate>{born}</PersonBirthDate>")))
    assert result.quarantine.empty
    assert result.children["age"].tolist() == [age]


@pytest.mark.parametrize(("born", "rule"), [
    ("<ExpectedPersonBirthDate>2025-06-01</ExpectedPersonBirthDate>", None),  # unborn: no age, no problem
    ("", "required"),
    ("<PersonBirthDate>2025-04-01</PersonBirthDate>", "date_after_reference"),
    ("<PersonBirthDate>31/03/2010</PersonBirthDate>", "type_date"),
    ("<PersonBirthDate>2010-02-30</PersonBirthDate>", "type_date"),
])
def test_unknown_age_is_null(tmp_path, born, rule):
    result = read(tmp_path, message(child(born=born)))
    assert result.children["age"].isna().tolist() == [True]
    expected = [] if rule is None else [("cin_children", 1, "PersonBirthDate", rule)]
    assert problems(result) == expected


# --- layouts by collection year ----------------------------------------------------------------

def test_gender_current_codes_up_to_2024(tmp_path):
    before = episode(referral="2023-06-01")
    children = "".join(child(f"G{code}", sex=f"<GenderCurrent>{code}</GenderCurrent>", details=before)
                       for code in "12093")
    children += child("GM", sex="<GenderCurrent>M</GenderCurrent>", details=before)
    result = read(tmp_path, message(children, reference="2024-03-31"))
    assert result.children["sex"].tolist()[:4] == ["male", "female", "unknown", "indeterminate"]
    assert result.children["sex"].isna().tolist()[4:] == [True, True]
    assert problems(result) == [("cin_children", 5, "GenderCurrent", "vocabulary"),
                                ("cin_children", 6, "GenderCurrent", "vocabulary")]


def test_sex_codes_from_2025(tmp_path):
    children = "".join(child(f"S{code}", sex=f"<Sex>{code}</Sex>") for code in ["M", "F", "U", "f ", "1"])
    children += child("SG", sex="<GenderCurrent>1</GenderCurrent>") + child("SN", sex="")
    result = read(tmp_path, message(children, reference="2025-03-31"))
    assert result.children["sex"].tolist()[:4] == ["male", "female", "unknown", "female"]
    assert problems(result) == [("cin_children", 5, "Sex", "vocabulary"),
                                ("cin_children", 6, "GenderCurrent", "wrong_layout"),
                                ("cin_children", 7, "Sex", "required")]
    wrong = result.quarantine.loc[result.quarantine["rule"] == "wrong_layout", "message"].item()
    assert "uses Sex" in wrong


@pytest.mark.parametrize("reference", ["2026-03-31", "2027-03-31"])
def test_pre_proceedings_block_is_accepted_and_ignored(tmp_path, reference):
    block = ("<PreProceedingsandFGDM><PPStartDate>2026-09-09</PPStartDate><FGDMMeetingOffer>1</FGDMMeetingOffer>"
             "<PPOutcome>A</PPOutcome></PreProceedingsandFGDM>")
    result = read(tmp_path, message(child(details=episode(inner=block)), reference=reference))
    assert result.quarantine.empty
    assert len(result.episodes) == 1
    assert spec()["sections"]["pre_proceedings"]["use"] == "not_used"


def test_spec_is_plain_yaml_with_a_message_for_every_rule():
    text = (Path(__file__).parents[1] / "config" / "statutory" / "cin_census.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data == spec()
    for rule in ("required", "vocabulary", "type_date", "date_after_reference"):
        assert {"message", "fix"} <= set(data["rules"][rule])
    sex = data["sections"]["child_identifiers"]["elements"]
    assert sex["GenderCurrent"]["until"] + 1 == sex["Sex"]["from"]


# --- row-level problems ------------------------------------------------------------------------

def test_invalid_values_are_dropped_and_the_rest_of_the_child_loads(tmp_path):
    details = episode(referral="2024-13-01", source="99", nfa="maybe", inner=(
        assessment("2024-06-03", ["11A", "XX", "24A"])
        + assessment("not a date", ["10A"])
        + assessment("", ["10A"])
        + plan("2024-07-01", "BAD", "NEG", end="soon")
        + plan("2025-04-02", "NEG", "NEG")))
    result = read(tmp_path, message(child(ethnicity="ZZZZ", disabilities="<Disability>WINGS</Disability>",
                                          identifiers="<Nickname>Bobby</Nickname>", details=details)))
    assert problems(result) == [
        ("cin_children", 1, "Nickname", "unknown_element"),
        ("cin_children", 1, "Ethnicity", "vocabulary"),
        ("cin_children", 1, "Disability", "vocabulary"),
        ("cin_episodes", 1, "CINreferralDate", "type_date"),
        ("cin_episodes", 1, "ReferralSource", "vocabulary"),
        ("cin_episodes", 1, "ReferralNFA", "type_yes_no"),
        ("cin_assessments", 1, "AssessmentFactors", "vocabulary"),
        ("cin_assessments", 1, "AssessmentActualStartDate", "type_date"),
        ("cin_assessments", 1, "Assessments", "record_dropped"),
        ("cin_assessments", 1, "AssessmentActualStartDate", "required"),
        ("cin_assessments", 1, "Assessments", "record_dropped"),
        ("cin_cp_plans", 1, "CPPendDate", "type_date"),
        ("cin_cp_plans", 1, "InitialCategoryOfAbuse", "vocabulary"),
        ("cin_cp_plans", 1, "CPPstartDate", "date_after_reference"),
        ("cin_cp_plans", 1, "ChildProtectionPlans", "record_dropped"),
    ]
    assert result.children[["ethnicity"]].isna().all().item()
    assert result.children["disabled"].tolist() == [False]
    assert result.episodes[["referral_date", "referral_source", "referral_nfa"]].isna().iloc[0].tolist() \
        == [True, True, True]
    assert result.episodes["primary_need"].tolist() == ["N1"]
    assert result.assessments["factors"].tolist() == [["11A", "24A"]]
    assert result.cp_plans["initial_category"].isna().tolist() == [True]
    assert result.cp_plans["latest_category"].tolist() == ["NEG"]
    assert result.cp_plans["end_date"].isna().tolist() == [True]
    assert "Bobby" not in everything(result)
    for text in result.quarantine["message"]:
        assert not any(value in text for value in ("2024-13-01", "99", "maybe", "XX", "BAD", "soon", "ZZZZ",
                                                   "WINGS"))


def test_a_child_without_lachildid_or_seen_before_is_not_loaded(tmp_path):
    result = read(tmp_path, message(child("A1") + child("") + child("A1")))
    assert problems(result) == [("cin_children", 2, "LAchildID", "required"),
                                ("cin_children", 2, "Child", "record_dropped"),
                                ("cin_children", 3, "LAchildID", "duplicate_child")]
    assert result.children["source_row"].tolist() == [1]
    assert len(result.episodes) == 1


def test_missing_blocks_are_required(tmp_path):
    xml = message("<Child><ChildIdentifiers><LAchildID>B1</LAchildID><Sex>F</Sex></ChildIdentifiers></Child>")
    result = read(tmp_path, xml)
    assert problems(result) == [("cin_children", 1, "ChildCharacteristics", "required"),
                                ("cin_episodes", 1, "CINdetails", "required"),
                                ("cin_children", 1, "PersonBirthDate", "required")]
    assert len(result.children) == 1 and result.episodes.empty


# --- privacy -----------------------------------------------------------------------------------

def test_no_identifier_reaches_any_output(tmp_path):
    identifiers = ("<UPN>A123456789012</UPN><FormerUPN>B98765432101C</FormerUPN><UPNunknown>UN1</UPNunknown>"
                   "<ExpectedPersonBirthDate>2011-07-13</ExpectedPersonBirthDate>")
    xml = message(child("SECRET-ID-77", identifiers=identifiers,
                        born="<PersonBirthDate>2011-07-14</PersonBirthDate>",
                        sex="<Sex>X</Sex><PersonDeathDate>2024-12-01</PersonDeathDate>",
                        details=episode(inner=assessment("2024-06-03", ["RB"])) + "stray SECRET-ID-77 text"))
    result = read(tmp_path, xml)
    assert {"vocabulary", "stray_text"} <= set(result.quarantine["rule"])
    text = everything(result)
    for value in ("A123456789012", "B98765432101C", "UN1", "2011-07-14", "2011-07-13", "2024-12-01",
                  "SECRET-ID-77"):
        assert value not in text
    assert result.children["age"].tolist() == [13]


@pytest.mark.parametrize(("sample", "values"), [
    ("cin-2022.xml", ["DfEX0000001", "A123456789123", "X98765432123B", "1966-03-24", "1966-03-22", "1980-10-08"]),
    ("CIN_Census_2024.xml", ["DfEX0000001", "child_fails_assessments", "A123456789123", "X98765432123B",
                             "2015-03-27", "2023-09-25"]),
])
def test_no_identifier_from_the_samples_reaches_any_output(sample, values):
    text = everything(read_cin_census(SAMPLES / sample, SECRET))
    for value in values:
        assert value not in text


# --- file-level rejection ----------------------------------------------------------------------

@pytest.mark.parametrize(("xml", "rule"), [
    (message(child())[:-40], "not_well_formed"),
    ("", "not_well_formed"),
    (message(child()).replace("<Disabilities>", "<Disabilities>&nbsp;"), "not_well_formed"),
    ("<Report><Header/></Report>", "not_cin_census"),
    (message(child(), collection="SSDA903"), "not_cin_census"),
    (message(child(), lea="999"), "unknown_lea"),
    (message(child(), lea="City"), "unknown_lea"),
    (message(child(), reference=""), "missing_reference_date"),
    (message(child(), reference="31/03/2025"), "missing_reference_date"),
    ("<Message><Children>" + child() + "</Children></Message>", "missing_reference_date"),
])
def test_file_level_rejections(tmp_path, xml, rule):
    with pytest.raises(PackRejected) as error:
        read(tmp_path, xml)
    assert error.value.rule == rule
    assert error.value.message.startswith("cin.xml: ")
    assert "C1" not in error.value.message and "2010-05-01" not in error.value.message


def test_la_code_must_agree_with_the_header(tmp_path):
    assert read(tmp_path, message(child()), la_code="e09000001 ").la_code == CITY
    with pytest.raises(PackRejected) as error:
        read(tmp_path, message(child()), la_code="E09000007")
    assert error.value.rule == "la_code_mismatch"


# --- streaming ---------------------------------------------------------------------------------

def test_a_large_file_streams(tmp_path):
    count = 20_000
    one = child("{n}", details=episode(inner=assessment("2024-06-03", ["10A", "24A"])
                                       + plan("2024-07-01", "NEG", "NEG")))
    path = tmp_path / "big.xml"
    with open(path, "w", encoding="utf-8") as handle:
        head, tail = message("@@").split("@@")
        handle.write(head)
        for n in range(count):
            handle.write(one.replace("{n}", f"K{n}"))
        handle.write(tail)
    started = time.perf_counter()
    result = read_cin_census(path, SECRET)
    elapsed = time.perf_counter() - started
    assert (len(result.children), len(result.episodes), len(result.assessments), len(result.cp_plans)) \
        == (count, count, count, count)
    assert result.children["child_key"].is_unique
    assert result.children["source_row"].tolist()[-1] == count
    assert result.quarantine.empty
    assert elapsed < 60, f"{count} children took {elapsed:.1f}s"
