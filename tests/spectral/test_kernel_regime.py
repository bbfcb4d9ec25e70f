"""Closed-form kernel-regime minimisers: primal == dual, optimality (L-BFGS), invariances, error paths."""

import itertools

import numpy as np
import pytest
import torch

from infossl.spectral import (
    predicted_collapse_rank,
    feature_closed_form,
    kernel_closed_form,
    moment_closed_form,
    predicted_variances,
    vicreg_objective,
)


def make_views(rng, n=30, m=3, p=8, noise=0.7):
    """n inputs, m noisy views each of a latent (n, p): features (n m, p) and group ids."""
    latent = rng.standard_normal((n, p)) * np.linspace(1.5, 0.5, p)
    phi = np.repeat(latent, m, axis=0) + noise * rng.standard_normal((n * m, p))
    return phi, np.repeat(np.arange(n), m)


def gram_of(a):
    return a @ a.T


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("lam", [0.0, 0.05, 2.0])
def test_primal_equals_dual(rng, center, lam):
    phi, groups = make_views(rng)
    kwargs = {"k": 4, "beta": 0.8, "lam": lam, "center": center}
    primal = feature_closed_form(phi, groups, **kwargs)
    dual = kernel_closed_form(phi @ phi.T, groups, **kwargs)
    za, zb = primal.transform(phi), dual.transform(phi @ phi.T)
    # The minimiser is unique up to O(k): compare the embeddings' Gram matrices, spectra and optimum (1e-10).
    assert np.abs(gram_of(za) - gram_of(zb)).max() < 1e-10
    assert np.abs(primal.nu[:8] - dual.nu[:8]).max() < 1e-10
    assert np.abs(primal.variances - dual.variances).max() < 1e-10
    assert abs(primal.objective - dual.objective) < 1e-10
    assert primal.rank == dual.rank


def test_optimum_value_and_moments(rng):
    phi, groups = make_views(rng)
    sol = feature_closed_form(phi, groups, k=5, beta=1.3, lam=0.1)
    z = sol.transform(phi)
    # E[psi psi^T] = diag(s) exactly (1e-12: float64 round-off on O(1) entries).
    assert np.abs(z.T @ z / len(z) - np.diag(sol.variances)).max() < 1e-12
    # Regularised objective at the solution = beta * sum(1 - s^2).
    value = vicreg_objective(z, groups, beta=1.3) + sol.penalty * np.sum(sol.coef ** 2)
    assert value == pytest.approx(sol.objective, rel=1e-12, abs=1e-12)
    assert np.allclose(sol.variances, predicted_variances(sol.nu[:5], beta=1.3), atol=1e-14)


@pytest.mark.parametrize("start", range(4))
def test_lbfgs_from_random_starts_reaches_closed_form(rng, start):
    phi, groups = make_views(rng, n=15, m=2, p=6)
    beta, lam, k = 1.5, 0.2, 3
    sol = feature_closed_form(phi, groups, k=k, beta=beta, lam=lam)
    x = torch.from_numpy(phi)
    gen = torch.Generator().manual_seed(1000 * start + 7)
    theta = (0.3 * torch.randn(k, phi.shape[1], dtype=torch.float64, generator=gen)).requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1, max_iter=2000, tolerance_grad=1e-14, tolerance_change=1e-16,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = vicreg_objective(x @ theta.T, groups, beta=beta) + lam * theta.pow(2).sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    final = float(closure().detach())
    # No spurious minima: every start reaches the closed-form optimum (to 1e-9, L-BFGS's stopping tolerance).
    assert final == pytest.approx(sol.objective, rel=1e-9)
    z_opt = x.detach().numpy() @ theta.detach().numpy().T
    assert np.abs(gram_of(z_opt) - gram_of(sol.transform(phi))).max() < 1e-5


def test_operator_convention_is_penalty_with_twice_lambda(rng):
    phi, groups = make_views(rng)
    a = feature_closed_form(phi, groups, k=3, lam=0.3, convention="operator")
    b = feature_closed_form(phi, groups, k=3, lam=0.6, convention="penalty")
    assert a.penalty == b.penalty == 0.6
    assert np.allclose(a.nu, b.nu, atol=1e-14) and np.allclose(a.coef, b.coef, atol=1e-14)


def test_nu_are_eigenvalues_of_t_minus_half_lambda_k_inv(rng):
    phi, groups = make_views(rng, p=5)
    lam = 0.4
    sol = feature_closed_form(phi, groups, k=2, lam=lam)
    n, m = 30, 3
    sigma = phi.T @ phi / (n * m)
    sums = phi.reshape(n, m, -1).sum(1)
    cross = (sums.T @ sums - phi.T @ phi) / (n * m * (m - 1))
    w, u = np.linalg.eigh(sigma)
    sh = u / np.sqrt(w)
    op = sh.T @ cross @ sh - (lam / 2) * np.diag(1 / w)  # T - (lam/2) K^{-1} in whitened coordinates
    assert np.allclose(np.sort(np.linalg.eigvalsh(op))[::-1], sol.nu, atol=1e-12)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_scale_equivariance(rng, scale):
    phi, groups = make_views(rng)
    ref = feature_closed_form(phi, groups, k=3, lam=0.1)
    big = feature_closed_form(phi * scale, groups, k=3, lam=0.1 * scale ** 2)
    # phi -> c phi with lam -> c^2 lam is the same problem: identical embeddings (relative 1e-10).
    assert np.abs(gram_of(big.transform(phi * scale)) - gram_of(ref.transform(phi))).max() < 1e-10
    kref = kernel_closed_form(phi @ phi.T, groups, k=3, lam=0.1)
    kbig = kernel_closed_form((phi * scale) @ (phi * scale).T, groups, k=3, lam=0.1 * scale ** 2)
    assert np.abs(gram_of(kbig.transform((phi * scale) @ (phi * scale).T)) - gram_of(kref.transform(phi @ phi.T))
                  ).max() < 1e-10


def test_torch_path_matches_numpy(rng):
    phi, groups = make_views(rng)
    a = feature_closed_form(phi, groups, k=3, lam=0.1)
    b = feature_closed_form(torch.from_numpy(phi), torch.from_numpy(groups), k=3, lam=0.1)
    assert isinstance(b.coef, torch.Tensor) and isinstance(a.coef, np.ndarray)
    assert np.allclose(b.coef.numpy(), a.coef, atol=1e-14)
    z = b.transform(torch.from_numpy(phi))
    assert isinstance(z, torch.Tensor) and np.allclose(z.numpy(), a.transform(phi), atol=1e-14)
    g32 = kernel_closed_form(torch.from_numpy(phi @ phi.T).float(), groups, k=3, lam=0.1)
    assert g32.coef.dtype == torch.float32


def test_moments_form_matches_features(rng):
    phi, groups = make_views(rng, m=2)
    sol = feature_closed_form(phi, groups, k=3, lam=0.2)
    n = len(phi) // 2
    sigma = phi.T @ phi / len(phi)
    cross = (phi[0::2].T @ phi[1::2] + phi[1::2].T @ phi[0::2]) / (2 * n)
    mom = moment_closed_form(sigma, cross, k=3, lam=0.2)
    assert np.allclose(mom.nu, sol.nu, atol=1e-12) and mom.objective == pytest.approx(sol.objective, abs=1e-12)


def test_collapse_rank_and_variances():
    nu = np.array([0.95, 0.5, -2.0, -10.0])
    assert predicted_collapse_rank(nu, beta=1.0) == 2
    assert predicted_collapse_rank(nu, beta=5.0) == 3
    assert predicted_collapse_rank(nu, beta=5.0, k=2) == 2
    assert predicted_variances(nu, beta=5.0).tolist() == pytest.approx([0.99, 0.9, 0.4, 0.0])


def test_dimensional_and_complete_collapse(rng):
    phi, groups = make_views(rng)
    sols = [feature_closed_form(phi, groups, k=4, beta=0.8, lam=lam) for lam in np.logspace(-3, 3, 25)]
    ranks = [s.rank for s in sols]
    # Larger lambda: rank non-increasing, from full rank through dimensional collapse to complete collapse.
    assert ranks[0] == 4 and ranks[-1] == 0 and all(a >= b for a, b in itertools.pairwise(ranks))
    assert any(0 < r < 4 for r in ranks)
    assert np.all(sols[-1].coef == 0) and sols[-1].objective == pytest.approx(0.8 * 4)
    assert all(s.rank == predicted_collapse_rank(s.nu, beta=0.8, k=4) for s in sols)


# ----------------------------------------------------------------------------------------------- error paths
def test_bad_gram_matrices(rng):
    phi, groups = make_views(rng, n=5, m=2, p=3)
    k = phi @ phi.T
    bad = k.copy()
    bad[0, 1] += 1.0
    with pytest.raises(ValueError, match="gram must be symmetric"):
        kernel_closed_form(bad, groups, k=2)
    with pytest.raises(ValueError, match="gram must be positive semi-definite"):
        kernel_closed_form(k - 2 * np.abs(k).max() * np.eye(len(k)), groups, k=2)
    with pytest.raises(ValueError, match=r"gram must be a square \(N, N\)"):
        kernel_closed_form(k[:, :3], groups, k=2)
    with pytest.raises(ValueError, match="gram contains NaN"):
        kernel_closed_form(np.full_like(k, np.nan), groups, k=2)
    with pytest.raises(ValueError, match="identically zero"):
        kernel_closed_form(np.zeros_like(k), groups, k=2)
    with pytest.raises(ValueError, match="at least 2 rows"):
        kernel_closed_form(np.ones((1, 1)), [0], k=1)
    with pytest.raises(ValueError, match="kernel is constant"):
        kernel_closed_form(np.ones_like(k), groups, k=1, center=True)


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_bad_hyperparameters(rng, solver):
    phi, groups = make_views(rng, n=5, m=2, p=3)
    fn = feature_closed_form if solver == "primal" else kernel_closed_form
    data = phi if solver == "primal" else phi @ phi.T
    with pytest.raises(ValueError, match=r"beta must be in \(0.0"):
        fn(data, groups, k=2, beta=0.0)
    with pytest.raises(ValueError, match=r"beta must be in \(0.0"):
        fn(data, groups, k=2, beta=-1.0)
    with pytest.raises(ValueError, match=r"lam must be in \[0.0"):
        fn(data, groups, k=2, lam=-0.1)
    with pytest.raises(ValueError, match="convention must be one of"):
        fn(data, groups, k=2, convention="half")
    with pytest.raises(ValueError, match="k=4 exceeds the rank r=3"):
        fn(data, groups, k=4)
    with pytest.raises(ValueError, match="k must be >= 1"):
        fn(data, groups, k=0)
    with pytest.raises(TypeError, match="k must be an integer"):
        fn(data, groups, k=2.5)
    with pytest.raises(ValueError, match=r"tol must be in \[0.0, 1.0\]"):
        fn(data, groups, k=2, tol=2.0)


@pytest.mark.parametrize("solver", ["primal", "dual"])
def test_bad_groups(rng, solver):
    phi, _ = make_views(rng, n=4, m=3, p=3)
    fn = feature_closed_form if solver == "primal" else kernel_closed_form
    data = phi if solver == "primal" else phi @ phi.T
    with pytest.raises(ValueError, match="groups is required"):
        fn(data, None, k=2)
    with pytest.raises(ValueError, match="same number of views; got between 2 and 4"):
        fn(data, [0, 0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3], k=2)
    with pytest.raises(ValueError, match="at least 2 views"):
        fn(data, np.arange(12), k=2)
    with pytest.raises(ValueError, match="groups has 5 ids but there are 12 views"):
        fn(data, np.arange(5), k=2)
    with pytest.raises(ValueError, match="groups must be 1-D"):
        fn(data, np.zeros((12, 2)), k=2)


def test_bad_features_and_transform(rng):
    phi, groups = make_views(rng, n=5, m=2, p=3)
    with pytest.raises(ValueError, match="features contains 1 NaN"):
        bad = phi.copy()
        bad[0, 0] = np.nan
        feature_closed_form(bad, groups, k=2)
    with pytest.raises(ValueError, match="second moment is zero"):
        feature_closed_form(np.zeros_like(phi), groups, k=1)
    sol = feature_closed_form(phi, groups, k=2)
    with pytest.raises(ValueError, match=r"x must have 3 columns \(features\)"):
        sol.transform(phi[:, :2])
    dual = kernel_closed_form(phi @ phi.T, groups, k=2)
    with pytest.raises(ValueError, match="x must have 10 columns"):
        dual.transform(phi)


def test_bad_moment_inputs():
    with pytest.raises(ValueError, match="cross_moment must have the shape"):
        moment_closed_form(np.eye(3), np.eye(2), k=1)
    with pytest.raises(ValueError, match="cross_moment contains NaN"):
        moment_closed_form(np.eye(2), np.full((2, 2), np.nan), k=1)
    with pytest.raises(ValueError, match="second_moment must be positive semi-definite"):
        moment_closed_form(-np.eye(2), np.eye(2), k=1)


def test_bad_spectrum_inputs():
    with pytest.raises(ValueError, match="nu contains NaN"):
        predicted_variances([0.5, np.nan])
    with pytest.raises(ValueError, match=r"beta must be in \(0.0"):
        predicted_variances([0.5], beta=0)
    with pytest.raises(ValueError, match=r"beta must be in \(0.0"):
        predicted_collapse_rank([0.5], beta=-1)
    with pytest.raises(ValueError, match=r"k must be in \[1, 2\]"):
        predicted_collapse_rank([0.5, 0.1], k=3)
    with pytest.raises(ValueError, match="groups has 3 ids"):
        vicreg_objective(np.ones((4, 2)), [0, 0, 1])


def test_collapse_rank_is_only_the_measured_one_in_diagnostics():
    # the predicted rank has one name here; collapse_rank belongs to infossl.diagnostics
    import infossl.spectral as spectral

    with pytest.raises(AttributeError, match="no attribute 'collapse_rank'"):
        spectral.collapse_rank  # noqa: B018
