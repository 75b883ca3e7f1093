"""The static dashboard site under <home>/site/: aggregates only, viewable offline.

plotly.js is copied beside the pages once (never fetched from a CDN), so the site opens from the
file system on a machine with no internet."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from assets.config import local_authorities
from assets.scoring import Framework, framework

PLOTLY_JS = "plotly.min.js"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - safeguarding audit</title>
<style>
body {{ font-family: Arial, Helvetica, sans-serif; margin: 0; color: #0b0c0c; line-height: 1.4; }}
header {{ background: #0b0c0c; color: #fff; padding: 12px 24px; }}
header a {{ color: #fff; margin-right: 16px; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 16px 24px; }}
table {{ border-collapse: collapse; margin: 8px 0 24px; font-size: 14px; }}
th, td {{ border-bottom: 1px solid #b1b4b6; padding: 4px 10px; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
caption {{ text-align: left; font-weight: bold; padding: 4px 0; }}
.figure {{ margin: 16px 0; }}
details {{ margin-bottom: 24px; }}
</style>
<script src="{plotly}"></script>
</head>
<body>
<header><strong>Safeguarding audit</strong> &nbsp; {nav}</header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def write_site(con: duckdb.DuckDBPyConnection, site_dir: Path, fw: Framework | None = None) -> list[Path]:
    """Write the site; returns the pages written."""
    fw = fw or framework()
    staging = site_dir.with_name(site_dir.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    (staging / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")
    pages = [write_index(con, staging, fw)]
    # Swap the finished site in whole, so a reader never sees half a site.
    if site_dir.exists():
        shutil.rmtree(site_dir)
    staging.rename(site_dir)
    return [site_dir / page.name for page in pages]


def render_page(title: str, body: str) -> str:
    nav = '<a href="index.html">Overview</a>'
    return PAGE.format(title=html.escape(title), body=body, nav=nav, plotly=PLOTLY_JS)


def figure_html(figure: go.Figure, div_id: str, description: str) -> str:
    """A chart with its text alternative; plotly.js comes from the shared file, not the page."""
    figure.update_layout(template="simple_white", margin={"l": 60, "r": 20, "t": 40, "b": 60},
                         font={"family": "Arial, Helvetica, sans-serif"})
    chart = figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                           config={"displaylogo": False, "responsive": True})
    return (f'<figure class="figure" role="group" aria-label="{html.escape(description)}">'
            f'{chart}<figcaption>{html.escape(description)}</figcaption></figure>')


def table_html(frame: pd.DataFrame, caption: str) -> str:
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = "".join(
            f'<td class="num">{html.escape(str(v))}</td>' if isinstance(v, int | float) else
            f"<td>{html.escape(str(v))}</td>" for v in row)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>" \
           f"<tbody>{''.join(rows)}</tbody></table>"


def write_index(con: duckdb.DuckDBPyConnection, site_dir: Path, fw: Framework) -> Path:
    scores = con.execute("""
        SELECT la_code, period, domain, score FROM pack_scores ORDER BY la_code, period, domain""").df()
    names = {code: la.name for code, la in local_authorities().items()}
    scores["la_name"] = scores["la_code"].map(names)
    practice = scores[scores["domain"] == "PRACTICE"]
    figure = go.Figure()
    markers = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon"]
    for number, (la_name, rows) in enumerate(practice.groupby("la_name", sort=True)):
        figure.add_trace(go.Scatter(x=rows["period"], y=rows["score"], mode="lines+markers", name=la_name,
                                    marker={"symbol": markers[number % len(markers)], "size": 9}))
    figure.update_layout(yaxis={"title": "Practice score (0 to 1)", "range": [0, 1]},
                         xaxis={"title": "Quarter", "type": "category"}, title="Practice score by quarter")
    description = ("Line chart of each local authority's practice score by quarter: the mean of its parent "
                   "inclusion, offender focus, context intervention and plan focus scores. The same figures "
                   "are in the table below.")
    wide = scores.pivot_table(index=["la_name", "period"], columns="domain", values="score").reset_index()
    wide = wide.rename(columns={"la_name": "Local authority", "period": "Quarter"}).round(3)
    domain_titles = {d: spec["title"] for d, spec in fw.domains.items()}
    wide = wide.rename(columns={**domain_titles, "PRACTICE": "Practice score"})
    body = (
        "<p>How far practice with children harmed outside the family treats parents as partners, targets "
        "offenders and changes the places and groups where harm happens. Scores run from 0 to 1; higher is "
        "closer to the Relational Safeguarding Model and Contextual Safeguarding.</p>"
        + figure_html(figure, "practice-score", description)
        + table_html(wide, "Domain and practice scores by local authority and quarter")
    )
    path = site_dir / "index.html"
    path.write_text(render_page("Partnership overview", body), encoding="utf-8")
    return path
