"""Spectra of an (n, d) embedding matrix and the shared helpers of the spectrum metrics."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from infossl._backend import ArrayLike, Boundary, to_tensor
from infossl._validation import check_embeddings, warn_degenerate

__all__ = ["singular_values", "covariance_spectrum"]


@contextlib.contextmanager
def serial_lapack(device: torch.device) -> Iterator[None]:
    """Run small (d, d) eigen-decompositions on the CPU with one thread, then restore the thread count.

    LAPACK's symmetric eigensolvers open many short parallel regions; on a busy or oversubscribed CPU every
    region waits for a descheduled thread, and a 256 x 256 ``eigvalsh`` took 5 s with 2 threads against 3 ms
    with 1 on the 2-core development machine under load. For the d <= a few thousand matrices used here one
    thread is never the bottleneck.
    """
    threads = torch.get_num_threads()
    serial = device.type == "cpu" and threads > 1
    if serial:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if serial:
            torch.set_num_threads(threads)


def eigvalsh_desc(matrix: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a symmetric matrix in descending order, rounding negatives clipped to 0 (float64)."""
    with serial_lapack(matrix.device):
        return torch.linalg.eigvalsh(matrix.double()).flip(0).clamp_min(0)


# ----------------------------------------------------------------------------------------------- spectra
def _scaled_rows(z: ArrayLike, center: bool,
                 name: str = "z") -> tuple[torch.Tensor, torch.Tensor, Boundary]:
    t, b = check_embeddings(z, name=name, min_samples=2)
    if center:
        t = t - t.mean(dim=0, keepdim=True)  # (n, d)
    scale = t.detach().abs().amax()
    return (t / scale if scale > 0 else t), scale, b


def singular_values(z: ArrayLike, *, center: bool = False):
    r"""Singular values :math:`\sigma_1 \ge \dots \ge \sigma_{\min(n,d)}` of ``z`` (or of the centred ``z``).

    Parameters
    ----------
    z : array (n, d) or tensor
    center : bool, default False
        Subtract the column means first (then :math:`\sigma_k^2/(n-1)` are the covariance eigenvalues).

    Returns
    -------
    numpy array or tensor (min(n, d),), descending.

    Examples
    --------
    >>> import numpy as np
    >>> singular_values(np.diag([3.0, 4.0])).tolist()
    [4.0, 3.0]
    """
    t, scale, b = _scaled_rows(z, center)
    return b.finish_many(torch.linalg.svdvals(t) * scale)


def covariance_spectrum(z: ArrayLike, *, center: bool = True):
    r"""Eigenvalues of the covariance :math:`Z_c^T Z_c/(n-1)` (centred) or of :math:`Z^T Z/n` (uncentred).

    Returns all d eigenvalues in descending order (for n <= d the trailing ones are 0). Computed from the
    singular values of the rescaled data, so tiny eigenvalues keep their relative accuracy.

    Returns
    -------
    torch.Tensor or numpy.ndarray
        The eigenvalues in decreasing order, in the input's kind.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    >>> covariance_spectrum(z).round(4).tolist()
    [2.6667, 0.6667]
    """
    t, scale, b = _scaled_rows(z, center)
    n, d = t.shape
    s = torch.linalg.svdvals(t) * scale  # (min(n, d),)
    lam = s.pow(2) / (n - 1 if center else n)
    lam = torch.cat([lam, lam.new_zeros(d - lam.shape[0])])  # (d,)
    return b.finish_many(lam)


def spectrum_tensor(eigenvalues: ArrayLike, name: str = "eigenvalues") -> tuple[torch.Tensor, Boundary]:
    """1-D float64 tensor sorted in descending order, rounding negatives clipped to 0."""
    t, b = to_tensor(eigenvalues, name=name)
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    lam = t.double()
    if bool((lam < -1e-8 * lam.abs().max()).any()):
        raise ValueError(f"{name} must be non-negative (eigenvalues of a PSD matrix); "
                         f"min is {float(lam.min())}")
    return torch.sort(lam.clamp_min(0), descending=True).values, b


def data_spectrum(z: ArrayLike, center: bool) -> tuple[torch.Tensor, Boundary]:
    """Squared singular values (min(n, d),) of the rescaled (centred) data, descending, float64."""
    t, _, b = _scaled_rows(z, center)
    s = torch.linalg.svdvals(t.double())
    return s.pow(2), b


def entropy_rank(lam: torch.Tensor, eps: float) -> torch.Tensor:
    """exp of the Shannon entropy of the normalised singular values sqrt(lam) (RankMe's rank); 0-d tensor."""
    sigma = lam.sqrt()  # (k,)
    total = sigma.sum()
    if total == 0:
        warn_degenerate("all singular values are zero (the matrix is zero): the rank is reported as 0")
        return total
    p = sigma / total + eps
    return torch.exp(-torch.special.xlogy(p, p).sum())
