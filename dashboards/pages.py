"""The site's pages, each drawn by its template in dashboards/templates/ from a view
(dashboards/views/): plain data prepared from the Publication alone, already disclosure-controlled.
A page template writes the page's own content and sets its title; dashboards/site.py puts each
page in the shared layout (base.html) and writes it.

Every template is autoescaped: names and titles from config or the warehouse reach a page as text,
in element content and attribute values alike. The only markup made in Python is plotly's: the
chart's div and the call that draws it (dashboards/figures.py:embed, which keeps the figure's JSON
safe inside a <script>)."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from assets.scoring import Indicator
from assets.statistics import RUN_LENGTH, TREND_LENGTH
from dashboards import figures
from dashboards.publication import Publication, partnership_name
from dashboards.views.common import file_part, indicator_file, la_file, las_by_name
from dashboards.views.indicator import indicator_view
from dashboards.views.la import la_view
from dashboards.views.methods import methods_view
from dashboards.views.overview import overview_view
from dashboards.views.returns import benchmarks_view, statutory_view

# What autoescape does to every value a template writes (quotes included).
esc = escape


def plural(number: int, word: str, words: str | None = None) -> str:
    """'1 quarter', '3 quarters'; `words` where the plural is not `word` + s."""
    return f"{number} {word if number == 1 else (words or word + 's')}"


def names_list(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def plotly_chart(figure, div_id: str) -> Markup:
    """A figure's div and drawing call, as markup a template writes unchanged."""
    return Markup(figures.embed(figure, div_id))


ENVIRONMENT = Environment(loader=PackageLoader("dashboards", "templates"), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENVIRONMENT.filters.update(plural=plural, names_list=names_list)
# Runs and trends take this many quarters before they can signal (assets/statistics.py).
ENVIRONMENT.globals.update(plotly=plotly_chart, quarters_for_all_rules=max(RUN_LENGTH, TREND_LENGTH))


@dataclass(frozen=True)
class Page:
    """A page's file name, its title, and its own content as HTML (the layout goes round it)."""

    filename: str
    title: str
    body: str


def page(filename: str, template: str, view: dict) -> Page:
    """Fill a page template with its view; the template sets the page's title."""
    content = ENVIRONMENT.get_template(template).make_module(view)
    return Page(filename, str(content.title), str(content))


def overview_page(pub: Publication) -> Page:
    return page("index.html", "overview.html", overview_view(pub, partnership_name()))


def indicator_page(pub: Publication, indicator: Indicator) -> Page:
    return page(indicator_file(indicator.id), "indicator.html", indicator_view(pub, indicator, partnership_name()))


def la_page(pub: Publication, code: str, name: str) -> Page:
    return page(la_file(code), "la.html", la_view(pub, code, name, partnership_name()))


def methods_page(pub: Publication) -> Page:
    return page("methods.html", "methods.html", methods_view(pub))


def statutory_page(pub: Publication) -> Page:
    return page("statutory.html", "statutory.html", statutory_view(pub))


def benchmarks_page(pub: Publication) -> Page:
    return page("benchmarks.html", "benchmarks.html", benchmarks_view(pub))


def partnership_pages(pub: Publication) -> list[Page]:
    """The overview, one page per indicator, and methods."""
    return [overview_page(pub), *[indicator_page(pub, indicator) for indicator in pub.framework.indicators],
            methods_page(pub)]


def la_pages(pub: Publication, las: list[tuple[str, str]]) -> list[Page]:
    """One page per LA, (code, name); none before any quarter is loaded."""
    return [la_page(pub, code, name) for code, name in las] if pub.periods else []


def returns_pages(pub: Publication) -> list[Page]:
    """The statutory returns and the national benchmarks."""
    return [statutory_page(pub), benchmarks_page(pub)]


__all__ = ["ENVIRONMENT", "Page", "benchmarks_page", "esc", "file_part", "indicator_file", "indicator_page",
           "la_file", "la_page", "la_pages", "las_by_name", "methods_page", "overview_page", "partnership_pages",
           "returns_pages", "statutory_page"]
