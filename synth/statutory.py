"""Synthetic statutory returns for the demo: a CIN census XML file and an SSDA903 folder per LA,
in the DfE layouts the statutory readers accept, so the statutory and benchmark pages have
something to show. Seeded and deterministic, like the packs."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

from assets.cin_census_spec import lea_codes

EFH = ["10A", "11A", "12A", "13A", "24A", "18B", "19B"]
INTRAFAMILIAL = ["3B", "4B", "2B", "16A", "17A"]
CATEGORIES = ["NEG", "PHY", "SAB", "EMO", "MUL"]


def day_in(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def write_statutory(out_dir: Path, la_codes: list[str], year: int = 2025, children: int = 120, seed: int = 1,
                    progress: Callable[[str], None] = lambda _: None) -> list[Path]:
    """One CIN census (year ending 31 March `year`) and one SSDA903 folder per LA."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start, end = dt.date(year - 1, 4, 1), dt.date(year, 3, 31)
    written = []
    for la_code in la_codes:
        rng = random.Random(f"statutory:{seed}:{la_code}")
        # Section 47 enquiries draw from their own sequence, so the rest of the return is as before.
        enquiries = random.Random(f"section47:{seed}:{la_code}")
        old_code = lea_code(la_code)
        if not old_code:
            continue  # Welsh authorities make no CIN census
        # Each LA has its own habits, so the statutory indicators differ between LAs.
        cp_habit, rereferral_habit, missing_habit = rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.35), rng.uniform(0.2, 0.7)
        records, in_care, missing = [], [], []
        for number in range(children):
            child_id = f"S{number:05d}"
            factors = rng.sample(EFH, rng.choice([1, 1, 2]))
            if rng.random() < 0.3:
                factors += rng.sample(INTRAFAMILIAL, 1)
            referrals = [day_in(rng, start, end - dt.timedelta(days=60))]
            if rng.random() < rereferral_habit:
                referrals.append(referrals[0] + dt.timedelta(days=rng.randrange(30, 300)))
            plan = rng.choice(CATEGORIES) if rng.random() < cp_habit else None
            records.append(child_xml(child_id, day_in(rng, dt.date(year - 17, 4, 1), dt.date(year - 10, 3, 31)),
                                     [r for r in referrals if r <= end - dt.timedelta(days=45)], factors, plan,
                                     enquiry_outcome(enquiries, plan)))
            if rng.random() < 0.35:
                in_care.append(child_id)
                for _ in range(rng.choice([0, 1, 2, 3]) if rng.random() < missing_habit else 0):
                    began = day_in(rng, start, end - dt.timedelta(days=10))
                    back = began + dt.timedelta(days=rng.randrange(1, 9))
                    missing.append((child_id, rng.choice("MMMA"), began, back))
        census = out_dir / f"{la_code}_{year}_cin_census.xml"
        census.write_text(census_xml(old_code, year, "".join(records)), encoding="utf-8")
        folder = out_dir / f"{la_code}_{year}_ssda903"
        folder.mkdir(exist_ok=True)
        (folder / "episodes.csv").write_text(
            "CHILD,DECOM,DEC\n" + "".join(f"{c},{(start - dt.timedelta(days=200)):%d/%m/%Y},\n" for c in in_care),
            encoding="utf-8")
        (folder / "missing.csv").write_text(
            "CHILD,DOB,MISSING,MIS_START,MIS_END\n"
            + "".join(f"{c},,{kind},{a:%d/%m/%Y},{b:%d/%m/%Y}\n" for c, kind, a, b in missing), encoding="utf-8")
        written += [census, folder]
        progress(f"{census.name} and {folder.name}: {children} children, {len(in_care)} in care")
    return written


def lea_code(la_code: str) -> str:
    """The LA's 3-digit old LA number for the census header, or "" when it has none (Wales).

    Taken from the mapping the CIN census reader uses, so the reader finds the LA it was made for.
    """
    return next((lea for lea, code in lea_codes().items() if code == la_code), "")


def enquiry_outcome(rng: random.Random, plan: str | None) -> str | None:
    """Whether the first episode has a section 47 enquiry and how it ended: 'plan' (a conference
    and the plan), 'conference' (a conference, no plan), 'not_required', or None (no enquiry)."""
    if plan:
        return "plan"
    draw = rng.random()
    return "conference" if draw < 0.1 else "not_required" if draw < 0.25 else None


def section47_xml(assessed: dt.date, outcome: str | None) -> str:
    if outcome is None:
        return ""
    conference = f"<DateOfInitialCPC>{assessed + dt.timedelta(days=30)}</DateOfInitialCPC>" \
        if outcome != "not_required" else ""
    return (f"<Section47><S47ActualStartDate>{assessed + dt.timedelta(days=5)}</S47ActualStartDate>"
            f"<InitialCPCtarget>{assessed + dt.timedelta(days=20)}</InitialCPCtarget>{conference}"
            f"<ICPCnotRequired>{'true' if outcome == 'not_required' else 'false'}</ICPCnotRequired></Section47>")


def child_xml(child_id: str, born: dt.date, referrals: list[dt.date], factors: list[str], plan: str | None,
              enquiry: str | None = None) -> str:
    episodes = []
    for number, referral in enumerate(referrals):
        assessed = referral + dt.timedelta(days=10)
        assessment = ("<Assessments><AssessmentActualStartDate>" f"{assessed}</AssessmentActualStartDate>"
                      f"<AssessmentAuthorisationDate>{assessed + dt.timedelta(days=20)}</AssessmentAuthorisationDate>"
                      "<FactorsIdentifiedAtAssessment>"
                      + "".join(f"<AssessmentFactors>{f}</AssessmentFactors>" for f in factors)
                      + "</FactorsIdentifiedAtAssessment></Assessments>")
        cp = (f"<ChildProtectionPlans><CPPstartDate>{assessed + dt.timedelta(days=30)}</CPPstartDate>"
              f"<InitialCategoryOfAbuse>{plan}</InitialCategoryOfAbuse><LatestCategoryOfAbuse>{plan}"
              "</LatestCategoryOfAbuse><NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>"
              if plan and number == 0 else "")
        episodes.append(f"<CINdetails><CINreferralDate>{referral}</CINreferralDate><ReferralSource>1A"
                        "</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode>" + assessment
                        + (section47_xml(assessed, enquiry) if number == 0 else "")
                        + "<ReferralNFA>false</ReferralNFA>" + cp + "</CINdetails>")
    return (f"<Child><ChildIdentifiers><LAchildID>{escape(child_id)}</LAchildID><UPNunknown>UN1</UPNunknown>"
            f"<PersonBirthDate>{born}</PersonBirthDate><Sex>U</Sex></ChildIdentifiers><ChildCharacteristics>"
            "<Ethnicity>NOBT</Ethnicity><Disabilities><Disability>NONE</Disability></Disabilities>"
            "</ChildCharacteristics>" + "".join(episodes) + "</Child>")


def census_xml(lea: str, year: int, children: str) -> str:
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Message><Header><CollectionDetails><Collection>CIN"
            f"</Collection><Year>{year}</Year><ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails>"
            f"<Source><SourceLevel>L</SourceLevel><LEA>{lea}</LEA><SoftwareCode>Synthetic</SoftwareCode>"
            "<Release>1</Release><SerialNo>001</SerialNo>"
            f"<DateTime>{year}-05-01T09:00:00</DateTime></Source></Header><Children>{children}</Children></Message>")
