"""infossl.diagnostics.spectrum_shape: alpha-ReQ (power-law decay of the spectrum) and LiDAR (LDA rank of views)."""

import numpy as np
import pytest

from infossl import DegenerateInputWarning
from infossl.diagnostics import alpha_req, alpha_req_from_spectrum, lidar, lidar_from_scatter

from ._data import with_spectrum




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


def test_lidar_of_wide_views_factored_equals_scatter_route():
    import torch

    from ._data import entry_budget

    rng = np.random.default_rng(5)
    for n, q, d in [(10, 2, 100), (6, 3, 40)]:
        v = rng.standard_normal((n, q, d)) * rng.uniform(0.1, 3, d)
        t = torch.from_numpy(v / np.abs(v).max())
        mu = t.mean(dim=1)
        dev, w = mu - mu.mean(dim=0), (t - mu[:, None]).reshape(n * q, d)
        scatter = lidar_from_scatter(dev.T @ dev / (n - 1), w.T @ w / (n * (q - 1)))
        assert float(lidar(v)) == pytest.approx(float(scatter), rel=1e-10)
    v = rng.standard_normal((10, 2, 2000))
    lidar(v[:, :, :50])
    with entry_budget(2000 * 2000 // 4):
        assert 1 <= lidar(v) < 10  # at most n - 1 = 9, plus the eps terms of the 2000 eigenvalues
