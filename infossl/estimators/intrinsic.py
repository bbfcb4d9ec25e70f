r"""Intrinsic dimension from nearest-neighbour distances: TwoNN and the Levina–Bickel MLE.

Both read the dimension off how the number of neighbours grows with the radius at small scales, so they
see the dimension of a curved manifold, not of the linear span (a circle in R^1000 has intrinsic
dimension 1 and linear rank 2). Neighbours are exact (:func:`~infossl.estimators.neighbours.nearest_neighbours`:
chunked, torch, on the data's device).

* **TwoNN** (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 7, 12140, 2017). With :math:`r_1 < r_2` the
  distances to the first and second neighbour, :math:`\mu = r_2/r_1` is Pareto distributed,
  :math:`F(\mu) = 1 - \mu^{-d}`, whatever the (locally constant) density. ``fit="regression"`` is the
  paper's estimator: the least-squares slope through the origin of :math:`-\log(1 - F_{\rm emp}(\mu_i))`
  on :math:`\log\mu_i`, discarding the largest 10 % of :math:`\mu` (they come from density gradients and
  noise). ``fit="mle"`` is the maximum-likelihood form :math:`\hat d = (N-1)/\sum_i \log\mu_i`
  (unbiased under the Pareto law), whose standard error is :math:`\hat d/\sqrt{N}`.
* **Levina–Bickel MLE** (Levina & Bickel, NIPS 17, 2004) with the pooled average of MacKay & Ghahramani
  (2005): with :math:`T_j(x)` the distance to the j-th neighbour,
  :math:`\hat d = \big[\tfrac{1}{N(k-1)}\sum_i\sum_{j<k}\log\tfrac{T_k(x_i)}{T_j(x_i)}\big]^{-1}`.
  It uses k neighbours (default 20), so it looks at a larger scale than TwoNN.

Both underestimate the dimension of full-dimensional data when it is large (d > 20) at moderate n (the
neighbourhoods stop being small), and both report the dimension of the *noise* at the smallest scales
when the data are a manifold plus isotropic noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from infossl._backend import ArrayLike
from infossl._validation import check_choice, check_embeddings, check_float, check_int, check_random_state, warn_degenerate
from infossl.estimators.neighbours import nearest_neighbours

__all__ = ["intrinsic_dimension", "twonn_dimension", "mle_dimension", "IntrinsicDimension"]

DEFAULT_MAX_SAMPLES = 5000
_METHODS = ("twonn", "mle")


@dataclass(frozen=True)
class IntrinsicDimension:
    """An intrinsic-dimension estimate: ``value``, its standard error, the method and the rows used."""

    value: float
    stderr: float
    method: str
    n_used: int
    ambient: int

    def __float__(self) -> float:
        return float(self.value)


def _prepare(z: ArrayLike, max_samples: Optional[int], random_state) -> torch.Tensor:
    t, _ = check_embeddings(z, name="z", min_samples=3)
    if max_samples is not None:
        max_samples = check_int(max_samples, "max_samples", low=3)
        if t.shape[0] > max_samples:
            rng = check_random_state(random_state)
            rows = torch.from_numpy(np.sort(rng.choice(t.shape[0], size=max_samples, replace=False)))
            t = t[rows.to(t.device)]
    return t.detach()


def _positive_rows(dist: torch.Tensor, what: str) -> torch.Tensor:
    """Drop rows whose nearest distance is 0 (duplicates), warning; raise if too few are left."""
    ok = dist[:, 0] > 0
    n_bad = int((~ok).sum())
    if n_bad:
        warn_degenerate(f"{n_bad} of {dist.shape[0]} points have an exact duplicate; they are left out of the "
                        f"{what} intrinsic-dimension estimate")
    if int(ok.sum()) < 3:
        raise ValueError(f"the {what} intrinsic dimension needs at least 3 distinct points")
    return dist[ok]


def twonn_dimension(z: ArrayLike, *, fit: str = "regression", discard_fraction: float = 0.1,
                    max_samples: Optional[int] = DEFAULT_MAX_SAMPLES, random_state=0,
                    chunk_size: Optional[int] = None) -> IntrinsicDimension:
    r"""TwoNN intrinsic dimension (Facco et al. 2017) of the rows of ``z`` (n, d).

    Parameters
    ----------
    z : array-like (n, d) or torch.Tensor
    fit : {"regression", "mle"}
        The paper's least-squares fit (default) or the maximum-likelihood form (see the module doc).
    discard_fraction : float, default 0.1
        Fraction of the largest ratios left out of the regression fit (the paper's choice).
    max_samples : int or None, default 5000
        Estimate on a random subset of this many rows (drawn from ``random_state``) when n is larger;
        neighbours are exact within the subset. None uses every row.
    random_state : None, int or numpy Generator, default 0
    chunk_size : int, optional
        Rows per block of the distance matrix.

    Returns
    -------
    IntrinsicDimension
        ``float(result)`` is the estimate. Duplicated rows are left out with a ``DegenerateInputWarning``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.random.default_rng(0).uniform(0, 2 * np.pi, 3000)
    >>> circle = np.stack([np.cos(t), np.sin(t)], 1) @ np.random.default_rng(1).standard_normal((2, 50))
    >>> round(float(twonn_dimension(circle)), 1)     # a closed curve in R^50
    1.0
    """
    fit = check_choice(fit, "fit", ("regression", "mle"))
    discard_fraction = check_float(discard_fraction, "discard_fraction", low=0.0, high=0.9)
    t = _prepare(z, max_samples, random_state)
    dist, _ = nearest_neighbours(t, 2, chunk_size=chunk_size)
    dist = _positive_rows(dist, "TwoNN")
    log_mu = torch.log(dist[:, 1] / dist[:, 0]).double().cpu().numpy()  # (n,) >= 0
    n = log_mu.size
    if fit == "mle":
        total = float(log_mu.sum())
        if total <= 0:
            raise ValueError("every point's two nearest neighbours are at the same distance; TwoNN is undefined")
        value = (n - 1) / total
    else:
        s = np.sort(log_mu)
        keep = max(2, int(math.floor(n * (1.0 - discard_fraction))))
        s = s[:keep]
        f_emp = np.arange(1, keep + 1) / n  # empirical CDF at the sorted ratios (over all n points)
        yv = -np.log1p(-f_emp)
        denom = float((s * s).sum())
        if denom <= 0:
            raise ValueError("every point's two nearest neighbours are at the same distance; TwoNN is undefined")
        value = float((s * yv).sum() / denom)
    return IntrinsicDimension(value=float(value), stderr=float(value) / math.sqrt(n), method="twonn",
                              n_used=int(n), ambient=int(t.shape[1]))


def mle_dimension(z: ArrayLike, *, k: int = 20, max_samples: Optional[int] = DEFAULT_MAX_SAMPLES,
                  random_state=0, chunk_size: Optional[int] = None) -> IntrinsicDimension:
    r"""Levina–Bickel maximum-likelihood intrinsic dimension with k neighbours (pooled over points).

    See the module doc for the formula. ``k`` (default 20, at least 3) sets the scale; the other
    parameters are those of :func:`twonn_dimension`.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.random.default_rng(0).uniform(size=(4000, 3)) @ np.random.default_rng(1).standard_normal((3, 40))
    >>> 2.6 < float(mle_dimension(z)) < 3.2      # a 3-dimensional parallelepiped in R^40
    True
    """
    k = check_int(k, "k", low=3)
    t = _prepare(z, max_samples, random_state)
    if t.shape[0] <= k:
        raise ValueError(f"k={k} needs more than {k} samples, got {t.shape[0]}")
    dist, _ = nearest_neighbours(t, k, chunk_size=chunk_size)
    dist = _positive_rows(dist, "Levina-Bickel")
    logs = torch.log(dist).double()  # (n, k)
    s = (logs[:, -1:] - logs[:, :-1]).sum(dim=1)  # (n,) sum_j log(T_k / T_j), j < k
    total = float(s.sum())
    n = s.numel()
    if total <= 0:
        raise ValueError("all k nearest neighbours are at the same distance; the Levina-Bickel MLE is undefined")
    value = n * (k - 1) / total
    # per-point MLE spread (the pooled terms are correlated across neighbouring points; this is a rough guide)
    per_point = (k - 1) / s.clamp_min(1e-300)
    stderr = float(per_point.std()) / math.sqrt(n)
    return IntrinsicDimension(value=float(value), stderr=stderr, method="mle", n_used=int(n), ambient=int(t.shape[1]))


def intrinsic_dimension(z: ArrayLike, method: str = "twonn", **options) -> IntrinsicDimension:
    """Intrinsic dimension of the rows of ``z``: ``method="twonn"`` (:func:`twonn_dimension`, default) or
    ``"mle"`` (:func:`mle_dimension`); options are passed through.

    Examples
    --------
    >>> from infossl.estimators.embedded import embedded_gaussian_pair
    >>> x, _ = embedded_gaussian_pair(2, 256, mi=2.0).sample(4000, random_state=0)
    >>> round(float(intrinsic_dimension(x)))             # 2 latent dimensions in R^256
    2
    """
    method = check_choice(method, "method", _METHODS)
    return (twonn_dimension if method == "twonn" else mle_dimension)(z, **options)
