"""Moment-based and pairwise collapse metrics: per-dimension statistics, the scale-aware variance fraction,
the std of l2-normalised rows, off-diagonal covariance energy, and Wang & Isola's alignment and uniformity.

The per-dimension metrics have ``*_from_moments`` forms taking the mean, the covariance (or its diagonal) and
the normalised-row variance that :class:`~infossl.diagnostics.MomentAccumulator` keeps, so the streaming and
in-memory paths share the formulas.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch

from infossl._backend import ArrayLike, Boundary, chunk_size_for, iter_chunks, to_tensor
from infossl._validation import check_embeddings, check_float, check_int, check_pair

__all__ = ["alignment", "uniformity", "normalized_std", "normalized_std_from_moments", "dimension_std",
           "dead_dimensions", "dead_dimensions_from_moments", "offdiagonal_energy",
           "offdiagonal_energy_from_covariance", "variance_fraction", "variance_fraction_from_moments",
           "check_views", "l2_normalize"]


def check_views(views: Union[ArrayLike, Sequence[ArrayLike]], *, name: str = "views",
                min_inputs: int = 2) -> tuple[torch.Tensor, Boundary]:
    """Validate views given as an (n, q, d) array or a sequence of q arrays (n, d); returns (n, q, d)."""
    if isinstance(views, (list, tuple)):
        if len(views) < 2:
            raise ValueError(f"{name} needs at least 2 views, got {len(views)}")
        parts = [check_embeddings(v, name=f"{name}[{j}]", min_samples=min_inputs)
                 for j, v in enumerate(views)]
        shapes = {tuple(p[0].shape) for p in parts}
        if len(shapes) != 1:
            raise ValueError(f"every view in {name} must have the same shape (n, d); got {sorted(shapes)}")
        dtype = parts[0][0].dtype
        for p in parts[1:]:
            dtype = torch.promote_types(dtype, p[0].dtype)
        t = torch.stack([p[0].to(device=parts[0][0].device, dtype=dtype) for p in parts], dim=1)  # (n, q, d)
        return t, parts[0][1]
    t, b = to_tensor(views, name=name)
    if t.ndim != 3:
        raise ValueError(f"{name} must be an (n, q, d) array or a list of q arrays (n, d); got shape "
                         f"{tuple(t.shape)}")
    n, q, d = t.shape
    if q < 2:
        raise ValueError(f"{name} needs at least 2 views (axis 1), got {q}")
    if n < min_inputs or d == 0:
        raise ValueError(f"{name} needs at least {min_inputs} inputs and 1 dimension; "
                         f"got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t, b


def l2_normalize(t: torch.Tensor) -> torch.Tensor:
    """Rows divided by their l2 norm; all-zero rows stay zero. Robust to very large or small entries."""
    scale = t.detach().abs().amax(dim=-1, keepdim=True)  # (n, 1)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    s = t / safe
    norm = torch.linalg.vector_norm(s, dim=-1, keepdim=True)
    return torch.where(norm > 0, s / torch.where(norm > 0, norm, torch.ones_like(norm)), torch.zeros_like(s))


# ----------------------------------------------------------------------------------------------- moments
def variance_fraction_from_moments(mean: torch.Tensor, total_variance: torch.Tensor) -> torch.Tensor:
    r""":math:`\operatorname{tr}\Sigma / (\operatorname{tr}\Sigma + \lVert\bar z\rVert^2)` with the biased
    (divide-by-n) covariance; 0 for all-zero data."""
    energy = total_variance + mean.pow(2).sum()
    return total_variance / energy if energy > 0 else energy * 0


def variance_fraction(z: ArrayLike):
    r"""Fraction of the mean squared norm that is variance: the **scale-aware** collapse statistic.

    .. math:: \rho = \frac{\sum_j \hat\sigma_j^2}{\mathbb E\lVert z\rVert^2}
              = \frac{\operatorname{tr}\hat\Sigma}{\operatorname{tr}\hat\Sigma + \lVert\bar z\rVert^2}
              \in[0, 1]

    with the biased (divide-by-n) variances. 1 for centred data, about :math:`\sigma^2/\lVert c\rVert^2` for
    a constant :math:`c` plus noise of variance :math:`\sigma^2` per coordinate in total, 0 for constant rows.
    Unlike the centred, scale-free metrics it sees collapse onto a constant plus tiny noise. All-zero data
    gives 0.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> variance_fraction(np.array([[1.0, 1.0], [3.0, 3.0]]))
    0.2
    """
    t, b = check_embeddings(z, min_samples=1)
    t = t / t.detach().abs().amax().clamp_min(torch.finfo(t.dtype).tiny)
    mean = t.mean(dim=0)  # (d,)
    tv = (t - mean).pow(2).mean(dim=0).sum()
    return b.finish(variance_fraction_from_moments(mean, tv))


def normalized_std_from_moments(normalized_var: torch.Tensor) -> torch.Tensor:
    """Mean over dimensions of the std of the l2-normalised rows, from their per-dimension variances."""
    return normalized_var.clamp_min(0).sqrt().mean()


def normalized_std(z: ArrayLike):
    r"""Mean over dimensions of the (unbiased) std of the l2-normalised rows.

    .. math:: \frac1d\sum_j \operatorname{std}_i\big(z_{ij}/\lVert z_i\rVert_2\big)

    About :math:`1/\sqrt d` for isotropic embeddings and 0 for complete collapse (all rows on one ray),
    the signal recommended by Chen & He (2021, arXiv 2011.10566, Fig. 2). Scale-aware with respect
    to a common offset. All-zero rows stay zero.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> normalized_std(np.array([[1.0, 0.0], [2.0, 0.0], [5.0, 0.0]]))
    0.0
    """
    t, b = check_embeddings(z, min_samples=2)
    u = l2_normalize(t)  # (n, d)
    return b.finish(normalized_std_from_moments(u.var(dim=0)))


def dimension_std(z: ArrayLike):
    """Per-dimension unbiased standard deviation (d,) of ``z``.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shape (d,), in the input's kind.

    Examples
    --------
    >>> import numpy as np
    >>> dimension_std(np.array([[0.0, 1.0], [2.0, 1.0]])).round(4).tolist()
    [1.4142, 0.0]
    """
    t, b = check_embeddings(z, min_samples=2)
    scale = t.detach().abs().amax().clamp_min(torch.finfo(t.dtype).tiny)
    return b.finish_many((t / scale).std(dim=0) * scale)


def dead_dimensions_from_moments(variances: torch.Tensor, mean: torch.Tensor, *, tol: float = 1e-4) -> int:
    """Number of dimensions with std <= tol x the root-mean-square entry of the data (see dead_dimensions)."""
    rms = (variances.clamp_min(0).mean() + mean.pow(2).mean()).sqrt()
    if rms == 0:
        return int(variances.numel())
    return int((variances.clamp_min(0).sqrt() <= tol * rms).sum())


def dead_dimensions(z: ArrayLike, *, tol: float = 1e-4) -> int:
    r"""Number of dimensions whose std is at most ``tol`` times the root-mean-square entry of ``z``.

    .. math:: \#\{j : \hat\sigma_j \le \mathrm{tol}\cdot(\tfrac1d\,\mathbb E\lVert z\rVert^2)^{1/2}\}

    The reference is uncentred, so a dimension that varies by 1e-6 around a value of 1 counts as dead, and
    complete collapse onto a constant plus tiny noise makes every dimension dead. Variances are biased
    (divide by n). All-zero data: all d dimensions are dead.

    Returns
    -------
    int
        Number of dimensions whose std is at most ``tol`` times the root-mean-square entry of ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> dead_dimensions(np.array([[0.0, 1.0], [2.0, 1.0], [1.0, 1.0]]))
    1
    """
    t, _ = check_embeddings(z, min_samples=2)
    tol = check_float(tol, "tol", low=0.0)
    t = t / t.detach().abs().amax().clamp_min(torch.finfo(t.dtype).tiny)
    mean = t.mean(dim=0)
    return dead_dimensions_from_moments((t - mean).pow(2).mean(dim=0), mean, tol=tol)


def offdiagonal_energy_from_covariance(cov: torch.Tensor) -> torch.Tensor:
    """Share of the squared Frobenius norm of ``cov`` that lies off the diagonal; 0 for a zero matrix."""
    total = cov.pow(2).sum()
    if total == 0:
        return total
    return (total - torch.diagonal(cov).pow(2).sum()).clamp_min(0) / total


def offdiagonal_energy(z: ArrayLike):
    r"""Share of the covariance's squared Frobenius norm that lies off the diagonal.

    .. math:: \frac{\sum_{i\ne j} C_{ij}^2}{\sum_{i,j} C_{ij}^2} \in [0, 1 - 1/d]

    0 for decorrelated dimensions (what VICReg's and Barlow Twins' covariance terms push towards); close to
    1 - 1/d when all dimensions are copies of one signal. Scale-free. Constant data give 0.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> round(offdiagonal_energy(np.array([[1.0, 1.0], [-1.0, -1.0]])), 6)
    0.5
    """
    t, b = check_embeddings(z, min_samples=2)
    t = t - t.mean(dim=0, keepdim=True)
    t = t / t.detach().abs().amax().clamp_min(torch.finfo(t.dtype).tiny)
    return b.finish(offdiagonal_energy_from_covariance(t.T @ t))


# ----------------------------------------------------------------------------------------------- pairs
def alignment(z1: ArrayLike, z2: ArrayLike, *, alpha: float = 2):
    r"""Alignment of positive pairs on the unit sphere (Wang & Isola, ICML 2020, arXiv 2005.10242).

    .. math:: \mathcal L_{\mathrm{align}} = \mathbb E_i\,\lVert u_i - v_i\rVert_2^{\alpha},\qquad
              u_i = z_{1,i}/\lVert z_{1,i}\rVert,\; v_i = z_{2,i}/\lVert z_{2,i}\rVert

    0 for perfectly invariant views, at most :math:`2^\alpha`.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> alignment(np.array([[1.0, 0.0]]).repeat(3, 0), np.array([[-2.0, 0.0]]).repeat(3, 0))
    4.0
    """
    x, y, b = check_pair(z1, z2, min_samples=1)
    alpha = check_float(alpha, "alpha", low=0.0, low_open=True)
    return b.finish(torch.linalg.vector_norm(l2_normalize(x) - l2_normalize(y), dim=1).pow(alpha).mean())


def uniformity(z: ArrayLike, *, t: float = 2, chunk_size: Optional[int] = None):
    r"""Uniformity on the unit sphere (Wang & Isola, ICML 2020, arXiv 2005.10242).

    .. math:: \mathcal L_{\mathrm{uniform}} = \log \frac{2}{n(n-1)}\sum_{i<j} e^{-t\lVert u_i-u_j\rVert_2^2}

    over the l2-normalised rows, computed with log-sum-exp in row blocks of ``chunk_size`` (memory
    O(chunk_size x n)). 0 for complete collapse; tends to about -4 (t = 2) for uniform points on a
    high-dimensional sphere. O(n^2 d) time: apply it to a sample of rows for large n.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]]))   # log exp(-2 * 4)
    -8.0
    """
    z_t, b = check_embeddings(z, min_samples=2)
    t = check_float(t, "t", low=0.0, low_open=True)
    u = l2_normalize(z_t)  # (n, d)
    n = u.shape[0]
    if chunk_size is None:  # about four (chunk, n) temporaries live at once (sum, product, exp, mask)
        chunk_size = chunk_size_for(n, itemsize=u.element_size(), factor=4)
    chunk_size = check_int(chunk_size, "chunk_size", low=1)
    sq = u.pow(2).sum(dim=1)  # (n,)
    parts = []
    for sl in iter_chunks(n, chunk_size):
        rows = torch.arange(sl.start, sl.stop, device=u.device)  # (chunk,)
        d2 = torch.addmm(sq[sl, None] + sq[None, :], u[sl], u.T, alpha=-2).clamp_min_(0)  # (chunk, n)
        logits = d2.mul_(-t)
        logits[rows - sl.start, rows] = -math.inf  # drop i == j; every pair i != j is counted twice
        parts.append(torch.logsumexp(logits.reshape(-1), dim=0))
    total = torch.logsumexp(torch.stack(parts), dim=0) - math.log(2)
    return b.finish(total - math.log(n * (n - 1) / 2))
