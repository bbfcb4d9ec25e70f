"""Downstream predictor: captured fraction, probe risk formula, probe and kernel-ridge baselines."""

import math

import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge

from infossl.spectral import (
    captured_fraction,
    hypercube,
    kernel_ridge_mse,
    linear_probe_mse,
    probe_risk,
    walsh_basis,
    walsh_subsets,
)


def test_captured_fraction_on_walsh_basis():
    # On the whole cube, parities are orthonormal: f = 2 chi_0 + chi_{01} and psi = (chi_0, chi_1) capture 4/5.
    x = hypercube(6)
    w = walsh_basis(x, [(0,), (1,), (0, 1)])
    f = 2 * w[:, 0] + w[:, 2]
    assert captured_fraction(w[:, :2], f) == pytest.approx(0.8, abs=1e-14)
    assert captured_fraction(w, f) == pytest.approx(1.0, abs=1e-14)
    # Collapsed (zero) and duplicated columns do not change the span.
    psi = np.column_stack([w[:, 0], np.zeros(len(x)), 3 * w[:, 0]])
    assert captured_fraction(psi, f) == pytest.approx(0.8, abs=1e-14)


def test_captured_fraction_intercept_and_weights(rng):
    z = rng.standard_normal((50, 2))
    f = 3.0 + 0 * z[:, 0]
    assert captured_fraction(z, f, intercept=True) == pytest.approx(1.0)
    assert captured_fraction(z, f, intercept=False) < 1.0
    # Integer weights == repeating the rows.
    wts = rng.integers(1, 4, size=50)
    g = rng.standard_normal(50)
    rep = np.repeat(np.arange(50), wts)
    assert captured_fraction(z, g, weights=wts) == pytest.approx(captured_fraction(z[rep], g[rep]), abs=1e-12)
    t = captured_fraction(torch.from_numpy(z), torch.from_numpy(g))
    assert isinstance(t, torch.Tensor) and float(t) == pytest.approx(captured_fraction(z, g), abs=1e-14)


@pytest.mark.parametrize("dim, n_labels", [(3, 20), (8, 40)])
def test_probe_risk_matches_gaussian_ols_monte_carlo(dim, n_labels):
    rng = np.random.default_rng(dim)
    captured, noise = 0.7, 0.25
    beta = np.zeros(dim)
    beta[0] = math.sqrt(captured)
    excess = []
    for _ in range(3000):
        x = rng.standard_normal((n_labels, dim))
        resid = rng.standard_normal(n_labels) * math.sqrt(1 - captured + noise)  # misfit + noise, Gaussian
        y = x @ beta + resid
        xd = np.column_stack([np.ones(n_labels), x])
        coef = np.linalg.lstsq(xd, y, rcond=None)[0]
        excess.append(coef[0] ** 2 + np.sum((coef[1:] - beta) ** 2))  # test excess risk, E[x x^T] = I
    pred = probe_risk(captured, n_labels=n_labels, dim=dim, noise_var=noise)
    # The intercept adds ~ (sigma^2 + A)/n beyond p/(n-p-1) with p = dim + 1; the formula counts it as a
    # parameter, exact to O(1/n^2). Monte Carlo s.e. ~ 2.5 % over 3000 draws: allow 8 %.
    assert np.mean(excess) == pytest.approx(pred["estimation"], rel=0.08)
    assert pred["approximation"] == pytest.approx(0.3)
    assert pred["risk"] == pytest.approx(pred["approximation"] + pred["estimation"])


def test_probe_risk_interpolation_regime_is_infinite():
    r = probe_risk(0.5, n_labels=5, dim=4)
    assert math.isinf(r["estimation"]) and math.isinf(r["risk"]) and r["approximation"] == 0.5


def test_linear_probe_matches_sklearn_ridge(rng):
    x, xt = rng.standard_normal((40, 5)), rng.standard_normal((30, 5))
    y, yt = x @ rng.standard_normal(5) + rng.standard_normal(40), rng.standard_normal(30)
    for ridge in [0.0, 0.1, 3.0]:
        ref = Ridge(alpha=ridge * 40).fit(x, y) if ridge else Ridge(alpha=1e-14).fit(x, y)
        want = np.mean((ref.predict(xt) - yt) ** 2)
        assert linear_probe_mse(x, y, xt, yt, l2_penalty=ridge) == pytest.approx(want, rel=1e-8)


def test_kernel_ridge_matches_sklearn(rng):
    x = hypercube(5)[rng.permutation(32)]
    w = walsh_basis(x, walsh_subsets(5, max_degree=2))
    k = w @ w.T
    y = w[:, 3] + 0.1 * rng.standard_normal(32)
    tr, te = slice(0, 20), slice(20, 32)
    for ridge in [1e-3, 0.5]:
        ref = KernelRidge(alpha=20 * ridge, kernel="precomputed").fit(k[tr, tr], y[tr])
        want = np.mean((ref.predict(k[te, tr]) - y[te]) ** 2)
        assert kernel_ridge_mse(k[tr, tr], y[tr], k[te, tr], y[te], l2_penalty=ridge) == pytest.approx(want, rel=1e-8)


def test_bad_inputs(rng):
    z = rng.standard_normal((10, 2))
    with pytest.raises(ValueError, match="target is identically zero"):
        captured_fraction(z, np.zeros(10))
    with pytest.raises(ValueError, match="target must be a vector of 10 values"):
        captured_fraction(z, np.ones(9))
    with pytest.raises(ValueError, match="weights must be non-negative"):
        captured_fraction(z, np.ones(10), weights=-np.ones(10))
    with pytest.raises(ValueError, match=r"captured must be in \[0.0, 1.0\]"):
        probe_risk(1.5, n_labels=10, dim=2)
    with pytest.raises(ValueError, match=r"n_labels must be >= 1"):
        probe_risk(0.5, n_labels=0, dim=2)
    with pytest.raises(ValueError, match=r"noise_var must be in \[0.0"):
        probe_risk(0.5, n_labels=10, dim=2, noise_var=-1)
    with pytest.raises(ValueError, match="same number of columns"):
        linear_probe_mse(z, np.ones(10), z[:, :1], np.ones(10))
    with pytest.raises(ValueError, match=r"l2_penalty must be in \[0.0"):
        linear_probe_mse(z, np.ones(10), z, np.ones(10), l2_penalty=-1)
    with pytest.raises(ValueError, match=r"l2_penalty must be in \(0.0"):
        kernel_ridge_mse(z @ z.T, np.ones(10), z @ z.T, np.ones(10), l2_penalty=0.0)
    with pytest.raises(ValueError, match="gram_train must be square"):
        kernel_ridge_mse(z, np.ones(10), z, np.ones(10), l2_penalty=1.0)
    with pytest.raises(ValueError, match="gram_test must have 10 columns"):
        kernel_ridge_mse(z @ z.T, np.ones(10), z, np.ones(10), l2_penalty=1.0)


def test_l2_penalty_is_the_only_penalty_keyword(rng):
    x, xt = rng.standard_normal((40, 5)), rng.standard_normal((30, 5))
    y, yt = x @ rng.standard_normal(5), rng.standard_normal(30)
    k, kt = x @ x.T, xt @ x.T
    assert linear_probe_mse(x, y, xt, yt, l2_penalty=0.1) != linear_probe_mse(x, y, xt, yt, l2_penalty=0.0)
    with pytest.raises(TypeError, match="ridge"):
        linear_probe_mse(x, y, xt, yt, ridge=0.1)
    with pytest.raises(TypeError, match="ridge"):
        kernel_ridge_mse(k, y, kt, yt, ridge=0.1)
    with pytest.raises(ValueError, match="l2_penalty"):
        kernel_ridge_mse(k, y, kt, yt, l2_penalty=0.0)
