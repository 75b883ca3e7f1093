"""Charts laid out for the width they are drawn at: a phone held upright, a laptop's browser zoomed
to 200%, a wide monitor. plotly does not reflow a chart (its titles and labels never wrap, small
multiples keep their columns), so a figure may carry narrower layouts beside its own: "screens",
a list of (minimum width in CSS pixels, layout), widest first. figures.embed draws the first whose
minimum the chart's box reaches, when the page loads and again whenever a resize (a phone turned,
the browser zoomed) crosses a minimum. The data never changes with the screen: only where things
go, how big they are and where lines break.

Widths are of the chart's box, the page's main column: 1,052 px at most (site.css), 592 px in a
640 px window (a 1,280 px screen at 200% zoom: site.css narrows the gutters below 40em), 288 px
on the narrowest phone (320 px). Each layout is designed for the narrowest box it is used at."""

from __future__ import annotations

MEDIUM = 600  # a box this wide or wider gets the medium layout (a tablet, a laptop zoomed to 150%)
WIDE = 900  # ... and this wide or wider the full one
NARROW_BOX, MEDIUM_BOX, WIDE_BOX = 288, MEDIUM, WIDE  # the narrowest box each layout is drawn in
CHARACTER = 0.56  # an average Arial character's width, in ems
LINE = 1.3  # a line of text's height, in ems


def with_screens(spec: dict, medium: dict | None, narrow: dict) -> dict:
    """A figure with layouts for medium and narrow boxes beside its own (used from WIDE up)."""
    screens = [(WIDE, spec["layout"])] + ([(MEDIUM, medium)] if medium else []) + [(0, narrow)]
    return {**spec, "screens": screens}


def wrap(text: str, width: int) -> str:
    """`text` broken over lines of at most `width` characters where it has spaces (plotly never
    wraps), as plotly's <br>. Breaks already in the text are taken as spaces."""
    lines, line = [], ""
    for word in text.replace("<br>", " ").split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join(lines + [line])


def wrap_lines(text: str, width: int) -> str:
    """Each line of `text` (lines broken with <br>) wrapped to `width` characters on its own."""
    return "<br>".join(wrap(line, width) for line in text.split("<br>"))


def characters(pixels: float, size: float) -> int:
    """How many characters of a `size` px font fit in `pixels`, about."""
    return max(8, int(pixels / (CHARACTER * size)))


def lines(text: str) -> int:
    return text.count("<br>") + 1


def legend_height(names: list[str], box: float, size: float = 14) -> int:
    """The height of plotly's horizontal legend holding `names`, laid out in a `box` px wide: each
    entry (a 40 px sample of its line or marker, then its name, perhaps over lines) goes on the
    row it fits in, and a row is as tall as its tallest entry."""
    rows, used = [1], 0.0
    for name in names:
        entry = 46 + max(len(line) for line in name.split("<br>")) * CHARACTER * size
        if used and used + entry > box:
            rows.append(1)
            used = 0.0
        used += entry
        rows[-1] = max(rows[-1], lines(name))
    return int(sum(8 + LINE * size * height for height in rows))


def legend_names(data: list[dict]) -> list[str]:
    """The names a figure's legend shows, in order."""
    seen, names = set(), []
    for trace in data:
        name, group = trace.get("name"), trace.get("legendgroup", trace.get("name"))
        if name and trace.get("showlegend", True) and group not in seen:
            seen.add(group)
            names.append(name)
    return names


def narrow_layout(spec: dict, box: int = NARROW_BOX, size: int = 13, beside: int = 90, **changes) -> dict:
    """A figure's layout made for a narrow box: the legend above the plot (under it, a legend that
    wraps over several rows runs into the axis title), the side margins cut, the axis titles
    wrapped to the plot's width (the box less `beside` px of y axis labels), the chart taller by the
    legend's height; `changes` on top."""
    layout = spec["layout"]
    legend = layout.get("showlegend", True) is not False and legend_names(spec["data"])
    above = legend_height(legend, box, size) if legend else 0
    narrow = {**layout, "font": {**layout["font"], "size": size},
              "margin": {**layout["margin"], "l": 10, "r": 20, "t": max(layout["margin"]["t"], 20 + above)},
              "height": layout["height"] + above}
    if legend:
        narrow["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "y": 1,
                            "yanchor": "bottom", "font": {"size": size}}
    for axis in [key for key in layout if key.startswith(("xaxis", "yaxis"))]:
        narrow[axis] = {**layout[axis], "automargin": True}
        title = layout[axis].get("title", {}).get("text")
        if title:
            narrow[axis]["title"] = {**layout[axis]["title"], "text": wrap(title, characters(box - beside - 10, size))}
    return {**narrow, **changes}


def labels_above(layout: dict, categories: list[str], box: int = NARROW_BOX, size: int = 12,
                 row: int = 54) -> dict:
    """A dot chart's layout (one row per category on a y axis of type category) with each row's
    label written above its dots across the chart's width, rather than beside them: on a phone a
    long label beside the row would leave no room for the dots. Rows are `row` px apart."""
    width = characters(box - 20, size)
    annotations = [{"text": wrap(category, width), "showarrow": False, "xref": "paper", "x": 0, "xanchor": "left",
                    "yref": "y", "y": category, "yshift": 9, "yanchor": "bottom", "align": "left",
                    "font": {"size": size}} for category in categories]
    extra = row * len(categories) - (layout["height"] - layout["margin"]["t"] - layout["margin"]["b"])
    return {**layout, "height": layout["height"] + max(0, extra),
            "yaxis": {**layout["yaxis"], "showticklabels": False, "range": [-0.6, len(categories) - 0.2]},
            "annotations": [*layout.get("annotations", []), *annotations]}


def grid(titles: list[str], columns: int, box: int, panel: int, below: int, legend: list[str],
         title_size: int = 13, gap: int = 30, side: tuple[int, int] = (60, 20)) -> tuple[dict, list]:
    """Small multiples in rows of `columns`, as plotly's make_subplots lays them out but measured in
    pixels, so that each panel's title (wrapped to its column) and its x axis labels (`below` px)
    get the room they need: the layout's height, margins, legend (above the grid) and titles, and
    each panel's (x domain, y domain)."""
    columns = max(1, min(columns, len(titles)))
    left, right = side
    plot = max(box - left - right, 100)
    spacing = gap / plot if columns > 1 else 0
    width = (1 - spacing * (columns - 1)) / columns
    wrapped = [wrap(title, characters(width * plot, title_size)) for title in titles]
    rows = [wrapped[start:start + columns] for start in range(0, len(wrapped), columns)]
    heading = [int(max(lines(title) for title in row) * LINE * title_size) + 6 for row in rows]
    paper = sum(heading) + len(rows) * (panel + below)
    top = legend_height(legend, box) + 10 if legend else 10
    layout = {"height": top + paper + 20, "margin": {"l": left, "r": right, "t": top, "b": 20},
              "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom"},
              "annotations": []}
    domains, used = [], 0
    for number, title in enumerate(wrapped):
        row, column = divmod(number, columns)
        if column == 0 and row:
            used += heading[row - 1] + panel + below
        x = [column * (width + spacing), column * (width + spacing) + width]
        y_top = 1 - (used + heading[row]) / paper
        y = [max(0.0, y_top - panel / paper), y_top]
        domains.append((x, y))
        layout["annotations"].append({"text": title, "showarrow": False, "xref": "paper", "yref": "paper",
                                      "x": sum(x) / 2, "y": y_top, "xanchor": "center", "yanchor": "bottom",
                                      "font": {"size": title_size}})
    return layout, domains
