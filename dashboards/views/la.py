"""One page per local authority: its rates in the latest quarter beside the partnership's, its own
SPC charts over quarters, and the quality of the packs it sent."""

from __future__ import annotations

from dashboards import figures
from dashboards.figures import quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication
from dashboards.views.common import (
    all_periods,
    count,
    funnels,
    indicator_file,
    indicator_link,
    link,
    lookup,
    page_exports,
    quarter_rates,
    quarters_to_choose,
    rate,
    rate_cells,
    records,
    series,
    spc,
    spc_rows,
    submission,
    submission_cells,
    text,
)
from dashboards.views.contexts import la_contexts


def la_view(pub: Publication, code: str, name: str, partnership: str) -> dict:
    return {"code": code, "name": name, "partnership": partnership, "latest": quarter_label(pub.periods[-1]),
            "rates": rates(pub, code, name, partnership, pub.periods[-1]),
            "earlier_rates": [found for period in quarters_to_choose(pub)[1:]
                              if (found := rates(pub, code, name, partnership, period))],
            "trends": trends(pub, code),
            "quarter_count": len(pub.periods), "packs": packs(pub, code), "breaches": breaches(pub, code),
            "contexts": la_contexts(pub, code),
            **page_exports(pub, "indicator_rates", "funnel_flags", "spc_signals", "scores", "context_networks",
                           "submissions", "quarantine_rules")}


def rates(pub: Publication, code: str, name: str, partnership: str, period: str) -> dict | None:
    """The LA's rate for each indicator in one quarter beside the partnership's (None: no pack
    that quarter). The page shows the latest and lets the reader choose an earlier quarter."""
    fw = pub.framework
    ids = [i.id for i in fw.indicators]
    quarter = quarter_rates(pub, period)
    frame = figures.la_comparison({i: quarter[(code, i)] for i in ids if (code, i) in quarter},
                                  {i: quarter[(PARTNERSHIP_CODE, i)] for i in ids if (PARTNERSHIP_CODE, i) in quarter},
                                  ids, funnels(pub, period))
    if not frame:
        return None
    rows = [[indicator_link(fw.indicator(row["indicator_id"]))] + rate_cells(row)
            + [rate(row["total_rate"], row["total_rate_suppressed"]), text(row["position"] or "not plotted")]
            for row in frame]
    labels = {i.id: f"{i.id} {i.title}" for i in fw.indicators}
    directions = {i.id: i.direction for i in fw.indicators}
    return {"quarter": quarter_label(period), "period": period,
            "figure": figures.la_rates_figure(frame, labels, name, partnership, directions), "rows": rows,
            "not_plotted": sum(1 for row in frame if row["rate_suppressed"] or not row["denominator"] > 0),
            "better": flagged(frame, fw, "better"), "worse": flagged(frame, fw, "worse")}


def flagged(frame: list[dict], fw, verdict: str) -> list[dict]:
    """The indicators whose funnel flag is good news ('better') or a concern ('worse'), each with
    the link to its page."""
    return [{"id": row["indicator_id"], "href": indicator_file(row["indicator_id"])} for row in frame
            if figures.flag_verdict(int(row["flag"]), fw.indicator(row["indicator_id"]).direction) == verdict]


def trends(pub: Publication, code: str) -> dict | None:
    """Small p-charts, one per indicator (None: no quarter's rate can be shown for any)."""
    panels, rows, signals, skipped = [], [], [], 0
    for indicator in pub.framework.indicators:
        frame = spc(pub, indicator, code)
        skipped += len(series(pub, indicator.id, code)) - len(frame)
        panels.append((f"{indicator.id}: {indicator.title}", frame))  # wrapped to its column by the chart
        rows += [[link(indicator_file(indicator.id), indicator.id)] + cells for cells in spc_rows(frame)]
        signals += [{"id": indicator.id, "href": indicator_file(indicator.id), "quarter": quarter_label(r.period),
                     "signal": r.signal, "rules": r.rules}
                    for r in frame if r.signal]
    if not rows:
        return None
    return {"figure": figures.la_trends_figure(panels, pub.periods), "rows": rows, "panels": len(panels),
            "signals": signals, "skipped": skipped}


def packs(pub: Publication, code: str) -> list:
    """Per quarter: whether the LA's pack loaded, its cases and rows, and rows set aside."""
    return [[text(quarter_label(period))] + submission_cells(submission(pub, code, period), False)
            for period in all_periods(pub)]


def breaches(pub: Publication, code: str) -> list:
    """Rows quarantined by quarter and rule."""
    mine = lookup(pub, "quarantine_rules", lambda: records(pub.quarantine_rules, "la_code")).get(code, [])
    return [[text(quarter_label(r["period"])), text(r["rule"].replace("_", " ")),
             count(r["breaches"], r["breaches_suppressed"])] for r in mine]
