"""The restricted edition, under <home>/restricted/site/, for the partnership's own auditors: the
same pages as the public site with no small number hidden (still totals only), marked on every
page (config/publication.yaml's `restricted.marking`), plus an audit worklist per LA and quarter:
the case_keys that did not meet each indicator or scored low in a domain, with the counts behind
them and the `explain` command for each.

It is written only here, never into the public site or the exports; tests check that nothing of it
reaches them."""

from __future__ import annotations

from pathlib import Path

import duckdb

from assets.audits import audit_tool
from assets.config import load_yaml
from assets.scoring import framework
from dashboards.figures import quarter_label
from dashboards.pages import Page, page
from dashboards.publication import Publication, build_publication, la_name
from dashboards.site import SiteWritten, write_site
from dashboards.views.common import file_part, link, number, text


def worklist_file(la_code: str, period: str) -> str:
    return f"worklist-{file_part(la_code)}-{file_part(period)}.html"


def explain_command(la_code: str, period: str, key: str) -> str:
    return f"safeguarding-audit explain --la {la_code} --period {period} --case-key {key}"


def worklist_pages(con: duckdb.DuckDBPyConnection) -> list[Page]:
    """The worklist index and one page per loaded pack, from the restricted warehouse."""
    fw = framework()
    cut = audit_tool().good_enough["domain_score"]
    packs = sorted(con.execute("SELECT la_code, period, cases_loaded FROM submissions WHERE status = 'loaded'"
                               ).fetchall(), key=lambda pack: (la_name(pack[0]), pack[0], pack[1]))  # LAs by name
    missing = {(la, period, indicator): (applicable, keys)
               for la, period, indicator, applicable, keys in con.execute("""
        SELECT la_code, period, indicator_id, count(*) FILTER (WHERE applicable),
               list(case_key ORDER BY case_key) FILTER (WHERE applicable AND NOT met)
        FROM case_indicators GROUP BY ALL""").fetchall()}
    low = {(la, period, domain): (scored, list(zip(keys or [], scores or [], strict=True)))
           for la, period, domain, scored, keys, scores in con.execute("""
        SELECT la_code, period, domain, count(score),
               list(case_key ORDER BY score, case_key) FILTER (WHERE score < $1),
               list(score ORDER BY score, case_key) FILTER (WHERE score < $1)
        FROM case_domain_scores GROUP BY ALL""", [cut]).fetchall()}
    pages, index = [], []
    for la, period, cases in packs:
        indicators, short = [], 0
        for indicator in fw.indicators_of("case"):  # a worklist lists cases; contexts have explain --context-key
            applicable, keys = missing.get((la, period, indicator.id), (0, []))
            keys = keys or []
            short += bool(keys)
            indicators.append({"id": indicator.id, "title": indicator.title, "applicable": applicable,
                               "not_met": len(keys),
                               "rows": [[text(key), text(explain_command(la, period, key))] for key in keys]})
        domains = []
        for domain in fw.scored_domains:
            scored, rows = low.get((la, period, domain), (0, []))
            domains.append({"id": domain, "title": fw.domains[domain]["title"], "scored": scored, "below": len(rows),
                            "rows": [[text(key), number(f"{score:.2f}"), text(explain_command(la, period, key))]
                                     for key, score in rows]})
        view = {"la_name": la_name(la), "quarter": quarter_label(period), "cases": int(cases or 0), "cut": f"{cut:g}",
                "indicators": indicators, "domains": domains}
        pages.append(page(worklist_file(la, period), "worklist.html", view))
        index.append([link(worklist_file(la, period), la_name(la)), text(quarter_label(period)),
                      number(str(int(cases or 0))), number(f"{short} of {len(fw.indicators_of('case'))}")])
    return [page("worklist.html", "worklist_index.html", {"rows": index, "cut": f"{cut:g}"}), *pages]


def restricted_publication(con: duckdb.DuckDBPyConnection) -> Publication:
    """Every published table with nothing suppressed (threshold 0), marked restricted."""
    publication = build_publication(con, limit=0)
    publication.restricted = True
    return publication


def write_restricted_site(con: duckdb.DuckDBPyConnection, folder: Path) -> SiteWritten:
    return write_site(restricted_publication(con), folder, extra_pages=worklist_pages(con))


def edition_wanted(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether runs write the restricted edition (config/publication.yaml's `restricted.edition`)."""
    setting = str(load_yaml("publication.yaml")["restricted"]["edition"])
    if setting not in ("always", "when_audits", "never"):
        raise ValueError(f"config/publication.yaml: restricted.edition is {setting!r}: always, when_audits or never")
    return setting == "always" or (setting == "when_audits" and
                                   con.execute("SELECT count(*) FROM audits").fetchone()[0] > 0)


def write_restricted_edition(con: duckdb.DuckDBPyConnection, folder: Path) -> tuple[SiteWritten, list[Path]] | None:
    """The restricted site under `folder`/site and every audit's board report (HTML) under
    `folder`/audits, when runs are to write them; None otherwise."""
    from dashboards.audit_report import write_report

    if not edition_wanted(con):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # restricted: only the pipeline's user reads it
    site = write_restricted_site(con, folder / "site")
    reports = [path for (audit_id,) in con.execute("SELECT audit_id FROM audits ORDER BY ALL").fetchall()
               for path in write_report(con, audit_id, folder / "audits" / audit_id)]
    return site, reports
