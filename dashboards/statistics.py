"""Statistics for publishing. Pure functions over numbers, vectorised with numpy."""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution


def wilson_interval(numerator, denominator, z: float = Z95):
    """Rate and Wilson score interval (Wilson 1927), as in OHID's public health technical guidance.

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
    lower = np.where(k == 0, 0.0, lower)
    upper = np.where((k == n) & (n > 0), 1.0, upper)
    return p, lower, upper
