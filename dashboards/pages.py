"""The site's pages as HTML fragments, built from the Publication alone (already
disclosure-controlled): the partnership overview, one page per indicator, one per local authority
and the methods. dashboards/site.py wraps each in the shared layout and writes it.

Every count in a table goes through `shown` and carries class "num count"; every chart sits in a
<figure> with an aria-label, a caption that says what it shows, and a table of the numbers it plots."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pandas as pd

from assets.scoring import Indicator
from assets.statistics import RUN_LENGTH, TREND_LENGTH
from dashboards import figures
from dashboards.disclosure import shown
from dashboards.figures import funnel_levels, level_label, percent, quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication, partnership_name

# Every string from config or the warehouse goes through esc: quote=True (html.escape's default)
# makes it safe inside attribute values as well as text.
esc = html.escape
PRACTICE = "PRACTICE"  # the domain code of the practice score in `scores`
LABEL_ALL_LAS = 10  # name every point on a funnel plot when there are at most this many LAs


@dataclass(frozen=True)
class Page:
    filename: str
    title: str
    body: str


def indicator_file(indicator_id: str) -> str:
    return f"indicator-{file_part(indicator_id)}.html"


def la_file(la_code: str) -> str:
    return f"la-{file_part(la_code)}.html"


def file_part(name: str) -> str:
    """`name` as part of a file name that is also a plain relative link: ids and codes are already
    held to letters, digits, - and _ when loaded, but anything else is written as ~ and its hex
    code, so that no name can reach another folder or need escaping in a URL."""
    return re.sub(r"[^A-Za-z0-9_-]", lambda found: f"~{ord(found.group()):x}", str(name))


# ---------------------------------------------------------------- table cells


@dataclass(frozen=True)
class Cell:
    """One table cell: its text (already HTML) and its class."""

    html: str
    css: str = ""


def text(value) -> Cell:
    return Cell(esc(str(value)))


def count(value, suppressed: bool) -> Cell:
    """A count of children, cases or rows: [c] when suppressed."""
    return Cell(esc(shown(value, bool(suppressed))), "num count")


def missing_count() -> Cell:
    """A count that does not exist, such as cases in a pack that never arrived."""
    return Cell("[x]", "num count")


def rate(value, suppressed: bool) -> Cell:
    """A proportion as a percentage with one decimal; [c] suppressed, [z] nothing to divide by."""
    if suppressed or pd.isna(value):
        return Cell(shown(value, bool(suppressed)), "num")
    return Cell(percent(value), "num")


def interval(low, high, suppressed: bool) -> Cell:
    if suppressed or pd.isna(low):
        return Cell(shown(low, bool(suppressed)), "num")
    return Cell(f"{percent(low)} to {percent(high)}", "num")


def score(value, suppressed: bool) -> Cell:
    return Cell(shown(value, bool(suppressed), digits=2), "num")


def link(href: str, label: str) -> Cell:
    return Cell(f'<a href="{esc(href)}">{esc(label)}</a>')


def table(caption: str, headers: list[str], rows: list[list[Cell]]) -> str:
    """A data table; the first cell of each row heads that row."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    body = []
    for cells in rows:
        first, rest = cells[0], cells[1:]
        body.append(f'<tr>{cell_html(first, "th")}' + "".join(cell_html(c, "td") for c in rest) + "</tr>")
    return (f'<div class="table-wrap"><table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def cell_html(cell: Cell, tag: str) -> str:
    scope = ' scope="row"' if tag == "th" else ""
    css = f' class="{esc(cell.css)}"' if cell.css else ""
    return f"<{tag}{scope}{css}>{cell.html}</{tag}>"


def chart(div_id: str, figure, label: str, summary: str, data_table: str) -> str:
    """A chart with its text alternative: an aria-label, a caption summarising what it shows, and
    the numbers it plots in a table that opens under it."""
    return (f'<figure class="chart-figure" role="group" aria-label="{esc(label)}">'
            f"<figcaption>{esc(summary)}</figcaption>{figures.embed(figure, div_id)}"
            f"<details><summary>Show the numbers in this chart as a table</summary>{data_table}</details></figure>")


def paragraph(words: str, css: str = "") -> str:
    return f'<p class="{esc(css)}">{esc(words)}</p>' if css else f"<p>{esc(words)}</p>"


def names_list(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def plural(number: int, word: str, words: str | None = None) -> str:
    return f"{number} {word if number == 1 else (words or word + 's')}"


# ---------------------------------------------------------------- shared look-ups


def la_names(pub: Publication) -> dict[str, str]:
    """Every LA in the publication (with rates or only with a submission), code to name."""
    names = {}
    for frame in (pub.rates, pub.submissions):
        las = frame[~frame["is_total"]] if len(frame) else frame
        names.update(zip(las["la_code"], las["la_name"], strict=True))
    return names


def las_by_name(pub: Publication) -> list[tuple[str, str]]:
    """(code, name) of every LA, in alphabetical order of name: pages never rank LAs."""
    return sorted(la_names(pub).items(), key=lambda item: (item[1], item[0]))


def all_periods(pub: Publication) -> list[str]:
    periods = set(pub.periods)
    if len(pub.submissions):
        periods |= set(pub.submissions["period"])
    return sorted(periods)


def series(pub: Publication, indicator_id: str, la_code: str | None) -> pd.DataFrame:
    """One area's rows for one indicator over quarters (la_code None: the partnership)."""
    if "series" not in pub.lookups:
        pub.lookups["series"] = dict(iter(pub.rates.groupby(["la_code", "indicator_id"], sort=False)))
    area = PARTNERSHIP_CODE if la_code is None else la_code
    return pub.lookups["series"].get((area, indicator_id), pub.rates.iloc[0:0])


def spc(pub: Publication, indicator: Indicator, la_code: str | None) -> pd.DataFrame:
    """One area's p-chart numbers for one indicator (the overview and the area's page both show them)."""
    key = ("spc", indicator.id, la_code)
    if key not in pub.lookups:
        pub.lookups[key] = figures.spc_data(series(pub, indicator.id, la_code), indicator.direction)
    return pub.lookups[key]


def funnels(pub: Publication, period: str) -> dict[str, figures.Funnel]:
    """Each indicator's funnel plot numbers for one quarter."""
    key = ("funnels", period)
    if key not in pub.lookups:
        pub.lookups[key] = {i.id: figures.funnel_data(pub.rates, i.id, period) for i in pub.framework.indicators}
    return pub.lookups[key]


def direction_words(indicator: Indicator) -> str:
    return "Higher is better" if indicator.direction == "higher" else "Lower is better"


def too_few_points(points: int) -> str:
    """Why runs and trends cannot signal yet, or nothing when there are enough quarters."""
    needed = max(RUN_LENGTH, TREND_LENGTH)
    if points >= needed:
        return ""
    return (f"With {plural(points, 'quarter')} on the chart, only the 'outside the process limits' rule can "
            f"signal: runs and trends need at least {needed} quarters.")


def no_packs_notice() -> str:
    return paragraph("No packs loaded yet: the charts and tables appear here once local authorities' export "
                     "packs have been received and loaded.", "notice")


# ---------------------------------------------------------------- overview


def overview_page(pub: Publication) -> Page:
    las = las_by_name(pub)
    intro = ("How far practice with children harmed outside the family treats parents as partners, targets "
             f"offenders and changes the places and groups where harm happens ({partnership_name()}: every "
             "local authority that sends packs).")
    if pub.periods:
        intro += (f" {plural(len(las), 'local authority', 'local authorities')}; quarters "
                  f"{quarter_label(pub.periods[0])} to {quarter_label(pub.periods[-1])}.")
    parts = [paragraph(intro, "lead")]
    if not pub.periods:
        parts.append(no_packs_notice())
    else:
        parts += [scores_section(pub), changes_section(pub)]
    parts += [sources_section(pub), indicator_links(pub), la_links(las),
              '<h2 id="methods">Methods</h2><p>How each indicator is defined, how the statistics are worked out '
              'and how small numbers are protected: <a href="methods.html">methods and definitions</a>.</p>']
    return Page("index.html", "Partnership overview", "\n".join(parts))


def scores_section(pub: Publication) -> str:
    fw = pub.framework
    panels = [(PRACTICE, "Practice score")] + [(d, fw.domains[d]["title"]) for d in fw.scored_domains]
    areas = las_by_name(pub) + [("", partnership_name())]
    figure = figures.scores_figure(pub.scores, panels, areas, pub.periods)
    lookup = figures.score_lookup(pub.scores)
    rows = []
    for code, name in areas:
        for period in pub.periods:
            cells = [text(name), text(quarter_label(period))]
            for domain, _ in panels:
                found = lookup.get((code, domain, period))
                cells.append(score(*found) if found else Cell("[x]", "num"))
            rows.append(cells)
    data = table("Practice and domain scores by local authority and quarter (0 to 1)",
                 ["Area", "Quarter"] + [title for _, title in panels], rows)
    return ("<h2>Practice and domain scores</h2>"
            "<p>Each score runs from 0 to 1: the share of the practice expected by the Relational Safeguarding "
            "Model and Contextual Safeguarding that was seen in a child's case, averaged over the cases. The "
            "practice score combines the four domain scores. A score averaged over "
            f"{pub.limit} or fewer cases is not shown.</p>"
            + chart("scores-chart", figure, "Line charts of practice and domain scores by quarter",
                    scores_summary(pub, len(panels)), data))


def scores_summary(pub: Publication, panels: int) -> str:
    """The caption of the scores chart, with the partnership's latest practice score."""
    words = (f"{panels} small charts, one per score, each with a line per local authority (its own colour and "
             f"marker shape) and a dashed black line for {partnership_name()}. Gaps are suppressed scores.")
    practice = pub.scores[pub.scores["is_total"] & (pub.scores["domain"] == PRACTICE)
                          & ~pub.scores["score_suppressed"]].set_index("period")["score"]
    latest = pub.periods[-1]
    if latest in practice.index:
        words += f" In {quarter_label(latest)} the partnership's practice score was {practice[latest]:.2f}"
        if len(pub.periods) > 1 and pub.periods[-2] in practice.index:
            words += f", against {practice[pub.periods[-2]]:.2f} the quarter before"
        words += "."
    return words


def changes_section(pub: Publication) -> str:
    latest = pub.periods[-1]
    parts = [f"<h2>What changed in {esc(quarter_label(latest))}</h2>"]
    if len(pub.periods) < 2:
        parts.append(paragraph("Only one quarter has been loaded so far, so there is no earlier quarter to "
                               "compare with yet."))
    else:
        parts.append(rate_changes(pub, pub.periods[-2], latest))
    parts.append(latest_signals(pub, latest))
    return "\n".join(parts)


def rate_changes(pub: Publication, previous: str, latest: str) -> str:
    """The partnership rate of every indicator in the last two quarters, in framework order."""
    totals = pub.rates[pub.rates["is_total"]]
    rows, moved = [], []
    for indicator in pub.framework.indicators:
        mine = totals[totals["indicator_id"] == indicator.id].set_index("period")
        before, now = (mine.loc[p] if p in mine.index else None for p in (previous, latest))
        change = rate_change(indicator, before, now)
        if change.verdict in ("better", "worse"):
            moved.append(f"{indicator.id} {indicator.title} ({change.points} points, {change.verdict})")
        rows.append([link(indicator_file(indicator.id), f"{indicator.id}: {indicator.title}"),
                     rate_of(before), rate_of(now), Cell(esc(change.points), "num"), text(change.words())])
    summary = (f"Clear changes in the partnership's rates since {quarter_label(previous)}: "
               + ("; ".join(moved) + "." if moved else "none."))
    return ("<h3>Partnership rates, latest quarter against the one before</h3>"
            "<p>A change is called clear when the 95% confidence intervals of the two quarters do not overlap; "
            "smaller moves may be chance.</p>" + paragraph(summary)
            + table(f"Partnership rate by indicator, {quarter_label(previous)} and {quarter_label(latest)}",
                    ["Indicator", quarter_label(previous), quarter_label(latest), "Change (percentage points)",
                     "Clear change?"], rows))


def rate_of(row: pd.Series | None) -> Cell:
    return Cell("[x]", "num") if row is None else rate(row["rate"], row["rate_suppressed"])


@dataclass(frozen=True)
class Change:
    points: str  # the change in percentage points, or the symbol saying why there is none
    verdict: str  # "better", "worse", "no clear change" or "" (cannot say)

    def words(self) -> str:
        if self.verdict in ("better", "worse"):
            return f"clear change: {self.verdict}"
        return self.verdict or "cannot say: a rate is not available"


def rate_change(indicator: Indicator, before: pd.Series | None, now: pd.Series | None) -> Change:
    """The change between two quarters' rates, called clear when their 95% intervals do not overlap
    and then better or worse by the indicator's direction."""
    if before is None or now is None:
        return Change("[x]", "")
    if before["rate_suppressed"] or now["rate_suppressed"]:
        return Change("[c]", "")  # a change from a hidden rate would give the rate away
    if pd.isna(before["rate"]) or pd.isna(now["rate"]):
        return Change("[z]", "")
    points = 100 * (now["rate"] - before["rate"])
    if now["ci_low"] > before["ci_high"] or now["ci_high"] < before["ci_low"]:
        better = (points > 0) == (indicator.direction == "higher")
        return Change(f"{points:+.1f}", "better" if better else "worse")
    return Change(f"{points:+.1f}", "no clear change")


def latest_signals(pub: Publication, latest: str) -> str:
    """Special-cause signals in the latest quarter, for the partnership and each LA."""
    areas = [(None, partnership_name())] + las_by_name(pub)
    rows = []
    for indicator in pub.framework.indicators:
        for code, name in areas:
            frame = spc(pub, indicator, code)
            if len(frame) and frame["period"].iloc[-1] == latest and frame["signal"].iloc[-1]:
                last = frame.iloc[-1]
                rows.append([link(indicator_file(indicator.id), f"{indicator.id}: {indicator.title}"),
                             text(name) if code is None else link(la_file(code), name),
                             rate(last["rate"], False), text(last["signal"]), text(last["rules"])])
    words = (f"Statistical process control (SPC) looks at each rate over the quarters and marks a point as a "
             f"special cause when it is unlikely to be ordinary variation. {too_few_points(len(pub.periods))}")
    result = (table(f"Special-cause signals in {quarter_label(latest)}",
                    ["Indicator", "Area", "Rate", "Signal", "Rule"], rows) if rows
              else paragraph(f"No special-cause signals in {quarter_label(latest)}: every rate is within its "
                             "usual range."))
    return f"<h3>Signals in {esc(quarter_label(latest))}</h3>" + paragraph(words) + result


def sources_section(pub: Publication) -> str:
    """Which packs arrived and loaded, and how many rows each had, per LA and quarter."""
    periods, las = all_periods(pub), las_by_name(pub)
    parts = ['<h2 id="data">Where the data came from</h2>',
             "<p>Each local authority sends an export pack of its case records each quarter. A pack that fails "
             "the checks is rejected whole; a row that breaks a rule is set aside (quarantined) and the rest of "
             "the pack loads. Only loaded packs count in the figures.</p>"]
    if not periods:
        return "\n".join(parts + [no_packs_notice()])
    subs = pub.submissions
    loaded = int((subs["status"] == "loaded").sum()) if len(subs) else 0
    parts.append(paragraph(f"{loaded} of {len(las) * len(periods)} packs loaded (one per local authority per "
                           f"quarter, {quarter_label(periods[0])} to {quarter_label(periods[-1])})."))
    areas = las + [("", partnership_name())]
    matrix = [[text(name)] + [cases_cell(subs, code, period) for period in periods] for code, name in areas]
    parts.append(table("Cases loaded by local authority and quarter ([x]: no pack loaded)",
                       ["Area"] + [quarter_label(p) for p in periods], matrix))
    rows = [[text(name), text(quarter_label(period))]
            + submission_cells(subs[(subs["la_code"] == code) & (subs["period"] == period)], code == "")
            for code, name in areas for period in periods]
    parts.append("<details><summary>Show packs, rows received and rows quarantined for each quarter</summary>"
                 + table("Packs, cases and rows by local authority and quarter",
                         ["Area", "Quarter", "Pack loaded", "Cases", "Rows received", "Rows quarantined",
                          "Packs rejected"], rows) + "</details>")
    return "\n".join(parts)


def cases_cell(subs: pd.DataFrame, code: str, period: str) -> Cell:
    found = subs[(subs["la_code"] == code) & (subs["period"] == period)]
    if found.empty or (code and found["status"].iloc[0] != "loaded"):
        return missing_count()
    return count(found["cases"].iloc[0], found["cases_suppressed"].iloc[0])


def submission_cells(found: pd.DataFrame, is_total: bool) -> list[Cell]:
    """Pack loaded, cases, rows received, rows quarantined and packs rejected for one row of the
    completeness table. Packs rejected count files, not children, so it is never suppressed."""
    if found.empty:
        return [text("total" if is_total else "no")] + [missing_count()] * 3 + [Cell("[x]", "num")]
    row = found.iloc[0]
    return [text("total" if is_total else ("yes" if row["status"] == "loaded" else "no: rejected")),
            count(row["cases"], row["cases_suppressed"]),
            count(row["rows_received"], row["rows_received_suppressed"]),
            count(row["rows_quarantined"], row["rows_quarantined_suppressed"]),
            Cell(str(int(row["packs_rejected"])), "num")]


def indicator_links(pub: Publication) -> str:
    fw = pub.framework
    parts = ['<h2 id="indicators">Indicators</h2>']
    for domain, spec in fw.domains.items():
        members = [i for i in fw.indicators if i.domain == domain]
        if not members:
            continue
        note = "" if spec.get("scored") else " (for context: not part of any score)"
        parts.append(f"<h3>{esc(spec['title'])}{esc(note)}</h3><ul class=\"links\">" + "".join(
            f'<li><a href="{esc(indicator_file(i.id))}">{esc(i.id)}: {esc(i.title)}</a></li>' for i in members)
            + "</ul>")
    return "\n".join(parts)


def la_links(las: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="{esc(la_file(code))}">{esc(name)} ({esc(code)})</a></li>' for code, name in las)
    body = f'<ul class="links">{items}</ul>' if las else paragraph("No local authority has sent a pack yet.")
    return '<h2 id="local-authorities">Local authorities</h2><p>In alphabetical order.</p>' + body


# ---------------------------------------------------------------- indicator pages


def indicator_page(pub: Publication, indicator: Indicator) -> Page:
    kind = ("Informational: shown for context, not part of any score" if indicator.informational
            else f"Scored: part of the {pub.framework.domains[indicator.domain]['title']} score")
    parts = [paragraph(indicator.question, "lead"),
             paragraph(f"{direction_words(indicator)}. {kind}.")]
    if not pub.periods:
        parts.append(no_packs_notice())
    else:
        parts += [funnel_section(pub, indicator), trend_section(pub, indicator), history_section(pub, indicator)]
    parts.append("<h2>Definition</h2>" + definition(pub, indicator))
    return Page(indicator_file(indicator.id), f"{indicator.id}: {indicator.title}", "\n".join(parts))


def funnel_section(pub: Publication, indicator: Indicator) -> str:
    latest = pub.periods[-1]
    funnel = funnels(pub, latest)[indicator.id]
    parts = [f"<h2>Local authorities in {esc(quarter_label(latest))}</h2>",
             "<p>A funnel plot shows each local authority's rate against the number of cases it is based on. "
             "Rates from few cases vary more by chance, so the control limits widen to the left. A local "
             f"authority outside the {esc(level_label(funnel_levels()[-1]))} limits is flagged for a closer look; "
             "the chart does not rank local authorities.</p>"]
    left_out = left_out_words(funnel)
    if funnel.target is None:
        parts.append(paragraph(f"No funnel plot for {quarter_label(latest)}: the partnership rate is "
                               "suppressed or the indicator applied to no cases."))
    elif funnel.points.empty:
        parts.append(paragraph(f"No local authority's rate can be plotted for {quarter_label(latest)}. {left_out}"))
    else:
        figure = figures.funnel_figure(funnel, label_all=len(funnel.points) <= LABEL_ALL_LAS)
        label = f"Funnel plot of {indicator.id} by local authority, {quarter_label(latest)}"
        parts.append(chart("funnel-chart", figure, label, funnel_summary(funnel, left_out),
                           funnel_table(pub, indicator.id, funnel)))
    if left_out and not funnel.points.empty:
        parts.append(paragraph(left_out))
    return "\n".join(parts)


def left_out_words(funnel: figures.Funnel) -> str:
    words = []
    if funnel.suppressed:
        words.append(f"{plural(len(funnel.suppressed), 'local authority', 'local authorities')} "
                     f"({names_list(funnel.suppressed)}) left out because the rate is suppressed to protect "
                     "children's privacy [c]")
    if funnel.no_cases:
        words.append(f"{plural(len(funnel.no_cases), 'local authority', 'local authorities')} "
                     f"({names_list(funnel.no_cases)}) left out because the indicator applied to none of "
                     "their cases [z]")
    return ("; ".join(words) + ".") if words else ""


def funnel_summary(funnel: figures.Funnel, left_out: str) -> str:
    points = funnel.points
    flagged = points[points["flag"] != 0]
    words = (f"{plural(len(points), 'local authority', 'local authorities')} plotted around the partnership "
             f"rate of {percent(funnel.target)}, with {level_label(funnel_levels()[0])} limits (dashed) and "
             f"{level_label(funnel_levels()[-1])} limits (dotted). ")
    if flagged.empty:
        words += f"All lie inside the {level_label(funnel_levels()[-1])} limits."
    else:
        words += "Flagged (diamond markers): " + "; ".join(
            f"{row.la_name} is {row.position.removesuffix(': flagged')}" for row in flagged.itertuples()) + "."
    return words + (f" {left_out}" if left_out else "")


def funnel_table(pub: Publication, indicator_id: str, funnel: figures.Funnel) -> str:
    """Every LA (alphabetical) with the numbers the funnel plot draws, and the partnership."""
    rows = pub.rates[(pub.rates["indicator_id"] == indicator_id)
                     & (pub.rates["period"] == funnel.period)]
    points = funnel.points.set_index("la_code")
    body = []
    for code, name in las_by_name(pub):
        found = rows[rows["la_code"] == code]
        if found.empty:
            continue
        row = found.iloc[0]
        cells = [text(name)] + rate_cells(row)
        if code in points.index:
            point = points.loc[code]
            cells += [Cell(f"{percent(point[f'lower_{level}'])} to {percent(point[f'upper_{level}'])}", "num")
                      for level in funnel_levels()] + [text(point["position"])]
        else:
            cells += [Cell("[z]", "num")] * len(funnel_levels()) + [text("not plotted")]
        body.append(cells)
    total = rows[rows["is_total"]].iloc[0]
    body.append([text(partnership_name())] + rate_cells(total) + [Cell("[z]", "num")] * len(funnel_levels())
                + [text("centre line")])
    return table(f"Rates and control limits by local authority, {quarter_label(funnel.period)}",
                 ["Area", "Cases met", "Cases applicable", "Rate", "95% confidence interval"]
                 + [f"{level_label(level)} control limits" for level in funnel_levels()] + ["Position"], body)


def rate_cells(row: pd.Series) -> list[Cell]:
    """Numerator, denominator, rate and its interval, each with its own suppression."""
    return [count(row["numerator"], row["numerator_suppressed"]),
            count(row["denominator"], row["denominator_suppressed"]),
            rate(row["rate"], row["rate_suppressed"]),
            interval(row["ci_low"], row["ci_high"], row["ci_low_suppressed"])]


def trend_section(pub: Publication, indicator: Indicator) -> str:
    frame = spc(pub, indicator, None)
    parts = ["<h2>Partnership trend</h2>",
             "<p>A statistical process control (SPC) chart of the partnership's rate each quarter, around its "
             "mean, with process limits three standard errors either side. Points marked improvement or concern "
             "are special causes: unlikely to be ordinary variation.</p>"]
    skipped = len(pub.periods) - len(frame)
    if frame.empty:
        parts.append(paragraph("No quarter has a partnership rate that can be shown, so there is no chart yet."))
        return "\n".join(parts)
    figure = figures.spc_figure(frame, pub.periods)
    data = spc_table(f"Partnership rate, mean and process limits by quarter for {indicator.id}", frame)
    parts.append(chart("spc-chart", figure, f"SPC chart of the partnership rate of {indicator.id} by quarter",
                       spc_summary(frame, skipped), data))
    if note := too_few_points(len(frame)):
        parts.append(paragraph(note))
    return "\n".join(parts)


def spc_summary(frame: pd.DataFrame, skipped: int) -> str:
    last = frame.iloc[-1]
    words = (f"{plural(len(frame), 'quarter')} plotted, mean {percent(last['centre'])}. In "
             f"{quarter_label(last['period'])} the rate was {percent(last['rate'])}")
    words += f": {last['signal']} ({last['rules']})." if last["signal"] else ", within its usual range."
    signals = frame[frame["signal"] != ""]
    if len(signals):
        words += " Special causes: " + "; ".join(
            f"{quarter_label(r.period)} {r.signal}" for r in signals.itertuples()) + "."
    if skipped:
        words += f" {plural(skipped, 'quarter')} left out: rate suppressed [c] or nothing applied [z]."
    return words


def spc_table(caption: str, frame: pd.DataFrame) -> str:
    return table(caption, ["Quarter", "Cases met", "Cases applicable", "Rate", "Mean", "Process limits", "Signal"],
                 spc_rows(frame))


def spc_rows(frame: pd.DataFrame) -> list[list[Cell]]:
    """Quarter, counts, rate, mean, limits and signal; the plotted points are published ones."""
    return [[text(quarter_label(r.period)), count(r.numerator, False), count(r.denominator, False),
             rate(r.rate, False), rate(r.centre, False), Cell(f"{percent(r.lower)} to {percent(r.upper)}", "num"),
             text(f"{r.signal}: {r.rules}" if r.signal else "common cause")] for r in frame.itertuples()]


def history_section(pub: Publication, indicator: Indicator) -> str:
    """Every published number for the indicator, LAs alphabetically then the partnership."""
    rows = []
    for code, name in las_by_name(pub) + [(None, partnership_name())]:
        for _, row in series(pub, indicator.id, code).sort_values("period").iterrows():
            rows.append([text(name), text(quarter_label(row["period"]))] + rate_cells(row))
    return ("<h2>Every local authority, every quarter</h2>"
            + table(f"{indicator.id} by local authority and quarter",
                    ["Area", "Quarter", "Cases met", "Cases applicable", "Rate", "95% confidence interval"], rows))


def definition(pub: Publication, indicator: Indicator) -> str:
    """The indicator's rules and where they come from, as a definition list."""
    fw = pub.framework
    items = [("Question", esc(indicator.question)),
             ("Domain", esc(fw.domains[indicator.domain]["title"])),
             ("Applies when", f"<code>{esc(indicator.applicable)}</code>"),
             ("Met when", f"<code>{esc(indicator.met)}</code>")]
    if indicator.value:
        items.append(("Value", f"<code>{esc(indicator.value)}</code>"))
    items += [("Direction", esc(direction_words(indicator))),
              ("Counts towards", "nothing: informational, for context" if indicator.informational
               else esc(f"the {fw.domains[indicator.domain]['title']} score and the practice score")),
              ("Source", esc(" ".join(str(fw.sources.get(indicator.source, indicator.source)).split())))]
    if indicator.citation:
        items.append(("Citation", esc(indicator.citation)))
    return '<dl class="definition">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


# ---------------------------------------------------------------- local authority pages


def la_page(pub: Publication, code: str, name: str) -> Page:
    parts = [paragraph(f"{name} ({code}), one of the local authorities in {partnership_name()}. Every rate is "
                       "shown beside the partnership's; rates are not ranked.", "lead"),
             la_rates_section(pub, code, name), la_trends_section(pub, code), la_quality_section(pub, code)]
    return Page(la_file(code), name, "\n".join(parts))


def la_rates_section(pub: Publication, code: str, name: str) -> str:
    latest = pub.periods[-1]
    fw = pub.framework
    frame = figures.la_comparison(pub.rates, code, latest, [i.id for i in fw.indicators], funnels(pub, latest))
    heading = f"<h2>Rates in {esc(quarter_label(latest))} against the partnership</h2>"
    if frame.empty:
        return heading + paragraph(f"No pack from {name} was loaded for {quarter_label(latest)}.")
    rows = []
    for _, row in frame.iterrows():
        indicator = fw.indicator(row["indicator_id"])
        rows.append([link(indicator_file(indicator.id), f"{indicator.id}: {indicator.title}")] + rate_cells(row)
                    + [rate(row["total_rate"], row["total_rate_suppressed"]),
                       text(row["position"] or "not plotted")])
    data = table(f"{name} and {partnership_name()} rates by indicator, {quarter_label(latest)}",
                 ["Indicator", "Cases met", "Cases applicable", "Rate", "95% confidence interval",
                  f"{partnership_name()} rate", "Position in the funnel plot"], rows)
    hidden = int((~frame.index.isin(figures.plotted(frame).index)).sum())
    summary = (f"Dot chart: {name}'s rate for each indicator (blue circles, with lines for the 95% confidence "
               f"interval) beside the partnership's (open black diamonds).")
    if hidden:
        summary += f" {plural(hidden, 'indicator')} not plotted for {name}: rate suppressed [c] or nothing applied [z]."
    flagged = frame[frame["flag"] != 0]
    if len(flagged):
        summary += " Outside the widest funnel limits: " + ", ".join(flagged["indicator_id"]) + "."
    labels = {i.id: f"{i.id} {i.title}" for i in fw.indicators}
    figure = figures.la_rates_figure(frame, labels, name, partnership_name())
    return heading + chart("rates-chart", figure, f"Dot chart of {name}'s indicator rates against the partnership, "
                           f"{quarter_label(latest)}", summary, data)


def la_trends_section(pub: Publication, code: str) -> str:
    fw = pub.framework
    panels, rows, signals, skipped = [], [], [], 0
    for indicator in fw.indicators:
        frame = spc(pub, indicator, code)
        skipped += len(series(pub, indicator.id, code)) - len(frame)
        panels.append((wrap(f"{indicator.id}: {indicator.title}"), frame))
        for cells in spc_rows(frame):
            rows.append([link(indicator_file(indicator.id), indicator.id)] + cells)
        signals += [f"{indicator.id} {quarter_label(r.period)}: {r.signal} ({r.rules})"
                    for r in frame.itertuples() if r.signal]
    parts = ["<h2>Trends over quarters</h2>",
             "<p>One small SPC chart per indicator: the local authority's own rate each quarter around its own "
             "mean, with process limits. Quarters whose rate is suppressed are left out of the chart and of "
             "the special-cause rules.</p>"]
    if not rows:
        return "\n".join(parts + [paragraph("No rate for this local authority can be shown yet.")])
    summary = (f"Small SPC charts for {plural(len(panels), 'indicator')}; grey circles are common cause "
               "variation, blue diamonds improvement and orange squares concern. ")
    summary += ("Special causes: " + "; ".join(signals) + "." if signals else "No special causes.")
    if skipped:
        summary += f" {plural(skipped, 'point')} left out: rate suppressed [c] or nothing applied [z]."
    data = table("Rates, means, process limits and signals by indicator and quarter",
                 ["Indicator", "Quarter", "Cases met", "Cases applicable", "Rate", "Mean", "Process limits",
                  "Signal"], rows)
    figure = figures.la_trends_figure(panels, pub.periods)
    parts.append(chart("trends-chart", figure, "Small SPC charts of this local authority's rates by quarter",
                       summary, data))
    if note := too_few_points(len(pub.periods)):
        parts.append(paragraph(note))
    return "\n".join(parts)


def wrap(title: str, width: int = 34) -> str:
    """Break a panel title over lines of about `width` characters (plotly does not wrap)."""
    lines, line = [], ""
    for word in title.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join(lines + [line])


def la_quality_section(pub: Publication, code: str) -> str:
    """Per quarter: the pack, its rows and rows set aside, then rule breaches by rule."""
    subs = pub.submissions
    rows = [[text(quarter_label(period))] + submission_cells(
        subs[(subs["la_code"] == code) & (subs["period"] == period)], False) for period in all_periods(pub)]
    parts = ["<h2>Data quality</h2>",
             "<p>Rows that break a rule of the export pack contract are quarantined: kept out of the figures "
             "until the local authority corrects them.</p>",
             table("Packs and rows by quarter", ["Quarter", "Pack loaded", "Cases", "Rows received",
                                                 "Rows quarantined", "Packs rejected"], rows),
             "<h3>Rows quarantined, by rule</h3>"]
    rules = pub.quarantine_rules
    mine = rules[rules["la_code"] == code] if len(rules) else rules
    if mine.empty:
        parts.append(paragraph("No rows quarantined in any quarter."))
    else:
        body = [[text(quarter_label(r["period"])), text(r["rule"].replace("_", " ")),
                 count(r["breaches"], r["breaches_suppressed"])] for _, r in mine.iterrows()]
        parts.append(table("Rule breaches by quarter and rule", ["Quarter", "Rule", "Rows"], body))
    return "\n".join(parts)


# ---------------------------------------------------------------- methods


def methods_page(pub: Publication) -> Page:
    parts = [paragraph("How the figures on this site are defined, worked out and protected.", "lead"),
             '<h2 id="definitions">Indicator definitions</h2>',
             "<p>Each indicator is a question asked of every child's case in a quarter. It applies to some "
             "cases; of those, it is met or not. Its rate is the cases where it is met divided by the cases "
             "where it applies. Rules are written as conditions on the case record.</p>"]
    fw = pub.framework
    for domain, spec in fw.domains.items():
        members = [i for i in fw.indicators if i.domain == domain]
        if not members:
            continue
        parts.append(f"<h3>{esc(spec['title'])}</h3>")
        for indicator in members:
            parts.append(f'<h4><a href="{esc(indicator_file(indicator.id))}">{esc(indicator.id)}: '
                         f"{esc(indicator.title)}</a></h4>" + definition(pub, indicator))
    parts += [STATISTICS_HTML.format(narrow=esc(level_label(funnel_levels()[0])),
                                     wide=esc(level_label(funnel_levels()[-1])), run=RUN_LENGTH, trend=TREND_LENGTH),
              DISCLOSURE_HTML.format(threshold=esc(str(pub.limit))), SYMBOLS_HTML, sources_list(pub)]
    return Page("methods.html", "Methods and definitions", "\n".join(parts))


def sources_list(pub: Publication) -> str:
    items = "".join(f"<li>{esc(' '.join(str(text_).split()))}</li>" for text_ in pub.framework.sources.values())
    return f'<h2 id="sources">Sources</h2><ul>{items}</ul>'


STATISTICS_HTML = """
<h2 id="statistics">Statistics</h2>
<h3>Rates and confidence intervals</h3>
<p>Each rate comes with a 95% Wilson score interval, the method of the Office for Health Improvement and
Disparities' public health technical guidance. It gives sensible ranges even when a rate is 0% or 100%.</p>
<h3>Funnel plots</h3>
<p>Local authorities are compared with a funnel plot (Spiegelhalter, 2005): each local authority's rate is
plotted against the number of cases it is based on, around the partnership's pooled rate. The control
limits are exact binomial limits, interpolated so they are smooth in the number of cases, at {narrow} and
{wide}. A local authority outside the {wide} limits is flagged for a closer look. Local authorities are never
ranked in a league table: small differences between them are mostly chance.</p>
<h3>Statistical process control (SPC)</h3>
<p>Trends over quarters use a p-chart, as in NHS England's "Making Data Count": the centre line is the mean
(the pooled rate over the quarters shown) and the process limits are three standard errors either side,
worked out for each quarter's own number of cases. A point is a special cause when:</p>
<ul>
<li>it falls outside the process limits;</li>
<li>it is one of a run of {run} or more points in a row on the same side of the mean;</li>
<li>it is one of {trend} or more points in a row that each rise (or each fall).</li>
</ul>
<p>A special cause is labelled improvement when it points the way the indicator should move (up where higher
is better, down where lower is better) and concern when it points the other way. Quarters with a suppressed
rate are left out of the chart and of the rules. With fewer than {trend} quarters, only the first rule can
signal.</p>
<h3>What changed</h3>
<p>On the overview, a change in the partnership's rate between the last two quarters is called clear when
the two quarters' 95% confidence intervals do not overlap.</p>
"""

DISCLOSURE_HTML = """
<h2 id="disclosure">Disclosure control</h2>
<p>Nothing on this site is about one child. The pages hold totals only, never case records, and small
numbers are hidden, following Government Statistical Service and Department for Education practice for
children's social care:</p>
<ul>
<li>Primary suppression: a count from 1 to {threshold} is shown as [c]. A true zero is shown as 0.</li>
<li>Complements: a count is also hidden when the cases it leaves out (for example, cases where an indicator
applies but is not met) number from 1 to {threshold}, since that small group could be worked out by
subtraction.</li>
<li>Secondary suppression: where local authorities add up to a partnership total (or rules add up to a pack's
quarantined rows), more cells are hidden until no hidden cell can be worked out from the others.</li>
<li>A rate and its interval are hidden when its numerator or denominator is hidden.</li>
<li>A score averaged over {threshold} or fewer cases is hidden.</li>
</ul>
<p>Charts only draw numbers that are published in the tables; hidden values are left out of them.</p>
"""

SYMBOLS_HTML = """
<h2 id="symbols">Symbols</h2>
<table><caption>Symbols used in tables</caption>
<thead><tr><th scope="col">Symbol</th><th scope="col">Meaning</th></tr></thead>
<tbody>
<tr><th scope="row">[c]</th><td>Confidential: hidden to protect children's privacy</td></tr>
<tr><th scope="row">[z]</th><td>Not applicable: for example a rate where the indicator applied to no cases</td></tr>
<tr><th scope="row">[x]</th><td>Not available: for example a pack that was not received or loaded</td></tr>
</tbody></table>
"""


def all_pages(pub: Publication) -> list[Page]:
    """Every page of the site: overview, one per indicator, one per LA, methods."""
    return partnership_pages(pub) + la_pages(pub, las_by_name(pub))


def partnership_pages(pub: Publication) -> list[Page]:
    """The overview, one page per indicator, and methods."""
    return [overview_page(pub), *[indicator_page(pub, indicator) for indicator in pub.framework.indicators],
            methods_page(pub)]


def la_pages(pub: Publication, las: list[tuple[str, str]]) -> list[Page]:
    """One page per LA, (code, name); none before any quarter is loaded."""
    return [la_page(pub, code, name) for code, name in las] if pub.periods else []


__all__ = ["Page", "all_pages", "indicator_file", "la_file", "la_pages", "las_by_name", "partnership_pages"]
