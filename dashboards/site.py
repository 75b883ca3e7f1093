"""The static dashboard site under <home>/site/: aggregates only, viewable offline.

Pages: index.html (partnership overview), indicator-<ID>.html, la-<code>.html, methods.html,
statutory.html and benchmarks.html, all built from the disclosure-controlled Publication
(dashboards/publication.py), never from case-level tables, by the templates in
dashboards/templates/ (see dashboards/pages.py). plotly.js and the style sheet are written beside
the pages once and every page loads them from there (never from a CDN), so the site opens from the
file system on a machine with no internet.

Only what changed is drawn again. Each page's inputs (its view and the templates) are hashed, and
the hashes kept in the site's manifest (MANIFEST); a page whose hash is unchanged is carried into
the new site as the same file (a hard link: same content, same modification time), not drawn or
written again. The new site is still assembled beside the old one and swapped in whole."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import plotly
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from dashboards.glossary import glossary_digest, spell_out
from dashboards.pages import ENVIRONMENT, Page, la_pages, las_by_name, partnership_pages, returns_pages
from dashboards.publication import Publication, partnership_in_sentences, replace_folder, restricted_marking

PLOTLY_JS = "plotly.min.js"
STYLESHEET = "site.css"
MANIFEST = ".pages.json"  # file name: hash of its inputs, for every file of the site
UNKNOWN_EDITION = {"data_as_at": "unknown", "framework": "unknown"}
LEGEND = "[c] confidential, [z] not applicable, [x] not available"


@dataclass
class SiteWritten:
    """What a write of the site did: every page, the pages drawn again, and how long it took."""

    pages: list[Path] = field(default_factory=list)
    redrawn: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def unchanged(self) -> int:
        return len(self.pages) - len(self.redrawn)

    def summary(self) -> str:
        """What was drawn, for the run's progress line."""
        if not self.redrawn:
            return f"nothing changed: {len(self.pages)} pages kept"
        if not self.unchanged:
            return f"{len(self.pages)} pages drawn in {self.seconds:.1f} s"
        drawn = f"{len(self.redrawn)} of {len(self.pages)} pages drawn in {self.seconds:.1f} s"
        return f"{drawn}, {self.unchanged} unchanged"


def write_site(publication: Publication, site_dir: Path, extra_pages: list[Page] = ()) -> SiteWritten:
    """Write the site from the published (disclosure-controlled) tables, drawing only the pages
    whose inputs changed since the last write. The restricted edition (publication.restricted) is
    marked on every page and carries its `extra_pages` (the audit worklists)."""
    started = time.perf_counter()
    marking = restricted_marking() if publication.restricted else None
    edition = edition_of(publication)
    written = SiteWritten()
    previous = read_manifest(site_dir)

    def fill(folder: Path) -> list[str]:
        manifest = {}
        for name, text in ((PLOTLY_JS, None), (STYLESHEET, None)):
            digest = static_digest(name)
            manifest[name] = digest
            if not carry_over(site_dir, folder, name, previous.get(name) == digest):
                text = get_plotlyjs() if name == PLOTLY_JS else stylesheet()
                (folder / name).write_text(text, encoding="utf-8")
        for page in [*partnership_pages(publication), *la_pages(publication, las_by_name(publication)),
                     *returns_pages(publication), *extra_pages]:
            # File names are built from ids and codes (dashboards.views.common.file_part); one that
            # names another folder is refused rather than written there.
            if Path(page.filename).name != page.filename or page.filename.startswith("."):
                raise ValueError(f"page file name {page.filename!r} is not a plain file name")
            inputs = (f"{page.digest}|{LEGEND}|{PLOTLY_JS}|{STYLESHEET}|{marking}|{sorted(edition.items())}|"
                      f"{glossary_digest()}|{partnership_in_sentences()}")
            digest = hashlib.sha256(inputs.encode()).hexdigest()
            manifest[page.filename] = digest
            if not carry_over(site_dir, folder, page.filename, previous.get(page.filename) == digest):
                (folder / page.filename).write_text(render_page(page, marking, edition), encoding="utf-8")
                written.redrawn.append(page.filename)
            written.pages.append(page.filename)
        if not carry_over(site_dir, folder, MANIFEST, previous == manifest):
            (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        return written.pages

    written.pages = replace_folder(site_dir, fill)
    written.seconds = time.perf_counter() - started
    return written


def read_manifest(site_dir: Path) -> dict[str, str]:
    """The hashes the last write recorded (none if there is no site, or its manifest is unreadable:
    then every page is drawn)."""
    try:
        manifest = json.loads((site_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def carry_over(site_dir: Path, folder: Path, name: str, unchanged: bool) -> bool:
    """Link an unchanged file of the old site into the new one; False when it must be written."""
    old = site_dir / name
    if not unchanged or not old.is_file() or old.is_symlink():
        return False
    try:
        os.link(old, folder / name)
    except OSError:  # a file system without hard links: write it again
        return False
    return True


def stylesheet() -> str:
    return resources.files("dashboards").joinpath("templates", STYLESHEET).read_text(encoding="utf-8")


def static_digest(name: str) -> str:
    """What plotly.js and the style sheet are made from: plotly's version, the sheet's text."""
    source = plotly.__version__ if name == PLOTLY_JS else stylesheet()
    return hashlib.sha256(f"{name}|{source}".encode()).hexdigest()


def edition_of(publication: Publication) -> dict[str, str]:
    """What every page's footer says the figures are: as at the latest pack received (the date it
    arrived), by which version of the indicator framework (its file's sha256, shortened)."""
    received = publication.submissions.get("received_at") if len(publication.submissions) else None
    latest = pd.to_datetime(received, errors="coerce").max() if received is not None else pd.NaT
    as_at = f"{latest.day} {latest:%B %Y}" if not pd.isna(latest) else "no pack received yet"
    return {"data_as_at": as_at, "framework": publication.framework.sha256[:12] or "unknown"}


def render_page(page: Page, marking: str | None = None, edition: dict | None = None) -> str:
    """A page in the shared layout (base.html): head, header navigation, title, symbols legend,
    the page's own content, footer; and, in the restricted edition, its marking above and below.
    Every abbreviation is spelled out at its first use on the page (dashboards/glossary.py)."""
    # The content was written by an autoescaped template: it is markup already.
    return spell_out(ENVIRONMENT.get_template("base.html").render(
        page=page, content=Markup(page.body), legend=LEGEND, plotly_js=PLOTLY_JS, stylesheet=STYLESHEET,
        marking=marking, edition=edition or UNKNOWN_EDITION))
