"""The shared formulas of infossl.linalg against closed forms."""
import math

import numpy as np
import pytest
import torch

from infossl import linalg


def test_constants():
    assert linalg.LOG_2PI == pytest.approx(math.log(2 * math.pi))
    assert linalg.LOG_2PI_E == pytest.approx(1 + math.log(2 * math.pi))


def test_chol_logdet_matches_slogdet_batched_and_flags_singular():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 6, 6, generator=g, dtype=torch.float64)
    spd = a @ a.transpose(-1, -2) + 0.1 * torch.eye(6, dtype=torch.float64)
    assert torch.allclose(linalg.chol_logdet(spd), torch.linalg.slogdet(spd)[1])
    assert torch.allclose(linalg.chol_logdet(spd[0]), torch.linalg.slogdet(spd[0])[1])
    v = torch.randn(6, 1, generator=g, dtype=torch.float64)
    assert linalg.chol_logdet(v @ v.T) is None  # rank 1
    assert linalg.chol_logdet(-torch.eye(3, dtype=torch.float64)) is None


def test_gaussian_entropy_from_logdet_closed_form():
    cov = np.diag([2.0, 0.5, 3.0])
    expected = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * cov))
    assert linalg.gaussian_entropy_from_logdet(math.log(np.linalg.det(cov)), 3) == pytest.approx(expected)


def test_centred_cov_matches_numpy():
    x = torch.randn(50, 4, dtype=torch.float64)
    assert np.allclose(linalg.centred_cov(x).numpy(), np.cov(x.numpy(), rowvar=False))
    assert np.allclose(linalg.centred_cov(x, ddof=0).numpy(), np.cov(x.numpy(), rowvar=False, bias=True))


@pytest.mark.parametrize("shape", [(40, 5), (5, 40)])
def test_small_second_moment_has_the_nonzero_spectrum(shape):
    z = torch.randn(*shape, dtype=torch.float64)
    m = linalg.small_second_moment(z)
    assert m.shape == (min(shape), min(shape))
    top = torch.linalg.eigvalsh(z.T @ z)[-min(shape):]
    assert torch.allclose(torch.linalg.eigvalsh(m), top)


def test_standardize_and_column_std_are_scale_safe():
    x = torch.tensor([[1e30, 1.0, 7.0], [-1e30, 3.0, 7.0], [3e30, 5.0, 7.0]], dtype=torch.float64)
    std = linalg.column_std(x)
    assert torch.isfinite(std).all() and std[0, 2] == 0
    s = linalg.standardize(x, center=True)
    assert torch.allclose(s.std(dim=0)[:2], torch.ones(2, dtype=torch.float64))
    assert torch.all(s[:, 2] == 0)
    ref = linalg.standardize(x[:2], center=True, reference=x)
    assert torch.allclose(ref, s[:2])


def test_stable_rank_of():
    assert float(linalg.stable_rank_of(torch.tensor([2.0, 1.0, 1.0]))) == 2.0
    assert float(linalg.stable_rank_of(torch.zeros(3))) == 0.0


def test_logdet_of_cholesky_single_and_batched():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 6, 6, dtype=torch.float64, generator=g)
    spd = a @ a.transpose(-1, -2) + 0.1 * torch.eye(6, dtype=torch.float64)  # (4, 6, 6)
    chol = torch.linalg.cholesky(spd)
    batched = linalg.logdet_of_cholesky(chol)
    assert batched.shape == (4,)
    assert torch.allclose(batched, torch.linalg.slogdet(spd)[1], rtol=1e-12)
    assert float(linalg.logdet_of_cholesky(chol[2])) == pytest.approx(float(batched[2]), rel=1e-14)
    assert torch.equal(linalg.chol_logdet(spd), batched)  # the checked route returns the same numbers


def test_numerical_rank_basis_spans_the_column_space():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(50, 3, dtype=torch.float64, generator=g) @ torch.randn(3, 7, dtype=torch.float64, generator=g)
    basis, rank = linalg.numerical_rank_basis(z.T @ z)
    assert rank == 3 and basis.shape == (7, 3)
    assert torch.allclose(basis.T @ basis, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(z @ basis @ basis.T, z, atol=1e-9)  # nothing of z is lost
    assert linalg.numerical_rank_basis(z.T @ z, rtol=0.5)[1] < 3


def test_the_overflow_safe_scale_is_the_centred_max_abs_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    for scale in (1e-30, 1.0, 1e30):
        t = torch.randn(300, 7, generator=g, dtype=torch.float64) * scale + 3.0 * scale
        mean = t.mean(dim=0, keepdim=True)
        assert torch.equal(linalg.column_deviation(t, mean), (t - mean).abs().amax(dim=0, keepdim=True))
        lo, hi = torch.aminmax(t, dim=0, keepdim=True)
        assert torch.equal(linalg.max_abs_deviation(lo, hi, mean), linalg.column_deviation(t, mean))
        assert torch.isfinite(linalg.column_std(t)).all()
    const = torch.ones(5, 2, dtype=torch.float64)
    assert linalg.column_deviation(const, const.mean(0, keepdim=True)).tolist() == [[0.0, 0.0]]
    assert linalg.positive_or_one(torch.tensor([0.0, 2.0])).tolist() == [1.0, 2.0]
