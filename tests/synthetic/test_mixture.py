"""infossl.synthetic._mixture: the uniform box entropy and the Gaussian mixture density, Monte Carlo entropy and bounds."""

import math

import numpy as np
import pytest
import scipy.stats as st

from infossl.synthetic import IsotropicGaussianMixture, MultivariateNormal, UniformBox


def test_uniform_box():
    low, high = np.array([0.0, -1.0, 2.0]), np.array([1.0, 3.0, 2.5])
    box = UniformBox(low, high)
    expected = sum(st.uniform(loc=lo, scale=hi - lo).entropy() for lo, hi in zip(low, high))
    assert box.entropy() == pytest.approx(expected)
    z = box.sample(1000, random_state=0)
    assert z.shape == (1000, 3) and np.all(z >= low) and np.all(z <= high)


@pytest.fixture
def mixture(rng):
    return IsotropicGaussianMixture(2.0 * rng.standard_normal((6, 2)), 0.7, weights=rng.uniform(0.5, 1.5, 6))


def test_mixture_log_density_matches_scipy(mixture, rng):
    x = rng.standard_normal((50, 2)) * 2
    direct = np.log(
        sum(
            w * st.multivariate_normal(mean=m, cov=0.49 * np.eye(2)).pdf(x)
            for w, m in zip(mixture.weights, mixture.means)
        )
    )
    assert np.allclose(mixture.log_density(x), direct, rtol=1e-10, atol=1e-10)
    # Chunked == one-shot.
    assert np.allclose(mixture.log_density(x, chunk_size=7), mixture.log_density(x), rtol=0, atol=1e-12)


def test_mixture_mc_standard_error_shrinks(mixture, seed):
    est_small, se_small = mixture.entropy_monte_carlo(4_000, random_state=seed)
    est_big, se_big = mixture.entropy_monte_carlo(64_000, random_state=seed + 100)
    # 16x the samples: the standard error shrinks by sqrt(16) = 4 (its own sampling noise is a few %).
    assert 3.0 < se_small / se_big < 5.3
    # Two independent estimates agree within 4 combined standard errors.
    assert abs(est_small - est_big) < 4 * math.hypot(se_small, se_big)
    lower, upper = mixture.entropy_bounds()
    assert lower <= upper
    assert lower - 4 * se_big <= est_big <= upper + 4 * se_big


def test_mixture_limits():
    one = IsotropicGaussianMixture([[1.0, 2.0, 3.0]], 2.0)
    h = MultivariateNormal(4.0 * np.eye(3)).entropy()
    lower, upper = one.entropy_bounds()
    assert lower == pytest.approx(h) and upper == pytest.approx(h)
    est, se = one.entropy_monte_carlo(20_000, random_state=0)
    assert abs(est - h) < 4 * se
    # Far-apart components: H -> H(weights) + component entropy, and both bounds converge to it.
    w = np.array([0.2, 0.3, 0.5])
    far = IsotropicGaussianMixture(np.diag([1e3, 2e3, 3e3]), 1.0, weights=w)
    target = -(w * np.log(w)).sum() + MultivariateNormal(np.eye(3)).entropy()
    assert far.entropy_bounds() == pytest.approx((target, target), abs=1e-9)
    assert far.sample(10, random_state=0).shape == (10, 3)
