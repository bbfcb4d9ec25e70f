r"""Exact nearest-neighbour search, chunked, in torch (CPU or GPU), and scipy KD-trees: the one engine of
the kNN estimators (:mod:`~infossl.estimators.knn`, :mod:`~infossl.estimators.intrinsic`).

Every answer is exact for the data in its own dtype; the brute-force paths hold O(chunk_size * n) memory
per worker.

* Scheduling (CPU): the rows are cut into chunks (at least four per worker) and one worker thread per
  core takes the next chunk when it finishes one, with torch's ops single-threaded inside. A core taken by
  another process then slows one worker, which finishes fewer chunks, instead of stalling every op at its
  join barrier (the collapse of torch's own intra-op threads on a busy machine). Each row's result depends
  on that row only, so it is the same for every chunk size, worker count and schedule. On a GPU the chunks
  run in order on the device.
* Euclidean (:func:`nearest_neighbours`): candidates come from the float32 identity
  :math:`\|a-b\|^2 = \|a\|^2 + \|b\|^2 - 2\langle a, b\rangle` on centred, rescaled data (one GEMM on
  rows augmented with the norms, in cache-sized column blocks). Column j belongs to group j mod the block
  width; the running minimum over the blocks gives each group's minimum, and every column of the m groups
  with the smallest minima is a candidate (the m smallest values of a row lie in those groups), so no
  ``topk`` runs over the blocks. The candidates' distances are recomputed by direct differences in the
  data's dtype, and a row whose ranking the float32 rounding bound cannot certify is screened again in
  float64, then recomputed against all rows. On CPUs where it is measured faster (AMX, AVX512-BF16:
  :func:`_euclid_kernel`, once per process and width) the first screen is a bfloat16 GEMM of d^2 + c_i
  with a rigorous per-row bound (:func:`_bf16_tolerance`), followed by the same float32 second screen and
  exact settling, so the neighbours are the same whichever screen runs. The certification allows for the
  data dtype's rounding of the k-th distance (:func:`_dtype_growth`).
* Max-norm (:func:`chebyshev_slabs`): on the CPU a block is either the cross block of
  ``torch.nn.functional.pdist`` on a row block stacked on a column block (vectorised over the features) or
  a loop over feature groups of broadcast differences (vectorised over the columns); which is faster depends
  on the CPU and the width, so it is timed once per process and width (:func:`_cpu_kernel`). Both give
  the same values. On GPUs ``torch.cdist`` is used. The q smallest entries of a row's slabs are selected by
  the same grouped minima (:func:`_smallest`).
* KSG neighbours and counts (:func:`ksg_counts`): the joint max-norm is :math:`\max(d_x, d_y)`, so each
  marginal block is computed once and reused for the joint neighbours and both counts. On the CPU both
  marginals are screened on one int16 grid (integer sub, abs and max, on twice the lanes of float32) with
  a rigorous error bound (:func:`_screens`; a float32 screen where an outlier would make the grid coarse),
  and every neighbour and every comparison inside the bound is settled in the data's dtype. Where a C
  compiler is present, the same screens run in the compiled kernels of :mod:`~infossl.estimators._native`
  (``_maxnorm.c``: the running maximum kept in vector registers, the neighbours and counts selected as the
  columns stream past, no (rows, columns) block written to memory), several times faster with identical
  values; :func:`pinned_ksg_engine` forces one engine.
* ``algorithm="kd_tree"`` (:func:`kth_neighbour`, :func:`ksg_counts`): ``scipy.spatial.cKDTree`` on all
  cores, for low dimensions, CPU data and no autograd.
* A search of at least :data:`_PROGRESS_MIN_WORK` pair-features shows a progress bar over its rows
  (:mod:`infossl._progress`).
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch

from infossl._backend import (DIRECT_BLOCK_BYTES, chunk_size_for, global_scale, iter_chunks,
                              one_intra_op_thread)
from infossl._progress import progress_bar, progress_enabled
from infossl.estimators import _native

__all__ = ["chebyshev_slabs", "distances", "ksg_counts", "ksg_engine", "kth_neighbour", "nearest_neighbours",
           "pinned_euclidean_screen", "pinned_ksg_engine"]

_EXTRA = 8  # Euclidean: candidates beyond k re-ranked exactly
_EXTRA_BF16 = 12  # Euclidean, bfloat16 first screen: groups beyond k kept for the float32 second screen
_COL_BLOCK = 256  # max-norm: columns per pdist block (and default rows per chunk): fastest measured
_GEMM_ROWS, _GEMM_COLS = 128, 4096  # Euclidean screening: a (rows, cols) float32 block of 2 MiB per topk
_CHUNKS_PER_WORKER = 4  # at least this many chunks per worker, so a slowed worker is left few to finish
_FEATURE_GROUP_BYTES = 2**20  # feature-loop kernel: (group, rows, cols) scratch kept within a core's L2
_NATIVE_ROWS, _NATIVE_ROWS_MIN = 512, 16  # compiled KSG kernels: rows per chunk (a column tile is reused
# by every row of a chunk while it is in cache), and the fewest rows that keep the register blocks full
_PROGRESS_MIN_WORK = 2e10  # pair-features from which a search shows a bar (several seconds on 2 cores)
_CAND_BYTES = 2**24  # Euclidean: (rows, candidates, d) differences of the exact re-ranking per piece


# --------------------------------------------------------------------------------------------- scheduling
def _workers(device: torch.device) -> int:
    """Chunk workers for a search on ``device``: torch's intra-op thread count on the CPU (capped by the
    cores), one elsewhere (a GPU kernel already fills the device)."""
    if device.type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1))


def _run_chunks(fn: Callable[[slice, dict], None], chunks: Sequence[slice], workers: int,
                work: float = 0.0) -> None:
    """``fn(rows, scratch)`` for every chunk, on ``workers`` threads that each take the next chunk when done.

    ``scratch`` is a dict private to the calling thread (reusable buffers); ``fn`` writes disjoint rows of
    its outputs, so the result does not depend on which thread ran which chunk. Exceptions propagate.
    ``work`` (pair-features of the search) decides whether a progress bar over the rows is worth drawing
    (:mod:`infossl._progress`: from :data:`_PROGRESS_MIN_WORK`, several seconds of search, on a terminal).
    """
    if progress_enabled(work=work, min_work=_PROGRESS_MIN_WORK):
        total = sum(rows.stop - rows.start for rows in chunks)
        with progress_bar(True, total=total, desc="k-NN search", unit="rows") as bar:
            _run_chunks_on(fn, chunks, workers, bar)
    else:
        _run_chunks_on(fn, chunks, workers, None)


def _run_chunks_on(fn: Callable[[slice, dict], None], chunks: Sequence[slice], workers: int, bar) -> None:
    """:func:`_run_chunks` with an optional bar, advanced from this thread as chunks finish in order."""
    if workers <= 1 or len(chunks) <= 1:
        scratch: dict = {}
        for rows in chunks:
            fn(rows, scratch)
            if bar is not None:
                bar.update(rows.stop - rows.start)
        return
    local = threading.local()
    # inference and grad modes are per thread: a worker starts with neither, so it takes the caller's (an
    # output allocated under inference mode cannot be written outside it)
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def task(rows: slice) -> None:
        if not hasattr(local, "scratch"):
            local.scratch = {}
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            fn(rows, local.scratch)

    with one_intra_op_thread(), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(task, rows) for rows in chunks]
        try:
            for future, rows in zip(futures, chunks):
                future.result()  # a worker's exception is raised here, in order
                if bar is not None:
                    bar.update(rows.stop - rows.start)
        except BaseException:  # an error or Ctrl-C: drop the chunks not started instead of finishing them
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _chunk_rows(n: int, budget_rows: int, workers: int, preferred: int) -> int:
    """Rows per chunk: ``preferred`` (the kernel's best block), at most the memory budget's rows per worker,
    and small enough that every worker gets :data:`_CHUNKS_PER_WORKER` chunks when n allows."""
    per_worker = max(1, budget_rows // workers)
    balance = max(1, -(-n // (workers * _CHUNKS_PER_WORKER))) if workers > 1 else n
    return max(1, min(preferred, per_worker, balance))


def distances(z: torch.Tensor, rows: torch.Tensor, idx: torch.Tensor, metric: str = "euclidean"
              ) -> torch.Tensor:
    """Distances ``||z[rows[r]] - z[idx[r, j]]||`` (Euclidean or max-norm) by direct differences: (r, m).

    Differentiable; the exact distance of a neighbour in the data's dtype.

    Returns
    -------
    torch.Tensor
        (r, m) distances in ``z``'s dtype and on its device.
    """
    diff = z[rows].unsqueeze(1) - z[idx]  # (r, m, d)
    if metric == "chebyshev":
        return diff.abs().amax(dim=2)
    return diff.pow(2).sum(dim=2).sqrt()


def _check_finite(t: torch.Tensor, what: str) -> None:
    """Raise a ValueError naming the call when t holds NaN or +-inf (every distance to such a row is
    undefined, and the screens would order the rest wrongly)."""
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{what}: the input holds NaN or +-inf values; neighbours need finite coordinates")


def nearest_neighbours(z: torch.Tensor, k: int, *, chunk_size: Optional[int] = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact Euclidean distances (n, k) and indices (n, k) of each row's k nearest other rows.

    ``z`` is an (n, d) float tensor with ``n > k``; the point itself is excluded (a duplicate row is a
    neighbour at distance 0). Ties are ordered by row index. ``chunk_size`` rows of the (n, n) distance
    matrix are held at a time (default from a 256 MiB budget). No autograd.

    Returns
    -------
    tuple of torch.Tensor
        ``(dist, index)``: (n, k) distances in ``z``'s dtype, ascending, and (n, k) int64 row indices.

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
    _check_finite(z, "nearest_neighbours")
    with torch.no_grad():
        z = z.detach()
        scale = global_scale(z)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zs = (z - z.mean(dim=0, keepdim=True)) / scale  # O(1) entries for the float32 screening
        z32 = zs.to(torch.float32)
        sq = z32.pow(2).sum(dim=1)  # (n,)
        # one GEMM gives d^2 - ||z_i||^2 = -2 <z_i, z_j> + ||z_j||^2 with no broadcast copy of the bias:
        # rows [z_i, 1] against columns [-2 z_j, ||z_j||^2]
        za = torch.cat([z32, torch.ones_like(sq).unsqueeze(1)], dim=1)  # (n, d + 1)
        zb = torch.cat([-2.0 * z32, sq.unsqueeze(1)], dim=1).T.contiguous()  # (d + 1, n)
        m = min(n, k + 1 + _EXTRA)
        big = float(sq.max())
        kernel = _euclid_kernel(d, z.device) if _bf16_allowed(sq) and z.device.type == "cpu" else "float32"
        if kernel == "bfloat16":
            sa, sb, off, tol1 = _bf16_operands(z32, sq, big)
            m1 = min(n, k + 1 + _EXTRA_BF16)  # more groups: the coarser screen's band holds more rows
        else:
            sa, sb, m1, tol1, off = za, zb, m, None, None
        workers = _workers(z.device)
        rows_best = _GEMM_ROWS * (1 if kernel == "float32" else 2)  # bfloat16: measured faster at 256
        rows_best = rows_best if z.device.type == "cpu" else 2048  # a GPU wants large GEMMs
        cs = chunk_size or _chunk_rows(n, chunk_size_for(n, itemsize=4, factor=2), workers, rows_best)
        # CPU: (rows, w) blocks stay in cache; at least m1 columns wide so that m1 groups exist (k near n)
        w = n if z.device.type != "cpu" else min(n, max(_GEMM_COLS, m1))
        nbk = -(-n // w)
        # the second screen's columns [-2 z_j, ||z_j||^2] stored group by group, (w, nbk, d + 1), so that the
        # columns of a chosen group are one contiguous read (rows past n are zeros, marked invalid below)
        zg = None
        if off is not None or nbk > 1:
            zg = torch.zeros(nbk * w, d + 1, device=z.device)
            zg[:n] = zb.T
            zg = zg.view(nbk, w, d + 1).transpose(0, 1).contiguous()
        u = torch.finfo(torch.float32).eps
        dist = torch.empty(n, k, dtype=z.dtype, device=z.device)
        index = torch.empty(n, k, dtype=torch.long, device=z.device)
        # below this k-th distance the data dtype's differences underflow (relative rounding bounds fail):
        # such rows are settled directly in the data's dtype
        tiny = math.sqrt(torch.finfo(z.dtype).tiny / torch.finfo(z.dtype).eps)
        copy64: dict = {}  # the float64 re-screen's centred copy of z, built once per search on first need
        copy_lock = threading.Lock()

        def centred64() -> tuple[torch.Tensor, torch.Tensor]:
            with copy_lock:
                if not copy64:
                    # from the data in float64 (a float32 copy's errors are not in the float64 bound)
                    z64 = z.to(torch.float64)
                    z64 = (z64 - z64.mean(dim=0, keepdim=True)) / scale.to(torch.float64)
                    copy64.update(z=z64, sq=z64.pow(2).sum(dim=1))
            return copy64["z"], copy64["sq"]

        def chunk(rows: slice, scratch: dict) -> None:
            r = torch.arange(rows.start, rows.stop, device=z.device)  # (c,)
            c = r.numel()
            # Column j belongs to group j % w; the running minimum over the blocks is each group's minimum.
            # A value among the m1 smallest of its row has at most m1 - 1 smaller ones, so it lies in one of
            # the m1 groups of smallest minima: every column of those groups is a candidate, and every other
            # column's value is at least the m1-th smallest group minimum (the certification's threshold).
            tol = 4.0 * math.sqrt(d + 1) * u * (sq[rows] + 2.0 * big) + 4.0 * u  # float32 screen's bound
            low = None
            for cols in iter_chunks(n, w):
                g = sa[rows] @ sb[:, cols]  # (c, w) float32 d^2 - ||z_i||^2, or bfloat16 d^2 + c_i
                own = torch.nonzero((r >= cols.start) & (r < cols.stop)).squeeze(1)
                g[own, r[own] - cols.start] = -math.inf  # self in its group, so that group is always taken
                if off is not None:  # bfloat16 values >= 0 and -inf: their bits read as int16 are ordered as
                    g = g.view(torch.int16)  # the values (-inf is -128), and the integer minimum is fast
                if low is None:
                    low = g
                else:
                    part = low[:, :cols.stop - cols.start]
                    torch.minimum(part, g, out=part)
            top, groups = low.topk(m1, dim=1, largest=False)  # (c, m1)
            cand = (groups.unsqueeze(2) + w * torch.arange(nbk, device=z.device).view(1, 1, nbk)
                    ).reshape(c, m1 * nbk)  # (c, m1 * nbk) every column of the chosen groups
            valid = cand < n  # the last block may be partial
            cand = torch.where(valid, cand, r.unsqueeze(1))  # past the last column: self, dropped below
            # every column outside the chosen groups has a first-screen value >= the m1-th group minimum
            if off is None:
                worst = top[:, -1] + sq[rows] - tol
            else:  # a non-candidate's rounded screen is >= t (>= 0), so before the output's rounding it is
                # >= t / (1 + u), and its d^2 >= that - c_i - E_i (_bf16_tolerance)
                t = top[:, -1].view(torch.bfloat16).float()
                worst = t / (1.0 + _U_BF16) - off[rows] - tol1[rows].float() - tol
            if zg is not None:  # rank the groups' columns by the float32 screen (a small batched product per
                # row) and re-rank only the m smallest exactly; every other column's value is at least the
                # smaller of the two thresholds (each with its own rounding bound)
                cols2 = zg[groups].view(c, m1 * nbk, d + 1)  # (c, m1 nbk, d + 1)
                g2 = torch.bmm(cols2, za[rows].unsqueeze(2)).squeeze(2)  # (c, m1 nbk)
                g2 = g2.masked_fill(~valid, math.inf).masked_fill(valid & (cand == r.unsqueeze(1)), -math.inf)
                v2, j2 = g2.topk(m, dim=1, largest=False)  # self (once) and m - 1 others
                cand = cand.gather(1, j2)
                worst = torch.minimum(worst, v2[:, -1] + sq[rows] - tol)
            # exact distances on the data as given, in row pieces that bound the (rows, cand, d) difference
            piece = max(1, _CAND_BYTES // max(1, cand.shape[1] * d * z.element_size()))
            ex = torch.cat([distances(z, r[p], cand[p]) for p in iter_chunks(c, piece)])  # (c, m)
            ex = ex.masked_fill(cand == r.unsqueeze(1), math.inf)  # self (and its repeats) last
            # order by (distance, index): sort by index first, then stably by distance
            by_idx = cand.argsort(dim=1)
            cand, ex = cand.gather(1, by_idx), ex.gather(1, by_idx)
            order = ex.argsort(dim=1, stable=True)[:, :k]
            index[rows] = cand.gather(1, order)
            dist[rows] = ex.gather(1, order)
            if m == n:
                return
            # certain when the approximate squared distance of every non-candidate exceeds the exact k-th by
            # more than the rounding bound of its screen (float32: conversion + GEMM over d + 1 terms whose
            # absolute sum is at most ||z_i||^2 + 2 ||z_j||^2; bfloat16: _bf16_tolerance on top of it)
            rk2 = (dist[rows, k - 1] / scale).double().pow(2) * _dtype_growth(z.dtype, d)
            kth = dist[rows, k - 1]
            underflow = (kth < tiny) & (kth > 0)
            zero = torch.nonzero(kth == 0).squeeze(1)
            if zero.numel():  # a 0 to a row that differs is an underflow too (exact duplicates are fine)
                near = index[rows.start + zero]  # (z0, k)
                differs = (z[near] != z[rows.start + zero].unsqueeze(1)).flatten(1).any(dim=1)
                underflow[zero[differs]] = True
            unsure = torch.nonzero((worst.double() <= rk2) & ~underflow).squeeze(1) + rows.start
            if unsure.numel():  # e.g. near-duplicate points: screen again in float64, then directly
                bs = max(1, chunk_size_for(n, itemsize=8, factor=2) // workers)
                z64, sq64 = centred64()
                unsure = torch.cat([_rescreen64(z, z64, sq64, scale, part, k, m, dist, index)
                                    for part in unsure.split(bs)])
            unsure = torch.cat([unsure, torch.nonzero(underflow).squeeze(1) + rows.start])
            if unsure.numel():
                _redo_rows(z, unsure, k, dist, index)

        _run_chunks(chunk, list(iter_chunks(n, cs)), workers, work=float(n) * n * d)
        return dist, index


_U_BF16 = 2.0 ** -8  # unit roundoff of bfloat16 (8 significant bits)
_EUCLID_CHOICE: dict = {}  # (d, device type) -> "float32" or "bfloat16": the measured faster first screen
_BF16_MIN_GAIN = 2.0  # bfloat16 screen only where its tile is this many times faster: it keeps more groups
# and leaves more rows uncertain, and at d = 64 a tile 1.6x faster gave no faster search (2 workers, n = 1e5)
_BF16_MAX_SPREAD = 8.0  # bfloat16 screen only while max ||z_j||^2 <= this times the mean (its bound scales
# with the largest row norm, so one outlier would leave most rows uncertain)


def _bf16_allowed(sq: torch.Tensor) -> bool:
    """Whether the bfloat16 screen's bound is useful for rows of squared norms ``sq`` (no outlier row)."""
    mean = float(sq.mean())
    return mean > 0 and math.isfinite(mean) and float(sq.max()) <= _BF16_MAX_SPREAD * mean


def _bf16_operands(z32: torch.Tensor, sq: torch.Tensor, big: float
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The bfloat16 screen's GEMM operands, offsets and error bounds for float32 rows ``z32`` (n, d).

    d^2 + c_i comes from one GEMM: rows [A_i, 1, 1, hr_i, lr_i] against columns [-2 A_j, h_j, l_j, 1, 1]
    (A = z32 in bfloat16), the squared norms split in two bfloat16 parts each (hi + lo: to 2^-16 relative)
    so that only the products' inputs are coarse. The offset c_i >= the error bound E_i
    (:func:`_bf16_tolerance`) keeps every screened value >= 0, where the bits of a bfloat16 read as int16
    are ordered as its values (a fast integer minimum and topk).

    Returns
    -------
    tuple of torch.Tensor
        ``(sa, sb, off, tol)``: (n, d + 4) and (d + 4, n) bfloat16 operands, (n,) float32 offsets c_i and
        (n,) float64 bounds E_i.
    """
    n = z32.shape[0]
    tol = _bf16_tolerance(sq, big, z32.shape[1])
    off = (tol * 1.001).to(torch.float32)  # c_i, rounded up past E_i
    col_hi, col_lo = _split_bf16(sq)
    row_hi, row_lo = _split_bf16(sq + off)
    one = torch.ones(n, 1, dtype=torch.bfloat16, device=z32.device)
    a16 = z32.to(torch.bfloat16)
    sa = torch.cat([a16, one, one, row_hi.unsqueeze(1), row_lo.unsqueeze(1)], dim=1)  # (n, d + 4)
    sb = torch.cat([-2.0 * a16, col_hi.unsqueeze(1), col_lo.unsqueeze(1), one, one], dim=1).T.contiguous()
    return sa, sb, off, tol


def _split_bf16(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 ``v`` as two bfloat16 parts, hi + lo, within u^2 |v| of v (u = 2^-8); hi is v rounded and
    v - hi is exact in float32."""
    hi = v.to(torch.bfloat16)
    return hi, (v - hi.float()).to(torch.bfloat16)


def _bf16_tolerance(sq: torch.Tensor, big: float, d: int) -> torch.Tensor:
    r"""Per row i, a bound E_i on the bfloat16 screen's error before its output is rounded (float64, (n,)).

    The screen of row i against column j is the float32 sum of d + 4 products
    :math:`S_{ij} = \sum_f A_{if} B_{jf} + h_j + l_j + \hat h_i + \hat l_i` with :math:`A = \mathrm{bf16}(a)`,
    :math:`B = -2 A` (a the float32 rows; scaling by -2 is exact), :math:`h_j + l_j` the float32 squared
    norm :math:`s_j` split in two bfloat16 parts and :math:`\hat h_i + \hat l_i` the same split of
    :math:`\mathrm{fl}(s_i + c_i)`, with an offset :math:`0 \le c_i \le \max_j s_j`. With u = 2^-8 (unit
    roundoff of bfloat16), u' = 2^-24 (float32), :math:`\gamma_m = m u' / (1 - m u')`, M = max_j s_j and
    :math:`P_i = \sqrt{s_i M}\,(1 + (d + 2) u')` (a bound on :math:`\|a_i\| \|a_j\|`, since every s is
    within :math:`\gamma_d` of the exact squared norm), :math:`|S_{ij} - (\|a_i - a_j\|^2 + c_i)| \le E_i`:

    * inputs: :math:`|A_{if} A_{jf} - a_{if} a_{jf}| \le (2u + u^2) |a_{if} a_{jf}|`, summed with
      Cauchy-Schwarz and doubled: :math:`2 (2u + u^2) P_i`;
    * column norm: :math:`|s_j - \|a_j\|^2| \le \gamma_d \|a_j\|^2 \le 2 \gamma_d M`,
      :math:`|h_j + l_j - s_j| \le u^2 s_j`: :math:`(2 \gamma_d + u^2) M`;
    * row norm and offset: the float32 sum :math:`s_i + c_i` (:math:`u' \cdot 2M`), :math:`s_i` itself
      (:math:`\gamma_d \|a_i\|^2 \le 2 \gamma_d M`) and its split (:math:`u^2 \cdot 2M`):
      :math:`(2 \gamma_d + 2u' + 2u^2) M`;
    * accumulation: products of bfloat16 numbers are exact in float32, and the d + 4 terms are summed in
      float32 in any order (oneDNN's AMX and AVX512-BF16 kernels and ATen's fallback accumulate in float32):
      :math:`\gamma_{d+4}` times their absolute sum, :math:`\le 2 (1 + u)^2 P_i + 5 M`;
    * products below 2^-126 flushed to zero: at most (d + 4) 2^-126, inside the constant 1e-30.

    The output's single rounding to bfloat16 is to nearest (oneDNN's ``vcvtneps2bf16`` and c10's
    conversion), so its relative error is at most u.

    The output is rounded once to bfloat16 (relative error <= u); :func:`nearest_neighbours` applies that
    to the screened threshold itself and takes :math:`c_i \ge E_i`, so every screened value is >= 0.

    Returns
    -------
    torch.Tensor
        (n,) float64 bounds E_i.
    """
    u, u32 = _U_BF16, 2.0 ** -24

    def gamma(m: int) -> float:
        return m * u32 / (1.0 - m * u32)

    p = (sq.double() * big).sqrt() * (1.0 + (d + 2) * u32)
    return (2.0 * (2.0 * u + u * u) * p + (2.0 * gamma(d) + u * u) * big
            + (2.0 * gamma(d) + 2.0 * u32 + 2.0 * u * u) * big
            + gamma(d + 4) * (2.0 * (1.0 + u) ** 2 * p + 5.0 * big) + 1e-30)


_EUCLID_PIN: list = [None]  # the screen forced by pinned_euclidean_screen, else None (measured choice)


@contextlib.contextmanager
def pinned_euclidean_screen(name: str) -> Iterator[None]:
    """Force the Euclidean first screen (``"float32"`` or ``"bfloat16"``) inside the ``with`` block instead
    of the measured choice, for tests and benchmarks that time or check one screen. Every value is settled
    exactly in the data's dtype whichever screen runs, so this changes the speed only.

    Yields
    ------
    None
        The block runs with the screen pinned; the previous setting is restored after it.
    """
    if name not in ("float32", "bfloat16"):
        raise ValueError(f"the Euclidean screen is 'float32' or 'bfloat16', got {name!r}")
    with _pinned(_EUCLID_PIN, name):
        yield


@contextlib.contextmanager
def _pinned(slot: list, name: str) -> Iterator[None]:
    """``slot[0] = name`` inside the block (under the kernel lock), the previous value restored after it."""
    with _KERNEL_LOCK:
        old, slot[0] = slot[0], name
    try:
        yield
    finally:
        with _KERNEL_LOCK:
            slot[0] = old


_KSG_PIN: list = [None]  # None: the compiled kernels where they load, else the torch kernels


@contextlib.contextmanager
def pinned_ksg_engine(name: str) -> Iterator[None]:
    """Force the KSG search's CPU engine inside the ``with`` block: ``"compiled"`` (the kernels of
    :mod:`~infossl.estimators._native`; an error if they cannot be built here) or ``"torch"``. For tests and
    benchmarks that check or time one engine; both give identical values, so this changes the speed only.

    Yields
    ------
    None
        The block runs with the engine pinned; the previous setting is restored after it.
    """
    if name not in ("compiled", "torch"):
        raise ValueError(f"the KSG engine is 'compiled' or 'torch', got {name!r}")
    with _pinned(_KSG_PIN, name):
        yield


def ksg_engine(device: torch.device | str = "cpu") -> str:
    """The engine a brute-force KSG search on ``device`` runs now: ``"compiled"`` (the kernels of
    :mod:`~infossl.estimators._native`, built on first use) or ``"torch"`` (GPUs, no C compiler,
    ``INFOSSL_NATIVE=0``, or :func:`pinned_ksg_engine`). Both give identical values.

    Returns
    -------
    str
        ``"compiled"`` or ``"torch"``.
    """
    return "compiled" if _ksg_library(torch.device(device)) is not None else "torch"


def _ksg_library(device: torch.device):
    """The compiled kernel library for a KSG search on ``device``, or None for the torch kernels."""
    if device.type != "cpu" or _KSG_PIN[0] == "torch":
        return None
    lib = _native.kernels()
    if lib is None and _KSG_PIN[0] == "compiled":
        raise RuntimeError(f"the compiled max-norm kernels are pinned but unavailable: "
                           f"{_native.unavailable_reason()}")
    return lib

def _euclid_kernel(d: int, device: torch.device) -> str:
    """``"float32"`` or ``"bfloat16"``: the faster first screen (GEMM tile and grouped minimum) for width d.

    Timed once per process and device on (128, d) rows against 4096 random columns (fewer for wide data),
    five alternating runs of each after a warm-up, on one thread (the chunk workers run one op per core);
    the fastest run of each is compared (other processes only add time). bfloat16 GEMMs are several times
    faster than float32 on CPUs with AMX or AVX512-BF16 and slower on the others, so the choice is
    measured; bfloat16 is taken only where its tile is :data:`_BF16_MIN_GAIN` times faster, since the rest
    of its search costs more. It changes the speed only: every value is settled exactly in the data's dtype.

    Returns
    -------
    str
        The screen's dtype name, cached for ``(d, device.type)``.
    """
    key = (d, device.type)
    with _KERNEL_LOCK:
        if _EUCLID_PIN[0] is not None:
            return _EUCLID_PIN[0]
        if key in _EUCLID_CHOICE:
            return _EUCLID_CHOICE[key]
        if device.type != "cpu":  # measured on the CPU only; a GPU keeps the float32 screen
            _EUCLID_CHOICE[key] = "float32"
            return "float32"
        gen = torch.Generator().manual_seed(0)
        # a tile of the search's shape, fewer columns for wide data (the operands stay within 2^18 entries)
        cols = max(64, min(_GEMM_COLS, 2**18 // (d + 2)))
        a32 = torch.randn(_GEMM_ROWS, d + 2, generator=gen)
        b32 = torch.randn(d + 2, cols, generator=gen)
        times = {"float32": math.inf, "bfloat16": math.inf}
        pairs = {"float32": (a32, b32), "bfloat16": (a32.bfloat16(), b32.bfloat16())}
        with one_intra_op_thread():
            for rep in range(6):
                for name, (a, b) in pairs.items():
                    low = torch.zeros(_GEMM_ROWS, cols, dtype=a.dtype)
                    t0 = time.perf_counter()
                    for _ in range(4):
                        torch.minimum(low, a @ b, out=low)
                    if rep:  # the first round warms up (oneDNN builds its kernels on the first call)
                        times[name] = min(times[name], time.perf_counter() - t0)
        fast = times["bfloat16"] * _BF16_MIN_GAIN <= times["float32"]
        _EUCLID_CHOICE[key] = "bfloat16" if fast else "float32"
        return _EUCLID_CHOICE[key]


def _rescreen64(z: torch.Tensor, z64: torch.Tensor, sq: torch.Tensor, scale: torch.Tensor, rows: torch.Tensor,
                k: int, m: int, dist: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The float32 screening of ``rows`` again in float64 (rounding bound 1e-16 instead of 1e-7) on the
    centred, scaled float64 copy ``z64`` of the data and its squared norms ``sq``; returns the rows that are
    still uncertain."""
    u = torch.finfo(torch.float64).eps
    tol = 4.0 * math.sqrt(z.shape[1]) * u * (sq[rows] + sq.max()) + 4.0 * u  # (r,)
    g = torch.addmm(sq.unsqueeze(0), z64[rows], z64.T, alpha=-2.0)  # (r, n)
    g[torch.arange(rows.numel(), device=z.device), rows] = -math.inf
    approx, cand = g.topk(m, dim=1, largest=False)
    cand, approx = cand[:, 1:], approx[:, 1:]
    ex = distances(z, rows, cand)
    by_idx = cand.argsort(dim=1)
    cand, ex = cand.gather(1, by_idx), ex.gather(1, by_idx)
    order = ex.argsort(dim=1, stable=True)[:, :k]
    index[rows], dist[rows] = cand.gather(1, order), ex.gather(1, order)
    rk2 = (dist[rows, k - 1] / scale).to(torch.float64).pow(2) * _dtype_growth(z.dtype, z.shape[1])
    return rows[approx.amax(dim=1) + sq[rows] - tol <= rk2]


def _dtype_growth(dtype: torch.dtype, d: int) -> float:
    """A factor g with (real distance of any column whose distance computed in ``dtype`` is <= D)^2 <=
    g D^2 (relative to the scale D is divided by).

    A distance computed in ``dtype`` (differences, squares, a sum of d terms, a square root) is within a
    factor (1 + theta) of the real one with theta <= (d / 2 + 4) u; squaring, the division by the scale
    and the float32 rounding of the screen's comparison add a few u. Without it, a column whose computed
    distance ties the k-th (or falls below it by rounding) could be certified out of the candidates.
    """
    u = torch.finfo(dtype).eps
    return 1.0 + (d + 12) * u + 8.0 * torch.finfo(torch.float32).eps


def _redo_rows(z: torch.Tensor, rows: torch.Tensor, k: int, dist: torch.Tensor, index: torch.Tensor) -> None:
    """Exact k-NN of ``rows`` against every row by direct differences, in blocks of
    :data:`~infossl._backend.DIRECT_BLOCK_BYTES`."""
    n, d = z.shape
    block = max(1, DIRECT_BLOCK_BYTES // max(1, n * d * z.element_size()))
    cols = torch.arange(n, device=z.device)
    for part in rows.split(block):
        full = (z[part].unsqueeze(1) - z.unsqueeze(0)).pow(2).sum(dim=2).sqrt()  # (b, n)
        full[torch.arange(part.numel(), device=z.device), part] = math.inf
        # (distance, index) order: stable sort by distance of the index-ordered columns
        o = full.argsort(dim=1, stable=True)[:, :k]
        index[part], dist[part] = cols[o], full.gather(1, o)


# ------------------------------------------------------------------------------------------------ max-norm
@lru_cache(maxsize=16)
def _cross_index(a: int, b: int, device: torch.device) -> torch.Tensor:
    """Positions of the (a, b) cross block in ``pdist`` of ``a + b`` stacked rows (condensed order)."""
    m = a + b
    i = torch.arange(a, device=device).unsqueeze(1)  # (a, 1)
    j = torch.arange(b, device=device).unsqueeze(0) + a  # (1, b)
    return i * m - i * (i + 1) // 2 + (j - i - 1)  # (a, b)


def chebyshev_slabs(z: torch.Tensor, rows: slice, m: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Exact max-norm distances from ``z[rows]`` to every row of ``z``, as slabs (ceil(n/m), chunk, m).

    Slab ``b`` holds the columns ``b*m .. b*m+m-1``; the tail of the last slab is +inf. On the CPU each slab
    comes from the faster, for this width and dtype, of two kernels (timed once per process, see
    :func:`_cpu_kernel`): the cross block of ``pdist`` on the stacked rows (vectorised over the features,
    wasting the within-block pairs) or a loop over feature groups of broadcast differences (vectorised over
    the columns). Both compute ``max_f |a_f - b_f|`` in the data's dtype, so the values are identical. On
    other devices it is ``torch.cdist(p=inf)``.

    Returns
    -------
    torch.Tensor
        ``out`` (or a new tensor) of shape (ceil(n / m), rows, m) in ``z``'s dtype.
    """
    return _slabs(z, None, rows, m, out, {})


def _slabs(z: torch.Tensor, zt: torch.Tensor | None, rows: slice, m: int, out: torch.Tensor | None,
           scratch: dict) -> torch.Tensor:
    """:func:`chebyshev_slabs` with the transposed data ``zt`` (d, n) of the feature kernel precomputed and a
    per-thread ``scratch`` dict for its buffer."""
    n, d = z.shape
    a = z[rows]  # (c, d)
    c, nb = a.shape[0], -(-n // m)
    if out is None:
        out = torch.empty(nb, c, m, dtype=z.dtype, device=z.device)  # (nb, c, m)
    if nb * m > n:
        out[-1, :, n - (nb - 1) * m:] = _far(z.dtype)
    if z.device.type != "cpu":
        for bi, cols in enumerate(iter_chunks(n, m)):
            out[bi, :, :cols.stop - cols.start] = torch.cdist(a, z[cols], p=float("inf"))
        return out
    if not z.dtype.is_floating_point or _cpu_kernel(d, z.dtype) == "features":  # pdist is float-only
        if zt is None:
            zt = z.T.contiguous()
        _slabs_by_features(zt, rows, m, out, scratch)
        return out
    for bi, cols in enumerate(iter_chunks(n, m)):
        b = z[cols]  # (w, d)
        w = b.shape[0]
        v = torch.nn.functional.pdist(torch.cat([a, b]), p=float("inf"))  # ((c+w)(c+w-1)/2,)
        if w == m:
            torch.take(v, _cross_index(c, w, z.device), out=out[bi])
        else:
            out[bi, :, :w] = torch.take(v, _cross_index(c, w, z.device))
    return out


def _slabs_by_features(zt: torch.Tensor, rows: slice, m: int, out: torch.Tensor, scratch: dict) -> None:
    """Slabs by broadcast differences over groups of features: ``out[b] = max_f |a_f - b_f|`` with the
    group's (g, c, w) differences held in a buffer of :data:`_FEATURE_GROUP_BYTES`."""
    d, n = zt.shape
    at = zt[:, rows].unsqueeze(2)  # (d, c, 1)
    c = at.shape[1]
    g = max(1, min(d, _FEATURE_GROUP_BYTES // max(1, c * m * zt.element_size())))
    key = ("features", g, c, m, zt.dtype)
    if key not in scratch:
        for old in [k for k in scratch if isinstance(k, tuple) and k[0] == "features"]:
            del scratch[old]  # one shape per thread at a time: the last chunk of a search is smaller
        scratch[key] = (torch.empty(g, c, m, dtype=zt.dtype), torch.empty(c, m, dtype=zt.dtype))
    buf, part = scratch[key]
    for bi, cols in enumerate(iter_chunks(n, m)):
        w = cols.stop - cols.start
        o = out[bi, :, :w]
        for f in range(0, d, g):
            h = min(d, f + g) - f
            diff = buf[:h, :, :w]
            torch.sub(at[f:f + h], zt[f:f + h, cols].unsqueeze(1), out=diff).abs_()
            if f == 0:
                torch.amax(diff, dim=0, out=part[:, :w])
                o.copy_(part[:, :w])
            else:
                torch.maximum(o, torch.amax(diff, dim=0, out=part[:, :w]), out=o)


_KERNEL_CHOICE: dict = {}
_KERNEL_LOCK = threading.RLock()  # re-entered by the timing runs of _cpu_kernel itself


def _cpu_kernel(d: int, dtype: torch.dtype) -> str:
    """``"pdist"`` or ``"features"``: the faster max-norm kernel for width ``d`` in ``dtype`` on this CPU.

    Timed once per process on a (256, 256 * 4) block of random data, five alternating runs of each, on one
    thread (the chunk workers run one op per core); the fastest run of each is compared, because other
    processes only ever add time to a run, so the minimum is the least disturbed by a busy machine (a median
    of three picked the slower kernel under load). Which kernel wins depends on the CPU's vector width and
    caches and on d (pdist vectorises over the features, the feature loop over the columns), so the choice
    is measured, not assumed; it affects the speed only, never a value.

    Returns
    -------
    str
        The kernel's name, cached for ``(d, dtype)``.
    """
    key = (d, dtype)
    with _KERNEL_LOCK:
        if key in _KERNEL_CHOICE:
            return _KERNEL_CHOICE[key]
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(5 * _COL_BLOCK, d, generator=gen).to(dtype)
        zt = z.T.contiguous()
        rows = slice(0, _COL_BLOCK)
        out = torch.empty(5, _COL_BLOCK, _COL_BLOCK, dtype=dtype)
        times = {"pdist": math.inf, "features": math.inf}
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for _ in range(5):
                for name in times:
                    _KERNEL_CHOICE[key] = name
                    t0 = time.perf_counter()
                    _slabs(z, zt, rows, _COL_BLOCK, out, {})
                    times[name] = min(times[name], time.perf_counter() - t0)
        finally:
            torch.set_num_threads(before)
        _KERNEL_CHOICE[key] = min(times, key=times.get)
        return _KERNEL_CHOICE[key]


def _self_positions(rows: slice, m: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Slab coordinates (block, row, offset) of each row's own column."""
    g = torch.arange(rows.start, rows.stop, device=device)  # (c,)
    return g // m, g - rows.start, g % m


def _smallest(slabs: torch.Tensor, q: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The q smallest values per row of slabs (nb, c, m), ascending, with their global column indices.

    Exact by grouping: the columns with one offset o in every slab form a group whose minimum is
    ``slabs.amin(0)[:, o]`` (one vectorised pass). A value among the q smallest has at most q - 1 smaller
    values in its row, so at most q - 1 groups have a smaller minimum than its group: the q smallest values
    lie in the q groups of smallest minima, and only those nb * q entries are ranked, instead of ``topk``
    over every slab. Equal values may come from other columns than ``topk`` would pick; values are equal.
    """
    nb, c, _ = slabs.shape
    if nb == 1 or q > m:
        return _smallest_topk(slabs, q, m)
    offsets = slabs.amin(dim=0).topk(q, dim=1, largest=False).indices  # (c, q) the best groups
    v = slabs[:, torch.arange(c, device=slabs.device).unsqueeze(1), offsets]  # (nb, c, q)
    cols = torch.arange(nb, device=slabs.device).view(nb, 1, 1) * m + offsets.unsqueeze(0)  # (nb, c, q)
    v, cols = v.permute(1, 0, 2).reshape(c, nb * q), cols.permute(1, 0, 2).reshape(c, nb * q)
    v, j = v.topk(q, dim=1, largest=False)  # (c, q)
    return v, cols.gather(1, j)


def _smallest_topk(slabs: torch.Tensor, q: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_smallest` by ``topk`` within each slab and again over the slabs' winners."""
    nb, c, _ = slabs.shape
    q1 = min(q, m)
    v, i = slabs.topk(q1, dim=2, largest=False)  # (nb, c, q1)
    i = i + (torch.arange(nb, device=slabs.device) * m).view(nb, 1, 1)
    v = v.permute(1, 0, 2).reshape(c, nb * q1)  # (c, nb*q1)
    i = i.permute(1, 0, 2).reshape(c, nb * q1)
    v, j = v.topk(q, dim=1, largest=False)  # (c, q)
    return v, i.gather(1, j)


def kth_neighbour(z: torch.Tensor, k: int, metric: str = "euclidean", algorithm: str = "brute",
                  chunk_size: Optional[int] = None) -> torch.Tensor:
    """Index (n,) of the k-th nearest other row of every row of ``z`` (n, d); ties at equal distance: any one.

    ``metric`` is ``"euclidean"`` or ``"chebyshev"``; ``algorithm`` is ``"brute"`` (torch, any device,
    ``chunk_size`` rows at a time, default from a 256 MiB budget) or ``"kd_tree"`` (scipy, CPU). No autograd:
    recompute the neighbours' distances with :func:`distances` for a gradient.

    Returns
    -------
    torch.Tensor
        (n,) int64 row indices on ``z``'s device.
    """
    with torch.no_grad():
        z = z.detach()
        if algorithm == "kd_tree":
            return _kth_neighbour_kdtree(z, k, metric)
        n = z.shape[0]
        if metric == "euclidean":
            return nearest_neighbours(z, k, chunk_size=chunk_size)[1][:, k - 1]
        workers = _workers(z.device)
        budget = chunk_size_for(n, itemsize=z.element_size(), factor=3)
        cs = chunk_size or _chunk_rows(n, budget, workers, _COL_BLOCK)
        m, nb = _COL_BLOCK, -(-n // _COL_BLOCK)
        zt = _transposed_if_needed(z)
        out = torch.empty(n, dtype=torch.long, device=z.device)

        def chunk(rows: slice, scratch: dict) -> None:
            c = rows.stop - rows.start
            buf = _buffer(scratch, "slabs", (nb, min(cs, n), m), z.dtype, z.device)
            dist = _slabs(z, zt, rows, m, buf[:, :c], scratch)  # (nb, c, m), itself at 0
            out[rows] = _smallest(dist, k + 1, m)[1][:, k]

        _run_chunks(chunk, list(iter_chunks(n, cs)), workers, work=float(n) * n * z.shape[1])
        return out


def _transposed_if_needed(z: torch.Tensor) -> torch.Tensor | None:
    """The (d, n) transposed copy the feature-loop kernel reads, when that kernel is the one used for z."""
    if z.device.type == "cpu" and (not z.dtype.is_floating_point
                                   or _cpu_kernel(z.shape[1], z.dtype) == "features"):
        return z.T.contiguous()
    return None


def _buffer(scratch: dict, name: str, shape: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A per-thread reusable buffer ``scratch[name]`` of this shape and dtype (allocated on first use)."""
    buf = scratch.get(name)
    if buf is None or tuple(buf.shape) != shape or buf.dtype != dtype:
        buf = scratch[name] = torch.empty(shape, dtype=dtype, device=device)
    return buf


def _kth_neighbour_kdtree(zs: torch.Tensor, k: int, metric: str) -> torch.Tensor:
    from scipy.spatial import cKDTree

    a = zs.detach().cpu().double().numpy()
    _, idx = cKDTree(a).query(a, k=k + 1, p=2.0 if metric == "euclidean" else np.inf, workers=-1)
    return torch.from_numpy(np.ascontiguousarray(idx[:, k])).to(zs.device)


# ----------------------------------------------------------------------------------------------------- KSG
def ksg_counts(x: torch.Tensor, y: torch.Tensor, k: int, variant: int, algorithm: str = "brute",
               chunk_size: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The neighbour counts of the KSG estimator (Kraskov et al. 2004, eqs. 8 and 9) under the max-norm.

    Returns ``(n_x, n_y, eps)``, each (n,): ``eps`` is the joint distance :math:`\max(d_x, d_y)` from each
    row to its k-th nearest other row. Variant 1: :math:`n_x(i) = \#\{j \ne i : d_x(i,j) < \epsilon_i\}`.
    Variant 2: :math:`n_x(i) = \#\{j \ne i : d_x(i,j) \le \epsilon_{x,i}\}` with :math:`\epsilon_{x,i}`
    the largest x-distance among the k joint neighbours, ties at :math:`\epsilon_i` broken towards the lower
    row index. ``algorithm`` is ``"brute"`` (``chunk_size`` rows at a time; on the CPU the compiled kernels
    where they load, else torch with a default chunk from a 256 MiB budget) or ``"kd_tree"`` (scipy, CPU).
    Exact in the data's dtype, whichever engine runs. No autograd.
    """
    _check_finite(x, "ksg_counts")
    _check_finite(y, "ksg_counts")
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"ksg_counts: k must be in [1, n - 1] = [1, {n - 1}] for n = {n} rows, got {k}")
    for t, name in ((x, "x"), (y, "y")):
        big = float(t.detach().abs().amax()) if t.numel() else 0.0
        if t.dtype.is_floating_point and big > torch.finfo(t.dtype).max / 4:
            raise ValueError(f"ksg_counts: {name} has entries up to {big:.3g}, whose differences can "
                             f"overflow {t.dtype}; rescale the data (the estimators standardise it first)")
    with torch.no_grad():
        x, y = x.detach(), y.detach()
        if algorithm == "kd_tree":
            return _ksg_counts_kdtree(x, y, k, variant)
        # per worker: three (chunk, n) blocks in the screening dtype (float32 on the CPU) and one boolean mask
        isz = 4 if x.device.type == "cpu" else x.element_size()
        workers = _workers(x.device)
        budget = chunk_size_for(n, itemsize=1, factor=3 * isz + 1)
        cs = chunk_size or _chunk_rows(n, budget, workers, _COL_BLOCK)
        lib = _ksg_library(x.device)
        if lib is not None:  # the torch ops between its passes on one thread too (a busy core stalls a join)
            with one_intra_op_thread():
                return _ksg_counts_native(lib, x, y, k, variant, chunk_size, cs, workers)
        return _ksg_counts_brute(x, y, k, variant, cs, workers)


def _count(mask: torch.Tensor) -> torch.Tensor:
    """Per-row number of True entries of a slab mask (nb, c, m) -> (c,).

    Summed over the slabs first (an elementwise, vectorised add of byte planes into int16, which cannot
    overflow while nb <= 32767), then along the row: several times faster than a byte sum along the rows.
    """
    acc = torch.int16 if mask.shape[0] <= torch.iinfo(torch.int16).max else torch.int32
    return mask.view(torch.uint8).sum(dim=0, dtype=acc).sum(dim=1, dtype=torch.int64)


def _far(dtype: torch.dtype) -> float:
    """The padding "distance" of a slab column that is not a row (or of a row to itself): +inf for floats,
    the type's maximum for the integer screen (above every screened distance, see :func:`_screens`)."""
    return float("inf") if dtype.is_floating_point else float(torch.iinfo(dtype).max)


def _screen_copy(t: torch.Tensor) -> tuple[torch.Tensor, float]:
    """A float32 copy for screening max-norm distances and a bound on its distance error.

    |d32 - d64| <= 2 u32 (|a| + |b|)(1 + u32) for centred entries a, b (conversion and subtraction), plus the
    float64 rounding of the centring; the bound below also covers rounding a float64 threshold to float32.
    """
    if t.dtype == torch.float32 or t.device.type != "cpu":
        return t, 0.0
    tc = t - t.mean(dim=0, keepdim=True)  # (n, d)
    big = float(tc.abs().amax())
    if big > torch.finfo(torch.float32).max / 4:  # a float32 copy would overflow: screen in the data's dtype
        return t, 0.0
    u32, u64 = torch.finfo(torch.float32).eps / 2, torch.finfo(torch.float64).eps
    return tc.to(torch.float32), 8.0 * u32 * big + 4.0 * u64 * float(t.abs().amax()) + 1e-300


_Q = 16382  # int16 screen: centred values in [-_Q, _Q], so every difference fits int16 below its maximum
_Q_SPREAD = 1000.0  # int16 screen only where a column's interquartile range spans this many quanta


def _screens(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """Screening copies of both marginals, their scale and the bound on their distance error.

    On the CPU the screen is int16 on one common grid: q = round((t - centre) / s) with s = max|t - centre|
    / _Q, so |q_a - q_b| <= 2 _Q < 32767 and integer sub, abs and max run on twice the lanes of float32,
    exactly. A screened max-norm D (in units of s) then satisfies |D s - r| <= s (1 + 1e-9) against the
    real-number distance r (each rounding is at most half a quantum; max over features is 1-Lipschitz),
    and the distance computed in the data's dtype is within 2 u max|t| of r, so ``delta`` = 1.001 s + 4 u
    max|t| bounds |D s - d| for every pair. Pairs within delta of a threshold are settled from the data.
    Where one column's outliers would make the grid coarse against the bulk (interquartile range under
    :data:`_Q_SPREAD` quanta) or off the CPU, the float screen (:func:`_screen_copy`) is used: scale 1.
    """
    if x.device.type == "cpu":
        xc, yc = x.double() - x.double().mean(dim=0), y.double() - y.double().mean(dim=0)
        big = max(float(xc.abs().amax()), float(yc.abs().amax()))
        s = big / _Q
        spread = min(_min_iqr(xc), _min_iqr(yc))
        if s > 0 and math.isfinite(s) and spread >= _Q_SPREAD * s:
            u = torch.finfo(x.dtype).eps
            delta = 1.001 * s + 4.0 * u * max(float(x.abs().amax()), float(y.abs().amax()))
            return (torch.round(xc / s).to(torch.int16), torch.round(yc / s).to(torch.int16), s, delta)
    xs, dlx = _screen_copy(x)
    ys, dly = _screen_copy(y)
    return xs, ys, 1.0, max(dlx, dly)


def _min_iqr(t: torch.Tensor) -> float:
    """The smallest interquartile range over the columns of t (n, d); constant columns are skipped."""
    q = torch.quantile(t[:min(t.shape[0], 4096)], torch.tensor([0.25, 0.75], dtype=t.dtype), dim=0)
    iqr = q[1] - q[0]
    iqr = iqr[(t.amax(dim=0) - t.amin(dim=0)) > 0]
    return float(iqr.min()) if iqr.numel() else math.inf


def _sparse_true(mask: torch.Tensor) -> torch.Tensor:
    """Flat indices of the True entries of a contiguous bool tensor, ascending; fast when they are few.

    ``torch.nonzero`` costs several ns per entry on the CPU; read as int64 words (eight bools each), only the
    few nonzero words are expanded, which is tens of times faster on a sparse mask and gives the same
    indices.
    """
    flat = mask.reshape(-1)
    whole = flat.numel() // 8 * 8
    hot = torch.nonzero(flat[:whole].view(torch.int64)).squeeze(1)  # (h,) words holding a True
    cand = (hot.unsqueeze(1) * 8 + torch.arange(8, device=mask.device)).reshape(-1)
    tail = torch.nonzero(flat[whole:]).squeeze(1) + whole
    return torch.cat([cand[flat[cand]], tail])


def _count_below(d32: torch.Tensor, a: torch.Tensor, thr: torch.Tensor, delta: float, strict: bool,
                 mk: torch.Tensor, rows: slice, m: int, scale: float = 1.0) -> torch.Tensor:
    """#{j: d(i, j) < thr_i} (strict) or <= thr_i, exact in the data's dtype, from screening slabs d32.

    Certain answers come from d32 (in units of ``scale``) and the error bound delta; the few pairs within
    delta of the threshold are recomputed from the data ``a``.
    """
    c = thr.shape[0]
    op = torch.lt if strict else torch.le
    if delta == 0.0:
        return _count(op(d32, thr.to(d32.dtype).view(1, c, 1), out=mk))
    if d32.dtype.is_floating_point:
        lo = (thr - delta).to(d32.dtype).view(1, c, 1)
        hi = (thr + delta).to(d32.dtype).view(1, c, 1)
    else:  # integer screen D: D s < thr - delta iff D < ceil(.), D s - delta <= thr iff D <= floor(.)
        top = torch.iinfo(d32.dtype).max - 1  # the largest screened distance; the padding is above it
        lo = torch.ceil((thr.double() - delta) / scale).clamp(-1, top).to(d32.dtype).view(1, c, 1)
        hi = torch.floor((thr.double() + delta) / scale).clamp(-1, top).to(d32.dtype).view(1, c, 1)
    below = torch.lt(d32, lo, out=mk)
    sure = _count(below)  # (c,) certainly below
    # the band lo <= D <= hi: possibly below, not certainly (the k-th neighbour itself is in it for variant
    # 1, so most rows have a pair there: one pass over every row instead of gathering the unsure ones)
    band = torch.le(d32, hi).logical_xor_(below)  # (nb, c, m), contiguous
    flat = _sparse_true(band)
    if flat.numel():
        row, col = (flat // m) % c, (flat // (c * m)) * m + flat % m  # pairs to recompute exactly
        piece = max(1, DIRECT_BLOCK_BYTES // max(1, a.shape[1] * a.element_size()))
        for p in iter_chunks(row.numel(), piece):  # memory bounded however wide the band
            exact = (a[rows.start + row[p]] - a[col[p]]).abs().amax(dim=1)  # (p,)
            sure = sure.index_add(0, row[p], op(exact, thr[row[p]]).to(sure.dtype))
    return sure


def _ksg_counts_brute(x: torch.Tensor, y: torch.Tensor, k: int, variant: int, chunk_size: int,
                      workers: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Counts n_x, n_y (n,) and joint k-th distances eps (n,); each marginal's block is computed once.

    Both marginals are screened on the int16 grid of :func:`_screens` (or in float32) with a rigorous error
    bound; neighbours and every comparison within the bound are settled in the data's dtype, so the result
    is exact.
    Chunks of rows run on ``workers`` threads (:func:`_run_chunks`); each row's result depends on its own
    row only, so it is the same for every chunk size and schedule.
    """
    n = x.shape[0]
    xs, ys, scale, delta = _screens(x, y)
    m = _COL_BLOCK
    nb, cmax = -(-n // m), min(chunk_size, n)
    q = min(n - 1, k + (1 if delta == 0.0 else 2))  # one candidate beyond the k-th decides ties / the band
    xt, yt = _transposed_if_needed(xs), _transposed_if_needed(ys)
    nx = torch.empty(n, dtype=torch.long, device=x.device)
    ny = torch.empty_like(nx)
    eps_all = torch.empty(n, dtype=x.dtype, device=x.device)

    def chunk(rows: slice, scratch: dict) -> None:
        c = rows.stop - rows.start
        bx, by, bj = (_buffer(scratch, name, (nb, cmax, m), xs.dtype, x.device)
                      for name in ("bx", "by", "bj"))
        mk = _buffer(scratch, "mask", (nb, cmax, m), torch.bool, x.device)[:, :c]
        dx = _slabs(xs, xt, rows, m, bx[:, :c], scratch)  # (nb, c, m)
        dy = _slabs(ys, yt, rows, m, by[:, :c], scratch)  # (nb, c, m)
        joint = torch.maximum(dx, dy, out=bj[:, :c])  # (nb, c, m)
        joint[_self_positions(rows, m, x.device)] = _far(joint.dtype)  # exclude the point itself
        approx, cand = _smallest(joint, q, m)  # (c, q) screening candidates
        ex, ey, eps = _joint_neighbours(x, y, rows, k, approx, cand, scale, delta)
        eps_all[rows] = eps
        if variant == 1:  # strict counts; the point itself (distance 0 < eps) is subtracted
            nx[rows] = _count_below(dx, x, eps, delta, True, mk, rows, m, scale) - 1
            ny[rows] = _count_below(dy, y, eps, delta, True, mk, rows, m, scale) - 1
        else:  # counts within the largest marginal distance to the k joint neighbours
            nx[rows] = _count_below(dx, x, ex.amax(dim=1), delta, False, mk, rows, m, scale) - 1
            ny[rows] = _count_below(dy, y, ey.amax(dim=1), delta, False, mk, rows, m, scale) - 1

    _run_chunks(chunk, list(iter_chunks(n, chunk_size)), workers,
                work=float(n) * n * (x.shape[1] + y.shape[1]))
    return nx, ny, eps_all


def _joint_neighbours(x: torch.Tensor, y: torch.Tensor, rows: slice, k: int, approx: torch.Tensor,
                      cand: torch.Tensor, scale: float, delta: float
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The k joint neighbours of ``rows`` settled in the data's dtype from q screened candidates.

    ``approx`` (c, q) are the q smallest screened joint distances of each row (in units of ``scale``, each
    within ``delta`` of the exact one) and ``cand`` their columns. The candidates' exact distances are
    ordered by (distance, index), the documented tie rule; a row whose q-th screened value could still be
    within its k-th exact distance (a non-candidate could be nearer or tie) is recomputed against all rows.

    Returns ``(ex, ey, eps)``: the (c, k) marginal distances to the k joint neighbours and the (c,) joint
    k-th distance.
    """
    n, q = x.shape[0], cand.shape[1]
    r = torch.arange(rows.start, rows.stop, device=x.device)  # (c,)
    cand = cand.sort(dim=1).values
    ex = distances(x, r, cand, "chebyshev")  # (c, q)
    ey = distances(y, r, cand, "chebyshev")
    order = torch.maximum(ex, ey).argsort(dim=1, stable=True)[:, :k]  # (c, k)
    ex, ey = ex.gather(1, order), ey.gather(1, order)  # (c, k) the k joint neighbours
    eps = torch.maximum(ex, ey)[:, k - 1]  # (c,)
    if q < n - 1:  # a non-candidate could still be within eps (or tie with it): redo those rows exactly
        near = approx[:, -1].double() * scale - delta <= eps.double()  # (c,)
        for i in torch.nonzero(near).squeeze(1).tolist():
            g = rows.start + i
            dj = torch.maximum((x - x[g]).abs().amax(dim=1), (y - y[g]).abs().amax(dim=1))
            dj[g] = float("inf")
            nbr = dj.argsort(stable=True)[:k]  # (k,)
            ex[i] = (x[nbr] - x[g]).abs().amax(dim=1)
            ey[i] = (y[nbr] - y[g]).abs().amax(dim=1)
            eps[i] = dj[nbr[-1]]
    return ex, ey, eps


def _native_bounds(thr: torch.Tensor, delta: float, strict: bool, scale: float, dtype: torch.dtype
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Thresholds (lo, hi) in the screen's dtype for the compiled count: a screened distance D < lo is
    certainly counted, one with lo <= D <= hi is settled from the data, the rest are certainly not counted.

    The same certainty rules as :func:`_count_below`: with an exact screen (delta = 0) ``d < thr`` is
    ``D < thr`` and ``d <= thr`` is ``D < nextafter(thr, inf)``, and the band is empty (hi below every
    distance).
    """
    if delta == 0.0:
        lo = thr.to(dtype)
        if not strict:
            lo = torch.nextafter(lo, torch.full_like(lo, math.inf))
        return lo, torch.full_like(lo, -math.inf)
    if dtype.is_floating_point:
        return (thr - delta).to(dtype), (thr + delta).to(dtype)
    top = torch.iinfo(dtype).max - 1
    lo = torch.ceil((thr.double() - delta) / scale).clamp(-1, top).to(dtype)
    hi = torch.floor((thr.double() + delta) / scale).clamp(-1, top).to(dtype)
    return lo, hi


def _settle_band(a: torch.Tensor, row: torch.Tensor, col: torch.Tensor, thr: torch.Tensor, strict: bool,
                 sure: torch.Tensor) -> torch.Tensor:
    """``sure`` plus, for each band pair (row, col), whether d(row, col) < thr[row] (strict) or <= thr[row],
    computed from the data ``a`` in its own dtype, in memory-bounded pieces."""
    op = torch.lt if strict else torch.le
    piece = max(1, DIRECT_BLOCK_BYTES // max(1, a.shape[1] * a.element_size()))
    for p in iter_chunks(row.numel(), piece):  # memory bounded however wide the band
        exact = (a[row[p]] - a[col[p]]).abs().amax(dim=1)  # (p,)
        sure = sure.index_add(0, row[p], op(exact, thr[row[p]]).to(sure.dtype))
    return sure


class _ThreadStates:
    """Per-worker-thread accumulators of a symmetric pass, created on a worker's first strip and merged
    after the pass (a strip updates rows of other strips, so the threads cannot share one array)."""

    def __init__(self, make: Callable[[], tuple]):
        self.make, self.all, self.lock = make, [], threading.Lock()

    def get(self, scratch: dict, key: str) -> tuple:
        if key not in scratch:
            scratch[key] = self.make()
            with self.lock:
                self.all.append(scratch[key])
        return scratch[key]


def _ksg_counts_native(lib, x: torch.Tensor, y: torch.Tensor, k: int, variant: int,
                       chunk_size: Optional[int], torch_chunk: int, workers: int
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_ksg_counts_brute` with the compiled kernels of :mod:`~infossl.estimators._native`.

    The same screens (:func:`_screens`), candidates, bound and exact settling. The max-norm is symmetric, so
    each unordered pair's screened distance is computed once: the rows are cut into strips whose squares
    update their own rows and whose columns beyond the square update both sides; each worker thread keeps
    its own lists and counts, merged after each pass. Pass 1 keeps each row's q smallest screened joint
    distances in (value, index) order (the order of a stable sort, so the merged candidates do not depend on
    the schedule); pass 2 counts the screened marginal distances below each row's threshold and lists the
    pairs in the error band, which are settled from the data. The result is identical to the torch engine.
    """
    n = x.shape[0]
    xs, ys, scale, delta = _screens(x, y)
    if xs.dtype not in (torch.int16, torch.float32):  # a float64 screen (values beyond float32's range)
        return _ksg_counts_brute(x, y, k, variant, torch_chunk, workers)
    suffix = "i16" if xs.dtype == torch.int16 else "f32"
    bj = int(getattr(lib, f"maxnorm_columns_{suffix}")())  # columns per register block: pad to a multiple
    npad, dx, dy = -(-n // bj) * bj, xs.shape[1], ys.shape[1]
    zt = torch.zeros(dx + dy, npad, dtype=xs.dtype)  # (dx + dy, npad) features first, zero padding
    zt[:dx, :n] = xs.T
    zt[dx:, :n] = ys.T
    far = torch.iinfo(xs.dtype).max if suffix == "i16" else math.inf
    q = min(n - 1, k + (1 if delta == 0.0 else 2))  # one candidate beyond the k-th decides ties / the band
    # strips of whole register blocks (the columns a strip starts at stay aligned with the padding), at
    # least _CHUNKS_PER_WORKER per worker; the first strips hold the most pairs and run first
    rows_per = chunk_size or max(_NATIVE_ROWS_MIN, min(_NATIVE_ROWS, -(-n // (workers * _CHUNKS_PER_WORKER))))
    strips = list(iter_chunks(n, -(-rows_per // bj) * bj))
    work = float(n) * n * (dx + dy) / 2
    with contextlib.ExitStack() as stack:  # one bar over both passes (2 n rows) for a long search
        bar = None
        if progress_enabled(work=2 * work, min_work=_PROGRESS_MIN_WORK):
            bar = stack.enter_context(progress_bar(True, total=2 * n, desc="k-NN search", unit="rows"))
        nx, ny, eps = _ksg_native_passes(lib, suffix, zt, x, y, k, variant, q, far, scale, delta, strips,
                                         workers, bar)
    return nx, ny, eps


def _ksg_native_passes(lib, suffix: str, zt: torch.Tensor, x: torch.Tensor, y: torch.Tensor, k: int,
                       variant: int, q: int, far: float, scale: float, delta: float, strips: list,
                       workers: int, bar) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two symmetric passes of :func:`_ksg_counts_native` and the exact settling between and after."""
    n, npad, dx = x.shape[0], zt.shape[1], x.shape[1]
    dy = zt.shape[0] - dx
    knn_fn, count_fn = getattr(lib, f"ksg_knn_sym_{suffix}"), getattr(lib, f"ksg_count_sym_{suffix}")
    lists = _ThreadStates(lambda: (torch.full((n, q), far, dtype=zt.dtype),
                                   torch.full((n, q), torch.iinfo(torch.int64).max, dtype=torch.int64),
                                   torch.full((npad,), far, dtype=zt.dtype)))

    def neighbours_strip(rows: slice, scratch: dict) -> None:
        vals, idx, lim = lists.get(scratch, "knn")
        rc = knn_fn(zt.data_ptr(), n, npad, dx + dy, rows.start, rows.stop, q, vals.data_ptr(),
                    idx.data_ptr(), lim.data_ptr())
        if rc != 0:
            raise _native_failed(rc, "neighbour search")

    _run_chunks_on(neighbours_strip, strips, workers, bar)
    vals, idx = torch.cat([s[0] for s in lists.all], 1), torch.cat([s[1] for s in lists.all], 1)
    if len(lists.all) > 1:  # merge the threads' lists: the q first in (value, index) order
        order = idx.argsort(dim=1, stable=True)
        vals, idx = vals.gather(1, order), idx.gather(1, order)
        order = vals.argsort(dim=1, stable=True)[:, :q]
        vals, idx = vals.gather(1, order), idx.gather(1, order)
    ex, ey, eps = _joint_neighbours(x, y, slice(0, n), k, vals, idx, scale, delta)
    if variant == 1:  # strict counts; the point itself (distance 0 < eps) is subtracted
        tx, ty, strict = eps, eps, True
    else:  # counts within the largest marginal distance to the k joint neighbours
        tx, ty, strict = ex.amax(dim=1), ey.amax(dim=1), False
    bounds = []
    for thr in (tx, ty):
        lo, hi = _native_bounds(thr, delta, strict, scale, zt.dtype)
        pad = torch.zeros(npad - n, dtype=zt.dtype)
        bounds.append((torch.cat([lo, pad]).contiguous(), torch.cat([hi, pad]).contiguous()))
    counts = _ThreadStates(lambda: (torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)))
    bands: list = [[], []]
    lock = threading.Lock()

    def count_strip(rows: slice, scratch: dict) -> None:
        sure = counts.get(scratch, "counts")
        for side, (offset, d) in enumerate(((0, dx), (dx, dy))):
            lo, hi = bounds[side]
            band, nband = ctypes.c_void_p(), ctypes.c_int64(0)
            base = zt.data_ptr() + offset * npad * zt.element_size()
            rc = count_fn(base, n, npad, d, rows.start, rows.stop, lo.data_ptr(), hi.data_ptr(),
                          sure[side].data_ptr(), ctypes.byref(band), ctypes.byref(nband))
            if rc != 0:
                raise _native_failed(rc, "count")
            if nband.value:
                try:
                    pairs = torch.from_numpy(np.ctypeslib.as_array(
                        ctypes.cast(band, ctypes.POINTER(ctypes.c_int64)), shape=(nband.value, 2)).copy())
                finally:
                    lib.maxnorm_free(band)
                with lock:
                    bands[side].append(pairs)

    _run_chunks_on(count_strip, strips, workers, bar)
    out = []
    for side, (a, thr) in enumerate(((x, tx), (y, ty))):
        sure = torch.stack([s[side] for s in counts.all]).sum(dim=0)
        if bands[side]:
            pairs = torch.cat(bands[side])
            sure = _settle_band(a, pairs[:, 0], pairs[:, 1], thr, strict, sure)
        out.append(sure - 1)
    return out[0], out[1], eps


def _native_failed(rc: int, what: str) -> Exception:
    """The error for a compiled kernel's non-zero return code (see ``_maxnorm.c``)."""
    if rc == 2:
        return MemoryError(f"compiled max-norm {what}: out of memory")
    return RuntimeError(f"compiled max-norm {what} failed with code {rc}")


def _ksg_counts_kdtree(x: torch.Tensor, y: torch.Tensor, k: int, variant: int
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from scipy.spatial import cKDTree

    xa = x.cpu().double().numpy()
    ya = y.cpu().double().numpy()
    n = xa.shape[0]
    xy = np.hstack([xa, ya])  # (n, dx + dy): max-norm of the stack = max(d_x, d_y)
    kq = min(k + 2, n)
    dist, idx = cKDTree(xy).query(xy, k=kq, p=np.inf, workers=-1)  # (n, kq), column 0 is a 0 distance
    eps = dist[:, k]  # (n,) k-th nearest other point
    if variant == 1:
        r = np.nextafter(eps, 0)  # the ball query counts d <= r; d < eps  <=>  d <= nextafter(eps, 0)
        nx = cKDTree(xa).query_ball_point(xa, r, p=np.inf, return_length=True, workers=-1) - 1
        ny = cKDTree(ya).query_ball_point(ya, r, p=np.inf, return_length=True, workers=-1) - 1
    else:
        nb = idx[:, 1:k + 1]  # (n, k) the k joint neighbours (self dropped: eps > 0 when this is used)
        ex = np.abs(xa[:, None, :] - xa[nb]).max(axis=2).max(axis=1)  # (n,)
        ey = np.abs(ya[:, None, :] - ya[nb]).max(axis=2).max(axis=1)
        tied = np.nonzero(dist[:, k] == dist[:, kq - 1])[0] if kq > k + 1 else np.arange(n)
        for i in tied:  # tie at eps_i: apply the lower-index rule by direct distances (rare)
            dj = np.maximum(np.abs(xa - xa[i]).max(axis=1), np.abs(ya - ya[i]).max(axis=1))  # (n,)
            dj[i] = np.inf
            sel = np.lexsort((np.arange(n), dj))[:k]
            ex[i] = np.abs(xa[sel] - xa[i]).max()
            ey[i] = np.abs(ya[sel] - ya[i]).max()
        nx = cKDTree(xa).query_ball_point(xa, ex, p=np.inf, return_length=True, workers=-1) - 1
        ny = cKDTree(ya).query_ball_point(ya, ey, p=np.inf, return_length=True, workers=-1) - 1
    return (torch.from_numpy(np.asarray(nx, dtype=np.int64)),
            torch.from_numpy(np.asarray(ny, dtype=np.int64)),
            torch.from_numpy(np.ascontiguousarray(eps)))
