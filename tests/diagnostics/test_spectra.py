"""infossl.diagnostics._spectra: singular values and covariance spectra against numpy, the spectrum checks,
the entropy rank."""

import numpy as np
import pytest
import torch

from infossl import DegenerateInputWarning
from infossl.diagnostics import covariance_spectrum, singular_values


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


def test_spectrum_tensor_sorts_clips_rounding_and_refuses_bad_input():
    from infossl.diagnostics._spectra import spectrum_tensor

    lam, b = spectrum_tensor(np.array([1.0, 3.0, -1e-12, 2.0]))
    assert lam.tolist() == [3.0, 2.0, 1.0, 0.0] and lam.dtype == torch.float64 and not b.is_torch
    for bad, match in (([[1.0]], "non-empty 1-D"), ([], "non-empty 1-D"), ([1.0, np.nan], "NaN or infinite"),
                       ([1.0, -0.5], "must be non-negative")):
        with pytest.raises(ValueError, match=match):
            spectrum_tensor(np.asarray(bad, dtype=float))


def test_entropy_rank_closed_forms():
    from infossl.diagnostics._spectra import entropy_rank

    # r equal singular values: the entropy of the uniform distribution, exp(log r) = r
    assert float(entropy_rank(torch.full((5,), 4.0, dtype=torch.float64), 0.0)) == pytest.approx(5.0)
    assert float(entropy_rank(torch.tensor([9.0, 0.0, 0.0], dtype=torch.float64), 0.0)) == pytest.approx(1.0)
    with pytest.warns(DegenerateInputWarning, match="all singular values are zero"):
        assert float(entropy_rank(torch.zeros(3, dtype=torch.float64), 1e-7)) == 0.0


def test_eigvalsh_desc_and_serial_lapack():
    from infossl.diagnostics._spectra import eigvalsh_desc, serial_lapack

    a = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    assert eigvalsh_desc(a).tolist() == pytest.approx([3.0, 1.0])
    before = torch.get_num_threads()
    with serial_lapack(torch.device("cpu")):
        pass
    assert torch.get_num_threads() == before
