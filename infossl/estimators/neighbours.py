r"""Exact k-nearest-neighbour distances in the Euclidean norm, chunked, in torch (CPU or GPU).

:func:`nearest_neighbours` returns, for every row, the distances to and indices of its k nearest *other*
rows, sorted by (distance, index). Candidates come from the float32 identity
:math:`\|a-b\|^2 = \|a\|^2 + \|b\|^2 - 2\langle a, b\rangle` on centred, rescaled data (one GEMM per row
chunk, memory O(chunk_size * n)); the candidates' distances are then recomputed exactly by direct
differences in the data's dtype, and a row whose ranking the float32 rounding bound cannot certify is
recomputed against all rows. The result is therefore the exact k-NN of the data in its own dtype.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from infossl._backend import chunk_size_for, global_scale, iter_chunks

__all__ = ["nearest_neighbours"]

_EXTRA = 8  # candidates beyond k re-ranked exactly


def _direct(z: torch.Tensor, rows: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``||z[rows[r]] - z[idx[r, j]]||`` by direct differences: (r, m)."""
    return (z[rows].unsqueeze(1) - z[idx]).pow(2).sum(dim=2).sqrt()


def nearest_neighbours(z: torch.Tensor, k: int, *, chunk_size: Optional[int] = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact Euclidean distances (n, k) and indices (n, k) of each row's k nearest other rows.

    ``z`` is an (n, d) float tensor with ``n > k``; the point itself is excluded (a duplicate row is a
    neighbour at distance 0). Ties are ordered by row index. ``chunk_size`` rows of the (n, n) distance
    matrix are held at a time (default from a 256 MiB budget). No autograd.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    >>> d, i = nearest_neighbours(z, 2)
    >>> d.tolist(), i.tolist()
    ([[1.0, 3.0], [1.0, 2.0], [2.0, 3.0], [4.0, 6.0]], [[1, 2], [0, 2], [1, 0], [2, 1]])
    """
    n, d = z.shape
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n - 1] = [1, {n - 1}], got {k}")
    with torch.no_grad():
        z = z.detach()
        scale = global_scale(z)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zs = (z - z.mean(dim=0, keepdim=True)) / scale  # O(1) entries for the float32 screening
        z32 = zs.to(torch.float32)
        sq = z32.pow(2).sum(dim=1)  # (n,)
        m = min(n, k + 1 + _EXTRA)
        cs = chunk_size or max(1, min(2048, chunk_size_for(n, itemsize=4, factor=2)))
        u = torch.finfo(torch.float32).eps
        big = float(sq.max())
        dist = torch.empty(n, k, dtype=z.dtype, device=z.device)
        index = torch.empty(n, k, dtype=torch.long, device=z.device)
        for rows in iter_chunks(n, cs):
            r = torch.arange(rows.start, rows.stop, device=z.device)  # (c,)
            g = torch.addmm(sq.unsqueeze(0), z32[rows], z32.T, alpha=-2.0)  # (c, n) = d^2 - ||z_i||^2
            g[torch.arange(r.numel(), device=z.device), r] = -math.inf  # self first, always a candidate
            approx, cand = g.topk(m, dim=1, largest=False)  # (c, m)
            cand, approx = cand[:, 1:], approx[:, 1:]  # drop self
            ex = _direct(z, r, cand)  # (c, m - 1) exact, on the data as given
            # order by (distance, index): sort by index first, then stably by distance
            by_idx = cand.argsort(dim=1)
            cand, ex = cand.gather(1, by_idx), ex.gather(1, by_idx)
            order = ex.argsort(dim=1, stable=True)[:, :k]
            index[rows] = cand.gather(1, order)
            dist[rows] = ex.gather(1, order)
            if m == n:
                continue
            # certain when the largest candidate's approximate squared distance exceeds the exact k-th by more
            # than the float32 rounding bound of the identity (conversion + GEMM)
            tol = 4.0 * math.sqrt(d) * u * (sq[rows] + big) + 4.0 * u
            rk2 = (dist[rows, k - 1] / scale).to(torch.float32).pow(2)
            worst = approx.amax(dim=1) + sq[rows]  # (c,)
            unsure = torch.nonzero(worst - tol <= rk2).squeeze(1) + rows.start
            if unsure.numel():  # e.g. near-duplicate points: screen again in float64, then directly
                bs = max(1, chunk_size_for(n, itemsize=8, factor=2))
                unsure = torch.cat([_rescreen64(z, zs, scale, part, k, m, dist, index) for part in unsure.split(bs)])
            if unsure.numel():
                _redo_rows(z, unsure, k, dist, index)
        return dist, index


def _rescreen64(z: torch.Tensor, zs: torch.Tensor, scale: torch.Tensor, rows: torch.Tensor, k: int, m: int,
                dist: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The float32 screening of ``rows`` again in float64 (rounding bound 1e-16 instead of 1e-7); returns the
    rows that are still uncertain."""
    z64 = zs.to(torch.float64)
    sq = z64.pow(2).sum(dim=1)
    u = torch.finfo(torch.float64).eps
    tol = 4.0 * math.sqrt(z.shape[1]) * u * (sq[rows] + sq.max()) + 4.0 * u  # (r,)
    g = torch.addmm(sq.unsqueeze(0), z64[rows], z64.T, alpha=-2.0)  # (r, n)
    g[torch.arange(rows.numel(), device=z.device), rows] = -math.inf
    approx, cand = g.topk(m, dim=1, largest=False)
    cand, approx = cand[:, 1:], approx[:, 1:]
    ex = _direct(z, rows, cand)
    by_idx = cand.argsort(dim=1)
    cand, ex = cand.gather(1, by_idx), ex.gather(1, by_idx)
    order = ex.argsort(dim=1, stable=True)[:, :k]
    index[rows], dist[rows] = cand.gather(1, order), ex.gather(1, order)
    rk2 = (dist[rows, k - 1] / scale).to(torch.float64).pow(2)
    return rows[approx.amax(dim=1) + sq[rows] - tol <= rk2]


def _redo_rows(z: torch.Tensor, rows: torch.Tensor, k: int, dist: torch.Tensor, index: torch.Tensor) -> None:
    """Exact k-NN of ``rows`` against every row by direct differences, in blocks of about 64 MiB."""
    n, d = z.shape
    block = max(1, (64 * 2**20) // max(1, n * d * z.element_size()))
    cols = torch.arange(n, device=z.device)
    for part in rows.split(block):
        full = (z[part].unsqueeze(1) - z.unsqueeze(0)).pow(2).sum(dim=2).sqrt()  # (b, n)
        full[torch.arange(part.numel(), device=z.device), part] = math.inf
        # (distance, index) order: stable sort by distance of the index-ordered columns
        o = full.argsort(dim=1, stable=True)[:, :k]
        index[part], dist[part] = cols[o], full.gather(1, o)
