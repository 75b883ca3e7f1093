"""Statistics for scoring and for publishing: Wilson intervals, funnel plot control limits and
statistical process control (SPC) for proportions. Pure functions over numbers, vectorised with
numpy, used by the data layer (rates) and the dashboards alike.

Methods (docs/methods.md says more):
- Wilson score interval: Wilson (1927), as in the Office for Health Improvement and Disparities'
  public health technical guidance ("Confidence intervals for proportions").
- The difference between two proportions: Newcombe (1998), "Interval estimation for the difference
  between independent proportions", Statistics in Medicine 17:873-890, method 10 (the hybrid score
  interval built from each proportion's Wilson interval). A change is clear when this interval
  leaves out 0, which is less conservative than asking that the two Wilson intervals not overlap.
- Funnel plot limits: Spiegelhalter (2005), "Funnel plots for comparing institutional
  performance", Statistics in Medicine 24:1185-1202, exact binomial limits with the interpolation of
  its appendix A.1.1, so limits are smooth in the denominator; for rates of events per person
  (per 10,000 children), exact Poisson limits interpolated the same way (its A.1.2).
- SPC: a p-chart as in NHS England's "Making Data Count": centre line the pooled proportion,
  process limits at three sigma for each point's own denominator; special cause when a point is
  outside the limits, when a run of 7 points sits on one side of the centre line, or when 7
  points in a row rise (or fall)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, norm, poisson

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution
FUNNEL_LEVELS = (0.95, 0.998)
RUN_LENGTH = 7
TREND_LENGTH = 7


def wilson_interval(numerator, denominator, z: float = Z95):
    """Rate and Wilson score interval: (2k + z² ± z·sqrt(z² + 4k(1 − k/n))) / (2(n + z²)).

    Defined at 0 and at n; where the denominator is 0 every output is NaN.
    Returns (rate, lower, upper) as float arrays."""
    k = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        centre = 2 * k + z**2
        spread = z * np.sqrt(z**2 + 4 * k * (1 - p))
        denom = 2 * (n + z**2)
        lower = np.where(n > 0, (centre - spread) / denom, np.nan)
        upper = np.where(n > 0, (centre + spread) / denom, np.nan)
    # Exact at the boundaries, where rounding could otherwise leave 1e-17 outside [0, 1].
    lower = np.where((k == 0) & (n > 0), 0.0, lower)
    upper = np.where((k == n) & (n > 0), 1.0, upper)
    return p, lower, upper


def difference_interval(before: tuple[float, float, float], after: tuple[float, float, float]) -> tuple[float, float]:
    """The 95% interval of after - before, two independent proportions each given as (rate, lower,
    upper) with its Wilson interval (Newcombe 1998, method 10)."""
    (p1, l1, u1), (p2, l2, u2) = before, after
    difference = p2 - p1
    return (difference - float(np.hypot(p2 - l2, u1 - p1)), difference + float(np.hypot(u2 - p2, p1 - l1)))


def funnel_limits(target: float, denominators, level: float):
    """Lower and upper control limits for a proportion around `target` at coverage `level`, for
    each denominator: exact binomial quantiles, interpolated (Spiegelhalter 2005, A.1.1)."""
    n = np.asarray(denominators, dtype=float)
    if not 0 < target < 1:
        flat = np.full(n.shape, float(target))
        return flat, flat
    tail = (1 - level) / 2

    def limit(p):
        r = binom.ppf(p, n, target)  # smallest r with P(R <= r) >= p
        above = binom.cdf(r, n, target)
        below = binom.cdf(r - 1, n, target)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(above > below, (above - p) / (above - below), 0.0)
        return np.clip((r - alpha) / n, 0.0, 1.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        return limit(tail), limit(1 - tail)


def funnel_flags(numerators, denominators, target: float, level: float = 0.998) -> np.ndarray:
    """-1 below the lower limit, +1 above the upper limit, 0 inside (or no denominator)."""
    k = np.asarray(numerators, dtype=float)
    n = np.asarray(denominators, dtype=float)
    low, high = funnel_limits(target, n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, k / n, np.nan)
    return np.where(n > 0, np.where(rate < low, -1, np.where(rate > high, 1, 0)), 0)


@dataclass
class SpcResult:
    centre: float
    lower: np.ndarray
    upper: np.ndarray
    rate: np.ndarray
    outside: np.ndarray  # -1 below the lower process limit, +1 above the upper, 0 inside
    run: np.ndarray  # -1 / +1 where the point is part of a run of RUN_LENGTH below / above the centre
    trend: np.ndarray  # -1 / +1 where the point is part of TREND_LENGTH falling / rising points
    signal: list  # per point: "improvement", "concern" or ""

    def rules(self, i: int) -> list[str]:
        """The special-cause rules point i triggers, in plain words."""
        names = []
        if self.outside[i]:
            names.append("outside the process limits")
        if self.run[i]:
            names.append(f"run of {RUN_LENGTH} {'above' if self.run[i] > 0 else 'below'} the mean")
        if self.trend[i]:
            names.append(f"{TREND_LENGTH} {'rising' if self.trend[i] > 0 else 'falling'} in a row")
        return names


def p_chart(numerators, denominators, direction: str = "higher", sigma: float = 3.0) -> SpcResult:
    """A p-chart over a series (quarters in order) with the three special-cause rules, each signal
    labelled improvement or concern from the indicator's direction ("higher" or "lower")."""
    k = np.asarray(numerators, dtype=float)
    n = np.asarray(denominators, dtype=float)
    total = n.sum()
    centre = k.sum() / total if total > 0 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, k / n, np.nan)
        spread = sigma * np.sqrt(centre * (1 - centre) / n)
    lower = np.clip(centre - spread, 0.0, 1.0)
    upper = np.clip(centre + spread, 0.0, 1.0)
    valid = n > 0
    outside = np.where(valid & (rate > upper), 1, np.where(valid & (rate < lower), -1, 0))
    side = np.where(valid & (rate > centre), 1, np.where(valid & (rate < centre), -1, 0))
    run = _runs(side, RUN_LENGTH)
    steps = np.sign(np.diff(rate))
    steps = np.where(np.isnan(steps), 0, steps).astype(int)
    trend = _trend(steps, TREND_LENGTH)
    better = 1 if direction == "higher" else -1
    signal = []
    for i in range(len(k)):
        marks = [m for m in (outside[i], run[i], trend[i]) if m]
        if not marks:
            signal.append("")
        else:
            # A point can take part in opposite patterns; the most recent rule's sense wins the label.
            signal.append("improvement" if marks[-1] == better else "concern")
    return SpcResult(centre, lower, upper, rate, outside, run, trend, signal)


def _runs(side: np.ndarray, length: int) -> np.ndarray:
    """Mark every point of each run of `length` or more consecutive points on one side (0 breaks)."""
    marks = np.zeros(len(side), dtype=int)
    start = 0
    for i in range(1, len(side) + 1):
        if i == len(side) or side[i] != side[start]:
            if side[start] != 0 and i - start >= length:
                marks[start:i] = side[start]
            start = i
    return marks


def _trend(steps: np.ndarray, length: int) -> np.ndarray:
    """Mark points in a sequence of `length` or more points each higher (or lower) than the one
    before; a flat step breaks the sequence. `steps` has one fewer element than the series."""
    marks = np.zeros(len(steps) + 1, dtype=int)
    start = 0
    for i in range(1, len(steps) + 1):
        if i == len(steps) or steps[i] != steps[start]:
            if steps[start] != 0 and (i - start) + 1 >= length:
                marks[start:i + 1] = steps[start]
            start = i
    return marks


def normal_funnel_limits(target: float, denominators, level: float):
    """The normal approximation to the funnel limits, target ± z·sqrt(target(1 − target)/n), for
    comparison with the exact limits (they converge as n grows)."""
    n = np.asarray(denominators, dtype=float)
    z = norm.ppf(1 - (1 - level) / 2)
    spread = z * np.sqrt(target * (1 - target) / n)
    return np.clip(target - spread, 0, 1), np.clip(target + spread, 0, 1)


def poisson_funnel_limits(rate, populations, level: float):
    """Lower and upper control limits for a rate (events per person) around `rate` at coverage
    `level`, for each population n: exact Poisson quantiles of the expected count rate·n,
    interpolated as the binomial limits are (Spiegelhalter 2005, A.1.2), divided by n. For counts
    of events in a population (episodes, plans) rather than of cases out of a known total."""
    n = np.asarray(populations, dtype=float)
    mean = np.asarray(rate, dtype=float) * n
    tail = (1 - level) / 2

    def limit(p):
        r = poisson.ppf(p, mean)  # smallest r with P(R <= r) >= p
        above = poisson.cdf(r, mean)
        below = poisson.cdf(r - 1, mean)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(above > below, (above - p) / (above - below), 0.0)
            return np.where(n > 0, np.clip(r - alpha, 0.0, None) / n, np.nan)

    return limit(tail), limit(1 - tail)
