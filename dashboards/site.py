"""The static dashboard site under <home>/site/: aggregates only, viewable offline.

Pages: index.html (partnership overview), indicator-<ID>.html, la-<code>.html and methods.html,
all built from the disclosure-controlled Publication (dashboards/publication.py), never from
case-level tables. plotly.js is written beside the pages once and every page loads it from there
(never from a CDN), so the site opens from the file system on a machine with no internet.
For a partnership of many LAs (a region, England) the pages are drawn by worker processes on every
core; the files are the same either way."""

from __future__ import annotations

import html
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from plotly.offline import get_plotlyjs

from dashboards.pages import Page, la_pages, las_by_name, partnership_pages
from dashboards.publication import Publication, replace_folder
from dashboards.statutory_pages import benchmarks_page, statutory_page

PLOTLY_JS = "plotly.min.js"
LEGEND = "[c] confidential, [z] not applicable, [x] not available"
NAV = (("index.html", "Overview"), ("index.html#indicators", "Indicators"),
       ("index.html#local-authorities", "Local authorities"), ("statutory.html", "Statutory returns"),
       ("benchmarks.html", "Benchmarks"), ("methods.html", "Methods"))

STYLE = """
body { font-family: Arial, Helvetica, sans-serif; margin: 0; color: #0b0c0c; line-height: 1.45; font-size: 17px; }
a { color: #1d70b8; } a:visited { color: #4c2c92; } a:hover { color: #003078; }
a:focus { outline: 3px solid #ffdd00; background: #ffdd00; color: #0b0c0c; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 8px; top: 8px; padding: 4px; }
header { background: #0b0c0c; color: #fff; border-bottom: 8px solid #1d70b8; }
header .bar { max-width: 1100px; margin: 0 auto; padding: 12px 24px; display: flex; flex-wrap: wrap;
  align-items: baseline; gap: 8px 28px; }
header .service { font-weight: bold; font-size: 20px; }
header nav a, header nav a:visited { color: #fff; margin-right: 20px; font-weight: bold; text-decoration: none; }
header nav a:hover, header nav a[aria-current] { text-decoration: underline; text-underline-offset: 4px; }
main { max-width: 1100px; margin: 0 auto; padding: 8px 24px 40px; }
h1 { font-size: 36px; margin: 24px 0 12px; } h2 { font-size: 26px; margin: 40px 0 12px; }
h3 { font-size: 20px; margin: 28px 0 8px; } h4 { font-size: 18px; margin: 20px 0 4px; }
.lead { font-size: 20px; max-width: 46em; } p { max-width: 52em; }
.legend { background: #f3f2f1; padding: 8px 12px; border-left: 5px solid #b1b4b6; font-size: 15px; max-width: none; }
.notice { border-left: 5px solid #1d70b8; padding: 8px 12px; background: #f3f2f1; font-weight: bold; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 15px; }
th, td { border-bottom: 1px solid #b1b4b6; padding: 6px 12px 6px 0; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #0b0c0c; }
th[scope=row] { font-weight: normal; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
caption { text-align: left; font-weight: bold; padding: 4px 0 8px; font-size: 17px; }
figure.chart-figure { margin: 16px 0 32px; }
figcaption { margin-bottom: 8px; max-width: 52em; }
details { margin: 8px 0; } summary { color: #1d70b8; cursor: pointer; text-decoration: underline; }
dl.definition { display: grid; grid-template-columns: 10em 1fr; gap: 4px 16px; margin: 8px 0 16px; }
dl.definition dt { font-weight: bold; } dl.definition dd { margin: 0; }
code { font-family: Consolas, "Courier New", monospace; font-size: 15px; background: #f3f2f1; padding: 0 3px; }
ul.links { columns: 2; max-width: 60em; }
footer { border-top: 1px solid #b1b4b6; max-width: 1100px; margin: 0 auto; padding: 16px 24px; font-size: 15px;
  color: #505a5f; }
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - safeguarding audit</title>
<link rel="icon" href="data:,">
<style>{style}</style>
<script src="{plotly}"></script>
</head>
<body>
<a class="skip" href="#content">Skip to main content</a>
<header><div class="bar"><span class="service">Safeguarding audit</span>
<nav aria-label="Main">{nav}</nav></div></header>
<main id="content">
<h1>{title}</h1>
<p class="legend">Shorthand used in tables: {legend}. See <a href="methods.html#symbols">symbols</a>.</p>
{body}
</main>
<footer>Published totals only: nothing on this site describes one child. Figures come from local authorities'
quarterly case audit packs; small numbers are hidden as described in <a href="methods.html#disclosure">disclosure
control</a>.</footer>
</body>
</html>
"""


def write_site(publication: Publication, site_dir: Path) -> list[Path]:
    """Write the site from the published (disclosure-controlled) tables; returns the pages written."""
    return [path for path in replace_folder(site_dir, lambda folder: render_site(publication, folder))
            if path.suffix == ".html"]


def render_site(publication: Publication, folder: Path) -> list[str]:
    """Write plotly.js and every page into `folder`; returns the pages' file names."""
    (folder / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")
    names = []

    def write(pages: list[Page]) -> None:
        for page in pages:
            # File names are built from ids and codes (dashboards.pages.file_part); one that names
            # another folder is refused rather than written there.
            if Path(page.filename).name != page.filename or page.filename.startswith("."):
                raise ValueError(f"page file name {page.filename!r} is not a plain file name")
            (folder / page.filename).write_text(render_page(page), encoding="utf-8")
            names.append(page.filename)

    las = las_by_name(publication)
    workers = min(os.cpu_count() or 1, 4)
    if workers < 2 or len(las) < PARALLEL_LA_PAGES:
        write(partnership_pages(publication) + la_pages(publication, las))
    else:
        # Many LAs: the pages are drawn by worker processes, a few at a time so that the cores stay
        # evenly busy. Workers are spawned, not forked: this may run inside a process with threads.
        tasks = [None] + [las[start:start + 8] for start in range(0, len(las), 8)]
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=receive_publication, initargs=(publication,)) as pool:
            for pages in pool.map(draw_pages, tasks):
                write(pages)
    write([statutory_page(publication), benchmarks_page(publication)])
    return names


# From this many LAs, pages are drawn in parallel (below it, starting workers costs more).
PARALLEL_LA_PAGES = 24
_worker_publication: Publication | None = None


def receive_publication(publication: Publication) -> None:
    global _worker_publication
    _worker_publication = publication


def draw_pages(las: list[tuple[str, str]] | None) -> list[Page]:
    """In a worker: the partnership's pages (None), or these LAs' pages."""
    if las is None:
        return partnership_pages(_worker_publication)
    return la_pages(_worker_publication, las)


def render_page(page: Page) -> str:
    """A page in the shared layout: header navigation, title, symbols legend, body."""
    return PAGE.format(title=html.escape(page.title, quote=True), style=STYLE, plotly=PLOTLY_JS, nav=nav(page.filename),
                       legend=LEGEND, body=page.body)


def nav(current: str) -> str:
    """The same links on every page; the current page is marked for screen readers."""
    marks = {href: ' aria-current="page"' if href == current else "" for href, _ in NAV}
    return "".join(f'<a href="{href}"{marks[href]}>{label}</a>' for href, label in NAV)
