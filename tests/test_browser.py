"""The published site in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright),
opened from file:// as a reader would, on a phone (390 px), a wide screen (1,400 px), a laptop
zoomed to 200% (640 px, see ZOOMED) and the narrowest phone (320 px): every page type, public and
restricted, draws every chart with no console or page error and no request leaving the file
system, never scrolls sideways (a wide table scrolls inside its own box), and has no serious or
critical accessibility failure by axe-core (axe-playwright-python bundles it) at 390 and 1,400 px;
every LA and indicator named at the head of a table row links to its page. A full-page screenshot
of each page type at 390 and 1,400 px is saved under the test's tmp_path and its path printed
(pytest -s shows them).

Skipped where Chromium is not installed, except under CI, where that is a failure."""

from __future__ import annotations

import os
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.run import execute_audit
from synth.packs import write_packs
from synth.statutory import write_statutory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ALL_CHARTS_DRAWN = """() => {
    const charts = document.querySelectorAll('div.chart');
    return [...charts].every(c => c.classList.contains('js-plotly-plot') && c.querySelector('.main-svg'));
}"""
OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"
# Every chart drawn as wide as its box (after a resize, once plotly has redrawn it).
CHARTS_FIT = """() => [...document.querySelectorAll('.js-plotly-plot')].every(
    c => Math.abs(c.querySelector('.main-svg').getBoundingClientRect().width - c.clientWidth) <= 1)"""
ROW_HEADERS = "() => [...document.querySelectorAll('th[scope=row]')].map(th => [th.textContent.trim(), " \
              "th.querySelector('a[href]') ? th.querySelector('a[href]').getAttribute('href') : null])"
WIDE, PHONE = 1400, 390
# Browsers zoom by shrinking the CSS viewport: 200% on a 1,280 px screen lays the page out in 640
# CSS px (WCAG 1.4.10 reflow), so a 640 px window stands in for it. The narrowest phones are 320.
ZOOMED, NARROWEST = 640, 320
# The page types, by the file each is checked on ({la}: an LA with a pack in every quarter; {period}:
# the latest quarter). Restricted pages come from the restricted edition.
PAGES = {
    "headlines": "index.html", "overview": "overview.html", "indicator": "indicator-PI1.html",
    "context-indicator": "indicator-CX1.html",
    "la": "la-{la}.html", "methods": "methods.html", "statutory": "statutory.html",
    "benchmarks": "benchmarks.html", "benchmarks-la": "benchmarks-{la}.html", "audits": "audits.html",
    "restricted-overview": "restricted/overview.html", "worklists": "restricted/worklist.html",
    "worklist": "restricted/worklist-{la}-{period}.html",
}
# The charts each page type draws at least.
CHARTS = {"overview": 1, "indicator": 2, "context-indicator": 1, "la": 2, "statutory": 2, "benchmarks-la": 1,
          "restricted-overview": 1}
SERIOUS = ("serious", "critical")


# Skipped (before any data is built) only where CI is not set; on CI a missing browser fails in `browser`.
pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and "CI" not in os.environ,
                                reason=f"{CHROMIUM} is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site of a real pipeline run over 3 LAs x 3 quarters of synthetic packs, with each LA's
    CIN census and SSDA903 return (for the statutory and benchmark pages), and the restricted
    edition drawn from the same warehouse, with its worklists, where runs put it (restricted/site/)."""
    from dashboards.restricted import write_restricted_site

    home = tmp_path_factory.mktemp("browser") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAFEGUARDING_AUDIT_KEY", "test-key")
        patch.delenv("SAFEGUARDING_AUDIT_HOME", raising=False)
        patch.delenv("SAFEGUARDING_AUDIT_INBOX", raising=False)
        packs = write_packs(home / "inbox", las=3, quarters=3, seed=5, cases_per_la=40, formats="csv")
        write_statutory(home / "statutory", sorted({pack.name.split("_")[0] for pack in packs}), children=40, seed=5)
        assert execute_audit(dg.DagsterInstance.ephemeral(), home, home / "inbox").success
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        try:
            write_restricted_site(con, home / "restricted" / "site")
        finally:
            con.close()
    return home / "site"


@pytest.fixture(scope="module")
def loaded(site) -> dict:
    """The LAs with a page (name: file) and the latest quarter, from the warehouse."""
    from dashboards.publication import la_name

    con = duckdb.connect(str(site.parent / "warehouse.duckdb"), read_only=True)
    try:
        packs = con.execute("SELECT la_code, period FROM submissions WHERE status = 'loaded'").fetchall()
    finally:
        con.close()
    return {"las": {la_name(code): f"la-{code}.html" for code, _ in packs}, "la": min(code for code, _ in packs),
            "period": max(period for _, period in packs)}


@pytest.fixture(scope="module")
def la_code(loaded) -> str:
    return loaded["la"]


@pytest.fixture(scope="module")
def browser(site):
    """One Chromium for the module. It starts after the site is built: playwright's sync API keeps an
    event loop on this thread, which Dagster's in-process run must not meet."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing on CI: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Visit:
    """A browser tab that records console errors, page errors and every URL it requests."""

    def __init__(self, browser, width: int = 1200):
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, path: Path):
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.wait_for_function(ALL_CHARTS_DRAWN, timeout=15_000)
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser):
    tab = Visit(browser)
    yield tab
    tab.close()


def page_path(site: Path, loaded: dict, kind: str) -> Path:
    name = PAGES[kind].format(la=loaded["la"], period=loaded["period"])
    restricted = name.removeprefix("restricted/")
    return site.parent / "restricted" / "site" / restricted if restricted != name else site / name


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, each as its rule, impact and the
    elements that fail it."""
    from axe_playwright_python.sync_playwright import Axe

    # No preload: axe would fetch the style sheets again by XMLHttpRequest to read them, which a page
    # opened from file:// refuses, with a console error of axe's own; its one rule that reads them
    # (css-orientation-lock) has nothing to find in site.css, which never locks the orientation.
    found = Axe().run(page, options={"resultTypes": ["violations"], "preload": False}).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']}; at " + ", ".join(" ".join(map(str, node["target"]))
                                                                    for node in v["nodes"][:5])
            for v in found if v["impact"] in SERIOUS]


def unlinked_row_headers(page, loaded: dict, site: Path) -> list[str]:
    """Row headers that name an LA or an indicator with a page of its own but do not link to it."""
    indicators = {path.stem.removeprefix("indicator-") for path in site.glob("indicator-*.html")}
    pattern = re.compile(r"^(" + "|".join(sorted(map(re.escape, indicators), key=len, reverse=True)) + r")\b")
    missing = []
    for text, href in page.evaluate(ROW_HEADERS):
        named = re.sub(r" \([A-Z]\d{8}\)$", "", text)  # "Medway (E06000035)"
        if named in loaded["las"] or pattern.match(text):
            if not href:
                missing.append(text)
    return missing


@pytest.mark.parametrize("kind", list(PAGES))
def test_each_page_type_works_on_a_phone_a_wide_screen_and_zoomed(browser, site, loaded, kind, tmp_path):
    """Opened on a phone, then (in the same tab, so the page loads once: plotly.js takes most of a
    check's time) widened to a wide screen, narrowed to 200% zoom and to the narrowest phone, as a
    reader turning a tablet or zooming in would. The charts are laid out again at each width."""
    path = page_path(site, loaded, kind)
    visit = Visit(browser, PHONE)
    try:
        page = visit.open(path)
        assert [url for url in visit.requests if not url.startswith(("file:", "data:"))] == []
        assert page.locator("h1").count() == 1 and page.locator("main").count() == 1
        assert page.locator(".js-plotly-plot .main-svg").count() >= CHARTS.get(kind, 0)
        assert unlinked_row_headers(page, loaded, site) == []
        for width in (PHONE, WIDE, ZOOMED, NARROWEST):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_function(CHARTS_FIT, timeout=5_000)
            scroll_width, window_width = page.evaluate(OVERFLOW)
            assert scroll_width <= window_width + 1, f"{path.name} is {scroll_width} px wide at {window_width} px"
            if width in (PHONE, WIDE):
                assert serious_violations(page) == [], f"{path.name} at {width} px"
                shot = tmp_path / f"{kind}-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of {path.name} at {width} px: {shot}")
                assert shot.stat().st_size > 10_000
        assert visit.errors == []
    finally:
        visit.close()


def test_small_multiples_stack_when_the_window_narrows(browser, site, la_code):
    """A chart is laid out again when a resize crosses a screen's width (the browser zoomed, a phone
    turned): the LA's trend panels go from three across to one above another, and back."""
    visit = Visit(browser, WIDE)
    try:
        page = visit.open(site / f"la-{la_code}.html")
        columns = """() => new Set(Object.entries(document.getElementById('trends-chart')._fullLayout)
            .filter(([key]) => /^xaxis\\d*$/.test(key)).map(([, axis]) => axis.domain[0].toFixed(3))).size"""
        assert page.evaluate(columns) == 3
        page.set_viewport_size({"width": PHONE, "height": 900})
        page.wait_for_function(f"() => ({columns})() === 1", timeout=5_000)
        page.set_viewport_size({"width": WIDE, "height": 900})
        page.wait_for_function(f"() => ({columns})() === 3", timeout=5_000)
        assert visit.errors == []
    finally:
        visit.close()


def test_the_navigation_links_work(visit, site):
    page = visit.open(site / "index.html")
    page.locator("header nav").get_by_role("link", name="Methods").click()
    page.wait_for_url("**/methods.html")
    assert page.locator("h1").inner_text() == "Methods and definitions"
    page.locator("header nav").get_by_role("link", name="Overview").click()
    page.wait_for_url("**/overview.html")
    page.locator('#indicators ~ ul a[href="indicator-PI1.html"]').click()
    page.wait_for_url("**/indicator-PI1.html")
    page.wait_for_function(ALL_CHARTS_DRAWN, timeout=15_000)
    assert page.locator("h1").inner_text().startswith("PI1: ")
    page.locator("nav.crumbs").get_by_role("link", name="Headlines").click()
    page.wait_for_url("**/index.html")
    assert page.locator("h1").inner_text().startswith("Headlines for ")
    assert visit.errors == []


def test_a_choice_of_quarter_shows_that_quarter_alone(visit, site, la_code, loaded):
    for name, section in ((f"la-{la_code}.html", "rates"), ("indicator-PI1.html", "funnel")):
        page = visit.open(site / name)
        sections = page.locator(f'section[data-quarter-of="{section}"]')
        quarters = [sections.nth(i).get_attribute("data-quarter") for i in range(sections.count())]
        assert quarters[0] == loaded["period"] and len(quarters) == 3, name  # latest first, every quarter
        assert [s.get_attribute("data-quarter") for s in sections.locator("visible=true").all()] == quarters[:1]
        page.select_option(f"#{section}-quarter", quarters[-1])
        shown = sections.locator("visible=true")
        assert [s.get_attribute("data-quarter") for s in shown.all()] == quarters[-1:], name
        page.wait_for_function(CHARTS_FIT, timeout=5_000)  # the chart drawn to the width it is shown at
    assert visit.errors == []


def test_the_data_tables_open_under_each_chart(visit, site):
    page = visit.open(site / "indicator-PI1.html")
    details = page.locator("figure details").first
    assert not details.locator("table").is_visible()
    details.locator("summary").click()
    assert details.locator("table").is_visible()


def test_a_wide_table_scrolls_in_its_own_box_from_the_keyboard(browser, site, la_code):
    visit = Visit(browser, PHONE)
    try:
        page = visit.open(site / f"benchmarks-{la_code}.html")
        box = page.locator(".table-wrap", has=page.locator("table")).filter(
            has_text="factors at the end of assessment per 10,000").first
        assert box.get_attribute("role") == "region" and box.get_attribute("aria-label")
        assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # it does need to scroll
        box.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function("b => b.scrollLeft > 0", arg=box.element_handle(), timeout=5_000)
    finally:
        visit.close()
