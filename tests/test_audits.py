"""Multi-agency case audits: the tool as data, a reproducible stratified sample, the audit's folder
of forms, and reidentification by the LA's own data team (docs/audits.md)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from assets import audits, warehouse
from assets.audit_forms import RETURN_COLUMNS, TRACKER_COLUMNS, return_form_name
from assets.audit_plan import plan_audit, reidentify
from assets.audits import MODERATED, AuditToolError, SampleError, audit_tool, draw_sample
from assets.ingest import ingest_inbox
from assets.scoring import score_pending
from assets.standardise import case_key
from synth.packs import write_packs

SECRET = b"audit-test-key"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Two LAs' packs of one quarter, loaded and scored: (connection, inbox, pack paths)."""
    root = tmp_path_factory.mktemp("audits")
    packs = write_packs(root / "inbox", las=2, quarters=1, seed=11, cases_per_la=60, formats="csv")
    con = warehouse.connect(root / "warehouse.duckdb")
    ingest_inbox(con, root / "inbox", SECRET)
    score_pending(con)
    yield con, root, sorted(packs)
    con.close()


def scored_home(home: Path, seed: int, cases: int) -> list[Path]:
    """One LA's synthetic pack of one quarter in `home`/inbox, loaded and scored into its warehouse."""
    packs = write_packs(home / "inbox", las=1, quarters=1, seed=seed, cases_per_la=cases, formats="csv")
    con = warehouse.connect(home / "warehouse.duckdb")
    ingest_inbox(con, home / "inbox", SECRET)
    score_pending(con)
    con.close()
    return packs


def the_pack(loaded) -> tuple[str, str, Path]:
    con, _, packs = loaded
    la, period = con.execute("SELECT la_code, period FROM submissions WHERE status = 'loaded' "
                             "ORDER BY ALL LIMIT 1").fetchone()
    return la, period, next(p for p in packs if p.name == f"{la}_{period}")


def test_the_default_tool_covers_the_domains_and_cites_its_sources():
    tool = audit_tool()
    assert {q.domain for q in tool.questions} == {"PI", "OF", "CI", "PF", "RC", "VC", "MA", "OV"}
    assert all(q.citation and q.source in ("rsm", "cs") for q in tool.questions)
    assert {i for q in tool.questions for i in q.indicators} >= {"PI1", "OF1", "CI1", "PF1"}
    assert tool.answers("grade") == ["outstanding", "good", "requires_improvement", "inadequate",
                                     "not_applicable", "not_known"]
    assert tool.value("ynp", "partly") == 1.0 and tool.value("grade", "not_known") is None
    assert "police" in tool.agencies and len(tool.questions_for(MODERATED)) == len(tool.questions)


def test_a_bad_question_is_refused_with_its_place(monkeypatch):
    from assets import config

    original = config.load_yaml

    def broken(name):
        spec = original(name)
        if name == "audit_tool.yaml":
            spec = {**spec, "questions": [*spec["questions"][:2], {**spec["questions"][2], "domain": "XX"}]}
        return spec

    monkeypatch.setattr(audits, "load_yaml", broken)
    audit_tool.cache_clear()
    try:
        with pytest.raises(AuditToolError, match=r"question 3 \(OF-a\): domain 'XX'"):
            audit_tool()
    finally:
        audit_tool.cache_clear()


def test_the_same_seed_draws_the_same_sample_and_the_focus_makes_half(loaded):
    con, _, _ = loaded
    la, period, _ = the_pack(loaded)
    cases = audits.pack_cases(con, la, period, "PI")
    below = {key for key, _, flag in cases if flag}
    assert 4 <= len(below) < len(cases) - 4  # the synthetic pack has both kinds
    first = draw_sample(cases, 8, seed=3, focus="PI")
    assert first == draw_sample(cases, 8, seed=3, focus="PI")
    assert first != draw_sample(cases, 8, seed=4, focus="PI")
    assert len({c.case_key for c in first}) == 8
    assert sum(c.case_key in below for c in first) >= 4
    assert all(c.stratum.endswith("|below") == (c.case_key in below) for c in first)
    plain = draw_sample(audits.pack_cases(con, la, period, None), 6, seed=3, focus=None)
    plan_types = {key: plan for key, plan, _ in cases}
    assert all(c.stratum == plan_types[c.case_key] and c.reason.startswith("plan type") for c in plain)


def test_allocation_is_proportional_and_never_exceeds_a_stratum():
    assert audits.allocate({"CP": 30, "CIN": 10}, 4) == {"CP": 3, "CIN": 1}
    assert audits.allocate({"CP": 1, "CIN": 50}, 10) == {"CP": 0, "CIN": 10}  # largest remainder
    assert audits.allocate({"CP": 2, "CIN": 3, "EH": 40}, 44) == {"CP": 2, "CIN": 3, "EH": 39}
    assert sum(audits.allocate({"a": 3, "b": 3, "c": 3}, 7).values()) == 7


def test_a_sample_that_cannot_be_drawn_is_refused_in_words(loaded, tmp_path):
    con, _, _ = loaded
    la, period, _ = the_pack(loaded)
    with pytest.raises(SampleError, match="fewer than the 500 asked for"):
        plan_audit(con, tmp_path, la, period, 500)
    with pytest.raises(SampleError, match="no pack of E06000099 for 2025Q1"):
        plan_audit(con, tmp_path, "E06000099", "2025Q1", 4)
    with pytest.raises(SampleError, match="--focus must be one of"):
        plan_audit(con, tmp_path, la, period, 4, focus="OC")
    assert list(tmp_path.iterdir()) == []


def test_planning_writes_the_forms_and_records_the_audit(loaded, tmp_path):
    con, _, _ = loaded
    la, period, _ = the_pack(loaded)
    try:
        plan = plan_audit(con, tmp_path, la, period, 6, theme="County lines", focus="OF", seed=7)
        recorded = con.execute("SELECT audit_id, la_code, period, theme, focus, size, seed, tool_version "
                               "FROM audits").fetchall()
        sampled = con.execute("SELECT case_key FROM audit_samples ORDER BY ALL").fetchall()
        second = plan_audit(con, tmp_path, la, period, 4, seed=7)
    finally:  # the module's warehouse is shared: leave it as found
        con.execute("DELETE FROM audits")
        con.execute("DELETE FROM audit_samples")
    assert plan.audit_id == f"{la}_{period}_01" and second.audit_id == f"{la}_{period}_02"
    assert recorded == [(plan.audit_id, la, period, "County lines", "OF", 6, 7, audit_tool().version)]
    assert sorted(k for (k,) in sampled) == sorted(c.case_key for c in plan.sample)
    tool = audit_tool()
    names = {p.name for p in plan.files}
    assert {"sample.csv", "questions.csv", "moderation_form.xlsx", "action_tracker.xlsx"} <= names
    assert {return_form_name(a) for a in tool.agencies} <= names and (plan.folder / "returns").is_dir()
    with (plan.folder / "sample.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["case_key"] for r in rows] == [c.case_key for c in plan.sample]
    police = load_workbook(plan.folder / return_form_name("police"))["answers"]
    header = [cell.value for cell in police[1]]
    assert tuple(header) == RETURN_COLUMNS
    body = list(police.iter_rows(min_row=2, values_only=True))
    assert len(body) == 6 * len(tool.questions_for("police"))
    assert {row[0] for row in body} == {"police"} and all(row[5] is None for row in body)
    lists = [v.formula1 for v in police.data_validations.dataValidation]
    assert '"outstanding,good,requires_improvement,inadequate,not_applicable,not_known"' in lists
    moderation = load_workbook(plan.folder / "moderation_form.xlsx")["answers"]
    assert moderation.max_row - 1 == 6 * len(tool.questions)
    tracker = load_workbook(plan.folder / "action_tracker.xlsx")["actions"]
    assert tuple(cell.value for cell in tracker[1]) == TRACKER_COLUMNS
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_reidentify_finds_the_las_case_ids_and_stores_nothing(loaded, tmp_path):
    con, root, _ = loaded
    la, period, pack = the_pack(loaded)
    sample = draw_sample(audits.pack_cases(con, la, period, None), 5, seed=2, focus=None)
    sample_csv = tmp_path / "sample.csv"
    from assets.audit_forms import write_sample_csv

    write_sample_csv(sample_csv, sample + [audits.SampledCase("0000000000000000", "CP", "not in the pack")])
    copy = tmp_path / "own copy" / pack.name
    shutil.copytree(pack, copy)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    found = reidentify(sample_csv, copy, SECRET)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    with (copy / "cases.csv").open(newline="", encoding="utf-8-sig") as handle:
        ids = [row["case_id"].strip() for row in csv.DictReader(handle)]
    by_key = {case_key(SECRET, la, case_id): case_id for case_id in ids}
    assert found[:-1] == [(c.case_key, by_key[c.case_key]) for c in sample]
    assert found[-1] == ("0000000000000000", None)
    # The warehouse never saw a case_id.
    assert not con.execute("SELECT count(*) FROM information_schema.columns WHERE column_name = 'case_id'"
                           ).fetchone()[0]


def test_reidentify_refuses_a_file_that_is_not_a_pack(tmp_path):
    sample_csv = tmp_path / "sample.csv"
    sample_csv.write_text("case_key,stratum,why_chosen\n", encoding="utf-8")
    (tmp_path / "holiday photos").mkdir()
    from assets.reading import PackRejected

    with pytest.raises(PackRejected, match="not a pack name"):
        reidentify(sample_csv, tmp_path / "holiday photos", SECRET)


def test_a_fresh_warehouse_has_the_audit_tables_empty(loaded):
    """The audit tables are in the warehouse schema, so a fresh warehouse has them, empty."""
    con = duckdb.connect()
    con.execute(warehouse.SCHEMA_SQL)
    assert con.execute("SELECT count(*) FROM audits").fetchone()[0] == 0


def test_the_command_line_plans_and_reidentifies(tmp_path, monkeypatch, capsys):
    from assets.secret import KEY_ENV
    from pipelines.cli import main

    monkeypatch.setenv(KEY_ENV, SECRET.decode())
    packs = scored_home(tmp_path, seed=5, cases=30)
    la, period = packs[0].name.split("_")
    assert main(["audit", "plan", "--home", str(tmp_path), "--la", la, "--period", period, "--size", "4",
                 "--focus", "of", "--theme", "county lines"]) == 0
    out, err = capsys.readouterr()
    audit_id = out.strip()
    assert audit_id == f"{la}_{period}_01" and "sampled 4 case(s)" in err and "returns" in err
    sample = tmp_path / "audits" / audit_id / "sample.csv"
    assert main(["audit", "reidentify", "--home", str(tmp_path), "--sample", str(sample),
                 "--pack", str(packs[0])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "case_key,case_id" and len(lines) == 5 and "NOT IN THIS PACK" not in "".join(lines)
    assert main(["audit", "plan", "--home", str(tmp_path), "--la", la, "--period", period, "--size", "999"]) == 2
    assert "fewer than the 999 asked for" in capsys.readouterr().err


def test_explain_takes_the_las_own_case_id_with_the_pack_and_stores_nothing(tmp_path, monkeypatch, capsys):
    from assets.secret import KEY_ENV
    from pipelines.cli import main

    monkeypatch.setenv(KEY_ENV, SECRET.decode())
    packs = scored_home(tmp_path, seed=6, cases=12)
    pack = packs[0]
    la, period = pack.name.split("_")
    with (pack / "cases.csv").open(newline="", encoding="utf-8-sig") as handle:
        case_id = next(csv.DictReader(handle))["case_id"].strip()
    def files() -> list:  # the reader's lock file aside, which holds no data
        return sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if not p.name.endswith(".lock"))

    before = files()
    common = ["explain", "--home", str(tmp_path), "--la", la, "--period", period]
    assert main([*common, "--case-id", case_id, "--pack", str(pack)]) == 0
    by_id = capsys.readouterr().out
    assert main([*common, "--case-key", case_key(SECRET, la, case_id)]) == 0
    assert capsys.readouterr().out == by_id and case_id not in by_id
    assert files() == before
    assert main([*common, "--case-id", case_id]) == 2
    assert "--case-id needs --pack" in capsys.readouterr().err
    assert main([*common, "--case-id", "no-such-case", "--pack", str(pack)]) == 2
    assert "has no case with that case_id" in capsys.readouterr().err


def test_an_audit_planned_without_a_theme_publishes(tmp_path, monkeypatch):
    """No theme is no theme: the public page says so and the run goes on."""
    from dashboards.publication import build_publication
    from dashboards.site import write_site

    packs = scored_home(tmp_path, seed=12, cases=20)
    con = warehouse.connect(tmp_path / "warehouse.duckdb")
    la, period = packs[0].name.split("_")
    plan_audit(con, tmp_path / "audits", la, period, 4)
    write_site(build_publication(con), tmp_path / "site")
    con.close()
    page = (tmp_path / "site" / "audits.html").read_text(encoding="utf-8")
    assert "not shown (none given" in page and ">nan<" not in page


def test_runs_write_the_restricted_edition_only_when_configured(loaded, tmp_path, monkeypatch):
    from dashboards import restricted

    con, _, _ = loaded
    settings = {"edition": "when_audits"}
    original = restricted.load_yaml
    monkeypatch.setattr(restricted, "load_yaml", lambda name: {**original(name), "restricted": {
        **original(name)["restricted"], **settings}} if name == "publication.yaml" else original(name))
    assert restricted.write_restricted_edition(con, tmp_path / "when_audits") is None  # no audit yet
    settings["edition"] = "never"
    assert restricted.write_restricted_edition(con, tmp_path / "never") is None
    settings["edition"] = "sometimes"
    with pytest.raises(ValueError, match="always, when_audits or never"):
        restricted.write_restricted_edition(con, tmp_path / "bad")
    settings["edition"] = "always"
    site, reports = restricted.write_restricted_edition(con, tmp_path / "always")
    assert reports == [] and (tmp_path / "always" / "site" / "worklist.html").exists()
    assert not (tmp_path / "when_audits").exists() and not (tmp_path / "never").exists()
