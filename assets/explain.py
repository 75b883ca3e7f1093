"""Why each indicator is met or not for one case: its flags and tallies, and the meetings and
actions each tally counted, read from the warehouse. Everything comes from the framework data, so
a local indicator is explained the same way as the built-in ones."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from assets.reading import pack_key
from assets.scoring import PERIOD_END, PERIOD_START, TALLY_SOURCES, Framework, framework, without_external_access

ROW_COLUMNS = {
    "meetings": "source_row AS row, meeting_date AS date, meeting_type AS type, parent_invited AS invited, "
                "parent_attended AS attended, parent_views_recorded AS views, "
                "parent_informed_of_outcome AS informed",
    "actions": "source_row AS row, action_date AS date, action_type AS type, target, lead_agency AS lead, status, "
               "info_source",
}


@dataclass
class IndicatorExplanation:
    indicator_id: str
    title: str
    applicable: bool
    met: bool | None
    value: float | None
    applicable_rule: str
    met_rule: str
    inputs: dict = field(default_factory=dict)  # flag or tally name -> its value for the case


@dataclass
class CaseExplanation:
    la_code: str
    period: str
    case_key: str
    case: dict
    indicators: list[IndicatorExplanation]
    rows: dict  # "meetings" / "actions" -> the case's rows dated inside the period
    counted_rows: dict  # tally name -> (source table, the source_row numbers it counted)

    def to_text(self) -> str:
        lines = [f"Case {self.case_key}, {self.la_code} {self.period}",
                 "  " + ", ".join(f"{k} {show(v)}" for k, v in self.case.items())]
        for table, rows in self.rows.items():
            lines.append(f"{table.capitalize()} dated inside the period (row = row of the LA's {table} file):")
            lines.extend("  " + "  ".join(f"{k} {show(v)}" for k, v in row.items()) for row in rows)
            if not rows:
                lines.append("  none")
        for item in self.indicators:
            verdict = "not applicable" if not item.applicable else ("MET" if item.met else "not met")
            if item.applicable and item.value is not None and item.value not in (0.0, 1.0):
                verdict += f" (value {item.value:.3f})"
            lines += [f"\n{item.indicator_id} {item.title}: {verdict}",
                      f"  applicable when: {item.applicable_rule}",
                      f"  met when:        {item.met_rule}"]
            if item.inputs:
                lines.append("  here: " + "; ".join(self.describe(k, v) for k, v in item.inputs.items()))
        return "\n".join(lines)

    def describe(self, name: str, value) -> str:
        if name not in self.counted_rows:
            return f"{name} = {show(value)}"
        table, numbers = self.counted_rows[name]
        where = f" ({table} row{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))})" if numbers else ""
        return f"{name} = {show(value)}{where}"


def show(value) -> str:
    """A value as an auditor reads it: Y/N, ISO dates, '-' for missing."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return "-"
    if isinstance(value, bool):
        return "Y" if value else "N"
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if isinstance(value, list | tuple) or getattr(value, "ndim", 0) == 1:
        return ";".join(map(str, value))
    return str(value)


def names_in(expression: str, names) -> list[str]:
    """The flag and tally names an expression uses, in the order they appear."""
    found = []
    for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expression):
        if token in names and token not in found:
            found.append(token)
    return found


def explain_case(con: duckdb.DuckDBPyConnection, la_code: str, period: str, case_key: str,
                 fw: Framework | None = None) -> CaseExplanation:
    fw = fw or framework()
    without_external_access(con)  # the framework's rules run here too
    case = con.execute("SELECT * EXCLUDE (la_code, period, case_key) FROM cases "
                       "WHERE la_code = ? AND period = ? AND case_key = ?", [la_code, period, case_key]).df()
    if case.empty:
        raise LookupError(f"no case {case_key} in {la_code} {period}: check the LA code, period and case_key "
                          "(case_key is the 16-character pseudonym in case_indicators)")
    results = {r[0]: r[1:] for r in con.execute(
        "SELECT indicator_id, applicable, met, value FROM case_indicators "
        "WHERE la_code = ? AND period = ? AND case_key = ?", [la_code, period, case_key]).fetchall()}
    names = list(fw.flags) + list(fw.tallies)
    values = case_inputs(con, fw, la_code, period, case_key)
    in_period = {source: f"{date_column} BETWEEN {PERIOD_START.format(p='period')} AND "
                         f"{PERIOD_END.format(p='period')}" for source, date_column in TALLY_SOURCES.items()}
    rows = {source: con.execute(f"""
                SELECT {ROW_COLUMNS[source]} FROM {source}
                WHERE la_code = ? AND period = ? AND case_key = ? AND {in_period[source]}
                ORDER BY source_row""", [la_code, period, case_key]).df().to_dict("records")
            for source in TALLY_SOURCES}
    counted = {}
    for name, tally in fw.tallies.items():
        source = tally["from"]
        counted[name] = (source, [r[0] for r in con.execute(f"""
            SELECT source_row FROM {source}
            WHERE la_code = ? AND period = ? AND case_key = ? AND {in_period[source]} AND ({tally['count_where']})
            ORDER BY source_row""", [la_code, period, case_key]).fetchall()])
    explanations = []
    for indicator in fw.indicators:
        applicable, met, value = results.get(indicator.id, (False, None, None))
        used = names_in(" ".join(filter(None, [indicator.applicable, indicator.met, indicator.value])), names)
        explanations.append(IndicatorExplanation(
            indicator.id, indicator.title, bool(applicable), met, value, indicator.applicable,
            indicator.met if not indicator.value else f"{indicator.met}, where value = {indicator.value}",
            {name: values.get(name) for name in used}))
    return CaseExplanation(la_code, period, case_key, case.iloc[0].to_dict(), explanations, rows, counted)


def case_inputs(con, fw: Framework, la_code: str, period: str, case_key: str) -> dict:
    """The case's flags and tallies, computed by the same SQL as scoring."""
    from assets.scoring import case_base_sql

    row = con.execute(f"SELECT * FROM ({case_base_sql(fw)}) WHERE case_key = $2",
                      [[pack_key(la_code, period)], case_key]).df()
    record = row.iloc[0].to_dict()
    return {name: record.get(name) for name in list(fw.flags) + list(fw.tallies)}
