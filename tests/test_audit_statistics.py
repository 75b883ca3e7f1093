"""Agreement statistics pinned to reference values.

Krippendorff's alpha: the worked example of Krippendorff K. (2011) "Computing Krippendorff's
Alpha-Reliability" (4 observers x 12 units, missing values): pinned to 1e-9 against the independent
implementation in the `krippendorff` package (0.9.0) at every level, and to three decimals against the
paper: nominal .743 and interval .849 as the paper reports them, ordinal .815 and ratio .797 as that
package's own tests give them for the same example, from the same paper. The coincidence matrix and
the nominal alpha (113/152) are also worked by hand below. Random grade matrices are checked against
the package too.
Spearman's rho: against scipy.stats.spearmanr on random data with ties, and a small example worked by
hand. Edge cases: where each statistic is undefined, and where it takes its extreme values."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from scipy.stats import spearmanr

from assets.audit_statistics import (
    average_ranks,
    coincidences,
    concordant_share,
    krippendorff_alpha,
    spearman_rho,
)

_ = None
# Krippendorff (2011), the example for any number of observers with missing data: observers A-D
# (rows) x units 1-12 (columns).
WORKED = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]
WORKED_DOMAIN = [1, 2, 3, 4, 5]
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
GRADES = [1, 2, 3, 4]


def reference_alpha(data, level, domain):
    """The `krippendorff` package's alpha; it takes raters x units (reliability_data) as we do, and its
    ordinal metric runs over value_domain, so the domain is passed explicitly."""
    matrix = np.array(data, dtype=float)
    return float(krippendorff.alpha(reliability_data=matrix, value_domain=domain, level_of_measurement=level))


def random_grades(rng, missing: float = 0.3) -> np.ndarray:
    """Grades 1-4 from 2-6 raters on 4-30 units: each rater gives the unit's own grade with a chance
    drawn per matrix (so agreement runs from chance to near perfect), else any grade."""
    raters, units = int(rng.integers(2, 7)), int(rng.integers(4, 31))
    own = rng.integers(1, 5, size=units)
    agrees = rng.random((raters, units)) < rng.random()
    grades = np.where(agrees, own, rng.integers(1, 5, size=(raters, units))).astype(float)
    grades[rng.random((raters, units)) < missing] = np.nan
    return grades


def test_worked_example_coincidences_by_hand():
    # Each ordered pair of values from different observers in unit u adds 1 / (m_u − 1): 1/3 in units
    # 2-9 (4 values), 1/2 in units 1 and 10 (3 values), 1 in unit 11 (2 values); unit 12 has one value
    # and drops out. So o_11 = 3·2/2 (unit 1: 1,1,1) + 3·2/3 (unit 8: 1,1,2,1) + 2·1/1 (unit 11) = 7,
    # o_12 = 3·1/3 (unit 8) + 1·1/3 (unit 6: 1,2,3,4) = 4/3, o_55 = 3·2/2 (unit 10) = 3.
    third = 1 / 3
    expected = np.array([
        [7, 4 * third, third, third, 0],
        [4 * third, 10, 4 * third, third, 0],
        [third, 4 * third, 8, third, 0],
        [third, third, third, 4, 0],
        [0, 0, 0, 0, 3],
    ])
    values, o = coincidences(WORKED)
    np.testing.assert_array_equal(values, WORKED_DOMAIN)
    np.testing.assert_allclose(o, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(o.sum(axis=1), [9, 13, 10, 5, 3], atol=1e-12)  # n_c; n = 40 pairable values


def test_worked_example_nominal_by_hand():
    # D_o = (n − sum of the diagonal) / n = (40 − 32) / 40; D_e = (n² − sum n_c²) / (n(n − 1))
    # = (1600 − 384) / 1560; alpha = 1 − D_o / D_e = 113/152.
    assert krippendorff_alpha(WORKED, "nominal") == pytest.approx(113 / 152, abs=1e-12)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_worked_example_against_the_paper_and_the_package(level):
    ours = krippendorff_alpha(WORKED, level)
    assert ours == pytest.approx(reference_alpha(WORKED, level, WORKED_DOMAIN), abs=1e-9)
    assert round(ours, 3) == PUBLISHED[level]


def test_default_level_is_ordinal():
    assert krippendorff_alpha(WORKED) == krippendorff_alpha(WORKED, "ordinal")


@pytest.mark.parametrize("seed", range(25))
def test_random_grades_against_the_package(seed):
    rng = np.random.default_rng(20260 + seed)
    grades = random_grades(rng)
    if ((~np.isnan(grades)).sum(axis=0) >= 2).sum() == 0 or np.unique(grades[~np.isnan(grades)]).size < 2:
        grades[:, 0] = [1, 2] + [np.nan] * (grades.shape[0] - 2)  # keep the draw defined for the package
    for level in ("nominal", "ordinal", "interval"):
        ours = krippendorff_alpha(grades, level)
        theirs = reference_alpha(grades, level, GRADES)
        assert math.isnan(ours) == math.isnan(theirs)
        if not math.isnan(ours):
            assert ours == pytest.approx(theirs, abs=1e-9), level


def test_ordinal_uses_only_the_values_present():
    # Grades 1, 2 and 4 only: ordinal alpha is the same as for grades 1, 2, 3 (3 was never given).
    with_gap = [[1, 2, 4, 4, 1], [1, 2, 4, 2, 2]]
    closed = [[1, 2, 3, 3, 1], [1, 2, 3, 2, 2]]
    assert krippendorff_alpha(with_gap) == pytest.approx(krippendorff_alpha(closed), abs=1e-12)
    assert krippendorff_alpha(with_gap, "interval") != pytest.approx(krippendorff_alpha(closed, "interval"))


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_perfect_agreement_with_variation_is_one(level):
    assert krippendorff_alpha([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, _]], level) == 1.0


@pytest.mark.filterwarnings("error")  # undefined by design, not by a division by zero
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_one_value_only_is_undefined(level):
    assert math.isnan(krippendorff_alpha([[2, 2, 2], [2, 2, 2]], level))  # D_e = 0


def test_a_unit_with_one_rating_is_ignored():
    base = [[1, 2, 3, 3], [1, 2, 3, 4]]
    lone = [[1, 2, 3, 3, 5], [1, 2, 3, 4, _]]  # the 5 has no pair
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(lone, level) == pytest.approx(krippendorff_alpha(base, level), abs=1e-12)
    values, _o = coincidences(lone)
    assert 5 not in values


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("data", [[], [[]], [[_, _], [_, _]], [[1, _], [_, 2]], [[3, 4, 1]]])
def test_no_pairable_values_is_undefined(data):
    assert math.isnan(krippendorff_alpha(data))
    assert math.isnan(krippendorff_alpha(data, "nominal"))


def test_perfect_disagreement_is_negative():
    # Two raters who swap two values: o_12 = o_21 = 2, n_1 = n_2 = 2, n = 4; D_o = 4/4 = 1,
    # D_e = (2·2 + 2·2) / (4·3) = 2/3, so alpha = 1 − 3/2 = −1/2 at every level (two values).
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha([[1, 2], [2, 1]], level) == pytest.approx(-0.5, abs=1e-12)
    assert krippendorff_alpha([[1, 2, 1, 2], [2, 1, 2, 1]], "nominal") < 0


def test_bad_level_and_shape_are_refused():
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(WORKED, "circular")
    with pytest.raises(ValueError, match="2-d"):
        krippendorff_alpha([1, 2, 3])


def test_average_ranks_by_hand():
    np.testing.assert_array_equal(average_ranks([10, 20, 20, 30, 20, 5]), [2, 4, 4, 6, 4, 1])


def test_spearman_by_hand_with_ties():
    # x ranks 1, 2.5, 2.5, 4; y ranks 1, 4, 2.5, 2.5 (the last pair is dropped: x is missing).
    # Both mean 2.5: deviations x (−1.5, 0, 0, 1.5), y (−1.5, 1.5, 0, 0);
    # sum of products 2.25, sums of squares 4.5 and 4.5, so rho = 2.25 / 4.5 = 0.5.
    assert spearman_rho([1, 2, 2, 3, _], [1, 3, 2, 2, 5]) == pytest.approx(0.5, abs=1e-12)
    assert spearman_rho([1, 2, 3, 4], [8, 6, 4, 2]) == pytest.approx(-1.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_spearman_against_scipy_with_ties(seed):
    rng = np.random.default_rng(4000 + seed)
    size = int(rng.integers(3, 60))
    x = rng.integers(1, 5, size).astype(float)  # grades: many ties
    y = np.round(x / 4 + rng.normal(0, 0.3, size), 1)  # a domain score, some ties
    x[rng.random(size) < 0.15] = np.nan
    y[rng.random(size) < 0.15] = np.nan
    keep = ~(np.isnan(x) | np.isnan(y))
    ours = spearman_rho(x, y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(spearmanr(x[keep], y[keep]).statistic, abs=1e-9)


@pytest.mark.filterwarnings("error")
def test_spearman_undefined():
    assert math.isnan(spearman_rho([2, 2, 2, 2], [1, 2, 3, 4]))  # a constant column
    assert math.isnan(spearman_rho([1, 2, 3], [5, 5, 5]))
    assert math.isnan(spearman_rho([1, _], [2, 3]))  # one pair
    assert math.isnan(spearman_rho([], []))
    with pytest.raises(ValueError, match="same length"):
        spearman_rho([1, 2, 3], [1, 2])


def test_concordant_share_by_hand():
    judgement = [3.5, 2.0, 3.0, 1.5, 4.0, _, 2.5]
    data = [0.8, 0.2, 0.4, 0.7, 0.5, 0.9, _]
    # Pairs kept: (3.5, .8) both at or above, (2, .2) both below, (3, .4) split, (1.5, .7) split,
    # (4, .5) both at or above (cuts are inclusive); 3 of 5 concordant.
    assert concordant_share(judgement, data, 3, 0.5) == pytest.approx(0.6)
    assert concordant_share([3, 1], [0.5, 0.49], 3, 0.5) == 1.0
    assert concordant_share([3], [0.4], 3, 0.5) == 0.0  # a grade of exactly 3 is "good"
    assert concordant_share([2.9], [0.5], 3, 0.5) == 0.0  # a score of exactly 0.5 reaches the cut


@pytest.mark.filterwarnings("error")
def test_concordant_share_without_pairs_is_undefined():
    assert math.isnan(concordant_share([], [], 3, 0.5))
    assert math.isnan(concordant_share([3, _], [_, 0.5], 3, 0.5))


def test_the_module_computes_for_itself():
    source = Path(__file__).parents[1] / "assets" / "audit_statistics.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "numpy"}
