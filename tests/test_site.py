"""The published site, without a browser: every page type is written, nothing is fetched from the
network, small counts never appear, no case_key leaks, and every chart has a text alternative and a
table. The warehouse is built once for the module by the real pipeline over small synthetic packs
(12 cases per LA and quarter, with planted faults), so that many cells are suppressed."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest

from assets.scoring import framework
from assets.warehouse import SCHEMA_SQL
from dashboards import pages as pages_module
from dashboards.publication import Publication, build_publication
from dashboards.site import LEGEND, PLOTLY_JS, write_site
from pipelines.run import execute_audit
from synth.packs import write_packs

COUNT_CELL = re.compile(r'<t[dh][^>]*class="num count"[^>]*>(.*?)</t[dh]>')
FIGURE = re.compile(r"<figure\b([^>]*)>(.*?)</figure>", re.S)
NEW_PLOT = re.compile(r'Plotly\.newPlot\("([^"]+)", (\[.*?\]), (\{.*?\}), \{"displaylogo"')
HEADING = re.compile(r"<h([1-6])\b")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """An audit home after the real pipeline has run over 3 LAs x 3 quarters of small packs."""
    home = tmp_path_factory.mktemp("site") / "home"
    inbox = home / "inbox"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAFEGUARDING_AUDIT_KEY", "test-key")
        patch.delenv("SAFEGUARDING_AUDIT_HOME", raising=False)
        patch.delenv("SAFEGUARDING_AUDIT_INBOX", raising=False)
        write_packs(inbox, las=3, quarters=3, seed=5, cases_per_la=12, faults=True, formats="csv")
        assert execute_audit(dg.DagsterInstance.ephemeral(), home, inbox).success
    return home


@pytest.fixture(scope="module")
def publication(home) -> Publication:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return build_publication(con)
    finally:
        con.close()


@pytest.fixture(scope="module")
def case_keys(home) -> set[str]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return {row[0] for row in con.execute("SELECT DISTINCT case_key FROM cases").fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def pages(home) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in (home / "site").glob("*.html")}


def test_every_page_type_is_written(home, publication, pages):
    expected = {"index.html", "overview.html", "methods.html", "statutory.html", "benchmarks.html", "audits.html"}
    expected |= {f"indicator-{i.id}.html" for i in framework().indicators}
    # An LA whose only packs were rejected still gets a page: its data quality is the story there.
    named = set(publication.submissions["la_code"]) - {""}
    assert set(publication.la_codes) < named
    expected |= {f"la-{code}.html" for code in named}
    assert len(publication.la_codes) == 3
    # Each LA that sent a pack or a return has its benchmarks page.
    assert set(publication.benchmark_las) >= set(publication.la_codes)
    expected |= {f"benchmarks-{code}.html" for code in publication.benchmark_las}
    assert set(pages) == expected
    assert not (home / "site.new").exists()


def test_plotly_is_written_once_and_nothing_is_fetched(home, pages):
    scripts = list((home / "site").rglob("*.js"))
    assert [p.name for p in scripts] == [PLOTLY_JS]
    assert scripts[0].stat().st_size > 1_000_000
    for name, page in pages.items():
        assert page.count('<script src="plotly.min.js"></script>') == 1, name
        assert "cdn" not in page.lower(), name
        sources = re.findall(r'(?:src|href)="([^"]*)"', page)
        assert not [s for s in sources if re.match(r"(https?:)?//", s)], name


def test_counts_from_1_to_5_are_never_shown(pages):
    cells = [cell for page in pages.values() for cell in COUNT_CELL.findall(page)]
    assert len(cells) > 100
    assert not [cell for cell in cells if cell.strip() in {"1", "2", "3", "4", "5"}]
    assert "[c]" in cells  # the packs are small enough that suppression happened


def test_no_case_key_appears_anywhere_in_the_site(home, case_keys):
    assert case_keys and all(re.fullmatch(r"[0-9a-f]{16}", key) for key in case_keys)
    for path in (home / "site").rglob("*"):
        content = path.read_text(encoding="utf-8")
        assert not [key for key in case_keys if key in content], path.name


def test_every_chart_has_a_label_a_caption_and_a_table(pages):
    charts = 0
    for name, page in pages.items():
        figures = [body for attributes, body in FIGURE.findall(page) if 'class="chart"' in body]
        assert len(figures) == page.count('class="chart"'), name  # no chart outside a figure
        for attributes, body in FIGURE.findall(page):
            assert re.search(r'aria-label="[^"]{10,}"', attributes), name
            assert re.search(r"<figcaption>[^<]{20,}.*?</figcaption>", re.sub(r"</?abbr[^>]*>", "", body), re.S), name
            assert "<table>" in body and "<details>" in body, name
        charts += len(figures)
    assert charts >= 2 + 1 + 3  # overview scores, at least one indicator, every LA


def test_every_page_has_the_layout_and_the_shorthand_legend(pages):
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', pages["index.html"]).group(0)
    for name, page in pages.items():
        assert '<html lang="en">' in page and page.count("<main") == 1, name
        if name != "index.html":  # the headlines have no table, so no shorthand to explain
            assert LEGEND in page and "[c] confidential, [z] not applicable, [x] not available" in page, name
        assert re.sub(r' aria-current="page"', "", re.search(r'<nav aria-label="Main">.*?</nav>', page).group(0)) \
            == re.sub(r' aria-current="page"', "", nav), name
        levels = [int(level) for level in HEADING.findall(page)]
        assert levels[0] == 1 and levels.count(1) == 1, name
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), name


def test_charts_plot_only_published_rates(publication, pages):
    """Every LA point on a funnel plot is a published (unsuppressed) rate and denominator."""
    published = {(int(r.denominator), round(100 * r.rate, 6)) for r in publication.rates.itertuples()
                 if not r.rate_suppressed and not r.is_total and r.denominator > 0}
    plotted = 0
    for name, page in pages.items():
        for div_id, data, _ in NEW_PLOT.findall(page):
            if not div_id.startswith("funnel-chart"):
                continue
            for trace in json.loads(data):
                if trace.get("mode", "").startswith("markers"):
                    points = {(int(x), round(y, 6)) for x, y in zip(trace["x"], trace["y"], strict=True)}
                    assert points <= published, name
                    plotted += len(points)
    assert plotted
    hover_counts = [int(n) for page in pages.values() for n in re.findall(r"n = (\d+)", page)]
    assert hover_counts and not [n for n in hover_counts if 1 <= n <= 5]


def test_local_authorities_are_listed_by_name_never_ranked(publication, pages):
    names = [re.sub(r" \(E\d+\)$", "", n) for n in re.findall(r'<li><a href="la-[^"]+">([^<]+)</a></li>',
                                                                 pages["overview.html"])]
    assert names == sorted(names) and len(names) == len(set(publication.submissions["la_code"]) - {""})
    funnel_tables = [re.search(r"<caption>Rates and control limits.*?</table>", page, re.S)
                     for name, page in pages.items() if name.startswith("indicator-")]
    for found in filter(None, funnel_tables):
        rows = re.findall(r'<tr><th scope="row">(?:<a href="([^"]+)">)?([^<]+)(?:</a>)?</th>', found.group(0))
        las = [name for _, name in rows[:-1]]  # the partnership is last, and not linked
        assert las == sorted(las) and len(las) == 3
        assert all(href.startswith("la-") for href, _ in rows[:-1]) and rows[-1][0] == ""  # drill-down to the LA
    assert any(funnel_tables)


def test_methods_page_explains_the_statistics_and_disclosure(pages):
    methods = pages["methods.html"]
    for phrase in ("Wilson", "Spiegelhalter", "99.8%", "run of 7", "improvement", "concern",
                   "from 1 to 5", "Secondary suppression", "5 or fewer cases"):
        assert phrase in methods, phrase
    assert all(f'href="indicator-{i.id}.html"' in methods for i in framework().indicators)


def test_methods_page_spells_out_every_abbreviation_and_says_what_a_quarter_is(pages):
    import yaml

    from assets.config import CONFIG_DIR

    glossary = yaml.safe_load((CONFIG_DIR / "glossary.yaml").read_text(encoding="utf-8"))
    methods = pages["methods.html"]
    section = methods[methods.index('id="glossary"'):methods.index('id="symbols"')]
    assert "2025 Q1 is January to March 2025" in section and "1 April 2024 to 31 March 2025" in section
    terms = re.findall(r"<dt>([^<]*)</dt>", section)
    assert terms == sorted(glossary["terms"], key=str.casefold)
    for term in ("EFH", "MACE", "NRM"):
        assert f"<dt>{term}</dt>" in section


def test_an_empty_warehouse_still_publishes(tmp_path):
    con = duckdb.connect()
    con.execute(SCHEMA_SQL)
    written = write_site(build_publication(con), tmp_path / "site").pages
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "No packs loaded yet" in index
    assert {p.name for p in written} == {"index.html", "overview.html", "methods.html", "statutory.html",
                                       "benchmarks.html", "audits.html"} | {
        f"indicator-{i.id}.html" for i in framework().indicators}


def test_one_quarter_only(publication):
    latest = publication.periods[-1]
    one = dataclasses.replace(publication, periods=[latest], **{
        name: frame[frame["period"] == latest]
        for name in ("rates", "scores", "submissions", "quarantine_rules")
        for frame in [getattr(publication, name)]})
    index = pages_module.overview_page(one).body
    assert "Only one quarter has been loaded so far" in index
    assert "runs and trends need at least 7 quarters" in index
    indicator = pages_module.indicator_page(one, framework().indicator("OF1")).body
    assert 'id="spc-chart"' in indicator and "1 quarter plotted" in indicator
    code = one.la_codes[0]
    assert 'id="trends-chart"' in pages_module.la_page(one, code, code).body


def test_an_indicator_that_applied_to_no_cases(publication):
    rates = publication.rates.copy()
    chosen = rates["indicator_id"] == "PI1"
    rates.loc[chosen, ["numerator", "denominator"]] = 0
    rates.loc[chosen, ["rate", "ci_low", "ci_high"]] = np.nan
    for column in ("numerator", "denominator", "rate", "ci_low", "ci_high"):
        rates.loc[chosen, f"{column}_suppressed"] = False
    page = pages_module.indicator_page(dataclasses.replace(publication, rates=rates),
                                       framework().indicator("PI1")).body
    assert "[z]" in page and 'id="funnel-chart"' not in page and 'id="spc-chart"' not in page
    assert "applied to no cases" in page


def test_the_site_is_swapped_in_whole(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "stale.html").write_text("old", encoding="utf-8")
    con = duckdb.connect()
    con.execute(SCHEMA_SQL)
    write_site(build_publication(con), site)
    assert not (site / "stale.html").exists() and (site / "index.html").exists()
    assert not (tmp_path / "site.new").exists()


def test_a_higher_threshold_is_applied_and_explained(tmp_path, home):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        written = write_site(build_publication(con, limit=10), tmp_path / "site").pages
    finally:
        con.close()
    texts = [path.read_text(encoding="utf-8") for path in written]
    cells = [cell.strip() for page in texts for cell in COUNT_CELL.findall(page)]
    assert cells and not [cell for cell in cells if cell.isdigit() and 1 <= int(cell) <= 10]
    methods = (tmp_path / "site" / "methods.html").read_text(encoding="utf-8")
    assert "a count from 1 to 10 is shown as [c]" in methods


def test_pages_whose_inputs_did_not_change_are_not_written_again(publication, tmp_path):
    """A second write of the same publication draws nothing: every file keeps its content and its
    modification time. A change to one LA's numbers redraws the pages that show them, only."""
    site = tmp_path / "site"
    first = write_site(dataclasses.replace(publication), site)
    assert len(first.redrawn) == len(first.pages) > 20
    before = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in site.iterdir()}
    time.sleep(0.01)
    again = write_site(dataclasses.replace(publication), site)
    assert again.redrawn == [] and again.unchanged == len(first.pages)
    assert {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in site.iterdir()} == before

    rates = publication.rates.copy()
    shown = rates[~rates["is_total"] & ~rates["numerator_suppressed"] & (rates["period"] == publication.periods[0])]
    chosen = shown.index[0]
    code, indicator = rates.loc[chosen, "la_code"], rates.loc[chosen, "indicator_id"]
    rates.loc[chosen, "numerator"] += 1
    changed = write_site(dataclasses.replace(publication, rates=rates), site)
    assert set(changed.redrawn) == {f"la-{code}.html", f"indicator-{indicator}.html"}
    after = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in site.iterdir()}
    assert {name for name in before if after[name] != before[name]} == set(changed.redrawn) | {".pages.json"}
    assert not (tmp_path / "site.new").exists()



# ---------------------------------------------------------------- links to the open data

DOWNLOAD = re.compile(r'<p class="download"><a href="\.\./exports/([a-z0-9_]+\.csv)">')
TABLE_WRAP = re.compile(r'<div class="table-wrap">.*?</table></div>\s*(<p class="download">.*?</p>)?', re.S)
PAGE_DOWNLOADS = re.compile(r'<p class="downloads">(.*?)</p>', re.S)
# Pages drawn by templates the returns' owners keep: their tables are covered by the page's list.
PAGE_LEVEL_ONLY = {"statutory.html", "benchmarks.html"}


def test_every_chart_and_table_links_to_the_export_that_holds_its_numbers(home, pages):
    exports = {p.name for p in (home / "exports").iterdir()}
    for name, text in pages.items():
        listed = re.findall(r'href="\.\./exports/([^"]+)"', " ".join(PAGE_DOWNLOADS.findall(text)))
        assert set(listed) <= exports, name
        for attributes, body in FIGURE.findall(text):
            found = DOWNLOAD.findall(body)
            assert found and set(found) <= exports, (name, attributes)
        for table in TABLE_WRAP.finditer(FIGURE.sub("", text)):
            if name in PAGE_LEVEL_ONLY:
                assert listed, name
                continue
            found = DOWNLOAD.findall(table.group(0))
            assert found and set(found) <= exports, (name, table.group(0)[:120])
    assert DOWNLOAD.findall(pages["overview.html"]) and DOWNLOAD.findall(pages["indicator-PI1.html"])


def test_each_chart_links_to_the_dataset_of_its_own_numbers(pages):
    charts = {re.search(r'<div id="([^"]+)"', body).group(1): DOWNLOAD.findall(body)
              for _, body in FIGURE.findall(pages["indicator-PI1.html"])}
    assert charts["spc-chart"] == ["spc_signals.csv"]
    assert charts.get("funnel-chart", ["funnel_flags.csv"]) == ["funnel_flags.csv"]


def test_every_page_says_what_its_data_is_as_at_and_the_framework_version(publication, pages):
    version = publication.framework.sha256[:12]
    for name, text in pages.items():
        found = re.search(r'<p class="edition">Data as at \d{1,2} [A-Z][a-z]+ \d{4}\. '
                          r'Framework version ([0-9a-f]+)\.</p>', text)
        assert found and found.group(1) == version, name


def test_the_restricted_edition_links_to_no_public_file(home, tmp_path):
    from dashboards.restricted import write_restricted_site

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        write_restricted_site(con, tmp_path / "restricted" / "site")
    finally:
        con.close()
    for path in (tmp_path / "restricted" / "site").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "../exports" not in text and 'class="download' not in text, path.name
        assert '<p class="edition">Data as at' in text


def test_a_funnel_flag_is_told_apart_as_good_news_or_a_concern_by_the_indicators_direction():
    """Above the limit is better where higher is better and a concern where lower is: each kind has
    its own colour, shape and words on the chart."""
    import pandas as pd

    from dashboards.figures import Funnel, flag_styles, flag_verdict, funnel_figure

    assert [flag_verdict(f, d) for f, d in ((1, "higher"), (-1, "higher"), (1, "lower"), (-1, "lower"), (0, "lower"))
            ] == ["better", "worse", "worse", "better", None]
    points = pd.DataFrame({"la_code": ["A", "B", "C"], "la_name": ["Ayton", "Beeby", "Ceston"],
                           "numerator": [40, 2, 20], "denominator": [50, 50, 50], "rate": [0.8, 0.04, 0.4],
                           "flag": [1, -1, 0]})
    funnel = Funnel("2025Q3", 0.4, points, [], [])
    styles = flag_styles()
    for direction, above, below in (("higher", "better", "worse"), ("lower", "worse", "better")):
        # A long name is broken over lines (<br>) so that the legend fits a phone.
        traces = {t["name"].replace("<br>", " "): t
                  for t in funnel_figure(funnel, label_all=True, direction=direction)["data"]}
        for name, verdict in (("Ayton", above), ("Beeby", below)):
            trace = traces[f"Outside the widest limits: {styles[verdict]['words']}"]
            assert trace["marker"]["symbol"] == styles[verdict]["symbol"]
            assert trace["marker"]["color"] == styles[verdict]["colour"]
            assert any(label.startswith(name) and styles[verdict]["label"] in label for label in trace["text"])
        assert styles["better"]["symbol"] != styles["worse"]["symbol"]


def test_every_la_named_at_the_head_of_a_table_row_links_to_its_page(home, publication, pages):
    names = set(publication.submissions.loc[~publication.submissions["is_total"], "la_name"])
    checked = 0
    for name, page in pages.items():
        if not (name == "overview.html" or name.startswith(("indicator-", "statutory", "benchmarks"))):
            continue
        for href, text in re.findall(r'<th scope="row">(?:<a href="([^"]+)">)?([^<]+)', page):
            if text in names:
                # To the LA's page (the benchmarks index: to the LA's benchmarks page).
                assert href.startswith(("la-", "benchmarks-")) and (home / "site" / href).exists(), (name, text)
                checked += 1
    assert checked > 50


def test_every_la_and_indicator_named_in_a_chart_caption_links_to_its_page(home, publication, pages):
    """Drill-down from the words under a chart: another LA's name, or an indicator's id in a list of
    flags or signals, is a link to its page (an LA's own page does not link to itself)."""
    names = {row.la_code: row.la_name for row in publication.submissions.itertuples() if not row.is_total}  # by code
    ids = [i.id for i in framework().indicators]
    linked = 0
    for name, page in pages.items():
        for caption in re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S):
            for href in re.findall(r'<a href="([^"]+)">', caption):
                assert (home / "site" / href).exists(), (name, href)
                linked += 1
            plain = re.sub(r"<a [^>]*>.*?</a>", "", caption, flags=re.S)
            for code, la in names.items():
                own = name in (f"la-{code}.html", f"benchmarks-{code}.html")
                if not own and (home / "site" / f"la-{code}.html").exists():
                    assert not re.search(rf"\b{re.escape(la)}\b", plain), (name, la)
            for flag_list in re.findall(r"(?:better than expected|a concern|Special causes):([^.]*)\.", plain):
                assert not any(re.search(rf"\b{i}\b", flag_list) for i in ids), (name, flag_list)
    assert linked > 5


def test_the_quarter_choice_covers_the_configured_latest_quarters(publication, monkeypatch):
    import dashboards.views.common as common
    from dashboards.views.indicator import indicator_view
    from dashboards.views.la import la_view

    real = common.load_yaml
    monkeypatch.setattr(common, "load_yaml", lambda name: {**real(name), "pages": {"quarters_to_choose": 2}}
                        if name == "publication.yaml" else real(name))
    publication.lookups.pop("quarters_to_choose", None)
    try:
        latest_two = publication.periods[::-1][:2]
        assert len(publication.periods) > 2
        view = indicator_view(publication, framework().indicator("PI1"), "Partnership")
        assert [funnel["period"] for funnel in view["funnels"]] == latest_two
        code = publication.la_codes[0]
        la = la_view(publication, code, code, "Partnership")
        assert [la["rates"]["period"]] + [one["period"] for one in la["earlier_rates"]] == latest_two
    finally:
        publication.lookups.pop("quarters_to_choose", None)
