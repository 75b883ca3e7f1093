"""A hand-built v1.1 pack through ingest and scoring: every context's indicators, the cases'
CI5 and CI6, the context score and the network counts, against values worked out by hand from
tests/fixtures/context_pack; and the published tables say not available for a v1 pack.

The pack (E06000002, 2025Q3), four cases A1-A4 and four contexts:
- P1 location, high -> medium risk, linked to A1 and A2: assessed (X5), discussed at MACE (M3),
  disrupted (X8 licensing), a CAWN served at it (X3 police), intelligence about it (X2);
- G1 peer group, linked to A2 and A3: nothing done about it;
- S1 school, medium -> medium, closed, linked to A1: an assessment still in progress (X11) and a
  school intervention (X10 education);
- O1 online, linked to no case, nothing done.
A4 is linked to no context. A1-P1-A2-G1-A3 is one network of three children."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assets import warehouse
from assets.ingest import ingest_inbox
from assets.scoring import score_pending
from assets.standardise import case_key, context_key
from dashboards.exports import indicator_rates
from dashboards.publication import build_publication

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT_PACK = FIXTURES / "context_pack" / "E06000002_2025Q3"
V1_PACK = FIXTURES / "tiny_pack" / "E06000001_2025Q3"
SECRET = b"test-key"

# (applicable, met) per context and indicator; None: not applicable.
EXPECTED_CONTEXTS = {
    "P1": {"CX1": True, "CX2": True, "CX3": True, "CX4": True, "CX5": True, "CX6": True},
    "G1": {"CX1": False, "CX2": False, "CX3": False, "CX4": None, "CX5": False, "CX6": None},
    "S1": {"CX1": False, "CX2": None, "CX3": True, "CX4": True, "CX5": None, "CX6": False},
    "O1": {"CX1": False, "CX2": None, "CX3": False, "CX4": None, "CX5": None, "CX6": None},
}
EXPECTED_CASES = {"A1": {"CI5": True, "CI6": True}, "A2": {"CI5": True, "CI6": True},
                  "A3": {"CI5": True, "CI6": False}, "A4": {"CI5": False, "CI6": None}}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("contexts")
    for pack in (CONTEXT_PACK, V1_PACK):
        shutil.copytree(pack, root / "inbox" / pack.name)
    con = warehouse.connect(root / "w.duckdb")
    ingest_inbox(con, root / "inbox", SECRET)
    score_pending(con)
    yield con
    con.close()


def outcome(applicable: bool, met: bool | None):
    return met if applicable else None


def test_each_context_meets_its_indicators_as_worked_out_by_hand(scored):
    keys = {context_key(SECRET, "E06000002", c): c for c in EXPECTED_CONTEXTS}
    found = {}
    for key, indicator, applicable, met in scored.execute(
            "SELECT context_key, indicator_id, applicable, met FROM context_indicators").fetchall():
        found.setdefault(keys[key], {})[indicator] = outcome(applicable, met)
    assert found == EXPECTED_CONTEXTS


def test_cases_are_scored_on_their_contexts(scored):
    keys = {case_key(SECRET, "E06000002", c): c for c in EXPECTED_CASES}
    found = {}
    for key, indicator, applicable, met in scored.execute(
            "SELECT case_key, indicator_id, applicable, met FROM case_indicators "
            "WHERE la_code = 'E06000002' AND indicator_id IN ('CI5', 'CI6')").fetchall():
        found.setdefault(keys[key], {})[indicator] = outcome(applicable, met)
    assert found == EXPECTED_CASES


def test_rates_context_score_and_networks(scored):
    rates = dict(((i, (n, d)) for i, n, d in scored.execute(
        "SELECT indicator_id, numerator, denominator FROM indicator_rates WHERE la_code = 'E06000002'").fetchall()))
    assert {i: rates[i] for i in ("CX1", "CX2", "CX3", "CX4", "CX5", "CX6", "CI5", "CI6")} == {
        "CX1": (1, 4), "CX2": (1, 2), "CX3": (2, 4), "CX4": (2, 2), "CX5": (1, 2), "CX6": (1, 2),
        "CI5": (3, 4), "CI6": (2, 3)}
    # Context scores: P1 5/5, G1 0/4, S1 2/3, O1 0/2; the pack's is their mean.
    (score, contexts), = scored.execute("SELECT score, cases_scored FROM pack_scores "
                                        "WHERE la_code = 'E06000002' AND domain = 'CX'").fetchall()
    assert contexts == 4 and score == pytest.approx((1 + 0 + 2 / 3 + 0) / 4)
    row = scored.execute("SELECT * EXCLUDE (la_code, period) FROM context_networks "
                         "WHERE la_code = 'E06000002'").df().iloc[0].to_dict()
    assert row == {"contexts": 4, "shared_contexts": 2, "cases_linked": 3, "cases_sharing": 3, "networks": 1,
                   "networks_2": 0, "networks_3_5": 1, "networks_6_10": 0, "networks_11_plus": 0,
                   "cases_in_networks": 3, "cases_in_assessed_networks": 0}


def test_a_v1_pack_has_no_context_measures_and_they_are_published_as_not_available(scored):
    assert scored.execute("SELECT count(*) FROM context_networks WHERE la_code = 'E06000001'").fetchall() == [(0,)]
    assert scored.execute("SELECT count(*) FROM pack_scores WHERE la_code = 'E06000001' AND domain = 'CX'"
                          ).fetchall() == [(0,)]
    publication = build_publication(scored, limit=0)
    rates = publication.rates.set_index(["la_code", "indicator_id"])
    assert rates.loc[("E06000001", "CX1"), "not_available"]
    assert rates.loc[("E06000001", "CI5"), "not_available"]
    assert not rates.loc[("E06000001", "PI1"), "not_available"]
    assert not rates.loc[("E06000002", "CX1"), "not_available"]
    assert not rates.loc[("", "CX1"), "not_available"]  # one pack of the quarter sent contexts
    tidy = indicator_rates(publication).set_index(["la_code", "indicator"])
    statuses = ["numerator_status", "denominator_status", "rate_percent_status"]
    assert tuple(tidy.loc[("E06000001", "CX1"), statuses]) == ("x", "x", "x")
    assert tuple(tidy.loc[("E06000002", "CX2"), ["numerator", "denominator"]]) == (1, 2)
    networks = publication.networks
    assert set(networks["la_code"]) == {"E06000002", ""}  # the v1 pack has none: not available


def test_network_measures_that_are_rate_cells_are_published_as_the_rates_publish_them(scored):
    """Contexts are CX1's denominator and the children linked to one are CI5's numerator: each is
    published with the same value and suppression in both tables, so neither undoes the other; the
    size bands are the partnership's only."""
    publication = build_publication(scored, limit=5)
    rates = publication.rates.set_index(["la_code", "indicator_id"])
    networks = publication.networks.set_index(["la_code", "measure"])
    for measure, (indicator, column) in {"contexts": ("CX1", "denominator"), "shared_contexts": ("CX2", "denominator"),
                                         "cases_linked": ("CI5", "numerator")}.items():
        for area in ("E06000002", ""):
            assert networks.loc[(area, measure), "value"] == rates.loc[(area, indicator), column]
            assert networks.loc[(area, measure), "value_suppressed"] == rates.loc[(area, indicator),
                                                                                   f"{column}_suppressed"]
    assert "networks_3_5" not in networks.loc["E06000002"].index
    assert networks.loc[("", "networks_3_5"), "value"] == 1 and networks.loc[("", "networks_3_5"), "value_suppressed"]


def test_a_template_with_its_context_sheets_left_empty_is_a_pack_without_contexts(tmp_path):
    """Header-only contexts and case_contexts files are no contexts: the pack's context measures are
    not available and its scores are those of the same pack without the files."""
    def scores(folder: Path, name: str) -> dict:
        con = warehouse.connect(tmp_path / f"{name}.duckdb")
        ingest_inbox(con, folder, SECRET)
        score_pending(con)
        return {"has_contexts": con.execute("SELECT has_contexts FROM submissions").fetchall()[0][0],
                "scores": con.execute("SELECT domain, score FROM pack_scores ORDER BY ALL").fetchall(),
                "CI5": con.execute("SELECT numerator, denominator FROM indicator_rates WHERE indicator_id = 'CI5'"
                                   ).fetchall()}
    plain, empty = tmp_path / "plain", tmp_path / "empty"
    shutil.copytree(V1_PACK, plain / V1_PACK.name)
    shutil.copytree(V1_PACK, empty / V1_PACK.name)
    (empty / V1_PACK.name / "contexts.csv").write_text(
        "context_id,context_type,identified_date,risk_level_start,risk_level_end,closed_date\n")
    (empty / V1_PACK.name / "case_contexts.csv").write_text("case_id,context_id,link_type\n")
    assert scores(empty, "empty") == scores(plain, "plain") | {"has_contexts": False}
    assert scores(plain, "again")["CI5"] == [(0, 0)]


def test_explain_takes_the_las_own_context_id_with_the_pack_and_never_repeats_it(tmp_path, monkeypatch, capsys):
    from assets.secret import KEY_ENV
    from pipelines.cli import main

    monkeypatch.setenv(KEY_ENV, SECRET.decode())
    shutil.copytree(CONTEXT_PACK, tmp_path / "inbox" / CONTEXT_PACK.name)
    assert main(["run", "--home", str(tmp_path)]) == 0
    capsys.readouterr()
    common = ["explain", "--home", str(tmp_path), "--la", "E06000002", "--period", "2025Q3"]
    assert main([*common, "--context-id", "P1", "--pack", str(CONTEXT_PACK)]) == 0
    by_id = capsys.readouterr().out
    assert main([*common, "--context-key", context_key(SECRET, "E06000002", "P1")]) == 0
    assert capsys.readouterr().out == by_id and "CX2 A context shared by cases was conferenced: MET" in by_id
    assert main([*common, "--context-id", "NOSUCHPLACE", "--pack", str(CONTEXT_PACK)]) == 2
    error = capsys.readouterr().err
    assert "has no context with that context_id" in error and "NOSUCHPLACE" not in error
    assert main([*common, "--context-id", "P1"]) == 2
    assert "--context-id needs --pack" in capsys.readouterr().err
