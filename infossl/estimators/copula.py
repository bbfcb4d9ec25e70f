"""Gaussian-copula estimators: rank-based normal scores, then the Gaussian log-det formulas.

Mutual information is invariant under strictly increasing maps of each coordinate, so replacing every
column by its normal scores removes the marginals from the problem; what is left is estimated by the
Gaussian formulas of :mod:`infossl.estimators.gaussian`. For entropy the marginals matter, so they are
estimated one column at a time (1-D nearest-neighbour spacings, accurate at any n) and the dependence
between columns (the total correlation) is taken from the normal scores.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from infossl._backend import DEFAULT_MEMORY_BUDGET, STREAM_BLOCK_BYTES, ArrayLike, chunk_size_for, iter_chunks
from infossl._validation import check_embeddings, check_float, check_int, check_pair
from infossl.linalg import centred, centred_cov, gram_of_chunks, numerical_rank_basis
from infossl.estimators.gaussian import (centred_joint_moment, gaussian_mi_of_moment, project_to_rank,
                                        regularised_logdet, singular_logdet_lowrank, wishart_logdet_bias)
from infossl.estimators.knn import kl_offset


def doubled_ranks(vals: torch.Tensor) -> torch.Tensor:
    """Twice the average rank (1-based; ties share their mean rank) of every entry of each row of ``vals``
    (c, n), as int32 (c, n), in the original order.

    In a sorted row the tied run holding a value spans the positions ``left + 1 .. right`` (the two
    ``searchsorted`` sides), whose average ``(left + right + 1) / 2`` is a multiple of 1/2, so twice it is the
    exact integer ``left + right + 1`` (n below 2^30).
    """
    svals, order = torch.sort(vals, dim=1)  # (c, n) sorted rows
    twice = torch.searchsorted(svals, svals, side="left", out_int32=True)  # first position of each tied run
    twice += torch.searchsorted(svals, svals, side="right", out_int32=True)  # one past its last position
    twice += 1
    del svals
    return torch.empty_like(twice).scatter_(1, order, twice)  # back to the original order


def scores_of_ranks(twice: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    r"""Normal scores :math:`\Phi^{-1}(r/(n+1))` from doubled average ranks ``twice`` = 2r (any shape), in
    ``dtype``: ``ndtri(2r / (2(n + 1)))``, bit for bit the value of ``ndtri(r / (n + 1))`` (the halving is
    exact)."""
    return torch.special.ndtri(twice.to(dtype) / (2 * (n + 1)))


def normal_scores(t: torch.Tensor, *, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> torch.Tensor:
    r"""Per-column normal scores :math:`\Phi^{-1}(r/(n+1))` of the average ranks r (ties share a rank).

    The result is marginally standard normal whatever the marginals were, and is unchanged by any
    strictly increasing map of a column. Not differentiable (ranks). Columns are scored in blocks whose
    working set (about seven (n, block) arrays) fits in ``memory_budget`` bytes, so the memory beyond the
    (n, d) result is bounded whatever d is. The ranks are exact (:func:`doubled_ranks`). The copula MI does
    not call this: it keeps only the int32 ranks and streams the scores' covariance
    (:func:`copula_mi_of_tensors`).

    Returns
    -------
    torch.Tensor
        (n, d) normal scores of ``t``'s columns, in ``t``'s dtype and device.
    """
    n, d = t.shape
    out = torch.empty((n, d), dtype=t.dtype, device=t.device)
    block = max(1, memory_budget // (7 * 8 * max(n, 1)))
    for cols in iter_chunks(d, block):
        twice = doubled_ranks(t[:, cols].detach().T.contiguous())  # (c, n)
        out[:, cols] = scores_of_ranks(twice, n, t.dtype).T
    return out


def copula_mutual_information(x: ArrayLike, y: ArrayLike, *, ridge: float = 0.0, bias_correction: bool = True):
    r"""Gaussian-copula mutual information: normal scores, then the Gaussian MI, in nats.

    Each column of x and y is replaced by its normal scores (:func:`normal_scores`) and
    :func:`~infossl.estimators.gaussian_mutual_information` is applied to the scores. Because MI is
    invariant under strictly monotone per-column maps, the estimate is consistent for any distribution
    whose copula is Gaussian (Gaussian data pushed through normal CDFs, cubes, exponentials, ...) and is
    unaffected by heavy-tailed marginals. For other copulas and **1-D x and y** it is a lower bound in the
    large-sample limit: among bivariate copulas with a given normal-score correlation, the Gaussian copula
    has the largest entropy and hence the least MI (Ince et al. 2017). For multivariate x or y it is **not
    a bound of either sign**: the per-column normal scores of a nonlinear embedding (x = Q [u; tanh(Bu + c)],
    :func:`~infossl.synthetic.embedded_gaussian_pair`) have many canonical correlations with y, each counted as new
    information, and the value exceeded the truth 4 to 25 fold in ``benchmarks/results/highdim.csv``; use
    :func:`~infossl.estimators.latent_mutual_information` (or ``method="auto"``) there.
    Ties (e.g. ReLU zeros) share one score. Collapsed (constant or collinear) directions are removed
    before scoring (:func:`copula_scores`), so a low-rank embedding gives the MI of its signal. Not differentiable (ranks); torch input stays on its device.

    Memory: the scores are never held. Beyond the input it keeps the int32 ranks of both sides (half the
    size of a float64 input), a (dx + dy) x (dx + dy) covariance and one working block of
    :data:`~infossl._backend.STREAM_BLOCK_BYTES` (:func:`copula_mi_of_tensors`); wide sides (d > n) are
    first projected onto their n-dimensional column space as data.

    Returns
    -------
    float
        Mutual information estimate I(X;Y) in nats.

    References
    ----------
    .. [1] Ince, R. A. A. et al. "A statistical framework for neuroimaging data analysis based on mutual
       information estimated via a Gaussian copula", Hum. Brain Mapp. 38, 1541-1573 (2017).

    Examples
    --------
    >>> import math, numpy as np, infossl
    >>> from infossl.synthetic import correlated_gaussian
    >>> x, y = correlated_gaussian(2, 0.8).sample(50000, random_state=0)
    >>> mi = infossl.estimators.copula_mutual_information(np.exp(x), y ** 3)   # monotone maps: same MI
    >>> round(mi, 1), round(-math.log(1 - 0.64), 1)
    (1.0, 1.0)
    """
    tx, ty, b = check_pair(x, y, min_samples=3)
    ridge = check_float(ridge, "ridge", low=0.0)
    with torch.no_grad():
        mi = copula_mi_of_tensors(tx.detach(), ty.detach(), ridge=ridge, bias_correction=bias_correction)
    return b.finish(mi)


def copula_mi_of_tensors(x: torch.Tensor, y: torch.Tensor, *, ridge: float, bias_correction: bool,
                         memory_budget: int = STREAM_BLOCK_BYTES) -> torch.Tensor:
    r"""The kernel of :func:`copula_mutual_information` on checked, detached tensors (n, dx), (n, dy): 0-d.

    Everything the Gaussian MI needs from the normal scores S = [S_x, S_y] is their centred second moment,
    (rx + ry) x (rx + ry). So each side is reduced to doubled average ranks (n, r) int32 with the mean score
    of each column (:func:`copula_ranks`), and the moment is summed over row chunks, the scores of a chunk
    being recomputed from its ranks (:func:`scores_of_ranks`, exact). The rank projection of the scores and
    the log-dets follow on that matrix (:func:`~infossl.estimators.gaussian.gaussian_mi_of_moment`, with the
    default numerical-rank rule). Equal to the Gaussian MI of :func:`copula_scores` up to summation order.
    """
    n = x.shape[0]
    twice_x, mean_x = copula_ranks(x, memory_budget=memory_budget)  # (n, rx) int32, (1, rx)
    twice_y, mean_y = copula_ranks(y, memory_budget=memory_budget)
    rx, ry = twice_x.shape[1], twice_y.shape[1]
    if rx == 0 or ry == 0:
        return torch.zeros((), dtype=x.dtype, device=x.device)  # a constant carries no information
    rows = chunk_size_for(rx + ry, itemsize=8, memory_budget=memory_budget, factor=3)

    def centred_scores(sl: slice) -> torch.Tensor:  # (rows, rx + ry)
        return torch.cat([scores_of_ranks(twice_x[sl], n, x.dtype) - mean_x,
                          scores_of_ranks(twice_y[sl], n, x.dtype) - mean_y], dim=1)

    moment = gram_of_chunks(centred_scores(sl) for sl in iter_chunks(n, rows))
    return gaussian_mi_of_moment(moment, rx, n, ridge=ridge, bias_correction=bias_correction, rtol=None)


def first_equal_rows(t: torch.Tensor, *, memory_budget: int = STREAM_BLOCK_BYTES) -> Optional[torch.Tensor]:
    """For each row of ``t`` (n, d), the index of the first row equal to it (n,) int64, or None if all differ.

    Rows are compared exactly: a hash of their bit patterns (int64 arithmetic, exact and order-free) groups
    candidates, and each candidate is checked against its group's first row, over row chunks of
    ``memory_budget`` bytes. Used to give equal rows exactly equal coordinates after a projection: a matrix
    product may round the same row differently at different places in a block, which would split a tie.
    """
    n, d = t.shape
    gen = torch.Generator().manual_seed(0x5EED)
    coef = (torch.randint(-2**62, 2**62, (d,), generator=gen, dtype=torch.int64) * 2 + 1).to(t.device)
    rows = chunk_size_for(d, itemsize=8, memory_budget=memory_budget, factor=3)
    h = torch.empty(n, dtype=torch.int64, device=t.device)
    for sl in iter_chunks(n, rows):
        block = t[sl] + 0.0  # a contiguous copy with -0.0 turned into 0.0
        if block.element_size() == 8:
            bits = block.view(torch.int64)
        else:
            bits = block.view(torch.int32).to(torch.int64)
        h[sl] = (bits * coef).sum(dim=1)  # wraps modulo 2^64
    sh, order = torch.sort(h, stable=True)
    new_run = torch.ones(n, dtype=torch.bool, device=t.device)
    new_run[1:] = sh[1:] != sh[:-1]
    if bool(new_run.all()):
        return None
    run_first = order[new_run]  # (runs,) the smallest row index of each run (stable sort)
    rep = torch.empty_like(order)
    rep[order] = run_first[torch.cumsum(new_run, 0) - 1]
    dup = torch.nonzero(rep != torch.arange(n, device=t.device)).flatten()
    for sl in iter_chunks(dup.numel(), rows):  # exact check: a hash collision keeps its own row
        i = dup[sl]
        differ = (t[i] != t[rep[i]]).any(dim=1)
        rep[i[differ]] = i[differ]
    return rep


def copula_ranks(t: torch.Tensor, *, memory_budget: int = STREAM_BLOCK_BYTES
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Doubled average ranks (n, r) int32 (:func:`doubled_ranks`) of the columns that :func:`copula_scores`
    scores, and the mean normal score of each (1, r) in ``t``'s dtype.

    Collapsed directions are removed as in :func:`copula_scores`: the numerical rank of ``t`` (n, d) comes
    from its d x d second moment summed over row chunks
    (:func:`~infossl.estimators.gaussian.centred_joint_moment`). Full-rank columns are ranked as they are
    (ranks are unchanged by centring and scaling); a rank-deficient ``t`` is ranked in the orthonormal basis
    of its column space, each column block of the projection being made from row chunks; wide ``t`` (d > n)
    takes :func:`~infossl.estimators.gaussian.project_to_rank` (Gram route, n small). Projected, equal rows
    of ``t`` get exactly equal coordinates (:func:`first_equal_rows`), so their ties survive the rounding
    of the matrix product whatever the chunking. Columns are ranked in
    blocks of about seven (n, block) arrays within ``memory_budget`` bytes; besides them only the int32 result
    and d x d matrices are held.
    """
    n, d = t.shape
    t = t.detach()
    column: Callable[[slice], torch.Tensor]
    if d > n:
        projected = project_to_rank(t, None)  # (n, r), r < n < d
        rep = first_equal_rows(t, memory_budget=memory_budget) if projected.shape[1] else None
        if rep is not None:  # equal rows of t keep exactly equal coordinates (their ties)
            projected = projected[rep]
        r = projected.shape[1]
        column = lambda cols: projected[:, cols]  # noqa: E731
    else:
        moment, [(mean, dev)] = centred_joint_moment([t], memory_budget=memory_budget)
        basis, r = numerical_rank_basis(moment, None)  # (d, r)
        if r == d:
            column = lambda cols: t[:, cols]  # noqa: E731
        else:
            rows = chunk_size_for(d, itemsize=t.element_size(), memory_budget=memory_budget, factor=2)
            rep = first_equal_rows(t, memory_budget=memory_budget) if r else None

            def column(cols: slice) -> torch.Tensor:  # (n, c) coordinates in the basis, chunk by chunk
                out = torch.empty((n, cols.stop - cols.start), dtype=t.dtype, device=t.device)
                for sl in iter_chunks(n, rows):
                    out[sl] = ((t[sl] - mean) / dev) @ basis[:, cols]
                return out if rep is None else out[rep]  # equal rows of t: exactly equal coordinates
    twice = torch.empty((n, r), dtype=torch.int32, device=t.device)
    means = torch.empty((1, r), dtype=t.dtype, device=t.device)
    block = max(1, memory_budget // (7 * 8 * max(n, 1)))
    for cols in iter_chunks(r, block):
        tw = doubled_ranks(column(cols).T.contiguous())  # (c, n)
        twice[:, cols] = tw.T
        means[0, cols] = scores_of_ranks(tw, n, t.dtype).mean(dim=1)
    return twice, means


def copula_scores(t: torch.Tensor) -> torch.Tensor:
    """Normal scores of ``t`` (n, d), after removing collapsed directions: (n, r).

    If ``t`` is numerically rank-deficient (rank r < d: constant or collinear columns, a low-rank
    embedding), it is first expressed in an orthonormal basis of its column space (n, r): a lossless
    linear map, so MI is unchanged, whereas per-column normal scores of collinear columns would turn the
    exact collinearity into spurious rank noise. Full-rank input is scored column by column. The ranks are
    those of :func:`copula_ranks`, so these are the scores whose covariance :func:`copula_mutual_information`
    streams.

    Returns
    -------
    torch.Tensor
        (n, r) normal scores, r the numerical rank of ``t`` (r = d at full rank).
    """
    twice, _ = copula_ranks(t)
    return scores_of_ranks(twice, t.shape[0], t.dtype)


def marginal_entropies(t: torch.Tensor, *, k: int = 3, chunk_size: int = 256) -> torch.Tensor:
    r"""Kozachenko–Leonenko entropy of every column separately, exact neighbours by sorting: (d,) nats.

    In one dimension the k nearest neighbours of a point lie within k places of it in sorted order, so
    the k-th neighbour distance is the k-th smallest of 2k candidate gaps. Cost O(n log n) per column.
    :math:`\hat H = \psi(n) - \psi(k) + \log 2 + \frac1n\sum_i \log r_i` (Kraskov et al. 2004, eq. 20).
    Columns with a point mass (k-th neighbour distance 0) have entropy :math:`-\infty` and raise.
    """
    n, d = t.shape
    out = []
    for cols in iter_chunks(d, chunk_size):
        s, _ = torch.sort(t[:, cols].detach(), dim=0)  # (n, c)
        pad = torch.full((k, s.shape[1]), math.inf, dtype=s.dtype, device=s.device)
        sp = torch.cat([pad, s, pad], dim=0)  # (n + 2k, c)
        gaps = [(sp[k + o:k + o + n] - s).abs() for o in range(-k, k + 1) if o != 0]
        r = torch.stack(gaps, dim=0).kthvalue(k, dim=0).values  # (n, c) k-th neighbour distance
        bad = (r == 0).any(dim=0)
        if bool(bad.any()):
            idx = (torch.nonzero(bad).flatten() + cols.start).tolist()
            raise ValueError(
                f"column(s) {idx[:10]} of z have more than k={k} equal values (a point mass): their "
                "differential entropy is -inf. Use method='gaussian' with shrinkage, method='logdet', or "
                "remove the repeated values")
        out.append(torch.log(r).mean(dim=0))
    return kl_offset(n, k, 1) + torch.cat(out)  # (d,)


def copula_entropy(z: ArrayLike, *, k: int = 3, bias_correction: bool = True):
    r"""Entropy as marginal entropies minus the Gaussian-copula total correlation, in nats.

    .. math:: \hat H(Z) = \sum_{j=1}^{d} \hat H_{\mathrm{KL}}(Z_j) - \widehat{TC}, \qquad
              \widehat{TC} = -\tfrac12 \log\det R

    where :math:`\hat H_{\mathrm{KL}}` is the 1-D Kozachenko–Leonenko estimate (:func:`marginal_entropies`)
    and R the correlation matrix of the normal scores (with the Gaussian log-det bias removed when
    ``bias_correction``). This is the decomposition :math:`H(Z) = \sum_j H(Z_j) - TC(Z)` with the total
    correlation taken from the copula. It is consistent for every distribution with a Gaussian copula and
    any marginals, costs O(n d^2) for any d (no d-dimensional neighbour search, hence none of the curse of
    dimensionality of the d-dimensional kNN estimator), and for other copulas it is an **upper bound** in
    the large-sample limit (the Gaussian copula minimises TC for a given normal-score correlation).

    A singular score correlation (collinear columns) warns and uses the Gaussian estimator's ridge; a
    column with a point mass raises (its differential entropy is :math:`-\infty`). Not differentiable.

    Returns
    -------
    float
        Differential entropy estimate of ``z``'s distribution, in nats.
    """
    t, b = check_embeddings(z, min_samples=2)
    k = check_int(k, "k")
    n, d = t.shape
    if n <= k:
        raise ValueError(f"k={k} needs more than {k} samples, got {n}")
    with torch.no_grad():
        h_marg = marginal_entropies(t, k=k).sum()
        if d == 1:
            return b.finish(h_marg)
        scores = normal_scores(t)  # (n, d)
        if n <= d:  # singular score correlation; Gram route, O(n^2 d) instead of a d x d factorisation
            sc = centred(scores)
            diag = sc.pow(2).sum(dim=0) / (n - 1)
            ld = singular_logdet_lowrank(sc, 1.0 / (n - 1), what="z's normal scores")
            tc = 0.5 * (torch.log(diag).sum() - ld)
        else:
            cov = centred_cov(scores)  # (d, d)
            tc = 0.5 * (torch.log(torch.diagonal(cov)).sum() - regularised_logdet(cov, 0.0, what="z's normal scores"))
        if bias_correction and n > d + 1:
            tc = tc + 0.5 * (wishart_logdet_bias(d, n, dtype=t.dtype, device=t.device)
                             - d * wishart_logdet_bias(1, n, dtype=t.dtype, device=t.device))
    return b.finish(h_marg - tc)
