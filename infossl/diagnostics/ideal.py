"""Checks of the ideal representation for linear probes (Dubois, Hashimoto, Ermon & Liang, NeurIPS 2022,
arXiv 2209.06235, Theorem 1): **invariance** (views of one input share one code) and **affine independence**
of the class codes (all labelings of the classes are linearly separable, which needs d >= C - 1).

* :func:`invariance_ratio` -- within-input over total sum of squares across views (0 = invariant);
* :func:`nc1` -- within-class variability relative to the between-class spread (Papyan, Han & Donoho 2020);
* :func:`class_mean_rank` -- affine rank of the class means, compared with C - 1;
* :func:`separability_fraction` -- share of the binary labelings of the classes that a linear classifier
  separates exactly (linear programme), compared with :func:`cover_fraction`, Cover's (1965) count for points
  in general position.

These are degrees, not pass/fail tests: with C larger than d + 1 no code can be ideal, and a constant code is
perfectly invariant, so read the invariance ratio next to a non-collapse metric.
"""

from __future__ import annotations

import itertools
import math
from typing import Optional, Sequence, Union

import numpy as np
import torch

from infossl._backend import ArrayLike
from infossl._validation import check_labels
from infossl._validation import (check_choice, check_embeddings, check_float, check_int, check_random_state,
                                 warn_degenerate)
from infossl.diagnostics._spectra import serial_lapack
from infossl.diagnostics.geometry import check_views

__all__ = ["invariance_ratio", "class_means", "class_mean_rank", "nc1", "separability_fraction",
           "cover_fraction"]


def _labels(labels: object, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes, inverse codes (n,)) of class labels for n rows (:func:`infossl._validation.check_labels`)."""
    classes, inverse = np.unique(check_labels(labels, n), return_inverse=True)
    return classes, inverse.reshape(-1)


def _scaled(z: ArrayLike, min_samples: int = 2) -> torch.Tensor:
    t, _ = check_embeddings(z, min_samples=min_samples)
    t = t.detach().double()
    return t / t.abs().amax().clamp_min(torch.finfo(torch.float64).tiny)  # every metric here is scale-free


_ALL_EQUAL = "all embeddings are equal: the invariance ratio is reported as 0 (invariant, collapsed)"


def invariance_ratio(views: Union[ArrayLike, Sequence[ArrayLike]], *, whiten: bool = False) -> float:
    r"""Within-input share of the total sum of squares across views (the orbit-collapse ratio).

    .. math:: \rho_{\mathrm{inv}}
              = \frac{\sum_{i,j}\lVert z_{ij}-\mu_i\rVert^2}{\sum_{i,j}\lVert z_{ij}-\mu\rVert^2} \in [0, 1]

    with :math:`\mu_i` the mean of the q views of input i and :math:`\mu` the grand mean. 0 when every input's
    views share one code (invariance); about :math:`n(q-1)/(nq-1)` when the views are unrelated. With
    ``whiten=True`` the ratio is taken in coordinates where the total covariance is the identity
    (:math:`\operatorname{tr}(T^+W)/\operatorname{rank}T`), so every direction counts equally rather than
    in proportion to its variance. All-equal embeddings give 0 with a DegenerateInputWarning (invariant but
    collapsed).

    Parameters
    ----------
    views : array (n, q, d) or a sequence of q arrays (n, d)

    Returns
    -------
    float
        Within-input share of the total sum of squares across views (the orbit-collapse ratio).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((50, 3))
    >>> invariance_ratio([x, x])
    0.0
    """
    t, _ = check_views(views)
    n, q, d = t.shape
    t = t.double()
    t = t / t.abs().amax().clamp_min(torch.finfo(torch.float64).tiny)
    within = (t - t.mean(dim=1, keepdim=True)).reshape(n * q, d)  # (n q, d)
    total = (t - t.mean(dim=(0, 1))).reshape(n * q, d)  # (n q, d)
    if not whiten:
        ss_t = float(total.pow(2).sum())
        if ss_t == 0:
            warn_degenerate(_ALL_EQUAL)
            return 0.0
        return float(within.pow(2).sum()) / ss_t
    tt = total.T @ total  # (d, d)
    with serial_lapack(t.device):
        evals, evecs = torch.linalg.eigh(tt)
    keep = evals > evals[-1].clamp_min(0) * d * 1e-12
    if not bool(keep.any()):
        warn_degenerate(_ALL_EQUAL)
        return 0.0
    basis = evecs[:, keep] / evals[keep].sqrt()  # (d, r): whitening map onto the span
    w = within @ basis  # (n q, r)
    return float(w.pow(2).sum()) / int(keep.sum())


def class_means(z: ArrayLike, labels: object) -> tuple[np.ndarray, np.ndarray]:
    """Class labels (C,) and class means (C, d) as numpy float64.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        Class labels (C,) and class means (C, d) as numpy float64.
    """
    t, _ = check_embeddings(z, min_samples=1)
    classes, inv = _labels(labels, t.shape[0])
    idx = torch.from_numpy(inv).to(t.device)
    sums = torch.zeros(len(classes), t.shape[1], dtype=torch.float64, device=t.device)  # (C, d)
    sums.index_add_(0, idx, t.double())
    counts = torch.bincount(idx, minlength=len(classes)).double()
    return classes, (sums / counts[:, None]).cpu().numpy()


def class_mean_rank(z: ArrayLike, labels: object, *, tol: Optional[float] = None) -> int:
    r"""Affine rank of the class means: rank of :math:`[\mu_c - \bar\mu]_{c=1..C}`, at most min(C - 1, d).

    The C class codes are affinely independent (every labeling of the classes is linearly separable) iff this
    equals C - 1 (the condition of Dubois et al. 2022, Theorem 1). ``tol`` is relative: singular values
    above ``tol * sigma_1`` count; default ``max(C, d) * 2.2e-16`` (numpy's ``matrix_rank``). Empirical
    means of noisy classes are generically of full rank, so pass a larger ``tol`` (e.g. 1e-3) to ask whether
    the means are *well* spread.

    Returns
    -------
    int
        The affine rank of the class means, at most min(C - 1, d).

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])   # three collinear class codes
    >>> class_mean_rank(z, [0, 1, 2])
    1
    """
    _, means = class_means(_scaled(z, 1), labels)
    c, d = means.shape
    if tol is not None:
        tol = check_float(tol, "tol", low=0.0)
    s = np.linalg.svd(means - means.mean(axis=0), compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    rel = max(c, d) * np.finfo(np.float64).eps if tol is None else tol
    return int((s > rel * s[0]).sum())


def nc1(z: ArrayLike, labels: object, *, rtol: Optional[float] = None) -> float:
    r"""Neural-collapse NC1: within-class variability relative to the between-class spread.

    .. math:: \mathrm{NC1} = \frac1C\operatorname{tr}\big(\Sigma_W\Sigma_B^{+}\big),\quad
              \Sigma_W = \frac1N\sum_i (z_i-\mu_{c_i})(z_i-\mu_{c_i})^T,\quad
              \Sigma_B = \frac1C\sum_c (\mu_c-\mu_G)(\mu_c-\mu_G)^T

    (Papyan, Han & Donoho, PNAS 2020, "Prevalence of neural collapse during the terminal phase of deep
    learning training", Fig. 6), with :math:`\mu_G` the global mean and :math:`\Sigma_B^+` the pseudo-inverse
    (eigenvalues below ``rtol`` x the largest dropped; default d x 1e-12). 0 when every class collapses to its
    mean. Needs at least 2 classes whose means differ.

    Returns
    -------
    float
        Neural-collapse NC1: within-class variability relative to the between-class spread.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[-1.1], [-0.9], [0.9], [1.1]])
    >>> round(nc1(z, [0, 0, 1, 1]), 6)   # (0.01 / 1) / 2
    0.005
    """
    t = _scaled(z, 2)
    n, d = t.shape
    classes, inv = _labels(labels, n)
    c = len(classes)
    if c < 2:
        raise ValueError(f"nc1 needs at least 2 classes, got {c}")
    _, means = class_means(t, inv)
    mu = torch.from_numpy(means).to(t.device)  # (C, d)
    resid = t - mu[torch.from_numpy(inv).to(t.device)]  # (n, d)
    sw = resid.T @ resid / n  # (d, d)
    dev = mu - t.mean(dim=0)  # (C, d)
    sb = dev.T @ dev / c  # (d, d)
    with serial_lapack(t.device):
        evals, evecs = torch.linalg.eigh(sb)
    cut = (d * 1e-12 if rtol is None else check_float(rtol, "rtol", low=0.0)) * evals[-1].clamp_min(0)
    keep = evals > cut
    if not bool(keep.any()) or evals[-1] <= 0:
        raise ValueError("nc1 is undefined: all class means are equal (the between-class covariance is zero)")
    v = evecs[:, keep]
    return float(torch.trace(v.T @ sw @ v / evals[keep])) / c


def cover_fraction(n_points: int, dim: int, *, affine: bool = True) -> float:
    r"""Share of the :math:`2^N` dichotomies of N points in general position in :math:`\mathbb R^d` that a
    hyperplane separates (Cover 1965, IEEE Trans. Electron. Comput. EC-14(3), Theorem 1).

    .. math:: \frac{C(N, d')}{2^N} = 2^{1-N}\sum_{k=0}^{d'-1}\binom{N-1}{k},\qquad
              d' = d + 1 \text{ (affine hyperplanes) or } d \text{ (through the origin)}

    Equals 1 iff N <= d' and 1/2 at N = 2d'.

    Returns
    -------
    float
        The separable share, in [0, 1].

    Examples
    --------
    >>> cover_fraction(10, 3)
    0.25390625
    """
    n_points = check_int(n_points, "n_points", low=1)
    dim = check_int(dim, "dim", low=0)
    dd = dim + 1 if affine else dim
    count = sum(math.comb(n_points - 1, k) for k in range(min(dd, n_points)))
    return 2 * count / 2 ** n_points


def _separable(x: np.ndarray, y: np.ndarray, fit: Optional[np.ndarray] = None) -> bool:
    """Exact linear separability of points x (N, d) with signs y (N,) by an affine hyperplane (LP feasibility:
    y_i (w.x_i + b) >= 1). ``fit`` (N,), optional: the least-squares fit of y on [x, 1]; when its signs
    already match y it is a separating hyperplane (a certificate) and the slower LP is skipped. The answer
    is the LP's either way."""
    from scipy.optimize import linprog

    if np.all(y == y[0]):
        return True
    if fit is not None and np.all(y * fit > 0):
        return True
    a = -y[:, None] * np.hstack([x, np.ones((x.shape[0], 1))])  # (N, d + 1)
    res = linprog(np.zeros(a.shape[1]), A_ub=a, b_ub=-np.ones(x.shape[0]), bounds=(None, None),
                  method="highs")
    return res.status == 0


def separability_fraction(z: ArrayLike, labels: object, *, max_labelings: int = 256, on: str = "points",
                          random_state: Union[None, int, np.random.Generator] = 0) -> float:
    r"""Share of the binary labelings of the classes that are exactly linearly separable.

    Every labeling :math:`s \in \{\pm1\}^C` of the C classes labels each row by its class's sign; the labeling
    counts as separable when an affine hyperplane puts all + rows on one side and all - rows on the other
    (a feasibility linear programme, scipy's HiGHS). 1.0 means every task that is constant on the classes is
    solvable by a linear probe (Dubois et al. 2022). For C class codes in general position
    (``on="means"``, or invariant rows) the expected value is :func:`cover_fraction` (C, d) exactly.

    Parameters
    ----------
    z : array (n, d)
    labels : array (n,)
    max_labelings : int, default 256
        All :math:`2^{C-1}` labelings up to sign flip are checked when that is at most ``max_labelings``
        (exact); otherwise ``max_labelings`` labelings are drawn uniformly (a Monte-Carlo estimate).
    on : {"points", "means"}
        Separate the rows themselves, or only the C class means.
    random_state : int, Generator or None
        For the sampled labelings.

    Returns
    -------
    float
        Share of the binary labelings of the classes that are exactly linearly separable.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.random.default_rng(0).standard_normal((6, 3))   # 6 codes in general position in R^3
    >>> separability_fraction(z, np.arange(6), on="means"), cover_fraction(6, 3)
    (0.8125, 0.8125)
    """
    t = _scaled(z, 1)
    max_labelings = check_int(max_labelings, "max_labelings", low=1)
    check_choice(on, "on", ("points", "means"))
    classes, inv = _labels(labels, t.shape[0])
    c = len(classes)
    if on == "means":
        _, x = class_means(t, inv)
        codes = np.arange(c)
    else:
        x, codes = t.cpu().numpy(), inv
    x = x - x.mean(axis=0)
    sd = x.std()
    x = x / sd if sd > 0 else x
    # exhaustive, first class fixed to + (separability is symmetric under flipping every sign)
    if c - 1 <= math.log2(max_labelings):
        signs = np.array([(1,) + bits for bits in itertools.product((1, -1), repeat=c - 1)], dtype=float)
    else:
        signs = check_random_state(random_state).choice([1.0, -1.0], size=(max_labelings, c))
    ys = signs[:, codes].T  # (N, L) every labeling's row signs
    xa = np.hstack([x, np.ones((x.shape[0], 1))])  # (N, d + 1)
    fits = xa @ np.linalg.lstsq(xa, ys, rcond=None)[0]  # (N, L) least-squares fits, one factorisation
    return float(np.mean([_separable(x, ys[:, j], fits[:, j]) for j in range(ys.shape[1])]))
