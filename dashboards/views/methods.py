"""The methods page: every indicator's definition, and the numbers the statistics and disclosure
control prose quotes (funnel limits, SPC rule lengths, the threshold)."""

from __future__ import annotations

from assets.benchmarks import benchmark_spec
from assets.statistics import RUN_LENGTH, TREND_LENGTH
from dashboards.benchmarks import marker_legend
from dashboards.figures import funnel_levels, level_label
from dashboards.glossary import quarter_note, terms, years_note
from dashboards.publication import Publication
from dashboards.views.common import indicator_groups, page_exports


def methods_view(pub: Publication) -> dict:
    levels = funnel_levels()
    return {"domains": indicator_groups(pub.framework), "narrow": level_label(levels[0]),
            "wide": level_label(levels[-1]), "run": RUN_LENGTH, "trend": TREND_LENGTH, "threshold": pub.limit,
            "restricted": pub.restricted, "benchmarks": benchmarks_method(), **page_exports(pub, "indicators"),
            "glossary": glossary(),
            "sources": [" ".join(str(words).split()) for words in pub.framework.sources.values()]}


def benchmarks_method() -> dict:
    """The numbers and words the benchmarks section quotes (config/benchmarks.yaml)."""
    spec = benchmark_spec()
    levels = [f"{100 * float(level):g}%" for level in sorted(spec["funnel_levels"])]
    return {"rate_per": f"{spec['rate_per']:,}", "rounding": " ".join(spec["sources"]["rounding"].split()),
            "levels": " and ".join(levels), "markers": marker_legend(),
            "any_efh_factor": " ".join(spec["any_efh_factor"].split())}


def glossary() -> dict:
    """The site's words and abbreviations spelled out, and what a quarter and a year are
    (config/glossary.yaml), terms in alphabetical order."""
    return {"quarters": quarter_note(), "years": years_note(),
            "terms": [(term.term, term.described()) for term in terms()]}
