"""Spectrum and geometric collapse metrics: closed forms on constructed matrices, independent numpy
references, spectrum level == data level, numpy == torch, scale invariance, and error paths."""

import math

import numpy as np
import pytest
import torch

from infossl import DegenerateInputWarning
from infossl.diagnostics import (alignment, alpha_req, alpha_req_from_spectrum, covariance_spectrum,
                                 dead_dimensions, dimension_std, effective_rank, effective_rank_from_spectrum,
                                 lidar, lidar_from_scatter, nesum, nesum_from_spectrum, normalized_std,
                                 offdiagonal_energy, rankme, rankme_from_spectrum, singular_values,
                                 stable_rank,
                                 stable_rank_from_spectrum, uniformity, variance_fraction)


def with_spectrum(rng, sigmas, n, center=True):
    """(n, d) data whose (centred) singular values are exactly ``sigmas`` (d = len(sigmas))."""
    d = len(sigmas)
    a = rng.standard_normal((n, d))
    if center:
        a -= a.mean(0)
    q, _ = np.linalg.qr(a)  # orthonormal columns, centred when a is
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return q @ np.diag(sigmas) @ v.T


def entropy_rank_ref(s, eps):
    p = np.asarray(s, float) / np.sum(s) + eps
    return float(np.exp(-np.sum(p * np.log(p))))


# --------------------------------------------------------------------------------------------- spectra
def test_spectra_match_numpy(rng):
    z = rng.standard_normal((50, 6)) + 2
    np.testing.assert_allclose(singular_values(z), np.linalg.svd(z, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(singular_values(z, center=True),
                               np.linalg.svd(z - z.mean(0), compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(covariance_spectrum(z), np.linalg.eigvalsh(np.cov(z, rowvar=False))[::-1],
                               rtol=1e-10)
    np.testing.assert_allclose(covariance_spectrum(z, center=False), np.linalg.eigvalsh(z.T @ z / 50)[::-1],
                               rtol=1e-10)
    small = rng.standard_normal((3, 5))  # n < d: trailing eigenvalues are zero
    lam = covariance_spectrum(small)
    assert lam.shape == (5,) and np.all(lam[2:] < 1e-12 * lam[0])


def test_rankme_closed_forms(rng):
    sig = np.array([5.0, 3.0, 1.0, 0.5])
    z = with_spectrum(rng, sig, 40, center=False)
    for eps in (0.0, 1e-7, 1e-5):
        assert rankme(z, eps=eps) == pytest.approx(entropy_rank_ref(sig, eps), rel=1e-10)
        assert rankme_from_spectrum(sig ** 2, eps=eps) == pytest.approx(entropy_rank_ref(sig, eps), rel=1e-12)
    # identical rows: one non-zero singular value; with eps=1e-7 over min(n, d) = 128 values RankMe is
    # exp(-[(1+e)log(1+e) + 127 e log e]) = 1.000205 (peers section A: 1.0002), not 1.
    ones = np.ones((256, 128))
    expected = math.exp(-((1 + 1e-7) * math.log(1 + 1e-7) + 127 * 1e-7 * math.log(1e-7)))
    assert rankme(ones) == pytest.approx(expected, rel=1e-9)
    assert rankme(ones) == pytest.approx(1.000205, abs=1e-6)


def test_effective_rank_equal_singular_values(rng):
    z = with_spectrum(rng, [2.0, 2.0, 2.0, 0.0, 0.0], 30)
    assert effective_rank(z) == pytest.approx(3.0, abs=1e-6)  # zero singular values add 0 log 0 = 0
    assert effective_rank_from_spectrum([4.0, 4.0, 4.0, 0.0]) == pytest.approx(3.0, rel=1e-12)
    assert rankme(z, eps=0.0, center=True) == pytest.approx(effective_rank(z), rel=1e-12)


def test_stable_rank_and_nesum(rng):
    sig = np.array([3.0, 2.0, 1.0])
    z = with_spectrum(rng, sig, 30)
    assert nesum(z) == pytest.approx((9 + 4 + 1) / 9, rel=1e-10)
    assert stable_rank(z, center=True) == pytest.approx(nesum(z), rel=1e-12)
    assert nesum_from_spectrum(sig ** 2) == stable_rank_from_spectrum(sig ** 2) == pytest.approx(14 / 9)
    # Collapse onto a non-zero constant plus tiny noise: uncentred ~ 1, centred reads the noise as healthy.
    c = 3.0 + 1e-6 * rng.standard_normal((500, 8))
    assert stable_rank(c) == pytest.approx(1.0, abs=1e-9)
    assert nesum(c) > 4


def test_spectrum_level_equals_data_level(rng):
    z = rng.standard_normal((80, 10)) @ rng.standard_normal((10, 10)) + 1
    lam_u = singular_values(z) ** 2
    lam_c = covariance_spectrum(z)
    assert rankme(z) == pytest.approx(rankme_from_spectrum(lam_u), rel=1e-10)
    assert effective_rank(z) == pytest.approx(effective_rank_from_spectrum(lam_c), rel=1e-10)
    assert nesum(z) == pytest.approx(nesum_from_spectrum(lam_c), rel=1e-10)
    assert alpha_req(z) == pytest.approx(alpha_req_from_spectrum(lam_c), rel=1e-8)


# --------------------------------------------------------------------------------------------- alpha-ReQ
@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_alpha_req_exact_power_law(rng, alpha):
    d = 40
    z = with_spectrum(rng, np.arange(1, d + 1) ** (-alpha / 2), 300)  # covariance eigenvalues i^-alpha
    a, r2, lo, hi = alpha_req(z, return_fit=True)
    assert (lo, hi) == (5, 40)  # adaptive range below 100 eigenvalues: floor(m/10) + 1 .. m
    assert a == pytest.approx(alpha, abs=1e-8) and r2 == pytest.approx(1.0, abs=1e-10)


def test_alpha_req_fit_range():
    lam = np.arange(1, 201, dtype=float) ** -1.3
    a, _, lo, hi = alpha_req_from_spectrum(lam, return_fit=True)
    assert (lo, hi) == (11, 100) and a == pytest.approx(1.3, abs=1e-12)
    fr = [3, 50]
    assert alpha_req_from_spectrum(lam, fit_range=fr) == pytest.approx(1.3)
    assert fr == [3, 50]  # the caller's range is not modified
    # zeros (n <= d or exact collapse) are left out of the default range
    a, _, lo, hi = alpha_req_from_spectrum(np.concatenate([lam[:30], np.zeros(10)]), return_fit=True)
    assert (lo, hi) == (4, 30)
    with pytest.raises(ValueError, match="fit_range must be \\(lo, hi\\) with 1 <= lo < hi"):
        alpha_req_from_spectrum(lam, fit_range=(5, 5))
    with pytest.raises(ValueError, match="reaches rank 300 but only 200 eigenvalues are non-zero"):
        alpha_req_from_spectrum(lam, fit_range=(1, 300))
    with pytest.raises(ValueError, match="needs at least 3 non-zero eigenvalues"):
        alpha_req_from_spectrum([1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="all-zero spectrum"):
        alpha_req_from_spectrum([0.0, 0.0, 0.0])


# --------------------------------------------------------------------------------------------- LiDAR
def lidar_ref(views, delta, eps):
    """Independent numpy LiDAR, paper form (Thilak et al. 2023), with the relative ridge used here."""
    v = np.asarray(views, float)
    n, q, d = v.shape
    mu = v.mean(1)
    sb = np.cov(mu, rowvar=False)
    w = (v - mu[:, None]).reshape(-1, d)
    sw = w.T @ w / (n * (q - 1))
    sw = sw + delta * np.trace(sw) / d * np.eye(d)
    e, u = np.linalg.eigh(sw)
    isq = u @ np.diag(e ** -0.5) @ u.T
    lam = np.clip(np.linalg.eigvalsh(isq @ sb @ isq), 0, None)
    p = lam / lam.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def test_lidar_matches_reference_and_is_scale_free(rng):
    x = rng.standard_normal((300, 6)) @ np.diag([3, 2, 1, 1, 0.5, 0.1])
    views = np.stack([x + 0.3 * rng.standard_normal(x.shape) for _ in range(3)], axis=1)  # (300, 3, 6)
    value = lidar(views)
    assert value == pytest.approx(lidar_ref(views, 1e-4, 1e-7), rel=1e-9)
    assert lidar(views * 1e30) == pytest.approx(value, rel=1e-9)
    assert lidar([views[:, 0], views[:, 1], views[:, 2]]) == pytest.approx(value, rel=1e-12)
    # Isotropic within-input noise: Sigma_L ~ Sigma_b / sigma^2, so LiDAR = exp-entropy of the eigenvalues of
    # Sigma_b: ~d for isotropic inputs (n = 3000: sample eigenvalues within ~5 %, entropy loss < 0.1).
    w = rng.standard_normal((3000, 6))
    assert lidar(np.stack([w, w + 1e-3 * rng.standard_normal(w.shape)], 1)) == pytest.approx(6, abs=0.1)


def test_lidar_degenerate_and_errors(rng):
    x = rng.standard_normal((20, 3))
    with pytest.warns(DegenerateInputWarning, match="all embeddings equal"):
        assert lidar_from_scatter(np.zeros((3, 3)), np.zeros((3, 3))) == 0.0
    with pytest.raises(ValueError, match="at least 2 views"):
        lidar([x])
    with pytest.raises(ValueError, match="at least 2 views \\(axis 1\\), got 1"):
        lidar(x[:, None, :])
    with pytest.raises(ValueError, match="same shape"):
        lidar([x, x[:, :2]])
    with pytest.raises(ValueError, match="must be square matrices of the same shape"):
        lidar_from_scatter(np.eye(3), np.eye(2))
    with pytest.raises(ValueError, match="delta must be in"):
        lidar(np.stack([x, x], 1), delta=0.0)


# --------------------------------------------------------------------------------------------- geometry
def test_alignment_and_uniformity_brute_force(rng):
    x = rng.standard_normal((60, 5))
    y = x + 0.2 * rng.standard_normal(x.shape)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    v = y / np.linalg.norm(y, axis=1, keepdims=True)
    assert alignment(x, y) == pytest.approx(np.mean(np.sum((u - v) ** 2, 1)), rel=1e-12)
    assert alignment(x, y, alpha=1) == pytest.approx(np.mean(np.linalg.norm(u - v, axis=1)), rel=1e-12)
    i, j = np.triu_indices(60, 1)
    ref = np.log(np.mean(np.exp(-2 * np.sum((u[i] - u[j]) ** 2, 1))))
    assert uniformity(x) == pytest.approx(ref, rel=1e-10)
    assert uniformity(x, chunk_size=7) == pytest.approx(ref, rel=1e-12)  # chunked == one-shot
    xt = torch.from_numpy(x)
    ref1 = np.log(np.mean(np.exp(-np.sum((u[i] - u[j]) ** 2, 1))))
    assert float(uniformity(xt, t=1)) == pytest.approx(ref1)
    assert uniformity(np.ones((10, 3))) == 0.0  # complete collapse


def test_normalized_std_and_per_dimension(rng):
    z = rng.standard_normal((20000, 64))
    # isotropic: each normalised coordinate has variance 1/d -> mean std 1/sqrt(d) (sampling error ~1e-3)
    assert normalized_std(z) == pytest.approx(1 / 8, rel=0.01)
    assert normalized_std(5 + 1e-9 * z[:100]) < 1e-9
    np.testing.assert_allclose(dimension_std(z[:50]), z[:50].std(0, ddof=1), rtol=1e-12)
    w = z[:100].copy()
    w[:, 3] = 7.0  # constant column
    w[:, 5] = 2.0 + 1e-7 * w[:, 5]  # varies by 1e-7 around 2
    assert dead_dimensions(w) == 2
    assert dead_dimensions(np.zeros((4, 3))) == 3


def test_offdiagonal_energy_and_variance_fraction(rng):
    assert offdiagonal_energy(rng.standard_normal((200000, 3)) * [1, 2, 3]) < 1e-3
    x = rng.standard_normal((100, 1))
    # all 4 columns copies of one signal: every entry of C equal -> off-diagonal share 12/16
    assert offdiagonal_energy(np.hstack([x] * 4)) == pytest.approx(0.75, rel=1e-12)
    c = np.full(8, 3.0)
    noise = rng.standard_normal((1000, 8)) * 1e-3
    noise -= noise.mean(0)
    tv = np.sum(noise.var(0))
    assert variance_fraction(c + noise) == pytest.approx(tv / (tv + 72.0), rel=1e-8)
    assert variance_fraction(noise) == pytest.approx(1.0, rel=1e-12)
    assert variance_fraction(np.zeros((3, 2))) == 0.0


# --------------------------------------------------------------------------------------------- policy
def test_numpy_equals_torch(rng):
    z = rng.standard_normal((40, 6)) + 1
    t = torch.from_numpy(z)
    for f in (rankme, effective_rank, stable_rank, nesum, alpha_req, normalized_std, uniformity,
              offdiagonal_energy, variance_fraction):
        out = f(t)
        assert isinstance(out, torch.Tensor) or isinstance(out, float)
        assert float(out) == pytest.approx(f(z), rel=1e-12), f.__name__
    assert isinstance(rankme(t), torch.Tensor) and isinstance(rankme(z), float)


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_scale_free_metrics_at_extreme_scales(rng, scale):
    z = rng.standard_normal((100, 5)) + 1
    for f in (rankme, effective_rank, stable_rank, nesum, alpha_req, normalized_std, uniformity,
              offdiagonal_energy, variance_fraction):
        assert f(z * scale) == pytest.approx(f(z), rel=1e-9), f.__name__
    np.testing.assert_allclose(covariance_spectrum(z * scale) / scale ** 2, covariance_spectrum(z), rtol=1e-9)


def test_errors(rng):
    z = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="eps must be in \\[0.0, inf\\), got -1"):
        rankme(z, eps=-1.0)
    bad = z.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="1 NaN and 0 infinite values \\(first at row 4, column 2"):
        rankme(bad)
    with pytest.raises(ValueError, match="z needs at least 2 samples, got 1"):
        nesum(z[:1])
    with pytest.raises(ValueError, match="z must be 2-D"):
        effective_rank(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="eigenvalues must be non-negative"):
        rankme_from_spectrum([1.0, -1.0])
    with pytest.raises(ValueError, match="eigenvalues must be a non-empty 1-D array"):
        nesum_from_spectrum(np.eye(2))
    with pytest.raises(ValueError, match="eigenvalues contains NaN"):
        stable_rank_from_spectrum([1.0, np.nan])
    with pytest.raises(ValueError, match="x and y must have the same number of samples"):
        alignment(z, z[:5])
    with pytest.raises(ValueError, match="alpha-ReQ is undefined for constant z"):
        alpha_req(np.ones((5, 4)))
    with pytest.warns(DegenerateInputWarning, match="rank is reported as 0"):
        assert rankme(np.zeros((4, 3))) == 0.0
    with pytest.warns(DegenerateInputWarning, match="stable rank is reported as 0"):
        assert stable_rank(np.zeros((4, 3))) == 0.0


def test_small_eigensolvers_restore_the_thread_count(rng):
    before = torch.get_num_threads()
    x = rng.standard_normal((50, 4))
    lidar(np.stack([x, x + 0.1 * rng.standard_normal(x.shape)], 1))
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("f", [singular_values, covariance_spectrum, rankme, effective_rank, stable_rank])
def test_center_and_its_old_name_centered(f, rng):
    z = rng.standard_normal((30, 4)) + 3.0
    for center in (False, True):
        new = f(z, center=center)
        with pytest.warns(DeprecationWarning, match=rf"{f.__name__}\(centered=\.\.\.\) is now center=\.\.\."):
            old = f(z, centered=center)
        np.testing.assert_array_equal(old, new)
    with pytest.raises(TypeError, match="got both center= and its old name centered="):
        f(z, center=True, centered=True)
