"""The whole audit cycle on the demo home, through the command line: the restricted board report
opens offline, is marked on every page, its PDF renders (a page converted to PNG), it names no
case, and nothing of the audit reaches the public site or the exports."""

from __future__ import annotations

import re

import duckdb
import pytest

from pipelines.cli import main


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("audit-demo") / "home"
    assert main(["demo", "--home", str(home)]) == 0  # 4 LAs x 4 quarters: some counts are small
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    (audit_id,) = con.execute("SELECT audit_id FROM audits").fetchone()
    keys = {k for (k,) in con.execute("SELECT case_key FROM audit_samples").fetchall()}
    comments = {c for (c,) in con.execute("SELECT comment FROM audit_comments").fetchall()}
    con.close()
    return home, audit_id, keys, comments


def test_the_demo_runs_the_whole_cycle(demo_home, capsys):
    home, audit_id, keys, comments = demo_home
    assert len(keys) == 6 and comments
    assert main(["audit", "status", "--home", str(home), "--audit", audit_id]) == 0
    out = capsys.readouterr().out
    assert out.count(" complete") == out.count("\n  ") and "moderated" in out
    # The returns were loaded by a run of the audit's own partition.
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        assert instance.get_dynamic_partitions("audits") == [audit_id]
        records = instance.fetch_materializations(dg.AssetKey("audit_returns"), limit=10).records
        assert {r.partition_key for r in records} == {audit_id}
    finally:
        instance.dispose()


def test_the_report_is_marked_offline_and_names_no_case(demo_home, capsys):
    home, audit_id, keys, comments = demo_home
    assert main(["audit", "report", "--home", str(home), "--audit", audit_id, "--pdf"]) == 0
    html_path, pdf_path = (home / "restricted" / "audits" / audit_id / name for name in ("report.html", "report.pdf"))
    assert capsys.readouterr().out.split() == [str(html_path), str(pdf_path)]
    html = html_path.read_text(encoding="utf-8")
    assert html.count("OFFICIAL-SENSITIVE") >= 3 and "@top-center" in html and "@bottom-center" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched: opens offline
    assert not any(key in html for key in keys)
    assert any(comment in html for comment in comments)  # restricted: comments are for the auditors
    assert "Krippendorff" in html and "Spearman" in html

    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        assert len(texts) >= 2 and all("OFFICIAL-SENSITIVE" in t for t in texts)
        assert not any(key in t for key in keys for t in texts)
        image = pdf[0].render(scale=1).to_pil()
    finally:
        pdf.close()
    png = home / "page-1.png"
    image.save(png)
    assert png.stat().st_size > 10_000
    grey = image.convert("L")
    assert grey.getextrema()[0] < 60  # there is dark text on the page, not a blank sheet


def test_nothing_of_an_audit_reaches_the_public_site_or_the_exports(demo_home):
    home, audit_id, keys, comments = demo_home
    published = [p for folder in ("site", "exports") for p in (home / folder).rglob("*") if p.is_file()]
    assert published
    for path in published:
        content = path.read_bytes().decode("utf-8", errors="ignore")
        assert not any(key in content for key in keys), path
        assert not any(comment in content for comment in comments), path
        assert "OFFICIAL-SENSITIVE" not in content and audit_id not in content, path


def test_a_report_of_no_such_audit_is_refused(demo_home, capsys):
    home, *_ = demo_home
    assert main(["audit", "report", "--home", str(home), "--audit", "E06000001_2025Q1_09"]) == 2
    assert "there is no audit E06000001_2025Q1_09" in capsys.readouterr().err


def test_the_restricted_edition_shows_what_the_public_site_hides_and_is_marked(demo_home):
    home, audit_id, keys, comments = demo_home
    restricted, public = home / "restricted" / "site", home / "site"
    pages = sorted(restricted.glob("*.html"))
    assert len(pages) > len(list(public.glob("*.html")))
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert html.count("OFFICIAL-SENSITIVE") >= 2, page.name
    suppressed = re.compile(r'<td class="num[^"]*">\[c\]</td>')

    def hidden(folder):  # cells the disclosure control hid, on the LA and indicator pages
        return sum(len(suppressed.findall(p.read_text(encoding="utf-8")))
                   for pattern in ("la-*.html", "indicator-*.html") for p in folder.glob(pattern))

    assert hidden(public) > 0 and hidden(restricted) == 0
    worklists = [p for p in pages if p.name.startswith("worklist-")]
    assert worklists and "safeguarding-audit explain --la" in worklists[0].read_text(encoding="utf-8")
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    every_key = {k for (k,) in con.execute("SELECT DISTINCT case_key FROM cases").fetchall()}
    con.close()
    assert any(key in worklists[0].read_text(encoding="utf-8") for key in every_key)
    # The public edition has none of it: no case_key of any case, no worklist, no marking.
    for path in [p for folder in ("site", "exports") for p in (home / folder).rglob("*") if p.is_file()]:
        content = path.read_bytes().decode("utf-8", errors="ignore")
        assert "worklist" not in content.lower() and "OFFICIAL-SENSITIVE" not in content, path
        assert not any(key in content for key in every_key), path
    assert (home / "restricted" / "audits" / audit_id / "report.html").exists()


def test_the_public_site_lists_the_audits_in_totals_under_disclosure_control(demo_home):
    home, audit_id, keys, comments = demo_home
    page = (home / "site" / "audits.html").read_text(encoding="utf-8")
    assert "Case audits held" in page and "Exploitation outside the home" in page
    assert "[c]" in page  # 6 cases: most counts are small, and hidden
    grades = page[page.index("Moderated grades per audit and domain"):]
    rows = re.findall(r"<tr>(.*?)</tr>", grades)[1:]
    assert len(rows) >= 4
    for row in rows:
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        # Beside a published total, one hidden cell alone could be worked out (zeros count too).
        assert cells.count("[c]") != 1, row
    assert 'href="audits.html"' in (home / "site" / "index.html").read_text(encoding="utf-8")


def test_a_theme_that_names_someone_is_not_published(demo_home):
    from dashboards.publication import published_audits

    home, audit_id, *_ = demo_home
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        con.execute("UPDATE audits SET theme = 'The case of Amelia Jones' WHERE audit_id = ?", [audit_id])
        published = published_audits(con, 5)
        con.execute("UPDATE audits SET theme = 'Exploitation outside the home' WHERE audit_id = ?", [audit_id])
    finally:
        con.close()
    assert published["audits"]["theme"].tolist() == [None]
    from dashboards.publication import publishable_theme

    # A theme with a number (a case reference, a key) is withheld too; no theme at all is no theme.
    assert [publishable_theme(t) for t in ("follow-up of case C1479457", "case 6897d52f87978892 re-audit",
                                           None, float("nan"), " County lines ")] == [None] * 4 + ["County lines"]
    assert "audit_id" not in published["audits"].columns and "audit_id" not in published["audit_grades"].columns


def test_a_re_audit_shows_the_change_since_the_last_audit(demo_home, tmp_path):
    """A second audit of the same LA with the same tool: the report sets its moderated answers
    beside the first audit's, per question."""
    from assets.audit_findings import compute_findings
    from assets.audit_plan import plan_audit
    from assets.audit_returns import ingest_audit_returns
    from assets.audits import audit_tool
    from dashboards.audit_report import report_view
    from synth.audits import fill_audit_returns

    home, first, *_ = demo_home
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes((home / "warehouse.duckdb").read_bytes())
    con = duckdb.connect(str(copy))
    try:
        la, period = con.execute("SELECT la_code, period FROM audits").fetchone()
        plan = plan_audit(con, tmp_path / "audits", la, period, 4, seed=9)
        fill_audit_returns(plan.folder, audit_tool(), {}, seed=9)
        ingest_audit_returns(con, tmp_path / "audits")
        compute_findings(con, plan.audit_id)
        later, earlier = report_view(con, plan.audit_id), report_view(con, first)
        means = dict(con.execute("""SELECT audit_id, avg(value) FROM audit_answers WHERE agency = 'moderated'
                                    AND question_id = 'PI-a' GROUP BY ALL""").fetchall())
    finally:
        con.close()
    assert earlier["comparison"] is None
    rows = {row[0].text.split(":")[0]: [cell.text for cell in row[1:]] for row in later["comparison"]["rows"]}
    then, now = means[first], means[plan.audit_id]
    assert rows["PI-a"] == [f"{then:.2f}", f"{now:.2f}", f"{now - then:+.2f}"]
