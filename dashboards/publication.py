"""The publishable aggregates: every number the site and the exports show, computed from the
restricted warehouse and passed through disclosure control here, once. Pages and exports render
these tables; they never read case-level tables themselves.

Published tables carry numbers plus `<column>_suppressed` flags (see dashboards/disclosure.py)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from assets.benchmark_measures import cp_plan_measures, efh_measures
from assets.benchmarks import audit_coverage
from assets.config import load_yaml, local_authorities
from assets.efh_pathway import pathway_counts
from assets.metadata import Columns, markdown_table
from assets.scoring import Framework, framework, pooled_rates, scores_sql
from assets.statutory import statutory_framework
from dashboards.disclosure import (
    Relation,
    suppress_counts,
    suppress_in_relations,
    suppress_rates,
    suppress_scores,
    threshold,
)
from dashboards.efh_pathway import labelled, pathway_export_frame, suppress_pathway, with_partnership

PARTNERSHIP_CODE = ""  # la_code of partnership rows (no LA)


@cache
def partnership_name() -> str:
    """The partnership's name on its own, as a label: a table's row, a chart's legend, a heading."""
    return load_yaml("publication.yaml")["partnership"]["name"]


@cache
def partnership_in_sentences() -> str:
    """The partnership as running text names it ("one of the local authorities in the ..."):
    config/publication.yaml `in_sentences`, or "the" and its name."""
    spec = load_yaml("publication.yaml")["partnership"]
    return str(spec.get("in_sentences") or f"the {spec['name']}")


@cache
def restricted_marking() -> str:
    """The marking on every page of the restricted edition (config/publication.yaml)."""
    return str(load_yaml("publication.yaml")["restricted"]["marking"])


def la_name(code: str) -> str:
    return partnership_name() if code == PARTNERSHIP_CODE else local_authorities()[code].name


def replace_folder(target: Path, fill: Callable[[Path], list[str]]) -> list[Path]:
    """Write a published folder (site or exports) beside the old one, then swap it in whole, so a
    reader never sees half of one. `fill` writes into the new folder and returns the file names."""
    staging = target.with_name(target.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    names = fill(staging)
    # Renames, so that at every moment one whole folder is there: the old one until the new one
    # takes its name (a crash in between leaves the old one, named .old, which the next write replaces).
    previous = target.with_name(target.name + ".old")
    if previous.exists():
        shutil.rmtree(previous)
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    if previous.exists():
        shutil.rmtree(previous)
    return [target / name for name in names]


@dataclass
class Publication:
    """Everything that may be published, already disclosure-controlled."""

    rates: pd.DataFrame  # per quarter, indicator and LA (plus partnership rows)
    scores: pd.DataFrame  # per quarter, domain (and PRACTICE) and LA (plus partnership rows)
    submissions: pd.DataFrame  # per quarter and LA: status, cases, rows received and quarantined
    quarantine_rules: pd.DataFrame  # per quarter, LA and rule: rule breaches
    periods: list[str]
    la_codes: list[str]
    framework: Framework
    limit: int  # the disclosure threshold these tables were suppressed with
    statutory_rates: pd.DataFrame = None  # per CIN year, statutory indicator and LA (plus partnership rows)
    benchmarks: pd.DataFrame = None  # DfE C3 EFH factors per area and year: counts, rates, neighbours, funnel
    cp_plans: pd.DataFrame = None  # DfE D3 / D5 child protection plans per area and year, the same way
    neighbours: pd.DataFrame = None  # DfE's statistical neighbour model: old codes, rank, closeness
    benchmark_las: list[str] = None  # the partnership's LAs, each with its benchmarks page
    coverage: pd.DataFrame = None  # per LA and C3 year: audit cases against published EFH factor counts
    statutory_framework: Framework = None
    restricted: bool = False  # the restricted edition: nothing suppressed, for the partnership's auditors
    audits: pd.DataFrame = None  # per case audit: LA, quarter, theme, cases audited, actions (published_audits)
    audit_grades: pd.DataFrame = None  # per audit, domain and grade: moderated answers (suppressed)
    networks: pd.DataFrame = None  # per quarter, LA (plus partnership) and measure: shared contexts, networks
    efh_pathway: pd.DataFrame = None  # per CIN year, LA (plus partnership pool) and stage of the EFH pathway
    # Look-ups the pages make again and again (one area's series, one quarter's funnels), built
    # once: with 153 LAs, filtering the whole rates table per LA and indicator dominated rendering.
    lookups: dict = field(default_factory=dict, init=False, repr=False, compare=False)


def build_publication(con: duckdb.DuckDBPyConnection, fw: Framework | None = None,
                      limit: int | None = None) -> Publication:
    """Every published table, with counts from 1 to `limit` (default: config/publication.yaml)
    and anything derivable from them suppressed."""
    fw = fw or framework()
    limit = threshold() if limit is None else limit
    rates = published_rates(con, limit)
    return Publication(
        rates=rates,
        scores=published_scores(con, limit),
        submissions=published_submissions(con, limit),
        quarantine_rules=published_quarantine_rules(con, limit),
        limit=limit,
        statutory_rates=published_statutory_rates(con, limit),
        **published_benchmarks(con),
        efh_pathway=published_efh_pathway(con, limit),
        coverage=published_coverage(con, limit),
        **published_audits(con, limit),
        networks=published_networks(con, limit, rates),
        statutory_framework=statutory_framework(),
        periods=sorted(rates["period"].unique().tolist()) if len(rates) else [],
        la_codes=sorted(c for c in rates["la_code"].unique().tolist() if c != PARTNERSHIP_CODE) if len(rates)
        else [],
        framework=fw,
    )


def publishable_theme(theme) -> str | None:
    """An audit's theme as it may be shown: words only. One holding a number (a case reference, a
    key, a date) or an identifier is withheld (None)."""
    from assets.audit_returns import identifier_in

    if not isinstance(theme, str) or not theme.strip() or re.search(r"\d", theme) or identifier_in(theme):
        return None
    return theme.strip()


def published_audits(con: duckdb.DuckDBPyConnection, limit: int) -> dict[str, pd.DataFrame]:
    """The case audits held, for the public page: per audit its LA, quarter, theme (withheld when it
    holds an identifier), cases audited and actions (all, done, overdue); and the moderated grades
    per domain, each grade's count suppressed like any count, the domain's total its relation.
    Never a case_key, an audit id or a comment."""
    from assets.audit_actions import overdue_sql
    from assets.audits import MODERATED, audit_tool

    tool = audit_tool()
    done = tool.action_statuses[-1]
    audits = con.execute(f"""
        SELECT a.audit_id, a.la_code, a.period, a.theme, a.size AS cases,
               count(x.action_id) AS actions, count(x.action_id) FILTER (WHERE x.status = ?) AS actions_done,
               count(x.action_id) FILTER (WHERE {overdue_sql()}) AS actions_overdue
        FROM audits a LEFT JOIN audit_actions x USING (audit_id) GROUP BY ALL ORDER BY a.la_code, a.period,
             a.audit_id""",
                         [done]).df()
    audits["theme"] = [publishable_theme(theme) for theme in audits["theme"]]
    audits["number"] = range(1, len(audits) + 1)  # the public page's own numbering, not the audit id
    grade_domain = {q.id: q.domain for q in tool.questions if q.scale == "grade"}
    answers = con.execute("SELECT audit_id, question_id, answer FROM audit_answers WHERE agency = ?",
                          [MODERATED]).df()
    answers = answers[answers["question_id"].isin(list(grade_domain))]
    answers["domain"] = answers["question_id"].map(grade_domain)
    counted = answers.groupby(["audit_id", "domain", "answer"]).size().to_dict() if len(answers) else {}
    # Every grade of every domain, zeros too: a zero beside one hidden cell and a known total would
    # give the hidden cell away, so zeros take part in secondary suppression like any count.
    domains = sorted({(a, d) for a, d, _ in counted}) if counted else []
    grades = pd.DataFrame([(a, d, code, counted.get((a, d, code), 0)) for a, d in domains
                           for code in tool.answers("grade")], columns=["audit_id", "domain", "answer", "count"])
    totals = grades.groupby(["audit_id", "domain"])["count"].sum().reset_index().assign(answer="all")
    grades = pd.concat([grades, totals], ignore_index=True)
    grades["is_total"] = grades["answer"] == "all"
    grades["count"] = grades["count"].astype("int64")
    grades = suppress_counts(grades, numerator="count", denominator=None,
                             relation=Relation(("audit_id", "domain"), "is_total"), limit=limit)
    # Cases audited is the audit's design (its sample size, chosen in the plan), published as it is;
    # it makes each domain's total answers known, so grades are suppressed within that total.
    audits["cases_suppressed"] = False
    audits = suppress_counts(suppress_counts(audits, "actions", None, limit=limit), "actions_done", None, limit=limit)
    audits = suppress_counts(audits, "actions_overdue", None, limit=limit)
    grades = grades.merge(audits[["audit_id", "number"]], on="audit_id")
    return {"audits": with_names(audits.drop(columns=["audit_id"])), "audit_grades": grades.drop(columns=["audit_id"])}


def with_names(frame: pd.DataFrame) -> pd.DataFrame:
    frame["la_name"] = frame["la_code"].map(la_name)
    frame["geographic_level"] = frame["la_code"].map(
        lambda c: "Partnership" if c == PARTNERSHIP_CODE else "Local authority")
    return frame


def published_rates(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """Indicator rates per LA and quarter, and pooled for the partnership per quarter, with Wilson
    intervals; LAs add up to the partnership within each quarter and indicator."""
    ids = [i.id for i in framework().indicators]
    las = pooled_rates(con, ["la_code", "period", "indicator_id"], indicators=ids)
    total = pooled_rates(con, ["period", "indicator_id"], indicators=ids)
    total["la_code"] = PARTNERSHIP_CODE
    frame = pd.concat([las, total], ignore_index=True)
    frame["is_total"] = frame["la_code"] == PARTNERSHIP_CODE
    frame = suppress_counts(frame, relation=Relation(("period", "indicator_id"), "is_total"), limit=limit)
    frame = suppress_rates(frame)
    frame["not_available"] = not_available(con, frame)
    return with_names(frame).sort_values(["period", "indicator_id", "is_total", "la_code"], ignore_index=True)


def not_available(con: duckdb.DuckDBPyConnection, rates: pd.DataFrame) -> pd.Series:
    """Rates of indicators that need a table the LA's pack did not send (config/indicators.yaml
    `needs`: a v1 pack has no contexts): not measured, so shown as [x], never as 0 out of 0. The
    partnership's are not available where no pack of the quarter sent it."""
    sent = con.execute("""SELECT la_code, period, coalesce(has_contexts, false) AS contexts FROM submissions
                          WHERE status = 'loaded'""").df()
    by_pack = {(la, period): has for la, period, has in sent.itertuples(index=False)}
    by_quarter = sent.groupby("period")["contexts"].any().to_dict() if len(sent) else {}
    needs = {i.id: i.needs for i in framework().indicators}
    missing = [
        bool(needs.get(indicator)) and not (by_quarter.get(period, False) if la == PARTNERSHIP_CODE
                                            else by_pack.get((la, period), False))
        for la, period, indicator in zip(rates["la_code"], rates["period"], rates["indicator_id"], strict=True)]
    return pd.Series(missing, index=rates.index, dtype=bool)


def partnership_las(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every LA that sent a pack or a statutory return."""
    return [row[0] for row in con.execute("""
        SELECT la_code FROM submissions WHERE status = 'loaded'
        UNION SELECT la_code FROM statutory_submissions WHERE status = 'loaded' ORDER BY 1""").fetchall()]


def published_statutory_rates(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """Statutory indicator rates per LA and CIN year, and pooled for the partnership, suppressed
    like the audit rates; the mean value (missing episodes per child) hides with its denominator."""
    las = con.execute("SELECT * FROM statutory_rates").df()
    total = pooled_rates(con, ["period", "indicator_id"], table="statutory_child_indicators")
    means = con.execute("""SELECT period, indicator_id, avg(value) FILTER (WHERE applicable) AS mean_value
                           FROM statutory_child_indicators GROUP BY ALL""").df()
    total = total.merge(means, on=["period", "indicator_id"], how="left")
    total["la_code"] = PARTNERSHIP_CODE
    frame = pd.concat([las, total], ignore_index=True)
    frame["is_total"] = frame["la_code"] == PARTNERSHIP_CODE
    frame = suppress_counts(frame, relation=Relation(("period", "indicator_id"), "is_total"), limit=limit)
    frame = suppress_rates(frame, rate_columns=("rate", "ci_low", "ci_high", "mean_value"))
    return with_names(frame).sort_values(["period", "indicator_id", "is_total", "la_code"], ignore_index=True)


def published_benchmarks(con: duckdb.DuckDBPyConnection) -> dict:
    """The national benchmarks (assets/benchmark_measures.py), for every area: official statistics,
    withheld exactly where DfE withheld them. Pages are drawn for the partnership's LAs."""
    return {"benchmarks": efh_measures(con), "cp_plans": cp_plan_measures(con),
            "neighbours": con.execute("SELECT * FROM dfe_neighbours ORDER BY old_la_code, rank").df(),
            "benchmark_las": partnership_las(con)}


def published_efh_pathway(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """The EFH pathway per LA and CIN year and for the partnership pool: children at each stage and
    category, each as a share of the stage before with its Wilson interval, suppressed along the
    chain of stages, across LAs and across the categories (dashboards/efh_pathway.py)."""
    frame = suppress_pathway(with_partnership(pathway_counts(con), PARTNERSHIP_CODE), limit)
    return with_names(labelled(frame))


def efh_pathway_export(publication: Publication) -> pd.DataFrame:
    """The published EFH pathway as a tidy frame for the exports (see pathway_export_frame)."""
    return pathway_export_frame(publication.efh_pathway)


def published_coverage(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """Audit coverage per LA and C3 year; audit case counts from 1 to the threshold are hidden."""
    frame = audit_coverage(con)
    frame = suppress_counts(frame, numerator="audit_cases", denominator=None, limit=limit)
    frame["coverage_suppressed"] = frame["audit_cases_suppressed"]
    return with_names(frame)


def published_scores(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """Domain and practice scores per LA and quarter (from pack_scores) and for the partnership
    (the mean over all its cases' domain scores, then the weighted mean for practice)."""
    las = con.execute("SELECT la_code, period, domain, score, cases_scored FROM pack_scores").df()
    total = con.execute(scores_sql(framework(), ["period"]), [None]).df()
    total["la_code"] = PARTNERSHIP_CODE
    frame = pd.concat([las, total], ignore_index=True)
    frame["cases_scored"] = frame["cases_scored"].astype("int64")
    frame = suppress_scores(frame, "cases_scored", ("score",), limit)
    frame["is_total"] = frame["la_code"] == PARTNERSHIP_CODE
    return with_names(frame).sort_values(["period", "domain", "is_total", "la_code"], ignore_index=True)


@cache
def network_wording() -> dict:
    """The network measures, their order and words, and how they add up (config/publication.yaml)."""
    return load_yaml("publication.yaml")["networks"]


def published_networks(con: duckdb.DuckDBPyConnection, limit: int, rates: pd.DataFrame) -> pd.DataFrame:
    """Shared contexts and networks per LA and quarter, and for the partnership, one row per measure
    (config/publication.yaml networks). Only packs that sent contexts count: a v1 pack has no row,
    so its measures are not available. Keys are per LA, so LAs' graphs never join and the
    partnership's counts are the sums of its LAs'.

    Every value is a count of contexts, children or networks of children, under disclosure control:
    - a measure that is also a cell of the rates (`twins`: contexts are CX1's denominator) is
      published exactly as the rates publish it, value and suppression, so that neither table can
      undo the other's suppression;
    - the others are suppressed from 1 to the threshold, where what is left of the count they are
      part of is that small (`part_of`), and across LAs to the partnership (secondary suppression);
    - the size bands are published for the partnership only (with secondary suppression to its
      number of networks): per LA they would be mostly hidden, and what was left could be worked
      out from the other measures (the warehouse keeps them per pack)."""
    wording = network_wording()
    measures = list(wording["measures"])
    wide = con.execute(f"""
        SELECT n.la_code, n.period, {', '.join(f'n.{m}' for m in measures)}
        FROM context_networks n JOIN submissions s USING (la_code, period)
        WHERE s.status = 'loaded' AND s.has_contexts""").df()
    totals = wide.groupby("period")[measures].sum().reset_index().assign(la_code=PARTNERSHIP_CODE)
    frame = pd.concat([wide, totals], ignore_index=True).melt(
        id_vars=["la_code", "period"], value_vars=measures, var_name="measure", value_name="value")
    frame["value"] = frame["value"].astype("int64")
    frame["is_total"] = frame["la_code"] == PARTNERSHIP_CODE
    bands = wording["bands"]
    frame = frame[frame["is_total"] | ~frame["measure"].isin(bands["members"])].reset_index(drop=True)
    twins = {measure: tuple(cell) for measure, cell in wording["twins"].items()}
    own = ~frame["measure"].isin(list(twins))
    few_left = pd.Series(False, index=frame.index)
    values = frame.set_index(["la_code", "period", "measure"])["value"]
    for pair in wording["part_of"] if len(frame) else []:
        whole = values.xs(pair["of"], level="measure").rename("whole")
        rest = frame.join(whole, on=["la_code", "period"])["whole"] - frame["value"]
        few_left |= (frame["measure"] == pair["part"]) & rest.between(1, limit)
    in_bands = frame["measure"].isin([bands["total"], *bands["members"]]) & frame["is_total"]
    # Measures outside the bands are each a group of their own, with no total to subtract from.
    frame["band_group"] = frame["period"].where(in_bands, frame.index.astype(str))
    frame["band_total"] = frame["measure"] == bands["total"]
    mine = suppress_in_relations(frame[own], "value", [Relation(("period", "measure"), "is_total"),
                                                     Relation(("band_group",), "band_total")],
                                 limit, also=few_left[own])
    frame["value_suppressed"] = False
    frame.loc[own, "value_suppressed"] = mine["value_suppressed"]
    published = rates.set_index(["la_code", "period", "indicator_id"])
    for measure, (indicator, column) in twins.items():
        rows = frame.index[frame["measure"] == measure]
        keys = list(zip(frame.loc[rows, "la_code"], frame.loc[rows, "period"], [indicator] * len(rows), strict=True))
        found = published.reindex(keys)
        frame.loc[rows, "value"] = found[column].to_numpy()
        frame.loc[rows, "value_suppressed"] = found[f"{column}_suppressed"].fillna(True).to_numpy(dtype=bool)
    frame["label"] = frame["measure"].map(wording["measures"])
    frame["order"] = frame["measure"].map({m: i for i, m in enumerate(measures)})
    return with_names(frame.drop(columns=["band_group", "band_total"])).sort_values(
        ["period", "is_total", "la_code", "order"], ignore_index=True)


def published_submissions(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """Per LA and quarter: whether its pack loaded, and how many cases and rows; partnership totals."""
    las = con.execute("""
        SELECT la_code, period, status, cases_loaded AS cases, coalesce(rows_received, 0) AS rows_received,
               rows_quarantined, content_sha256, received_at
        FROM submissions WHERE status = 'loaded'""").df()
    # Rejected packs count files, not children: shown as they are, for every LA and quarter that can
    # be named (a pack with an unknown LA code or a bad name counts in the partnership total only).
    rejected = con.execute("""
        SELECT la_code, period, count(*) AS packs_rejected FROM submissions
        WHERE status = 'rejected' AND regexp_full_match(coalesce(period, ''), '[0-9]{4}Q[1-4]')
        GROUP BY ALL""").df()
    known = rejected["la_code"].isin(list(local_authorities()))
    unnamed = rejected[~known].groupby("period")["packs_rejected"].sum()
    las = las.merge(rejected[known], on=["la_code", "period"], how="outer")
    las["status"] = las["status"].fillna("rejected")
    for column in ("cases", "rows_received", "rows_quarantined", "packs_rejected"):
        las[column] = las[column].fillna(0).astype("int64")
    totals = (las.groupby("period")[["cases", "rows_received", "rows_quarantined", "packs_rejected"]].sum()
              .reset_index())
    totals["packs_rejected"] += totals["period"].map(unnamed).fillna(0).astype("int64")
    totals["la_code"] = PARTNERSHIP_CODE
    totals["status"] = ""
    frame = pd.concat([las, totals], ignore_index=True)
    frame["is_total"] = frame["la_code"] == PARTNERSHIP_CODE
    relation = Relation(("period",), "is_total")
    for column in ("cases", "rows_received", "rows_quarantined"):
        frame = suppress_counts(frame, numerator=column, denominator=None, relation=relation, limit=limit)
    return with_names(frame).sort_values(["period", "is_total", "la_code"], ignore_index=True)


def published_quarantine_rules(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """Rule breaches per LA, quarter and rule, with each LA-quarter's total over its rules."""
    rules = con.execute("""
        SELECT la_code, period, rule, count(*) AS breaches FROM quarantine
        WHERE la_code IS NOT NULL GROUP BY ALL""").df()
    if rules.empty:
        return with_names(rules.assign(breaches_suppressed=pd.Series(dtype=bool), is_total=pd.Series(dtype=bool)))
    totals = rules.groupby(["la_code", "period"])["breaches"].sum().reset_index()
    totals["rule"] = "all rules"
    frame = pd.concat([rules, totals], ignore_index=True)
    frame["is_total"] = frame["rule"] == "all rules"
    frame = suppress_counts(frame, numerator="breaches", denominator=None,
                            relation=Relation(("la_code", "period"), "is_total"), limit=limit)
    return with_names(frame).sort_values(["period", "la_code", "is_total", "rule"], ignore_index=True)


def site_metadata(publication: Publication, written, index: Path) -> dict:
    """What the `site` step reports: pages (and how many were drawn again: the others' inputs did
    not change), how long drawing took, where the index is, the latest practice scores shown."""
    practice = publication.scores[publication.scores["domain"] == "PRACTICE"]
    latest = practice[practice["period"] == practice["period"].max()] if len(practice) else practice
    return {"pages": len(written.pages), "pages_redrawn": len(written.redrawn),
            "render_seconds": round(written.seconds, 3), "index": index,
            "dagster/row_count": len(publication.rates),
            "dagster/column_schema": Columns(tuple((n, str(k)) for n, k in publication.rates.dtypes.items())),
            "preview": markdown_table([(row.la_name, row.period, "[c]" if row.score_suppressed else f"{row.score:.3f}")
                                       for row in latest.itertuples()], ("area", "quarter", "practice score"))}


__all__ = ["Publication", "build_publication", "threshold", "PARTNERSHIP_CODE"]
