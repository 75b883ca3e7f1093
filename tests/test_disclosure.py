"""Disclosure control: no published table lets a count from 1 to 5 be read, or worked out by
subtraction from the totals published beside it (property-based, with hypothesis)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.disclosure import Relation, shown, suppress_counts, suppress_rates, suppress_scores

LIMIT = 5


def derive(frame: pd.DataFrame, columns: list[str], group_by: list[str]) -> dict:
    """What an attacker knows: published cells, then anything one linear relation pins down,
    repeated until nothing new is learnt. Relations: each group's members add up to its total
    (per column); and per row, complement = denominator - numerator."""
    known = {}
    for i, row in frame.iterrows():
        for column in columns:
            if not row[f"{column}_suppressed"]:
                known[(i, column)] = row[column]
    relations = []  # (target, [parts]): target = sum(parts)
    for _, group in frame.groupby(group_by):
        total = group[group["is_total"]].index
        members = group[~group["is_total"]].index
        for column in columns:
            relations.append(((total[0], column), [(m, column) for m in members]))
    if len(columns) == 2:
        for i in frame.index:  # denominator = numerator + complement
            relations.append(((i, columns[1]), [(i, columns[0]), (i, "complement")]))
    changed = True
    while changed:
        changed = False
        for target, parts in relations:
            cells = [target, *parts]
            unknown = [c for c in cells if c not in known]
            if len(unknown) != 1:
                continue
            (cell,) = unknown
            if cell == target:
                known[cell] = sum(known[p] for p in parts)
            else:
                known[cell] = known[target] - sum(known[p] for p in parts if p != cell)
            changed = True
    return known


groups = st.lists(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=6),
    min_size=1, max_size=3)


def table(data) -> pd.DataFrame:
    rows = []
    for g, members in enumerate(data):
        for m, (num, extra) in enumerate(members):
            rows.append({"group": g, "member": m, "numerator": num, "denominator": num + extra, "is_total": False})
        rows.append({"group": g, "member": -1, "numerator": sum(n for n, _ in members),
                     "denominator": sum(n + e for n, e in members), "is_total": True})
    return pd.DataFrame(rows)


@settings(max_examples=300, deadline=None)
@given(groups)
def test_no_small_count_can_be_read_or_derived_from_a_rates_table(data):
    frame = suppress_rates(suppress_counts(table(data), relation=Relation(("group",), "is_total"), limit=LIMIT))
    known = derive(frame, ["numerator", "denominator"], ["group"])
    for (i, column), value in known.items():
        assert not 1 <= value <= LIMIT, (column, frame.loc[i].to_dict())
    # A published rate with a published denominator would give the numerator: rates hide with it.
    assert (frame["rate_suppressed"] == (frame["numerator_suppressed"] | frame["denominator_suppressed"])).all()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 20), min_size=1, max_size=7), min_size=1, max_size=3))
def test_no_small_count_can_be_derived_from_a_counts_table(data):
    rows = [{"group": g, "value": v, "is_total": False} for g, values in enumerate(data) for v in values]
    rows += [{"group": g, "value": sum(values), "is_total": True} for g, values in enumerate(data)]
    frame = suppress_counts(pd.DataFrame(rows), numerator="value", denominator=None,
                            relation=Relation(("group",), "is_total"), limit=LIMIT)
    for value in derive(frame, ["value"], ["group"]).values():
        assert not 1 <= value <= LIMIT, frame.to_dict("records")


def test_worked_example_primary_complement_and_secondary():
    frame = table([[(3, 20), (10, 10), (40, 2), (25, 25)]])
    out = suppress_counts(frame, relation=Relation(("group",), "is_total"), limit=LIMIT)
    hidden = out.set_index("member")["numerator_suppressed"].to_dict()
    # 3 is small; 40 of 42 leaves a complement of 2. Two cells are hidden and together hold 43, so
    # the total minus the others (78 - 10 - 25) gives neither: no further cell is needed.
    assert hidden == {0: True, 1: False, 2: True, 3: False, -1: False}
    # With only one cell hidden, the next smallest is hidden too.
    single = suppress_counts(table([[(3, 20), (10, 10), (25, 25)]]), relation=Relation(("group",), "is_total"),
                             limit=LIMIT).set_index("member")["numerator_suppressed"].to_dict()
    assert single == {0: True, 1: True, 2: False, -1: False}
    assert out["denominator_suppressed"].tolist() == [False] * 5
    assert shown(3, True) == "[c]" and shown(0, False) == "0" and shown(float("nan"), False) == "[z]"


def test_true_zeros_are_shown():
    out = suppress_counts(table([[(0, 0), (0, 30), (12, 30)]]), relation=Relation(("group",), "is_total"),
                          limit=LIMIT)
    assert not out["numerator_suppressed"].any()
    assert out["denominator_suppressed"].tolist() == [False, False, False, False]


def test_scores_over_few_cases_are_hidden():
    out = suppress_scores(pd.DataFrame({"score": [0.5, 0.7, 0.1], "cases": [3, 6, 0]}), "cases", ("score",), 5)
    assert out["score_suppressed"].tolist() == [True, False, False]


def test_a_hidden_total_is_not_left_recoverable_from_its_members():
    """A cell hidden as cover in one relation (an LA's networks, against the partnership) is the
    total of another (its networks by size): with every member shown, their sum would give it
    back, so one member is hidden as well."""
    from dashboards.disclosure import suppress_in_relations

    frame = pd.DataFrame({
        "area": ["A", "B", "C", "all", "C", "C", "C"],
        "measure": ["networks"] * 4 + ["size 2", "size 3-5", "size 6+"],
        "value": [1, 20, 12, 33, 6, 6, 0]})
    frame["is_total"] = frame["area"] == "all"
    frame["group"] = ["x0", "x1", "C", "x3", "C", "C", "C"]
    frame["band_total"] = (frame["area"] == "C") & (frame["measure"] == "networks")
    relations = [Relation(("measure",), "is_total"), Relation(("group",), "band_total")]
    out = suppress_in_relations(frame, "value", relations, limit=5)
    hidden = dict(zip(zip(out["area"], out["measure"], strict=True), out["value_suppressed"], strict=True))
    assert hidden[("A", "networks")]  # 1: primary
    assert hidden[("C", "networks")]  # the smallest other LA: cover against the partnership's 33
    assert hidden[("C", "size 2")] or hidden[("C", "size 3-5")]  # so C's 12 cannot be re-summed
    assert not hidden[("all", "networks")]
