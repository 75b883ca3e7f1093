"""Reconciliation rules over the warehouse: plain functions returning what failed, so they can be
tested without Dagster and shown as asset checks in it."""

from __future__ import annotations

import duckdb

from assets.reading import pack_keys
from assets.warehouse import PACK_SCOPE

# Packs whose rows received do not equal rows loaded plus rows quarantined.
UNRECONCILED_PACKS_SQL = """
SELECT s.la_code, s.period, s.rows_received,
       (SELECT count(*) FROM cases c WHERE c.la_code = s.la_code AND c.period = s.period)
     + (SELECT count(*) FROM meetings m WHERE m.la_code = s.la_code AND m.period = s.period)
     + (SELECT count(*) FROM actions a WHERE a.la_code = s.la_code AND a.period = s.period) AS rows_loaded,
       (SELECT count(*) FROM (SELECT DISTINCT table_name, row_number FROM quarantine q
                              WHERE q.la_code = s.la_code AND q.period = s.period)) AS rows_quarantined
FROM submissions s WHERE s.status = 'loaded'
"""

# Cases that lack a row for some indicator, or have one twice.
INCOMPLETE_CASES_SQL = """
SELECT c.la_code, c.period, c.case_key, count(ci.indicator_id) AS rows, count(DISTINCT ci.indicator_id) AS ids
FROM cases c LEFT JOIN case_indicators ci USING (la_code, period, case_key)
GROUP BY ALL HAVING count(ci.indicator_id) <> $1 OR count(DISTINCT ci.indicator_id) <> $1
"""

# Rates whose numerator or denominator differ from a recount of case_indicators.
RATE_MISMATCH_SQL = """
SELECT r.la_code, r.period, r.indicator_id
FROM indicator_rates r
FULL JOIN (SELECT la_code, period, indicator_id,
                  count(*) FILTER (WHERE applicable AND met) AS numerator,
                  count(*) FILTER (WHERE applicable) AS denominator
           FROM case_indicators GROUP BY ALL) ci USING (la_code, period, indicator_id)
WHERE r.numerator IS DISTINCT FROM ci.numerator OR r.denominator IS DISTINCT FROM ci.denominator
"""


def unreconciled_packs(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    rows = con.execute(UNRECONCILED_PACKS_SQL).fetchall()
    return [row for row in rows if row[2] != row[3] + row[4]]


def incomplete_cases(con: duckdb.DuckDBPyConnection, indicator_count: int) -> list[tuple]:
    return con.execute(INCOMPLETE_CASES_SQL, [indicator_count]).fetchall()


def rate_mismatches(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(RATE_MISMATCH_SQL).fetchall()


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
