"""The benchmarks page's chart, as a plain plotly figure dict in the house style of
dashboards/figures.py: for each factor a row, the LA's rate per 10,000 children beside its region,
England (with England's funnel limits for the LA's child population) and the median of its
statistical neighbours, each neighbour a small grey dot. Only published rates are drawn; a factor
whose LA rate DfE withheld says [c] (or [x], [z]) at its row. The chart carries its year and its
sources, so a copy of it taken out of the page still says where it comes from."""

from __future__ import annotations

from dashboards.figures import BLACK, COLOURS, GREY, figure, scatter
from dashboards.screens import NARROW_BOX, characters, labels_above, lines, narrow_layout, with_screens, wrap_lines
from dashboards.screens import wrap as wrapped

# 3.3:1 against white, as a graphic needs (WCAG 1.4.11); lighter than the grey of the limits' bars.
NEIGHBOUR_GREY = "#898f92"


def plotted(points: list[tuple[str, float | None]]) -> tuple[list[str], list[float]]:
    """The (row, value) pairs that have a value, as plotly's y and x lists."""
    kept = [(row, round(float(value), 2)) for row, value in points if value is not None]
    return [row for row, _ in kept], [value for _, value in kept]


def benchmark_figure(rows: list[dict], la_name: str, region_name: str, footnote: str) -> dict:
    """A dot chart, one row per factor (`rows` in the page's order), from the page's own table rows:
    each has label, la_rate, region_rate, england_rate, neighbour_median, neighbour_rates (list),
    lower / upper (England's widest funnel limits at the LA's population), withheld (the symbol
    shown when the LA's rate is not published, else '')."""
    labels = [row["label"] for row in rows]

    def series(key: str) -> tuple[list[str], list[float]]:
        return plotted([(row["label"], row[key]) for row in rows])

    data = []
    y, x = plotted([(row["label"], value) for row in rows for value in row["neighbour_rates"]])
    data.append(scatter(x=x, y=y, name="Each statistical neighbour", mode="markers", hoverinfo="x",
                        marker={"symbol": "circle", "size": 7, "color": NEIGHBOUR_GREY}))
    with_limits = [row for row in rows if row["england_rate"] is not None and row["upper"] is not None]
    y, x = series("england_rate")
    data.append(scatter(
        x=x, y=y, name=wrapped("England, with 99.8% limits for this LA", 28), mode="markers",
        marker={"symbol": "diamond-open", "size": 13, "color": BLACK, "line": {"width": 2}},
        hovertemplate="England: %{x:.1f}<extra></extra>",
        error_x={"type": "data", "symmetric": False, "color": GREY, "thickness": 1.5,
                 "array": [round(r["upper"] - r["england_rate"], 2) if r in with_limits else 0 for r in rows
                           if r["england_rate"] is not None],
                 "arrayminus": [round(r["england_rate"] - r["lower"], 2) if r in with_limits else 0 for r in rows
                                if r["england_rate"] is not None]}))
    y, x = series("region_rate")
    data.append(scatter(x=x, y=y, name=wrapped(region_name, 28), mode="markers",
                        hovertemplate=f"{region_name}: %{{x:.1f}}<extra></extra>",
                        marker={"symbol": "square-open", "size": 11, "color": COLOURS[2], "line": {"width": 2}}))
    y, x = series("neighbour_median")
    data.append(scatter(x=x, y=y, name="Statistical neighbours' median", mode="markers",
                        hovertemplate="Neighbours' median: %{x:.1f}<extra></extra>",
                        marker={"symbol": "triangle-up", "size": 12, "color": COLOURS[1]}))
    y, x = series("la_rate")
    data.append(scatter(x=x, y=y, name=wrapped(la_name, 28), mode="markers",
                        hovertemplate=f"{la_name}: %{{x:.1f}}<extra></extra>",
                        marker={"symbol": "circle", "size": 13, "color": COLOURS[0],
                                "line": {"width": 1, "color": BLACK}}))
    result = figure(data, 340 + 40 * len(rows),
                    yaxis={"type": "category", "categoryorder": "array", "categoryarray": labels[::-1],
                           "automargin": True, "showgrid": True, "gridcolor": "#e5e6e7",
                           "range": [-0.7, len(rows) - 0.3], "tickfont": {"size": 13}},
                    xaxis={"title": {"text": "Assessment episodes with the factor per 10,000 children aged 0 to 17"},
                           "rangemode": "tozero", "automargin": True})
    # Legend above the plot, the dates and sources below it: both stay with the chart when copied.
    result["layout"]["legend"] = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0}
    result["layout"]["margin"] = {"l": 70, "r": 30, "t": 40, "b": 170}
    # A factor whose LA rate DfE withheld: its symbol at the right of the row, clear of the points.
    withheld = [{"text": f"{la_name}: {row['withheld']}", "showarrow": False, "xref": "paper", "x": 1,
                 "xanchor": "right", "yref": "y", "y": row["label"], "font": {"size": 13, "color": GREY},
                 "bgcolor": "#ffffff"} for row in rows if row["withheld"]]
    result["layout"]["annotations"] = [*withheld, note(footnote, 62)]
    # On a phone: the factors above their rows, the axis title and the sources wrapped, the sources
    # below however many lines the axis title takes.
    narrow = narrow_layout(result, beside=20)
    below = 40 + 20 * lines(narrow["xaxis"]["title"]["text"])
    sources = wrap_lines(footnote, characters(NARROW_BOX - 20, 11))
    bottom = below + 16 * lines(sources) + 10
    narrow.update(annotations=[*withheld, note(sources, below)], margin={**narrow["margin"], "b": bottom},
                  height=narrow["height"] + bottom - narrow["margin"]["b"])
    return with_screens(result, None, labels_above(narrow, labels))


def note(text: str, below: int) -> dict:
    """The chart's dates and sources, `below` px under the plot, in small grey type."""
    return {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0, "y": 0, "yshift": -below,
            "xanchor": "left", "yanchor": "top", "align": "left", "font": {"size": 11, "color": GREY}}
