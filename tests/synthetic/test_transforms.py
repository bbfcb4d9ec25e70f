"""infossl.synthetic._transforms: monotone maps, their inverses and derivatives; MI unchanged, entropy shifted."""

import numpy as np
import pytest
import scipy.stats as st

from infossl.synthetic import (
    TRANSFORMS,
    MultivariateNormal,
    SplitMultinormal,
    Transformed,
    UniformBox,
    correlated_gaussian,
    inverse_transform,
    log_abs_derivative,
    transform,
)


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_transforms_monotone_invertible_and_derivative(kind):
    x = np.linspace(-6, 6, 1201)
    x = x[x != 0]  # the cube/half-cube derivative vanishes at 0
    y = transform(x, kind)
    assert np.all(np.diff(y) > 0)
    assert np.allclose(inverse_transform(y, kind), x, rtol=1e-8, atol=1e-8)
    # log|f'| against a central difference (step 1e-5: truncation error ~1e-10 relative). On |x| <= 4,
    # where the rounding error of the normal CDF near 1 (~1e-16 / 2e-5) stays far below the tolerance.
    h, x = 1e-5, x[np.abs(x) <= 4]
    numeric = (transform(x + h, kind) - transform(x - h, kind)) / (2 * h)
    assert np.allclose(log_abs_derivative(x, kind), np.log(numeric), atol=1e-6)


@pytest.mark.parametrize("kind", ["normal_cdf", "half_cube", "exp", "asinh"])
def test_transformed_keeps_mi(kind):
    base = correlated_gaussian(3, 0.7)
    t = Transformed(base, kind, "cube")
    assert t.mutual_information() == base.mutual_information()
    x, y = t.sample(100, random_state=0)
    x0, y0 = base.sample(100, random_state=0)
    assert np.allclose(x, transform(x0, kind)) and np.allclose(y, y0**3)


@pytest.mark.parametrize("kind", ["identity", "normal_cdf", "exp", "half_cube", "cube"])
def test_transformed_entropy_closed_form_vs_monte_carlo(kind, seed):
    base = SplitMultinormal(
        np.array([[1.0, 0.5], [0.5, 2.0]]), 1, mean=None if "cube" in kind else [0.3, -1.0]
    )
    t = Transformed(base, kind)
    est, se = t.entropy_monte_carlo(50_000, random_state=seed)
    assert abs(est - t.entropy()) < 4 * se + 1e-12  # 4 Monte Carlo standard errors


def test_normal_cdf_of_standard_normal_is_uniform():
    t = Transformed(MultivariateNormal(np.eye(3)), "normal_cdf")
    assert t.entropy() == pytest.approx(UniformBox(np.zeros(3), np.ones(3)).entropy(), abs=1e-12)
    z = t.sample(20_000, random_state=0)
    assert st.kstest(z[:, 1], "uniform").statistic < 0.02  # 5% critical value 0.0096
    # For a correlated pair the copula entropy is -MI.
    g = correlated_gaussian(2, 0.6)
    assert Transformed(g, "normal_cdf").entropy() == pytest.approx(-g.mutual_information(), abs=1e-12)


def test_transformed_entropy_without_closed_form():
    t = Transformed(correlated_gaussian(1, 0.5), "sinh")
    with pytest.raises(NotImplementedError, match="entropy_monte_carlo"):
        t.entropy()
    with pytest.raises(TypeError, match="split"):
        Transformed(MultivariateNormal(np.eye(2)), "exp").mutual_information()
    with pytest.raises(ValueError, match="kind_y='exp' is only meaningful"):
        Transformed(MultivariateNormal(np.eye(2)), "exp", "exp")
