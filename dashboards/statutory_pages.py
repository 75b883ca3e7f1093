"""The statutory returns section of the site: the statutory indicators from the CIN census and
SSDA903 returns (every child, not only the audited cohort), and the national benchmarks from DfE
table C3 with each LA's audit coverage. Built from the Publication only, like every page."""

from __future__ import annotations

import pandas as pd

from assets.benchmarks import benchmark_spec
from dashboards.pages import Cell, Page, count, esc, interval, paragraph, rate, table, text
from dashboards.publication import PARTNERSHIP_CODE, Publication, la_name

STATUTORY_FILE = "statutory.html"
BENCHMARKS_FILE = "benchmarks.html"


def year_label(period: str) -> str:
    """CIN and SSDA903 years end 31 March: '2024' is April 2023 to March 2024."""
    return f"{int(period) - 1}-{period[2:]}"


def statutory_page(pub: Publication) -> Page:
    rates = pub.statutory_rates
    parts = [paragraph("Every English LA already sends the Children in Need census and the SSDA903 return. "
                       "They hold no parent-inclusion data, but they say which children had extra-familial harm "
                       "identified at assessment, whether those children were put on child protection plans "
                       "and under which category of abuse, and how often children in care went missing. So "
                       "the 'square peg' can be measured for all of an LA's children, not only the audited "
                       "cohort.", "lead"),
             paragraph("Years run from April to March. Which statutory items are used, and what is dropped for "
                       "privacy, is in the project's docs/statutory-returns.md.")]
    if rates is None or rates.empty:
        parts.append(paragraph("No statutory returns loaded yet. Put CIN census XML files and SSDA903 folders "
                               "(<LA code>_<YYYY>_ssda903) in the statutory inbox and run the pipeline."))
        return Page(STATUTORY_FILE, "Statutory returns", "\n".join(parts))
    for indicator in pub.statutory_framework.indicators:
        mine = rates[rates["indicator_id"] == indicator.id]
        if mine.empty:
            continue
        rows = []
        for _, row in mine.iterrows():
            cells = [text(row["la_name"]), text(year_label(row["period"])),
                     count(row["numerator"], row["numerator_suppressed"]),
                     count(row["denominator"], row["denominator_suppressed"]),
                     rate(row["rate"], row["rate_suppressed"]),
                     interval(row["ci_low"], row["ci_high"], row["ci_low_suppressed"])]
            if indicator.value:
                cells.append(Cell(mean_text(row), "num"))
            rows.append(cells)
        headers = ["Area", "Year", "Children met", "Children applicable", "Rate", "95% confidence interval"]
        if indicator.value:
            headers.append("Mean per child")
        better = "Lower" if indicator.direction == "lower" else "Higher"
        parts += [f'<h2 id="{esc(indicator.id)}">{esc(indicator.id)} {esc(indicator.title)}</h2>',
                  paragraph(indicator.question), paragraph(f"{better} is better. Source: {indicator.citation}"),
                  table(f"{indicator.id} by local authority and year", headers, rows)]
    return Page(STATUTORY_FILE, "Statutory returns", "\n".join(parts))


def mean_text(row: pd.Series) -> str:
    if row["mean_value_suppressed"]:
        return "[c]"
    return "[z]" if pd.isna(row["mean_value"]) else f"{row['mean_value']:.2f}"


def benchmarks_page(pub: Publication) -> Page:
    spec = benchmark_spec()
    names = spec["efh_factors"]
    bench = pub.benchmarks
    parts = [paragraph("How each local authority's assessments compare with England and its region: the share "
                       "of assessments with any factor recorded that identified each extra-familial harm "
                       "factor, from the Department for Education's table C3 (Characteristics of children in "
                       "need), as published. DfE's own symbols are kept: c suppressed, x not available, z not "
                       "applicable, u low reliability, k fewer than 0.5.", "lead")]
    if bench is None or bench.empty:
        parts.append(paragraph("No local authority with published figures has sent a pack or a return yet."))
        return Page(BENCHMARKS_FILE, "National benchmarks", "\n".join(parts))
    latest = bench["time_period"].max()
    parts.append(f"<h2>Extra-familial harm factors at assessment, {esc(year_label(latest))}</h2>")
    for code in sorted(bench["la_code"].unique(), key=la_name):
        mine = bench[(bench["la_code"] == code) & (bench["time_period"] == latest)]
        rows = [[text(names.get(r["factor"], r["factor"])), published_count(r["la_count"], r["la_marker"]),
                 share(r["la_share"]), share(r["region_share"]), share(r["england_share"])]
                for _, r in mine.sort_values("factor").iterrows()]
        parts.append(table(f"{la_name(code)}: factors at the end of assessment, {year_label(latest)}",
                           ["Factor", "Local authority (episodes)", "Local authority (share)", "Region (share)",
                            "England (share)"], rows))
    parts += ["<h2>Audit coverage</h2>",
              paragraph("The audit cohort (distinct cases in the packs of the quarters inside each April-March "
                        "year) against the LA's published count of assessments with going missing, child sexual "
                        "or criminal exploitation, trafficking or gangs factors (factor mentions, not children: "
                        "one assessment can record several). A low share means the audit sees a small part of "
                        "the extra-familial harm the LA identifies.")]
    coverage = pub.coverage
    if coverage is None or coverage.empty:
        parts.append(paragraph("No packs loaded yet."))
    else:
        rows = [[text(r["la_name"]), text(year_label(r["time_period"])), text(str(r["quarters"])),
                 count(r["audit_cases"], r["audit_cases_suppressed"]),
                 published_count(r["efh_factor_mentions"], None),
                 Cell("[c]" if r["coverage_suppressed"] else ("[x]" if pd.isna(r["coverage"])
                                                              else f"{r['coverage'] * 100:.1f}%"), "num")]
                for _, r in coverage.iterrows() if r["la_code"] != PARTNERSHIP_CODE]
        parts.append(table("Audit cohort against published extra-familial harm assessments",
                           ["Local authority", "Year", "Quarters audited", "Audit cases",
                            "Published EFH factor mentions", "Coverage"], rows))
    return Page(BENCHMARKS_FILE, "National benchmarks", "\n".join(parts))


def published_count(value, marker) -> Cell:
    """A figure DfE published: its own marker where it published one."""
    if marker is not None and not pd.isna(marker):
        return Cell(esc(str(marker)), "num")
    return Cell("[x]" if pd.isna(value) else f"{int(value):,}", "num")


def share(value) -> Cell:
    return Cell("[x]" if pd.isna(value) else f"{value * 100:.1f}%", "num")
