"""infossl.synthetic._common: the shared argument checks and the Gaussian helpers behind every family."""

import math

import numpy as np
import pytest

from infossl.synthetic import _common
from infossl.synthetic import (
    IsotropicGaussianMixture,
    MultivariateNormal,
    SplitMultinormal,
    StudentT,
    Transformed,
    UniformBox,
    correlated_gaussian,
    correlated_gaussian_for_mi,
    low_rank_gaussian_pair,
    transform,
)


def test_errors():
    with pytest.raises(ValueError, match="positive definite; its smallest eigenvalue"):
        MultivariateNormal([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="must be symmetric"):
        MultivariateNormal([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"square \(d, d\) matrix, got shape \(2, 3\)"):
        MultivariateNormal(np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        MultivariateNormal([[np.nan]])
    with pytest.raises(ValueError, match=r"mean must have shape \(2,\)"):
        MultivariateNormal(np.eye(2), mean=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"dim_x must be in \[1, 2\], got 3"):
        SplitMultinormal(np.eye(3), 3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        SplitMultinormal(np.eye(1), 1)
    with pytest.raises(ValueError, match=r"rho must lie in \(-1, 1\)"):
        correlated_gaussian(2, 1.0)
    with pytest.raises(ValueError, match=r"rho must be a scalar or have shape \(2,\)"):
        correlated_gaussian(2, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="mi must be in"):
        correlated_gaussian_for_mi(2, -1.0)
    with pytest.raises(ValueError, match="indistinguishable from 1"):
        correlated_gaussian_for_mi(1, 40.0)
    with pytest.raises(ValueError, match="exactly one of rho or mi_per_component"):
        low_rank_gaussian_pair(2, 5, rho=0.5, mi_per_component=0.1)
    with pytest.raises(ValueError, match=r"dim_x must be >= 4, got 3"):
        low_rank_gaussian_pair(4, 3, rho=0.5)
    with pytest.raises(ValueError, match="noise must be in"):
        low_rank_gaussian_pair(1, 3, rho=0.5, noise=-1.0)
    with pytest.raises(ValueError, match="high must exceed low in every coordinate; coordinate 1"):
        UniformBox([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        UniformBox([0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="df must be in"):
        StudentT(0.0, dim=2)
    with pytest.raises(ValueError, match="give shape"):
        StudentT(3.0)
    with pytest.raises(ValueError, match="dim=3 does not match"):
        StudentT(3.0, np.eye(2), dim=3)
    with pytest.raises(ValueError, match="sigma must be in"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 1.0, weights=[1.0])
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 1.0, weights=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"means must have shape \(K, d\)"):
        IsotropicGaussianMixture(np.zeros((2, 2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        IsotropicGaussianMixture(np.zeros((2, 2)), 1.0).log_density(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        MultivariateNormal(np.eye(2)).sample(0)
    with pytest.raises(TypeError, match="random_state must be None"):
        MultivariateNormal(np.eye(2)).sample(3, random_state="seed")
    with pytest.raises(ValueError, match="kind must be one of"):
        transform(np.zeros(3), "square")
    with pytest.raises(ValueError, match="kind_x must be one of"):
        Transformed(correlated_gaussian(1, 0.5), "square")


# ----------------------------------------------------------------------------------------- helpers
def test_as_covariance_reads_scalars_and_vectors_as_diagonals_and_symmetrises():
    assert _common.as_covariance(2.0).tolist() == [[2.0]]
    assert np.array_equal(_common.as_covariance([1.0, 3.0]), np.diag([1.0, 3.0]))
    c = np.array([[2.0, 0.5], [0.5 + 1e-14, 1.0]])
    out = _common.as_covariance(c)
    assert out.dtype == np.float64 and np.array_equal(out, out.T) and out[0, 1] == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"shape must be a square \(d, d\) matrix, got shape \(0, 0\)"):
        _common.as_covariance(np.zeros((0, 0)), name="shape")


def test_logdet_pd_matches_slogdet(rng):
    a = rng.standard_normal((6, 6))
    c = a @ a.T + 0.1 * np.eye(6)
    assert _common.logdet_pd(c) == pytest.approx(np.linalg.slogdet(c)[1], rel=1e-12)
    # a tiny determinant (1e-300) stays finite: Cholesky, not log(det)
    assert _common.logdet_pd(np.eye(100) * 1e-3) == pytest.approx(100 * math.log(1e-3))


def test_as_mean_and_check_n():
    assert np.array_equal(_common.as_mean(None, 3), np.zeros(3))
    assert np.array_equal(_common.as_mean(1.5, 2), np.array([1.5, 1.5]))
    with pytest.raises(ValueError, match="loc contains non-finite entries"):
        _common.as_mean([0.0, np.inf], 2, name="loc")
    assert _common.check_n(5) == 5
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        _common.check_n(0)


@pytest.mark.parametrize("rho", [0.0, 0.3, -0.8])
def test_gaussian_split_mi_of_a_correlated_pair(rho):
    # one correlated pair (x1, y1) plus independent coordinates: MI = -log(1 - rho^2) / 2
    cov = np.eye(4)
    cov[0, 2] = cov[2, 0] = rho
    assert _common.gaussian_split_mi(cov, 2) == pytest.approx(-0.5 * math.log1p(-rho * rho), abs=1e-15)
    # the split point matters: with x = (x1,) alone nothing is shared with y = (x2, y1, y2) except via x1
    assert _common.gaussian_split_mi(cov, 1) == pytest.approx(-0.5 * math.log1p(-rho * rho), abs=1e-15)


def test_check_dim_x_bounds():
    assert _common.check_dim_x(1, 2) == 1 and _common.check_dim_x(4, 5) == 4
    with pytest.raises(ValueError, match="at least 2 dimensions, got 1"):
        _common.check_dim_x(1, 1)
    with pytest.raises(ValueError, match=r"dim_x must be in \[1, 3\], got 0"):
        _common.check_dim_x(0, 4)
