"""The site's charts: first the numbers each chart plots (so a page can print the same numbers in
a table under the chart), then the plotly figures drawn from them, as plain JSON-ready dicts of
plotly's figure format: building plotly's figure objects made drawing the site at national scale
take most of a minute.

Only published numbers reach a chart: rows whose rate is suppressed, or whose denominator is zero,
are dropped before anything is plotted, so no suppressed count can travel inside a figure's JSON.
Every series is told apart by marker shape or line dash as well as colour (GOV.UK data
visualisation guidance), and local authorities keep alphabetical order: a chart never ranks them.
A figure may carry narrower layouts beside its own for phones and zoomed browsers (its "screens",
dashboards/screens.py); `embed` draws the one that fits the chart's box."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from functools import cache
from string import Template
from typing import NamedTuple

import numpy as np
import pandas as pd
import plotly.io as pio

from assets.config import load_yaml
from assets.statistics import funnel_flags, funnel_limits, p_chart
from dashboards.screens import MEDIUM_BOX, NARROW_BOX, WIDE_BOX, grid, labels_above, narrow_layout, with_screens, wrap

FONT = "Arial, Helvetica, sans-serif"
BLACK = "#0b0c0c"
GREY = "#505a5f"
# GOV.UK colours with good contrast against white, one per local authority in turn.
COLOURS = ("#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#b58840", "#28a197", "#d53880", "#6f72af",
           "#912b88", "#85994b")
SHAPES = ("circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "x", "star", "hexagon",
          "pentagon")
# SPC points: colour, shape and words all say the same thing, so none is needed alone. The orange is
# darker than GOV.UK's #f47738, which has 2.8:1 against white: a graphic needs 3:1 (WCAG 1.4.11).
SIGNAL_STYLES = {
    "": ("Common cause variation", GREY, "circle"),
    "improvement": ("Special cause: improvement", "#1d70b8", "diamond"),
    "concern": ("Special cause: concern", "#ca5800", "square"),
}
# Charts resize with their box (`responsive`). No mode bar: its zoom, pan and download buttons
# appear only under a mouse, cannot be reached from the keyboard and, on a phone, cover the legend
# at the top of the chart; every chart's numbers are in the table under it and in the open data.
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}


def quarter_label(period: str) -> str:
    """'2025Q3' as '2025 Q3'."""
    return f"{period[:4]} Q{period[-1]}"


def quarter_tick(period: str) -> str:
    """'2025Q3' over two lines, for the narrow axes of small multiples."""
    return f"Q{period[-1]}<br>{period[:4]}"


def percent(rate: float) -> str:
    return f"{100 * rate:.1f}%"


@cache
def funnel_levels() -> tuple[float, ...]:
    """The control limit coverages drawn on funnel plots (config/publication.yaml), narrowest first."""
    return tuple(sorted(float(level) for level in load_yaml("publication.yaml")["funnel"]["levels"]))


def level_label(level: float) -> str:
    return f"{100 * level:g}%"


def plotted(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of a rates table that may be drawn: rate published and something to divide by."""
    return rows[~rows["rate_suppressed"] & (rows["denominator"] > 0)]


# ---------------------------------------------------------------- numbers behind the charts


@dataclass
class Funnel:
    """One indicator's LAs in one quarter, around the partnership's pooled rate."""

    period: str
    target: float | None  # the partnership rate; None when it is suppressed or nothing applies
    points: pd.DataFrame  # plotted LAs (by name): counts, rate, limits at their n, position
    suppressed: list[str]  # names of LAs left out because their rate is suppressed
    no_cases: list[str]  # names of LAs left out because the indicator applied to none of their cases
    places: dict[str, tuple[int, str]] = field(default_factory=dict)  # la_code: (flag, position words)
    not_available: list[str] = field(default_factory=list)  # LAs whose packs did not send what it needs

    def curve(self) -> pd.DataFrame:
        """Control limits over a smooth range of denominators, for drawing the funnel."""
        top = int(max(self.points["denominator"].max() * 1.15, 20))
        # Every whole n while that is cheap, then a log-spaced grid: the limits interpolate smoothly.
        grid = np.arange(1, top + 1) if top <= 500 else np.unique(np.geomspace(1, top, 400).round())
        curve = pd.DataFrame({"n": grid})
        for level in funnel_levels():
            curve[f"lower_{level}"], curve[f"upper_{level}"] = funnel_limits(self.target, grid, level)
        return curve


def funnel_data(rows: pd.DataFrame, period: str) -> Funnel:
    """The funnel plot's numbers for one indicator and quarter, from its published rates (`rows`:
    the indicator's rows of that quarter, LAs and partnership)."""
    total = plotted(rows[rows["is_total"]])
    target = float(total["rate"].iloc[0]) if len(total) else None
    las = rows[~rows["is_total"]].sort_values(["la_name", "la_code"])
    points = plotted(las).copy()
    suppressed = las.loc[las["rate_suppressed"], "la_name"].tolist()
    missing = las["not_available"] if "not_available" in las else pd.Series(False, index=las.index)
    not_available = las.loc[missing, "la_name"].tolist()
    no_cases = las.loc[~las["rate_suppressed"] & (las["denominator"] == 0) & ~missing, "la_name"].tolist()
    places = {}
    if target is not None and len(points):
        widest = funnel_levels()[-1]
        for level in funnel_levels():
            points[f"lower_{level}"], points[f"upper_{level}"] = funnel_limits(
                target, points["denominator"].to_numpy(), level)
        flags = funnel_flags(points["numerator"].to_numpy(), points["denominator"].to_numpy(), target, widest)
        points["flag"] = flags
        points["position"] = [position_words(row, int(flag)) for row, flag in
                              zip(points.to_dict("records"), flags, strict=True)]
        places = {code: (int(flag), words) for code, flag, words in
                  zip(points["la_code"], points["flag"], points["position"], strict=True)}
    return Funnel(period, target, points, suppressed, no_cases, places, not_available)


def position_words(row: dict, flag: int) -> str:
    """Where a point lies against the funnel's limits, in words (flagged beyond the widest)."""
    narrow, wide = funnel_levels()[0], funnel_levels()[-1]
    if flag:
        return f"{'above' if flag > 0 else 'below'} the {level_label(wide)} limit: flagged"
    if row["rate"] > row[f"upper_{narrow}"] or row["rate"] < row[f"lower_{narrow}"]:
        return f"outside the {level_label(narrow)} limits, inside {level_label(wide)}"
    return f"inside the {level_label(narrow)} limits"


def la_comparison(la_rows: dict[str, dict], totals: dict[str, dict], indicator_ids: list[str],
                  funnels: dict[str, Funnel]) -> list[dict]:
    """One row per indicator (framework order) the LA has a rate for in the quarter: its published
    rate, the partnership's beside it (total_*), and where the LA sits in that indicator's funnel
    plot (flag, position). `la_rows` and `totals`: the quarter's rows by indicator."""
    frame = []
    for indicator_id in indicator_ids:
        row = la_rows.get(indicator_id)
        if row is None:
            continue
        total = totals.get(indicator_id, {})
        flag, words = funnels[indicator_id].places.get(row["la_code"], (0, ""))
        frame.append({**row, "total_rate": total.get("rate"),
                      "total_rate_suppressed": total.get("rate_suppressed", True),
                      "total_denominator": total.get("denominator", 0), "flag": flag, "position": words})
    return frame


class SpcPoint(NamedTuple):
    """One quarter of a p-chart."""

    period: str
    numerator: int
    denominator: int
    rate: float
    centre: float
    lower: float
    upper: float
    signal: str  # "improvement", "concern" or ""
    rules: str  # the special-cause rules the point triggers, in words


def spc_data(series: list[dict], direction: str) -> list[SpcPoint]:
    """A p-chart over one area's quarters for one indicator (`series`: its published rows).
    Quarters whose rate is suppressed or has no denominator are left out (so they take no part in
    the rules either)."""
    kept = sorted((row for row in series if not row["rate_suppressed"] and row["denominator"] > 0),
                  key=lambda row: row["period"])
    if not kept:
        return []
    result = p_chart(np.array([row["numerator"] for row in kept], dtype=float),
                     np.array([row["denominator"] for row in kept], dtype=float), direction)
    lower, upper = np.broadcast_to(result.lower, len(kept)), np.broadcast_to(result.upper, len(kept))
    return [SpcPoint(row["period"], int(row["numerator"]), int(row["denominator"]), float(row["rate"]),
                     float(result.centre), float(lower[i]), float(upper[i]), result.signal[i],
                     ", ".join(result.rules(i))) for i, row in enumerate(kept)]


# ---------------------------------------------------------------- figures


def figure(data: list[dict], height: int, **layout) -> dict:
    """A plotly figure in the house style: plain white, Arial, legend under the chart."""
    return {"data": data, "layout": {
        "height": height, "font": {"family": FONT, "size": 14, "color": BLACK},
        "margin": {"l": 70, "r": 30, "t": 30, "b": 60}, "hoverlabel": {"font": {"family": FONT}},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0}, **layout}}


def scatter(**properties) -> dict:
    return {"type": "scatter", **properties}


def numbers(values) -> list:
    """Plain floats for JSON (numpy scalars and arrays are not)."""
    return [None if value is None or pd.isna(value) else float(value) for value in values]


def scores_figure(scores: pd.DataFrame, panels: list[tuple[str, str]], areas: list[tuple[str, str]],
                  periods: list[str]) -> dict:
    """Small multiples, one panel per score (practice first), one line per area over quarters, on
    one scale: side by side on a wide screen, three across on a medium one, one above another on a
    phone.

    `panels`: (domain code, title); `areas`: (la_code, name), the partnership last. Suppressed
    scores are gaps in the line."""
    lookup = score_lookup(scores)
    x, data = list(range(len(periods))), []
    for number, (code, name) in enumerate(areas):
        partnership = number == len(areas) - 1
        style = ({"color": BLACK, "dash": "dash", "width": 3} if partnership
                 else {"color": COLOURS[number % len(COLOURS)], "width": 2})
        symbol = "x-thin-open" if partnership else SHAPES[number % len(SHAPES)]
        for column, (domain, _) in enumerate(panels):
            suffix = "" if column == 0 else str(column + 1)
            y = [published_score(lookup, code, domain, period) for period in periods]
            data.append(scatter(
                x=x, y=y, name=wrap(name, 28), legendgroup=code, showlegend=column == 0, mode="lines+markers",
                line=style, marker={"symbol": symbol, "size": 9, "line": {"width": 2, "color": style["color"]}},
                hovertext=[f"{name}, {quarter_label(p)}: {v:.2f}" if v is not None else ""
                           for p, v in zip(periods, y, strict=True)],
                hoverinfo="text", connectgaps=False, xaxis=f"x{suffix}", yaxis=f"y{suffix}"))
    titles, names = [title for _, title in panels], [wrap(name, 28) for _, name in areas]

    def layout(columns: int, box: int, panel: int) -> dict:
        result, domains = grid(titles, columns, box, panel, below=36, legend=names, title_size=15,
                               gap=16 if columns == len(titles) else 40, side=(64, 16))
        for number, (x_domain, y_domain) in enumerate(domains):
            suffix = "" if number == 0 else str(number + 1)
            first = number % columns == 0
            result[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": x_domain,
                                        **quarter_axis(periods, narrow=True)}
            result[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": y_domain, "range": [0, 1.02],
                                        "dtick": 0.2, "showgrid": True, "gridcolor": "#e5e6e7",
                                        **({"title": {"text": "Score (0 to 1)"}} if first else
                                           {"showticklabels": False})}
        return {**figure([], 0)["layout"], **result}

    return with_screens({"data": data, "layout": layout(len(titles), WIDE_BOX, 280)},
                        layout(3, MEDIUM_BOX, 200), layout(1, NARROW_BOX, 170))


def score_lookup(scores: pd.DataFrame) -> dict[tuple[str, str, str], tuple[float, bool]]:
    """(la_code, domain, period) to (score, suppressed), for cheap look-ups cell by cell."""
    return {(code, domain, period): (value, bool(suppressed)) for code, domain, period, value, suppressed in zip(
        scores["la_code"], scores["domain"], scores["period"], scores["score"], scores["score_suppressed"],
        strict=True)}


def published_score(lookup: dict, code: str, domain: str, period: str) -> float | None:
    """A score to plot, or None (a gap) when it is suppressed or missing."""
    value, suppressed = lookup.get((code, domain, period), (None, True))
    return None if suppressed or pd.isna(value) else round(float(value), 4)


def flag_verdict(flag: int, direction: str) -> str | None:
    """A funnel flag as good or bad news: 'better' above the limit where higher is better (or below
    it where lower is), 'worse' the other way; None when not flagged. The one place this is decided."""
    if not flag:
        return None
    return "better" if (flag > 0) == (direction == "higher") else "worse"


@cache
def flag_styles() -> dict[str, dict]:
    """How each verdict is drawn and said (config/publication.yaml funnel.flags)."""
    return load_yaml("publication.yaml")["funnel"]["flags"]


def funnel_figure(funnel: Funnel, label_all: bool, many: str = "cases", direction: str = "higher") -> dict:
    """LAs' rates against their denominators inside the partnership's control limits. Points
    outside the widest limits get a distinct shape and a label; with few LAs every point is named."""
    data = []
    curve = funnel.curve()
    dashes = ("dash", "dot", "dashdot")
    for number, level in enumerate(funnel_levels()):
        for side in ("upper", "lower"):
            data.append(scatter(
                x=numbers(curve["n"]), y=numbers(100 * curve[f"{side}_{level}"]), mode="lines",
                name=f"{level_label(level)} limits", legendgroup=str(level), showlegend=side == "upper",
                hoverinfo="skip", line={"color": GREY, "dash": dashes[number % len(dashes)], "width": 1.5}))
    data.append(scatter(
        x=[1, float(curve["n"].max())], y=[100 * funnel.target] * 2, mode="lines", hoverinfo="skip",
        name=f"Partnership rate {percent(funnel.target)}", line={"color": BLACK, "width": 2}))
    points = funnel.points
    verdicts = [flag_verdict(int(flag), direction) for flag in points["flag"]]
    styles = flag_styles()
    groups = [(None, "Local authority", "circle", "#1d70b8")] + [
        (verdict, wrap(f"Outside the widest limits: {styles[verdict]['words']}", 28), styles[verdict]["symbol"],
         styles[verdict]["colour"]) for verdict in ("better", "worse")]
    for verdict, name, symbol, colour in groups:
        chosen = points[[v == verdict for v in verdicts]]
        if chosen.empty:
            continue
        chosen = chosen.sort_values("denominator")
        flagged = verdict is not None
        # Columns as lists, not itertuples: a national funnel has ~150 rows of many columns.
        names, rates, sizes = (chosen[c].tolist() for c in ("la_name", "rate", "denominator"))
        labels = [f"{la} ({styles[verdict]['label']})" if flagged else la for la in names]
        # Neighbouring labels alternate above and below their points so they do not overprint; a
        # point in the right third of the chart is labelled to its left, so the label stays inside.
        right = float(curve["n"].max()) * 2 / 3
        places = [("top " if number % 2 == 0 else "bottom ") + ("left" if n > right else "center")
                  for number, n in enumerate(chosen["denominator"])]
        data.append(scatter(
            x=numbers(chosen["denominator"]), y=numbers(100 * chosen["rate"]), name=name,
            mode="markers+text" if flagged or label_all else "markers",
            text=labels, textposition=places, textfont={"size": 13},
            marker={"symbol": symbol, "size": 14 if flagged else 11, "color": colour,
                    "line": {"width": 1.5, "color": BLACK}},
            hovertext=[f"{la}<br>{percent(r)} (n = {int(n)})" for la, r, n in zip(names, rates, sizes, strict=True)],
            hoverinfo="text"))
    spec = figure(data, 480, xaxis={"title": {"text": f"{many.capitalize()} the indicator applies to (denominator)"},
                                    "rangemode": "tozero"},
                  yaxis={"title": {"text": "Rate (%)"}, "range": [0, 105], "ticksuffix": "%"})
    return with_screens(spec, None, narrow_layout(spec))


def quarter_axis(periods: list[str], narrow: bool = False) -> dict:
    """An x axis with one slot per quarter, so a quarter left out of a series stays a visible gap;
    with many quarters only every few are labelled."""
    step = max(1, -(-len(periods) // 8))
    ticks = list(range(0, len(periods), step))
    label = quarter_tick if narrow else quarter_label
    return {"tickvals": ticks, "ticktext": [label(periods[i]) for i in ticks], "tickangle": 0,
            "range": [-0.5, len(periods) - 0.5], "tickfont": {"size": 11 if narrow else 14}, "zeroline": False}


def spc_traces(points: list[SpcPoint], periods: list[str], label_signals: bool, show_legend: bool) -> list[dict]:
    """The traces of one p-chart: mean, process limits, the rate line and its points by signal.
    x is the quarter's position in `periods`."""
    slot = {period: number for number, period in enumerate(periods)}
    x = [slot[p.period] for p in points]
    traces = [
        scatter(x=x, y=[100 * p.upper for p in points], name="Process limits", legendgroup="limits", mode="lines",
                line={"color": GREY, "dash": "dot", "shape": "hvh"}, showlegend=show_legend, hoverinfo="skip"),
        scatter(x=x, y=[100 * p.lower for p in points], name="Process limits", legendgroup="limits", mode="lines",
                line={"color": GREY, "dash": "dot", "shape": "hvh"}, showlegend=False, hoverinfo="skip"),
        scatter(x=x, y=[100 * points[0].centre] * len(x), name="Mean", legendgroup="mean",
                mode="lines", line={"color": BLACK, "dash": "dash"}, showlegend=show_legend, hoverinfo="skip"),
        scatter(x=x, y=[100 * p.rate for p in points], name="Rate", legendgroup="rate", mode="lines",
                line={"color": GREY, "width": 1.5}, showlegend=False, hoverinfo="skip"),
    ]
    for signal, (name, colour, symbol) in SIGNAL_STYLES.items():
        chosen = [p for p in points if p.signal == signal]
        if not chosen:
            continue
        traces.append(scatter(
            x=[slot[p.period] for p in chosen], y=[100 * p.rate for p in chosen], name=name,
            legendgroup=f"signal-{signal}", showlegend=show_legend,
            mode="markers+text" if label_signals and signal else "markers",
            text=[signal] * len(chosen), textposition="top center", textfont={"size": 13},
            marker={"symbol": symbol, "size": 12 if signal else 9, "color": colour,
                    "line": {"width": 1, "color": BLACK}},
            hovertext=[f"{quarter_label(p.period)}: {percent(p.rate)} (n = {p.denominator})"
                       + (f"<br>{p.signal}: {p.rules}" if p.signal else "") for p in chosen],
            hoverinfo="text"))
    return traces


def spc_figure(points: list[SpcPoint], periods: list[str]) -> dict:
    """A p-chart with each special-cause point labelled improvement or concern."""
    spec = figure(spc_traces(points, periods, label_signals=True, show_legend=True), 420,
                  xaxis={"title": {"text": "Quarter"}, **quarter_axis(periods)},
                  yaxis={"title": {"text": "Rate (%)"}, "range": [0, 105], "ticksuffix": "%"})
    # On a phone the quarters' labels go over two lines, or eight of them would overprint.
    narrow = narrow_layout(spec)
    return with_screens(spec, None, {**narrow, "xaxis": {**narrow["xaxis"], **quarter_axis(periods, narrow=True)}})


def la_rates_figure(frame: list[dict], labels: dict[str, str], la_name: str, partnership: str,
                    directions: dict[str, str] | None = None) -> dict:
    """A dot chart, one row per indicator in framework order (`labels`: id to row label): the LA's
    rate with its 95% interval (circles) beside the partnership's rate (open diamonds); a row the LA
    has no published rate for says [c] or [z]. `frame` comes from la_comparison. With the
    indicators' `directions` (id to "higher" or "lower"), a rate outside its funnel plot's widest
    limits is drawn as the funnel plot draws it: the flag's own shape, colour and words."""
    la = [row for row in frame if not row["rate_suppressed"] and row["denominator"] > 0]
    total = [row for row in frame if not row["total_rate_suppressed"] and row["total_denominator"] > 0]
    hidden = [row for row in frame if row["rate_suppressed"] or not row["denominator"] > 0]
    styles = flag_styles()

    def verdict(row: dict) -> str | None:
        return flag_verdict(int(row["flag"]), directions[row["indicator_id"]]) if directions else None

    data = []
    for flag in (None, "better", "worse"):
        mine = [row for row in la if verdict(row) == flag]
        if not mine and flag:
            continue
        symbol, colour = (styles[flag]["symbol"], styles[flag]["colour"]) if flag else ("circle", "#1d70b8")
        data.append(scatter(
            x=[100 * row["rate"] for row in mine], y=[labels[row["indicator_id"]] for row in mine],
            name=wrap(f"{la_name}: outside the widest limits, {styles[flag]['words']}" if flag else la_name, 28),
            mode="markers", marker={"symbol": symbol, "size": 13 if flag else 11, "color": colour,
                                    "line": {"width": 1, "color": BLACK}},
            error_x={"type": "data", "symmetric": False, "color": colour, "thickness": 1.5,
                     "array": [100 * (row["ci_high"] - row["rate"]) for row in mine],
                     "arrayminus": [100 * (row["rate"] - row["ci_low"]) for row in mine]},
            hovertext=[f"{row['indicator_id']} {la_name}: {percent(row['rate'])} (n = {int(row['denominator'])})"
                       + (f"<br>{row['position']}" if row["position"] else "") for row in mine], hoverinfo="text"))
    data += [
        scatter(x=[100 * row["total_rate"] for row in total], y=[labels[row["indicator_id"]] for row in total],
                name=partnership, mode="markers",
                marker={"symbol": "diamond-open", "size": 12, "color": BLACK, "line": {"width": 2}},
                hovertext=[f"{row['indicator_id']} {partnership}: {percent(row['total_rate'])}" for row in total],
                hoverinfo="text"),
        scatter(x=[0] * len(hidden), y=[labels[row["indicator_id"]] for row in hidden], mode="text",
                showlegend=False, hoverinfo="skip",
                text=["[c]" if row["rate_suppressed"] else "[z]" for row in hidden],
                textposition="middle right", textfont={"color": GREY, "size": 13}),
    ]
    rows = [labels[row["indicator_id"]] for row in frame]
    spec = figure(data, 160 + 30 * len(rows),
                  yaxis={"type": "category", "categoryorder": "array", "categoryarray": rows[::-1],
                         "automargin": True, "showgrid": True, "gridcolor": "#e5e6e7",
                         "range": [-0.7, len(rows) - 0.3], "tickfont": {"size": 13}},
                  xaxis={"title": {"text": "Rate (%)"}, "range": [-3, 103], "ticksuffix": "%"})
    # On a phone the indicators' names go above their rows, across the chart, not beside it.
    return with_screens(spec, None, labels_above(narrow_layout(spec, beside=20), rows))


def la_trends_figure(panels: list[tuple[str, list[SpcPoint]]], periods: list[str]) -> dict:
    """Small multiples of p-charts, one per indicator (title, points): three across on a wide
    screen, two on a medium one, one above another on a phone."""
    data, legend_done, names = [], set(), []
    for number, (_, frame) in enumerate(panels):
        suffix = "" if number == 0 else str(number + 1)
        for trace in spc_traces(frame, periods, label_signals=False, show_legend=True) if frame else []:
            # One legend entry per kind of line or point across the whole grid.
            trace["showlegend"] = trace["showlegend"] and trace["legendgroup"] not in legend_done
            legend_done.add(trace["legendgroup"])
            names += [trace["name"]] if trace["showlegend"] else []
            data.append({**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
    titles = [title for title, _ in panels]

    def layout(columns: int, box: int) -> dict:
        result, domains = grid(titles, columns, box, panel=130, below=50, legend=names, gap=56, side=(48, 16))
        for number, ((x_domain, y_domain), (_, frame)) in enumerate(zip(domains, panels, strict=True)):
            suffix = "" if number == 0 else str(number + 1)
            result[f"xaxis{suffix}"] = {"domain": x_domain, "anchor": f"y{suffix}",
                                        **quarter_axis(periods, narrow=True)}
            result[f"yaxis{suffix}"] = {"domain": y_domain, "anchor": f"x{suffix}", "range": [0, 105],
                                        "ticksuffix": "%", "tickfont": {"size": 11}, "dtick": 25}
            if not frame:
                # An empty panel would otherwise be a blank space with no explanation.
                result["annotations"].append({
                    "text": "No rate can be shown<br>([c] or [z] every quarter)", "showarrow": False,
                    "xref": "paper", "yref": "paper", "x": sum(x_domain) / 2, "y": sum(y_domain) / 2,
                    "xanchor": "center", "yanchor": "middle", "font": {"size": 12, "color": GREY}})
        return {**figure([], 0)["layout"], **result}

    return with_screens({"data": data, "layout": layout(3, WIDE_BOX)}, layout(2, MEDIUM_BOX),
                        layout(1, NARROW_BOX))


@cache
def house_template() -> dict:
    """plotly's plain "simple_white" look (white background, axis lines, no grid), layout part only."""
    return {"layout": json.loads(pio.to_json(pio.templates["simple_white"].layout, validate=False))}


# The layout argument of a chart with screens (dashboards/screens.py): the template, then the first
# screen's layout whose minimum width the chart's box reaches; a resize that crosses a minimum
# draws the chart again in the layout that now fits. Layouts are copied before plotly is given
# them, since it writes into the layout it draws.
PICK_SCREEN = Template('{"template": $template, ...(function (chart, screens) { '
               'function fits() { return screens.find(function (screen) { return chart.clientWidth >= screen[0]; }); } '
               'function copy(layout) { return JSON.parse(JSON.stringify(layout)); } '
               'var shown = fits(); '
               'window.addEventListener("resize", function () { var now = fits(); if (now !== shown) { shown = now; '
               'Plotly.react(chart, chart.data, Object.assign({"template": chart.layout.template}, copy(now[1]))); '
               '} }); '
               'return copy(shown[1]); })(document.getElementById($target), $screens)}')


def embed(spec: dict, div_id: str) -> str:
    """The chart's div and the call that draws it, using the plotly.js loaded by the page; a figure
    with screens is drawn in the layout that fits its box."""
    # The house template is attached here, once per chart, rather than kept in each figure.
    template, target = script_json(house_template()), script_json(div_id)
    if spec.get("screens"):
        screens = script_json([[width, layout] for width, layout in spec["screens"]])
        layout = PICK_SCREEN.substitute(template=template, target=target, screens=screens)
    else:
        layout = script_json({**spec["layout"], "template": house_template()})
    data, config = script_json(spec["data"]), script_json(PLOT_CONFIG)
    return (f'<div id="{html.escape(div_id, quote=True)}" class="chart"></div>\n'
            f'<script>Plotly.newPlot({target}, {data}, {layout}, {config});</script>')


def script_json(value) -> str:
    """`value` as JSON that is safe inside a <script> element: "</script>" or "<!--" in a title
    would end the script or change how the page is parsed, so <, > and & are written as the
    \\u escapes JSON allows (JavaScript reads them back as the same characters)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
