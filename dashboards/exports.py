"""Open-data exports for researchers: every published (disclosure-controlled) table, one dataset
each, in the layout of Explore Education Statistics (EES), as CSV with its .meta.csv and as typed
Parquet, with a data dictionary (docs/open-data.md).

Each dataset is a function of the Publication returning a typed frame (see dashboards/open_data.py
for its shape) and an entry in config/exports.yaml describing its columns; DATASETS lists them.
Adding a dataset is one function, one entry here and one there. Suppressed values are `c`, not
available `x`, not applicable `z`, as in DfE open data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from assets.config import local_authorities
from assets.metadata import Columns, markdown_table
from dashboards import figures
from dashboards.benchmarks import NEIGHBOURS_LEVEL, benchmarks_export
from dashboards.open_data import (
    dataset_columns,
    export_config,
    neutralised,
    partnership_geography,
    write_csv,
    write_dataset,
)
from dashboards.publication import (
    PARTNERSHIP_CODE,
    Publication,
    efh_pathway_export,
    network_wording,
    replace_folder,
)
from dashboards.views.common import funnels, quarter_rates, spc

FILES_DICTIONARY = [
    # file, column, parquet type, description: the columns every dataset shares
    ("*", "time_period", "Int64 (integer, nullable)", "The year (4 digits): see each dataset's own row."),
    ("*", "time_identifier", "string", "'Calendar year' (quarterly datasets, with the quarter as a filter) or "
                                       "'Reporting year' (statutory returns and DfE tables)."),
    ("*", "geographic_level", "string", "'Local authority'; the partnership's level (config/publication.yaml, "
                                        "docs/open-data.md); 'Regional' and 'National' in benchmarks only."),
    ("*", "country_code", "string", "E92000001 England, W92000004 Wales, K04000001 England and Wales (a "
                                    "partnership with LAs in both)."),
    ("*", "country_name", "string", "The country's name."),
    ("*", "region_code", "string", "GSS code of the region (config/la_codes.csv); on partnership rows only when "
                                   "all its LAs are in one English region."),
    ("*", "region_name", "string", "The region's name."),
    ("*", "new_la_code", "string", "GSS code (9 characters) of the local authority; blank on other levels' rows."),
    ("*", "old_la_code", "string", "DfE's 3-digit LA code (table C3); z for a Welsh LA, which has none."),
    ("*", "la_name", "string", "The local authority's name."),
    ("*", "pfa_code", "string", "On partnership rows: the partnership's code (z: no ONS code applies)."),
    ("*", "pfa_name", "string", "On partnership rows: the partnership's name."),
    ("indicators", "indicator", "string", "Indicator id."),
    ("indicators", "unit", "string", "What the indicator counts: 'case' (a child's case) or 'context' (a place, "
                                     "peer group, school or online space)."),
    ("indicators", "domain", "string", "Domain code."),
    ("indicators", "title", "string", "Short title."),
    ("indicators", "question", "string", "The question the indicator answers, in plain English."),
    ("indicators", "direction", "string", "'higher' or 'lower': which way is better."),
    ("indicators", "informational", "bool", "True when reported but never part of a score."),
]


# ---------------------------------------------------------------- shared pieces


def quarter_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """la_code, time_period (the calendar year) and quarter of rows keyed by period '2025Q3'."""
    return pd.DataFrame({"la_code": frame["la_code"].to_numpy(),
                         "time_period": frame["period"].str[:4].astype(int).to_numpy(),
                         "quarter": ("Q" + frame["period"].str[-1]).to_numpy()}, index=frame.index)


def year_keys(frame: pd.DataFrame, period: str = "period") -> pd.DataFrame:
    return pd.DataFrame({"la_code": frame["la_code"].to_numpy(),
                         "time_period": frame[period].astype(int).to_numpy()}, index=frame.index)


def published(out: pd.DataFrame, name: str, values, suppressed=None, unavailable=None, scale: float = 1) -> None:
    """An indicator and its status: c where suppressed, x where not available, z where there is
    nothing (nothing to divide by); the value missing in all three."""
    values = pd.Series(np.asarray(values, dtype=float), index=out.index) * scale
    status = pd.Series(pd.NA, index=out.index, dtype="string")
    status[values.isna()] = "z"
    for hidden, symbol in ((suppressed, "c"), (unavailable, "x")):
        if hidden is not None:
            status[np.asarray(hidden, dtype=bool)] = symbol
    out[name] = values.where(status.isna())
    out[f"{name}_status"] = status


def rate_indicators(out: pd.DataFrame, rates: pd.DataFrame, unavailable=None) -> pd.DataFrame:
    for column in ("numerator", "denominator"):
        published(out, column, rates[column], rates[f"{column}_suppressed"], unavailable)
    for column, source in (("rate_percent", "rate"), ("ci_lower_percent", "ci_low"), ("ci_upper_percent", "ci_high")):
        published(out, column, rates[source], rates[f"{source}_suppressed"], unavailable, scale=100)
    return out


def indicator_facts(pub: Publication) -> dict[str, object]:
    return {i.id: i for i in pub.framework.indicators}


# ---------------------------------------------------------------- the datasets


def indicator_rates(pub: Publication) -> pd.DataFrame:
    rates, facts = pub.rates, indicator_facts(pub)
    out = quarter_keys(rates)
    out["domain"] = rates["indicator_id"].map(lambda i: facts[i].domain)
    out["indicator"] = rates["indicator_id"]
    out["unit"] = rates["indicator_id"].map(lambda i: facts[i].unit)
    return rate_indicators(out, rates, rates["not_available"])


def scores(pub: Publication) -> pd.DataFrame:
    out = quarter_keys(pub.scores)
    out["domain"] = pub.scores["domain"]
    published(out, "score", pub.scores["score"], pub.scores["score_suppressed"])
    return out


def statutory_rates(pub: Publication) -> pd.DataFrame:
    rates = pub.statutory_rates
    if rates is None or rates.empty:
        return empty("statutory_rates")
    out = year_keys(rates)
    out["indicator"] = rates["indicator_id"]
    rate_indicators(out, rates)
    published(out, "mean_value", rates["mean_value"], rates["mean_value_suppressed"])
    return out


def benchmarks(pub: Publication) -> pd.DataFrame:
    """The extra-familial harm benchmarks (docs/benchmarks.md) in the layout the benchmarks
    contract fixes: one row per area, year and factor for the partnership's LAs, their regions and
    England, each LA followed by its statistical neighbours' median (a row at level 'Statistical
    neighbours (median)' with the LA's codes: the one level of these files outside EES's list)."""
    return benchmark_rows(pub, "benchmarks", pub.benchmarks, "factor")


def cp_plans(pub: Publication) -> pd.DataFrame:
    """DfE's child protection plan tables D3 and D5 per 10,000 children (and second or subsequent
    plans as a share of those started), laid out as the benchmarks are."""
    return benchmark_rows(pub, "cp_plans", pub.cp_plans, "measure")


def benchmark_rows(pub: Publication, name: str, measures: pd.DataFrame | None, filter_name: str) -> pd.DataFrame:
    if measures is None or measures.empty:
        return empty(name)
    rows = benchmarks_export(measures.rename(columns={filter_name: "factor"}), pub.benchmark_las or None)
    level = rows["geographic_level"]
    code = rows["new_la_code"].where(level.isin(["Local authority", NEIGHBOURS_LEVEL]),
                                     rows["region_code"].where(level == "Regional", rows["country_code"]))
    out = pd.DataFrame({"la_code": code.astype(str), "area_level": level.astype(str),
                        "time_period": rows["time_period"].astype(int), filter_name: rows["factor"].astype(str)})
    why = rows["status"].fillna("x").astype(str)  # DfE's marker, or x: no population or neighbour value
    on_neighbour_row = level.eq(NEIGHBOURS_LEVEL)
    for column in ("number", "population_0_to_17", "rate_per_10000", "comparator_count"):
        values = rows[column].astype("float64")
        published(out, column, values)
        missing = values.isna()
        # A neighbour row has no number of its own, an LA row no comparator: not applicable (z).
        applicable = ~on_neighbour_row if column in ("number", "population_0_to_17") else (
            on_neighbour_row if column == "comparator_count" else pd.Series(True, index=rows.index))
        out[f"{column}_status"] = pd.Series(pd.NA, index=out.index, dtype="string").mask(
            missing & applicable, why).mask(missing & ~applicable, "z")
    return out.reset_index(drop=True)


def efh_pathway(pub: Publication) -> pd.DataFrame:
    """The EFH pathway from CIN census returns (docs/statutory-returns.md): children at each stage
    and category per LA, census year and partnership pool, each a share of the stage before."""
    rows = efh_pathway_export(pub)
    if rows.empty:
        return empty("efh_pathway")
    code = rows["la_code"].where(rows["geographic_level"] != "Partnership", PARTNERSHIP_CODE)
    out = pd.DataFrame({"la_code": code.astype(str), "time_period": rows["time_period"].astype(int),
                        "stage": rows["stage"].astype(str), "stage_label": rows["stage_label"].astype(str)})
    published(out, "children", rows["count"].astype("float64"), rows["count_suppressed"])
    not_applicable = rows["share_status"].eq("z")
    for column, source in (("share_percent", "share"), ("ci_lower_percent", "ci_low"), ("ci_upper_percent", "ci_high")):
        published(out, column, rows[source].astype("float64"), rows["share_suppressed"] & ~not_applicable, scale=100)
    return out


def audit_coverage(pub: Publication) -> pd.DataFrame:
    coverage = pub.coverage
    if coverage is None or coverage.empty:
        return empty("audit_coverage")
    out = year_keys(coverage, "time_period")
    published(out, "quarters", coverage["quarters"])
    published(out, "audit_cases", coverage["audit_cases"], coverage["audit_cases_suppressed"])
    published(out, "efh_factor_mentions", coverage["efh_factor_mentions"], unavailable=coverage[
        "efh_factor_mentions"].isna())
    published(out, "coverage_percent", coverage["coverage"], coverage["coverage_suppressed"],
              unavailable=coverage["coverage"].isna() & ~coverage["coverage_suppressed"], scale=100)
    return out


def funnel_flags(pub: Publication) -> pd.DataFrame:
    """Where each LA lies in each indicator's funnel plot (as the indicator pages draw it), and
    whether a flag is better or worse given the indicator's direction."""
    inner, outer = figures.funnel_levels()[0], figures.funnel_levels()[-1]
    facts, rows = indicator_facts(pub), []
    # The funnels and rows the site's pages drew from (built once per publication, and shared).
    for period in pub.periods:
        quarter = quarter_rates(pub, period)
        for indicator_id, funnel in funnels(pub, period).items():
            points = ({r["la_code"]: r for r in funnel.points.to_dict("records")}
                      if len(funnel.points) and funnel.target is not None else {})
            direction = facts[indicator_id].direction
            total = quarter.get((PARTNERSHIP_CODE, indicator_id))
            for code in sorted(c for c, i in quarter if i == indicator_id and c != PARTNERSHIP_CODE):
                row, point = quarter[(code, indicator_id)], points.get(code)
                flag = int(point["flag"]) if point is not None else 0
                rows.append({
                    "la_code": code, "period": period, "domain": facts[indicator_id].domain,
                    "indicator": indicator_id, "direction": direction,
                    "position": point["position"] if point is not None else "not plotted",
                    "flag": {1: "above", -1: "below"}.get(flag, "none"),
                    "assessment": figures.flag_verdict(flag, direction) or "not flagged",
                    "denominator": row["denominator"], "denominator_suppressed": row["denominator_suppressed"],
                    "not_available": row["not_available"], "rate": row["rate"],
                    "rate_suppressed": row["rate_suppressed"],
                    "target": funnel.target, "target_suppressed": bool(total is None or total["rate_suppressed"]),
                    **{f"{side}_{name}": (point[f"{side}_{level}"] if point is not None else np.nan)
                       for side in ("lower", "upper") for name, level in (("inner", inner), ("outer", outer))}})
    if not rows:
        return empty("funnel_flags")
    frame = pd.DataFrame(rows)
    out = quarter_keys(frame)
    for column in ("domain", "indicator", "direction", "position", "flag", "assessment"):
        out[column] = frame[column]
    published(out, "denominator", frame["denominator"], frame["denominator_suppressed"], frame["not_available"])
    published(out, "rate_percent", frame["rate"], frame["rate_suppressed"], frame["not_available"], scale=100)
    published(out, "partnership_rate_percent", frame["target"], frame["target_suppressed"], scale=100)
    for name in ("inner", "outer"):
        for side in ("lower", "upper"):
            published(out, f"{name}_{side}_percent", frame[f"{side}_{name}"], scale=100)
    return out


def spc_signals(pub: Publication) -> pd.DataFrame:
    """Every area's p-chart points (published quarters only) with their special-cause signals."""
    facts, rows = indicator_facts(pub), []
    areas = sorted({code for code in pub.rates["la_code"].unique() if code != PARTNERSHIP_CODE}) + [PARTNERSHIP_CODE]
    for indicator_id, indicator in facts.items():
        for la_code in areas:
            # The p-chart numbers the site drew (built once per publication, and shared).
            for point in spc(pub, indicator, None if la_code == PARTNERSHIP_CODE else la_code):
                rows.append({"la_code": la_code, "period": point.period, "domain": indicator.domain,
                             "indicator": indicator_id, "signal": point.signal or "common cause",
                             "rules": point.rules or "none", "numerator": point.numerator,
                             "denominator": point.denominator, "rate": point.rate, "centre": point.centre,
                             "lower": point.lower, "upper": point.upper})
    if not rows:
        return empty("spc_signals")
    frame = pd.DataFrame(rows)
    out = quarter_keys(frame)
    for column in ("domain", "indicator", "signal", "rules"):
        out[column] = frame[column]
    published(out, "numerator", frame["numerator"])
    published(out, "denominator", frame["denominator"])
    for column, source in (("rate_percent", "rate"), ("mean_percent", "centre"),
                           ("lower_limit_percent", "lower"), ("upper_limit_percent", "upper")):
        published(out, column, frame[source], scale=100)
    return out


def context_networks(pub: Publication) -> pd.DataFrame:
    networks = pub.networks
    if networks is None or networks.empty:
        return empty("context_networks")
    out = quarter_keys(networks)
    out["measure"] = networks["measure"]
    published(out, "value", networks["value"], networks["value_suppressed"])
    return out


def case_audits(pub: Publication) -> pd.DataFrame:
    audits = pub.audits
    if audits is None or audits.empty:
        return empty("case_audits")
    out = quarter_keys(audits)
    out["audit"] = audits["number"].astype(str)
    out["theme"] = audits["theme"].fillna("withheld")
    published(out, "cases_audited", audits["cases"], audits["cases_suppressed"])
    for column in ("actions", "actions_done", "actions_overdue"):
        published(out, column, audits[column], audits[f"{column}_suppressed"])
    return out


def audit_grades(pub: Publication) -> pd.DataFrame:
    if pub.audit_grades is None or pub.audit_grades.empty or pub.audits is None:
        return empty("audit_grades")
    grades = pub.audit_grades.merge(pub.audits[["number", "la_code", "period"]], on="number")
    out = quarter_keys(grades)
    out["audit"] = grades["number"].astype(str)
    out["domain"] = grades["domain"]
    out["grade"] = grades["answer"].astype(str)
    published(out, "answers", grades["count"], grades["count_suppressed"])
    return out


def submissions(pub: Publication) -> pd.DataFrame:
    subs = pub.submissions
    if subs.empty:
        return empty("submissions")
    out = quarter_keys(subs)
    out["pack_outcome"] = subs["status"].replace("", "all packs")
    for column in ("cases", "rows_received", "rows_quarantined"):
        published(out, column, subs[column], subs[f"{column}_suppressed"])
    published(out, "packs_rejected", subs["packs_rejected"])
    return out


def quarantine_rules(pub: Publication) -> pd.DataFrame:
    rules = pub.quarantine_rules
    if rules.empty:
        return empty("quarantine_rules")
    out = quarter_keys(rules)
    out["rule"] = rules["rule"]
    published(out, "breaches", rules["breaches"], rules["breaches_suppressed"])
    return out


def empty(name: str) -> pd.DataFrame:
    """A dataset with no rows (nothing of its kind published yet): its header is still written."""
    columns = ["la_code", "time_period"]
    for column in dataset_columns(name):
        columns += [column.name, f"{column.name}_status"] if column.kind == "Indicator" else [column.name]
    return pd.DataFrame({c: pd.Series(dtype="float64" if c == "time_period" else "object") for c in columns})


# Every dataset of the exports: its file name and the function that makes its frame. Its columns
# are described under the same name in config/exports.yaml.
DATASETS: dict[str, Callable[[Publication], pd.DataFrame]] = {
    "indicator_rates": indicator_rates,
    "scores": scores,
    "statutory_rates": statutory_rates,
    "benchmarks": benchmarks,
    "cp_plans": cp_plans,
    "efh_pathway": efh_pathway,
    "audit_coverage": audit_coverage,
    "funnel_flags": funnel_flags,
    "spc_signals": spc_signals,
    "context_networks": context_networks,
    "case_audits": case_audits,
    "audit_grades": audit_grades,
    "submissions": submissions,
    "quarantine_rules": quarantine_rules,
}


# ---------------------------------------------------------------- writing


def write_exports(publication: Publication, out_dir: Path) -> list[Path]:
    """Write every export into `out_dir` (replaced whole, so a reader never sees half of one)."""
    return replace_folder(out_dir, lambda folder: fill_exports(publication, folder))


def description_words(pub: Publication) -> dict[str, str]:
    """What config/exports.yaml's descriptions name from other settings: the funnel's limits and
    the network measures."""
    levels = figures.funnel_levels()
    measures = "; ".join(f"{code} {words}" for code, words in network_wording()["measures"].items())
    return {"inner": figures.level_label(levels[0]), "outer": figures.level_label(levels[-1]), "measures": measures}


def member_las(pub: Publication) -> list[str]:
    """The partnership's LAs: every LA that sent a pack or a statutory return."""
    codes = set(pub.la_codes) | set(pub.submissions["la_code"]) if len(pub.submissions) else set(pub.la_codes)
    if pub.statutory_rates is not None and len(pub.statutory_rates):
        codes |= set(pub.statutory_rates["la_code"])
    return sorted(code for code in codes if code != PARTNERSHIP_CODE and code in local_authorities())


def fill_exports(publication: Publication, folder: Path) -> list[str]:
    words, members = description_words(publication), member_las(publication)
    written, dictionary = [], list(FILES_DICTIONARY)
    for name in export_config()["datasets"]:
        if name not in DATASETS:
            raise ValueError(f"config/exports.yaml describes {name}, which dashboards/exports.py does not make")
    for name, make in DATASETS.items():
        files, rows = write_dataset(folder, name, make(publication), members, words)
        written += files
        dictionary += rows
    definitions = indicator_definitions(publication)
    write_csv(definitions, folder / "indicators.csv")
    definitions.astype({c: "string" for c in definitions.columns if definitions[c].dtype == object}).to_parquet(
        folder / "indicators.parquet", index=False)
    written += ["indicators.csv", "indicators.parquet"]
    write_csv(pd.DataFrame(dictionary, columns=["file", "column", "parquet_type", "description"]),
              folder / "data_dictionary.csv")
    (folder / "README.txt").write_text(readme(publication), encoding="utf-8")
    return written + ["data_dictionary.csv", "README.txt"]


def indicator_definitions(publication: Publication) -> pd.DataFrame:
    """The indicator definitions: an ancillary file (no time, no geography, so no EES metadata)."""
    return pd.DataFrame([{"indicator": i.id, "unit": i.unit, "domain": i.domain, "title": i.title,
                          "question": i.question, "direction": i.direction, "informational": i.informational}
                         for i in publication.framework.indicators])


def readme(publication: Publication) -> str:
    datasets = "\n".join(f"{name:<17}{spec['title']}" for name, spec in export_config()["datasets"].items())
    partnership = partnership_geography()
    return README.format(datasets=datasets, level=partnership["level"], code=partnership["code"],
                         name=partnership["name"], framework=publication.framework.sha256[:12])


def exports_metadata(publication: Publication, written: list[Path], folder: Path) -> dict:
    """What the `exports` step reports: files, rows, how many rates were suppressed, a preview."""
    rates = indicator_rates(publication)
    preview = rates[["time_period", "quarter", "la_code", "indicator", "numerator", "denominator", "rate_percent"]]
    return {"files": len(written), "folder": folder, "dagster/row_count": len(rates),
            "rates_suppressed": int((rates["numerator_status"] == "c").sum()),
            "dagster/column_schema": Columns(tuple((name, str(kind)) for name, kind in rates.dtypes.items())),
            "preview": markdown_table([tuple("" if pd.isna(v) else v for v in row)
                                       for row in preview.head(10).itertuples(index=False, name=None)],
                                      tuple(preview.columns))}


README = """safeguarding-audit open data

Every published table, one dataset each, in the layout of Explore Education Statistics (EES, the
DfE's open data standards: time_period, time_identifier, geographic_level, country_code,
country_name, region_code, region_name, new_la_code, old_la_code, la_name, then filters and
indicators). Each dataset comes as:
  <name>.csv       the data, with c, x or z in a cell where no number is published;
  <name>.meta.csv  EES metadata: each filter and indicator, its label, unit and decimal places;
  <name>.parquet   the same table with real types: counts Int64, rates and scores float64,
                   time_period an integer; an unpublished cell is null, and the column
                   <indicator>_status beside it holds c, x or z (null where the value is shown).

{datasets}
indicators       the indicator definitions (an ancillary file: full rules in docs/indicators.md).
data_dictionary  every column of every file, with its Parquet type.

Time: quarterly datasets have time_identifier 'Calendar year', time_period the year and the
quarter (Q1 to Q4) as the `quarter` filter (EES has no calendar-quarter identifier). Statutory
returns and DfE's table C3 use 'Reporting year', time_period the year ending 31 March (2025 is
April 2024 to March 2025), as DfE's own children in need statistics do.

The partnership: EES has no level for a safeguarding partnership. Its rows have geographic_level
'{level}', code {code} in pfa_code ('z': no ONS code applies) and '{name}' in pfa_name; their
country (and region, when all its LAs share one) is its LAs'. Welsh LAs have old_la_code z (DfE
gives them no 3-digit code).

Symbols: c = confidential (a count from 1 to 5, or one that could be worked out by subtraction
from published totals, and any rate built on it); x = not available (e.g. a pack that sent no
contexts); z = not applicable (nothing to divide by). Rates are percentages (0 to 100).
Only aggregates are published: no case-level data, no case references.
Indicator framework: sha256 {framework}.
"""

__all__ = ["DATASETS", "exports_metadata", "neutralised", "write_csv", "write_exports"]
