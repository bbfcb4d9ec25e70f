"""Tests for infossl.estimators.mixture (pairwise-distance bounds for Gaussian mixtures)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.special import logsumexp

import infossl
from infossl.estimators.mixture import (
    mixture_entropy,
    mixture_entropy_bounds,
    mixture_mutual_information,
    pairwise_divergence,
)

LOG_2PI_E = math.log(2 * math.pi * math.e)
DISTANCES = ["kl", "bhattacharyya", "chernoff"]


def random_mixture(seed: int, n: int = 6, k: int = 3):
    """Moderately overlapping general-covariance mixture with random weights."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(scale=1.5, size=(n, k))
    a = rng.normal(size=(n, k, k))
    cov = a @ a.transpose(0, 2, 1) / k + 0.2 * np.eye(k)
    w = rng.dirichlet(np.full(n, 2.0))
    return mu, cov, w


def gaussian_entropy_np(cov: np.ndarray) -> float:
    k = cov.shape[-1]
    return 0.5 * (k * LOG_2PI_E + np.linalg.slogdet(cov)[1])


def kl_np(m0, s0, m1, s1) -> float:
    """KL(N(m0, s0) || N(m1, s1)) with numpy.linalg."""
    k = len(m0)
    p1 = np.linalg.inv(s1)
    d = m1 - m0
    return 0.5 * (np.trace(p1 @ s0) + d @ p1 @ d - k + np.linalg.slogdet(s1)[1] - np.linalg.slogdet(s0)[1])


def chernoff_np(m0, s0, m1, s1, a) -> float:
    """-ln int N(m0, s0)^a N(m1, s1)^(1-a) with numpy.linalg."""
    sb = (1 - a) * s0 + a * s1
    d = m1 - m0
    return a * (1 - a) / 2 * d @ np.linalg.solve(sb, d) + 0.5 * (
        np.linalg.slogdet(sb)[1] - (1 - a) * np.linalg.slogdet(s0)[1] - a * np.linalg.slogdet(s1)[1]
    )


@pytest.fixture(params=[0, 1, 2])
def seed(request):
    return request.param


# ------------------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("distance", DISTANCES)
def test_well_separated_reaches_upper_limit(distance):
    # Components 200 std apart: exp(-D) < exp(-200^2/8), so the estimate equals H(X|C) + H(C) to rounding.
    rng = np.random.default_rng(0)
    n, k = 5, 4
    mu = 200.0 * np.eye(n, k) * np.arange(1, n + 1)[:, None]
    sig = rng.uniform(0.5, 1.5, size=n)
    w = rng.dirichlet(np.ones(n))
    h_cond = float(np.sum(w * 0.5 * k * (LOG_2PI_E + 2 * np.log(sig))))
    h_c = float(-np.sum(w * np.log(w)))
    est = mixture_entropy(mu, sigma=sig, weights=w, distance=distance, alpha=0.3)
    assert est == pytest.approx(h_cond + h_c, abs=1e-10)
    # equal weights: H(C) = ln n
    est = mixture_entropy(mu, sigma=1.0, distance=distance)
    assert est == pytest.approx(0.5 * k * LOG_2PI_E + math.log(n), abs=1e-10)
    assert mixture_mutual_information(mu, sigma=1.0, distance=distance) == pytest.approx(
        math.log(n), abs=1e-10
    )


@pytest.mark.parametrize("distance", DISTANCES)
def test_single_component_is_exact(distance):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 0.1 * np.eye(3)
    mu = rng.normal(size=(1, 3))
    assert mixture_entropy(mu, cov=cov[None], distance=distance) == pytest.approx(
        gaussian_entropy_np(cov), abs=1e-12
    )
    assert mixture_mutual_information(mu, cov=cov[None], distance=distance) == 0.0
    b = mixture_entropy_bounds(mu, cov=cov[None])
    for v in (b.lower, b.upper, b.gaussian, b.conditional):
        assert v == pytest.approx(gaussian_entropy_np(cov), abs=1e-12)


def test_identical_components_collapse_to_one():
    # Every D_ij = 0, so the mixture of copies is one Gaussian and the estimate is exact.
    mu = np.zeros((4, 2))
    assert mixture_entropy(mu, sigma=2.0) == pytest.approx(LOG_2PI_E + 2 * math.log(2.0), abs=1e-12)
    assert mixture_mutual_information(mu, sigma=2.0, distance="bhattacharyya") == pytest.approx(
        0.0, abs=1e-15
    )


def test_monte_carlo_ordering(seed):
    # Reference: H = -E log p(X) from n_mc samples, log p by logsumexp over components. At n_mc = 100k the
    # standard error is ~0.004 nats (std of log p ~ 1.3), so 3 SE ~ 0.013, while the smallest gap to
    # either bound over these mixtures is 0.17 nats (measured at n_mc = 200k: BD/MC/KL gaps 0.17-0.60).
    mu, cov, w = random_mixture(seed)
    n, k = mu.shape
    rng = np.random.default_rng(1000 + seed)
    n_mc = 100_000
    chol = np.linalg.cholesky(cov)
    comp = rng.choice(n, size=n_mc, p=w)
    x = mu[comp] + np.einsum("nab,nb->na", chol[comp], rng.normal(size=(n_mc, k)))
    logp = np.empty((n_mc, n))
    for i in range(n):
        d = np.linalg.solve(chol[i], (x - mu[i]).T)
        logp[:, i] = (
            np.log(w[i])
            - 0.5 * (d**2).sum(0)
            - np.log(np.diag(chol[i])).sum()
            - 0.5 * k * math.log(2 * math.pi)
        )
    lp = logsumexp(logp, axis=1)
    h_mc, se = -lp.mean(), lp.std() / math.sqrt(n_mc)
    b = mixture_entropy_bounds(mu, cov=cov, weights=w)
    assert b.lower < h_mc - 3 * se
    assert h_mc + 3 * se < b.upper
    assert h_mc + 3 * se < b.gaussian
    assert b.conditional <= b.lower and b.upper <= b.conditional + b.index_entropy
    assert 3 * se < 0.25 * min(h_mc - b.lower, b.upper - h_mc)  # the check above is informative
    # Chernoff at any alpha is a lower bound too
    for a in (0.1, 0.7):
        assert mixture_entropy(mu, cov=cov, weights=w, distance="chernoff", alpha=a) < h_mc - 3 * se


def test_gaussian_bound_matches_moment_matching(seed):
    mu, cov, w = random_mixture(seed)
    mbar = w @ mu
    sz = np.einsum("i,iab->ab", w, cov) + np.einsum("i,ia,ib->ab", w, mu - mbar, mu - mbar)
    assert mixture_entropy_bounds(mu, cov=cov, weights=w).gaussian == pytest.approx(
        gaussian_entropy_np(sz), abs=1e-12
    )
    # shared full covariance goes through whitening: same moment-matched value
    sz2 = cov[0] + np.einsum("i,ia,ib->ab", w, mu - mbar, mu - mbar)
    got = mixture_entropy_bounds(mu, cov=cov[0], weights=w).gaussian
    assert got == pytest.approx(gaussian_entropy_np(sz2), abs=1e-12)


# ------------------------------------------------------------------------- independent closed forms


@pytest.mark.parametrize("alpha", [0.5, 0.2])
def test_pairwise_divergence_two_components(seed, alpha):
    mu, cov, _ = random_mixture(seed, n=2, k=4)
    kl = pairwise_divergence(mu, cov=cov)
    ch = pairwise_divergence(mu, cov=cov, distance="chernoff", alpha=alpha)
    assert isinstance(kl, np.ndarray) and kl.shape == (2, 2)
    for i, j in [(0, 1), (1, 0)]:
        assert kl[i, j] == pytest.approx(kl_np(mu[i], cov[i], mu[j], cov[j]), rel=1e-12)
        assert ch[i, j] == pytest.approx(chernoff_np(mu[i], cov[i], mu[j], cov[j], alpha), rel=1e-12)
    assert np.all(np.diag(kl) == 0) and np.all(np.diag(ch) == 0)
    bd = pairwise_divergence(mu, cov=cov, distance="bhattacharyya", alpha=0.9)  # alpha ignored for BD
    assert bd[0, 1] == pytest.approx(chernoff_np(mu[0], cov[0], mu[1], cov[1], 0.5), rel=1e-12)
    assert bd[0, 1] == pytest.approx(bd[1, 0], rel=1e-12)


@pytest.mark.parametrize("alpha", [0.5, 0.25])
def test_pairwise_divergence_by_quadrature(alpha):
    # 1-D: integrate the definitions numerically (independent of every closed form).
    m0, s0, m1, s1 = 0.3, 0.7, -0.9, 1.6

    def pdf(x, m, s):
        return math.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    kl_q = integrate.quad(lambda x: pdf(x, m0, s0) * math.log(pdf(x, m0, s0) / pdf(x, m1, s1)), -15, 15)[0]
    ch_q = -math.log(
        integrate.quad(lambda x: pdf(x, m0, s0) ** alpha * pdf(x, m1, s1) ** (1 - alpha), -20, 20)[0]
    )
    d_kl = pairwise_divergence(np.array([[m0], [m1]]), sigma=np.array([s0, s1]))
    d_ch = pairwise_divergence(
        np.array([[m0], [m1]]), sigma=np.array([s0, s1]), distance="chernoff", alpha=alpha
    )
    assert d_kl[0, 1] == pytest.approx(kl_q, rel=1e-9)  # quad's default tolerance is ~1.5e-8 absolute
    assert d_ch[0, 1] == pytest.approx(ch_q, rel=1e-9)


# -------------------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("k", [1, 3, 7])
def test_bhattacharyya_kl_identity_isotropic(seed, k):
    # Equal isotropic components: H_BD(sigma) = H_KL(2 sigma) + (K/2) ln(1/4).
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(20, k))
    bd = mixture_entropy(mu, sigma=0.6, distance="bhattacharyya")
    kl = mixture_entropy(mu, sigma=1.2, distance="kl")
    assert bd == pytest.approx(kl + 0.5 * k * math.log(0.25), abs=1e-12)


@pytest.mark.parametrize("distance", DISTANCES)
def test_covariance_forms_agree(seed, distance):
    # The same mixture written as per-component sigma / diagonal / full covariances, and as a shared
    # sigma / shared full / repeated full covariance, gives the same value to rounding.
    rng = np.random.default_rng(seed)
    n, k = 7, 3
    mu = rng.normal(size=(n, k))
    w = rng.dirichlet(np.ones(n))
    sig = rng.uniform(0.3, 2.0, size=n)
    kw = dict(weights=w, distance=distance, alpha=0.3)
    ref = mixture_entropy(mu, sigma=sig, **kw)
    assert mixture_entropy(mu, cov=np.repeat(sig[:, None] ** 2, k, 1), **kw) == pytest.approx(ref, abs=1e-12)
    assert mixture_entropy(mu, cov=np.eye(k) * sig[:, None, None] ** 2, **kw) == pytest.approx(ref, abs=1e-12)
    shared = mixture_entropy(mu, sigma=0.8, **kw)
    assert mixture_entropy(mu, cov=np.full((n, k), 0.64), **kw) == pytest.approx(shared, abs=1e-12)
    assert mixture_entropy(mu, cov=0.64 * np.eye(k), **kw) == pytest.approx(shared, abs=1e-12)
    assert mixture_entropy(mu, cov=np.tile(0.64 * np.eye(k), (n, 1, 1)), **kw) == pytest.approx(
        shared, abs=1e-12
    )
    # a shared general full covariance: whitened path == repeated full path
    _, cov, _ = random_mixture(seed, n=1, k=k)
    one = mixture_entropy(mu, cov=cov[0], **kw)
    assert mixture_entropy(mu, cov=np.repeat(cov, n, 0), **kw) == pytest.approx(one, abs=1e-11)


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("form", ["shared", "iso", "diag", "full"])
def test_chunked_equals_one_shot(distance, form):
    rng = np.random.default_rng(3)
    n, k = 11, 3
    mu, cov, w = random_mixture(3, n=n, k=k)
    opts = {
        "shared": dict(sigma=0.7),
        "iso": dict(sigma=rng.uniform(0.5, 1, n)),
        "diag": dict(cov=rng.uniform(0.2, 1, (n, k))),
        "full": dict(cov=cov),
    }[form]
    one = mixture_entropy(mu, weights=w, distance=distance, alpha=0.4, chunk_size=n, **opts)
    dmat = pairwise_divergence(mu, distance=distance, alpha=0.4, chunk_size=n, **opts)
    for c in (1, 4):
        assert mixture_entropy(
            mu, weights=w, distance=distance, alpha=0.4, chunk_size=c, **opts
        ) == pytest.approx(one, abs=1e-13)
        np.testing.assert_allclose(
            pairwise_divergence(mu, distance=distance, alpha=0.4, chunk_size=c, **opts),
            dmat,
            rtol=1e-13,
            atol=1e-13,
        )
    assert mixture_entropy(mu, weights=w, distance=distance, alpha=0.4, **opts) == pytest.approx(
        one, abs=1e-13
    )


@pytest.mark.parametrize("s", [1e30, 1e-30, 3.7])
@pytest.mark.parametrize("form", ["shared", "iso", "diag", "full", "shared_full"])
def test_scale_equivariance(s, form):
    # Scaling means by s and covariances by s^2 adds K ln s to H and leaves I(Z;C) unchanged.
    rng = np.random.default_rng(4)
    n, k = 6, 3
    mu, cov, w = random_mixture(4, n=n, k=k)
    sig = rng.uniform(0.5, 1.5, n)
    dv = rng.uniform(0.2, 1, (n, k))
    make = {
        "shared": lambda t: dict(sigma=0.9 * t),
        "iso": lambda t: dict(sigma=sig * t),
        "diag": lambda t: dict(cov=dv * t * t),
        "full": lambda t: dict(cov=cov * t * t),
        "shared_full": lambda t: dict(cov=cov[0] * t * t),
    }[form]
    for d in ("kl", "bhattacharyya"):
        h1 = mixture_entropy(mu, weights=w, distance=d, **make(1.0))
        hs = mixture_entropy(mu * s, weights=w, distance=d, **make(s))
        assert hs == pytest.approx(h1 + k * math.log(s), abs=1e-9 * max(1.0, abs(k * math.log(s))))
        i1 = mixture_mutual_information(mu, weights=w, distance=d, **make(1.0))
        assert mixture_mutual_information(mu * s, weights=w, distance=d, **make(s)) == pytest.approx(
            i1, abs=1e-10
        )


def test_translation_and_permutation_invariance():
    mu, cov, w = random_mixture(5)
    h = mixture_entropy(mu, cov=cov, weights=w)
    assert mixture_entropy(mu + 1e3, cov=cov, weights=w) == pytest.approx(h, abs=1e-9)
    p = np.random.default_rng(0).permutation(len(w))
    assert mixture_entropy(mu[p], cov=cov[p], weights=w[p]) == pytest.approx(h, abs=1e-12)


def test_zero_weight_component_is_ignored():
    mu, cov, w = random_mixture(6, n=5)
    w0 = np.append(w, 0.0)
    mu0 = np.vstack([mu, [[0.1, 0.2, 0.3]]])
    cov0 = np.concatenate([cov, np.eye(3)[None]])
    for d in DISTANCES:
        assert mixture_entropy(mu0, cov=cov0, weights=w0, distance=d) == pytest.approx(
            mixture_entropy(mu, cov=cov, weights=w, distance=d), abs=1e-12
        )


def test_mutual_information_range(seed):
    mu, cov, w = random_mixture(seed, n=8)
    h_c = -np.sum(w * np.log(w))
    lo = mixture_mutual_information(mu, cov=cov, weights=w, distance="bhattacharyya")
    hi = mixture_mutual_information(mu, cov=cov, weights=w, distance="kl")
    assert 0 <= lo <= hi <= h_c
    b = mixture_entropy_bounds(mu, cov=cov, weights=w)
    assert b.upper - b.conditional == pytest.approx(hi, abs=1e-12)
    assert b.index_entropy == pytest.approx(h_c, abs=1e-12)


# ---------------------------------------------------------------------------------- numpy vs torch


@pytest.mark.parametrize("distance", DISTANCES)
def test_numpy_equals_torch(distance):
    mu, cov, w = random_mixture(7)
    ref = mixture_entropy(mu, cov=cov, weights=w, distance=distance, alpha=0.3)
    got = mixture_entropy(
        torch.from_numpy(mu),
        cov=torch.from_numpy(cov),
        weights=torch.from_numpy(w),
        distance=distance,
        alpha=0.3,
    )
    assert isinstance(got, torch.Tensor) and got.ndim == 0 and got.dtype == torch.float64
    assert float(got) == pytest.approx(ref, abs=1e-13)
    d = pairwise_divergence(torch.from_numpy(mu), cov=cov, distance=distance, alpha=0.3)
    assert isinstance(d, torch.Tensor) and d.shape == (6, 6)
    np.testing.assert_allclose(
        d.numpy(), pairwise_divergence(mu, cov=cov, distance=distance, alpha=0.3), rtol=1e-13, atol=1e-13
    )
    # float32 tensors stay float32, close to the float64 value
    got32 = mixture_entropy(
        torch.from_numpy(mu).float(),
        cov=torch.from_numpy(cov).float(),
        weights=torch.from_numpy(w).float(),
        distance=distance,
        alpha=0.3,
    )
    assert got32.dtype == torch.float32 and float(got32) == pytest.approx(ref, abs=1e-4)
    b = mixture_entropy_bounds(torch.from_numpy(mu), sigma=0.5)
    assert all(isinstance(v, torch.Tensor) for v in b)


# ------------------------------------------------------------------------------------------ gradients


@pytest.mark.parametrize("distance", ["kl", "chernoff"])
def test_gradcheck_full(distance):
    mu, cov, w = random_mixture(8, n=4, k=2)
    m = torch.tensor(mu, requires_grad=True)
    c = torch.tensor(cov, requires_grad=True)
    fn = lambda m_, c_: mixture_entropy(m_, cov=c_, weights=w, distance=distance, alpha=0.3)
    assert torch.autograd.gradcheck(fn, (m, c))


@pytest.mark.parametrize("form", ["shared", "iso", "diag", "shared_full"])
def test_gradcheck_other_forms(form):
    rng = np.random.default_rng(9)
    n, k = 4, 3
    m = torch.tensor(rng.normal(size=(n, k)), requires_grad=True)
    p = {
        "shared": torch.tensor(0.8, dtype=torch.float64),
        "iso": torch.tensor(rng.uniform(0.5, 1.5, n)),
        "diag": torch.tensor(rng.uniform(0.5, 1.5, (n, k))),
        "shared_full": torch.tensor(np.eye(k) + 0.3),
    }[form].requires_grad_(True)
    key = "sigma" if form in ("shared", "iso") else "cov"
    for d in ("kl", "bhattacharyya"):

        def fn(m_, p_, d=d):
            return mixture_entropy(m_, distance=d, **{key: p_})

        assert torch.autograd.gradcheck(fn, (m, p))


# ------------------------------------------------------------------------------------------ error paths


def test_errors():
    mu = np.zeros((3, 2))
    with pytest.raises(ValueError, match="exactly one of sigma= .* got neither"):
        mixture_entropy(mu)
    with pytest.raises(ValueError, match="got both"):
        mixture_entropy(mu, sigma=1.0, cov=np.eye(2))
    with pytest.raises(ValueError, match=r"sigma must be a scalar or have shape \(3,\)"):
        mixture_entropy(mu, sigma=np.ones(2))
    with pytest.raises(ValueError, match=r"sigma must be positive; sigma\[1\] = -1.0"):
        mixture_entropy(mu, sigma=np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="sigma contains NaN"):
        mixture_entropy(mu, sigma=float("nan"))
    with pytest.raises(ValueError, match=r"cov must have shape .* got \(3, 3, 2\)"):
        mixture_entropy(mu, cov=np.ones((3, 3, 2)))
    with pytest.raises(ValueError, match=r"cov of shape \(3, 3\) is ambiguous"):
        mixture_entropy(np.zeros((3, 3)), cov=np.eye(3))
    with pytest.raises(ValueError, match=r"diagonal cov must be positive; cov\[2, 1\] = 0.0 \(component 2"):
        mixture_entropy(mu, cov=np.array([[1.0, 1], [1, 1], [1, 0]]))
    bad = np.tile(np.eye(2), (3, 1, 1))
    bad[1] = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(ValueError, match=r"cov\[1\] is not positive definite"):
        mixture_entropy(mu, cov=bad)
    with pytest.raises(ValueError, match=r"the shared cov is not positive definite"):
        mixture_entropy(mu, cov=bad[1])
    with pytest.raises(ValueError, match=r"cov\[0\] is not positive definite: its diagonal"):
        mixture_entropy(mu, cov=-np.tile(np.eye(2), (3, 1, 1)))
    asym = np.tile(np.eye(2), (3, 1, 1))
    asym[2, 0, 1] = 0.5
    with pytest.raises(ValueError, match=r"cov\[2\] is not symmetric"):
        mixture_entropy(mu, cov=asym)
    with pytest.raises(ValueError, match="cov contains NaN"):
        mixture_entropy(mu, cov=np.full((3, 2), np.inf))
    with pytest.raises(ValueError, match=r"weights must have shape \(3,\)"):
        mixture_entropy(mu, sigma=1.0, weights=np.ones(2) / 2)
    with pytest.raises(ValueError, match=r"weights must be non-negative; weights\[0\] = -0.5"):
        mixture_entropy(mu, sigma=1.0, weights=np.array([-0.5, 0.5, 1.0]))
    with pytest.raises(ValueError, match=r"weights must sum to 1 .* got sum 0.9"):
        mixture_entropy(mu, sigma=1.0, weights=np.array([0.3, 0.3, 0.3]))
    with pytest.raises(ValueError, match="distance must be one of"):
        mixture_entropy(mu, sigma=1.0, distance="hellinger")
    with pytest.raises(ValueError, match=r"alpha must be in \(0.0, 1.0\), got 1.0"):
        mixture_entropy(mu, sigma=1.0, distance="chernoff", alpha=1.0)
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got 0"):
        mixture_entropy(mu, sigma=1.0, chunk_size=0)
    with pytest.raises(ValueError, match="means contains 1 NaN"):
        mixture_entropy(np.array([[np.nan, 0.0]]), sigma=1.0)
    with pytest.raises(ValueError, match="means must be 2-D"):
        pairwise_divergence(np.zeros((2, 2, 2)), sigma=1.0)
    with pytest.raises(TypeError, match="boolean dtype"):
        mixture_entropy(np.zeros((2, 2), dtype=bool), sigma=1.0)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, None])
def test_symmetric_bhattacharyya_path_equals_full_matrix(chunk_size):
    # Full covariances with the Bhattacharyya distance take the pruned unordered-pair path; it must
    # equal the estimator assembled from the full (n, n) divergence matrix.
    rng = np.random.default_rng(7)
    n, k = 10, 3
    a = rng.standard_normal((n, k, k))
    cov = a @ a.transpose(0, 2, 1) + 0.3 * np.eye(k)
    mu = rng.standard_normal((n, k))
    w = rng.dirichlet(np.ones(n))
    d = pairwise_divergence(mu, cov=cov, distance="bhattacharyya")
    h_cond = np.sum(w * 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1])
    expected = h_cond - np.sum(w * np.log(np.exp(-d) @ w))
    got = mixture_entropy(mu, cov=cov, weights=w, distance="bhattacharyya", chunk_size=chunk_size)
    assert got == pytest.approx(expected, rel=1e-12)


def _dense_pairwise_entropy(mu, cov, w, distance, alpha=0.5):
    d = pairwise_divergence(mu, cov=cov, distance=distance, alpha=alpha)
    h_cond = np.sum(w * 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1])
    keep = w > 0
    inner = np.log(np.exp(-d[keep]) @ w)
    return h_cond - np.sum(w[keep] * inner)


@pytest.mark.parametrize("distance,alpha", [("bhattacharyya", 0.5), ("chernoff", 0.3)])
@pytest.mark.parametrize("chunk_size", [2, None])
def test_pruned_pairs_equal_dense_on_partly_separated_mixture(distance, alpha, chunk_size):
    # A random walk of components: divergences spread from < 1 to > 80 (pairs on both sides of the pruning
    # threshold, and many in between whose e^{-D} is far above rounding), plus a far-away cluster whose
    # pairs with the rest are all pruned. The pruned path must equal the dense (n, n) estimator to rounding,
    # since every skipped pair changes a row sum by less than a quarter of an ulp.
    rng = np.random.default_rng(11)
    n, k = 24, 4
    a = rng.standard_normal((n, k, k))
    cov = 0.01 * (a @ a.transpose(0, 2, 1) + 0.3 * np.eye(k))
    mu = np.cumsum(0.3 * rng.standard_normal((n, k)), axis=0)
    mu[18:] += 1e3
    w = rng.dirichlet(np.ones(n))
    w[5] = 0.0
    w /= w.sum()
    expected = _dense_pairwise_entropy(mu, cov, w, distance, alpha)
    got = mixture_entropy(mu, cov=cov, weights=w, distance=distance, alpha=alpha, chunk_size=chunk_size)
    assert np.isfinite(got)
    assert abs(got - expected) < 1e-13  # pruning at a threshold of 6 instead of ~43 already moves it 1e-11


def test_pruned_pairs_keep_gradients():
    # The pruned path stays differentiable in the means and covariances (same gradient as the dense sum).
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    n, k = 8, 3
    a = rng.standard_normal((n, k, k))
    cov0 = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(k)
    mu0 = rng.standard_normal((n, k))
    mu0[4:] += 100.0                                           # two groups: cross pairs are pruned
    mu = torch.tensor(mu0, requires_grad=True)
    cov = torch.tensor(cov0, requires_grad=True)
    h = mixture_entropy(mu, cov=cov, distance="bhattacharyya")
    h.backward()
    mu_d = torch.tensor(mu0, requires_grad=True)
    cov_d = torch.tensor(cov0, requires_grad=True)
    d = torch.as_tensor(pairwise_divergence(mu_d, cov=cov_d, distance="bhattacharyya"))
    hc = 0.5 * torch.logdet(2 * torch.pi * torch.e * cov_d).mean()
    dense = hc - torch.log(torch.exp(-d).mean(1)).mean()
    dense.backward()
    assert h.item() == pytest.approx(dense.item(), rel=1e-12)
    assert torch.allclose(mu.grad, mu_d.grad, rtol=1e-9, atol=1e-12)
    assert torch.allclose(cov.grad, cov_d.grad, rtol=1e-9, atol=1e-12)


def test_float32_rows_at_1e30_are_an_error_not_nan():
    # squared distances of 1e30-apart means over unit components (~1e61) do not fit float32: refused
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0)) * 1e30
    match = r"mixture_entropy is not finite in torch.float32: the component means lie up to \S+ standard dev"
    with pytest.raises(ValueError, match=match):
        infossl.entropy(z, method="mixture", sigma=1.0)
    for call in (mixture_mutual_information, pairwise_divergence, mixture_entropy_bounds):
        with pytest.raises(ValueError, match=r"not finite in torch.float32.*Pass float64 input"):
            call(z, sigma=1.0)
    # the same rows in float64 fit, and the well separated mixture reaches H(Z|C) + ln n
    h = mixture_entropy(z.double(), sigma=1.0)
    assert float(h) == pytest.approx(1.5 * LOG_2PI_E + math.log(50))


def test_component_variances_too_far_apart_for_float32_are_an_error():
    sigma = torch.tensor([1e30, 1e-30, 1.0])
    with pytest.raises(ValueError, match=r"the smallest variance is 0 times the largest"):
        mixture_entropy(torch.zeros(3, 2), sigma=sigma)
