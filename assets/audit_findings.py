"""What an audit found, from its loaded returns (docs/audits.md):

- audit_agreement: per question, ordinal Krippendorff's alpha among the agencies (the moderated
  return is not a rater) over the cases with at least two agencies' answers; and per scale, one row
  `ALL-<scale>` pooling the tool's questions of that scale (each case and question a unit).
- audit_judgement_vs_data: per framework domain, each case's moderated judgement (the mean value of
  its answers to the domain's grade questions) against its domain score in case_domain_scores:
  Spearman's rho, and the share of cases where both say "at least good" / "at least half" or both
  say the opposite (the cuts are the tool's `good_enough`).

Answers that carry no value (not_applicable, not_known) take no part."""

from __future__ import annotations

import math

import duckdb
import numpy as np

from assets.audit_statistics import concordant_share, krippendorff_alpha, spearman_rho
from assets.audits import MODERATED, audit_tool
from assets.scoring import framework
from assets.warehouse import transaction


def agreement_rows(answers: list[tuple], audit_id: str) -> list[tuple]:
    """(audit_id, question_id, raters, cases, alpha) per question and per scale (`ALL-<scale>`);
    `answers`: (agency, case_key, question_id, value) of the agencies, values not None."""
    tool = audit_tool()
    rows = []
    groups = [(q.id, [q.id]) for q in tool.questions]
    groups += [(f"ALL-{scale}", [q.id for q in tool.questions if q.scale == scale]) for scale in tool.scales]
    for label, question_ids in groups:
        chosen = [a for a in answers if a[2] in question_ids]
        raters = sorted({a[0] for a in chosen})
        units = sorted({(a[1], a[2]) for a in chosen})
        matrix = np.full((len(raters), len(units)), np.nan)
        rater_at, unit_at = {r: i for i, r in enumerate(raters)}, {u: i for i, u in enumerate(units)}
        for agency, case, question, value in chosen:
            matrix[rater_at[agency], unit_at[(case, question)]] = value
        pairable = int((np.sum(~np.isnan(matrix), axis=0) >= 2).sum()) if units else 0
        cases = len({units[i][0] for i in range(len(units)) if np.sum(~np.isnan(matrix[:, i])) >= 2})
        alpha = krippendorff_alpha(matrix, "ordinal") if pairable else math.nan
        rows.append((audit_id, label, len(raters), cases, None if math.isnan(alpha) else float(alpha)))
    return rows


def judgement_rows(moderated: dict[tuple[str, str], float], scores: dict[tuple[str, str], float],
                   audit_id: str) -> list[tuple]:
    """(audit_id, domain, cases, rho, concordant share) per scored domain; `moderated`: (case_key,
    domain) -> mean moderated grade; `scores`: (case_key, domain) -> the case's domain score."""
    cuts = audit_tool().good_enough
    rows = []
    for domain in framework().scored_domains:
        pairs = [(grade, scores[key]) for key, grade in moderated.items() if key[1] == domain and key in scores]
        judgement, data = [p[0] for p in pairs], [p[1] for p in pairs]
        rho = spearman_rho(judgement, data) if len(pairs) >= 2 else math.nan
        share = concordant_share(judgement, data, cuts["grade"], cuts["domain_score"]) if pairs else math.nan
        rows.append((audit_id, domain, len(pairs), None if math.isnan(rho) else float(rho),
                     None if math.isnan(share) else float(share)))
    return rows


def compute_findings(con: duckdb.DuckDBPyConnection, audit_id: str) -> None:
    """Recompute one audit's agreement and judgement-against-data rows, in one transaction."""
    tool = audit_tool()
    answers = con.execute("""SELECT agency, case_key, question_id, value FROM audit_answers
                             WHERE audit_id = ? AND value IS NOT NULL ORDER BY ALL""", [audit_id]).fetchall()
    agencies = [a for a in answers if a[0] != MODERATED]
    grade_domain = {q.id: q.domain for q in tool.questions if q.scale == "grade"}
    totals: dict[tuple[str, str], list[float]] = {}
    for agency, case, question, value in answers:
        if agency == MODERATED and question in grade_domain:
            totals.setdefault((case, grade_domain[question]), []).append(value)
    moderated = {key: sum(values) / len(values) for key, values in totals.items()}
    la_code, period = con.execute("SELECT la_code, period FROM audits WHERE audit_id = ?", [audit_id]).fetchone()
    scores = {(case, domain): score for case, domain, score in con.execute("""
        SELECT s.case_key, s.domain, s.score FROM case_domain_scores s
        JOIN audit_samples a ON a.case_key = s.case_key AND a.audit_id = ?
        WHERE s.la_code = ? AND s.period = ? AND s.score IS NOT NULL""", [audit_id, la_code, period]).fetchall()}
    with transaction(con):
        for table in ("audit_agreement", "audit_judgement_vs_data"):
            con.execute(f"DELETE FROM {table} WHERE audit_id = ?", [audit_id])
        con.executemany("INSERT INTO audit_agreement VALUES (?, ?, ?, ?, ?)", agreement_rows(agencies, audit_id))
        con.executemany("INSERT INTO audit_judgement_vs_data VALUES (?, ?, ?, ?, ?)",
                        judgement_rows(moderated, scores, audit_id))


def compute_all_findings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every audit's findings, recomputed (they are small); returns the audits."""
    audits = [audit_id for (audit_id,) in con.execute("SELECT audit_id FROM audits ORDER BY ALL").fetchall()]
    for audit_id in audits:
        compute_findings(con, audit_id)
    return audits
