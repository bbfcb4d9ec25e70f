r"""The shared linear algebra and Gaussian formulas, written once.

Every package above this one (estimators, deterministic, diagnostics, objectives, training) takes these
small formulas from here instead of keeping its own copy; ``infossl.synthetic`` keeps a float64 numpy twin
of the two it needs for exact ground truth. All functions are torch, differentiable where the maths is,
and work on any device.

* :data:`LOG_2PI`, :data:`LOG_2PI_E` -- :math:`\log 2\pi` and :math:`\log 2\pi e`.
* :func:`chol_logdet` -- :math:`\log\det A` of a symmetric positive-definite matrix by Cholesky, or ``None``
  when it is numerically singular (the caller decides what singular means for its quantity).
* :func:`logdet_of_cholesky` -- :math:`\log\det A = 2\sum_i \log L_{ii}` from a Cholesky factor the caller
  already holds (single matrices and batches; the caller handles a failed factorisation).
* :func:`numerical_rank_basis` -- an orthonormal basis of the numerical column space of a PSD matrix.
* :func:`gaussian_entropy_from_logdet` -- :math:`\tfrac12\log\det(2\pi e\Sigma)
  = \tfrac12(d\log 2\pi e + \log\det\Sigma)`, the differential entropy of :math:`N(\mu, \Sigma)` in nats.
* :func:`centred`, :func:`centred_cov` -- column-centred data and its sample covariance.
* :func:`gram_of_chunks` -- :math:`Z^\top Z` summed over row blocks of Z that are made one at a time, so
  that Z itself is never held.
* :func:`small_second_moment` -- :math:`Z_c^\top Z_c` or :math:`Z_c Z_c^\top`, whichever is smaller; both
  have the same non-zero eigenvalues, so spectra of wide data (n << d) cost :math:`O(n^2 d)`.
* :func:`max_abs_deviation`, :func:`column_deviation`, :func:`positive_or_one` -- the overflow-safe scale:
  the largest absolute deviation from the mean, read off the extremes (no centred copy). Dividing by it
  before squaring keeps every square in [0, 1], so data at 1e30 or 1e-30 neither overflow nor underflow.
* :func:`column_std`, :func:`standardize` -- per-column deviation computed on that scale, and division by it.
* :func:`stable_rank_of` -- :math:`\sum_k\lambda_k/\lambda_1` of a non-negative spectrum.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

import torch

__all__ = ["LOG_2PI", "LOG_2PI_E", "centred", "centred_cov", "chol_logdet", "column_deviation", "column_std",
           "gaussian_entropy_from_logdet", "gram_of_chunks", "logdet_of_cholesky", "max_abs_deviation",
           "numerical_rank_basis", "positive_or_one", "small_second_moment", "stable_rank_of", "standardize"]

LOG_2PI = math.log(2 * math.pi)
LOG_2PI_E = math.log(2 * math.pi * math.e)


def chol_logdet(a: torch.Tensor, *, rtol: Optional[float] = None) -> Optional[torch.Tensor]:
    r""":math:`\log\det A` of a symmetric positive-definite ``a`` (..., d, d) by Cholesky, or ``None``.

    ``None`` when the factorisation fails or a pivot is below ``rtol`` times the largest (default
    :math:`\sqrt{10\,d\,\epsilon}`, so that the condition number is below about :math:`1/(10 d \epsilon)`):
    then the log-determinant is dominated by rounding and the caller must regularise or report
    :math:`-\infty`. Batched input returns one value per matrix and ``None`` if any of them is singular.

    Examples
    --------
    >>> import torch
    >>> round(float(chol_logdet(torch.diag(torch.tensor([2.0, 3.0], dtype=torch.float64)))), 6)  # log 6
    1.791759
    >>> chol_logdet(torch.zeros(2, 2, dtype=torch.float64)) is None
    True
    """
    chol, info = torch.linalg.cholesky_ex(a)
    if bool((info != 0).any()):
        return None
    diag = torch.diagonal(chol, dim1=-2, dim2=-1)  # (..., d)
    d = a.shape[-1]
    tol = rtol if rtol is not None else math.sqrt(d * 10 * torch.finfo(a.dtype).eps)
    top = diag.detach().amax(dim=-1, keepdim=True)  # (..., 1)
    if bool((diag <= top * tol).any()) or not bool(torch.isfinite(diag).all()):
        return None
    return logdet_of_cholesky(chol)


def logdet_of_cholesky(chol: torch.Tensor) -> torch.Tensor:
    r""":math:`\log\det A = 2\sum_i \log L_{ii}` from the lower Cholesky factor ``chol`` (..., d, d) of ``A``.

    One value per matrix, shape (...). No check: the caller has factorised ``A`` itself (it usually needs
    the factor for solves too) and decides what a failed factorisation means.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[4.0, 2.0], [2.0, 5.0]], dtype=torch.float64)   # det 16
    >>> round(float(logdet_of_cholesky(torch.linalg.cholesky(a))), 6)
    2.772589
    """
    return 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)


def numerical_rank_basis(cov: torch.Tensor, rtol: Optional[float] = None) -> tuple[torch.Tensor, int]:
    r"""Orthonormal basis (d, r) of the numerical column space of a PSD matrix ``cov`` (d, d), and its rank r.

    The eigenvectors whose eigenvalues exceed ``rtol`` times the largest (default :math:`10\,d\,\epsilon`);
    no gradient flows through the basis.

    Examples
    --------
    >>> import torch
    >>> basis, rank = numerical_rank_basis(torch.diag(torch.tensor([2.0, 0.0, 1.0], dtype=torch.float64)))
    >>> rank, tuple(basis.shape)
    (2, (3, 2))
    """
    evals, evecs = torch.linalg.eigh(cov.detach())
    d = cov.shape[0]
    tol = (rtol if rtol is not None else d * torch.finfo(cov.dtype).eps * 10) * evals[-1].clamp_min(0)
    keep = evals > tol
    return evecs[:, keep], int(keep.sum())


def gaussian_entropy_from_logdet(logdet, dim: int):
    r"""Differential entropy :math:`\tfrac12(d\log 2\pi e + \log\det\Sigma)` of a d-dimensional Gaussian, nats.

    Examples
    --------
    >>> round(gaussian_entropy_from_logdet(0.0, 1), 6)   # N(0, 1): 0.5 log(2 pi e)
    1.418939
    """
    return 0.5 * (dim * LOG_2PI_E + logdet)


def centred(z: torch.Tensor) -> torch.Tensor:
    """``z`` (n, d) minus its column means."""
    return z - z.mean(dim=0, keepdim=True)


def centred_cov(z: torch.Tensor, *, ddof: int = 1) -> torch.Tensor:
    r"""Sample covariance :math:`Z_c^\top Z_c/(n - \mathrm{ddof})` of the rows of ``z`` (n, d) -> (d, d)."""
    zc = centred(z)
    return zc.T @ zc / (z.shape[0] - ddof)


def gram_of_chunks(chunks: Iterable[torch.Tensor]) -> torch.Tensor:
    r""":math:`Z^\top Z = \sum_k Z_k^\top Z_k` (d, d) from the consecutive row blocks :math:`Z_k` (rows, d)
    of Z.

    The blocks may be produced one at a time (a generator), so only one of them and the (d, d) sum are held;
    the result equals the one-shot product up to the order of summation. Needs at least one block.

    Examples
    --------
    >>> import torch
    >>> z = torch.randn(10, 3, dtype=torch.float64)
    >>> bool(torch.allclose(gram_of_chunks(z[i:i + 4] for i in range(0, 10, 4)), z.T @ z))
    True
    """
    total = None
    for block in chunks:
        total = block.T @ block if total is None else total.addmm_(block.T, block)
    if total is None:
        raise ValueError("gram_of_chunks needs at least one row block")
    return total


def small_second_moment(zc: torch.Tensor) -> torch.Tensor:
    r""":math:`Z^\top Z` (d, d) when d <= n, else the Gram matrix :math:`Z Z^\top` (n, n).

    Both have the same non-zero eigenvalues, so a spectrum, log-determinant of :math:`I + cZ^\top Z`
    (determinant lemma) or trace costs :math:`O(\min(n,d)^2\max(n,d))` instead of :math:`O(d^3)`.

    Examples
    --------
    >>> import torch
    >>> z = torch.randn(5, 40, dtype=torch.float64)
    >>> small_second_moment(z).shape
    torch.Size([5, 5])
    >>> bool(torch.allclose(torch.linalg.eigvalsh(small_second_moment(z)), torch.linalg.eigvalsh(z.T @ z)[-5:]))
    True
    """
    n, d = zc.shape
    return zc.T @ zc if d <= n else zc @ zc.T


def max_abs_deviation(lo: torch.Tensor, hi: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    r"""The largest :math:`|z - \mu|` over values whose extremes are ``lo`` and ``hi``: :math:`\max(hi - \mu,
    \mu - lo)`, elementwise (any matching shapes).

    Equal, bit for bit, to ``(z - mean).abs().amax()`` over the same values (a rounded difference is monotone
    in z and odd), without forming ``z - mean``; the extremes can be gathered over row chunks.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[1.0, -4.0], [3.0, 2.0]])
    >>> max_abs_deviation(*torch.aminmax(z, dim=0, keepdim=True), z.mean(dim=0, keepdim=True)).tolist()
    [[1.0, 3.0]]
    """
    return torch.maximum(hi - mean, mean - lo)


def column_deviation(t: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Largest absolute deviation (1, d) of each column of ``t`` (n, d) from ``mean`` (1, d)
    (:func:`max_abs_deviation` of the column extremes); 0 for a constant column."""
    return max_abs_deviation(*torch.aminmax(t, dim=0, keepdim=True), mean)


def positive_or_one(scale: torch.Tensor) -> torch.Tensor:
    """``scale`` with its zero entries replaced by 1: a divisor that leaves constant (zero-deviation) data as
    they are."""
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def column_std(t: torch.Tensor) -> torch.Tensor:
    """Per-column standard deviation (1, d), computed after dividing by the column's max-abs deviation
    (:func:`column_deviation`), so that values near 1e30 or 1e-30 neither overflow nor underflow. Constant
    columns give 0."""
    mean = t.mean(dim=0, keepdim=True)  # the reduction of centred()
    m = positive_or_one(column_deviation(t, mean))  # (1, d)
    return m * ((t - mean) / m).std(dim=0, keepdim=True)


def standardize(t: torch.Tensor, *, center: bool = False, reference: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
    """Divide every non-constant column of ``t`` by its standard deviation (and subtract its mean when
    ``center``). The statistics come from ``reference`` rows when given (e.g. a training split), else from
    ``t``; constant columns are left unscaled (and become 0 when centred).

    Examples
    --------
    >>> import torch
    >>> s = standardize(torch.tensor([[1.0, 5.0], [3.0, 5.0]]), center=True)
    >>> s.tolist()
    [[-0.7071067690849304, 0.0], [0.7071067690849304, 0.0]]
    """
    ref = t if reference is None else reference
    std = column_std(ref)  # (1, d)
    out = t - ref.mean(dim=0, keepdim=True) if center else t
    return out / positive_or_one(std)


def stable_rank_of(eigenvalues: torch.Tensor) -> torch.Tensor:
    r"""Stable rank :math:`\sum_k\lambda_k/\max_k\lambda_k` of a non-negative spectrum (0 for the zero matrix)."""
    top = eigenvalues.amax()
    return torch.where(top > 0, eigenvalues.sum() / torch.where(top > 0, top, torch.ones_like(top)),
                       torch.zeros_like(top))
