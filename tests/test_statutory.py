"""Statutory returns end to end: a small CIN census and SSDA903 return with extra-familial harm
factors and CP plans, whose expected statutory indicator values are written here; the public
samples load with their deliberate errors reported; `validate` accepts both kinds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.standardise import case_key
from pipelines.run import execute_audit

CLI = str(Path(sys.executable).parent / "safeguarding-audit")
SAMPLES = Path(__file__).parent / "fixtures" / "statutory"
LA = "E06000001"  # Hartlepool, old LA code 805


def child(child_id: str, referrals: list[str], factors: list[str], plan: str | None = None) -> str:
    episodes = []
    for number, referral in enumerate(referrals):
        assessment = ("<Assessments><AssessmentActualStartDate>" + referral + "</AssessmentActualStartDate>"
                      "<AssessmentAuthorisationDate>" + referral + "</AssessmentAuthorisationDate>"
                      "<FactorsIdentifiedAtAssessment>"
                      + "".join(f"<AssessmentFactors>{f}</AssessmentFactors>" for f in factors)
                      + "</FactorsIdentifiedAtAssessment></Assessments>") if number == 0 else ""
        cp = (f"<ChildProtectionPlans><CPPstartDate>2024-09-01</CPPstartDate><InitialCategoryOfAbuse>{plan}"
              f"</InitialCategoryOfAbuse><LatestCategoryOfAbuse>{plan}</LatestCategoryOfAbuse>"
              "<NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>") if plan and number == 0 else ""
        episodes.append(f"<CINdetails><CINreferralDate>{referral}</CINreferralDate><ReferralSource>1A"
                        "</ReferralSource><PrimaryNeedCode>N4</PrimaryNeedCode>" + assessment
                        + "<ReferralNFA>false</ReferralNFA>" + cp + "</CINdetails>")
    return (f"<Child><ChildIdentifiers><LAchildID>{child_id}</LAchildID><UPNunknown>UN1</UPNunknown>"
            "<PersonBirthDate>2010-05-01</PersonBirthDate><Sex>F</Sex></ChildIdentifiers>"
            "<ChildCharacteristics><Ethnicity>WBRI</Ethnicity><Disabilities><Disability>NONE</Disability>"
            "</Disabilities></ChildCharacteristics>" + "".join(episodes) + "</Child>")


CENSUS = ("<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2025</Year>"
          "<ReferenceDate>2025-03-31</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel>"
          "<LEA>805</LEA><SoftwareCode>Local Authority</SoftwareCode><Release>1</Release><SerialNo>001</SerialNo>"
          "<DateTime>2025-05-01T10:00:00</DateTime></Source></Header><Children>"
          + child("K1", ["2024-05-15"], ["11A"], plan="NEG")          # EFH only, CP plan for neglect
          + child("K2", ["2024-06-01"], ["24A", "3B"], plan="PHY")    # EFH and intra-familial
          + child("K3", ["2024-05-01", "2024-11-01"], ["10A"])        # EFH only, re-referred in 6 months
          + child("K4", ["2024-08-01"], ["16A"])                      # intra-familial only
          + "</Children></Message>")
MISSING = "CHILD,DOB,MISSING,MIS_START,MIS_END\nK3,01/05/2010,M,01/06/2024,03/06/2024\n" \
          "K3,01/05/2010,M,01/09/2024,02/09/2024\nK1,01/05/2010,A,01/07/2024,05/07/2024\n"
EPISODES = "CHILD,DECOM,DEC\nK1,01/01/2024,\nK3,01/02/2024,01/02/2025\nK4,01/01/2020,01/01/2023\n"

EXPECTED = {  # indicator: (children met, children applicable), worked by hand
    "ST1": (1, 2), "ST1-NEG": (1, 2), "ST1-PHY": (0, 2), "ST1-SAB": (0, 2), "ST1-EMO": (0, 2), "ST1-MUL": (0, 2),
    "ST2": (1, 3), "ST3": (1, 2),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("statutory") / "home"
    (home / "statutory").mkdir(parents=True)
    (home / "statutory" / "hartlepool_cin_2025.xml").write_text(CENSUS, encoding="utf-8")
    folder = home / "statutory" / f"{LA}_2025_ssda903"
    folder.mkdir()
    (folder / "missing.csv").write_text(MISSING, encoding="utf-8")
    (folder / "episodes.csv").write_text(EPISODES, encoding="utf-8")
    (home / "inbox").mkdir()
    assert execute_audit(dg.DagsterInstance.ephemeral(), home, home / "inbox").success
    return home


def test_statutory_indicators_match_hand_worked_values(home):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rates = {r[0]: r[1:] for r in con.execute(
        "SELECT indicator_id, numerator, denominator, mean_value FROM statutory_rates WHERE la_code = ? "
        "AND period = '2025'", [LA]).fetchall()}
    assert {k: v[:2] for k, v in rates.items()} == EXPECTED
    assert rates["ST3"][2] == pytest.approx(1.0)  # K1 0 missing episodes (one away), K3 2: mean 1
    per_child = dict(con.execute(
        "SELECT child_key, met FROM statutory_child_indicators WHERE indicator_id = 'ST2' AND applicable"
    ).fetchall())
    assert per_child == {case_key(b"test-key", LA, "K1"): False, case_key(b"test-key", LA, "K2"): False,
                         case_key(b"test-key", LA, "K3"): True}
    con.close()


def test_identifiers_are_dropped_on_the_way_in(home):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    for table in ("cin_children", "cin_episodes", "cin_assessments", "cin_cp_plans", "ssda903_missing",
                  "ssda903_children", "statutory_quarantine", "statutory_submissions"):
        text = str(con.execute(f"SELECT * FROM {table}").fetchall())
        for value in ("K1", "K3", "2010-05-01", "01/05/2010"):
            assert value not in text, (table, value)
    assert con.execute("SELECT age FROM cin_children LIMIT 1").fetchone()[0] == 14  # at 31 March 2025
    con.close()


def test_the_statutory_page_shows_suppressed_rates(home):
    page = re.sub(r"</?abbr[^>]*>", "", (home / "site" / "statutory.html").read_text(encoding="utf-8"))
    assert "ST1 EFH-only children started on a child protection plan" in page
    assert "[c]" in page and "2024-25" in page


def test_public_samples_parse_and_their_errors_are_reported(tmp_path):
    for sample in ("cin-2022.xml", "CIN_Census_2024.xml"):
        result = subprocess.run([CLI, "validate", str(SAMPLES / sample), "--json"], capture_output=True,
                                text=True, timeout=120)
        report = json.loads(result.stdout)
        assert report["status"] in ("valid", "quarantine"), report
        assert result.returncode == (0 if report["status"] == "valid" else 1)
    report = json.loads(subprocess.run([CLI, "validate", str(SAMPLES / "CIN_Census_2024.xml"), "--json"],
                                       capture_output=True, text=True, timeout=120).stdout)
    assert ("cin_assessments", "AssessmentFactors", "vocabulary") in {
        (p["table_name"], p["column_name"], p["rule"]) for p in report["problems"]}  # the factor "RB"
    folder = tmp_path / f"{LA}_2018_ssda903"
    folder.mkdir()
    for name in ("missing.csv", "episodes.csv", "header.csv"):
        shutil.copy(SAMPLES / "ssda903" / name, folder / name)
    result = subprocess.run([CLI, "validate", str(folder), "--json"], capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["counts"]["ssda903_missing"]["rows"] == 43
    assert {p["rule"] for p in report["problems"]} == {"outside_year"}
    broken = tmp_path / "broken.xml"
    broken.write_text("<Message><Header>", encoding="utf-8")
    rejected = subprocess.run([CLI, "validate", str(broken)], capture_output=True, text=True, timeout=120)
    assert rejected.returncode == 2 and "Rejected" in rejected.stdout
