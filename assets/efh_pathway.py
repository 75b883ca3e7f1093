"""The EFH pathway from loaded CIN census returns: of the children assessed in a census year with
an extra-familial harm (EFH) factor, how many had no intra-familial factor (the EFH-only cohort),
then a section 47 enquiry, an initial child protection conference, a child protection plan, and
under which initial category of abuse. One count of children per LA, census year and stage, in
DuckDB over cin_assessments, cin_section47, cin_episodes and cin_cp_plans.

Stages, categories and wording are data in config/statutory/efh_pathway.yaml; which factors are
EFH and which intra-familial are the tallies of config/statutory_indicators.yaml it names, and the
census year is that framework's window (1 April to 31 March), so ST1 and the pathway agree.

How a child counts (docs/statutory-returns.md, "The EFH pathway"):
- once per LA and census year, at every stage they reach; each stage is a subset of the one
  before, so its share is of the stage before;
- assessed with an EFH factor: an assessment starting in the year lists one; EFH-only: no
  assessment starting in the year lists an intra-familial factor (an EFH assessment and another
  with an intra-familial factor put the child outside the cohort, as for ST1);
- section 47 enquiry started: an enquiry of the cohort child started in the year, on or after its
  episode's referral and not after the episode closed;
- conference held: such an enquiry has a DateOfInitialCPC on or after its start, in the year (an
  enquiry with no conference, whether not required or not yet held, stays at the enquiry stage);
- plan started: a plan started in the year on or after the child's first such conference;
- category: the initial category of the child's first such plan (a child with two plans counts
  once); two first plans on the same day with different categories count as multiple."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb
import pandas as pd

from assets.config import load_yaml
from assets.statutory import statutory_framework

PATHWAY_FILE = "statutory/efh_pathway.yaml"
# The stages pathway_children_sql decides, in its order (furthest_stage is a position in it); the
# YAML gives their words and must list these.
STAGE_IDS = ("assessed_efh", "efh_only", "s47_started", "icpc_held", "plan_started")


@dataclass(frozen=True)
class Step:
    """A stage of the pathway, or a category of the plans started."""

    id: str
    label: str
    short: str
    code: str | None = None  # the category of abuse (categories only)


@cache
def pathway_spec() -> dict:
    return load_yaml(PATHWAY_FILE)


@cache
def stages() -> tuple[Step, ...]:
    found = tuple(Step(s["id"], s["label"], s.get("short", s["label"])) for s in pathway_spec()["stages"])
    if tuple(step.id for step in found) != STAGE_IDS:
        raise ValueError(f"{PATHWAY_FILE}: the stages must be {', '.join(STAGE_IDS)}, in this order")
    return found


@cache
def categories() -> tuple[Step, ...]:
    return tuple(Step(c["id"], c["label"], c.get("short", c["label"]), str(c["code"]))
                 for c in pathway_spec()["categories"])


def factor_rule(kind: str) -> str:
    """The rule (over a cin_assessments row) that an assessment lists an EFH or an intra-familial
    factor: the count_where of the statutory framework's tally, checked when the framework loads."""
    return statutory_framework().tallies[pathway_spec()["factor_tallies"][kind]]["count_where"]


def in_census_year(column: str, alias: str) -> str:
    """SQL: `column` falls in the census year of `alias`.period (the statutory framework's window)."""
    unit = statutory_framework().unit
    period = f"{alias}.period"
    return f"{column} BETWEEN {unit.window_start.format(p=period)} AND {unit.window_end.format(p=period)}"


def pathway_children_sql() -> str:
    """One row per child assessed with an EFH factor in a census year: the furthest stage reached
    (its position in `stages()`, from 0) and, for a plan, the initial category of abuse."""
    return f"""
    WITH assessed AS (
        SELECT a.la_code, a.period, a.child_key, bool_or({factor_rule('intrafamilial')}) AS intrafamilial
        FROM cin_assessments a WHERE {in_census_year('a.start_date', 'a')}
        GROUP BY ALL HAVING bool_or({factor_rule('efh')})),
    enquiries AS (
        SELECT x.la_code, x.period, x.child_key, x.start_date, x.icpc_date
        FROM cin_section47 x JOIN cin_episodes e USING (la_code, period, child_key, episode)
        WHERE {in_census_year('x.start_date', 'x')} AND x.start_date >= e.referral_date
          AND (e.closure_date IS NULL OR x.start_date <= e.closure_date)),
    conferences AS (
        SELECT la_code, period, child_key,
               min(x.icpc_date) FILTER (WHERE x.icpc_date >= x.start_date
                                        AND {in_census_year('x.icpc_date', 'x')}) AS icpc_date
        FROM enquiries x GROUP BY ALL),
    plans AS (
        SELECT x.la_code, x.period, x.child_key, x.start_date, x.initial_category
        FROM cin_cp_plans x JOIN conferences c USING (la_code, period, child_key)
        WHERE {in_census_year('x.start_date', 'x')} AND x.start_date >= c.icpc_date),
    first_plans AS (
        -- A plan whose category was quarantined (an invalid code) still started: category NULL.
        SELECT la_code, period, child_key,
               CASE WHEN count(DISTINCT initial_category) > 1 THEN ? ELSE min(initial_category) END AS category
        FROM plans p WHERE start_date = (SELECT min(q.start_date) FROM plans q WHERE q.la_code = p.la_code
                                         AND q.period = p.period AND q.child_key = p.child_key)
        GROUP BY ALL)
    SELECT a.la_code, a.period, a.child_key,
           CASE WHEN a.intrafamilial THEN 0 WHEN c.child_key IS NULL THEN 1 WHEN c.icpc_date IS NULL THEN 2
                WHEN f.child_key IS NULL THEN 3 ELSE 4 END AS furthest_stage,
           f.category
    FROM assessed a LEFT JOIN conferences c USING (la_code, period, child_key)
         LEFT JOIN first_plans f USING (la_code, period, child_key)
    ORDER BY ALL"""


def pathway_children(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """la_code, period, child_key, furthest_stage (0 assessed with an EFH factor ... 4 plan started)
    and category (the CIN code of the first plan's initial category, or None): restricted."""
    return con.execute(pathway_children_sql(), [pathway_spec()["multiple_code"]]).df()


def pathway_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Children at each stage and category, per LA and census year: la_code, period, step (a stage
    or category id), kind ('stage' or 'category'), position (order on the page) and count. Every
    LA and year with a CIN census loaded has every step, zeros included (a zero is published)."""
    children = pathway_children(con)
    loaded = con.execute("SELECT DISTINCT la_code, period FROM statutory_submissions WHERE kind = 'cin_census' "
                         "AND status = 'loaded' ORDER BY ALL").fetchall()
    steps = [(s.id, "stage", i, None) for i, s in enumerate(stages())]
    steps += [(c.id, "category", len(stages()) + i, c.code) for i, c in enumerate(categories())]
    rows = []
    for la_code, period in loaded:
        mine = children[(children["la_code"] == la_code) & (children["period"] == period)]
        for step, kind, position, code in steps:
            reached = (mine["furthest_stage"] >= position) if kind == "stage" else (mine["category"] == code)
            rows.append((la_code, period, step, kind, position, int(reached.sum())))
    return pd.DataFrame(rows, columns=["la_code", "period", "step", "kind", "position", "count"]).astype(
        {"count": "int64", "position": "int64"})
