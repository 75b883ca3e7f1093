"""An audit's findings equal values worked out in the test: ordinal Krippendorff's alpha per
question (against the independent `krippendorff` package) and pooled per scale, and the moderated
judgement against the data per domain (Spearman's rho and the concordant share, by hand)."""

from __future__ import annotations

import duckdb
import krippendorff
import numpy as np
import pytest

from assets.audit_findings import compute_findings
from assets.audits import audit_tool
from assets.warehouse import SCHEMA_SQL

AUDIT = "E06000001_2025Q3_01"
CASES = ["a" * 16, "b" * 16, "c" * 16, "d" * 16, "e" * 16]
# PI-a (a grade question) as three agencies graded the five cases; None: not answered.
PI_A = {"childrens_social_care": [4, 3, 2, 2, 1], "police": [4, 3, 3, 2, None], "health": [3, 3, 2, 1, 1]}
# The moderated grades of PI-a and PI-b per case, and the cases' PI scores in the data.
MODERATED = {"PI-a": [4, 3, 2, 2, 1], "PI-b": [4, 2, 2, 1, 1]}
PI_SCORES = [0.9, 0.6, 0.55, 0.2, 0.1]


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(SCHEMA_SQL)
    con.execute("INSERT INTO audits VALUES (?, 'E06000001', '2025Q3', 'test', 'PI', 5, 1, now(), ?)",
                [AUDIT, audit_tool().version])
    con.executemany("INSERT INTO audit_samples VALUES (?, ?, 'CP', 'plan type CP')", [(AUDIT, c) for c in CASES])
    grade = {value: code for code, value in audit_tool().scales["grade"].items()}
    rows = []
    for agency, grades in PI_A.items():
        rows += [(AUDIT, agency, case, "PI-a", grade[g], g) for case, g in zip(CASES, grades, strict=True) if g]
    rows += [(AUDIT, "health", CASES[0], "PI-b", "not_known", None)]  # carries no value
    for question, grades in MODERATED.items():
        rows += [(AUDIT, "moderated", case, question, grade[g], g) for case, g in zip(CASES, grades, strict=True)]
    con.executemany("INSERT INTO audit_answers VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.executemany("INSERT INTO case_domain_scores VALUES ('E06000001', '2025Q3', ?, 'PI', ?, 3)",
                    list(zip(CASES, PI_SCORES, strict=True)))
    yield con
    con.close()


def test_agreement_per_question_matches_an_independent_implementation(con):
    compute_findings(con, AUDIT)
    rows = {q: (raters, cases, alpha) for _, q, raters, cases, alpha in
            con.execute("SELECT * FROM audit_agreement").fetchall()}
    matrix = np.array([[np.nan if g is None else g for g in grades] for grades in PI_A.values()], dtype=float)
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal",
                                  value_domain=[1, 2, 3, 4])
    raters, cases, alpha = rows["PI-a"]
    assert (raters, cases) == (3, 5)
    assert alpha == pytest.approx(expected, abs=1e-9)
    # Only PI-a has two agencies' answers among the grade questions: the pooled row is the same.
    assert rows["ALL-grade"][2] == pytest.approx(expected, abs=1e-9)
    # A question no two agencies answered has no alpha, and says so with no cases.
    assert rows["OF-a"] == (0, 0, None)
    assert rows["ALL-ynp"] == (0, 0, None)
    # The moderated return is not a rater.
    assert max(r for r, _, _ in rows.values()) == 3


def test_judgement_against_data_per_domain_is_worked_out_by_hand(con):
    compute_findings(con, AUDIT)
    rows = {d: (cases, rho, share) for _, d, cases, rho, share in
            con.execute("SELECT * FROM audit_judgement_vs_data").fetchall()}
    # Mean moderated PI grade per case: 4, 2.5, 2, 1.5, 1; the data: 0.9, 0.6, 0.55, 0.2, 0.1.
    # Both rank the cases identically: rho = 1.
    cases, rho, share = rows["PI"]
    assert cases == 5 and rho == pytest.approx(1.0, abs=1e-12)
    # At least good (>= 3) and at least half (>= 0.5): case a both yes; b, c: grade below 3 but data
    # at least half (disagree); d, e both below (agree): 3 of 5.
    assert share == pytest.approx(3 / 5, abs=1e-12)
    # Domains with no moderated grades or no scores: no cases, nothing computed.
    assert rows["OF"] == (0, None, None)


def test_findings_are_recomputed_not_added(con):
    compute_findings(con, AUDIT)
    compute_findings(con, AUDIT)
    assert con.execute("SELECT count(*) FROM audit_judgement_vs_data").fetchone()[0] == 4
    assert con.execute("SELECT count(*) FROM audit_agreement").fetchone()[0] == len(audit_tool().questions) + 2
