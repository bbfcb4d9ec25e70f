"""Hypercube toolkit: Walsh basis, crop eigenvalues and kernel eigenvalues against brute force."""

import math

import numpy as np
import pytest

from infossl.spectral import (
    crop_eigenvalues,
    crop_probability,
    crop_transition_matrix,
    crop_views,
    dot_product_kernel_eigenvalues,
    feature_closed_form,
    hypercube,
    moment_closed_form,
    parity_features,
    regime_map,
    relu_ntk,
    relu_ntk_eigenvalues,
    walsh_basis,
    walsh_subsets,
)


def test_walsh_basis_is_orthonormal():
    d = 6
    w = walsh_basis(hypercube(d), walsh_subsets(d))
    assert w.shape == (64, 64)
    assert np.abs(w.T @ w / 64 - np.eye(64)).max() < 1e-14


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("d", [5, 6])
def test_relu_ntk_eigenvalues_match_brute_force(d, bias):
    x = hypercube(d)
    gram = relu_ntk((x @ x.T + bias) / (d + bias))  # (2^d, 2^d)
    brute = np.sort(np.linalg.eigvalsh(gram)) / 2 ** d
    mu = relu_ntk_eigenvalues(d, bias=bias)
    pred = np.sort(np.concatenate([[mu[ell]] * math.comb(d, ell) for ell in range(d + 1)]))
    assert np.abs(brute - pred).max() < 1e-13  # float64 eigensolver round-off on O(1) entries


def test_relu_ntk_d10_values_and_missing_odd_degrees():
    mu = relu_ntk_eigenvalues(10)
    assert mu[:4] == pytest.approx([0.4546, 0.0996, 0.0087, 2.80e-4], rel=3e-3)
    no_bias = relu_ntk_eigenvalues(10, bias=False)
    assert np.abs(no_bias[[3, 5, 7, 9]]).max() < 1e-15  # odd parities of degree >= 3: unreachable
    assert np.all(no_bias[[0, 1, 2, 4, 6, 8, 10]] > 1e-5)
    assert np.all(mu > 1e-5)  # with the bias every degree is reachable


def test_dot_product_kernel_closed_forms():
    # (<x,y>)^2 on {-1,1}^d: = d + 2 sum_{i<j} x_i x_j y_i y_j -> mu_0 = d, mu_2 = 2, others 0.
    mu = dot_product_kernel_eigenvalues(lambda t: t ** 2, 5)
    assert mu == pytest.approx([5, 0, 2, 0, 0, 0], abs=1e-12)


@pytest.mark.parametrize("d, width", [(6, 4), (7, 3), (6, 6), (5, 1), (8, 5)])
def test_crop_eigenvalues_match_the_transition_matrix(d, width):
    x = hypercube(d)
    subsets = walsh_subsets(d)
    w = walsh_basis(x, subsets) / 2 ** (d / 2)  # orthonormal columns
    p = crop_transition_matrix(d, width)
    assert np.allclose(p.sum(axis=1), 1.0)
    a = w.T @ p @ w
    assert np.abs(a - np.diag(crop_eigenvalues(d, width, subsets, operator="A"))).max() < 1e-13
    t = w.T @ (p.T @ p) @ w
    assert np.abs(t - np.diag(crop_eigenvalues(d, width, subsets))).max() < 1e-13


def test_crop_probability_wraps_both_ways():
    # d = 10, w = 7: {0, 4} fits in 3 windows going 0 -> 4 and 1 going 4 -> 0.
    assert crop_probability((0, 4), 10, 7) == pytest.approx(0.4)
    assert crop_probability((0, 5), 10, 7) == pytest.approx(0.4)
    assert crop_probability((0, 1, 2), 10, 7) == pytest.approx(0.5)
    assert crop_probability((), 10, 7) == 1.0


def test_crop_views_keep_a_window(rng):
    x = hypercube(8)[rng.integers(0, 256, size=400)]
    v = crop_views(x, 5, n_views=3, random_state=rng)
    assert v.shape == (400, 3, 8)
    # Each view agrees with x on a cyclic window of 5 (at least), so E[chi_S(view) chi_S(x)] = p_S.
    agree = v == x[:, None, :]
    assert agree.sum(axis=2).min() >= 5
    for s in [(0,), (0, 1), (0, 4)]:
        corr = np.mean(walsh_basis(v.reshape(-1, 8), [s])[:, 0] * np.repeat(walsh_basis(x, [s])[:, 0], 3))
        assert corr == pytest.approx(crop_probability(s, 8, 5), abs=0.1)  # 1200 +-1 draws: s.e. <= 0.03


def test_population_closed_form_matches_commuting_regime_map():
    """Independent check: exact moments on the enumerated cube (d = 6) -> moment solver == commuting map."""
    d, width, k, beta = 6, 4, 12, 3.0
    x = hypercube(d)
    subsets = walsh_subsets(d)
    mu = relu_ntk_eigenvalues(d)
    phi = parity_features(x, mu, subsets)  # (64, 64), phi phi^T = kernel
    assert np.abs(phi @ phi.T - relu_ntk((x @ x.T + 1) / (d + 1))).max() < 1e-13
    p = crop_transition_matrix(d, width)
    sigma = phi.T @ phi / 2 ** d
    cross = phi.T @ (p.T @ p) @ phi / 2 ** d
    nu = crop_eigenvalues(d, width, subsets)
    norms = 1 / np.array([mu[len(s)] for s in subsets])
    for lam in [0.0, 1e-3, 0.05, 1.0]:
        sol = moment_closed_form(sigma, cross, k=k, beta=beta, lam=lam)
        scores = np.sort(nu - lam / 2 * norms)[::-1]
        assert np.allclose(sol.nu, scores, atol=1e-12)
        assert sol.rank == regime_map(nu, norms, [lam], k=k, beta=beta)["rank"][0]


def test_finite_sample_solver_on_crop_views(rng):
    # Sampled crops, exact features: the learned span captures the singletons' directions (T = .49 at w = 7).
    d, width = 8, 6
    subsets = walsh_subsets(d, max_degree=2)
    mu = relu_ntk_eigenvalues(d)
    x = hypercube(d)[rng.integers(0, 256, size=3000)]
    views = crop_views(x, width, n_views=2, random_state=rng).reshape(-1, d)
    phi = parity_features(views, mu, subsets)
    sol = feature_closed_form(phi, np.repeat(np.arange(3000), 2), k=1 + d, beta=5.0, lam=1e-4)
    pred = np.sort(crop_eigenvalues(d, width, subsets))[::-1][: 1 + d] - 1e-4 / 2 / mu[[0] + [1] * d]
    # 6000 views: s.e. of one correlation ~ 0.015; the top of a degenerate block of 8 is biased upwards
    # (max of 8 noisy estimates, ~ +0.06), so compare the constant exactly-ish and the block's mean.
    assert sol.nu[0] == pytest.approx(pred[0], abs=1e-3)
    assert sol.nu[1: 1 + d].mean() == pytest.approx(pred[1:].mean(), abs=0.03)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"d must be in \[1, 20\]"):
        hypercube(21)
    with pytest.raises(ValueError, match=r"width must be in \[1, 6\]"):
        crop_eigenvalues(6, 7)
    with pytest.raises(ValueError, match="operator must be 'A' or 'T'"):
        crop_eigenvalues(6, 3, operator="B")
    with pytest.raises(ValueError, match=r"x must be a 2-D array of \+-1 entries"):
        walsh_basis(np.zeros((3, 2)), [(0,)])
    with pytest.raises(ValueError, match="outside 0..1"):
        walsh_basis(hypercube(2), [(2,)])
    with pytest.raises(ValueError, match="h must return d \\+ 1 finite values"):
        dot_product_kernel_eigenvalues(lambda t: np.full(t.shape, np.inf), 4)
    with pytest.raises(ValueError, match=r"d must be in \[1, 30\]"):
        relu_ntk_eigenvalues(31)
    with pytest.raises(ValueError, match="degree_eigenvalues must be >= 0"):
        parity_features(hypercube(2), np.array([1.0, -1.0, 1.0]), [(0,)])
    with pytest.raises(ValueError, match="x must be 2-D"):
        crop_views(np.ones(3), 2)
    with pytest.raises(ValueError, match=r"max_degree must be in \[0, 3\]"):
        walsh_subsets(3, max_degree=4)
