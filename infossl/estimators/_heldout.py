"""Shared pieces of the held-out estimators (:mod:`~infossl.estimators.nonlinear`,
:mod:`~infossl.estimators.clusters`): row identities, the Miller-Madow plug-in, fit-row normal scores, seeded
initialisation and the interval over subsamples of the held-out rows."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from infossl.estimators.reliability import pooled_spread, subsample_interval

__all__ = ["discrete_mi", "fit_row_normal_scores", "heldout_interval", "miller_madow_entropy", "row_codes",
           "seeded_init"]


def miller_madow_entropy(counts: np.ndarray, n: int) -> float:
    """Plug-in entropy of the counts plus the Miller-Madow term (K - 1) / (2n), K the nonzero counts.

    Returns
    -------
    float
        Nats.
    """
    counts = counts[counts > 0]
    p = counts / n
    return float(-(p * np.log(p)).sum() + (counts.size - 1) / (2.0 * n))


def row_codes(t: torch.Tensor) -> np.ndarray:
    """Integer identity of every row of t (n, d) or (n,).

    Returns
    -------
    numpy.ndarray
        (n,) int64 codes in 0..K-1: equal rows get equal codes.
    """
    _, inverse = torch.unique(t.detach().cpu(), dim=0, return_inverse=True)
    return inverse.numpy().astype(np.int64)


def discrete_mi(cx: np.ndarray, cy: np.ndarray) -> float:
    """Miller-Madow plug-in MI of two integer code arrays (n,) each, nats.

    Returns
    -------
    float
        :math:`\\hat H_{MM}(a) + \\hat H_{MM}(b) - \\hat H_{MM}(a, b)`.
    """
    n = cx.size
    joint = cx * (int(cy.max()) + 1) + cy
    h = [miller_madow_entropy(np.unique(c, return_counts=True)[1], n) for c in (cx, cy, joint)]
    return h[0] + h[1] - h[2]


def fit_row_normal_scores(t: torch.Tensor, fit: torch.Tensor) -> torch.Tensor:
    """Each column mapped through the normal quantile of the *fitting rows'* empirical CDF (mid-rank for
    ties, clipped to [1/(2m), 1 - 1/(2m)], m fitting rows): (n, d). Increasing maps of a column leave it
    unchanged, and held-out rows never shape the transform.

    Returns
    -------
    torch.Tensor
        (n, d), t's dtype and device.
    """
    ref = t[fit].T.contiguous().sort(dim=1).values  # (d, m)
    m = ref.shape[1]
    q = t.T.contiguous()  # (d, n)
    u = 0.5 * (torch.searchsorted(ref, q, side="left") + torch.searchsorted(ref, q, side="right")).to(t.dtype)
    u = (u / m).clamp(0.5 / m, 1 - 0.5 / m)
    return (math.sqrt(2.0) * torch.special.erfinv(2 * u - 1)).T


def silu_mlp(p: int, hidden: int, depth: int, out: int) -> nn.Sequential:
    """The encoders of the held-out estimators: ``depth`` hidden layers of width ``hidden`` with SiLU, then a
    linear map to ``out``: (n, p) -> (n, out).

    Returns
    -------
    torch.nn.Sequential
        The network (default init; :func:`seeded_init` sets it from a generator).
    """
    layers: list[nn.Module] = []
    width = p
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


def seeded_init(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default Linear initialisation, drawn from ``gen`` instead of the global generator.

    Returns
    -------
    None
        The module's Linear layers are overwritten in place.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features)
            with torch.no_grad():
                layer.weight.copy_(torch.rand(layer.weight.shape, generator=gen) * 2 * bound - bound)
                layer.bias.copy_(torch.rand(layer.bias.shape, generator=gen) * 2 * bound - bound)


def heldout_interval(value: float, fn, n: int, rng: np.random.Generator
                     ) -> tuple[tuple[float, float], dict]:
    """value +- (t_{dof,0.975} se + |drift|) from ``fn`` (a reading of a sorted index array) on 2 disjoint
    halves and, when each has 100 rows, 4 disjoint quarters of n rows
    (:func:`~infossl.estimators.reliability.subsample_interval`, the spread pooled by
    :func:`~infossl.estimators.reliability.pooled_spread`). A non-finite reading gives a NaN interval.

    Returns
    -------
    ((float, float), dict)
        The interval, and the readings ``halves``, ``quarters`` with ``se`` and ``drift``.
    """
    perm = rng.permutation(n)
    halves = [fn(np.sort(perm[i::2])) for i in range(2)]
    quarters = [fn(np.sort(perm[i::4])) for i in range(4)] if n // 4 >= 100 else []
    if not all(math.isfinite(v) for v in [*halves, *quarters]):  # no spread to read: no interval (NaN,
        # as for too few rows), with the readings kept for the caller to report
        return (float("nan"), float("nan")), {"halves": halves, "quarters": quarters, "se": float("nan"),
                                              "drift": float("nan")}
    se, dof = pooled_spread(halves, quarters)
    drift = value - float(np.mean(halves))
    spread = {"halves": halves, "quarters": quarters, "se": se, "drift": drift}
    return subsample_interval(value, se, drift, dof), spread
