r"""Entropies and informations of a network's output mixture, each labelled estimate, bound or exact.

For the output mixture :math:`Z \mid T{=}i \sim \mathcal N(\mu_i, C_i)` (:func:`output_mixture`), uniform
:math:`T` over n inputs:

* :math:`H(Z|T) = \frac1n \sum_i \tfrac12 \ln\det(2\pi e\, C_i)` - exact for the mixture.
* :math:`H(Z)`: Bhattacharyya pairwise lower bound, KL pairwise upper bound, moment-matched Gaussian upper
  bound (Kolchinsky & Tracey 2017, arXiv:1706.02419, Theorems 1-2).
* :math:`I(Z;T) = H(Z) - H(Z|T)`: BD lower and KL upper bound. This is the information the output keeps
  about the clean data point (its index T), which is what the bounds measure. It is **not** :math:`I(X;Z)`
  for the noisy input X: the network is deterministic, so :math:`H(Z|X) = -\infty` for a continuous output
  and :math:`I(X;Z)` is infinite. It is finite here only through the ridge (read as independent output
  noise), and would then depend on it.
* :math:`I(Z;Z')` between two views :math:`Z = f(x_T + \varepsilon)`, :math:`Z' = f(x_T + \varepsilon')` with
  independent noises: given T the two views are i.i.d. :math:`\mathcal N(\mu_T, C_T)`, so
  :math:`(Z, Z')` is the mixture :math:`\frac1n\sum_i \mathcal N((\mu_i,\mu_i), \mathrm{diag}(C_i, C_i))` and

  .. math::

      I(Z;Z') = 2H(Z) - H(Z,Z') = 2 I(Z;T) - I((Z,Z');T),

  because :math:`H(Z,Z'|T) = 2H(Z|T)`. Valid bounds combine opposite directions:
  :math:`I(Z;Z') \le 2\hat I_{KL}(Z;T) - \hat I_{BD}((Z,Z');T)` and
  :math:`I(Z;Z') \ge 2\hat I_{BD}(Z;T) - \hat I_{KL}((Z,Z');T)`; the Markov chain
  :math:`Z - T - Z'` adds :math:`I(Z;Z') \le I(Z;T) \le \hat I_{KL}(Z;T)` and :math:`I \ge 0`.
  Only these two bounds are reported. The same-distance plug-in :math:`2\hat I_{KL}(Z;T) -
  \hat I_{KL}((Z,Z');T)` is exact when the components are well separated (both sides :math:`\ln n`) or
  identical (0) but has no error guarantee in between: against a Monte-Carlo value of the same mixture
  (a random 10-64-64-3 ReLU MLP, 100 inputs) it was 1.8 times too high at input noise 0.32 and 4.0 times
  at noise 1, while both bounds held (``analysis/bounds_vs_monte_carlo.py``,
  ``analysis/results/bounds_vs_monte_carlo_views.csv``), so it is not offered as an estimate.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd
import torch

from infossl.linalg import gaussian_entropy_from_logdet, logdet_of_cholesky
from infossl.deterministic.mixture import OutputMixture, output_mixture  # noqa: F401 (doctest)
from infossl.estimators.mixture import mixture_entropy_bounds, mixture_mutual_information

__all__ = [
    "Quantity",
    "conditional_entropy",
    "entropy_bounds",
    "information_bounds",
    "information_table",
    "view_information",
]


class Quantity(NamedTuple):
    """One number in nats with what it is: ``kind`` is "exact", "estimate", "lower bound" or "upper bound"."""

    name: str
    value: float
    kind: str
    note: str


def _check(mix: object) -> OutputMixture:
    if not isinstance(mix, OutputMixture):
        raise TypeError(f"mixture must be an OutputMixture (from output_mixture), got {type(mix).__name__}")
    return mix


def _parts(mix: OutputMixture) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 means (n, K) and covariances with the ridge (n, K, K): log-dets need the precision."""
    return mix.means.double(), mix.covariances().double()


def conditional_entropy(mixture: OutputMixture) -> Quantity:
    """H(Z|T) = mean_i 1/2 log det(2 pi e C_i) in nats, exact for the mixture (C_i includes the ridge).

    Returns
    -------
    Quantity
        H(Z|T) in nats, marked exact.
    """
    mix = _check(mixture)
    _, c = _parts(mix)
    chol, info = torch.linalg.cholesky_ex(c)                                      # (n, K, K)
    if bool((info > 0).any()):
        raise ValueError("a component covariance is not positive definite; use a ridge > 0")
    logdet = logdet_of_cholesky(chol)                                            # (n,)
    value = gaussian_entropy_from_logdet(logdet, mix.dim).mean()
    return Quantity("H(Z|T)", float(value), "exact", "mean of 1/2 log det(2 pi e C_i), ridge included")


def _bounds(mix: OutputMixture, chunk_size: int | None):
    """One call of mixture_entropy_bounds: BD and KL pairwise passes, Gaussian bound, H(Z|T), H(T)."""
    m, c = _parts(mix)
    return mixture_entropy_bounds(m, cov=c, chunk_size=chunk_size)


def _entropy_rows(b) -> list[Quantity]:
    return [Quantity("H(Z)", float(b.lower), "lower bound", "pairwise Bhattacharyya"),
            Quantity("H(Z)", float(b.upper), "upper bound", "pairwise KL"),
            Quantity("H(Z)", float(b.gaussian), "upper bound", "moment-matched Gaussian")]


def _information_rows(b) -> list[Quantity]:
    return [Quantity("I(Z;T)", float(b.lower - b.conditional), "lower bound",
                     "pairwise Bhattacharyya; about the clean point T (I(X;Z) is infinite)"),
            Quantity("I(Z;T)", float(b.upper - b.conditional), "upper bound",
                     "pairwise KL; about the clean point T (I(X;Z) is infinite)")]


def entropy_bounds(mixture: OutputMixture, *, chunk_size: int | None = None) -> list[Quantity]:
    """H(Z): Bhattacharyya lower bound, KL upper bound, moment-matched Gaussian upper bound (nats).

    Returns
    -------
    list of Quantity
        The Bhattacharyya lower bound, the KL upper bound and the moment-matched Gaussian upper bound of H(Z),
        in nats.
    """
    return _entropy_rows(_bounds(_check(mixture), chunk_size))


def information_bounds(mixture: OutputMixture, *, chunk_size: int | None = None) -> list[Quantity]:
    """I(Z;T), the information about the clean data point: Bhattacharyya lower and KL upper bounds (nats).

    Not I(X;Z) of the noisy input X, which is infinite for a deterministic network (finite only through the
    ridge).

    Computed as the pairwise H(Z) estimate minus H(Z|T), i.e. the second term of the pairwise estimator
    (``mixture_mutual_information``).

    Returns
    -------
    list of Quantity
        The Bhattacharyya lower bound and the KL upper bound of I(Z;T), in nats.
    """
    return _information_rows(_bounds(_check(mixture), chunk_size))


def _view_rows(mix: OutputMixture, i_kl: float, i_bd: float, chunk_size: int | None) -> list[Quantity]:
    m, c = _parts(mix)
    n, k = m.shape
    mj = torch.cat([m, m], dim=1)                                                 # (n, 2K)
    cj = torch.zeros(n, 2 * k, 2 * k, dtype=c.dtype, device=c.device)            # (n, 2K, 2K)
    cj[:, :k, :k] = c
    cj[:, k:, k:] = c
    j_kl = float(mixture_mutual_information(mj, cov=cj, distance="kl", chunk_size=chunk_size))
    j_bd = float(mixture_mutual_information(mj, cov=cj, distance="bhattacharyya", chunk_size=chunk_size))
    upper = min(i_kl, 2 * i_kl - j_bd)
    lower = max(0.0, 2 * i_bd - j_kl)
    return [Quantity("I(Z;Z')", lower, "lower bound", "max(0, 2 I_BD(Z;T) - I_KL((Z,Z');T))"),
            Quantity("I(Z;Z')", upper, "upper bound", "min(I_KL(Z;T), 2 I_KL(Z;T) - I_BD((Z,Z');T))")]


def view_information(mixture: OutputMixture, *, chunk_size: int | None = None) -> list[Quantity]:
    """I(Z;Z') between two noisy views: a lower and an upper bound (nats), no point estimate.

    See the module docstring for the derivation: the joint of two views is the mixture with means
    (mu_i, mu_i) and block-diagonal covariances diag(C_i, C_i). Costs two pairwise passes in K dims and
    two in 2K dims. The KL plug-in between the bounds is not returned: it has no error guarantee and was
    up to 3 times the Monte-Carlo value (module docstring).

    Returns
    -------
    list of Quantity
        Two rows named "I(Z;Z')": the lower bound, then the upper bound.
    """
    mix = _check(mixture)
    lo, hi = _information_rows(_bounds(mix, chunk_size))
    return _view_rows(mix, hi.value, lo.value, chunk_size)


def information_table(mixture: OutputMixture, *, views: bool = True,
                      chunk_size: int | None = None) -> pd.DataFrame:
    """All quantities as a DataFrame with columns quantity, value (nats), kind, note.

    Rows: H(Z|T) exact; H(Z) lower/upper/Gaussian-upper; I(Z;T) lower/upper; and, if ``views``,
    I(Z;Z') lower/upper bounds (no point estimate: see the module docstring). ``H(T) = ln n`` is added as
    an exact row (the ceiling of I(Z;T)).
    The H(Z) and I(Z;T) rows share one pair of pairwise passes (Bhattacharyya and KL) over the n components.

    Returns
    -------
    pandas.DataFrame
        Columns quantity, value (nats), kind ("exact", "lower bound" or "upper bound"), note; 7 rows, 9 with
        ``views``.

    Examples
    --------
    Well-separated components: both bounds on I(Z;T) reach ln n.

    >>> import math, torch
    >>> lin = torch.nn.Linear(2, 2).double()
    >>> x = 100 * torch.arange(6, dtype=torch.float64).reshape(3, 2)
    >>> df = information_table(output_mixture(lin, x, noise_std=0.01), views=False)
    >>> bool(abs(df.value[df.quantity == "I(Z;T)"] - math.log(3)).max() < 1e-6)
    True
    """
    mix = _check(mixture)
    b = _bounds(mix, chunk_size)
    info = _information_rows(b)
    rows = [conditional_entropy(mix), *_entropy_rows(b), *info,
            Quantity("H(T)", math.log(mix.n), "exact", "ln n, ceiling of I(Z;T)")]
    if views:
        rows += _view_rows(mix, info[1].value, info[0].value, chunk_size)
    return pd.DataFrame([r._asdict() for r in rows]).rename(columns={"name": "quantity"})
