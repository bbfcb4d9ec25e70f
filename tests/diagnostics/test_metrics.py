"""Spectrum and geometric collapse metrics: closed forms on constructed matrices, independent numpy
references, spectrum level == data level, numpy == torch, scale invariance, and error paths."""

import math

import numpy as np
import pytest
import torch

from infossl import DegenerateInputWarning
from infossl.diagnostics import (
    alignment,
    alpha_req,
    alpha_req_from_spectrum,
    covariance_spectrum,
    effective_rank,
    effective_rank_from_spectrum,
    lidar,
    nesum,
    nesum_from_spectrum,
    normalized_std,
    offdiagonal_energy,
    rankme,
    rankme_from_spectrum,
    singular_values,
    stable_rank,
    stable_rank_from_spectrum,
    uniformity,
    variance_fraction,
)

from ._data import with_spectrum




def entropy_rank_ref(s, eps):
    p = np.asarray(s, float) / np.sum(s) + eps
    return float(np.exp(-np.sum(p * np.log(p))))


# --------------------------------------------------------------------------------------------- spectra
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
# --------------------------------------------------------------------------------------------- LiDAR
# --------------------------------------------------------------------------------------------- geometry
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
def test_center_is_the_one_name(f, rng):
    z = rng.standard_normal((30, 4)) + 3.0
    assert not np.array_equal(f(z, center=False), f(z, center=True))
    with pytest.raises(TypeError, match="centered"):
        f(z, centered=True)
