"""Whether a rate changed clearly between two quarters: the one rule the overview's "What changed"
table and the headlines page both use."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from assets.scoring import Indicator
from assets.statistics import difference_interval


@dataclass(frozen=True)
class Change:
    points: str  # the change in percentage points, or the symbol saying why there is none
    verdict: str  # "better", "worse", "no clear change" or "" (cannot say)

    def words(self) -> str:
        if self.verdict in ("better", "worse"):
            return f"clear change: {self.verdict}"
        return self.verdict or "cannot say: a rate is not available"

    @property
    def clear(self) -> bool:
        return self.verdict in ("better", "worse")


def rate_change(indicator: Indicator, before: dict | None, now: dict | None) -> Change:
    """The change between two quarters' published rates, called clear when the 95% interval of the
    difference leaves out 0 (assets/statistics.py:difference_interval), and then better or worse by
    the indicator's direction. Only published rates are compared: a change from a hidden rate
    would give the rate away."""
    if before is None or now is None or before.get("not_available") or now.get("not_available"):
        return Change("[x]", "")
    if before["rate_suppressed"] or now["rate_suppressed"]:
        return Change("[c]", "")
    if pd.isna(before["rate"]) or pd.isna(now["rate"]):
        return Change("[z]", "")
    points = 100 * (now["rate"] - before["rate"])
    low, high = difference_interval((before["rate"], before["ci_low"], before["ci_high"]),
                                    (now["rate"], now["ci_low"], now["ci_high"]))
    if low > 0 or high < 0:
        better = (points > 0) == (indicator.direction == "higher")
        return Change(f"{points:+.1f}", "better" if better else "worse")
    return Change(f"{points:+.1f}", "no clear change")
