"""The README's screenshots: docs/screenshots.py's list of shots, how it picks a page, and that
every screenshot the README shows is there. (Taking them needs Chromium: `make screenshots`.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def screenshots():
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "docs" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_shot_takes_the_first_page_the_site_has(tmp_path):
    choose_page = screenshots().choose_page
    for name in ("index.html", "la-E06000002.html", "la-E06000001.html"):
        (tmp_path / name).write_text("<html></html>")
    assert choose_page(tmp_path, ["la-E08000011.html", "la-*.html"]) == tmp_path / "la-E06000001.html"
    assert choose_page(tmp_path, ["overview.html", "index.html"]) == tmp_path / "index.html"
    assert choose_page(tmp_path, ["overview.html"]) is None  # skipped, not an error


def test_the_shots_are_pngs_of_limited_height_with_names_of_their_own():
    module = screenshots()
    names = [name for _pages, _width, name in module.SHOTS]
    assert len(names) == len(set(names)) and all(name.endswith(".png") for name in names)
    assert {width for _pages, width, _name in module.SHOTS} == {1400, 390}
    assert module.MAX_HEIGHT <= 2000


def test_every_screenshot_the_readme_shows_is_there():
    shown = re.findall(r"\((docs/images/[^)]+\.png)\)", (ROOT / "README.md").read_text())
    assert shown and [path for path in shown if not (ROOT / path).is_file()] == []
    taken = {name for _pages, _width, name in screenshots().SHOTS}
    assert {Path(path).name for path in shown} <= taken
