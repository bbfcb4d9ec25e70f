"""Small numpy helpers shared by the synthetic distributions (log-determinants, matrix checks)."""

from __future__ import annotations

import math

import numpy as np

from infossl._validation import check_int

LOG_2PI = math.log(2 * math.pi)
LOG_2PI_E = math.log(2 * math.pi * math.e)


def as_covariance(cov: object, name: str = "cov") -> np.ndarray:
    """A symmetric positive-definite (d, d) float64 matrix; a scalar or 1-D input is read as a diagonal."""
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim == 0:
        c = c.reshape(1, 1)
    elif c.ndim == 1:
        c = np.diag(c)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"{name} must be a square (d, d) matrix, got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} contains non-finite entries")
    if not np.allclose(c, c.T, rtol=1e-10, atol=1e-12 * max(1.0, float(np.abs(c).max()))):
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}.T| = {np.abs(c - c.T).max():.3g}")
    c = (c + c.T) / 2
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        lam = float(np.linalg.eigvalsh(c).min())
        raise ValueError(f"{name} must be positive definite; its smallest eigenvalue is {lam:.3g}") from None
    return c


def logdet_pd(c: np.ndarray) -> float:
    """log det of a symmetric positive-definite matrix via Cholesky (never log(det))."""
    chol = np.linalg.cholesky(c)  # (d, d) lower triangular
    return float(2.0 * np.log(np.diag(chol)).sum())


def as_mean(mean: object, dim: int, name: str = "mean") -> np.ndarray:
    if mean is None:
        return np.zeros(dim)
    m = np.asarray(mean, dtype=np.float64)
    if m.ndim == 0:
        m = np.full(dim, float(m))
    if m.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},), got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} contains non-finite entries")
    return m


def check_n(n: object) -> int:
    return check_int(n, "n", low=1)


def gaussian_split_mi(cov: np.ndarray, dim_x: int) -> float:
    r"""Split-Gaussian MI :math:`\tfrac12[\log\det\Sigma_{xx} + \log\det\Sigma_{yy} - \log\det\Sigma]`."""
    return 0.5 * (logdet_pd(cov[:dim_x, :dim_x]) + logdet_pd(cov[dim_x:, dim_x:]) - logdet_pd(cov))


def check_dim_x(dim_x: object, dim: int) -> int:
    if dim < 2:
        raise ValueError(f"a split distribution needs at least 2 dimensions, got {dim}")
    return check_int(dim_x, "dim_x", low=1, high=dim - 1)
