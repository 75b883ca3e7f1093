"""Agreement statistics for multi-agency case audits: how far the agencies auditing the same cases
agree with one another, and how far their moderated judgements agree with what the data says.
Pure functions over numbers with numpy, written out here (no statistics package is called).

What each is for:
- Krippendorff's alpha: agreement among the agencies (the raters) on one audit question across the
  cases they audited (the units), with missing answers allowed; ordinal by default, for grades.
- Spearman's rho and the concordant share: a framework domain's moderated judgement (the grade
  mean) against the case's data, as a rank correlation and as the share of cases on the same side
  of two cuts (config/audit_tool.yaml's `good_enough`: a grade mean at least "good" against a
  domain score of at least 0.5).

Methods:
- Krippendorff's alpha: Krippendorff K. (2011) "Computing Krippendorff's Alpha-Reliability",
  Annenberg School for Communication, University of Pennsylvania (https://repository.upenn.edu/asc_papers/43):
  the coincidence matrix of the values in units with at least two values, its marginals n_c, and the
  difference functions delta² for nominal, ordinal, interval and ratio data; alpha = 1 − D_o / D_e.
- Spearman's rho: the Pearson correlation of the ranks, tied values taking the mean of the ranks they
  span (Spearman C. (1904) "The proof and measurement of association between two things", American
  Journal of Psychology 15:72-101), with the average-rank treatment of ties of Kendall M.G. (1948)
  "Rank Correlation Methods"."""

from __future__ import annotations

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def coincidences(data) -> tuple[np.ndarray, np.ndarray]:
    """The values present and their coincidence matrix o_ck (Krippendorff 2011), from a raters x units
    matrix with NaN or None for a missing value.

    Each unit u with m_u >= 2 values contributes, for every ordered pair of its values from different
    raters, 1 / (m_u − 1) to o_ck; units with fewer than two values are not pairable and are dropped,
    and so are values found only in them. The marginals n_c = sum_k o_ck add up to n, the number of
    pairable values. Returns (values in ascending order, o) with o of shape (len(values), len(values))."""
    matrix = _reliability_matrix(data)
    present = ~np.isnan(matrix)
    pairable = present.sum(axis=0) >= 2
    matrix = matrix[:, pairable]
    values = np.unique(matrix[~np.isnan(matrix)])
    if values.size == 0:
        return values, np.zeros((0, 0))
    # counts[u, c]: how many raters gave unit u the value c.
    counts = (matrix.T[:, :, np.newaxis] == values[np.newaxis, np.newaxis, :]).sum(axis=1).astype(float)
    weights = 1.0 / (counts.sum(axis=1) - 1.0)
    pairs = counts.T @ (counts * weights[:, np.newaxis])
    return values, pairs - np.diag(counts.T @ weights)


def krippendorff_alpha(data, level: str = "ordinal") -> float:
    """Krippendorff's alpha for a raters x units matrix (the "reliability data" of Krippendorff 2011):
    one row per rater, one column per unit, NaN or None where a rater gave no value.

    alpha = 1 − D_o / D_e, with D_o = (1/n) sum_ck o_ck delta²_ck and
    D_e = (1 / (n(n − 1))) sum_ck n_c n_k delta²_ck over the coincidence matrix (see `coincidences`).
    delta² by level:
    - nominal: 0 when c = k, else 1;
    - ordinal: ((sum of n_g for g from c to k) − (n_c + n_k) / 2)², over the values actually present
      in pairable units in ascending order (so a grade nobody gave takes no rank);
    - interval: (c − k)²;
    - ratio: ((c − k) / (c + k))², 0 where c + k = 0.

    Choices where the paper is silent: units with fewer than two values are dropped (they hold no
    pair); the result is NaN when alpha is undefined: fewer than two pairable values overall (no unit
    has two values, or there are no data), or D_e = 0 (every pairable value is the same, so there is
    no variation to agree on). A negative alpha (disagreement beyond chance) is returned as it is."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    values, o = coincidences(data)
    marginals = o.sum(axis=1)
    n = marginals.sum()
    if n < 2:
        return float("nan")
    delta = _delta_squared(values, marginals, level)
    expected = (np.outer(marginals, marginals) * delta).sum() / (n * (n - 1))
    if expected == 0:
        return float("nan")
    observed = (o * delta).sum() / n
    return float(1.0 - observed / expected)


def _reliability_matrix(data) -> np.ndarray:
    matrix = np.array(data, dtype=float)  # None becomes NaN
    if matrix.size == 0:
        return np.zeros((0, 0))
    if matrix.ndim != 2:
        raise ValueError(f"reliability data must be raters x units (2-d), not of shape {matrix.shape}")
    return matrix


def _delta_squared(values: np.ndarray, marginals: np.ndarray, level: str) -> np.ndarray:
    c, k = values[:, np.newaxis], values[np.newaxis, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        total = c + k
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total != 0, ((c - k) / np.where(total != 0, total, 1.0)) ** 2, 0.0)
    # ordinal: sum of n_g from the lower value's index i to the higher's j, less half of each end.
    cumulative = np.concatenate(([0.0], np.cumsum(marginals)))
    index = np.arange(len(values))
    low = np.minimum(index[:, np.newaxis], index[np.newaxis, :])
    high = np.maximum(index[:, np.newaxis], index[np.newaxis, :])
    between = cumulative[high + 1] - cumulative[low]
    return (between - (marginals[low] + marginals[high]) / 2) ** 2


def _present_pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
    a = np.array(x, dtype=float).ravel()
    b = np.array(y, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same length, not {a.size} and {b.size}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n, tied values each taking the mean of the ranks they span (NaN not allowed)."""
    a = np.asarray(values, dtype=float).ravel()
    order = np.argsort(a, kind="mergesort")
    ordered = a[order]
    starts_group = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.concatenate((starts[1:], [a.size]))  # one past each group's last position
    ranks = np.empty(a.size)
    ranks[order] = ((starts + 1 + ends) / 2)[group]
    return ranks


def spearman_rho(x, y) -> float:
    """Spearman's rank correlation: the Pearson correlation of the average ranks of x and of y.

    Pairs where either value is missing (NaN or None) are dropped first. NaN when fewer than two pairs
    remain or when either variable is constant over them (its ranks do not vary)."""
    a, b = _present_pairs(x, y)
    if a.size < 2:
        return float("nan")
    ra, rb = average_ranks(a), average_ranks(b)
    da, db = ra - ra.mean(), rb - rb.mean()
    spread = (da * da).sum() * (db * db).sum()
    if spread == 0:
        return float("nan")
    return float(np.clip((da * db).sum() / np.sqrt(spread), -1.0, 1.0))


def concordant_share(judgement, data, judgement_cut: float, data_cut: float) -> float:
    """Share of cases on the same side of both cuts: the judgement at least `judgement_cut` and the
    data at least `data_cut`, or both below. Cases missing either value are dropped; NaN when none
    remain."""
    a, b = _present_pairs(judgement, data)
    if a.size == 0:
        return float("nan")
    return float(np.mean((a >= judgement_cut) == (b >= data_cut)))
