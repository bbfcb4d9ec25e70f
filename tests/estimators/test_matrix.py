"""Tests for infossl.estimators.matrix (matrix-based Rényi entropy and mutual information)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform

from infossl.estimators.matrix import matrix_entropy, renyi_entropy, renyi_mutual_information

ALPHAS = [0.5, 1.0, 2.0, 3.5]


@pytest.fixture(params=[0, 1, 2])
def seed(request):
    return request.param


def gram_np(z: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian Gram matrix by scipy pairwise distances (independent of the module's matmul identity)."""
    return np.exp(-squareform(pdist(z, "sqeuclidean")) / (2 * sigma**2))


def entropy_np(g: np.ndarray, alpha: float) -> float:
    """Reference S_alpha from numpy eigenvalues of the trace-normalised matrix; eigenvalues below
    numpy's matrix_rank tolerance n * eps * lambda_max count as zero (the documented convention)."""
    lam = np.linalg.eigvalsh(g / np.trace(g))
    lam = lam[lam > len(lam) * np.finfo(float).eps * lam[-1]]
    lam = lam / lam.sum()
    if alpha == 1.0:
        return float(-np.sum(lam * np.log(lam)))
    return float(np.log(np.sum(lam**alpha)) / (1 - alpha))


def lower_median_distance(z: np.ndarray) -> float:
    d = np.sort(pdist(z))
    d = d[d > 0]
    return float(d[(len(d) - 1) // 2])


# ------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize("alpha", ALPHAS)
def test_identical_points_have_zero_entropy(alpha):
    z = np.tile([[1.5, -2.0, 3.0]], (10, 1))
    assert renyi_entropy(z, alpha=alpha) == pytest.approx(0.0, abs=1e-12)
    assert renyi_entropy(z, alpha=alpha, sigma=0.01) == pytest.approx(0.0, abs=1e-12)
    assert matrix_entropy(np.ones((10, 10)), alpha=alpha) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("alpha", ALPHAS + [1 + 1e-6])
def test_far_apart_points_give_log_n(alpha):
    # Grid spacing 1, width 0.01: off-diagonal kernel values exp(-5000) = 0, so A = I / n exactly.
    z = np.stack(np.meshgrid(np.arange(4.0), np.arange(5.0)), -1).reshape(-1, 2)
    assert renyi_entropy(z, alpha=alpha, sigma=0.01) == pytest.approx(math.log(20), abs=1e-12)
    assert matrix_entropy(3.0 * np.eye(20), alpha=alpha) == pytest.approx(math.log(20), abs=1e-12)


def test_entropy_decreases_with_width_and_lies_in_range(seed):
    z = np.random.default_rng(seed).normal(size=(60, 3))
    values = [renyi_entropy(z, sigma=s) for s in (0.1, 0.5, 1.0, 3.0, 30.0)]
    assert all(0 <= v <= math.log(60) + 1e-12 for v in values)
    assert all(a > b for a, b in zip(values, values[1:]))


# ----------------------------------------------------------------------------- independent formulas


@pytest.mark.parametrize("alpha", ALPHAS)
def test_matches_numpy_reference(seed, alpha):
    z = np.random.default_rng(seed).normal(size=(40, 3))
    g = gram_np(z, 1.3)
    assert renyi_entropy(z, alpha=alpha, sigma=1.3) == pytest.approx(entropy_np(g, alpha), abs=1e-11)
    assert matrix_entropy(g, alpha=alpha) == pytest.approx(entropy_np(g, alpha), abs=1e-11)
    # a linear-kernel Gram (rank 3 < n): zero eigenvalues are handled with 0 log 0 = 0
    lin = z @ z.T
    assert matrix_entropy(lin, alpha=alpha) == pytest.approx(entropy_np(lin, alpha), abs=1e-11)
    assert matrix_entropy(lin, alpha=alpha) <= math.log(3) + 1e-12


def test_alpha_two_is_log_frobenius(seed):
    z = np.random.default_rng(seed).normal(size=(30, 2))
    a = gram_np(z, 0.8) / 30
    assert renyi_entropy(z, alpha=2.0, sigma=0.8) == pytest.approx(-math.log(np.sum(a**2)), abs=1e-12)


def test_default_width_is_lower_median_distance(seed):
    z = np.random.default_rng(seed).normal(size=(25, 4))
    z[3] = z[7]  # a duplicate: zero distances are ignored by the default width
    s = lower_median_distance(z)
    for alpha in (1.0, 2.0):
        assert renyi_entropy(z, alpha=alpha) == pytest.approx(
            renyi_entropy(z, alpha=alpha, sigma=s), abs=1e-12
        )


def test_alpha_continuity_at_one(seed):
    # S_alpha = S_1 - (alpha - 1) Var_lam[ln lam] / 2 + O((alpha - 1)^2); checked against numpy's direct
    # quotient (error ~ 1e-16 * 10 / |alpha - 1| <= 1e-10 at these offsets) and against the derivative.
    z = np.random.default_rng(seed).normal(size=(50, 2))
    g = gram_np(z, 0.7)
    lam = np.linalg.eigvalsh(g / np.trace(g))
    lam = lam[lam > len(lam) * np.finfo(float).eps * lam[-1]]
    s1 = entropy_np(g, 1.0)
    var = np.sum(lam * (np.log(lam) + s1) ** 2)
    for delta in (1e-2, 1e-4, 1e-5, -1e-5, 1e-7, -1e-9, 1e-12):
        got = renyi_entropy(z, alpha=1 + delta, sigma=0.7)
        assert got == pytest.approx(s1 - delta * var / 2, abs=5 * delta**2 * var + 1e-12)
        if abs(delta) >= 1e-5:
            assert got == pytest.approx(entropy_np(g, 1 + delta), abs=1e-9)
    # non-increasing in alpha across 1
    grid = [0.5, 0.9, 1 - 1e-6, 1.0, 1 + 1e-6, 1.1, 2.0]
    vals = [renyi_entropy(z, alpha=a, sigma=0.7) for a in grid]
    assert all(a >= b for a, b in zip(vals, vals[1:]))


# ------------------------------------------------------------------------------ mutual information


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_self_information_identity(seed, alpha):
    # K o K for a Gaussian kernel of width s is the Gaussian Gram of width s / sqrt(2), and
    # tr(A o A) = 1/n, so A_xx = Gram(s/sqrt 2) / n and I(x; x) = 2 S^s - S^{s/sqrt 2} (not S^s).
    x = np.random.default_rng(seed).normal(size=(40, 2))
    s = 0.9
    h, h_narrow = (
        renyi_entropy(x, alpha=alpha, sigma=s),
        renyi_entropy(x, alpha=alpha, sigma=s / math.sqrt(2)),
    )
    mi = renyi_mutual_information(x, x, alpha=alpha, sigma=s)
    assert mi == pytest.approx(2 * h - h_narrow, abs=1e-11)
    assert 0 < mi < h  # joint entropy >= each marginal entropy


def test_mutual_information_independent_vs_dependent(seed):
    # n = 200 independent Gaussians (30 seeds, measured): I in [0.51, 0.62] at alpha = 0.5, [0.10, 0.14] at
    # alpha = 1, [-0.022, 0.038] at alpha = 2 -- a positive small-sample bias, never below -0.05. A noisy
    # copy (noise std 0.1) must stand clearly above the independent value at every order.
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(200, 2)), rng.normal(size=(200, 3))
    x_noisy = x + 0.1 * rng.normal(size=x.shape)
    for alpha, bias in ((0.5, 0.7), (1.0, 0.2), (2.0, 0.06)):
        indep = renyi_mutual_information(x, y, alpha=alpha)
        assert -0.05 < indep < bias
        assert renyi_mutual_information(x, x_noisy, alpha=alpha) > indep + 0.3


def test_mutual_information_sigma_pair_and_symmetry():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 1))
    y = y + x[:, :1]
    i_xy = renyi_mutual_information(x, y, sigma=(0.8, 1.7))
    assert i_xy == pytest.approx(renyi_mutual_information(y, x, sigma=(1.7, 0.8)), abs=1e-12)
    ax, ay = gram_np(x, 0.8), gram_np(y, 1.7)
    ref = entropy_np(ax, 1.0) + entropy_np(ay, 1.0) - entropy_np(ax * ay, 1.0)
    assert i_xy == pytest.approx(ref, abs=1e-11)
    assert renyi_mutual_information(x, y, sigma=0.8) == pytest.approx(
        renyi_mutual_information(x, y, sigma=(0.8, 0.8)), abs=1e-14
    )


# -------------------------------------------------------------------------------------- invariances


def test_permutation_invariance(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(35, 2)), rng.normal(size=(35, 2))
    p = rng.permutation(35)
    assert renyi_entropy(x[p]) == pytest.approx(renyi_entropy(x), abs=1e-12)
    assert renyi_mutual_information(x[p], y[p]) == pytest.approx(renyi_mutual_information(x, y), abs=1e-12)


@pytest.mark.parametrize("s", [1e30, 1e-30, 7.0])
def test_scale_invariance(s):
    rng = np.random.default_rng(6)
    z, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    for alpha in (1.0, 2.0):
        assert renyi_entropy(z * s, alpha=alpha) == pytest.approx(renyi_entropy(z, alpha=alpha), abs=1e-11)
        assert renyi_entropy(z * s, alpha=alpha, sigma=0.9 * s) == pytest.approx(
            renyi_entropy(z, alpha=alpha, sigma=0.9), abs=1e-11
        )
        assert renyi_mutual_information(z * s, y, alpha=alpha) == pytest.approx(
            renyi_mutual_information(z, y, alpha=alpha), abs=1e-11
        )
    g = gram_np(z, 1.0)
    assert matrix_entropy(g * s) == pytest.approx(matrix_entropy(g), abs=1e-12)
    # translation and rotation
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    assert renyi_entropy(z @ q + 1e3) == pytest.approx(renyi_entropy(z), abs=1e-9)


# ---------------------------------------------------------------------------------- numpy vs torch


@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.5])
def test_numpy_equals_torch(alpha):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    got = renyi_entropy(torch.from_numpy(x), alpha=alpha)
    assert isinstance(got, torch.Tensor) and got.ndim == 0 and got.dtype == torch.float64
    assert float(got) == pytest.approx(renyi_entropy(x, alpha=alpha), abs=1e-13)
    got = renyi_mutual_information(torch.from_numpy(x), torch.from_numpy(y), alpha=alpha)
    assert float(got) == pytest.approx(renyi_mutual_information(x, y, alpha=alpha), abs=1e-13)
    g = gram_np(x, 1.0)
    assert float(matrix_entropy(torch.from_numpy(g), alpha=alpha)) == pytest.approx(
        matrix_entropy(g, alpha=alpha), abs=1e-13
    )
    # float32 stays float32. Eigenvalues below n * eps32 * lambda_max ~ 5e-6 are dropped, which moves
    # sum lambda^alpha visibly only for alpha < 1 (measured: 4e-3 at alpha = 0.5, 7e-5 at 1, 1e-5 at 2).
    got32 = renyi_entropy(torch.from_numpy(x).float(), alpha=alpha)
    tol = 1e-2 if alpha < 1 else 5e-4
    assert got32.dtype == torch.float32 and float(got32) == pytest.approx(
        renyi_entropy(x, alpha=alpha), abs=tol
    )


# ------------------------------------------------------------------------------------------ gradients


@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.7, 1 + 1e-5])
def test_gradcheck(alpha):
    rng = np.random.default_rng(8)
    z = torch.tensor(rng.normal(size=(7, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(7, 1)))
    assert torch.autograd.gradcheck(lambda t: renyi_entropy(t, alpha=alpha, sigma=1.1), (z,))
    assert torch.autograd.gradcheck(lambda t: renyi_entropy(t, alpha=alpha), (z,))  # through the median width
    assert torch.autograd.gradcheck(lambda t: renyi_mutual_information(t, y, alpha=alpha, sigma=1.1), (z,))
    g = torch.tensor(gram_np(rng.normal(size=(6, 2)), 1.0), requires_grad=True)
    # symmetrise: gradcheck perturbs single entries, which an asymmetric-input check would refuse
    assert torch.autograd.gradcheck(lambda t: matrix_entropy((t + t.T) / 2, alpha=alpha), (g,))


# ------------------------------------------------------------------------------------------ error paths


def test_errors():
    z = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"alpha must be in \(0.0, inf\), got 0.0"):
        renyi_entropy(z, alpha=0.0)
    with pytest.raises(ValueError, match="alpha must be finite, got inf"):
        matrix_entropy(np.eye(3), alpha=float("inf"))
    with pytest.raises(TypeError, match="alpha must be a real number"):
        renyi_entropy(z, alpha="1")
    with pytest.raises(ValueError, match=r"sigma must be in \(0.0, inf\), got -1.0"):
        renyi_entropy(z, sigma=-1.0)
    with pytest.raises(ValueError, match=r"sigma\[1\] must be in \(0.0, inf\), got 0.0"):
        renyi_mutual_information(z, z, sigma=(1.0, 0.0))
    with pytest.raises(TypeError, match="sigma must be None, a positive number or a pair"):
        renyi_mutual_information(z, z, sigma=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match=r"z has n=10 samples, more than max_samples=5.*Subsample"):
        renyi_entropy(z, max_samples=5)
    with pytest.raises(ValueError, match=r"x has n=10 samples, more than max_samples=9"):
        renyi_mutual_information(z, z, max_samples=9)
    with pytest.raises(ValueError, match=r"gram has n=3 samples, more than max_samples=2"):
        matrix_entropy(np.eye(3), max_samples=2)
    with pytest.raises(ValueError, match="max_samples must be >= 1, got 0"):
        renyi_entropy(z, max_samples=0)
    with pytest.raises(ValueError, match=r"x and y must have the same number of samples .* got 10 and 9"):
        renyi_mutual_information(z, z[:9])
    with pytest.raises(ValueError, match=r"gram must be a square \(n, n\) matrix, got shape \(2, 3\)"):
        matrix_entropy(np.ones((2, 3)))
    with pytest.raises(ValueError, match="gram contains NaN"):
        matrix_entropy(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match=r"gram must be symmetric; max \|gram - gram\^T\| = 0.5"):
        matrix_entropy(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="gram must have a positive trace, got 0"):
        matrix_entropy(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="gram is not positive semidefinite: smallest eigenvalue"):
        matrix_entropy(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="z contains 1 NaN"):
        renyi_entropy(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="z must be 2-D"):
        renyi_entropy(np.zeros((3, 2, 2)))
    with pytest.raises(TypeError, match="boolean dtype"):
        renyi_entropy(np.zeros((3, 2), dtype=bool))
