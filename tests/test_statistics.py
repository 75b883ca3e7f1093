"""Statistics pinned to reference values.

Wilson: Newcombe R.G. (1998) "Two-sided confidence intervals for the single proportion: comparison
of seven methods", Statistics in Medicine 17:857-872, table I (method 3, the score interval), the
worked examples also used by OHID's public health technical guidance; our values are pinned to
1e-9 against the closed form evaluated in 50-digit decimal arithmetic here, and to Newcombe's
published four decimals.
Funnel limits: Spiegelhalter D.J. (2005) "Funnel plots for comparing institutional performance",
Statistics in Medicine 24:1185-1202, appendix A.1.1, worked by hand below for n = 10, p = 0.5.
SPC: NHS England "Making Data Count" rules, on series built to trigger each rule and series that
must not."""

from __future__ import annotations

from decimal import Decimal, getcontext

import numpy as np
import pytest
from scipy.stats import binomtest

from assets.statistics import Z95, funnel_flags, funnel_limits, normal_funnel_limits, p_chart, wilson_interval

getcontext().prec = 50


def wilson_by_hand(k: int, n: int) -> tuple[Decimal, Decimal]:
    z = Decimal(repr(Z95))
    k_, n_ = Decimal(k), Decimal(n)
    p = k_ / n_
    root = (z * z + 4 * k_ * (1 - p)).sqrt()
    denominator = 2 * (n_ + z * z)
    return (2 * k_ + z * z - z * root) / denominator, (2 * k_ + z * z + z * root) / denominator


NEWCOMBE = [  # k, n, published lower, published upper (Newcombe 1998, table I, method 3)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("k,n,low,high", NEWCOMBE)
def test_wilson_matches_newcombe_and_the_closed_form(k, n, low, high):
    rate, lower, upper = wilson_interval([k], [n])
    assert rate[0] == k / n
    assert lower[0] == pytest.approx(low, abs=5e-5) and upper[0] == pytest.approx(high, abs=5e-5)
    exact_low, exact_high = wilson_by_hand(k, n)
    assert abs(lower[0] - float(exact_low)) < 1e-9 and abs(upper[0] - float(exact_high)) < 1e-9
    # An independent implementation agrees too.
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert abs(lower[0] - ci.low) < 1e-9 and abs(upper[0] - ci.high) < 1e-9


def test_wilson_is_defined_at_zero_and_n_and_empty_at_no_denominator():
    rate, lower, upper = wilson_interval([0, 7, 0], [7, 7, 0])
    assert (lower[0], rate[0]) == (0.0, 0.0) and upper[1] == 1.0 and rate[1] == 1.0
    assert abs(upper[0] - float(wilson_by_hand(0, 7)[1])) < 1e-9
    assert np.isnan(rate[2]) and np.isnan(lower[2]) and np.isnan(upper[2])


def test_funnel_limits_match_the_hand_worked_exact_binomial_example():
    # Binomial(10, 0.5): P(R<=1) = 11/1024, P(R<=2) = 56/1024, P(R<=7) = 968/1024, P(R<=8) = 1013/1024.
    # Lower 95%: r = 2, alpha = (56/1024 - 0.025) / (45/1024) -> limit (2 - alpha) / 10.
    # Upper 95%: r = 8, alpha = (1013/1024 - 0.975) / (45/1024) -> limit (8 - alpha) / 10.
    lower_alpha = (56 / 1024 - 0.025) / (45 / 1024)
    upper_alpha = (1013 / 1024 - 0.975) / (45 / 1024)
    low, high = funnel_limits(0.5, [10], 0.95)
    assert abs(low[0] - (2 - lower_alpha) / 10) < 1e-9
    assert abs(high[0] - (8 - upper_alpha) / 10) < 1e-9
    assert abs(low[0] - 0.13244444444444445) < 1e-9


def test_funnel_limits_narrow_with_n_and_approach_the_normal_approximation():
    n = np.array([20, 100, 1000, 100000])
    low95, high95 = funnel_limits(0.3, n, 0.95)
    low998, high998 = funnel_limits(0.3, n, 0.998)
    assert (np.diff(high95) < 0).all() and (np.diff(low95) > 0).all()
    assert (low998 < low95).all() and (high998 > high95).all()
    normal_low, normal_high = normal_funnel_limits(0.3, n, 0.998)
    assert abs(low998[-1] - normal_low[-1]) < 1e-3 and abs(high998[-1] - normal_high[-1]) < 1e-3


def test_funnel_flags_mark_only_points_outside_the_widest_limits():
    flags = funnel_flags([50, 80, 20, 0], [100, 100, 100, 0], target=0.5)
    assert flags.tolist() == [0, 1, -1, 0]


def series(rates, n=100):
    return [round(r * n) for r in rates], [n] * len(rates)


def test_spc_point_outside_the_limits():
    k, n = series([0.45, 0.65] * 4 + [0.45, 0.95])
    chart = p_chart(k, n, "higher")
    assert chart.outside.tolist() == [0] * 9 + [1]
    assert chart.signal[-1] == "improvement" and chart.signal[:9] == [""] * 9
    assert chart.rules(9) == ["outside the process limits"]
    assert p_chart(k, n, "lower").signal[-1] == "concern"
    # Centre 580/1000; limits 0.58 +- 3 sqrt(0.58 x 0.42 / 100) = [0.4319, 0.7281]: 0.45 and 0.65 inside.
    assert chart.centre == pytest.approx(0.58, abs=1e-12)
    assert chart.upper[0] == pytest.approx(0.58 + 3 * np.sqrt(0.58 * 0.42 / 100), abs=1e-12)
    assert chart.lower[0] == pytest.approx(0.58 - 3 * np.sqrt(0.58 * 0.42 / 100), abs=1e-12)


def test_spc_run_of_seven_on_one_side():
    k, n = series([0.55] * 7 + [0.45] * 7)
    chart = p_chart(k, n, "higher")
    assert chart.run.tolist() == [1] * 7 + [-1] * 7
    assert chart.signal == ["improvement"] * 7 + ["concern"] * 7
    assert not chart.outside.any()


def test_spc_six_on_one_side_is_not_a_run():
    k, n = series([0.55] * 6 + [0.45] + [0.55] * 6 + [0.45])
    chart = p_chart(k, n, "higher")
    assert not chart.run.any() and chart.signal == [""] * 14


def test_spc_seven_rising_is_a_trend_and_six_is_not():
    rising = p_chart(*series([0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.52]), "higher")
    assert rising.trend.tolist() == [1] * 7 and rising.signal == ["improvement"] * 7
    assert rising.rules(3) == ["7 rising in a row"]
    falling = p_chart(*series([0.52, 0.50, 0.48, 0.46, 0.44, 0.42, 0.40]), "higher")
    assert falling.trend.tolist() == [-1] * 7 and set(falling.signal) == {"concern"}
    short = p_chart(*series([0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.49]), "higher")
    assert not short.trend.any()
    flat_break = p_chart(*series([0.40, 0.42, 0.44, 0.44, 0.46, 0.48, 0.50, 0.52]), "higher")
    assert not flat_break.trend.any()


def test_spc_skips_quarters_with_no_denominator():
    chart = p_chart([5, 0, 6], [10, 0, 10], "higher")
    assert np.isnan(chart.rate[1]) and chart.centre == pytest.approx(11 / 20)
    assert chart.signal == ["", "", ""]
