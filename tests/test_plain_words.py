"""Plain words for readers who do not read SQL: every indicator's rules in plain English (refused
without them), shown on its page with the SQL behind a closed switch; every abbreviation spelled
out where a page first uses it; quarters said to be calendar quarters where a page first shows
one; and the partnership named so that sentences read well whatever its name. The site is the one
tests/test_site.py builds (its fixtures, imported)."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import pytest
import yaml
from markupsafe import escape
from test_site import home, pages, publication  # noqa: F401 (the site's fixtures)

import assets.config
from assets.config import load_yaml
from assets.scoring import FrameworkError, framework, merge_local, parse_framework
from assets.statutory import statutory_framework
from dashboards import publication as publication_module
from dashboards.glossary import abbreviations, quarter_note, spell_out

QUARTER = re.compile(r"\b20\d\d Q[1-4]\b")
TECHNICAL = re.compile(r"<details class=\"technical\">(.*?)</details>", re.S)


class Visible(HTMLParser):
    """A page's text as a reader sees it, one space for any white space and a new line between
    blocks, with where each <abbr> is and its title. The head, scripts, styles, code and the
    glossary's terms (<dt>) are left out; the h1 is kept apart."""

    SKIP = {"head", "script", "style", "code", "pre", "dt"}
    BLOCKS = {"p", "h2", "h3", "h4", "li", "td", "th", "caption", "figcaption", "summary", "dd", "dl", "div",
              "tr", "table", "figure", "details", "ul", "footer", "header", "main", "nav"}

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.text, self.h1, self.spans = "", "", []
        self.skipping, self.in_h1, self.abbr = 0, False, None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in self.SKIP
        self.in_h1 = self.in_h1 or tag == "h1"
        if tag == "abbr":
            self.abbr = (len(self.text), dict(attrs).get("title"))
        if tag in self.BLOCKS:
            self.text += "\n"

    def handle_endtag(self, tag):
        self.skipping -= tag in self.SKIP
        self.in_h1 = self.in_h1 and tag != "h1"
        if tag == "abbr" and self.abbr:
            self.spans.append((self.abbr[0], len(self.text), self.abbr[1]))
            self.abbr = None
        if tag in self.BLOCKS:
            self.text += "\n"

    def handle_data(self, data):
        if self.skipping:
            return
        data = re.sub(r"\s+", " ", data)
        if self.in_h1:
            self.h1 += data
        else:
            self.text += data

    def title_at(self, start: int, end: int) -> str | None:
        """The title of the <abbr> the text from start to end is in (None: in none)."""
        return next((title for first, last, title in self.spans if first <= start and end <= last), None)


# ---------------------------------------------------------------- the framework's words


def test_every_indicator_says_its_rules_in_plain_words():
    for fw in (framework(), statutory_framework()):
        for indicator in fw.indicators:
            assert len(indicator.applies_to.split()) >= 2 and indicator.applies_to.endswith("."), indicator.id
            assert len(indicator.met_when.split()) >= 4 and indicator.met_when.endswith("."), indicator.id
            assert bool(indicator.value_is) == bool(indicator.value), indicator.id
            assert "_" not in indicator.applies_to + indicator.met_when + indicator.value_is, indicator.id  # no names
    every = {i.id: i.applies_to for i in framework().indicators if i.applicable == "true"}
    assert every == {i: ("Every context." if i.startswith("CX") else "Every case.") for i in every}


def test_an_indicator_without_its_words_is_refused_by_name():
    data = load_yaml("indicators.yaml")

    def without(indicator_id: str, key: str) -> dict:
        return {**data, "indicators": [{k: v for k, v in i.items() if not (i["id"] == indicator_id and k == key)}
                                       for i in data["indicators"]]}

    with pytest.raises(FrameworkError, match="indicator PI1: missing applies_to: say in plain English"):
        parse_framework(without("PI1", "applies_to"))
    with pytest.raises(FrameworkError, match="indicator CX6: missing met_when"):
        parse_framework(without("CX6", "met_when"))
    with pytest.raises(FrameworkError, match="indicator PF1: missing value_is"):
        parse_framework(without("PF1", "value_is"))
    blank = {**data, "indicators": [{**i, "met_when": "  "} if i["id"] == "OF2" else i for i in data["indicators"]]}
    with pytest.raises(FrameworkError, match="indicator OF2: missing met_when"):
        parse_framework(blank)
    local = yaml.safe_load((assets.config.CONFIG_DIR.parent / "docs" / "examples" / "indicators.local.yaml")
                           .read_text(encoding="utf-8"))
    local["indicators"] = [{k: v for k, v in i.items() if k not in ("applies_to", "met_when")}
                           for i in local["indicators"]]
    with pytest.raises(FrameworkError, match="indicator LOC1: missing applies_to, met_when"):
        parse_framework(merge_local(data, local))
    stray = {**data, "indicators": [{**i, "value_is": "A share."} if i["id"] == "PI1" else i
                                    for i in data["indicators"]]}
    with pytest.raises(FrameworkError, match="indicator PI1: value_is describes a value"):
        parse_framework(stray)


def test_page_headings_from_the_framework_spell_words_out():
    """An indicator's title is its page's h1, which is left as it is: it holds no abbreviation."""
    for indicator in framework().indicators:
        assert not [a for a in abbreviations() if re.search(rf"(?<!\w){a}s?(?!\w)", indicator.title)], indicator.id


def test_st3s_question_asks_for_the_share_its_rate_shows():
    st3 = statutory_framework().indicator("ST3")
    assert "what share went missing at least once?" in st3.question and "The value is" not in st3.question
    assert st3.met == "missing_episodes >= 1" and "mean" in st3.question and "mean" in st3.value_is


# ---------------------------------------------------------------- the pages


def test_an_indicator_page_shows_the_words_and_keeps_the_sql_behind_a_closed_switch(pages):  # noqa: F811
    for indicator in framework().indicators:
        page = pages[f"indicator-{indicator.id}.html"]
        definition = Visible(page[page.index('id="definition"'):]).text
        for words in (indicator.applies_to, indicator.met_when, indicator.value_is):
            assert words in definition, (indicator.id, words)
        technical = TECHNICAL.findall(page)
        assert len(technical) == 1 and '<details class="technical" open' not in page, indicator.id
        assert "<summary>Technical detail: the rule as the engine runs it</summary>" in technical[0]
        outside = TECHNICAL.sub("", page)
        assert "<code>" not in outside, indicator.id
        for rule in (indicator.applicable, indicator.met, indicator.value):
            if rule:
                assert f"<code>{escape(rule)}</code>" in technical[0], (indicator.id, rule)
    methods = pages["methods.html"]
    assert methods.count('<details class="technical">') == len(framework().indicators)
    assert "<code>" not in TECHNICAL.sub("", methods)


def test_every_abbreviation_is_spelled_out_where_a_page_first_uses_it(pages):  # noqa: F811
    used = set()
    for name, page in pages.items():
        visible = Visible(page)
        for abbreviation, term in abbreviations().items():
            assert not re.search(rf"(?<!\w){abbreviation}s?(?!\w)", visible.h1), (name, visible.h1)
            found = list(re.finditer(rf"(?<!\w){re.escape(abbreviation)}(s?)(?!\w)", visible.text))
            for number, use in enumerate(found):
                words = term.many if use.group(1) else term.stands_for
                assert visible.title_at(use.start(), use.end()) == words, (name, abbreviation)
                if number == 0:
                    before = visible.text[:use.start()].casefold()
                    assert before.endswith((f"{words} (".casefold(), f"({words}, ".casefold())), (
                        name, abbreviation, visible.text[max(0, use.start() - 80):use.end()])
            used |= {abbreviation} if found else set()
    assert {"EFH", "SPC", "RSM", "CIN", "CSV", "LA", "DfE"} <= used


def test_every_page_that_shows_a_quarter_says_what_a_quarter_is(pages):  # noqa: F811
    shown = 0
    for name, page in pages.items():
        visible = Visible(page)
        first = QUARTER.search(visible.text)
        if first is None:
            continue
        shown += 1
        block_end = visible.text.find("\n", first.end())
        assert 0 <= visible.text.find(quarter_note()) < block_end, (name, first.group(0))
    assert shown >= len(framework().indicators) + 2  # the indicator pages, the overview, the LAs' pages


def test_spell_out_writes_the_words_once_and_leaves_code_and_names_alone():
    page = ("<html><head><title>NRM</title></head><body><h1>An EFH page</h1><p>An SPC chart, then SPC.</p>"
            "<p>Source: the model (RSM). A statistical process control (SPC) chart.</p><p><code>plan_type = 'CP'"
            "</code> EFH and LAs.</p><script>var x = \"MACE\";</script><dl><dt>MACE</dt></dl></body></html>")
    out = spell_out(page)
    assert "<title>NRM</title>" in out and "<h1>An EFH page</h1>" in out and '"MACE"' in out
    assert "<code>plan_type = 'CP'</code>" in out and "<dt>MACE</dt>" in out
    spc = '<abbr title="statistical process control">SPC</abbr>'
    assert f"<p>A statistical process control ({spc}) chart, then {spc}.</p>" in out
    assert '(Relational Safeguarding Model, <abbr title="Relational Safeguarding Model">RSM</abbr>)' in out
    assert f"A statistical process control ({spc}) chart.</p>" in out  # written out already: marked only
    assert '</code> extra-familial harm (<abbr title="extra-familial harm">EFH</abbr>) and' in out
    assert 'local authorities (<abbr title="local authorities">LAs</abbr>)' in out


# ---------------------------------------------------------------- the partnership's name


@pytest.fixture
def named(tmp_path, monkeypatch):
    """A config folder whose publication.yaml names the partnership as given (no in_sentences)."""
    config = tmp_path / "config"
    shutil.copytree(assets.config.CONFIG_DIR, config, ignore=shutil.ignore_patterns("indicators.local.yaml"))
    monkeypatch.setattr(assets.config, "CONFIG_DIR", config)

    def name(partnership: str):
        spec = load_yaml("publication.yaml")
        spec["partnership"] = {k: v for k, v in spec["partnership"].items() if k != "in_sentences"}
        spec["partnership"]["name"] = partnership
        (config / "publication.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
        for cached in (publication_module.partnership_name, publication_module.partnership_in_sentences):
            cached.cache_clear()

    yield name
    for cached in (publication_module.partnership_name, publication_module.partnership_in_sentences):
        cached.cache_clear()


def test_sentences_name_the_partnership_well_by_default_and_with_a_real_name(publication, named):  # noqa: F811
    from dashboards import pages as pages_module

    code, la = next(iter(pages_module.las_by_name(publication)))
    default = pages_module.la_page(publication, code, la).body
    assert f"{la} ({code}) is one of the local authorities of the safeguarding partnership." in default
    assert "a dashed black line for the safeguarding partnership." in pages_module.overview_page(publication).body
    named("Tees Valley Safeguarding Children Partnership")
    body = pages_module.la_page(publication, code, la).body
    assert (f"{la} ({code}) is one of the local authorities of the Tees Valley Safeguarding Children "
            "Partnership.") in " ".join(body.split())
    overview = " ".join(pages_module.overview_page(publication).body.split())
    assert "a dashed black line for the Tees Valley Safeguarding Children Partnership." in overview
    assert "(Tees Valley Safeguarding Children Partnership: every local authority that sends packs)" in overview
