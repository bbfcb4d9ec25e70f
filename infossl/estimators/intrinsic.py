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

The helpers below are what the ``"auto"`` rules (:mod:`~infossl.estimators._routes`) and the ``details=True``
checks (:mod:`~infossl.estimators.details`) read: a quiet TwoNN on at most :data:`ID_ROWS` evenly spaced
rows (:func:`raw_twonn`), the linear dimension for a variance fraction (:func:`linear_dimension`), the
Gaussian-matched calibration of a TwoNN value (:func:`calibrated_dimension`) and the manifold rule built on
it (:func:`manifold_dimension`, :func:`is_manifold`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from infossl._backend import ArrayLike
from infossl._validation import (DegenerateInputWarning, check_choice, check_embeddings, check_float,
                                 check_int, check_random_state)
from infossl._warnings import warn
from infossl.estimators.neighbours import nearest_neighbours
from infossl.estimators.reliability import Check
from infossl.linalg import centred, small_second_moment, standardize

__all__ = ["IntrinsicDimension", "calibrated_dimension", "entropy_dimension_check", "id_rows",
           "intrinsic_dimension", "is_manifold", "linear_dimension", "manifold_dimension",
           "mi_dimension_check", "mle_dimension", "raw_twonn", "twonn_dimension"]

DEFAULT_MAX_SAMPLES = 5000
_METHODS = ("twonn", "mle")
#: Rows the "auto" rules and the calibration measure a dimension on: it bounds the exact neighbour search to
#: ID_ROWS^2 distances whatever n, and the calibration's Gaussian references are drawn at the same size.
ID_ROWS = 2000
#: Fewer rows than this: :func:`manifold_dimension` does not answer (TwoNN's standard error, about
#: d / sqrt(n), is then 14 % of the dimension or more, too coarse to place it against d/2).
MANIFOLD_MIN_ROWS = 50
#: Largest dimension the manifold rule calibrates against: each reference is one TwoNN run on up to ID_ROWS
#: Gaussian rows in R^m, so the cap bounds the cost; it equals the k-NN routes' dimension limit of "auto".
MANIFOLD_MAX_DIM = 128


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
        warn(f"{n_bad} of {dist.shape[0]} points have an exact duplicate; they are left out of the {what} "
             "intrinsic-dimension estimate", DegenerateInputWarning)
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

    Returns
    -------
    IntrinsicDimension
        The Levina–Bickel estimate (``float()`` of it is the dimension) with its details.

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

    Returns
    -------
    IntrinsicDimension
        The estimate (``float()`` of it is the dimension) with the method's details.

    Examples
    --------
    >>> from infossl.synthetic import embedded_gaussian_pair
    >>> x, _ = embedded_gaussian_pair(2, 256, mi=2.0).sample(4000, random_state=0)
    >>> round(float(intrinsic_dimension(x)))             # 2 latent dimensions in R^256
    2
    """
    method = check_choice(method, "method", _METHODS)
    return (twonn_dimension if method == "twonn" else mle_dimension)(z, **options)


# ------------------------------------------------------------------------ the dimensions the rules read
def id_rows(t: torch.Tensor) -> torch.Tensor:
    """At most :data:`ID_ROWS` rows of ``t``, evenly spaced (deterministic: the rules draw no random
    numbers)."""
    n = t.shape[0]
    if n <= ID_ROWS:
        return t
    return t[torch.linspace(0, n - 1, ID_ROWS, device=t.device).round().long()]


def raw_twonn(t: torch.Tensor) -> Optional[float]:
    """TwoNN dimension of :func:`id_rows` of ``t``, its warnings silenced (the rules report the dimension
    themselves), or None when TwoNN is undefined there (duplicates only, ties everywhere)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return twonn_dimension(id_rows(t), max_samples=None).value
    except ValueError:
        return None


def linear_dimension(t: torch.Tensor, fraction: float = 0.99) -> int:
    """Principal components needed for ``fraction`` of the variance of the column-standardised
    :func:`id_rows` of ``t`` (0 when every column is constant)."""
    s = centred(standardize(id_rows(t).double()))
    lam = torch.linalg.eigvalsh(small_second_moment(s)).flip(0).clamp_min(0)
    total = float(lam.sum())
    if total <= 0:
        return 0
    cumulative = torch.cumsum(lam, 0) / total
    return int(torch.searchsorted(cumulative, torch.tensor(fraction, dtype=lam.dtype)).item()) + 1


def calibrated_dimension(observed: float, n: int, *, random_state=0, max_dim: int = 64) -> int:
    r"""The integer m in [1, max_dim] whose standard Gaussian in R^m has the TwoNN dimension closest to
    ``observed`` at n rows (at most :data:`ID_ROWS`).

    TwoNN is biased low in higher dimension at finite n (8-dimensional data read as about 7.8 at
    n = 2000, 16 as 14.3, 50 as 31); matching against Gaussian references of the same size removes most of
    that bias (the "intrinsic-dimension-matched" reference). The references grow with m, so m is found by
    bisection: a handful of TwoNN runs on Gaussian samples.

    Examples
    --------
    >>> calibrated_dimension(1.97, 2000), calibrated_dimension(14.3, 2000)
    (2, 16)
    """
    observed = check_float(observed, "observed", low=0.0)
    n = min(check_int(n, "n", low=10), ID_ROWS)
    max_dim = check_int(max_dim, "max_dim", low=1)
    rng = check_random_state(random_state)
    cache: dict[int, float] = {}

    def ref(m: int) -> float:
        if m not in cache:
            g = torch.from_numpy(rng.standard_normal((n, m)))
            cache[m] = twonn_dimension(g, max_samples=None).value
        return cache[m]

    lo = max(1, min(max_dim, int(math.floor(observed))))
    if ref(lo) >= observed:
        while lo > 1 and ref(lo - 1) >= observed:
            lo -= 1
        cand = [lo - 1, lo] if lo > 1 else [lo]
    else:
        hi = lo
        while hi < max_dim and ref(hi) < observed:  # exponential search, then bisection
            lo, hi = hi, min(max_dim, hi + max(1, hi // 2))
        if ref(hi) < observed:
            return max_dim
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if ref(mid) < observed else (lo, mid)
        cand = [lo, hi]
    return min(cand, key=lambda m: abs(ref(m) - observed))


def manifold_dimension(t: torch.Tensor) -> Optional[float]:
    """Calibrated TwoNN dimension of the rows of ``t`` (None when n < :data:`MANIFOLD_MIN_ROWS` or d = 1):
    the raw TwoNN value when it is at least d/2, else its Gaussian-matched calibration
    (:func:`calibrated_dimension`, up to min(d, :data:`MANIFOLD_MAX_DIM`) dimensions; None when it reaches
    that cap: too few rows to tell)."""
    n, d = t.shape
    if n < MANIFOLD_MIN_ROWS or d < 2:
        return None
    raw = raw_twonn(t)
    if raw is None or raw >= d / 2:
        return raw
    cap = min(d, MANIFOLD_MAX_DIM)
    cal = calibrated_dimension(raw, min(n, ID_ROWS), max_dim=cap)
    return None if cal >= cap else float(cal)


def is_manifold(dimension: Optional[float], d: int) -> bool:
    """Whether a calibrated intrinsic dimension says the data lie on a lower-dimensional set (<= d/2)."""
    return dimension is not None and d >= 2 and dimension <= d / 2


# ------------------------------------------------------------------------ the details=True checks
def _one_decimal(value: Optional[float]) -> str:
    return "not measured" if value is None else f"{value:.1f}"


def mi_dimension_check(dx: int, dy: int, info: dict, *, method: str, full_dimensional: bool) -> Check:
    """The "intrinsic dimension" check of an MI estimate by ``method`` from the sides' TwoNN dimensions and
    curved-set flags in ``info`` (``id_x``, ``id_y``, ``low_x``, ``low_y``; ``latent_dim`` for the latent
    route): it fails when a side lies on a curved low-dimensional set and the method is
    ``full_dimensional``, which then counts the set's nonlinear features as new information."""
    values = {"id_x": info.get("id_x"), "id_y": info.get("id_y")}
    if method == "latent":
        return Check("intrinsic dimension", True, f"TwoNN x: {info['id_x']:.1f} of {dx}, "
                     f"y: {info['id_y']:.1f} of {dy}; latent dimension {info['latent_dim']}", values)
    if info.get("id_x") is None:
        return Check("intrinsic dimension", None,
                     "not measured (fewer than 500 rows or under 16 dimensions per side)")
    ok = not ((info.get("low_x") or info.get("low_y")) and full_dimensional)
    detail = f"TwoNN x: {_one_decimal(info['id_x'])} of {dx}, y: {_one_decimal(info.get('id_y'))} of {dy}"
    if not ok:
        detail += (f" -- the data lie on a low-dimensional curved set; '{method}' counts its nonlinear "
                   "features as new information (it can exceed the truth many-fold); use method='latent' or 'auto'")
    return Check("intrinsic dimension", bool(ok), detail, values)


def entropy_dimension_check(dimension: Optional[float], d: int) -> Check:
    """The "intrinsic dimension" check of an entropy estimate from the calibrated TwoNN ``dimension``
    (:func:`manifold_dimension`): it fails on a lower-dimensional set (:func:`is_manifold`), whose
    differential entropy is -inf."""
    if dimension is None:
        return Check("intrinsic dimension", None,
                     "not measured (fewer than 50 rows, d = 1, or too few rows to calibrate the dimension)")
    ok = not is_manifold(dimension, d)
    detail = f"calibrated TwoNN {dimension:.1f} of d = {d}"
    if not ok:
        detail += (" -- the data lie on a lower-dimensional set: their differential entropy is -inf and the "
                   "finite value is an artefact of the estimator; model the input noise "
                   "(infossl.deterministic) or add noise of an explicit width")
    return Check("intrinsic dimension", bool(ok), detail, {"intrinsic_dimension": dimension})
