"""The restricted board report of one multi-agency case audit: HTML that opens offline, and a PDF
of it (Debian's Chromium prints it), under <home>/restricted/audits/<audit_id>/, marked on every page
(config/publication.yaml's `restricted.marking`). It shows small counts (it is restricted) but never a case_key
or a case_id: the sample is described by stratum, and disagreements are counted, not listed.

It is written only here, never into the public site or the exports."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import duckdb

from assets.audit_actions import overdue_sql
from assets.audit_returns import audit_status
from assets.audits import MODERATED, audit_tool
from assets.config import load_yaml, local_authorities
from assets.scoring import framework
from dashboards.figures import quarter_label
from dashboards.pages import ENVIRONMENT
from dashboards.publication import publishable_theme, restricted_marking
from dashboards.views.common import count, number, text

CHROMIUM = "chromium"  # Debian's, installed by `make browser` (.ci/install-chromium)
PDF_TIMEOUT = 120  # seconds


class ReportError(RuntimeError):
    """The report cannot be made: no such audit, or no Chromium to print it."""


def report_view(con: duckdb.DuckDBPyConnection, audit_id: str) -> dict:
    """Everything the report shows, as plain data; no case_key in it."""
    found = con.execute("SELECT la_code, period, theme, focus, size, seed, created_at, tool_version FROM audits "
                        "WHERE audit_id = ?", [audit_id]).fetchone()
    if found is None:
        known = [a for (a,) in con.execute("SELECT audit_id FROM audits ORDER BY ALL").fetchall()]
        raise ReportError(f"there is no audit {audit_id}; the audits are: "
                          f"{', '.join(known[:10]) or 'none yet (audit plan makes one)'}")
    la_code, period, theme, focus, size, seed, created, version = found
    tool = audit_tool()
    authority = local_authorities().get(la_code)
    strata = con.execute("SELECT stratum, count(*), min(reason) FROM audit_samples WHERE audit_id = ? "
                         "GROUP BY ALL ORDER BY ALL", [audit_id]).fetchall()
    answers = con.execute("SELECT agency, question_id, answer FROM audit_answers WHERE audit_id = ?",
                          [audit_id]).fetchall()
    moderated = Counter((q, a) for agency, q, a in answers if agency == MODERATED)
    agencies = Counter((q, a) for agency, q, a in answers if agency != MODERATED)

    def distributions(counts: Counter, whose: str) -> list[dict]:
        """One table per scale: a row per question, a column per answer."""
        return [{"caption": f"{whose}, questions answered {' / '.join(tool.answers(scale)[:-2]).replace('_', ' ')}",
                 "headers": ["Question", "Domain"] + [code.replace("_", " ") for code in tool.answers(scale)],
                 "rows": [[text(f"{q.id}: {q.question}"), text(tool.domains[q.domain])]
                          + [count(counts[(q.id, code)], False) for code in tool.answers(scale)]
                          for q in tool.questions if q.scale == scale]}
                for scale in tool.scales if any(q.scale == scale for q in tool.questions)]

    agreement = [[text(question_id), count(raters, False), count(cases, False),
                  number("[x]" if alpha is None else f"{alpha:.2f}"), text(tool.agreement_words(alpha))]
                 for question_id, raters, cases, alpha in con.execute(
                     "SELECT question_id, raters, cases, krippendorff_alpha_ordinal FROM audit_agreement "
                     "WHERE audit_id = ?", [audit_id]).fetchall()]
    order = {q.id: number for number, q in enumerate(tool.questions)}
    agreement.sort(key=lambda row: (order.get(row[0].text, len(order)), row[0].text))  # the tool's order
    judgement = []
    for domain, cases, rho, share in con.execute("SELECT domain, cases, spearman_rho, concordant_share FROM "
                                                 "audit_judgement_vs_data WHERE audit_id = ?", [audit_id]).fetchall():
        agree = round(share * cases) if share is not None else None
        judgement.append([text(framework().domains[domain]["title"]), count(cases, False),
                          number("[x]" if rho is None else f"{rho:.2f}"),
                          number("[x]" if agree is None else str(agree)),
                          number("[x]" if agree is None else str(cases - agree))])
    comments = [[text(question_id), text(agency), text(comment)] for question_id, agency, comment in con.execute(
        "SELECT question_id, agency, comment FROM audit_comments WHERE audit_id = ? ORDER BY ALL",
        [audit_id]).fetchall()]
    actions = con.execute(f"""SELECT action_id, recommendation, owner_agency, due_date, status, {overdue_sql()}
                               FROM audit_actions WHERE audit_id = ? ORDER BY action_id""", [audit_id]).fetchall()
    themes = load_yaml("audit_tool.yaml")["recommendation_themes"]
    theme_counts = Counter(theme for _, recommendation, *_ in actions for theme, words in themes.items()
                           if set(re.findall(r"[a-z-]+", recommendation.lower())) & {w.lower() for w in words})
    comparison = earlier_audit_rows(con, audit_id, la_code, version, created)
    focus_words = (f", and with a focus on {framework().domains[focus]['title'].lower()}: cases scoring below "
                   f"{tool.good_enough['domain_score']:g} in it make at least half the sample") if focus else ""
    return {
        "marking": restricted_marking(), "title": f"Multi-agency case audit {audit_id}",
        "audit": {"la_code": la_code, "la_name": authority.name if authority else la_code,
                  "period": quarter_label(period),
                  "theme": publishable_theme(theme) or ("none given" if not theme else
                                                        "withheld: it holds a number or a name"), "size": size,
                  "tool": f"{tool.name} ({version})", "created": f"{created:%d %B %Y}"},
        "sample": {"how": f"{size} cases drawn at random from the pack's cases, stratified by plan type{focus_words} "
                          f"(seed {seed}: the same seed draws the same cases).",
                   "rows": [[text(stratum), count(n, False), text(reason)] for stratum, n, reason in strata]},
        "returns": [[text(s.agency), text(s.state), count(s.answers, False), count(s.quarantined, False),
                     text(s.detail)]
                    for s in audit_status(con, audit_id)],
        "distributions": (distributions(moderated, "Moderated answers")
                          + distributions(agencies, "Agencies' own answers")),
        "domains": domain_distribution(tool, moderated),
        "agreement": agreement, "judgement": judgement, "comments": comments,
        "actions": [[text(action_id), text(recommendation), text(owner or ""), text(f"{due:%d/%m/%Y}" if due else ""),
                     text(status.replace("_", " ")), text("overdue" if overdue else "")]
                    for action_id, recommendation, owner, due, status, overdue in actions],
        "overdue": sum(1 for *_, overdue in actions if overdue),
        "themes": [[text(theme), count(theme_counts[theme], False)] for theme in themes if theme_counts[theme]],
        "comparison": comparison,
    }


def domain_distribution(tool, moderated: Counter) -> dict:
    """The moderated grades counted per domain (its grade questions together)."""
    codes = tool.answers("grade")
    rows = []
    for domain, title in tool.domains.items():
        questions = [q.id for q in tool.questions if q.domain == domain and q.scale == "grade"]
        if questions:
            rows.append([text(title)] + [count(sum(moderated[(q, code)] for q in questions), False) for code in codes])
    return {"headers": ["Domain"] + [code.replace("_", " ") for code in codes], "rows": rows}


def earlier_audit_rows(con: duckdb.DuckDBPyConnection, audit_id: str, la_code: str, version: str, created
                       ) -> dict | None:
    """The change since the LA's latest earlier audit with the same tool: per question, the mean
    moderated value then and now (None when there is no such audit)."""
    earlier = con.execute("""SELECT audit_id, period FROM audits WHERE la_code = ? AND tool_version = ?
                             AND audit_id <> ? AND created_at <= ? ORDER BY created_at DESC, audit_id DESC LIMIT 1""",
                          [la_code, version, audit_id, created]).fetchone()
    if earlier is None:
        return None
    means = {(a, q): m for a, q, m in con.execute("""
        SELECT audit_id, question_id, avg(value) FROM audit_answers
        WHERE agency = ? AND audit_id IN (?, ?) AND value IS NOT NULL GROUP BY ALL""",
                                                  [MODERATED, earlier[0], audit_id]).fetchall()}
    rows = []
    for q in audit_tool().questions:
        then, now = means.get((earlier[0], q.id)), means.get((audit_id, q.id))
        change = "[x]" if then is None or now is None else f"{now - then:+.2f}"
        rows.append([text(f"{q.id}: {q.question}"), number("[x]" if then is None else f"{then:.2f}"),
                     number("[x]" if now is None else f"{now:.2f}"), number(change)])
    return {"earlier": f"{quarter_label(earlier[1])}", "rows": rows}


def write_report(con: duckdb.DuckDBPyConnection, audit_id: str, folder: Path, pdf: bool = False) -> list[Path]:
    """Write report.html (and report.pdf) for the audit into `folder`; returns the files."""
    html = ENVIRONMENT.get_template("audit_report.html").render(**report_view(con, audit_id))
    folder.mkdir(parents=True, exist_ok=True)
    for restricted in (folder, *folder.parents[:2]):  # <home>/restricted/audits/<audit>: only the pipeline's user
        if restricted.name and restricted.exists():
            restricted.chmod(0o700)
    page = folder / "report.html"
    staged = folder / ".report.html.new"
    staged.write_text(html, encoding="utf-8")
    staged.replace(page)
    written = [page]
    if pdf:
        written.append(print_pdf(page, folder / "report.pdf"))
    return written


def print_pdf(page: Path, out: Path) -> Path:
    """Print an HTML file to PDF with headless Chromium (no network, no header or footer of its own)."""
    browser = shutil.which(CHROMIUM)
    if browser is None:
        raise ReportError("Chromium is needed to print the PDF and was not found: `make browser` installs it")
    with tempfile.TemporaryDirectory(prefix="report-") as profile:
        staged = out.with_name(f".{out.name}.new")
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
             f"--user-data-dir={profile}", f"--print-to-pdf={staged}", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=PDF_TIMEOUT, check=False)
        if result.returncode != 0 or not staged.exists() or staged.stat().st_size == 0:
            raise ReportError(f"Chromium could not print {page.name} (exit status {result.returncode})")
        staged.replace(out)
    return out
