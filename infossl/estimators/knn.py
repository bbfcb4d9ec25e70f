"""Nearest-neighbour estimators: Kozachenko–Leonenko entropy and Kraskov–Stögbauer–Grassberger MI.

Neighbours are exact; the search (chunked brute force in torch or a scipy KD-tree, both paths giving
identical results in float64) lives in :mod:`~infossl.estimators.neighbours`. ``algorithm="auto"`` takes
the KD-tree below the crossovers measured at n = 10^4 on a 2-core CPU (``KD_TREE_MAX_DIM``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from infossl._backend import ArrayLike, full_precision, global_scale
from infossl._validation import (
    DegenerateInputWarning,
    check_choice,
    check_embeddings,
    check_int,
    check_pair,
    check_random_state,
    constant_columns,
)
from infossl._warnings import warn
from infossl.estimators.neighbours import distances, ksg_counts, ksg_engine, kth_neighbour
from infossl.estimators.reliability import ReliabilityWarning
from infossl.linalg import column_std
from infossl.linalg import standardize as standardize_columns  # the estimators take a standardize= option

# "auto" crossovers, timed once per setting at n = 10^4 on a shared 2-core CPU (float64 numpy input):
# KL euclidean: KD-tree 0.21 s vs brute 0.38 s at d = 10, 0.38 vs 0.41 at d = 12, 0.75 vs 0.37 at d = 16;
# KL max-norm: KD-tree 1.6 s vs brute 2.8 s even at d = 32;
# KSG, since its brute search screens on an int16 grid (best of two runs each, one process, load 14-18):
# KD-tree 12.0 s vs brute 11.0 s at 4+4 dims (float32 tensors 7.8 vs 7.4), 46.3 vs 10.4 at 8+8 (float32
# 22.8 vs 4.1), so both dtypes take the KD-tree up to 8 total dims.
KD_TREE_MAX_DIM = {"euclidean": 12, "chebyshev": 32, "ksg": 8, "ksg_float32": 8}
# KSG with the compiled kernels (neighbours.ksg_engine == "compiled"; Intel Xeon, 2 cores, load 0.1-1.3,
# float64, KD-tree vs brute): n = 10^4: 1+1 dims 0.035 vs 0.067 s, 2+2 0.14 vs 0.07, 4+4 0.69 vs 0.10;
# n = 3*10^4: 2+2 0.75 vs 0.55, 4+4 3.65 vs 1.00; n = 10^5: 2+2 3.2 vs 7.8, 3+3 9.0 vs 5.3, 4+4 14.9 vs 5.6.
# The KD-tree's cost grows with the dimension, brute force's with n^2: the KD-tree up to 2 total dims, and
# up to 4 from n = 5*10^4.
KSG_COMPILED_KD_TREE = ((2, 0), (4, 50_000))  # (max total dims, from n)
_METRICS = ("euclidean", "chebyshev")
_ALGORITHMS = ("auto", "brute", "kd_tree")
_DUPLICATES = ("raise", "drop", "jitter")
_JITTER = 1e-10


# ----------------------------------------------------------------------------------------------- formulas
def _log_unit_ball(d: int, metric: str) -> float:
    """log volume of the unit ball in d dimensions: pi^(d/2)/Gamma(d/2+1) (Euclidean), 2^d (max-norm)."""
    if metric == "chebyshev":
        return d * math.log(2.0)
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def kl_offset(n: int, k: int, d: int, metric: str = "euclidean") -> float:
    """The constant of the Kozachenko–Leonenko estimator, psi(n) - psi(k) + log V_d (Kraskov et al. 2004,
    eq. 20): the entropy estimate is this plus d times the mean log k-th neighbour distance."""
    return _digamma(n) - _digamma(k) + _log_unit_ball(d, metric)


def _digamma(v: float) -> float:
    from scipy.special import digamma

    return float(digamma(v))


# -------------------------------------------------------------------------------------------- degenerate
def _constant_names(mask: torch.Tensor) -> str:
    cols = torch.nonzero(mask).squeeze(1).tolist()
    shown = ", ".join(map(str, cols[:10])) + (", ..." if len(cols) > 10 else "")
    return f"{len(cols)} constant column(s) [{shown}]"


def _duplicate_error(name: str, n_zero: int, k: int) -> ValueError:
    return ValueError(
        f"{n_zero} point(s) of {name} have at least k={k} exact copies, so their k-th neighbour distance is 0 "
        f"and the estimate is -inf / undefined. Pass duplicates='drop' to estimate on the unique rows, "
        f"duplicates='jitter' to add noise of relative size {_JITTER:g} per column, or increase k."
    )


def _unique_rows(t: torch.Tensor) -> torch.Tensor:
    return torch.unique(t.detach(), dim=0)


def tie_jitter(t: torch.Tensor, random_state) -> torch.Tensor:
    """``t`` plus Gaussian noise of 1e-10 (at least 16 eps) times each column's std: breaks exact ties
    (duplicate points) for the kNN estimators without changing any other neighbour relation measurably."""
    rng = check_random_state(random_state)
    std = column_std(t.detach())  # (1, d)
    std = torch.where(std > 0, std, t.detach().abs().amax(dim=0, keepdim=True).clamp_min(1.0))
    rel = max(_JITTER, 16 * torch.finfo(t.dtype).eps)  # 1e-10 is below float32 resolution
    noise = torch.from_numpy(rng.standard_normal(tuple(t.shape))).to(device=t.device, dtype=t.dtype)
    return t + rel * std * noise


def _resolve_algorithm(algorithm: str, t: torch.Tensor, dims: int, differentiable: bool, max_dim: int) -> str:
    kd_ok = t.device.type == "cpu" and not (differentiable and t.requires_grad)
    if algorithm == "auto":
        return "kd_tree" if kd_ok and dims <= max_dim else "brute"
    if algorithm == "kd_tree" and not kd_ok:
        where = "a CUDA tensor" if t.device.type != "cpu" else "a tensor that requires grad"
        raise ValueError(f"algorithm='kd_tree' needs CPU data without autograd; got {where}. "
                         "Use algorithm='brute' (exact, differentiable, runs on the tensor's device).")
    return algorithm


def _check_k_n(k: int, n: int, what: str = "samples") -> None:
    if n <= k:
        raise ValueError(f"k={k} needs more than {k} {what}, got {n}")


# --------------------------------------------------------------------------------------------- entropy
def _warn_if_wide(n: int, d: int) -> None:
    """Warn when the rows cannot resolve a d-dimensional density: n points span at most an (n - 1)-dimensional
    affine subspace, so with n <= d the k-NN distances say nothing about the spread along the other
    directions and the estimator's d log(distance) term extrapolates from the n - 1 it sees."""
    if n > d:
        return
    warn(f"knn_entropy: n = {n} rows in d = {d} dimensions span at most {n - 1} of the d directions, so the "
         "k-NN distances cannot resolve a d-dimensional density and the value is not an estimate of H(Z) "
         "(on 50 rows of N(0, I) in 10^4 dimensions it is 24 % above the truth). Use more rows than "
         "dimensions, or reduce the dimension first", ReliabilityWarning)


@full_precision
def knn_entropy(z: ArrayLike, *, k: int = 3, metric: str = "euclidean", duplicates: str = "raise",
                algorithm: str = "auto", chunk_size: int | None = None,
                random_state: None | int | np.random.Generator = None):
    r"""Kozachenko–Leonenko k-nearest-neighbour differential entropy, in nats.

    .. math::
        \hat H = \psi(n) - \psi(k) + \log V_d + \frac{d}{n}\sum_{i=1}^n \log r_i,

    where :math:`r_i` is the distance from :math:`z_i` to its k-th nearest other sample and :math:`V_d`
    the volume of the unit ball of the metric: :math:`\pi^{d/2}/\Gamma(d/2+1)` (Euclidean) or
    :math:`2^d` (max-norm). Using the max-norm volume with Euclidean distances, as one peer library does,
    is off by :math:`d\log 2` minus the log ratio of the two balls; both pairs are tested here against
    closed-form entropies.

    Parameters
    ----------
    z : array-like (n, d) or torch.Tensor
        Samples in rows; 1-D input is read as (n, 1). numpy input is computed in float64.
    k : int, default 3
        Neighbour order, ``1 <= k < n``. Larger k: lower variance, more bias in curved/high-d densities.
    metric : {"euclidean", "chebyshev"}
    duplicates : {"raise", "drop", "jitter"}
        What to do when some point has at least k exact copies (its :math:`r_i = 0`): raise a
        ``ValueError`` (default); estimate on the unique rows (``"drop"``); or add Gaussian noise of
        standard deviation ``1e-10`` x the column's std (``16 * eps`` of the dtype if larger, i.e. for
        float32) drawn from ``random_state`` (``"jitter"``). The last two warn with
        ``DegenerateInputWarning`` and give a finite value.
    algorithm : {"auto", "brute", "kd_tree"}
        ``"auto"``: KD-tree when d <= 12 (Euclidean) or d <= 32 (max-norm), the data are on the CPU and no
        gradient is needed; else brute force (exact, chunked, differentiable, stays on the GPU). The
        thresholds are the crossovers measured at n = 10^4 on a 2-core CPU (``KD_TREE_MAX_DIM``).
    chunk_size : int, optional
        Rows per (chunk, n) distance block; default from a 256 MiB budget.
    random_state : None, int or numpy Generator
        Only used by ``duplicates="jitter"``.

    Returns
    -------
    float or 0-d tensor
        Entropy in nats. For torch input the value is differentiable w.r.t. ``z`` through the :math:`r_i`
        (neighbours are chosen without gradient, their distances recomputed with it).

    Raises
    ------
    ValueError
        Bad options, ``n <= k``, constant columns (the differential entropy is :math:`-\infty`),
        duplicates under ``"raise"``.

    Notes
    -----
    The estimate is asymptotically unbiased for densities that are bounded and continuous on their
    support; at finite n it is biased upwards near boundaries and downwards in high dimension (the
    :math:`r_i` concentrate). It is exactly equivariant: :math:`\hat H(aZ) = \hat H(Z) + d\log a`; the
    data are divided by a global scale before the search and :math:`d\log(\text{scale})` is added back,
    so data at 1e30 or 1e-30 work.

    References
    ----------
    .. [1] Kozachenko, L. F. and Leonenko, N. N. "Sample estimate of the entropy of a random vector",
       Probl. Peredachi Inf. 23(2), 9-16 (1987).
    .. [2] Kraskov, A., Stögbauer, H. and Grassberger, P. "Estimating mutual information",
       Phys. Rev. E 69, 066138 (2004), eq. (20). arXiv:cond-mat/0305641.

    Examples
    --------
    >>> import numpy as np
    >>> from infossl.estimators.knn import knn_entropy
    >>> z = np.random.default_rng(0).standard_normal((20000, 2))
    >>> h = knn_entropy(z)                      # N(0, I_2): H = log(2 pi e) = 2.838 nats
    >>> round(h, 2), bool(abs(h - np.log(2 * np.pi * np.e)) < 0.02)
    (2.83, True)
    """
    k = check_int(k, "k", low=1)
    metric = check_choice(metric, "metric", _METRICS)
    duplicates = check_choice(duplicates, "duplicates", _DUPLICATES)
    algorithm = check_choice(algorithm, "algorithm", _ALGORITHMS)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    t, b = check_embeddings(z, name="z", min_samples=1)
    _check_k_n(k, t.shape[0])
    const = constant_columns(t)
    if bool(const.any()):
        raise ValueError(f"z has {_constant_names(const)}; the differential entropy of a distribution "
                         "concentrated on a lower-dimensional set is -inf. Remove those columns.")
    _warn_if_wide(t.shape[0], t.shape[1])
    algo = _resolve_algorithm(algorithm, t, t.shape[1], differentiable=True, max_dim=KD_TREE_MAX_DIM[metric])
    value, n_zero = _kl(t, k, metric, algo, chunk_size)
    if n_zero:
        if duplicates == "raise":
            raise _duplicate_error("z", n_zero, k)
        if duplicates == "drop":
            u = _unique_rows(t)
            _check_k_n(k, u.shape[0], "unique samples after dropping duplicates")
            warn(f"z: {n_zero} of {t.shape[0]} points had >= k={k} exact copies; estimated on the "
                 f"{u.shape[0]} unique rows (duplicates='drop')", DegenerateInputWarning)
            t = u
        else:
            warn(f"z: {n_zero} of {t.shape[0]} points had >= k={k} exact copies; added noise of "
                 f"relative size {_JITTER:g} per column (duplicates='jitter')", DegenerateInputWarning)
            t = tie_jitter(t, random_state)
        value, n_zero = _kl(t, k, metric, algo, chunk_size)
        if n_zero:  # pragma: no cover - jitter separates every copy
            raise _duplicate_error("z", n_zero, k)
    return b.finish(value)


def _kl(t: torch.Tensor, k: int, metric: str, algo: str, chunk_size: int | None) -> tuple[torch.Tensor, int]:
    """The KL estimate and the number of zero k-th distances (then the value is meaningless)."""
    n, d = t.shape
    scale = global_scale(t.detach())
    zs = t / scale  # (n, d), O(1) entries
    nb = kth_neighbour(zs, k, metric, algo, chunk_size)  # (n,), chosen without gradient
    r = distances(zs, torch.arange(n, device=t.device), nb.unsqueeze(1), metric).squeeze(1)  # (n,)
    n_zero = int((r.detach() == 0).sum())
    if n_zero:
        return r.sum(), n_zero
    const = kl_offset(n, k, d, metric) + d * math.log(float(scale))
    return const + (d / n) * torch.log(r).sum(), 0


# ------------------------------------------------------------------------------------------------- KSG
def ksg_mutual_information(x: ArrayLike, y: ArrayLike, *, k: int = 3, variant: int = 1, standardize: bool = True,
                           duplicates: str = "raise", chunk_size: int | None = None,
                           random_state: None | int | np.random.Generator = None, algorithm: str = "auto"):
    r"""Kraskov–Stögbauer–Grassberger k-nearest-neighbour mutual information I(X; Y), in nats.

    Distances are max-norms in each marginal and :math:`\max(d_x, d_y)` in the joint space.
    :math:`\epsilon_i` is the joint distance from sample i to its k-th nearest other sample.

    Variant 1 (eq. 8 of [1]), with strict counts :math:`n_x(i) = \#\{j \ne i : d_x(i,j) < \epsilon_i\}`:

    .. math:: \hat I_1 = \psi(k) + \psi(n) - \langle \psi(n_x + 1) + \psi(n_y + 1) \rangle.

    Variant 2 (eq. 9 of [1]), with :math:`\epsilon_{x,i}` the largest x-distance among the k joint
    neighbours and :math:`n_x(i) = \#\{j \ne i : d_x(i,j) \le \epsilon_{x,i}\}`:

    .. math:: \hat I_2 = \psi(k) - 1/k + \psi(n) - \langle \psi(n_x) + \psi(n_y) \rangle.

    Parameters
    ----------
    x, y : array-like (n, d_x), (n, d_y) or torch.Tensor
        Paired samples in rows; 1-D input is read as (n, 1). numpy input is computed in float64.
    k : int, default 3
        Neighbour order, ``1 <= k < n``.
    variant : {1, 2}
    standardize : bool, default True
        Divide every non-constant column by its standard deviation first. This makes the estimate
        invariant to per-column rescaling (the max-norm otherwise lets the widest column decide the
        neighbours; peers that skip it give scale-dependent answers). Constant columns contribute 0 to
        every max-norm distance and are left as they are.
    duplicates : {"raise", "drop", "jitter"}
        Policy when some :math:`\epsilon_i = 0` (a joint point with at least k exact copies); as in
        :func:`knn_entropy`, "drop" works on the unique joint rows.
    chunk_size : int, optional
        Rows per (chunk, n) block of the brute-force search; default from a 256 MiB budget.
    random_state : None, int or numpy Generator
        Only used by ``duplicates="jitter"``.
    algorithm : {"auto", "brute", "kd_tree"}
        ``"auto"``: KD-tree (scipy, CPU) when d_x + d_y <= 8 with the torch engine, or <= 2 (<= 4 from
        n = 5 * 10^4) where the compiled kernels run (``KSG_COMPILED_KD_TREE``,
        :func:`~infossl.estimators.neighbours.ksg_engine`), else brute force; measured crossovers.

    Returns
    -------
    float or 0-d tensor
        MI in nats (can be slightly negative for independent data). The estimate is built from neighbour
        counts and is **not differentiable**: tensors are returned detached.

    Notes
    -----
    Tie rule (it matters only for data with repeated distances): :math:`\epsilon_i` is the k-th smallest
    joint distance to the other points, whatever the order of equal distances; for variant 2 the k joint
    neighbours are the k nearest with ties at :math:`\epsilon_i` broken towards the lower row index. The
    brute-force and KD-tree paths and the loop reference in ``_reference.py`` agree to 1e-12 (float64).
    float32 tensors have their distances computed in float32, so their counts are exact for those distances.
    KSG is biased towards 0 when the MI is large or the dimension high (it needs
    :math:`n \gg e^{I}`), and undefined for deterministic dependence (Y = f(X) gives zero distances).

    References
    ----------
    .. [1] Kraskov, A., Stögbauer, H. and Grassberger, P. "Estimating mutual information",
       Phys. Rev. E 69, 066138 (2004), eqs. (8) and (9). arXiv:cond-mat/0305641.

    Examples
    --------
    >>> import numpy as np
    >>> from infossl.estimators.knn import ksg_mutual_information
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(5000); y = 0.6 * x + 0.8 * rng.standard_normal(5000)
    >>> mi = ksg_mutual_information(x, y)       # rho = 0.6: I = -log(1 - 0.36) / 2 = 0.223 nats
    >>> round(mi, 2), bool(abs(mi + 0.5 * np.log(1 - 0.36)) < 0.03)
    (0.23, True)
    """
    k = check_int(k, "k", low=1)
    variant = check_int(variant, "variant", low=1, high=2)
    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be True or False, got {standardize!r}")
    duplicates = check_choice(duplicates, "duplicates", _DUPLICATES)
    algorithm = check_choice(algorithm, "algorithm", _ALGORITHMS)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    tx, ty, b = check_pair(x, y, min_samples=1)
    _check_k_n(k, tx.shape[0])
    tx, ty = tx.detach(), ty.detach()
    dx = tx.shape[1]
    max_dim = KD_TREE_MAX_DIM["ksg_float32" if tx.dtype == torch.float32 else "ksg"]
    if algorithm == "auto" and ksg_engine(tx.device) == "compiled":
        max_dim = max(d for d, n_from in KSG_COMPILED_KD_TREE if tx.shape[0] >= n_from)
    algo = _resolve_algorithm(algorithm, tx, dx + ty.shape[1], differentiable=False, max_dim=max_dim)
    with torch.no_grad():
        value, n_zero = _ksg(tx, ty, k, variant, standardize, algo, chunk_size)
        if n_zero:
            if duplicates == "raise":
                raise _duplicate_error("(x, y)", n_zero, k)
            xy = torch.cat([tx, ty], dim=1)  # (n, dx + dy)
            if duplicates == "drop":
                u = _unique_rows(xy)
                _check_k_n(k, u.shape[0], "unique samples after dropping duplicates")
                warn(f"(x, y): {n_zero} of {xy.shape[0]} points had >= k={k} exact copies; "
                     f"estimated on the {u.shape[0]} unique rows (duplicates='drop')", DegenerateInputWarning)
            else:
                warn(f"(x, y): {n_zero} of {xy.shape[0]} points had >= k={k} exact copies; added "
                     f"noise of relative size {_JITTER:g} per column (duplicates='jitter')",
                     DegenerateInputWarning)
                u = tie_jitter(xy, random_state)
            value, n_zero = _ksg(u[:, :dx], u[:, dx:], k, variant, standardize, algo, chunk_size)
            if n_zero:  # pragma: no cover - jitter separates every copy
                raise _duplicate_error("(x, y)", n_zero, k)
    return b.finish(value)


def _ksg(x: torch.Tensor, y: torch.Tensor, k: int, variant: int, standardize: bool, algo: str,
         chunk_size: int | None) -> tuple[torch.Tensor, int]:
    n = x.shape[0]
    if standardize:  # max-norm distances never square anything, so no global rescaling is needed
        x, y = standardize_columns(x), standardize_columns(y)
    nx, ny, eps = ksg_counts(x, y, k, variant, algo, chunk_size)
    n_zero = int((eps == 0).sum())
    psi = torch.special.digamma
    nx, ny = nx.to(torch.float64), ny.to(torch.float64)
    if variant == 1:
        mi = _digamma(k) + _digamma(n) - (psi(nx + 1) + psi(ny + 1)).mean()
    else:
        mi = _digamma(k) - 1.0 / k + _digamma(n) - (psi(nx) + psi(ny)).mean()
    return mi, n_zero
