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


def fit_row_normal_scores(t: torch.Tensor, fit: torch.Tensor, *, tail_gaps: int = 10) -> torch.Tensor:
    """Each column mapped through the normal quantile of the *fitting rows'* empirical CDF, interpolated:
    (n, d). The map is strictly increasing, so it keeps the information of each column; held-out rows never
    shape it. An increasing map of a column leaves the fit rows' scores unchanged, an increasing affine map
    every row's (between fit values the interpolation is linear in the column's own scale).

    The CDF of a column, from its m fitting rows: at each distinct fit value it is the mid-rank ECDF
    (r - 1/2) / m (r the rank; tied values share the mean of their ranks), linear between consecutive
    distinct fit values, and below the smallest / above the largest an exponential tail that falls to 0 / 1
    with the mean density of the ``tail_gaps`` outermost gaps. The map is continuous and strictly increasing
    on the whole line, so distinct held-out values keep distinct scores (a step map would send all held-out
    values between two fit values to one score: ties, and a quantised copy of the latent), and at the fit
    values it equals the mid-rank ECDF, so the fit rows' scores are the usual normal scores.

    Parameters
    ----------
    t : torch.Tensor (n, d)
    fit : torch.Tensor (m,)
        Indices of the fitting rows, m >= 2. A column constant on them scores 0 at its value and the
        outermost scores of m rows below and above it (no scale to interpolate with).
    tail_gaps : int, default 10
        Outermost gaps whose mean density sets each exponential tail.

    Returns
    -------
    torch.Tensor
        (n, d), t's dtype and device; the fit rows' values map to the normal quantiles of (r - 1/2) / m.
    """
    work = t.to(torch.float64)
    if not bool(torch.isfinite(work).all()):
        raise ValueError("normal scores need finite values: the input holds NaN or +-inf")
    ref = work[fit].T.contiguous().sort(dim=1).values  # (d, m)
    d, m = ref.shape
    if m < 2:
        raise ValueError(f"normal scores need at least 2 fit rows, got {m}")
    # mid-rank ECDF at each sorted fit value: equal values get the same (mean-rank) position
    pos = 0.5 * (torch.searchsorted(ref, ref, side="left") + torch.searchsorted(ref, ref, side="right"))
    pos = pos.to(torch.float64) / m  # (d, m)
    q = work.T.contiguous()  # (d, n)
    # j: the last sorted fit value <= q; r_j <= q < r_{j+1} with r_{j+1} > r_j strictly (ties are skipped)
    j = torch.searchsorted(ref, q, side="right") - 1
    jl, jr = j.clamp(0, m - 2), (j + 1).clamp(1, m - 1)
    r_lo, r_hi = ref.gather(1, jl), ref.gather(1, jr)
    p_lo, p_hi = pos.gather(1, jl), pos.gather(1, jr)
    frac = ((q - r_lo) / (r_hi - r_lo).clamp_min(torch.finfo(torch.float64).tiny)).clamp(0, 1)
    u = p_lo + frac * (p_hi - p_lo)  # inside [r_1, r_m]
    # exponential tails: u = p_1 exp(-(r_1 - q) / h) below, with h = p_1 / (mean density of the outer gaps),
    # so the density is continuous in mean over those gaps and u stays in (0, p_1) for every q < r_1
    g = min(max(1, tail_gaps), m - 1)
    p_first, p_last = pos[:, :1], 1 - pos[:, -1:]
    span = ref[:, -1:] - ref[:, :1]  # > 0

    def density(dp: torch.Tensor, width: torch.Tensor) -> torch.Tensor:  # all g + 1 outer values tied:
        return torch.where(width > 0, dp / width.clamp_min(1e-300), 1.0 / span)  # the whole range's

    dens_lo = density(pos[:, g:g + 1] - pos[:, :1], ref[:, g:g + 1] - ref[:, :1])
    dens_hi = density(pos[:, -1:] - pos[:, -1 - g:m - g], ref[:, -1:] - ref[:, -1 - g:m - g])
    # tail probabilities are carried as logs of min(u, 1 - u): far out they are below the smallest double
    log_lower = torch.where(j < 0, p_first.log() - (ref[:, :1] - q) * dens_lo / p_first, u.log())
    log_upper = torch.where(j == m - 1, p_last.log() - (q - ref[:, -1:]) * dens_hi / p_last, (1 - u).log())
    log_upper = torch.where((j == m - 1) & (q == ref[:, -1:]), p_last.log().expand_as(q), log_upper)
    z = torch.where(log_lower <= math.log(0.5), _ndtri_of_log(log_lower), -_ndtri_of_log(log_upper))
    const = (ref[:, -1:] <= ref[:, :1]).expand_as(q)
    if bool(const.any()):  # a constant fit column has no scale to interpolate or extend: its value scores 0,
        # values below / above it the outermost scores of m rows (the mid-rank ECDF's 1/(2m) and 1 - 1/(2m))
        edge = float(torch.special.ndtri(torch.tensor(0.5 / m, dtype=torch.float64)))
        step = torch.where(q < ref[:, :1], edge, torch.where(q > ref[:, :1], -edge, 0.0))
        z = torch.where(const, step, z)
    return z.T.to(t.dtype)


def _ndtri_of_log(log_p: torch.Tensor) -> torch.Tensor:
    """The normal quantile of exp(log_p) for log_p <= log(1/2), also where exp(log_p) underflows: ndtri
    where the probability is a normal double, else Newton steps on log_ndtr from the leading asymptotic
    term -sqrt(-2 log p) (log Phi(z) ~ -z^2/2 - log(-z sqrt(2 pi)) as z -> -inf)."""
    direct = torch.special.ndtri(log_p.clamp_min(-700.0).exp())
    far = log_p < -700.0
    if not bool(far.any()):
        return direct
    lp = log_p[far]
    z = -torch.sqrt(-2 * lp)
    for _ in range(6):  # each step: z -= (log Phi(z) - log p) / (d/dz log Phi(z)); converges from below
        log_phi = -0.5 * z * z - 0.5 * math.log(2 * math.pi)
        z = z - (torch.special.log_ndtr(z) - lp) / torch.exp(log_phi - torch.special.log_ndtr(z))
    return direct.masked_scatter(far, z)


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
