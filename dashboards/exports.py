"""Open-data exports for researchers: the published (disclosure-controlled) aggregates in the tidy
layout the DfE uses on Explore Education Statistics, as CSV and Parquet, with a data dictionary.

Suppressed values are `c`, not-applicable values `z`, as in DfE open data."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from dashboards.publication import Publication, replace_folder, tidy_export, time_columns

DICTIONARY = [
    # file, column, description
    ("*", "time_period", "Calendar year of the quarter, e.g. 2025."),
    ("*", "time_identifier", "The quarter, e.g. 'Calendar year Q3' (1 July to 30 September)."),
    ("*", "geographic_level", "'Local authority', or 'Partnership' for all LAs in the partnership together "
                              "(a level of this project's, not one of DfE's)."),
    ("*", "la_code", "GSS code of the local authority; blank on partnership rows."),
    ("*", "la_name", "Name of the local authority, or of the partnership."),
    ("indicator_rates", "indicator", "Indicator id (see indicators.csv and docs/indicators.md)."),
    ("indicator_rates", "numerator", "Cases for which the indicator was met. c = suppressed (1 to 5, or "
                                     "recoverable by subtraction)."),
    ("indicator_rates", "denominator", "Cases to which the indicator applied. c = suppressed."),
    ("indicator_rates", "rate", "numerator / denominator, 0 to 1. c = suppressed; z = no case applicable."),
    ("indicator_rates", "ci_low", "Lower bound of the 95% Wilson score interval of the rate."),
    ("indicator_rates", "ci_high", "Upper bound of the 95% Wilson score interval of the rate."),
    ("scores", "domain", "PI parent inclusion, OF offender focus, CI context interventions, PF plan focus, "
                         "PRACTICE the practice score (weighted mean of the four), CX the context score (mean "
                         "over the contexts' scores; not part of the practice score)."),
    ("scores", "score", "Mean of the cases' domain scores, 0 to 1, higher is closer to the model. c = based on "
                        "5 or fewer cases; z = no case scored."),
    ("context_networks", "measure", "Shared contexts and networks of children linked through them (docs/contexts.md): "
                                    "the measure's code."),
    ("context_networks", "label", "What the measure counts, in words."),
    ("context_networks", "value", "The count. c = suppressed (1 to 5, or recoverable by subtraction). Only packs "
                                  "that sent contexts (contract v1.1) count; a geography with none has no rows."),
    ("indicators", "indicator", "Indicator id."),
    ("indicators", "unit", "What the indicator counts: 'case' (a child's case) or 'context' (a place, peer "
                           "group, school or online space)."),
    ("indicators", "domain", "Domain code."),
    ("indicators", "title", "Short title."),
    ("indicators", "question", "The question the indicator answers, in plain English."),
    ("indicators", "direction", "'higher' or 'lower': which way is better."),
    ("indicators", "informational", "True when reported but never part of a score."),
]


def write_exports(publication: Publication, out_dir: Path) -> list[Path]:
    """Write every export into `out_dir` (replaced whole, so a reader never sees half of one)."""
    return replace_folder(out_dir, lambda folder: fill_exports(publication, folder))


def fill_exports(publication: Publication, folder: Path) -> list[str]:
    tables = {
        "indicator_rates": tidy_export(publication),
        "scores": tidy_scores(publication),
        "context_networks": tidy_networks(publication),
        "indicators": pd.DataFrame([{"indicator": i.id, "unit": i.unit, "domain": i.domain, "title": i.title,
                                     "question": i.question, "direction": i.direction,
                                     "informational": i.informational} for i in publication.framework.indicators]),
    }
    written = []
    for name, frame in tables.items():
        write_csv(frame, folder / f"{name}.csv")
        frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}).to_parquet(
            folder / f"{name}.parquet", index=False)
        written += [f"{name}.csv", f"{name}.parquet"]
    write_csv(pd.DataFrame(DICTIONARY, columns=["file", "column", "description"]), folder / "data_dictionary.csv")
    (folder / "README.txt").write_text(README, encoding="utf-8")
    return written + ["data_dictionary.csv", "README.txt"]


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Every CSV the exports write goes through here: text from config (titles, questions, names)
    could otherwise run as a formula when a researcher opens the file in a spreadsheet."""
    frame.map(neutralised).to_csv(path, index=False)


def neutralised(cell):
    """A text cell a spreadsheet would read as a formula, with a ' in front so that it is read as
    text; numbers (negative ones too, and numbers written as text) and the symbols c, x and z are
    left as they are. Parquet files keep the original: their columns are typed, not formulas."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START) and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def tidy_scores(publication: Publication) -> pd.DataFrame:
    scores = publication.scores
    out = time_columns(scores)
    out["domain"] = scores["domain"].to_numpy()
    out["score"] = [("c" if hidden else ("z" if pd.isna(value) else f"{value:.6f}"))
                    for value, hidden in zip(scores["score"], scores["score_suppressed"], strict=True)]
    return out


def tidy_networks(publication: Publication) -> pd.DataFrame:
    networks = publication.networks
    out = time_columns(networks)
    out["measure"] = networks["measure"].to_numpy()
    out["label"] = networks["label"].to_numpy()
    out["value"] = [("c" if hidden else str(int(value)))
                    for value, hidden in zip(networks["value"], networks["value_suppressed"], strict=True)]
    return out


README = """safeguarding-audit open data

indicator_rates  one row per quarter, geography and indicator: numerator, denominator, rate and its
                 95% Wilson score interval.
scores           one row per quarter, geography and domain: the domain scores, the practice score
                 and the context score (domain CX: the mean over contexts, never part of the
                 practice score).
context_networks one row per quarter, geography and measure: contexts, shared contexts and networks
                 of children linked through them (packs that sent contexts only).
indicators       the indicator definitions (full rules in docs/indicators.md of the project).
data_dictionary  every column of every file.

Each file comes as CSV and as Parquet. Layout: the tidy format of DfE open data (time_period,
time_identifier, geographic_level, la_code, la_name, then filters and measures).

Symbols: c = confidential (a count from 1 to 5, or one that could be worked out by subtraction
from published totals, and any rate built on it); z = not applicable; x = not available.
Only aggregates are published: no case-level data, no case references.
"""
