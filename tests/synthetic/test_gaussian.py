"""Closed forms of infossl.synthetic._gaussian (normal entropy, split Gaussian MI, correlated and low-rank pairs) against scipy and independent routes."""

import math

import numpy as np
import pytest
import scipy.stats as st

from infossl.synthetic import (
    MultivariateNormal,
    SplitMultinormal,
    correlated_gaussian,
    correlated_gaussian_for_mi,
    low_rank_gaussian_pair,
    rho_for_mi,
)


def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


# ----------------------------------------------------------------------------------------- Gaussian
@pytest.mark.parametrize("d", [1, 3, 7])
def test_normal_entropy_matches_scipy(rng, d):
    cov = random_spd(rng, d)
    assert MultivariateNormal(cov).entropy() == pytest.approx(
        st.multivariate_normal(cov=cov).entropy(), rel=1e-12
    )


def test_normal_entropy_scalar_and_diagonal():
    assert MultivariateNormal(4.0).entropy() == pytest.approx(0.5 * math.log(2 * math.pi * math.e * 4.0))
    assert MultivariateNormal([1.0, 4.0]).entropy() == pytest.approx(
        math.log(2 * math.pi * math.e) + 0.5 * math.log(4.0)
    )


def test_normal_sample_moments(rng, seed):
    cov, mean = random_spd(rng, 3), rng.standard_normal(3)
    n = 40_000
    z = MultivariateNormal(cov, mean).sample(n, random_state=seed)
    assert z.shape == (n, 3)
    # Standard error of a sample mean is sqrt(var/n), of a covariance entry <= sqrt(2/n)*max var: 5 s.e.
    assert np.allclose(z.mean(axis=0), mean, atol=5 * math.sqrt(cov.diagonal().max() / n))
    assert np.allclose(np.cov(z.T), cov, atol=5 * math.sqrt(2 / n) * cov.diagonal().max())


def test_sampling_is_reproducible_and_leaves_global_rng_alone():
    state = np.random.get_state()[1].copy()
    d = correlated_gaussian(2, 0.3)
    x1, y1 = d.sample(10, random_state=5)
    x2, y2 = d.sample(10, random_state=np.random.default_rng(5))
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("rho", [0.0, 0.5, -0.9, [0.1, 0.5, 0.99]])
def test_correlated_gaussian_mi(rho):
    d = correlated_gaussian(3, rho)
    r = np.broadcast_to(np.asarray(rho, dtype=float), (3,))
    expected = -0.5 * np.log1p(-(r**2)).sum()
    assert d.mutual_information() == pytest.approx(expected, abs=1e-12)
    # Independent route: H(X) + H(Y) - H(X, Y).
    assert d.entropy_x() + d.entropy_y() - d.entropy() == pytest.approx(expected, abs=1e-10)


def test_correlated_gaussian_unequal_dims():
    d = correlated_gaussian(2, 0.6, dim_y=5)
    assert (d.dim_x, d.dim_y) == (2, 5)
    assert d.mutual_information() == pytest.approx(-math.log(1 - 0.36))
    x, y = d.sample(7, random_state=0)
    assert x.shape == (7, 2) and y.shape == (7, 5)


def test_split_multinormal_general_cov(rng):
    cov = random_spd(rng, 5)
    d = SplitMultinormal(cov, 2)
    route = (
        st.multivariate_normal(cov=cov[:2, :2]).entropy()
        + st.multivariate_normal(cov=cov[2:, 2:]).entropy()
        - st.multivariate_normal(cov=cov).entropy()
    )
    assert d.mutual_information() == pytest.approx(route, abs=1e-10)


@pytest.mark.parametrize("mi", [0.0, 0.3, 2.0, 6.0])
def test_correlated_gaussian_for_mi(mi):
    d = correlated_gaussian_for_mi(4, mi)
    assert d.mutual_information() == pytest.approx(mi, abs=1e-10)
    # 1 - rho^2 = exp(-2 mi) cancels: relative error ~ 1e-16 / exp(-12) ~ 2e-11 at mi = 6.
    assert -0.5 * math.log(1 - rho_for_mi(mi) ** 2) == pytest.approx(mi, abs=1e-9)


def test_low_rank_pair_noiseless():
    p = low_rank_gaussian_pair(3, 25, rho=0.8, random_state=1)
    assert p.mutual_information() == pytest.approx(-1.5 * math.log(1 - 0.64))
    assert np.allclose(p.embedding_x.T @ p.embedding_x, np.eye(3), atol=1e-12)
    x, y = p.sample(500, random_state=0)
    assert x.shape == (500, 25) and y.shape == (500, 25)
    assert np.linalg.matrix_rank(x) == 3 and np.linalg.matrix_rank(y) == 3
    assert np.linalg.matrix_rank(p.covariance()) == 6
    # The same seed gives the same embedding (the distribution is a fixed object).
    assert np.array_equal(low_rank_gaussian_pair(3, 25, rho=0.8, random_state=1).embedding_y, p.embedding_y)


@pytest.mark.parametrize("noise", [0.1, 1.0])
def test_low_rank_pair_with_noise_matches_full_covariance(noise):
    p = low_rank_gaussian_pair(3, 10, mi_per_component=0.7, noise=noise, dim_y=6, random_state=2)
    # Independent route: Gaussian MI from the log-determinants of the (now full-rank) joint covariance.
    assert p.mutual_information() == pytest.approx(
        SplitMultinormal(p.covariance(), 10).mutual_information(), abs=1e-10
    )


def test_low_rank_pair_sample_covariance(seed):
    p = low_rank_gaussian_pair(2, 6, rho=0.7, noise=0.5, random_state=seed)
    n = 40_000
    x, y = p.sample(n, random_state=seed)
    # Entries of the covariance are <= 1.25; 5 standard errors of sqrt(2/n) * 1.25.
    assert np.allclose(np.cov(np.hstack([x, y]).T), p.covariance(), atol=5 * 1.25 * math.sqrt(2 / n))
