"""The static dashboard site under <home>/site/: aggregates only, viewable offline.

Pages: index.html (partnership overview), indicator-<ID>.html, la-<code>.html, methods.html,
statutory.html and benchmarks.html, all built from the disclosure-controlled Publication
(dashboards/publication.py), never from case-level tables, by the templates in
dashboards/templates/ (see dashboards/pages.py). plotly.js and the style sheet are written beside
the pages once and every page loads them from there (never from a CDN), so the site opens from the
file system on a machine with no internet.
For a partnership of many LAs (a region, England) the pages are drawn by worker processes on every
core; the files are the same either way."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

from markupsafe import Markup
from plotly.offline import get_plotlyjs

from dashboards.pages import ENVIRONMENT, Page, la_pages, las_by_name, partnership_pages, returns_pages
from dashboards.publication import Publication, replace_folder

PLOTLY_JS = "plotly.min.js"
STYLESHEET = "site.css"
LEGEND = "[c] confidential, [z] not applicable, [x] not available"


def write_site(publication: Publication, site_dir: Path) -> list[Path]:
    """Write the site from the published (disclosure-controlled) tables; returns the pages written."""
    return [path for path in replace_folder(site_dir, lambda folder: render_site(publication, folder))
            if path.suffix == ".html"]


def render_site(publication: Publication, folder: Path) -> list[str]:
    """Write plotly.js, the style sheet and every page into `folder`; returns the pages' file names."""
    (folder / PLOTLY_JS).write_text(get_plotlyjs(), encoding="utf-8")
    (folder / STYLESHEET).write_text(resources.files("dashboards").joinpath("templates", STYLESHEET)
                                     .read_text(encoding="utf-8"), encoding="utf-8")
    names = []

    def write(pages: list[Page]) -> None:
        for page in pages:
            # File names are built from ids and codes (dashboards.views.common.file_part); one that
            # names another folder is refused rather than written there.
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
    write(returns_pages(publication))
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
    """A page in the shared layout (base.html): head, header navigation, title, symbols legend,
    the page's own content, footer."""
    # The content was written by an autoescaped template: it is markup already.
    return ENVIRONMENT.get_template("base.html").render(page=page, content=Markup(page.body), legend=LEGEND,
                                                        plotly_js=PLOTLY_JS, stylesheet=STYLESHEET)
