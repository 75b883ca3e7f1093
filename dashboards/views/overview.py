"""The partnership overview (index.html): scores, what changed in the latest quarter, which packs
arrived, and links to every indicator and local authority."""

from __future__ import annotations

from dashboards import figures
from dashboards.figures import quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication
from dashboards.views.changes import rate_change
from dashboards.views.common import (
    Cell,
    all_periods,
    area_cell,
    count,
    indicator_file,
    indicator_groups,
    indicator_link,
    la_file,
    las_by_name,
    link,
    missing_count,
    number,
    page_exports,
    quarter_rates,
    rate,
    score,
    spc,
    submission,
    submission_cells,
    text,
    unavailable,
)
from dashboards.views.contexts import overview_contexts

PRACTICE = "PRACTICE"  # the domain code of the practice score in `scores`


def overview_view(pub: Publication, partnership: str) -> dict:
    las = las_by_name(pub)
    quarters = [quarter_label(p) for p in pub.periods]
    return {
        "partnership": partnership, "la_count": len(las), "quarters": quarters,
        "scores": scores(pub, partnership) if pub.periods else None,
        "changes": changes(pub) if len(pub.periods) > 1 else None,
        "signals": latest_signals(pub, partnership) if pub.periods else None,
        "contexts": overview_contexts(pub, partnership),
        "sources": sources(pub, partnership),
        "domains": indicator_groups(pub.framework),
        "las": [{"href": la_file(code), "name": name, "code": code} for code, name in las],
        **page_exports(pub, "scores", "indicator_rates", "spc_signals", "context_networks", "submissions",
                       "indicators"),
    }


def scores(pub: Publication, partnership: str) -> dict:
    """The practice and domain scores of every area by quarter: the chart and its table."""
    fw = pub.framework
    panels = [(PRACTICE, "Practice score")] + [(d, fw.domains[d]["title"]) for d in fw.scored_domains]
    areas = las_by_name(pub) + [("", partnership)]
    lookup = figures.score_lookup(pub.scores)
    rows = []
    for code, name in areas:
        for period in pub.periods:
            cells = [area_cell(code, name), text(quarter_label(period))]
            for domain, _ in panels:
                found = lookup.get((code, domain, period))
                cells.append(score(*found) if found else unavailable())
            rows.append(cells)
    practice = pub.scores[pub.scores["is_total"] & (pub.scores["domain"] == PRACTICE)
                          & ~pub.scores["score_suppressed"]].set_index("period")["score"]
    latest, previous = pub.periods[-1], (pub.periods[-2] if len(pub.periods) > 1 else None)
    return {"figure": figures.scores_figure(pub.scores, panels, areas, pub.periods),
            "titles": [title for _, title in panels], "rows": rows, "limit": pub.limit,
            "latest_practice": f"{practice[latest]:.2f}" if latest in practice.index else "",
            "previous_practice": f"{practice[previous]:.2f}" if previous in practice.index else ""}


def changes(pub: Publication) -> dict:
    """The partnership rate of every indicator in the last two quarters, in framework order."""
    previous, latest = pub.periods[-2:]
    rows, moved = [], []
    for indicator in pub.framework.indicators:
        before, now = (quarter_rates(pub, p).get((PARTNERSHIP_CODE, indicator.id)) for p in (previous, latest))
        change = rate_change(indicator, before, now)
        if change.verdict in ("better", "worse"):
            moved.append({"id": indicator.id, "title": indicator.title, "href": indicator_file(indicator.id),
                          "points": change.points,
                          "verdict": change.verdict})
        rows.append([indicator_link(indicator), rate_of(before), rate_of(now), number(change.points),
                     text(change.words())])
    return {"previous": quarter_label(previous), "rows": rows, "moved": moved}


def rate_of(row: dict | None) -> Cell:
    return unavailable() if row is None or row.get("not_available") else rate(row["rate"], row["rate_suppressed"])


def latest_signals(pub: Publication, partnership: str) -> list[list[Cell]]:
    """Special-cause signals in the latest quarter, for the partnership and each LA."""
    latest = pub.periods[-1]
    areas = [(None, partnership)] + las_by_name(pub)
    rows = []
    for indicator in pub.framework.indicators:
        for code, name in areas:
            points = spc(pub, indicator, code)
            if points and points[-1].period == latest and points[-1].signal:
                last = points[-1]
                rows.append([indicator_link(indicator), text(name) if code is None else link(la_file(code), name),
                             rate(last.rate, False), text(last.signal), text(last.rules)])
    return rows


def sources(pub: Publication, partnership: str) -> dict | None:
    """Which packs arrived and loaded, and how many rows each had, per LA and quarter (None before
    any pack)."""
    periods, las = all_periods(pub), las_by_name(pub)
    if not periods:
        return None
    subs = pub.submissions
    areas = las + [(PARTNERSHIP_CODE, partnership)]
    return {
        "loaded": int((subs["status"] == "loaded").sum()) if len(subs) else 0,
        "expected": len(las) * len(periods),
        "quarters": [quarter_label(p) for p in periods],
        "cases": [[area_cell(code, name)] + [cases_cell(submission(pub, code, period), code) for period in periods]
                  for code, name in areas],
        "packs": [[area_cell(code, name), text(quarter_label(period))]
                  + submission_cells(submission(pub, code, period), code == PARTNERSHIP_CODE)
                  for code, name in areas for period in periods],
    }


def cases_cell(found: dict | None, code: str) -> Cell:
    if found is None or (code and found["status"] != "loaded"):
        return missing_count()
    return count(found["cases"], found["cases_suppressed"])
