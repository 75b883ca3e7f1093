"""Reconciliation rules over the warehouse: plain functions returning what failed, so they can be
tested without Dagster and shown as asset checks in it. Each looks at the quarters it is given
($1; None: all), so a run's checks cost what its quarters hold, not what the warehouse holds."""

from __future__ import annotations

import duckdb

from assets.reading import pack_keys
from assets.warehouse import PACK_SCOPE, PERIOD_SCOPE


def in_periods(table: str) -> str:
    return f"(SELECT * FROM {table} WHERE {PERIOD_SCOPE})"


# Packs whose rows received do not equal rows loaded plus rows quarantined.
UNRECONCILED_PACKS_SQL = f"""
WITH loaded AS (
    SELECT la_code, period, count(*) AS rows FROM (
        SELECT la_code, period FROM {in_periods('cases')} UNION ALL
        SELECT la_code, period FROM {in_periods('meetings')} UNION ALL
        SELECT la_code, period FROM {in_periods('actions')} UNION ALL
        SELECT la_code, period FROM {in_periods('contexts')} UNION ALL
        SELECT la_code, period FROM {in_periods('case_contexts')}) GROUP BY ALL),
quarantined AS (
    SELECT la_code, period, count(DISTINCT (table_name, row_number)) AS rows
    FROM {in_periods('quarantine')} GROUP BY ALL)
SELECT s.la_code, s.period, s.rows_received, coalesce(l.rows, 0), coalesce(q.rows, 0)
FROM {in_periods('submissions')} s
LEFT JOIN loaded l USING (la_code, period) LEFT JOIN quarantined q USING (la_code, period)
WHERE s.status = 'loaded'
"""

# Cases that lack a row for some indicator, or have one twice.
INCOMPLETE_CASES_SQL = f"""
SELECT c.la_code, c.period, c.case_key, count(ci.indicator_id) AS rows, count(DISTINCT ci.indicator_id) AS ids
FROM {in_periods('cases')} c LEFT JOIN {in_periods('case_indicators')} ci USING (la_code, period, case_key)
GROUP BY ALL HAVING count(ci.indicator_id) <> $2 OR count(DISTINCT ci.indicator_id) <> $2
"""

# Rates whose numerator or denominator differ from a recount of case_indicators and context_indicators
# (an indicator of a unit the pack has none of keeps a rate row of 0 out of 0).
RATE_MISMATCH_SQL = f"""
SELECT r.la_code, r.period, r.indicator_id
FROM {in_periods('indicator_rates')} r
FULL JOIN (SELECT la_code, period, indicator_id,
                  count(*) FILTER (WHERE applicable AND met) AS numerator,
                  count(*) FILTER (WHERE applicable) AS denominator
           FROM {in_periods('unit_indicators')} GROUP BY ALL) ci USING (la_code, period, indicator_id)
WHERE r.la_code IS NULL OR (r.numerator, r.denominator) IS DISTINCT FROM
      (coalesce(ci.numerator, 0), coalesce(ci.denominator, 0))
"""


def unreconciled_packs(con: duckdb.DuckDBPyConnection, periods: list[str] | None = None) -> list[tuple]:
    rows = con.execute(UNRECONCILED_PACKS_SQL, [periods]).fetchall()
    return [row for row in rows if row[2] != row[3] + row[4]]


def incomplete_cases(con: duckdb.DuckDBPyConnection, indicator_count: int,
                     periods: list[str] | None = None) -> list[tuple]:
    return con.execute(INCOMPLETE_CASES_SQL, [periods, indicator_count]).fetchall()


def rate_mismatches(con: duckdb.DuckDBPyConnection, periods: list[str] | None = None) -> list[tuple]:
    return con.execute(RATE_MISMATCH_SQL, [periods]).fetchall()


def heavily_quarantined_packs(con: duckdb.DuckDBPyConnection, packs: list[tuple[str, str]],
                              max_share: float) -> list[tuple[str, str, float]]:
    """Packs (of those given) that lost more than `max_share` of their rows to quarantine."""
    if not packs:
        return []
    rows = con.execute(f"""
        SELECT la_code, period, rows_quarantined / rows_received AS share FROM submissions
        WHERE status = 'loaded' AND rows_received > 0 AND {PACK_SCOPE}
        ORDER BY ALL""", [pack_keys(packs)]).fetchall()
    return [(la, period, share) for la, period, share in rows if share > max_share]
