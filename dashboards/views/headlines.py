"""The headlines page (index.html, the site's front page) and the board's one-page report: for the
latest quarter, every funnel flag, clear change and SPC signal of every LA and the partnership,
each called an improvement or a concern by the indicator's direction, in plain English, with the
questions a board could ask. Rules and wording are config/headlines.yaml; only published numbers
are read."""

from __future__ import annotations

from functools import cache

import pandas as pd

from assets.config import load_yaml
from assets.scoring import Indicator
from dashboards import figures
from dashboards.figures import percent, quarter_label
from dashboards.publication import PARTNERSHIP_CODE, Publication
from dashboards.views.changes import rate_change
from dashboards.views.common import funnels, indicator_file, la_file, las_by_name, page_exports, quarter_rates, spc
from dashboards.views.overview import PRACTICE

# A funnel flag's and a change's verdict ('better'/'worse') as the headlines say it.
VERDICT_OF = {"better": "improvement", "worse": "concern"}


@cache
def wording() -> dict:
    return load_yaml("headlines.yaml")


def headlines_view(pub: Publication, partnership: str) -> dict:
    if not pub.periods:
        return {"partnership": partnership, "latest": None, "findings": {}, "questions": [], "summary": {},
                "tables": False,
                **page_exports(pub)}
    found = findings(pub, partnership)
    words = wording()
    return {"partnership": partnership, "latest": quarter_label(pub.periods[-1]), "tables": False,
            "findings": {verdict: {"heading": spec["heading"], "label": spec["label"],
                                   "style": figures.flag_styles()[spec["flag"]],
                                   "items": [f for f in found if f["verdict"] == verdict]}
                         for verdict, spec in words["verdicts"].items()},
            "questions": questions(found), "summary": summary(pub, partnership),
            "compared": [quarter_label(p) for p in earlier_quarters(pub.periods)],
            **page_exports(pub, "funnel_flags", "spc_signals", "indicator_rates", "scores")}


def earlier_quarters(periods: list[str]) -> list[str]:
    """The quarters the latest is compared with (config/headlines.yaml compare): the quarter
    before, and the same quarter a year before or, where that was not loaded, the earliest quarter
    loaded within the year."""
    compare = wording()["compare"]
    latest = periods[-1]
    year, quarter = int(latest[:4]), int(latest[-1])

    def back(steps: int) -> str:
        index = year * 4 + quarter - 1 - steps
        return f"{index // 4}Q{index % 4 + 1}"

    before, year_before = back(compare["quarters_before"]), back(compare["year_before"])
    chosen = [before] if before in periods else []
    within = [p for p in periods if year_before <= p < before]
    if within and within[0] not in chosen:
        chosen.append(within[0])
    return chosen


def findings(pub: Publication, partnership: str) -> list[dict]:
    """Every finding of the latest quarter: the partnership first, then LAs by name, indicators in
    framework order; a finding with evidence both ways is listed once as each."""
    latest = pub.periods[-1]
    earlier = earlier_quarters(pub.periods)
    areas = [(PARTNERSHIP_CODE, partnership)] + las_by_name(pub)
    result = []
    for code, name in areas:
        for indicator in pub.framework.indicators:
            evidence = evidence_for(pub, indicator, code, latest, earlier)
            for verdict in wording()["verdicts"]:
                mine = [e for e in evidence if e["verdict"] == verdict]
                if mine:
                    result.append(finding(indicator, code, name, verdict, mine))
    return result


def evidence_for(pub: Publication, indicator: Indicator, code: str, latest: str, earlier: list[str]) -> list[dict]:
    """The funnel flag, clear changes and SPC signal of one area and indicator in the latest quarter."""
    now = quarter_rates(pub, latest).get((code, indicator.id))
    if now is None or now.get("not_available") or now["rate_suppressed"] or pd.isna(now["rate"]):
        return []  # nothing to say of a rate not published, or of an indicator that applied to none
    said = wording()["evidence"]
    rate = percent(now["rate"])
    found = []
    funnel = funnels(pub, latest)[indicator.id]
    flag, _ = funnel.places.get(code, (0, ""))
    if flag and code != PARTNERSHIP_CODE:
        fields = {"rate": rate, "quarter": quarter_label(latest), "target": percent(funnel.target),
                  "side": "higher" if flag > 0 else "lower"}
        found.append({"kind": "funnel", "verdict": VERDICT_OF[figures.flag_verdict(flag, indicator.direction)],
                      "fields": fields, "words": said["funnel"].format(**fields)})
    for period in earlier:
        before = quarter_rates(pub, period).get((code, indicator.id))
        change = rate_change(indicator, before, now)
        if change.clear:
            rose = now["rate"] > before["rate"]
            fields = {"rate": rate, "quarter": quarter_label(latest), "before": percent(before["rate"]),
                      "then": quarter_label(period), "moved": "rose" if rose else "fell",
                      "movement": "rise" if rose else "fall"}
            found.append({"kind": "change", "verdict": VERDICT_OF[change.verdict], "fields": fields,
                          "words": said["change"].format(**fields)})
    points = spc(pub, indicator, None if code == PARTNERSHIP_CODE else code)
    if points and points[-1].period == latest and points[-1].signal:
        fields = {"rate": rate, "quarter": quarter_label(latest), "rules": points[-1].rules}
        found.append({"kind": "spc", "verdict": points[-1].signal, "fields": fields,
                      "words": said["spc"].format(**fields)})
    return found


def finding(indicator: Indicator, code: str, name: str, verdict: str, evidence: list[dict]) -> dict:
    words = wording()
    sentence = words["sentence"].format(rate=evidence[0]["fields"]["rate"], quarter=evidence[0]["fields"]["quarter"],
                                        evidence="; ".join(e["words"] for e in evidence),
                                        said=words["verdicts"][verdict]["said"],
                                        direction=words["direction"][indicator.direction])
    return {"code": "" if code == PARTNERSHIP_CODE else code, "area": name,
            "area_href": "overview.html" if code == PARTNERSHIP_CODE else la_file(code),
            "indicator": indicator.id, "title": indicator.title, "indicator_href": indicator_file(indicator.id),
            "verdict": verdict, "kinds": [e["kind"] for e in evidence],
            "sentence": sentence,
            "question": question(indicator, name, verdict, evidence[0])}


def question(indicator: Indicator, area: str, verdict: str, evidence: dict) -> str:
    title = indicator.title
    if not title[1:2].isupper():  # keep a leading abbreviation (NRM, MACE) as it is written
        title = title[0].lower() + title[1:]
    fields = {"area": area, "id": indicator.id, "title": title, **evidence["fields"]}
    return wording()["questions"][verdict][evidence["kind"]].format(**fields)


def questions(found: list[dict]) -> list[str]:
    """One question per finding, up to the configured number: concerns first, and taking each area
    in turn (its first finding, then each area's second, ...) so that no one area fills the list."""
    spec = wording()["questions"]
    asked = []
    for verdict in ("concern", "improvement"):
        by_area: dict[str, list[str]] = {}
        for item in found:
            if item["verdict"] == verdict:
                by_area.setdefault(item["area"], []).append(item["question"])
        for turn in range(max((len(q) for q in by_area.values()), default=0)):
            asked += [q[turn] for q in by_area.values() if turn < len(q)]
    return list(dict.fromkeys(asked))[:spec["limit"]] or [spec["none"]]


def summary(pub: Publication, partnership: str) -> dict:
    """The figures the page opens with: packs loaded this quarter and the practice score."""
    latest = pub.periods[-1]
    subs = pub.submissions
    mine = subs[(subs["period"] == latest) & ~subs["is_total"]] if len(subs) else subs
    practice = pub.scores[pub.scores["is_total"] & (pub.scores["domain"] == PRACTICE)
                          & ~pub.scores["score_suppressed"]].set_index("period")["score"]
    previous = pub.periods[-2] if len(pub.periods) > 1 else None
    return {"las": len(las_by_name(pub)), "loaded": int((mine["status"] == "loaded").sum()) if len(mine) else 0,
            "practice": f"{practice[latest]:.2f}" if latest in practice.index else "",
            "previous_practice": f"{practice[previous]:.2f}" if previous in practice.index else "",
            "previous": quarter_label(previous) if previous else ""}
