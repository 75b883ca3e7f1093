"""Colours pass WCAG 2.2 AA on white: text 4.5:1 (1.4.3), the marks of a chart 3:1 (1.4.11). The
site's text colours are read from its style sheet; the charts' from dashboards/figures.py and the
flags in config/publication.yaml."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from dashboards.benchmark_figures import NEIGHBOUR_GREY
from dashboards.figures import BLACK, COLOURS, GREY, SIGNAL_STYLES, flag_styles

WHITE, PANEL, HEADER = "#ffffff", "#f3f2f1", "#0b0c0c"  # the page, the grey panels holding text, the header


def luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def long_form(colour: str) -> str:
    return "#" + "".join(c * 2 for c in colour[1:]) if len(colour) == 4 else colour


def test_the_contrast_ratio_is_worked_out_as_wcag_does():
    assert contrast(BLACK, WHITE) == pytest.approx(19.5, abs=0.1)
    assert contrast("#767676", WHITE) == pytest.approx(4.54, abs=0.01)  # the lightest grey text may be


def test_every_text_colour_of_the_style_sheet_passes_on_the_page_and_its_panels():
    sheet = resources.files("dashboards").joinpath("templates", "site.css").read_text(encoding="utf-8")
    colours = {long_form(c.lower()) for c in re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})\b", sheet)}
    assert len(colours) >= 4
    for colour in colours:
        if colour == WHITE:
            assert contrast(colour, HEADER) >= 4.5  # white is the header's text
        else:
            assert min(contrast(colour, WHITE), contrast(colour, PANEL)) >= 4.5, colour


def test_every_colour_a_chart_draws_with_passes_for_graphics_and_its_text_for_text():
    marks = [*COLOURS, BLACK, GREY, NEIGHBOUR_GREY, *(colour for _, colour, _ in SIGNAL_STYLES.values()),
             *(style["colour"] for style in flag_styles().values())]
    assert {colour: round(contrast(colour, WHITE), 2) for colour in marks if contrast(colour, WHITE) < 3} == {}
    assert contrast(GREY, WHITE) >= 4.5  # the [c] and [z] written on charts, and their notes
