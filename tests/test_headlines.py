"""The headlines page (the site's front page) and the board's PDF, on the demo home (`make demo`'s
data: 4 LAs x 4 quarters, seed 1). Every funnel flag, clear change and SPC signal of the latest
quarter is worked out again here from the warehouse's own counts, with the statistics module's
functions, and must be on the page with the right label; the published rates decide only which
comparisons may be made (a suppressed rate is never compared)."""

from __future__ import annotations

import csv
import html
import re

import duckdb
import numpy as np
import pytest

from assets.scoring import framework
from assets.statistics import difference_interval, funnel_flags, p_chart, wilson_interval
from pipelines.cli import main

FINDING = re.compile(r'<li class="finding (\w+)" data-area="([^"]+)" data-indicator="([^"]+)"\s+data-verdict="(\w+)" '
                     r'data-kinds="([^"]*)">(.*?)</li>', re.S)
LATEST, QUARTER_BEFORE, YEAR_START = "2025Q4", "2025Q3", "2025Q1"
MEDWAY, STAFFORDSHIRE = "E06000035", "E10000028"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("headlines") / "home"
    assert main(["demo", "--home", str(home)]) == 0
    return home


@pytest.fixture(scope="module")
def on_page(demo) -> dict[tuple[str, str, str], set[str]]:
    """(area, indicator, verdict): the kinds of evidence the headlines page gives."""
    page = (demo / "site" / "index.html").read_text(encoding="utf-8")
    found = {}
    for css, area, indicator, verdict, kinds, _ in FINDING.findall(page):
        assert css == verdict
        found[(area, indicator, verdict)] = set(kinds.split())
    return found


def published(demo) -> set[tuple[str, str, str]]:
    """(area, quarter, indicator) whose rate the open data publishes (not c, x or z)."""
    with (demo / "exports" / "indicator_rates.csv").open(encoding="utf-8") as file:
        return {(row["new_la_code"] or "partnership", f"{row['time_period']}{row['quarter']}", row["indicator"])
                for row in csv.DictReader(file) if row["rate_percent"] not in ("c", "x", "z")}


def expected_findings(demo) -> dict[tuple[str, str, str], set[str]]:
    """The findings worked out from the warehouse's counts."""
    con = duckdb.connect(str(demo / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT la_code, period, indicator_id, numerator, denominator "
                           "FROM indicator_rates").fetchall()
    finally:
        con.close()
    counts = {}
    for code, period, indicator, numerator, denominator in rows:
        counts[(code, period, indicator)] = (numerator, denominator)
        total = counts.setdefault(("partnership", period, indicator), (0, 0))
        counts[("partnership", period, indicator)] = (total[0] + numerator, total[1] + denominator)
    shown = published(demo)
    expected: dict[tuple[str, str, str], set[str]] = {}

    def add(area, indicator, verdict, kind):
        expected.setdefault((area, indicator.id, verdict), set()).add(kind)

    for indicator in framework().indicators:
        good = "improvement", "concern"
        areas = sorted({code for code, period, i in shown if i == indicator.id and period == LATEST})
        las = [a for a in areas if a != "partnership"]
        if "partnership" in areas and las:
            target = np.divide(*counts[("partnership", LATEST, indicator.id)])
            k, n = zip(*(counts[(a, LATEST, indicator.id)] for a in las), strict=True)
            for area, flag in zip(las, funnel_flags(k, n, target), strict=True):
                if flag:
                    add(area, indicator, good[bool(flag > 0) != (indicator.direction == "higher")], "funnel")
        for area in areas:
            now = wilson(counts[(area, LATEST, indicator.id)])
            for earlier in (QUARTER_BEFORE, YEAR_START):
                if (area, earlier, indicator.id) in shown:
                    before = wilson(counts[(area, earlier, indicator.id)])
                    low, high = difference_interval(before, now)
                    if low > 0 or high < 0:
                        add(area, indicator, good[bool(low > 0) != (indicator.direction == "higher")], "change")
            series = [counts[(area, p, indicator.id)] for p in ("2025Q1", "2025Q2", "2025Q3", LATEST)
                      if (area, p, indicator.id) in shown]
            chart = p_chart(*np.array(series, dtype=float).T, direction=indicator.direction)
            if chart.signal[-1]:
                add(area, indicator, chart.signal[-1], "spc")
    return expected


def wilson(count: tuple[int, int]) -> tuple[float, float, float]:
    return tuple(float(x) for x in wilson_interval(*count))


def test_newcombe_difference_interval_matches_the_paper():
    # Newcombe (1998), table II, example (a): 56/70 against 48/80, method 10: 0.0524 to 0.3339.
    low, high = difference_interval(wilson((48, 80)), wilson((56, 70)))
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_every_flag_change_and_signal_is_a_headline_with_the_right_label(demo, on_page):
    expected = expected_findings(demo)
    assert expected  # the demo has findings both ways
    assert {verdict for _, _, verdict in expected} == {"improvement", "concern"}
    assert on_page == expected


def test_the_demo_headlines_read_as_a_board_would_expect(on_page):
    # Medway's parents invited to every meeting fell from 30.6% to 12.7%, well below the partnership.
    assert on_page[(MEDWAY, "PI1", "concern")] == {"funnel", "change"}
    # Staffordshire's high parent-inclusion rates are good news, never a concern.
    for indicator in ("PI1", "PI2", "PI3", "PI4"):
        assert "funnel" in on_page[(STAFFORDSHIRE, indicator, "improvement")]
        assert (STAFFORDSHIRE, indicator, "concern") not in on_page


def test_each_finding_says_it_in_words_and_links_both_ways(demo):
    page = (demo / "site" / "index.html").read_text(encoding="utf-8")
    items = FINDING.findall(page)
    medway = next(body for _, area, indicator, verdict, _, body in items if (area, indicator) == (MEDWAY, "PI1"))
    text = html.unescape(re.sub(r"<[^>]+>", "", medway))
    assert "Concern:" in text and "12.7% in 2025 Q4" in text and "fell from 30.6% in 2025 Q1" in text
    assert "higher is better" in text
    for _, area, indicator, _, _, body in items:
        assert f'href="indicator-{indicator}.html"' in body
        assert f'href="la-{area}.html"' in body or (area == "partnership" and 'href="overview.html"' in body)
    questions = re.search(r'<ol class="questions">(.*?)</ol>', page, re.S).group(1)
    assert 3 <= questions.count("<li>") <= 6 and "Medway" in questions


def test_the_board_pdf_is_one_or_two_pages_of_the_headlines(demo, capsys):
    assert main(["report", "--board", "--home", str(demo)]) == 0
    pdf_path = demo / "reports" / "board-2025Q4.pdf"
    assert capsys.readouterr().out.strip() == str(pdf_path)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        assert 1 <= len(pdf) <= 2
        text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        image = pdf[0].render(scale=1).to_pil().convert("RGB")
    finally:
        pdf.close()
    flat = " ".join(text.split())
    assert "Headlines for 2025 Q4" in flat and "Questions the board could ask" in flat and "Medway" in flat
    assert "Skip to main content" not in flat and "Shorthand used in tables" not in flat  # the screen's furniture
    image.save(demo / "board-page-1.png")
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    assert (pixels.sum(axis=1) < 180).sum() > 1000  # dark text on the page, not a blank sheet
    for colour in ((0xD4, 0x35, 0x1C), (0x00, 0x70, 0x3C)):  # concern and improvement marks print in colour
        assert (np.abs(pixels - colour).sum(axis=1) < 40).sum() > 50


def test_the_board_report_needs_a_published_site(audit_home, capsys):
    assert main(["report", "--board", "--home", str(audit_home)]) == 2
    assert "run `safeguarding-audit run` first" in capsys.readouterr().err
