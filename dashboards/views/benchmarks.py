"""The national benchmarks pages: an index of the partnership's LAs (alphabetical by name, as on
every page) with the audit coverage, and one page per LA with its extra-familial harm factors per
10,000 children against its region, England and its statistical neighbours, and its child
protection plans. Every value DfE withheld shows as the site's symbol ([c] for a suppressed value,
whatever DfE's reason) with DfE's own marker beside it."""

from __future__ import annotations

import pandas as pd

from assets.benchmark_measures import LA_LEVEL, NATIONAL_LEVEL, NEIGHBOURS_LEVEL, REGION_LEVEL, SUBSEQUENT_SHARE
from assets.benchmark_measures import limit_column as funnel_column
from assets.benchmarks import benchmark_spec
from assets.config import local_authorities
from dashboards.benchmark_figures import benchmark_figure
from dashboards.benchmarks import marker_legend, marker_symbol, marker_words
from dashboards.publication import PARTNERSHIP_CODE, Publication, la_name
from dashboards.views.common import (
    Cell,
    area_cell,
    count,
    file_part,
    la_names,
    link,
    lookup,
    number,
    page_exports,
    plain_rows,
    text,
)
from dashboards.views.returns import year_label


def benchmarks_file(la_code: str) -> str:
    return f"benchmarks-{file_part(la_code)}.html"


def sources_text(year: str, population_year: str | None) -> list[str]:
    """The sources, with the years this page uses."""
    sources = benchmark_spec()["sources"]
    population = f"mid-{population_year} estimate" if population_year else "no estimate"
    return [f"{' '.join(sources['c3'].split())}: year ending 31 March {year}",
            f"{' '.join(sources['population'].split())}: {population}",
            " ".join(sources["neighbours"].split()), " ".join(sources["cp_plans"].split()),
            " ".join(sources["rounding"].split())]


def benchmark_las(pub: Publication) -> list[tuple[str, str]]:
    """(code, name) of the partnership's LAs, in alphabetical order of name."""
    return sorted(((code, la_name(code)) for code in pub.benchmark_las or []), key=lambda item: (item[1], item[0]))


def rows_by_area(frame: pd.DataFrame) -> dict:
    """(year, level, area code, measure) to the row: area code the LA's GSS code, the region's code
    or the country's, so a page looks each figure up once."""
    found = {}
    for row in plain_rows(frame):
        area = row["la_code"] or row["region_code"] or row["country_code"]
        found[(row["time_period"], row["geographic_level"], area, row.get("factor") or row.get("measure"))] = row
    return found


def la_rows_by_old_code(frame: pd.DataFrame) -> dict:
    """(year, old code) to the LA's name and GSS code that year: how neighbours are named."""
    las = frame[frame["geographic_level"] == LA_LEVEL]
    return {(y, old): (name, code) for y, old, name, code in
            zip(las["time_period"], las["old_la_code"], las["la_name"], las["la_code"], strict=True)}


def figures_of(pub: Publication) -> dict:
    return lookup(pub, "benchmark_rows", lambda: {
        "efh": rows_by_area(pub.benchmarks), "cp": rows_by_area(pub.cp_plans),
        "names": la_rows_by_old_code(pub.benchmarks),
        "neighbours": {old: rows.sort_values("rank").to_dict("records")
                       for old, rows in pub.neighbours.groupby("old_la_code")}})


def rate_text(row: dict | None, unit: str = "") -> str:
    if row is None:
        return "[x]"
    if row["status"]:
        return marker_symbol(row["status"])
    return f"{row['rate']:.1f}{unit}"


def count_cell(row: dict | None) -> Cell:
    if row is None:
        return Cell("[x]", "num")
    if row["status"] and row["number"] is None:
        return Cell(marker_symbol(row["status"]), "num")
    return Cell(f"{int(row['number']):,}", "num")


def median_text(row: dict | None, of: int, unit: str = "") -> str:
    if row is None or not row["comparator_count"]:
        return "[x]"
    return f"{row['rate']:.1f}{unit} ({row['comparator_count']} of {of})"


def position_text(row: dict | None) -> str:
    words = benchmark_spec()["funnel_positions"]
    if row is None or not row.get("funnel_position"):
        return "[x]"
    if row["funnel_position"] == "inside" and row["outside_narrow"]:
        return words["outside_narrow"]
    return words[row["funnel_position"]]


def note_text(*rows: dict | None) -> str:
    """DfE's markers met in a row of the table, with their meanings ('' when none)."""
    marks = []
    for row in rows:
        if row is not None and row["status"] and marker_words(row["status"]) not in marks:
            marks.append(marker_words(row["status"]))
    return "; ".join(marks)


def latest_year(pub: Publication, code: str) -> str | None:
    years = pub.benchmarks.loc[pub.benchmarks["la_code"] == code, "time_period"]
    return str(years.max()) if len(years) else None


def benchmarks_index_view(pub: Publication) -> dict:
    """The partnership's LAs, linked to their pages, and the audit coverage table."""
    las = []
    for code, name in benchmark_las(pub):
        year = latest_year(pub, code) if pub.benchmarks is not None else None
        region = local_authorities()[code].region_name if code in local_authorities() else ""
        flagged = []
        if year:
            found = figures_of(pub)["efh"]
            positions = {label: (found.get((year, LA_LEVEL, code, factor)) or {}).get("funnel_position")
                         for factor, label in benchmark_spec()["efh_factors"].items()}
            flagged = [f"{label} ({where})" for label, where in positions.items() if where in ("above", "below")]
        las.append([link(benchmarks_file(code), name) if year else text(name), text(region),
                    text(year_label(year) if year else "none: DfE's tables cover England only"),
                    text(", ".join(flagged) if flagged else ("none" if year else ""))])
    return {"las": las, "coverage": coverage_rows(pub), "any_efh_factor": " ".join(
        benchmark_spec()["any_efh_factor"].split()), **page_exports(pub, "benchmarks", "audit_coverage")}


def coverage_rows(pub: Publication) -> list | None:
    coverage = pub.coverage
    if coverage is None or coverage.empty:
        return None
    rows = []
    for _, r in coverage.sort_values(["la_name", "la_code", "time_period"]).iterrows():
        if r["la_code"] == PARTNERSHIP_CODE:
            continue
        mentions = "[x]" if pd.isna(r["efh_factor_mentions"]) else f"{int(r['efh_factor_mentions']):,}"
        share = "[c]" if r["coverage_suppressed"] else ("[x]" if pd.isna(r["coverage"]) else
                                                         f"{r['coverage'] * 100:.1f}%")
        rows.append([area_cell(r["la_code"], r["la_name"], r["la_code"] in la_names(pub)),
                     text(year_label(r["time_period"])), text(str(r["quarters"])),
                     count(r["audit_cases"], r["audit_cases_suppressed"]), number(mentions), number(share)])
    return rows


def benchmarks_la_view(pub: Publication, code: str) -> dict:
    """One LA's benchmarks in its latest published year: the factor table and chart, its
    neighbours with closeness and their rates, and its child protection plans."""
    spec, name = benchmark_spec(), la_name(code)
    year = latest_year(pub, code)
    if year is None:
        return {"name": name, "code": code, "year": None, **page_exports(pub)}
    found, of = figures_of(pub), spec["neighbours_per_la"]
    efh = found["efh"]
    factors = spec["efh_factors"]
    own = {factor: efh.get((year, LA_LEVEL, code, factor)) for factor in factors}
    first = next(row for row in own.values() if row is not None)
    region, old_code = first["region_code"], first["old_la_code"]
    neighbours = neighbour_list(found, old_code, year)
    rows, chart_rows = [], []
    widest = max(float(level) for level in spec["funnel_levels"])
    narrow = min(float(level) for level in spec["funnel_levels"])
    for factor, label in factors.items():
        la, median = own[factor], efh.get((year, NEIGHBOURS_LEVEL, code, factor))
        reg, eng = efh.get((year, REGION_LEVEL, region, factor)), efh.get((year, NATIONAL_LEVEL, "E92000001", factor))
        limits = ("[x]" if la is None or la.get(funnel_column("lower", narrow)) is None else
                  f"{la[funnel_column('lower', narrow)]:.1f} to {la[funnel_column('upper', narrow)]:.1f}; "
                  f"{la[funnel_column('lower', widest)]:.1f} to {la[funnel_column('upper', widest)]:.1f}")
        rows.append([text(label), count_cell(la), number(rate_text(la)), count_cell(reg), number(rate_text(reg)),
                     count_cell(eng), number(rate_text(eng)), number(median_text(median, of)), number(limits),
                     text(position_text(la)), text(note_text(la, reg, eng) or "none")])
        theirs = [n["rows"].get(factor) for n in neighbours]
        chart_rows.append({
            "label": label, "la_rate": published(la), "region_rate": published(reg), "england_rate": published(eng),
            "neighbour_median": published(median),
            "neighbour_rates": [published(row) for row in theirs if row is not None],
            "lower": (la or {}).get(funnel_column("lower", widest)),
            "upper": (la or {}).get(funnel_column("upper", widest)),
            "withheld": rate_text(la) if published(la) is None else ""})
    population_year = first["population_year"]
    footnote = "<br>".join([
        f"{year_label(year)}: the year ending 31 March {year}.",
        "Sources: DfE, Characteristics of children in need, table C3;",
        f"ONS mid-{population_year} estimates, children aged 0 to 17;",
        "DfE statistical neighbour model (2025).",
        "DfE rounds national and regional counts to the nearest 10."])
    region_name = first["region_name"]
    return {**page_exports(pub, "benchmarks", "cp_plans"),
            "name": name, "code": code, "year": year_label(year), "year_end": year, "region": region_name,
            "population": f"{int(first['population_0_to_17']):,}" if first["population_0_to_17"] else "[x]",
            "population_year": population_year, "rows": rows,
            "figure": benchmark_figure(chart_rows, name, region_name, footnote),
            "chart_rows": [[text(r["label"]), *[number(plotted_text(r[key])) for key in
                                                ("la_rate", "region_rate", "england_rate")],
                            number("[x]" if r["upper"] is None else f"{r['lower']:.1f} to {r['upper']:.1f}"),
                            number(plotted_text(r["neighbour_median"])),
                            text(", ".join(f"{value:.1f}" for value in r["neighbour_rates"] if value is not None))]
                           for r in chart_rows],
            "neighbours": neighbour_rows(neighbours, factors),
            "neighbour_headers": ["Neighbour", "Rank", "Closeness", *factors.values(), "DfE marker"],
            "mapped": sum(1 for n in neighbours if n["code"]), "of": of,
            "unmapped": [n["name"] for n in neighbours if not n["code"]],
            "cp_plans": cp_plan_rows(found["cp"], year, code, region, of), "markers": marker_legend(),
            "sources": sources_text(year, population_year), "narrow": f"{100 * narrow:g}%",
            "wide": f"{100 * widest:g}%", "any_efh_factor": " ".join(spec["any_efh_factor"].split())}


def plotted_text(value: float | None) -> str:
    """A rate the chart plots, or what stands in its place in the chart's table."""
    return "not plotted" if value is None else f"{value:.1f}"


def published(row: dict | None) -> float | None:
    return None if row is None or row["status"] or row["rate"] is None else float(row["rate"])


def neighbour_list(found: dict, old_code: str, year: str) -> list[dict]:
    """The LA's neighbours nearest first: name (that year's, or the model's where the table has no
    row for the code that year), closeness band, GSS code ('' unmapped) and their rows by factor."""
    names = found["names"]
    model_names = {row["old_la_code"]: row["la_name"] for rows in found["neighbours"].values() for row in rows}
    listed = []
    for entry in found["neighbours"].get(old_code, []):
        other = entry["neighbour_old_la_code"]
        name, gss = names.get((year, other), (model_names.get(other, other), ""))
        rows = {factor: found["efh"].get((year, LA_LEVEL, gss, factor)) for factor in benchmark_spec()["efh_factors"]}
        listed.append({"rank": entry["rank"], "name": name, "closeness": entry["closeness"], "code": gss,
                       "rows": rows if gss else {}})
    return listed


def neighbour_rows(neighbours: list[dict], factors: dict) -> list[list[Cell]]:
    """Each neighbour: name, closeness band, and its rate per 10,000 for each factor."""
    return [[text(n["name"]), text(str(n["rank"])), text(n["closeness"]),
             *[number(rate_text(n["rows"].get(f)) if n["code"] else "[x]") for f in factors],
             text(note_text(*n["rows"].values()) if n["code"] else "no figures for this code this year")]
            for n in neighbours]


def cp_plan_rows(cp: dict, year: str, code: str, region: str, of: int) -> list[list[Cell]]:
    """Child protection plans (config/benchmarks.yaml `cp_plan_rows`): per 10,000 children, or the
    share of plans started that were a second or subsequent plan, against region, England and
    neighbours."""
    rows = []
    for measure, label in benchmark_spec()["cp_plan_rows"].items():
        la, reg = cp.get((year, LA_LEVEL, code, measure)), cp.get((year, REGION_LEVEL, region, measure))
        eng = cp.get((year, NATIONAL_LEVEL, "E92000001", measure))
        median = cp.get((year, NEIGHBOURS_LEVEL, code, measure))
        if la is None:
            continue
        unit = "%" if measure == SUBSEQUENT_SHARE else ""
        rows.append([text(label), count_cell(la) if not unit else number(""), number(rate_text(la, unit)),
                     number(rate_text(reg, unit)), number(rate_text(eng, unit)), number(median_text(median, of, unit)),
                     text(note_text(la, reg, eng) or "none")])
    return rows
