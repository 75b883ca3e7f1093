"""The EFH pathway as published: counts of children at each stage (assets/efh_pathway.py) for
each LA and for the partnership pool (every LA whose CIN census is loaded, per census year), each
as a share of the stage before with its Wilson interval, under disclosure control.

Disclosure control (dashboards/disclosure.py, extended to a chain of stages):
- a count from 1 to the threshold is [c];
- a stage's count minus the next published stage's count (the children who left the pathway in
  between) must not be from 1 to the threshold: otherwise the later stage is [c] too. This is the
  complement rule along the chain, and it also covers a stage hidden between two published ones;
- LAs add up to the partnership at every stage and category, and the categories add up to the
  plans started: within each of these groups the hidden cells may not be recovered by
  subtraction (secondary suppression, as everywhere);
- the children leaving between two stages are treated as cells too: hidden when few, or when
  either stage is; across LAs they add up to the partnership's, so where a few are hidden in one
  LA, another LA's stage is hidden as well;
- a share (and its interval) is [c] when its count or the count of the stage before is.
The rules are applied in turn until none hides anything more."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assets.efh_pathway import categories, pathway_spec, stages
from assets.statistics import wilson_interval
from dashboards.disclosure import Relation, is_small, secondary


def with_partnership(counts: pd.DataFrame, partnership_code: str) -> pd.DataFrame:
    """The LAs' counts and, per census year, the partnership pool's (the sum over its LAs: a child
    belongs to one LA's return, so nothing is counted twice)."""
    pool = counts.groupby(["period", "step", "kind", "position"], as_index=False)["count"].sum()
    pool["la_code"] = partnership_code
    frame = pd.concat([counts, pool], ignore_index=True)
    frame["is_total"] = frame["la_code"] == partnership_code
    return frame.sort_values(["period", "is_total", "la_code", "position"], ignore_index=True)


def previous_steps(frame: pd.DataFrame) -> list[str | None]:
    """The step each share is of: the stage before (none for the first stage); for a category,
    the plans started."""
    order = [s.id for s in stages()]
    before = {step: order[i - 1] for i, step in enumerate(order) if i} | {c.id: order[-1] for c in categories()}
    return [before.get(step) for step in frame["step"]]


def suppress_pathway(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """`frame` (with_partnership) with count_suppressed, the count before (`previous`) and
    previous_suppressed, share, ci_low, ci_high and share_suppressed."""
    out = frame.copy()
    out["count_suppressed"] = is_small(out["count"], limit)
    area = out["la_code"] + "|" + out["period"]
    alone = out.index.astype(str)
    # From an area's first stage of 0 on, every count is 0 and known to be: hiding one would hide
    # nothing, so they take no part in secondary suppression (a 0 adds nothing to any sum).
    known_zero = known_zeros(out)
    out["across_group"] = (out["period"] + "|" + out["step"]).where(~known_zero, alone)
    # Categories add up to the plans started: one group per area and year, the rest alone.
    in_split = ((out["kind"] == "category") | (out["step"] == stages()[-1].id)) & ~known_zero
    out["split_group"] = area.where(in_split, alone)
    out["split_total"] = out["step"] == stages()[-1].id
    leaving = leaving_cells(out, limit)
    changed = True
    while changed:
        changed = False
        for relation in (Relation(("across_group",), "is_total"), Relation(("split_group",), "split_total")):
            changed |= secondary(out, "count", relation, limit)
            changed |= hide_lone_totals(out, "count", relation)
        changed |= hide_leaving(out, leaving, limit)
        changed |= hide_along_chain(out, limit)
    cells = out.set_index(["la_code", "period", "step"])
    before = list(zip(out["la_code"], out["period"], previous_steps(out), strict=True))
    out["previous"] = [float(cells["count"].get(key, np.nan)) if key[2] else np.nan for key in before]
    out["previous_suppressed"] = [bool(cells["count_suppressed"].get(key, False)) for key in before]
    share, low, high = wilson_interval(out["count"], out["previous"].fillna(0))
    out["share"], out["ci_low"], out["ci_high"] = share, low, high
    # The first stage has no stage before: its share is not applicable ([z]), never [c].
    out["share_suppressed"] = (out["count_suppressed"] | out["previous_suppressed"]) & out["previous"].notna()
    return out.drop(columns=["across_group", "split_group", "split_total"])


def known_zeros(out: pd.DataFrame) -> pd.Series:
    """Rows at or after their area's first stage with no children (categories too, when no plan
    started): stages only narrow, so all of them are 0 whatever is hidden."""
    stage_rows = out[out["kind"] == "stage"]
    first_zero = stage_rows[stage_rows["count"] == 0].groupby(["la_code", "period"])["position"].min()
    at = pd.Series(list(zip(out["la_code"], out["period"], strict=True)), index=out.index).map(first_zero)
    return (out["position"] >= at).fillna(False).astype(bool)


def stage_positions(out: pd.DataFrame) -> dict[tuple[str, str], list[int]]:
    """Row positions of each area's stages, in order."""
    stage_rows = out[out["kind"] == "stage"].sort_values("position")
    return {key: stage_rows.index[rows].tolist()
            for key, rows in stage_rows.groupby(["la_code", "period"], sort=False).indices.items()}


def hide_along_chain(out: pd.DataFrame, limit: int) -> bool:
    """Between consecutive published stages of an area, the children who left must be none or more
    than `limit`, and more than `limit` when a hidden stage lies between them (it lies between
    their counts: were they equal, it would be known); otherwise hide the later stage."""
    changed = False
    for rows in stage_positions(out).values():
        shown_before, skipped = None, False
        for row in rows:
            if out.at[row, "count_suppressed"]:
                skipped = True
                continue
            left = None if shown_before is None else out.at[shown_before, "count"] - out.at[row, "count"]
            if left is not None and (1 <= left <= limit or (skipped and left == 0)):
                out.at[row, "count_suppressed"] = True
                changed = True
                continue
            shown_before, skipped = row, False
    return changed


def leaving_cells(out: pd.DataFrame, limit: int) -> pd.DataFrame:
    """The children leaving between each stage and the next, per area: a cell for each, with the
    rows of the two stages it lies between."""
    cells = []
    for (la_code, period), rows in stage_positions(out).items():
        for earlier, later in zip(rows, rows[1:], strict=False):
            cells.append({"la_code": la_code, "period": period, "step": out.at[later, "step"],
                          "value": out.at[earlier, "count"] - out.at[later, "count"],
                          "is_total": bool(out.at[later, "is_total"]), "earlier": earlier, "later": later,
                          "group": f"{period}|{out.at[later, 'step']}" if out.at[earlier, "count"] else str(earlier)})
    cells = pd.DataFrame(cells, columns=["la_code", "period", "step", "value", "is_total", "earlier", "later", "group"])
    cells["small"] = is_small(cells["value"], limit)
    return cells


def hide_leaving(out: pd.DataFrame, cells: pd.DataFrame, limit: int) -> bool:
    """Secondary suppression of the leaving cells across LAs to the partnership; a cell that must be
    hidden while both its stages are published hides the later stage."""
    if cells.empty:
        return False
    flags = out["count_suppressed"]
    between_hidden = flags.loc[cells["earlier"]].to_numpy() | flags.loc[cells["later"]].to_numpy()
    cells["value_suppressed"] = cells["small"].to_numpy() | between_hidden
    relation = Relation(("group",), "is_total")  # none leave after a stage of 0: those take no part
    while secondary(cells, "value", relation, limit) | hide_lone_totals(cells, "value", relation):
        pass
    exposed = cells["value_suppressed"].to_numpy() & ~between_hidden
    if not exposed.any():
        return False
    out.loc[cells.loc[exposed, "later"], "count_suppressed"] = True
    return True


def hide_lone_totals(frame: pd.DataFrame, column: str, relation: Relation) -> bool:
    """A hidden total whose members are all published is their sum: hide its smallest member too.
    (dashboards.disclosure.secondary protects hidden members of a published total, not this.)"""
    flag = f"{column}_suppressed"
    flags, values = frame[flag].to_numpy(dtype=bool).copy(), frame[column].to_numpy(dtype=float)
    is_total = frame[relation.total_flag].to_numpy(dtype=bool)
    changed = False
    for positions in frame.groupby(list(relation.group_by), sort=False).indices.values():
        totals, members = positions[is_total[positions]], positions[~is_total[positions]]
        if len(totals) and len(members) and flags[totals].all() and not flags[members].any():
            flags[members[np.argmin(values[members])]] = True
            changed = True
    frame[flag] = flags
    return changed


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The pathway's words: each step's label and short label."""
    words = {s.id: (s.label, s.short) for s in (*stages(), *categories())}
    frame["label"] = frame["step"].map(lambda step: words[step][0])
    frame["short"] = frame["step"].map(lambda step: words[step][1])
    return frame


def pathway_export_frame(pathway: pd.DataFrame) -> pd.DataFrame:
    """The published pathway in a tidy layout: one row per area, census year and step, numbers
    typed (count Int64; share, ci_low, ci_high Float64) with every suppressed value NA and flagged in
    count_suppressed / share_suppressed; share_status says why a share is missing ('c' suppressed,
    'z' not applicable: the first stage has no stage before), '' where it is published."""
    if pathway is None or pathway.empty:
        pathway = pd.DataFrame(columns=["la_code", "la_name", "geographic_level", "period", "step", "kind",
                                        "position", "label", "count", "count_suppressed", "share", "ci_low",
                                        "ci_high", "share_suppressed"])
    out = pd.DataFrame({
        "time_period": pathway["period"].astype("string").to_numpy(),
        "time_identifier": "Reporting year",
        "geographic_level": pathway["geographic_level"].astype("string").to_numpy(),
        "la_code": pathway["la_code"].astype("string").to_numpy(),
        "la_name": pathway["la_name"].astype("string").to_numpy(),
        "stage": pathway["step"].astype("string").to_numpy(),
        "stage_kind": pathway["kind"].astype("string").to_numpy(),
        "stage_order": pathway["position"].astype("Int64").to_numpy(),
        "stage_label": pathway["label"].astype("string").to_numpy(),
    })
    hidden_count = pathway["count_suppressed"].astype(bool).to_numpy()
    hidden_share = pathway["share_suppressed"].astype(bool).to_numpy()
    out["count"] = pd.array(np.where(hidden_count, None, pathway["count"]), dtype="Int64")
    out["count_suppressed"] = hidden_count
    for column in ("share", "ci_low", "ci_high"):
        out[column] = pd.array(pathway[column].astype("float64").to_numpy(), dtype="Float64")
        out.loc[hidden_share, column] = pd.NA
    out["share_suppressed"] = hidden_share
    out["share_status"] = np.where(hidden_share, "c", np.where(pathway["share"].isna(), "z", ""))
    return out.sort_values(["time_period", "geographic_level", "la_name", "stage_order"], ignore_index=True)


def neighbour_pathway(pathway: pd.DataFrame, la_code: str, period: str, neighbours: list[str]) -> pd.DataFrame | None:
    """The pathway shares of `la_code`'s statistical neighbours among the LAs whose returns are
    loaded, for comparison with its own: None while no statistical-neighbour model is read here, or
    when none of `neighbours` (GSS codes) has its CIN census loaded for `period`."""
    return None


def no_neighbours_text() -> str:
    return str(pathway_spec()["wording"]["no_neighbours"]).strip()
