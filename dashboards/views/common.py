"""What several views share: page file names, table cells with their numbers already formatted,
and the look-ups the pages make again and again of the Publication."""

from __future__ import annotations

import re
from typing import NamedTuple

import pandas as pd
import pyarrow as pa

from assets.config import load_yaml
from assets.scoring import Framework, Indicator
from dashboards import figures
from dashboards.disclosure import shown
from dashboards.figures import percent, quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication

# Where the exports are from the site: both are folders of the audit home (<home>/site,
# <home>/exports), and the site is opened from the file system, so links are relative.
EXPORTS_FROM_SITE = "../exports"


def export_links(pub: Publication) -> dict[str, str]:
    """Each open-data file's link from a page, by dataset name. None in the restricted edition:
    its numbers are not the exports' (nothing is suppressed), and it never links to public files."""
    from dashboards.open_data import export_config

    names = [*export_config()["datasets"], "indicators"]
    return {name: "" if pub.restricted else f"{EXPORTS_FROM_SITE}/{name}.csv" for name in names}


def page_exports(pub: Publication, *names: str) -> dict:
    """What a view adds so that its page links to its numbers: every file by name (`exports`, for
    the charts and tables) and the page's own list (`downloads`, shown under its title)."""
    links = export_links(pub)
    return {"exports": links, "downloads": [links[name] for name in names if links[name]]}


def quarters_to_choose(pub: Publication) -> list[str]:
    """The quarters an LA or indicator page lets the reader choose, latest first
    (config/publication.yaml pages.quarters_to_choose)."""
    def build():
        count = int(load_yaml("publication.yaml")["pages"]["quarters_to_choose"])
        return list(reversed(pub.periods[-count:]))
    return lookup(pub, "quarters_to_choose", build)


def indicator_file(indicator_id: str) -> str:
    return f"indicator-{file_part(indicator_id)}.html"


def la_file(la_code: str) -> str:
    return f"la-{file_part(la_code)}.html"


def file_part(name: str) -> str:
    """`name` as part of a file name that is also a plain relative link: ids and codes are already
    held to letters, digits, - and _ when loaded, but anything else is written as ~ and its hex
    code, so that no name can reach another folder or need escaping in a URL."""
    return re.sub(r"[^A-Za-z0-9_-]", lambda found: f"~{ord(found.group()):x}", str(name))


# ---------------------------------------------------------------- table cells


class Cell(NamedTuple):
    """One table cell: its text as shown (the template escapes it), its class, and the page it
    links to, if any. The first cell of a row heads the row. A named tuple: national pages have
    hundreds of thousands of cells, and it is the cheapest immutable record to make."""

    text: str
    css: str = ""
    href: str = ""


def text(value) -> Cell:
    return Cell(str(value))


def count(value, suppressed: bool) -> Cell:
    """A count of children, cases or rows: [c] when suppressed."""
    return Cell(shown(value, bool(suppressed)), "num count")


def missing_count() -> Cell:
    """A count that does not exist, such as cases in a pack that never arrived."""
    return Cell("[x]", "num count")


def unavailable() -> Cell:
    """A number that does not exist and is not a count."""
    return Cell("[x]", "num")


def number(words: str) -> Cell:
    """A number already written out (or a symbol standing for one)."""
    return Cell(words, "num")


def rate(value, suppressed: bool) -> Cell:
    """A proportion as a percentage with one decimal; [c] suppressed, [z] nothing to divide by."""
    if suppressed or pd.isna(value):
        return Cell(shown(value, bool(suppressed)), "num")
    return Cell(percent(value), "num")


def interval(low, high, suppressed: bool) -> Cell:
    if suppressed or pd.isna(low):
        return Cell(shown(low, bool(suppressed)), "num")
    return Cell(f"{percent(low)} to {percent(high)}", "num")


def score(value, suppressed: bool) -> Cell:
    return Cell(shown(value, bool(suppressed), digits=2), "num")


def link(href: str, label: str) -> Cell:
    return Cell(label, href=href)


def area_cell(code: str | None, name: str, has_page: bool = True) -> Cell:
    """An area's name heading a table row: an LA's links to its page (drill-down from every table)
    where it has one (an LA that sent only statutory returns has none); the partnership's is plain
    text (its page is the overview)."""
    return link(la_file(code), name) if code and code != PARTNERSHIP_CODE and has_page else text(name)


def indicator_link(indicator: Indicator) -> Cell:
    return link(indicator_file(indicator.id), f"{indicator.id}: {indicator.title}")


def rate_cells(row: dict) -> list[Cell]:
    """Numerator, denominator, rate and its interval, each with its own suppression; [x] throughout
    where the indicator could not be measured (the pack sent no contexts)."""
    if row.get("not_available"):
        return [missing_count(), missing_count(), unavailable(), unavailable()]
    return [count(row["numerator"], row["numerator_suppressed"]),
            count(row["denominator"], row["denominator_suppressed"]),
            rate(row["rate"], row["rate_suppressed"]),
            interval(row["ci_low"], row["ci_high"], row["ci_low_suppressed"])]


def spc_rows(points: list[figures.SpcPoint]) -> list[list[Cell]]:
    """Quarter, counts, rate, mean, limits and signal; the plotted points are published ones."""
    return [[text(quarter_label(r.period)), count(r.numerator, False), count(r.denominator, False),
             rate(r.rate, False), rate(r.centre, False), number(f"{percent(r.lower)} to {percent(r.upper)}"),
             text(f"{r.signal}: {r.rules}" if r.signal else "common cause")] for r in points]


def submission_cells(row: dict | None, is_total: bool) -> list[Cell]:
    """Pack loaded, cases, rows received, rows quarantined and packs rejected for one row of a
    completeness table (`row`: the submissions row, None when there is none). Packs rejected count
    files, not children, so it is never suppressed."""
    if row is None:
        return [text("total" if is_total else "no")] + [missing_count()] * 3 + [unavailable()]
    return [text("total" if is_total else ("yes" if row["status"] == "loaded" else "no: rejected")),
            count(row["cases"], row["cases_suppressed"]),
            count(row["rows_received"], row["rows_received_suppressed"]),
            count(row["rows_quarantined"], row["rows_quarantined_suppressed"]),
            number(str(int(row["packs_rejected"])))]


# ---------------------------------------------------------------- indicators


def definition(fw: Framework, indicator: Indicator) -> dict:
    """An indicator's rules and where they come from (the indicator and methods pages list them)."""
    return {"question": indicator.question, "domain": fw.domains[indicator.domain]["title"],
            "applicable": indicator.applicable, "met": indicator.met, "value": indicator.value or "",
            "applies_to": indicator.applies_to, "met_when": indicator.met_when, "value_is": indicator.value_is,
            "direction": indicator.direction, "informational": indicator.informational,
            "source": " ".join(str(fw.sources.get(indicator.source, indicator.source)).split()),
            "citation": indicator.citation or ""}


def indicator_groups(fw: Framework) -> list[dict]:
    """The framework's domains in order, each with its indicators (domains with none left out)."""
    groups = []
    for domain, spec in fw.domains.items():
        members = [i for i in fw.indicators if i.domain == domain]
        if members:
            groups.append({"title": spec["title"], "scored": bool(spec.get("scored")), "indicators": [
                {"id": i.id, "title": i.title, "href": indicator_file(i.id), "definition": definition(fw, i)}
                for i in members]})
    return groups


# ---------------------------------------------------------------- look-ups


def la_names(pub: Publication) -> dict[str, str]:
    """Every LA in the publication (with rates or only with a submission), code to name (built once
    per publication: every table row heading asks whether its LA has a page)."""
    def build():
        names = {}
        for frame in (pub.rates, pub.submissions):
            las = frame[~frame["is_total"]] if len(frame) else frame
            names.update(zip(las["la_code"].tolist(), las["la_name"].tolist(), strict=True))
        return names
    return lookup(pub, "la_names", build)


def las_by_name(pub: Publication) -> list[tuple[str, str]]:
    """(code, name) of every LA, in alphabetical order of name: pages never rank LAs."""
    return lookup(pub, "las_by_name", lambda: sorted(la_names(pub).items(), key=lambda item: (item[1], item[0])))


def all_periods(pub: Publication) -> list[str]:
    """Every quarter with rates or a submission (a quarter whose packs were all rejected has none)."""
    return lookup(pub, "all_periods", lambda: sorted(set(pub.periods) | set(
        pub.submissions["period"].tolist() if len(pub.submissions) else [])))


def lookup(pub: Publication, name: str, build):
    """A look-up the pages make again and again, built once per publication."""
    if name not in pub.lookups:
        pub.lookups[name] = build()
    return pub.lookups[name]


def records(frame: pd.DataFrame, *keys: str) -> dict:
    """A table's rows as plain dicts, grouped by `keys` (a tuple of their values, or the value of
    the one key): the pages read rows by area and quarter thousands of times, and filtering the
    table each time dominated drawing the site."""
    grouped = {}
    for row in plain_rows(frame):
        grouped.setdefault(tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]], []).append(row)
    return grouped


def plain_rows(frame: pd.DataFrame) -> list[dict]:
    """A table's rows as dicts of plain Python values (missing values None), through Arrow: pandas'
    own conversion walks Arrow-backed text columns value by value."""
    return pa.Table.from_pandas(frame, preserve_index=False).to_pylist()


def series(pub: Publication, indicator_id: str, la_code: str | None) -> list[dict]:
    """One area's rows for one indicator, by quarter (la_code None: the partnership)."""
    by_area = lookup(pub, "series", lambda: {key: sorted(rows, key=lambda row: row["period"]) for key, rows in
                                             records(pub.rates, "la_code", "indicator_id").items()})
    return by_area.get((PARTNERSHIP_CODE if la_code is None else la_code, indicator_id), [])


def quarter_rates(pub: Publication, period: str) -> dict[tuple[str, str], dict]:
    """One quarter's rows, by (la_code, indicator_id); the partnership's under PARTNERSHIP_CODE."""
    by_period = lookup(pub, "quarter_rates", lambda: {
        period: {(row["la_code"], row["indicator_id"]): row for row in rows}
        for period, rows in records(pub.rates, "period").items()})
    return by_period.get(period, {})


def submission(pub: Publication, la_code: str, period: str) -> dict | None:
    """One LA's (or, with PARTNERSHIP_CODE, the partnership's) submissions row for a quarter."""
    found = lookup(pub, "submissions", lambda: {key: rows[0] for key, rows in
                                                records(pub.submissions, "la_code", "period").items()})
    return found.get((la_code, period))


def spc(pub: Publication, indicator: Indicator, la_code: str | None) -> list[figures.SpcPoint]:
    """One area's p-chart numbers for one indicator (the overview and the area's page both show them)."""
    return lookup(pub, ("spc", indicator.id, la_code),
                  lambda: figures.spc_data(series(pub, indicator.id, la_code), indicator.direction))


def funnels(pub: Publication, period: str) -> dict[str, figures.Funnel]:
    """Each indicator's funnel plot numbers for one quarter."""
    def build():
        rows = pub.rates[pub.rates["period"] == period]
        by_indicator = dict(iter(rows.groupby("indicator_id", sort=False)))
        return {i.id: figures.funnel_data(by_indicator.get(i.id, rows.iloc[0:0]), period)
                for i in pub.framework.indicators}
    return lookup(pub, ("funnels", period), build)
