"""Slow O(n^2) loop implementations of the nearest-neighbour estimators, kept as test oracles.

Written independently of :mod:`infossl.estimators.knn`: plain numpy in float64, one sample at a time,
straight from the formulas of Kraskov, Stögbauer and Grassberger, Phys. Rev. E 69, 066138 (2004),
eqs. (8), (9) and (20). Not part of the public API; use only on small n.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma


def _as_2d(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _distances_from(z: np.ndarray, i: int, metric: str) -> np.ndarray:
    diff = z - z[i]  # (n, d)
    if metric == "chebyshev":
        return np.abs(diff).max(axis=1)
    return np.sqrt((diff * diff).sum(axis=1))


def kl_entropy_reference(z, k: int = 3, metric: str = "euclidean") -> float:
    """Kozachenko–Leonenko entropy in nats, one sample at a time (KSG 2004 eq. 20)."""
    z = _as_2d(z)
    n, d = z.shape
    log_r = 0.0
    for i in range(n):
        dist = _distances_from(z, i, metric)
        others = np.delete(dist, i)
        log_r += math.log(np.sort(others)[k - 1])
    if metric == "chebyshev":
        log_v = d * math.log(2.0)
    else:
        log_v = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
    return float(digamma(n) - digamma(k) + log_v + d * log_r / n)


def ksg_reference(x, y, k: int = 3, variant: int = 1, standardize: bool = True) -> float:
    """KSG mutual information in nats, one sample at a time (KSG 2004 eq. 8 or eq. 9).

    Ties at the k-th joint distance are broken towards the lower row index (variant 2 only depends on it).
    """
    x, y = _as_2d(x), _as_2d(y)
    if standardize:
        sx, sy = x.std(axis=0, ddof=1), y.std(axis=0, ddof=1)
        x = x / np.where(sx > 0, sx, 1.0)
        y = y / np.where(sy > 0, sy, 1.0)
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        dx = _distances_from(x, i, "chebyshev")
        dy = _distances_from(y, i, "chebyshev")
        dz = np.maximum(dx, dy)
        others = [j for j in range(n) if j != i]
        order = sorted(others, key=lambda j: (dz[j], j))  # stable: equal distances by index
        eps = dz[order[k - 1]]
        if variant == 1:
            n_x = sum(1 for j in others if dx[j] < eps)
            n_y = sum(1 for j in others if dy[j] < eps)
            total += digamma(n_x + 1) + digamma(n_y + 1)
        else:
            nbrs = order[:k]
            ex = max(dx[j] for j in nbrs)
            ey = max(dy[j] for j in nbrs)
            n_x = sum(1 for j in others if dx[j] <= ex)
            n_y = sum(1 for j in others if dy[j] <= ey)
            total += digamma(n_x) + digamma(n_y)
    if variant == 1:
        return float(digamma(k) + digamma(n) - total / n)
    return float(digamma(k) - 1.0 / k + digamma(n) - total / n)
