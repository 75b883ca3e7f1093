"""Multi-agency case audits: the audit tool (config/audit_tool.yaml), a reproducible stratified
sample of one pack's cases, and the audit's folder of forms (docs/audits.md).

The sample is drawn from the warehouse, so it names cases only by case_key: the LA's own data team
turns those back into their case_ids with `audit reidentify`, on their own copy of the pack.
Everything here is restricted: case_keys and auditors' comments never reach the public site."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import duckdb
import numpy as np

from assets.config import contract, load_yaml
from assets.scoring import framework


class AuditToolError(ValueError):
    """The audit tool (config/audit_tool.yaml) is not usable as it stands."""


@dataclass(frozen=True)
class Question:
    id: str
    domain: str
    question: str
    scale: str
    agencies: tuple[str, ...]  # the lead_agency codes that answer it
    indicators: tuple[str, ...]
    source: str
    citation: str


@dataclass(frozen=True)
class AuditTool:
    version: str
    name: str
    scales: dict[str, dict[str, int]]  # scale: answer code -> value
    no_value: tuple[str, ...]  # codes every scale allows, with no value
    good_enough: dict[str, float]
    domains: dict[str, str]
    agencies: tuple[str, ...]  # every agency that answers some question, in the contract's order
    questions: tuple[Question, ...] = field(default_factory=tuple)
    forms: dict[str, str] = field(default_factory=dict)  # the forms' read-me texts
    action_statuses: tuple[str, ...] = ()
    agreement_bands: tuple[tuple[float, str], ...] = ()  # (lowest alpha, words), highest first
    no_agreement_words: str = ""

    def agreement_words(self, alpha: float | None) -> str:
        if alpha is None:
            return self.no_agreement_words
        return next(words for low, words in self.agreement_bands if alpha >= low)

    def answers(self, scale: str) -> list[str]:
        """The codes an answer on `scale` may take, best first, then those with no value."""
        values = self.scales[scale]
        return sorted(values, key=values.get, reverse=True) + list(self.no_value)

    def value(self, scale: str, answer: str) -> float | None:
        return None if answer in self.no_value else float(self.scales[scale][answer])

    def questions_for(self, agency: str) -> list[Question]:
        """The questions an agency answers; the moderated return answers them all."""
        return [q for q in self.questions if agency == MODERATED or agency in q.agencies]


MODERATED = "moderated"  # the agency code of the moderation form: the partnership's agreed answers


@cache
def audit_tool() -> AuditTool:
    """The audit tool, checked: every question names a known domain, scale, agencies, indicators
    and source, and ids are unique."""
    spec = load_yaml("audit_tool.yaml")
    agencies = list(contract()["tables"]["actions"]["columns"]["lead_agency"]["values"])
    taking_part = list(spec["taking_part"])
    if unknown := [a for a in taking_part if a not in agencies]:
        raise AuditToolError(f"config/audit_tool.yaml, taking_part: {unknown} are not the contract's lead_agency codes")
    fw = framework()
    indicator_ids = {i.id for i in fw.indicators}
    sources = set(fw.sources)
    scales = {name: {str(code): int(value) for code, value in codes.items()} for name, codes in spec["scales"].items()}
    questions, seen = [], set()
    for number, item in enumerate(spec["questions"], start=1):
        where = f"config/audit_tool.yaml, question {number} ({item.get('id', 'no id')})"
        if item.get("id") in seen or not item.get("id"):
            raise AuditToolError(f"{where}: every question needs an id of its own")
        seen.add(item["id"])
        if item.get("domain") not in spec["domains"]:
            raise AuditToolError(f"{where}: domain {item.get('domain')!r} is not one of {sorted(spec['domains'])}")
        if item.get("scale") not in scales:
            raise AuditToolError(f"{where}: scale {item.get('scale')!r} is not one of {sorted(scales)}")
        answering = taking_part if item.get("agencies") == "all" else list(item.get("agencies") or [])
        unknown = [a for a in answering if a not in agencies] or ([] if answering else ["(none)"])
        if unknown:
            raise AuditToolError(f"{where}: agencies {unknown} are not lead_agency codes of the contract")
        missing = [i for i in item.get("indicators") or [] if i not in indicator_ids]
        if missing:
            raise AuditToolError(f"{where}: indicators {missing} are not in the framework")
        if item.get("source") not in sources:
            raise AuditToolError(f"{where}: source {item.get('source')!r} is not one of {sorted(sources)}")
        questions.append(Question(item["id"], item["domain"], " ".join(str(item["question"]).split()), item["scale"],
                                  tuple(answering), tuple(item.get("indicators") or ()), item["source"],
                                  str(item.get("citation") or "")))
    answering = {a for q in questions for a in q.agencies}
    return AuditTool(str(spec["version"]), str(spec["name"]), scales, tuple(spec["no_value"]),
                     {k: float(v) for k, v in spec["good_enough"].items()}, dict(spec["domains"]),
                     tuple(a for a in agencies if a in answering), tuple(questions),
                     {k: str(v) for k, v in spec["forms"].items()}, tuple(spec["action_statuses"]),
                     tuple(sorted(((float(b["from"]), str(b["words"])) for b in spec["agreement_bands"]),
                                  reverse=True)),
                     str(spec["no_agreement_words"]))


# --- the sample ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SampledCase:
    case_key: str
    stratum: str
    reason: str


class SampleError(ValueError):
    """The sample asked for cannot be drawn from the pack."""


def pack_cases(con: duckdb.DuckDBPyConnection, la_code: str, period: str, focus: str | None) -> list[tuple]:
    """(case_key, plan_type, below) for every case of the pack, in case_key order; `below` whether
    the case's score in the focus domain is under the tool's cut (False without a focus, or where
    no indicator of the domain applied)."""
    cut = audit_tool().good_enough["domain_score"]
    return con.execute("""
        SELECT c.case_key, c.plan_type, coalesce(s.score < $4, false) AS below
        FROM cases c LEFT JOIN case_domain_scores s
          ON s.la_code = c.la_code AND s.period = c.period AND s.case_key = c.case_key AND s.domain = $3
        WHERE c.la_code = $1 AND c.period = $2
        ORDER BY c.case_key""", [la_code, period, focus or "", cut]).fetchall()


def allocate(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Split n across strata in proportion to their sizes (largest remainder; ties by name), never
    more than a stratum holds."""
    total = sum(sizes.values())
    if n <= 0 or total == 0:
        return {name: 0 for name in sizes}
    shares = {name: n * size / total for name, size in sizes.items()}
    counts = {name: min(sizes[name], math.floor(share)) for name, share in shares.items()}
    while sum(counts.values()) < min(n, total):
        open_strata = [name for name in sizes if counts[name] < sizes[name]]
        name = max(open_strata, key=lambda s: (shares[s] - counts[s], sizes[s] - counts[s], s))
        counts[name] += 1
    return counts


def draw_sample(cases: list[tuple], size: int, seed: int, focus: str | None) -> list[SampledCase]:
    """A stratified random sample of `size` cases (strata: plan_type; with a focus domain, also
    below the cut or not, the cases below then making at least half the sample where there are
    enough of them). The same cases, seed and size always give the same sample."""
    if size < 1:
        raise SampleError("the sample size must be at least 1")
    if size > len(cases):
        raise SampleError(f"the pack holds {len(cases)} case(s), fewer than the {size} asked for")
    rng = np.random.default_rng(seed)
    groups: dict[tuple[bool, str], list[str]] = {}
    for key, plan_type, below in cases:
        groups.setdefault((bool(below) and focus is not None, str(plan_type)), []).append(key)
    below_total = sum(len(keys) for (below, _), keys in groups.items() if below)
    if focus is not None:
        proportional = round(size * below_total / len(cases))
        # At least half from the focus where there are enough; more when the others run short.
        focus_n = min(below_total, max(math.ceil(size / 2), proportional, size - (len(cases) - below_total)))
        split = {True: focus_n, False: size - focus_n}
    else:
        split = {False: size}
    chosen = []
    for below, n in split.items():
        strata = {plan: len(keys) for (b, plan), keys in sorted(groups.items()) if b == below}
        for plan, count in allocate(strata, n).items():
            keys = groups[(below, plan)]
            for index in sorted(rng.choice(len(keys), size=count, replace=False)) if count else []:
                stratum = f"{plan}|below" if below else plan
                reason = f"plan type {plan}" + (f"; {focus} score below {audit_tool().good_enough['domain_score']:g}"
                                                f" (focus)" if below else "")
                chosen.append(SampledCase(keys[index], stratum, reason))
    return sorted(chosen, key=lambda case: (case.stratum, case.case_key))
