"""Shared contexts and networks: per pack, the bipartite graph of cases and the contexts they are
linked to (case_contexts). A context linked to two or more cases is shared; a network is a
connected component of the graph with two or more cases, its size the number of its cases. Only
counts are kept (context_networks), never a list of contexts or cases.

A pack without contexts (a v1 pack, whose submission has no contexts table) gets no row, so the
publication says "not available" for it; a pack that carried a contexts table gets a row, of
zeros if it had no contexts.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from assets.warehouse import PACK_SCOPE

# Network sizes (cases) are counted in these bands: (column, smallest, largest).
SIZE_BANDS = (("networks_2", 2, 2), ("networks_3_5", 3, 5), ("networks_6_10", 6, 10),
              ("networks_11_plus", 11, None))
COUNT_COLUMNS = ("contexts", "shared_contexts", "cases_linked", "cases_sharing", "networks",
                 *(band for band, _, _ in SIZE_BANDS), "cases_in_networks", "cases_in_assessed_networks")


def network_of_each_case(con: duckdb.DuckDBPyConnection, keys: list[str] | None) -> pd.DataFrame:
    """(la_code, period, case_key, network) for every case linked to a context in the packs in
    scope: `network` numbers the connected components of the case-context graph of all those packs
    at once. Nodes are numbered per pack, so the graphs of two packs never touch."""
    edges = con.execute(f"""
        WITH links AS (SELECT DISTINCT la_code, period, case_key, context_key FROM case_contexts WHERE {PACK_SCOPE}),
             cases AS (SELECT la_code, period, case_key,
                              row_number() OVER (ORDER BY la_code, period, case_key) - 1 AS node
                       FROM (SELECT DISTINCT la_code, period, case_key FROM links)),
             contexts AS (SELECT la_code, period, context_key, (SELECT count(*) FROM cases)
                                 + row_number() OVER (ORDER BY la_code, period, context_key) - 1 AS node
                          FROM (SELECT DISTINCT la_code, period, context_key FROM links))
        SELECT ca.la_code, ca.period, ca.case_key, ca.node AS case_node, co.node AS context_node
        FROM links l JOIN cases ca USING (la_code, period, case_key)
        JOIN contexts co USING (la_code, period, context_key)
        """, [keys]).df()
    if edges.empty:
        return pd.DataFrame({"la_code": pd.Series([], dtype=str), "period": pd.Series([], dtype=str),
                             "case_key": pd.Series([], dtype=str), "network": pd.Series([], dtype="int64")})
    nodes = int(max(edges["case_node"].max(), edges["context_node"].max())) + 1
    graph = coo_matrix((np.ones(len(edges)), (edges["case_node"], edges["context_node"])), shape=(nodes, nodes))
    _, labels = connected_components(graph, directed=False)
    cases = edges.drop_duplicates("case_node")
    return pd.DataFrame({"la_code": cases["la_code"], "period": cases["period"], "case_key": cases["case_key"],
                         "network": labels[cases["case_node"].to_numpy()]})


def write_networks(con: duckdb.DuckDBPyConnection, assessed_by: str, keys: list[str] | None) -> None:
    """context_networks for the packs in scope, once their context indicators are written (inside
    `score`'s transaction, which has emptied their rows). `assessed_by` is the context indicator
    that says a context was assessed (config/indicators.yaml `networks`)."""
    con.register("case_networks", network_of_each_case(con, keys))
    bands = ", ".join(f"count(*) FILTER (WHERE cases >= {low}{f' AND cases <= {high}' if high else ''}) AS {band}"
                      for band, low, high in SIZE_BANDS)
    try:
        con.execute(f"""
            INSERT INTO context_networks BY NAME
            WITH packs AS (
                    SELECT la_code, period FROM submissions WHERE status = 'loaded' AND has_contexts AND {PACK_SCOPE}
                    UNION SELECT la_code, period FROM contexts WHERE {PACK_SCOPE}),
                 links AS (SELECT DISTINCT la_code, period, case_key, context_key FROM case_contexts
                           WHERE {PACK_SCOPE}),
                 sharing AS (SELECT la_code, period, context_key, count(*) AS cases FROM links GROUP BY ALL),
                 shared AS (SELECT s.*, coalesce(ci.met, false) AS assessed FROM sharing s
                            LEFT JOIN context_indicators ci ON ci.la_code = s.la_code AND ci.period = s.period
                                 AND ci.context_key = s.context_key AND ci.indicator_id = $2
                            WHERE s.cases >= 2),
                 networks AS (
                    SELECT n.la_code, n.period, n.network, count(DISTINCT n.case_key) AS cases,
                           bool_and(coalesce(sh.assessed, true)) AS assessed
                    FROM case_networks n JOIN links l USING (la_code, period, case_key)
                    LEFT JOIN shared sh USING (la_code, period, context_key)
                    GROUP BY ALL HAVING count(DISTINCT n.case_key) >= 2),
                 per_pack AS (
                    SELECT la_code, period, count(*) AS networks, {bands}, sum(cases) AS cases_in_networks,
                           sum(cases) FILTER (WHERE assessed) AS cases_in_assessed_networks
                    FROM networks GROUP BY ALL)
            SELECT p.la_code, p.period,
                   (SELECT count(*) FROM contexts c WHERE c.la_code = p.la_code AND c.period = p.period) AS contexts,
                   (SELECT count(*) FROM shared s WHERE s.la_code = p.la_code AND s.period = p.period)
                       AS shared_contexts,
                   (SELECT count(DISTINCT case_key) FROM links l WHERE l.la_code = p.la_code AND l.period = p.period)
                       AS cases_linked,
                   (SELECT count(DISTINCT l.case_key) FROM links l JOIN shared s USING (la_code, period, context_key)
                    WHERE l.la_code = p.la_code AND l.period = p.period) AS cases_sharing,
                   {', '.join(f'coalesce(n.{c}, 0) AS {c}' for c in COUNT_COLUMNS[4:])}
            FROM packs p LEFT JOIN per_pack n USING (la_code, period)""", [keys, assessed_by])
    finally:
        con.unregister("case_networks")


def pooled_networks(con: duckdb.DuckDBPyConnection, periods: list[str] | None = None) -> pd.DataFrame:
    """context_networks pooled per partnership quarter (period), with `packs` the number of packs
    that carried contexts. Context and case keys are pseudonyms per LA, so the graphs of two LAs
    never share a node: every count of the partnership's quarter is the sum of its LAs' counts,
    exactly. A quarter in which no pack carried contexts has no row (not available)."""
    sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in COUNT_COLUMNS)
    return con.execute(f"""
        SELECT period, count(*) AS packs, {sums} FROM context_networks
        WHERE $1 IS NULL OR period IN (SELECT unnest($1)) GROUP BY period ORDER BY period""", [periods]).df()
