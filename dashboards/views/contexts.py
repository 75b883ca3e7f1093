"""The context measures (docs/contexts.md) as the overview and the LA pages show them: the context
score by quarter, the context indicators' rates, and the shared-context and network counts. Every
number comes from the Publication, already disclosure-controlled."""

from __future__ import annotations

from dashboards import figures
from dashboards.figures import quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication, network_wording
from dashboards.views.common import (
    Cell,
    area_cell,
    count,
    indicator_link,
    las_by_name,
    lookup,
    quarter_rates,
    rate_cells,
    records,
    score,
    text,
    unavailable,
)

CONTEXT_SCORE = "CX"  # the domain code of the context score in `scores`


def context_indicators(pub: Publication) -> list:
    return [i for i in pub.framework.indicators if i.unit == "context"]


def networks_by_area(pub: Publication) -> dict[tuple[str, str], list[dict]]:
    """(la_code, period) -> its network measures in order."""
    return lookup(pub, "networks", lambda: records(pub.networks, "la_code", "period") if pub.networks is not None
                  else {})


def network_cells(rows: list[dict] | None, measures: list[str]) -> list[Cell]:
    if not rows:
        return [unavailable() for _ in measures]
    by_measure = {row["measure"]: row for row in rows}
    return [count(by_measure[m]["value"], by_measure[m]["value_suppressed"]) for m in measures]


def measure_labels(pub: Publication, bands: bool = False) -> tuple[list[str], list[str]]:
    """The network measures published for every area (or, with `bands`, the size bands published
    for the partnership only) and their words, in order."""
    def build():
        first = pub.networks.drop_duplicates("measure").sort_values("order") if pub.networks is not None else None
        if first is None or first.empty:
            return {False: ([], []), True: ([], [])}
        banded = set(network_wording()["bands"]["members"])
        chosen = {flag: first[first["measure"].isin(banded) == flag] for flag in (False, True)}
        return {flag: (rows["measure"].tolist(), rows["label"].tolist()) for flag, rows in chosen.items()}
    return lookup(pub, "network_measures", build)[bands]


def context_score_cell(pub: Publication, code: str, period: str) -> Cell:
    found = lookup(pub, "score_lookup", lambda: figures.score_lookup(pub.scores)).get((code, CONTEXT_SCORE, period))
    return score(*found) if found else unavailable()


def overview_contexts(pub: Publication, partnership: str) -> dict | None:
    """The overview's Contexts section (None: the framework has no context indicators)."""
    indicators = context_indicators(pub)
    if not indicators or not pub.periods:
        return None
    latest = pub.periods[-1]
    areas = las_by_name(pub) + [(PARTNERSHIP_CODE, partnership)]
    quarter = quarter_rates(pub, latest)
    total = [quarter.get((PARTNERSHIP_CODE, i.id)) for i in indicators]
    measures, labels = measure_labels(pub)
    band_measures, band_labels = measure_labels(pub, bands=True)
    networks = networks_by_area(pub)
    return {
        "figure": figures.scores_figure(pub.scores, [(CONTEXT_SCORE, "Context score")], areas, pub.periods),
        "score_rows": [[area_cell(code, name)] + [context_score_cell(pub, code, p) for p in pub.periods]
                       for code, name in areas],
        "quarters": [quarter_label(p) for p in pub.periods],
        "rates": [[indicator_link(i)] + (rate_cells(row) if row else [unavailable()] * 4)
                  for i, row in zip(indicators, total, strict=True)],
        "available": any(row and row["denominator"] > 0 for row in total),
        "labels": labels,
        "networks": [[area_cell(code, name)] + network_cells(networks.get((code, latest)), measures)
                     for code, name in areas],
        "band_labels": band_labels,
        "bands": [[text(quarter_label(p))] + network_cells(networks.get((PARTNERSHIP_CODE, p)), band_measures)
                  for p in pub.periods],
    }


def la_contexts(pub: Publication, code: str) -> dict | None:
    """An LA page's Contexts section: its context score and network counts by quarter."""
    if not context_indicators(pub) or not pub.periods:
        return None
    measures, labels = measure_labels(pub)
    networks = networks_by_area(pub)
    sent = [p for p in pub.periods if networks.get((code, p))]
    return {"labels": labels, "sent": len(sent),
            "rows": [[text(quarter_label(p)), context_score_cell(pub, code, p)]
                     + network_cells(networks.get((code, p)), measures) for p in pub.periods]}
