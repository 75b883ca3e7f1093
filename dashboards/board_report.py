"""The board's one-page summary: the headlines page of the public site (index.html), printed to PDF
by headless Chromium with the site's print style sheet. It is the published page itself, so it
holds exactly the public site's numbers (disclosure-controlled) and nothing the site does not."""

from __future__ import annotations

from pathlib import Path

from dashboards.audit_report import ReportError, print_pdf

HEADLINES = "index.html"


def write_board_report(site_dir: Path, out: Path) -> Path:
    """Print the site's headlines page to `out` (written whole, or not at all)."""
    page = site_dir / HEADLINES
    if not page.is_file():
        raise ReportError(f"there is no published site at {site_dir}: run `safeguarding-audit run` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    return print_pdf(page, out)


def board_report_name(latest_period: str | None) -> str:
    """board-2025Q4.pdf: the quarter the headlines are about."""
    return f"board-{latest_period}.pdf" if latest_period else "board.pdf"
