"""Why each indicator is met or not for one unit (a case, or a context): its flags and tallies, and
the meetings and actions each tally counted, read from the warehouse. Everything comes from the
framework data, so a local indicator is explained the same way as the built-in ones."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from assets.framework import DEFAULT_UNIT, Framework, Unit, names_in, unit_base_sql, without_external_access
from assets.reading import pack_key
from assets.scoring import framework

# The columns shown for a unit's rows of each source, by unit. A context's rows never show the
# case they were recorded on.
ROW_COLUMNS = {
    DEFAULT_UNIT: {
        "meetings": "source_row AS row, meeting_date AS date, meeting_type AS type, parent_invited AS invited, "
                    "parent_attended AS attended, parent_views_recorded AS views, "
                    "parent_informed_of_outcome AS informed",
        "actions": "source_row AS row, action_date AS date, action_type AS type, target, lead_agency AS lead, "
                   "status, info_source",
    },
    "context": {
        "meetings": "source_row AS row, meeting_date AS date, meeting_type AS type",
        "actions": "source_row AS row, action_date AS date, action_type AS type, target, lead_agency AS agency, "
                   "status",
    },
}
# What each unit shows of its own row.
UNIT_COLUMNS = {DEFAULT_UNIT: "* EXCLUDE (la_code, period, case_key)",
                "context": "context_type, identified_date, risk_level_start, risk_level_end, closed_date"}


@dataclass
class IndicatorExplanation:
    indicator_id: str
    title: str
    applicable: bool
    met: bool | None
    value: float | None
    applicable_rule: str
    met_rule: str
    inputs: dict = field(default_factory=dict)  # flag or tally name -> its value for the unit


@dataclass
class CaseExplanation:
    """The explanation of one unit; `unit` says which (case or context) and `key` is its key."""

    la_code: str
    period: str
    case_key: str
    case: dict
    indicators: list[IndicatorExplanation]
    rows: dict  # "meetings" / "actions" -> the unit's rows dated inside the period
    counted_rows: dict  # tally name -> (source table, the source_row numbers it counted)
    unit: str = DEFAULT_UNIT
    facts: dict = field(default_factory=dict)  # counts shown under the unit's own columns

    def to_text(self) -> str:
        lines = [f"{self.unit.capitalize()} {self.case_key}, {self.la_code} {self.period}",
                 "  " + ", ".join(f"{k} {show(v)}" for k, v in self.case.items())]
        if self.facts:
            lines.append("  " + ", ".join(f"{k} {show(v)}" for k, v in self.facts.items()))
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


def explain_case(con: duckdb.DuckDBPyConnection, la_code: str, period: str, case_key: str,
                 fw: Framework | None = None) -> CaseExplanation:
    return explain_unit(con, DEFAULT_UNIT, la_code, period, case_key, fw)


def explain_context(con: duckdb.DuckDBPyConnection, la_code: str, period: str, context_key: str,
                    fw: Framework | None = None) -> CaseExplanation:
    """The context's type and risk levels, how many cases it is linked to (never which), its
    meetings and actions, and each context indicator with why."""
    return explain_unit(con, "context", la_code, period, context_key, fw)


def explain_unit(con: duckdb.DuckDBPyConnection, unit_name: str, la_code: str, period: str, key: str,
                 fw: Framework | None = None) -> CaseExplanation:
    fw = fw or framework()
    without_external_access(con)  # the framework's rules run here too
    unit = fw.units[unit_name]
    own = con.execute(f"SELECT {UNIT_COLUMNS[unit_name]} FROM {'cases' if unit_name == DEFAULT_UNIT else unit.table} "
                      f"WHERE la_code = ? AND period = ? AND {unit.key} = ?", [la_code, period, key]).df()
    if own.empty:
        raise LookupError(f"no {unit_name} {key} in {la_code} {period}: check the LA code, period and {unit.key} "
                          f"(the 16-character pseudonym in {unit.results})")
    results = {r[0]: r[1:] for r in con.execute(
        f"SELECT indicator_id, applicable, met, value FROM {unit.results} "
        f"WHERE la_code = ? AND period = ? AND {unit.key} = ?", [la_code, period, key]).fetchall()}
    flags, tallies = fw.flags_of(unit_name), fw.tallies_of(unit_name)
    values = unit_inputs(con, fw, unit, la_code, period, key)
    in_period = {source: (f"{date_column} BETWEEN {unit.window_start.format(p='period')} AND "
                          f"{unit.window_end.format(p='period')}") if date_column else "true"
                 for source, date_column in unit.sources.items()}
    shown = ROW_COLUMNS.get(unit_name, {})
    rows = {source: con.execute(f"""
                SELECT {shown[source]} FROM {source}
                WHERE la_code = ? AND period = ? AND {unit.key} = ? AND {in_period[source]}
                ORDER BY source_row""", [la_code, period, key]).df().to_dict("records")
            for source in unit.sources if source in shown}
    counted = {}
    for name, tally in tallies.items():
        source = tally["from"]
        if source not in shown:  # a table without row numbers (links): its tally's value says it all
            continue
        window = "" if tally.get("window") == "all" else f" AND {in_period[source]}"
        counted[name] = (source, [r[0] for r in con.execute(f"""
            SELECT source_row FROM {source}
            WHERE la_code = ? AND period = ? AND {unit.key} = ?{window} AND ({tally['count_where']})
            ORDER BY source_row""", [la_code, period, key]).fetchall()])
    explanations = []
    for indicator in fw.indicators_of(unit_name):
        applicable, met, value = results.get(indicator.id, (False, None, None))
        used = names_in(" ".join(filter(None, [indicator.applicable, indicator.met, indicator.value])),
                        list(flags) + list(tallies))
        explanations.append(IndicatorExplanation(
            indicator.id, indicator.title, bool(applicable), met, value, indicator.applicable,
            indicator.met if not indicator.value else f"{indicator.met}, where value = {indicator.value}",
            {name: values.get(name) for name in used}))
    facts = {}
    if unit_name != DEFAULT_UNIT:
        facts["linked cases"] = con.execute(
            f"SELECT count(DISTINCT case_key) FROM case_contexts WHERE la_code = ? AND period = ? AND {unit.key} = ?",
            [la_code, period, key]).fetchone()[0]
    return CaseExplanation(la_code, period, key, own.iloc[0].to_dict(), explanations, rows, counted, unit_name, facts)


def unit_inputs(con, fw: Framework, unit: Unit, la_code: str, period: str, key: str) -> dict:
    """The unit's flags and tallies, computed by the same SQL as scoring."""
    row = con.execute(f"SELECT * FROM ({unit_base_sql(fw, unit)}) WHERE {unit.key} = $2",
                      [[pack_key(la_code, period)], key]).df()
    if row.empty:
        return {}
    record = row.iloc[0].to_dict()
    return {name: record.get(name) for name in list(fw.flags_of(unit.name)) + list(fw.tallies_of(unit.name))}
