"""The site's pages, each drawn by its template in dashboards/templates/ from a view
(dashboards/views/): plain data prepared from the Publication alone, already disclosure-controlled.
A page template writes the page's own content and sets its title; dashboards/site.py puts each
page in the shared layout (base.html) and writes it.

Every template is autoescaped: names and titles from config or the warehouse reach a page as text,
in element content and attribute values alike. The only markup made in Python is a table row's
cells (`cells`, escaping each text and attribute) and plotly's: the chart's div and the call that
draws it (dashboards/figures.py:embed, which keeps the figure's JSON safe inside a <script>)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources

import numpy as np
import plotly
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from assets.scoring import Indicator
from assets.statistics import RUN_LENGTH, TREND_LENGTH
from dashboards import figures
from dashboards.glossary import quarter_note, spell_out, years_note
from dashboards.publication import Publication, partnership_in_sentences, partnership_name
from dashboards.views.audits import audits_view
from dashboards.views.benchmarks import benchmark_las, benchmarks_file, benchmarks_index_view, benchmarks_la_view
from dashboards.views.common import file_part, indicator_file, la_file, las_by_name
from dashboards.views.headlines import headlines_view
from dashboards.views.indicator import indicator_view
from dashboards.views.la import la_view
from dashboards.views.methods import methods_view
from dashboards.views.overview import overview_view
from dashboards.views.returns import statutory_view

# What autoescape does to every value a template writes (quotes included).
esc = escape


def plural(number: int, word: str, words: str | None = None) -> str:
    """'1 quarter', '3 quarters'; `words` where the plural is not `word` + s."""
    return f"{number} {word if number == 1 else (words or word + 's')}"


def names_list(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def cells(row: list) -> Markup:
    """A table row's cells: the first a row header, each with its class and link; every text and
    attribute escaped."""
    parts = []
    for number, cell in enumerate(row):
        tag = "td" if number else 'th scope="row"'
        css = f' class="{esc(cell.css)}"' if cell.css else ""
        content = f'<a href="{esc(cell.href)}">{esc(cell.text)}</a>' if cell.href else esc(cell.text)
        parts.append(f"<{tag}{css}>{content}</{'td' if number else 'th'}>")
    return Markup("".join(parts))


def plotly_chart(figure, div_id: str) -> Markup:
    """A figure's div and drawing call, as markup a template writes unchanged."""
    return Markup(figures.embed(figure, div_id))


ENVIRONMENT = Environment(loader=PackageLoader("dashboards", "templates"), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENVIRONMENT.filters.update(plural=plural, names_list=names_list, cells=cells, spell_out=spell_out)
# Runs and trends take this many quarters before they can signal (assets/statistics.py).
ENVIRONMENT.globals.update(plotly=plotly_chart, quarters_for_all_rules=max(RUN_LENGTH, TREND_LENGTH))
# What a quarter and a year are, and the partnership as running text names it (config/glossary.yaml,
# config/publication.yaml); dashboards/site.py draws every page again when they change.
ENVIRONMENT.globals.update(quarter_note=quarter_note, years_note=years_note, the_partnership=partnership_in_sentences)


class Page:
    """A page: its file name, the template that draws it and its view (the plain data the template
    is filled with). The title and content are drawn when first asked for; `digest` identifies the
    page's inputs, so a page whose digest is unchanged need not be drawn again."""

    def __init__(self, filename: str, template: str, view: dict):
        self.filename, self.template, self.view = filename, template, view
        self._drawn: tuple[str, str] | None = None

    def _draw(self) -> tuple[str, str]:
        if self._drawn is None:
            content = ENVIRONMENT.get_template(self.template).make_module(self.view)
            self._drawn = (str(content.title), str(content))
        return self._drawn

    @property
    def title(self) -> str:
        return self._draw()[0]

    @property
    def body(self) -> str:
        """The page's own content as HTML (the shared layout goes round it)."""
        return self._draw()[1]

    @property
    def digest(self) -> str:
        """A hash of everything the page is drawn from: its view and the templates."""
        view = json.dumps(self.view, sort_keys=True, default=plain, allow_nan=True)
        return hashlib.sha256(f"{templates_fingerprint()}|{self.template}|{view}".encode()).hexdigest()


def plain(value):
    """How a view's values that JSON does not know are hashed (a table cell is a tuple: a list)."""
    if isinstance(value, np.generic):  # a numpy number
        return value.item()
    raise TypeError(f"a page view holds {type(value).__name__}, which cannot be hashed")


@cache
def templates_fingerprint() -> str:
    """A hash of what turns a view into a page: every template and the style sheet, the code of
    dashboards/ (filters, figures' JSON, the layout) and plotly's version. A change to any of them
    (a new release, a plotly upgrade) redraws every page."""
    package = resources.files("dashboards")
    digest = hashlib.sha256(plotly.__version__.encode())
    for folder in (package, package.joinpath("templates"), package.joinpath("views")):
        for name in sorted(entry.name for entry in folder.iterdir() if entry.is_file()):
            if name.endswith((".py", ".html", ".css")):
                digest.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes())
    return digest.hexdigest()


def page(filename: str, template: str, view: dict) -> Page:
    """A page template and its view; the template sets the page's title."""
    return Page(filename, template, view)


def headlines_page(pub: Publication) -> Page:
    """The site's front page (index.html): what is better and worse in the latest quarter."""
    return page("index.html", "headlines.html", headlines_view(pub, partnership_name()))


def overview_page(pub: Publication) -> Page:
    return page("overview.html", "overview.html", overview_view(pub, partnership_name()))


def indicator_page(pub: Publication, indicator: Indicator) -> Page:
    return page(indicator_file(indicator.id), "indicator.html", indicator_view(pub, indicator, partnership_name()))


def la_page(pub: Publication, code: str, name: str) -> Page:
    return page(la_file(code), "la.html", la_view(pub, code, name, partnership_name()))


def methods_page(pub: Publication) -> Page:
    return page("methods.html", "methods.html", methods_view(pub))


def audits_page(pub: Publication) -> Page:
    return page("audits.html", "audits.html", audits_view(pub))


def statutory_page(pub: Publication) -> Page:
    return page("statutory.html", "statutory.html", statutory_view(pub))


def benchmarks_page(pub: Publication) -> Page:
    return page("benchmarks.html", "benchmarks.html", benchmarks_index_view(pub))


def benchmarks_la_page(pub: Publication, code: str) -> Page:
    return page(benchmarks_file(code), "benchmarks_la.html", benchmarks_la_view(pub, code))


def partnership_pages(pub: Publication) -> list[Page]:
    """The headlines, the overview, one page per indicator, and methods."""
    return [headlines_page(pub), overview_page(pub),
            *[indicator_page(pub, indicator) for indicator in pub.framework.indicators], methods_page(pub)]


def la_pages(pub: Publication, las: list[tuple[str, str]]) -> list[Page]:
    """One page per LA, (code, name); none before any quarter is loaded."""
    return [la_page(pub, code, name) for code, name in las] if pub.periods else []


def returns_pages(pub: Publication) -> list[Page]:
    """The statutory returns, the national benchmarks (an index and a page per LA) and the case
    audits held."""
    return [statutory_page(pub), benchmarks_page(pub),
            *[benchmarks_la_page(pub, code) for code, _ in benchmark_las(pub)], audits_page(pub)]


__all__ = ["ENVIRONMENT", "Page", "audits_page", "benchmarks_la_page", "benchmarks_page", "esc", "file_part",
           "headlines_page",
           "indicator_file", "indicator_page", "la_file", "la_page", "la_pages", "las_by_name", "methods_page",
           "overview_page", "partnership_pages", "returns_pages", "statutory_page"]
