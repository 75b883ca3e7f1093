"""The public page of case audits: which audits the partnership has held, and what they found in
totals, under the same disclosure control as every other page. Built from the Publication alone
(dashboards/publication.py: published_audits), which holds no case_key, audit id or comment."""

from __future__ import annotations

from assets.audits import audit_tool
from dashboards.figures import quarter_label
from dashboards.publication import Publication
from dashboards.views.common import count, la_file, link, page_exports, text

WITHHELD = "not shown (none given, or it held a number or a name)"


def audits_view(pub: Publication) -> dict:
    tool = audit_tool()
    audits = pub.audits if pub.audits is not None else None
    if audits is None or audits.empty:
        return {"audits": None, **page_exports(pub)}
    rows = [[text(str(a["number"])), link(la_file(a["la_code"]), a["la_name"]), text(quarter_label(a["period"])),
             text(a["theme"] if isinstance(a["theme"], str) else WITHHELD),
             count(a["cases"], a["cases_suppressed"]), count(a["actions"], a["actions_suppressed"]),
             count(a["actions_done"], a["actions_done_suppressed"]),
             count(a["actions_overdue"], a["actions_overdue_suppressed"])]
            for a in audits.to_dict("records")]
    codes = tool.answers("grade")
    grades = pub.audit_grades.to_dict("records")
    found = {(g["number"], g["domain"], g["answer"]): g for g in grades}
    domains = sorted({(g["number"], g["domain"]) for g in grades},
                     key=lambda key: (key[0], list(tool.domains).index(key[1])))
    grade_rows = []
    for number, domain in domains:
        cells = []
        for code in [*codes, "all"]:
            cell = found[(number, domain, code)]
            cells.append(count(cell["count"], cell["count_suppressed"]))
        grade_rows.append([text(str(number)), text(tool.domains[domain])] + cells)
    return {"audits": rows, "grades": grade_rows,
            "grade_headers": ["Audit", "Domain"] + [c.replace("_", " ") for c in codes] + ["all answers"],
            **page_exports(pub, "case_audits", "audit_grades")}
