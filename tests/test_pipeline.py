"""The thin end-to-end slice: a hand-built pack through the real Dagster assets into DuckDB and the
site, checked against values worked out by hand (tests/fixtures/tiny_pack)."""

from __future__ import annotations

import hashlib
import hmac
import time

import dagster as dg
import duckdb
import pytest

from pipelines.run import execute_audit

# Worked by hand from tests/fixtures/tiny_pack/E06000001_2025Q3 (cases A1-A4). None = not applicable.
EXPECTED_CASE_RESULTS = {
    "A1": {"PI1": True, "PI2": True, "PI3": True, "PI4": False, "PI5": True, "PI6": False,
           "OF1": True, "OF2": False, "OF3": True, "OF4": None,
           "CI1": False, "CI2": False, "CI3": True, "CI4": False,
           "PF1": True, "PF2": True, "OC1": True, "OC2": True},
    "A2": {"PI1": True, "PI2": True, "PI3": False, "PI4": True, "PI5": False, "PI6": False,
           "OF1": False, "OF2": False, "OF3": False, "OF4": True,
           "CI1": True, "CI2": True, "CI3": True, "CI4": True,
           "PF1": True, "PF2": False, "OC1": False, "OC2": None},
    "A3": {"PI1": None, "PI2": None, "PI3": None, "PI4": None, "PI5": None, "PI6": None,
           "OF1": False, "OF2": False, "OF3": None, "OF4": False,
           "CI1": False, "CI2": False, "CI3": False, "CI4": None,
           "PF1": None, "PF2": None, "OC1": None, "OC2": None},
    "A4": {"PI1": None, "PI2": None, "PI3": None, "PI4": None, "PI5": None, "PI6": None,
           "OF1": False, "OF2": False, "OF3": None, "OF4": None,
           "CI1": False, "CI2": False, "CI3": False, "CI4": None,
           "PF1": None, "PF2": False, "OC1": False, "OC2": None},
}
EXPECTED_PF1_VALUES = {"A1": 0.5, "A2": 2 / 3}
EXPECTED_RATES = {  # indicator: (numerator, denominator)
    "PI1": (2, 2), "PI2": (2, 2), "PI3": (1, 2), "PI4": (1, 2), "PI5": (1, 2), "PI6": (0, 2),
    "OF1": (1, 4), "OF2": (0, 4), "OF3": (1, 2), "OF4": (1, 2),
    "CI1": (1, 4), "CI2": (1, 4), "CI3": (2, 4), "CI4": (1, 2),
    "PF1": (2, 2), "PF2": (1, 3), "OC1": (1, 3), "OC2": (1, 1),
}
EXPECTED_PACK_SCORES = {
    "PI": (4 / 6 + 3 / 6) / 2,
    "OF": (2 / 3 + 1 / 4 + 0 + 0) / 4,
    "CI": (1 / 4 + 1 + 0 + 0) / 4,
    "PF": (0.5 + 2 / 3) / 2,
}
EXPECTED_PACK_SCORES["PRACTICE"] = sum(EXPECTED_PACK_SCORES.values()) / 4


def key_of(case_id: str) -> str:
    return hmac.new(b"test-key", f"E06000001:{case_id}".encode(), hashlib.sha256).hexdigest()[:16]


@pytest.fixture
def materialised(audit_home, tiny_inbox):
    result = execute_audit(dg.DagsterInstance.ephemeral(), audit_home, tiny_inbox)
    assert result.success
    con = duckdb.connect(str(audit_home / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def test_case_indicators_match_hand_worked_values(materialised):
    rows = materialised.execute(
        "SELECT case_key, indicator_id, applicable, met, value FROM case_indicators").fetchall()
    assert len(rows) == 4 * 20  # 20 case indicators
    by_key = {(key, ind): (app, met, value) for key, ind, app, met, value in rows}
    for case_id, expected in EXPECTED_CASE_RESULTS.items():
        for indicator, met in expected.items():
            applicable, got_met, value = by_key[(key_of(case_id), indicator)]
            assert applicable == (met is not None), (case_id, indicator)
            assert got_met == met, (case_id, indicator)
            if met is None:
                assert value is None
            elif indicator == "PF1":
                assert value == pytest.approx(EXPECTED_PF1_VALUES[case_id], abs=1e-12)
            else:
                assert value == (1.0 if met else 0.0)


def test_indicator_rates_and_scores_match_hand_worked_values(materialised):
    rates = {r[0]: r[1:] for r in materialised.execute(
        "SELECT indicator_id, numerator, denominator, rate, ci_low, ci_high FROM indicator_rates "
        "WHERE la_code = 'E06000001' AND period = '2025Q3'").fetchall()}
    # The tiny pack is a v1 pack (no contexts): the indicators about contexts have nothing to score.
    about_contexts = {"CI5", "CI6", "CX1", "CX2", "CX3", "CX4", "CX5", "CX6"}
    assert set(rates) == set(EXPECTED_RATES) | about_contexts
    assert {i: rates[i][:3] for i in about_contexts} == {i: (0, 0, None) for i in about_contexts}
    for indicator, (numerator, denominator) in EXPECTED_RATES.items():
        got = rates[indicator]
        assert got[:2] == (numerator, denominator), indicator
        assert got[2] == pytest.approx(numerator / denominator)
        assert got[3] <= got[2] <= got[4]
    # Wilson interval for 1 of 2, worked by hand with z = 1.959963984540054.
    assert rates["PI3"][3] == pytest.approx(0.0945312, abs=1e-6)
    assert rates["PI3"][4] == pytest.approx(0.9054688, abs=1e-6)
    scores = dict(materialised.execute(
        "SELECT domain, score FROM pack_scores WHERE la_code = 'E06000001' AND period = '2025Q3'").fetchall())
    assert scores == pytest.approx(EXPECTED_PACK_SCORES, abs=1e-12)


def test_warehouse_holds_no_raw_case_reference(materialised, audit_home):
    columns = materialised.execute(
        "SELECT table_name, column_name FROM information_schema.columns").fetchall()
    # audit_actions.action_id names an action of an audit's tracker (A1, A2...), not an LA's record.
    assert not [c for c in columns if c[1] in ("case_id", "meeting_id", "action_id") and c[0] != "audit_actions"]
    keys = {r[0] for r in materialised.execute("SELECT case_key FROM cases").fetchall()}
    assert keys == {key_of(c) for c in EXPECTED_CASE_RESULTS}
    submission = materialised.execute(
        "SELECT status, cases_loaded, rows_quarantined FROM submissions").fetchall()
    assert submission == [("loaded", 4, 0)]


def test_site_has_an_offline_chart(materialised, audit_home):
    index = (audit_home / "site" / "overview.html").read_text()
    assert '<script src="plotly.min.js"></script>' in index
    assert "Plotly.newPlot" in index
    assert "cdn" not in index.lower()
    assert (audit_home / "site" / "plotly.min.js").stat().st_size > 1_000_000


def partition_metadata(instance, asset: str, period: str) -> dict:
    """The latest materialisation of one quarter's partition of an asset, as plain values."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset),
                                                                    asset_partitions=[period]), limit=1).records
    return {k: getattr(v, "value", getattr(v, "text", getattr(v, "md_str", None)))
            for k, v in records[0].asset_materialization.metadata.items()}


def test_one_las_quarter_reruns_alone_when_forced(audit_home, tiny_inbox):
    import shutil

    shutil.copytree(tiny_inbox / "E06000001_2025Q3", tiny_inbox / "E06000002_2025Q3")
    instance = dg.DagsterInstance.ephemeral()
    assert execute_audit(instance, audit_home, tiny_inbox).success
    assert instance.get_dynamic_partitions("periods") == ["2025Q3"]
    con = duckdb.connect(str(audit_home / "warehouse.duckdb"), read_only=True)
    before = con.execute("SELECT * FROM indicator_rates ORDER BY ALL").fetchall()
    received = dict(con.execute("SELECT la_code, received_at FROM submissions").fetchall())
    con.close()
    time.sleep(1.1)  # received_at has whole seconds

    result = execute_audit(instance, audit_home, tiny_inbox, rerun=("E06000002", "2025Q3"))
    assert result.success
    metadata = partition_metadata(instance, "packs", "2025Q3")
    assert metadata["packs_loaded"] == 1 and "E06000002_2025Q3 | loaded" in metadata["packs"]
    assert "E06000001_2025Q3 | unchanged" in metadata["packs"]
    con = duckdb.connect(str(audit_home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT * FROM indicator_rates ORDER BY ALL").fetchall() == before  # same content, same rates
    again = dict(con.execute("SELECT la_code, received_at FROM submissions").fetchall())
    assert again["E06000001"] == received["E06000001"] and again["E06000002"] > received["E06000002"]


def test_a_forced_rerun_names_one_pack_or_one_las_packs_and_refuses_a_slip(tiny_inbox):
    """`run --force` passes the pack's key, so a run that also covers other quarters reloads that
    pack alone; an LA code (from the UI) means its packs in the run's quarters; a slip is refused."""
    import shutil

    from assets.ingest import forced_packs

    for name in ("E06000002_2025Q3", "E06000002_2025Q4"):
        shutil.copytree(tiny_inbox / "E06000001_2025Q3", tiny_inbox / name)
    quarters = ["2025Q3", "2025Q4"]
    assert forced_packs(tiny_inbox, quarters, ["E06000002|2025Q3"]) == {"E06000002|2025Q3"}
    assert forced_packs(tiny_inbox, quarters, [" e06000002 "]) == {"E06000002|2025Q3", "E06000002|2025Q4"}
    assert forced_packs(tiny_inbox, ["2025Q4"], ["E06000002"]) == {"E06000002|2025Q4"}
    for slip in ("E0600002", "E06000001|2025Q4", "E06000002|2025Q2"):
        with pytest.raises(ValueError, match="names no pack"):
            forced_packs(tiny_inbox, quarters, [slip])


def test_a_quarter_runs_with_only_its_new_pack_loaded(audit_home, tiny_inbox):
    import shutil

    instance = dg.DagsterInstance.ephemeral()
    shutil.copytree(tiny_inbox / "E06000001_2025Q3", tiny_inbox / "E06000002_2025Q3")
    assert execute_audit(instance, audit_home, tiny_inbox).success

    def packs_run(result) -> set:
        return {e.event_specific_data.materialization.partition for e in result.get_asset_materialization_events()
                if e.event_specific_data.materialization.asset_key.to_user_string() == "packs"}

    # A new pack: its quarter runs; the packs already loaded in it are skipped by their hash.
    shutil.copytree(tiny_inbox / "E06000001_2025Q3", tiny_inbox / "E06000003_2025Q3")
    added = execute_audit(instance, audit_home, tiny_inbox)
    assert added.success and packs_run(added) == {"2025Q3"}
    metadata = partition_metadata(instance, "packs", "2025Q3")
    assert (metadata["packs_loaded"], metadata["packs_rejected"]) == (1, 0)
    assert metadata["packs"].count("| unchanged |") == 2
    # Nothing new: no quarter runs; the site is republished.
    again = execute_audit(instance, audit_home, tiny_inbox)
    assert again.success and packs_run(again) == set()
    assert {e.asset_key.to_user_string() for e in again.get_asset_materialization_events()} >= {"site"}


def test_dagster_bookkeeping_does_not_grow_with_the_packs_of_a_quarter(tmp_path):
    """A quarter of 40 packs writes about as many event records as one of 10."""
    from synth.packs import write_packs

    counts = {}
    for las in (10, 40):
        home = tmp_path / f"home{las}"
        write_packs(home / "inbox", las=las, quarters=1, seed=5, cases_per_la=3, formats="csv")
        instance = dg.DagsterInstance.ephemeral()
        result = execute_audit(instance, home, home / "inbox")
        assert result.success
        counts[las] = len(instance.get_records_for_run(result.run_id, limit=100_000).records)
    assert counts[40] <= counts[10] + 10, counts
