"""Ideal-representation checks (seed 3): invariance ratio, NC1, class-mean rank, separability vs Cover."""

import numpy as np
import pytest

from infossl import DegenerateInputWarning
from infossl.diagnostics import (class_mean_rank, class_means, cover_fraction, invariance_ratio, nc1,
                                 separability_fraction)


def simplex(c, d, radius=1.0):
    """Regular simplex of c vertices centred at 0 in R^d (d >= c - 1), each at distance ``radius``."""
    e = np.eye(c) - 1.0 / c  # (c, c), rows centred, rank c - 1
    q, _ = np.linalg.qr(np.random.default_rng(123).standard_normal((d, c - 1)))
    u, s, vt = np.linalg.svd(e)
    coords = u[:, :c - 1] * s[:c - 1]  # (c, c - 1)
    coords *= radius / np.linalg.norm(coords[0])
    return coords @ q.T  # (c, d)


# --------------------------------------------------------------------------------------------- invariance
def test_invariance_ratio_limits(rng):
    x = rng.standard_normal((2000, 5))
    assert invariance_ratio([x, x, x]) == pytest.approx(0.0, abs=1e-25)  # rounding of a mean of 3 copies
    # Unrelated views: E within SS / E total SS = n (q - 1) / (nq - 1); sampling sd ~ 1/sqrt(n q d) ~ 0.007.
    ratio = invariance_ratio(np.stack([x, rng.standard_normal(x.shape)], 1))
    assert ratio == pytest.approx(2000 / 3999, abs=0.03)


def test_whitened_ratio_is_affine_invariant(rng):
    x = rng.standard_normal((500, 4)) * [10, 1, 1, 0.1]
    views = np.stack([x + 0.1 * rng.standard_normal(x.shape), x + 0.1 * rng.standard_normal(x.shape)], 1)
    a = rng.standard_normal((4, 4))
    raw, white = invariance_ratio(views), invariance_ratio(views, whiten=True)
    assert invariance_ratio(views @ a + 3.0, whiten=True) == pytest.approx(white, rel=1e-8)
    assert invariance_ratio(views @ a) != pytest.approx(raw, rel=1e-3)  # the raw ratio weights by variance
    assert white > raw  # the 0.1-variance direction is dominated by within-input noise


def test_invariance_ratio_constant_warns():
    with pytest.warns(DegenerateInputWarning, match="all embeddings are equal"):
        assert invariance_ratio(np.ones((10, 2, 3))) == 0.0


# --------------------------------------------------------------------------------------------- class geometry
def test_class_mean_rank_closed_forms(rng):
    codes = simplex(5, 8)
    labels = np.repeat(np.arange(5), 20)
    z = codes[labels] + 0.01 * rng.standard_normal((100, 8))
    assert class_mean_rank(z, labels) == 4 == 5 - 1
    line = np.outer(np.arange(6.0), rng.standard_normal(5))  # collinear codes
    assert class_mean_rank(line, np.arange(6)) == 1
    ang = 2 * np.pi * np.arange(6) / 6  # six points on a circle in R^5: affine rank 2, not 5
    circle = np.zeros((6, 5))
    circle[:, 0], circle[:, 1] = np.cos(ang), np.sin(ang)
    assert class_mean_rank(circle, np.arange(6)) == 2
    assert class_mean_rank(np.ones((4, 3)), [0, 1, 2, 3]) == 0
    classes, means = class_means(z, labels.astype(float))
    assert list(classes) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(means, [z[labels == k].mean(0) for k in range(5)])


def test_nc1_closed_form():
    c, d, s, r = 4, 6, 0.3, 2.0
    codes = simplex(c, d, radius=r)
    # Per class the residuals +-s e_j (2d points): zero mean, covariance exactly (s^2/d) I.
    resid = np.concatenate([s * np.eye(d), -s * np.eye(d)])  # (2d, d)
    z = np.concatenate([mu + resid for mu in codes])
    labels = np.repeat(np.arange(c), 2 * d)
    sigma2 = s ** 2 / d
    # Sigma_B has C - 1 eigenvalues r^2/(C - 1): NC1 = sigma^2 (C - 1)^2 / (C r^2).
    assert nc1(z, labels) == pytest.approx(sigma2 * (c - 1) ** 2 / (c * r ** 2), rel=1e-10)
    assert nc1(codes[labels], labels) == pytest.approx(0.0, abs=1e-20)  # invariant codes
    assert nc1(z * 1e30, labels) == pytest.approx(nc1(z, labels), rel=1e-10)


# --------------------------------------------------------------------------------------------- separability
def test_cover_fraction_values():
    # exhaustive LP check in the research notes (d = 3, C = 3..10)
    expected = [1, 1, .9375, .8125, .65625, .5, .36328125, .25390625]
    assert [cover_fraction(c, 3) for c in range(3, 11)] == expected
    assert cover_fraction(8, 3) == 0.5  # N = 2(d + 1)
    assert cover_fraction(4, 3, affine=False) == cover_fraction(4, 2)
    assert cover_fraction(1, 0) == 1.0


@pytest.mark.parametrize("c", [5, 7, 9])
def test_separability_matches_cover_for_general_position(rng, c):
    codes = rng.standard_normal((c, 3))
    assert separability_fraction(codes, np.arange(c), on="means", max_labelings=512) == cover_fraction(c, 3)
    # Invariant rows (every row equals its class code) give the same answer as the means.
    labels = np.repeat(np.arange(c), 3)
    assert separability_fraction(codes[labels], labels, max_labelings=512) == cover_fraction(c, 3)


def test_separability_extremes(rng):
    labels = np.repeat(np.arange(4), 30)
    z = simplex(4, 5, radius=10.0)[labels] + 0.1 * rng.standard_normal((120, 5))
    assert separability_fraction(z, labels) == 1.0  # tight clusters in general position, C <= d + 1
    # Classes assigned at random to one Gaussian cloud in R^2: only the 2 constant labelings separate.
    w = rng.standard_normal((200, 2))
    assert separability_fraction(w, rng.integers(0, 4, 200)) == 2 / 16
    # More labelings than max_labelings: sampled (Monte-Carlo), reproducible with random_state.
    codes = rng.standard_normal((12, 3))
    f1 = separability_fraction(codes, np.arange(12), on="means", max_labelings=64, random_state=1)
    assert f1 == separability_fraction(codes, np.arange(12), on="means", max_labelings=64, random_state=1)
    assert abs(f1 - cover_fraction(12, 3)) < 0.2  # 64 draws: sd ~ 0.05


def test_errors(rng):
    z = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="labels must have shape \\(10,\\), one entry per row"):
        nc1(z, np.zeros(9))
    with pytest.raises(ValueError, match="nc1 needs at least 2 classes, got 1"):
        nc1(z, np.zeros(10))
    with pytest.raises(ValueError, match="all class means are equal"):
        nc1(np.ones((4, 2)), [0, 0, 1, 1])
    with pytest.raises(ValueError, match="on must be one of 'points', 'means'"):
        separability_fraction(z, np.arange(10) % 2, on="rows")
    with pytest.raises(ValueError, match="max_labelings must be >= 1, got 0"):
        separability_fraction(z, np.arange(10) % 2, max_labelings=0)
    with pytest.raises(ValueError, match="labels contain 10 NaN"):
        class_mean_rank(z, np.full(10, np.nan))
    with pytest.raises(ValueError, match="needs at least 2 views"):
        invariance_ratio([z])
    with pytest.raises(ValueError, match="n_points must be >= 1"):
        cover_fraction(0, 3)
