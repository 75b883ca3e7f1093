"""The statutory page's charts, as plain plotly figure dicts in the house style of
dashboards/figures.py: the EFH pathway as a funnel-shaped flow chart with the plans started split
by initial category of abuse beneath it, and each statutory indicator's rates as dots with their
Wilson intervals. Only published numbers are drawn: a suppressed count or rate never enters a
figure; its label says [c] instead."""

from __future__ import annotations

import pandas as pd

from dashboards.figures import BLACK, COLOURS, GREY, figure, numbers, percent
from dashboards.screens import narrow_layout, with_screens, wrap

SUPPRESSED = "[c]"


def pathway_figure(rows: pd.DataFrame) -> dict:
    """One area's pathway in one census year (`rows`: its published steps, in order): a funnel of
    the stages, each bar labelled with its count and share of the stage before, and a bar per
    category of the plans started."""
    stages = rows[rows["kind"] == "stage"].sort_values("position")
    split = rows[rows["kind"] == "category"].sort_values("position")

    def shown(frame: pd.DataFrame) -> tuple[list, list, list]:
        counts = [None if hidden else float(n) for n, hidden in zip(frame["count"], frame["count_suppressed"],
                                                                     strict=True)]
        labels = [f"{row.short} {SUPPRESSED}" if row.count_suppressed else row.short for row in frame.itertuples()]
        texts = ["" if row.count_suppressed else f"{int(row.count)}" + (
            "" if row.share_suppressed or pd.isna(row.share) else f" ({percent(row.share)})")
            for row in frame.itertuples()]
        return counts, labels, texts

    counts, labels, texts = shown(stages)
    data = [{"type": "funnel", "x": counts, "y": labels, "text": texts, "textinfo": "text",
             "textposition": "outside", "name": "Children at each stage", "hoverinfo": "y+text",
             "marker": {"color": COLOURS[0]}, "connector": {"line": {"color": GREY, "width": 1}},
             "xaxis": "x", "yaxis": "y", "cliponaxis": False}]
    counts, labels, texts = shown(split)
    data.append({"type": "bar", "orientation": "h", "x": counts, "y": labels, "text": texts,
                 "textposition": "outside", "name": "Plans started by initial category", "cliponaxis": False,
                 "marker": {"color": COLOURS[2]}, "xaxis": "x2", "yaxis": "y2", "hoverinfo": "y+text"})
    spec = figure(data, 520, showlegend=False, margin={"l": 10, "r": 60, "t": 30, "b": 40},
                  xaxis={"visible": False, "domain": [0, 1]},
                  yaxis={"domain": [0.42, 1], "autorange": "reversed", "automargin": True},
                  xaxis2={"anchor": "y2", "domain": [0, 0.8], "rangemode": "tozero",
                          "title": {"text": "Plans started, by initial category"}},
                  yaxis2={"domain": [0, 0.3], "anchor": "x2", "autorange": "reversed", "automargin": True})
    narrow = narrow_layout(spec, beside=130)
    return with_screens(spec, None, {**narrow, "margin": {**narrow["margin"], "r": 60}})


def indicator_figure(rows: pd.DataFrame) -> dict:
    """One statutory indicator in one census year: each area's rate as a dot with its 95% Wilson
    interval, areas in the order given (LAs by name, then the partnership)."""
    names = rows["la_name"].tolist()
    shown = rows[~rows["rate_suppressed"] & (rows["denominator"] > 0)]
    labels = {row.la_name: (f"{row.la_name} {SUPPRESSED}" if row.rate_suppressed else
                            f"{row.la_name} [z]" if row.denominator == 0 else row.la_name)
              for row in rows.itertuples()}
    # The areas with no dot keep their row, named with the reason, by a trace that draws nothing.
    unplotted = [labels[n] for n in names if n not in set(shown["la_name"])]
    data = [{"type": "scatter", "mode": "markers", "x": [None] * len(unplotted), "y": unplotted,
             "showlegend": False, "hoverinfo": "skip"}] if unplotted else []
    for is_total, name, symbol, colour in ((False, "Local authority", "circle", COLOURS[0]),
                                           (True, "Partnership", "diamond", BLACK)):
        mine = shown[shown["is_total"] == is_total]
        if mine.empty:
            continue
        data.append({"type": "scatter", "mode": "markers", "name": name,
                     "x": numbers(100 * mine["rate"]), "y": [labels[n] for n in mine["la_name"]],
                     "error_x": {"type": "data", "symmetric": False, "color": GREY, "thickness": 1.5,
                                 "array": numbers(100 * (mine["ci_high"] - mine["rate"])),
                                 "arrayminus": numbers(100 * (mine["rate"] - mine["ci_low"]))},
                     "marker": {"symbol": symbol, "size": 11, "color": colour, "line": {"width": 1, "color": BLACK}},
                     "hovertext": [f"{row.la_name}: {percent(row.rate)} ({int(row.numerator)} of "
                                   f"{int(row.denominator)}), 95% CI {percent(row.ci_low)} to {percent(row.ci_high)}"
                                   for row in mine.itertuples()], "hoverinfo": "text"})
    # No legend: the partnership is named on its row, and on a phone a legend overprints the chart.
    rows = [labels[n] for n in names]
    spec = figure(data, 120 + 36 * len(names), showlegend=False, margin={"l": 10, "r": 20, "t": 20, "b": 60},
                  xaxis={"title": {"text": "Share of children (95% CI)"},
                         "range": [0, 100], "ticksuffix": "%"},
                  yaxis={"categoryorder": "array", "categoryarray": rows, "autorange": "reversed", "automargin": True})
    # On a phone a long name (Bournemouth, Christchurch and Poole) goes over lines, leaving the dots room.
    narrow = narrow_layout(spec)
    return with_screens(spec, None, {**narrow, "yaxis": {**narrow["yaxis"], "tickmode": "array", "tickvals": rows,
                                                        "ticktext": [wrap(row, 16) for row in rows]}})
