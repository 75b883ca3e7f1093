"""One page per indicator: the local authorities' funnel plot in the latest quarter, the
partnership's SPC chart over quarters, every published number, and the definition."""

from __future__ import annotations

from assets.framework import names_in
from assets.scoring import Framework, Indicator
from dashboards import figures
from dashboards.figures import funnel_levels, level_label, percent, quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication
from dashboards.views.common import (
    area_cell,
    definition,
    funnels,
    la_file,
    las_by_name,
    number,
    page_exports,
    quarter_rates,
    quarters_to_choose,
    rate_cells,
    series,
    spc,
    spc_rows,
    text,
)

LABEL_ALL_LAS = 10  # name every point on a funnel plot when there are at most this many LAs


def indicator_view(pub: Publication, indicator: Indicator, partnership: str) -> dict:
    domain = pub.framework.domains[indicator.domain]["title"]
    noun = pub.framework.units[indicator.unit].noun
    view = {"indicator": {"id": indicator.id, "title": indicator.title, "question": indicator.question,
                          "direction": indicator.direction, "informational": indicator.informational,
                          "domain": domain, "one": noun[0], "many": noun[1]},
            "definition": definition(pub.framework, indicator) | {"names": rule_names(pub.framework, indicator)},
            "latest": None,
            **page_exports(pub, "funnel_flags", "spc_signals", "indicator_rates", "indicators")}
    if pub.periods:
        view |= {"latest": quarter_label(pub.periods[-1]),
                 "funnels": [funnel(pub, indicator, partnership, period) for period in quarters_to_choose(pub)],
                 "trend": trend(pub, indicator), "history": history(pub, indicator, partnership)}
    return view


def rule_names(fw: Framework, indicator: Indicator) -> list[dict]:
    """The flags and tallies the indicator's rules use, each with its own rule, for the page's
    technical detail (docs/indicators.md lists them all)."""
    rules = " ".join(rule for rule in (indicator.applicable, indicator.value, indicator.met) if rule)
    sources = fw.units[indicator.unit].sources
    names = []
    for name in names_in(rules, {**fw.flags, **fw.tallies}):
        if name in fw.flags:
            names.append({"name": name, "kind": "true where", "rule": fw.flags[name], "over": ""})
            continue
        tally = fw.tallies[name]
        counted = f"distinct {tally['count_distinct']} of" if tally.get("count_distinct") else "rows of"
        dated = sources.get(tally["from"]) and tally.get("window") != "all"
        names.append({"name": name, "kind": f"the number of {counted} {tally['from']} where",
                      "rule": tally["count_where"], "over": ", dated in the period" if dated else ", any date"})
    return names


def funnel(pub: Publication, indicator: Indicator, partnership: str, period: str) -> dict:
    """One quarter's funnel plot: the figure (None when there is nothing to draw), the LAs left out
    of it and why, and the table of what it plots. The page shows the latest quarter's and lets the
    reader choose an earlier one."""
    found = funnels(pub, period)[indicator.id]
    noun = pub.framework.units[indicator.unit].noun
    levels = funnel_levels()
    view = {"period": period, "quarter": quarter_label(period),
            "narrow": level_label(levels[0]), "wide": level_label(levels[-1]),
            "levels": [level_label(level) for level in levels], "has_target": found.target is not None,
            "plotted": len(found.points), "suppressed": linked(pub, found.suppressed),
            "no_cases": linked(pub, found.no_cases), "not_available": linked(pub, found.not_available),
            "figure": None}
    if found.target is None or found.points.empty:
        return view
    flagged = found.points[found.points["flag"] != 0]
    return view | {
        "figure": figures.funnel_figure(found, label_all=len(found.points) <= LABEL_ALL_LAS, many=noun[1],
                                        direction=indicator.direction),
        "target": percent(found.target),
        "flagged": [{"name": name, "href": la_file(code), "position": position.removesuffix(": flagged"),
                     "verdict": figures.flag_styles()[figures.flag_verdict(int(flag), indicator.direction)]["words"]}
                    for code, name, position, flag in zip(flagged["la_code"], flagged["la_name"], flagged["position"],
                                                          flagged["flag"], strict=True)],
        "rows": funnel_rows(pub, indicator.id, found, partnership),
    }


def linked(pub: Publication, names: list[str]) -> list[dict]:
    """LAs named in a caption, each with the link to its page."""
    codes = {name: code for code, name in las_by_name(pub)}
    return [{"name": name, "href": la_file(codes[name])} for name in names]


def funnel_rows(pub: Publication, indicator_id: str, found: figures.Funnel, partnership: str) -> list:
    """Every LA (alphabetical) with the numbers the funnel plot draws, and the partnership last."""
    rows = quarter_rates(pub, found.period)
    points = {row["la_code"]: row for row in found.points.to_dict("records")}
    levels = funnel_levels()
    body = []
    for code, name in las_by_name(pub):
        mine = rows.get((code, indicator_id))
        if mine is None:
            continue
        cells = [area_cell(code, name)] + rate_cells(mine)
        if code in points:
            point = points[code]
            cells += [number(f"{percent(point[f'lower_{level}'])} to {percent(point[f'upper_{level}'])}")
                      for level in levels] + [text(point["position"])]
        else:
            cells += [number("[z]")] * len(levels) + [text("not plotted")]
        body.append(cells)
    total = rows[(PARTNERSHIP_CODE, indicator_id)]
    body.append([text(partnership)] + rate_cells(total) + [number("[z]")] * len(levels) + [text("centre line")])
    return body


def trend(pub: Publication, indicator: Indicator) -> dict:
    """The partnership's p-chart over the quarters (figure None when no quarter can be shown)."""
    points = spc(pub, indicator, None)
    if not points:
        return {"figure": None}
    last = points[-1]
    return {"figure": figures.spc_figure(points, pub.periods), "rows": spc_rows(points), "plotted": len(points),
            "skipped": len(pub.periods) - len(points), "mean": percent(last.centre),
            "last": {"quarter": quarter_label(last.period), "rate": percent(last.rate),
                     "signal": last.signal, "rules": last.rules},
            "signals": [{"quarter": quarter_label(r.period), "signal": r.signal} for r in points if r.signal]}


def history(pub: Publication, indicator: Indicator, partnership: str) -> list:
    """Every published number for the indicator, LAs alphabetically then the partnership."""
    rows = []
    for code, name in las_by_name(pub) + [(None, partnership)]:
        for row in series(pub, indicator.id, code):
            rows.append([area_cell(code, name), text(quarter_label(row["period"]))] + rate_cells(row))
    return rows
