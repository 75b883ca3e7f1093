"""What several views share: page file names, table cells with their numbers already formatted,
and the look-ups the pages make again and again of the Publication."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from assets.scoring import Framework, Indicator
from dashboards import figures
from dashboards.disclosure import shown
from dashboards.figures import percent, quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication


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


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell: its text as shown (the template escapes it), its class, and the page it
    links to, if any. The first cell of a row heads the row."""

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


def indicator_link(indicator: Indicator) -> Cell:
    return link(indicator_file(indicator.id), f"{indicator.id}: {indicator.title}")


def rate_cells(row: pd.Series) -> list[Cell]:
    """Numerator, denominator, rate and its interval, each with its own suppression."""
    return [count(row["numerator"], row["numerator_suppressed"]),
            count(row["denominator"], row["denominator_suppressed"]),
            rate(row["rate"], row["rate_suppressed"]),
            interval(row["ci_low"], row["ci_high"], row["ci_low_suppressed"])]


def spc_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    """Quarter, counts, rate, mean, limits and signal; the plotted points are published ones."""
    return [[text(quarter_label(r.period)), count(r.numerator, False), count(r.denominator, False),
             rate(r.rate, False), rate(r.centre, False), number(f"{percent(r.lower)} to {percent(r.upper)}"),
             text(f"{r.signal}: {r.rules}" if r.signal else "common cause")] for r in frame.itertuples()]


def submission_cells(found: pd.DataFrame, is_total: bool) -> list[Cell]:
    """Pack loaded, cases, rows received, rows quarantined and packs rejected for one row of a
    completeness table. Packs rejected count files, not children, so it is never suppressed."""
    if found.empty:
        return [text("total" if is_total else "no")] + [missing_count()] * 3 + [unavailable()]
    row = found.iloc[0]
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
    """Every LA in the publication (with rates or only with a submission), code to name."""
    names = {}
    for frame in (pub.rates, pub.submissions):
        las = frame[~frame["is_total"]] if len(frame) else frame
        names.update(zip(las["la_code"], las["la_name"], strict=True))
    return names


def las_by_name(pub: Publication) -> list[tuple[str, str]]:
    """(code, name) of every LA, in alphabetical order of name: pages never rank LAs."""
    return sorted(la_names(pub).items(), key=lambda item: (item[1], item[0]))


def all_periods(pub: Publication) -> list[str]:
    periods = set(pub.periods)
    if len(pub.submissions):
        periods |= set(pub.submissions["period"])
    return sorted(periods)


def series(pub: Publication, indicator_id: str, la_code: str | None) -> pd.DataFrame:
    """One area's rows for one indicator over quarters (la_code None: the partnership)."""
    if "series" not in pub.lookups:
        pub.lookups["series"] = dict(iter(pub.rates.groupby(["la_code", "indicator_id"], sort=False)))
    area = PARTNERSHIP_CODE if la_code is None else la_code
    return pub.lookups["series"].get((area, indicator_id), pub.rates.iloc[0:0])


def spc(pub: Publication, indicator: Indicator, la_code: str | None) -> pd.DataFrame:
    """One area's p-chart numbers for one indicator (the overview and the area's page both show them)."""
    key = ("spc", indicator.id, la_code)
    if key not in pub.lookups:
        pub.lookups[key] = figures.spc_data(series(pub, indicator.id, la_code), indicator.direction)
    return pub.lookups[key]


def funnels(pub: Publication, period: str) -> dict[str, figures.Funnel]:
    """Each indicator's funnel plot numbers for one quarter."""
    key = ("funnels", period)
    if key not in pub.lookups:
        pub.lookups[key] = {i.id: figures.funnel_data(pub.rates, i.id, period) for i in pub.framework.indicators}
    return pub.lookups[key]
