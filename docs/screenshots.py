"""The README's screenshots, taken from a demo site with headless Chromium (Debian's /usr/bin/chromium,
driven by playwright): `make screenshots`, or

    python docs/screenshots.py [SITE] [OUT]

SHOTS says what to take. Each shot names the pages it may be taken of, in order of preference (the
first that the site has; a name may be a pattern such as `la-*.html`, whose first match in sorted
order is taken), the window's width in CSS pixels and the file it writes into OUT. A shot none of
whose pages is in the site is skipped with a note, so the list may name pages a later site will
have. Pages longer than MAX_HEIGHT are cut there."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# (pages, in order of preference; window width in CSS pixels; file written into OUT)
SHOTS = [
    (["index.html"], 1400, "front-page.png"),
    (["index.html"], 390, "front-page-phone.png"),
    (["overview.html"], 1400, "overview.png"),
    (["la-E08000011.html", "la-*.html"], 1400, "la-page.png"),
    (["la-E08000011.html", "la-*.html"], 390, "la-page-phone.png"),
    (["indicator-PI1.html", "indicator-*.html"], 1400, "indicator-page.png"),
]
MAX_HEIGHT = 2000  # CSS pixels; a page is shot from its top down to this at most
PHONE_WIDTH = 600  # narrower windows are phones: a phone's window height and touch
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--hide-scrollbars"]
CHARTS_DRAWN = """() => [...document.querySelectorAll('div.chart')].every(
    c => c.classList.contains('js-plotly-plot') && c.querySelector('.main-svg'))"""
HERE = Path(__file__).resolve().parent


def choose_page(site: Path, candidates: list[str]) -> Path | None:
    """The first of the candidate pages that the site has, or None."""
    for name in candidates:
        found = sorted(site.glob(name))
        if found:
            return found[0]
    return None


def shrink(path: Path) -> None:
    """Rewrite a PNG with at most 256 colours, which the site's flat colours allow: a fraction of the
    size. Left as it is where Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def take(browser, page_path: Path, width: int, out: Path) -> str:
    """Shoot one page into `out`; returns a line saying what was written."""
    phone = width < PHONE_WIDTH
    context = browser.new_context(viewport={"width": width, "height": 844 if phone else 900},
                                  device_scale_factor=1, is_mobile=phone, has_touch=phone)
    try:
        page = context.new_page()
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        note = ""
        try:
            page.wait_for_function(CHARTS_DRAWN, timeout=20_000)
        except Exception:  # a chart that never draws is shown as it is, and said
            note = " (not every chart was drawn)"
        height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
        page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
    finally:
        context.close()
    shrink(out)
    return f"{out} <- {page_path.name} at {width} px, {height} px high, {out.stat().st_size // 1024} KiB{note}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the demo site for the README.")
    parser.add_argument("site", nargs="?", type=Path, default=Path("build/screenshots-home/site"),
                        help="the site's folder (default build/screenshots-home/site)")
    parser.add_argument("out", nargs="?", type=Path, default=HERE / "images", help="where to write (docs/images)")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"there is no site at {args.site}: make one with `safeguarding-audit demo --home ...`", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install Debian's chromium (make browser)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for candidates, width, name in SHOTS:
                page_path = choose_page(args.site, candidates)
                if page_path is None:
                    print(f"skipped {name}: the site has none of {', '.join(candidates)}")
                    continue
                print(take(browser, page_path, width, args.out / name))
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
