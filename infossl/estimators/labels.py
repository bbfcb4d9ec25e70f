r"""Label information :math:`I(Z; Y)` between continuous embeddings Z (n, d) and a discrete label Y (n,), in nats.

Two estimators, both for multivariate Z (scikit-learn's ``mutual_info_classif`` is per feature):

* :func:`knn_label_mutual_information`: the nearest-neighbour estimator of Ross (2014) for a discrete and a
  continuous variable, written for a d-dimensional Z (any norm; the derivation never uses the dimension);
* :func:`gaussian_label_mutual_information`: the information of the class-conditional Gaussian model
  (one Gaussian per class, or one shared covariance), evaluated on the data, optionally cross-fitted; and
  :func:`gaussian_label_information_bounds`, the Kolchinsky–Tracey pairwise-distance bounds on the same
  fitted mixture.

:func:`label_mutual_information` dispatches on ``method=``. Both values are at most :math:`H(Y)`
(:math:`\le \log C`) up to estimation error; numpy input gives a float, a tensor gives a 0-d tensor on its
device (not differentiable: counts and class statistics).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Union

import numpy as np
import torch

from infossl._backend import ArrayLike, chunk_size_for, global_scale, iter_chunks
from infossl._validation import check_labels as validate_labels
from infossl._validation import (check_choice, check_embeddings, check_float, check_int, check_random_state,
                                 warn_degenerate)
from infossl.linalg import LOG_2PI, centred, logdet_of_cholesky, numerical_rank_basis
from infossl.linalg import standardize as standardize_columns  # the option `standardize` shadows the name

__all__ = ["label_mutual_information", "knn_label_mutual_information", "gaussian_label_mutual_information",
           "gaussian_label_information_bounds", "LabelInformationBounds", "check_labels"]

_METRICS = ("euclidean", "chebyshev")
_DUPLICATES = ("raise", "jitter")
_COVARIANCES = ("auto", "full", "shared")


# ------------------------------------------------------------------------------------------- validation
def check_labels(labels: Any, n: int, *, name: str = "labels") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate discrete labels for n rows: returns ``(classes, codes, counts)``.

    ``classes`` are the sorted distinct labels, ``codes`` (n,) int64 the index of each row's class and
    ``counts`` (C,) the class sizes. The labels are checked by :func:`infossl._validation.check_labels`
    (the one rule: integers or integer-valued floats, one per row).

    Returns
    -------
    tuple of numpy arrays
        ``(classes, codes, counts)`` as above.
    """
    lab = validate_labels(labels, n, name=name)
    classes, codes, counts = np.unique(lab, return_inverse=True, return_counts=True)
    return classes, codes.reshape(-1).astype(np.int64), counts


def _plugin_entropy(counts: np.ndarray) -> float:
    """Plug-in entropy of the label frequencies, in nats."""
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def _prepare(z: ArrayLike, labels: Any, min_samples: int = 2):
    t, b = check_embeddings(z, name="z", min_samples=min_samples)
    classes, codes, counts = check_labels(labels, t.shape[0])
    return t.detach(), b, classes, codes, counts


# ----------------------------------------------------------------------------------------------- kNN
def knn_label_mutual_information(z: ArrayLike, labels: Any, *, k: int = 3, metric: str = "chebyshev",
                                 standardize: bool = True, duplicates: str = "raise",
                                 chunk_size: Optional[int] = None,
                                 random_state: Union[None, int, np.random.Generator] = None):
    r"""Nearest-neighbour estimate of :math:`I(Z; Y)` for continuous Z (n, d) and discrete Y (Ross 2014).

    For each row i of class :math:`y_i` (with :math:`N_{y_i}` rows), :math:`\epsilon_i` is the distance to
    its k-th nearest neighbour *within its class* and :math:`m_i` the number of rows of *any* class within
    :math:`\epsilon_i` (itself excluded, the k-th neighbour included). Then (Ross 2014, eq. 2)

    .. math:: \hat I = \psi(N) - \langle\psi(N_{y_i})\rangle + \psi(k) - \langle\psi(m_i)\rangle .

    The derivation (Kozachenko–Leonenko entropy of Z and of Z | Y = c, each on the same ball, so the volume
    term cancels) holds in any dimension and for any norm, which is how it is used here for d-dimensional Z.
    When the classes are far apart :math:`m_i = k` and :math:`\hat I = \psi(N) - \langle\psi(N_y)\rangle`,
    the (digamma) plug-in label entropy; when Z is independent of Y the estimate is about 0 (it can be
    slightly negative).

    Parameters
    ----------
    z : array (n, d) or tensor
        Embeddings; 1-D input is read as (n, 1).
    labels : array (n,)
        Discrete class labels (ints, bools, strings or integer-valued floats). Every class needs more than
        k rows.
    k : int, default 3
        Neighbour order within the class.
    metric : {"chebyshev", "euclidean"}
        Distance in Z (max-norm by default, as the KSG estimator of this package).
    standardize : bool, default True
        Divide every non-constant column by its standard deviation first (per-column scale invariance).
    duplicates : {"raise", "jitter"}
        When a row has at least k exact copies in its class, :math:`\epsilon_i = 0` and the estimator is
        undefined for continuous Z: raise, or add noise of relative size 1e-10 per column (then a Z that is
        a discrete code of Y gives the plug-in label entropy).
    chunk_size : int, optional
        Rows per (chunk, n) block of distances; default from a 256 MiB budget.
    random_state : None, int or numpy Generator
        Only used by ``duplicates="jitter"``.

    Returns
    -------
    float (numpy input) or 0-d tensor (torch input, detached), nats.

    Notes
    -----
    Cost: one exact brute-force pass, O(n^2 d) time on the data's device and O(chunk_size n) memory.
    Like every kNN information estimator it needs :math:`n \gg e^{I}` per class and is biased towards 0 in
    high dimension when the classes overlap.

    References
    ----------
    .. [1] B. C. Ross, "Mutual information between discrete and continuous data sets", PLoS ONE 9(2):
       e87357, 2014, doi:10.1371/journal.pone.0087357 (eq. 2 and the counting rule above it).
    .. [2] A. Kraskov, H. Stögbauer and P. Grassberger, "Estimating mutual information", Phys. Rev. E 69,
       066138, 2004 (the Kozachenko–Leonenko form it builds on).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 4, 4000)
    >>> z = 10.0 * np.eye(4)[y] + rng.standard_normal((4000, 4))     # 4 well separated classes
    >>> round(knn_label_mutual_information(z, y), 2), round(float(np.log(4)), 2)
    (1.39, 1.39)
    """
    from infossl.estimators.knn import tie_jitter

    k = check_int(k, "k", low=1)
    metric = check_choice(metric, "metric", _METRICS)
    duplicates = check_choice(duplicates, "duplicates", _DUPLICATES)
    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be True or False, got {standardize!r}")
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    t, b, classes, codes, counts = _prepare(z, labels)
    small = counts <= k
    if small.any():
        shown = ", ".join(f"{classes[i]!r} ({counts[i]} rows)" for i in np.nonzero(small)[0][:5])
        raise ValueError(f"k={k} needs more than {k} rows in every class; too small: {shown}. "
                         "Lower k or drop those classes")
    if len(classes) == 1:
        warn_degenerate("labels: a single class, so I(Z; Y) = 0")
        return b.finish(torch.zeros((), dtype=torch.float64, device=t.device))
    t = t.double()
    t = standardize_columns(t) if standardize else t
    value, n_zero = _ross(t, torch.from_numpy(codes).to(t.device), counts, k, metric, chunk_size)
    if n_zero:
        if duplicates == "raise":
            raise ValueError(f"{n_zero} row(s) of z have at least k={k} exact copies in their class, so their "
                             "k-th neighbour distance is 0 and the estimator is undefined for continuous z. "
                             "Pass duplicates='jitter' to add noise of relative size 1e-10 per column")
        warn_degenerate(f"z: {n_zero} of {t.shape[0]} rows had >= k={k} exact copies in their class; added "
                        "noise of relative size 1e-10 per column (duplicates='jitter')")
        t = tie_jitter(t, random_state)
        value, n_zero = _ross(t, torch.from_numpy(codes).to(t.device), counts, k, metric, chunk_size)
        if n_zero:  # pragma: no cover - the jitter separates every copy
            raise ValueError(f"{n_zero} rows still have a zero k-th neighbour distance after jittering")
    return b.finish(value)


def _ross(t: torch.Tensor, codes: torch.Tensor, counts: np.ndarray, k: int, metric: str,
          chunk_size: Optional[int]) -> tuple[torch.Tensor, int]:
    """Ross's estimate and the number of zero within-class k-th distances (then it is meaningless)."""
    from scipy.special import digamma

    n = t.shape[0]
    scale = global_scale(t)
    zs = t / scale if float(scale) > 0 else t  # (n, d) O(1) entries: no overflow in squared distances
    p = 2.0 if metric == "euclidean" else math.inf
    cs = chunk_size or max(1, min(4096, chunk_size_for(n, itemsize=8, factor=4)))
    m = torch.empty(n, dtype=torch.float64, device=t.device)
    n_zero = 0
    for rows in iter_chunks(n, cs):
        c = rows.stop - rows.start
        dist = torch.cdist(zs[rows], zs, p=p, compute_mode="donot_use_mm_for_euclid_dist")  # (c, n), exact
        local = torch.arange(c, device=t.device)
        dist[local, local + rows.start] = math.inf  # the row itself is neither a neighbour nor counted
        same = codes[rows].unsqueeze(1) == codes.unsqueeze(0)  # (c, n)
        eps = dist.masked_fill(~same, math.inf).kthvalue(k, dim=1).values  # (c,) within-class k-th distance
        n_zero += int((eps == 0).sum())
        m[rows] = (dist <= eps.unsqueeze(1)).sum(dim=1).to(torch.float64)  # (c,) >= k by construction
    n_y = torch.from_numpy(counts.astype(np.float64)).to(t.device)[codes]  # (n,)
    psi = torch.special.digamma
    value = float(digamma(n)) - psi(n_y).mean() + float(digamma(k)) - psi(m).mean()
    return value, n_zero


# ------------------------------------------------------------------------------------- Gaussian model
class _ClassGaussians(NamedTuple):
    means: torch.Tensor  # (C, r)
    covs: torch.Tensor  # (C, r, r)
    log_prior: torch.Tensor  # (C,)


def _coordinates(t: torch.Tensor) -> torch.Tensor:
    r"""Rows of z (n, d), centred, scaled and written in an orthonormal basis of the numerical column space of
    the total covariance (eigenvalues above 10 d eps x the largest): (n, r).

    Every quantity of the Gaussian model (log-densities, KL and Bhattacharyya distances) is invariant to the
    choice of that basis, so for wide z (d > n) the coordinates come from the n x n Gram matrix
    :math:`Z Z^\top = U \Lambda U^\top` instead: with the basis :math:`V_r = Z^\top U_r\Lambda_r^{-1/2}` the
    rows are :math:`Z V_r = U_r\Lambda_r^{1/2}` (the same non-zero eigenvalues and rank rule). Peak memory:
    a (d, d) matrix and its eigenvectors for d <= n; for d > n a few (n, d) copies and (n, n) matrices, never
    a d x d one (n = 50, d = 10^4: 4 MB per (n, d) float64 copy).
    """
    scale = global_scale(t)
    scale = scale if float(scale) > 0 else torch.ones((), dtype=t.dtype, device=t.device)
    tc = centred(t) / scale  # (n, d)
    n, d = tc.shape
    if d > n:
        evals, evecs = torch.linalg.eigh(tc @ tc.T)  # (n,), (n, n)
        keep = evals > d * torch.finfo(tc.dtype).eps * 10 * evals[-1].clamp_min(0)
        return evecs[:, keep] * evals[keep].sqrt()  # (n, r)
    basis, _ = numerical_rank_basis(tc.T @ tc, None)  # (d, r)
    return tc @ basis


def _resolve(covariance: str, x: torch.Tensor, codes: torch.Tensor, n_classes: int) -> str:
    """"auto" becomes "full" when every class has more rows than the r columns of x (n, r), the fewest with
    which a class covariance can be non-singular, and "shared" otherwise; other choices are kept."""
    if covariance != "auto":
        return covariance
    counts = torch.bincount(codes, minlength=n_classes)  # (C,)
    return "full" if int(counts.min()) > x.shape[1] else "shared"


def _fit(x: torch.Tensor, codes: torch.Tensor, n_classes: int, covariance: str, ridge: float) -> _ClassGaussians:
    """Class means, covariances (ddof 1; pooled for "shared") and log priors from rows x (n, r);
    ``covariance`` is "full" or "shared" (resolve "auto" with :func:`_resolve` first)."""
    r = x.shape[1]
    counts = torch.bincount(codes, minlength=n_classes).to(x.dtype)  # (C,)
    if bool((counts < 1).any()):
        raise ValueError("every class needs at least one row in each training fold; use fewer folds")
    means = torch.zeros(n_classes, r, dtype=x.dtype, device=x.device).index_add_(0, codes, x)
    means = means / counts.unsqueeze(1)  # (C, r)
    dev = x - means[codes]  # (n, r)
    scatter = torch.stack([dev[codes == c].T @ dev[codes == c] for c in range(n_classes)])  # (C, r, r)
    if covariance == "shared":
        dof = x.shape[0] - n_classes
        if dof < 1:
            raise ValueError(f"a shared covariance needs more rows than classes; got n={x.shape[0]}, "
                             f"C={n_classes}")
        covs = (scatter.sum(dim=0) / dof).expand(n_classes, r, r)
    else:
        if bool((counts < 2).any()):
            raise ValueError("covariance='full' needs at least 2 rows per class; use covariance='shared'")
        covs = scatter / (counts - 1).view(-1, 1, 1)
    unit = torch.diagonal(covs, dim1=-2, dim2=-1).mean()  # the mean within-class variance
    if ridge > 0:
        covs = covs + ridge * unit * torch.eye(r, dtype=x.dtype, device=x.device)
    return _ClassGaussians(means, covs.contiguous(), torch.log(counts / counts.sum()))


def _log_densities(x: torch.Tensor, model: _ClassGaussians, covariance: str) -> torch.Tensor:
    """log N(x_i; mu_c, Sigma_c) for every row and class, (n, C); a singular covariance is a ValueError."""
    chol, info = torch.linalg.cholesky_ex(model.covs)
    diag = torch.diagonal(chol, dim1=-2, dim2=-1)  # (C, r)
    tol = math.sqrt(10 * x.shape[1] * torch.finfo(x.dtype).eps)
    if bool((info != 0).any()) or bool((diag <= diag.amax() * tol).any()):
        hint = "use covariance='shared' or ridge > 0" if covariance == "full" else "use ridge > 0"
        raise ValueError("a class covariance is singular (fewer rows than dimensions in a class, or the class "
                         f"lies in a subspace): the Gaussian label information is undefined; {hint}")
    r = x.shape[1]
    out = []
    for c in range(model.means.shape[0]):
        dev = (x - model.means[c]).T  # (r, n)
        w = torch.linalg.solve_triangular(chol[c], dev, upper=False)  # (r, n)
        out.append(-0.5 * (r * LOG_2PI + w.pow(2).sum(dim=0)) - 0.5 * logdet_of_cholesky(chol[c]))
    return torch.stack(out, dim=1)  # (n, C)


def _information(x: torch.Tensor, codes: torch.Tensor, model: _ClassGaussians, covariance: str) -> torch.Tensor:
    """Mean over rows of log p(x | y) - log sum_c pi_c p(x | c): the model's I(Z; Y) on these rows."""
    logp = _log_densities(x, model, covariance)  # (n, C)
    mix = torch.logsumexp(logp + model.log_prior, dim=1)  # (n,)
    return (logp.gather(1, codes.unsqueeze(1)).squeeze(1) - mix).mean()


def gaussian_label_mutual_information(z: ArrayLike, labels: Any, *, covariance: str = "auto",
                                      ridge: float = 0.0, folds: Optional[int] = None,
                                      random_state: Union[None, int, np.random.Generator] = 0):
    r""":math:`I(Z; Y)` of the class-conditional Gaussian model of the data, in nats.

    Fits :math:`p(z\mid y=c) = \mathcal N(\hat\mu_c, \hat\Sigma_c)` with :math:`\hat\pi_c = N_c/N`
    (``covariance="shared"``: one pooled :math:`\hat\Sigma`, the LDA model) and averages its information
    density over the rows,

    .. math:: \hat I = \frac1n\sum_i\Big[\log \mathcal N(z_i;\hat\mu_{y_i},\hat\Sigma_{y_i})
              - \log\sum_c \hat\pi_c\,\mathcal N(z_i;\hat\mu_c,\hat\Sigma_c)\Big]
              = \hat H(Y) + \frac1n\sum_i \log q(y_i\mid z_i),

    with :math:`q` the model's posterior (QDA / LDA). With ``folds=F`` each row is scored by the model fitted
    on the other folds (cross-fitting): then the value estimates the Barber–Agakov variational lower bound
    :math:`H(Y) + \mathbb E\log q(Y\mid Z) \le I(Z;Y)`, valid for any model (Barber & Agakov 2003); without
    folds it is the in-sample (resubstitution) value, exact for Gaussian classes as n grows and optimistic
    for small classes in high dimension. The fitted mixture's pairwise bounds are in
    :func:`gaussian_label_information_bounds`.

    Parameters
    ----------
    z : array (n, d) or tensor
    labels : array (n,)
        Discrete labels (see :func:`knn_label_mutual_information`).
    covariance : {"auto", "full", "shared"}, default "auto"
        One covariance per class (QDA), one pooled covariance (LDA), or "auto": "full" when every class
        has more rows than the dimensions kept (r, at most d), the fewest rows with which a class
        covariance can be non-singular, and "shared" otherwise (e.g. 40 rows a class at d = 64). With
        ``folds`` the choice is made on each training fold.
    ridge : float, default 0
        Added to every covariance's diagonal in units of the mean within-class variance.
    folds : int >= 2, optional
        Cross-fitting folds (stratified by class, shuffled with ``random_state``).
    random_state : None, int or numpy Generator

    Returns
    -------
    float (numpy input) or 0-d tensor (torch input, detached)
        The information in nats.

    Notes
    -----
    Z is first centred, scaled and projected onto the numerical column space of its total covariance, so
    collapsed directions (constant columns, rank-deficient embeddings) are dropped exactly, as in
    :func:`~infossl.estimators.gaussian_mutual_information`. A class covariance that is still singular
    (``covariance="full"`` with a class of fewer rows than dimensions, or a class lying in a subspace) is a
    ValueError suggesting ``covariance="shared"`` or ``ridge``. Cost on the data's device: O(n d^2 + C d^3)
    time and a few (d, d) matrices of memory for d <= n; for wide z (d > n) the projection takes the n x n
    Gram route, O(n^2 d) time, and the peak is a few (n, d) copies of z (no d x d matrix; n = 50,
    d = 10^4: 4 MB per copy).

    References
    ----------
    .. [1] D. Barber and F. Agakov, "The IM algorithm: a variational approach to information maximization",
       NeurIPS 2003 (the bound H(Y) + E log q(Y|Z)).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 20000)
    >>> z = rng.standard_normal((20000, 3)); z[:, 0] += 100.0 * y      # two separated Gaussian classes
    >>> round(gaussian_label_mutual_information(z, y), 3), round(float(np.log(2)), 3)
    (0.693, 0.693)
    """
    covariance = check_choice(covariance, "covariance", _COVARIANCES)
    ridge = check_float(ridge, "ridge", low=0.0)
    if folds is not None:
        folds = check_int(folds, "folds", low=2)
    t, b, classes, codes, counts = _prepare(z, labels, min_samples=3)
    n_classes = len(classes)
    if n_classes == 1:
        warn_degenerate("labels: a single class, so I(Z; Y) = 0")
        return b.finish(torch.zeros((), dtype=torch.float64, device=t.device))
    x = _coordinates(t.double())  # (n, r)
    if x.shape[1] == 0:
        warn_degenerate("z is constant: it carries no label information")
        return b.finish(torch.zeros((), dtype=torch.float64, device=t.device))
    cod = torch.from_numpy(codes).to(t.device)
    if folds is None:
        cov = _resolve(covariance, x, cod, n_classes)
        value = _information(x, cod, _fit(x, cod, n_classes, cov, ridge), cov)
        return b.finish(value)
    if int(counts.min()) < folds:
        raise ValueError(f"folds={folds} needs at least {folds} rows per class; the smallest class has "
                         f"{int(counts.min())}")
    rng = check_random_state(random_state)
    fold = np.empty(len(codes), dtype=np.int64)
    for c in range(n_classes):  # stratified: each class spread evenly over the folds
        idx = np.nonzero(codes == c)[0]
        fold[rng.permutation(idx)] = np.arange(idx.size) % folds
    total = torch.zeros((), dtype=torch.float64, device=t.device)
    for f in range(folds):
        test = torch.from_numpy(np.nonzero(fold == f)[0]).to(t.device)
        train = torch.from_numpy(np.nonzero(fold != f)[0]).to(t.device)
        cov = _resolve(covariance, x[train], cod[train], n_classes)
        model = _fit(x[train], cod[train], n_classes, cov, ridge)
        # the held-out rows' posterior under the training fit, with the full-data label entropy
        logp = _log_densities(x[test], model, cov) + model.log_prior  # (m, C)
        log_post = logp.gather(1, cod[test].unsqueeze(1)).squeeze(1) - torch.logsumexp(logp, dim=1)
        total = total + log_post.sum()
    return b.finish(_plugin_entropy(counts) + total / len(codes))


class LabelInformationBounds(NamedTuple):
    """Bounds (nats) on the label information of a fitted Gaussian mixture (see
    :func:`gaussian_label_information_bounds`)."""

    lower: Union[float, torch.Tensor]
    upper: Union[float, torch.Tensor]
    label_entropy: Union[float, torch.Tensor]


def gaussian_label_information_bounds(z: ArrayLike, labels: Any, *, covariance: str = "auto",
                                      ridge: float = 0.0) -> LabelInformationBounds:
    r"""Kolchinsky–Tracey bounds on :math:`I(Z; Y)` of the fitted class-conditional Gaussian mixture.

    With the model of :func:`gaussian_label_mutual_information`, :math:`I(Z;Y) = H(Z) - \sum_c\pi_c
    H(\mathcal N_c)` and the pairwise-distance bounds on the mixture entropy
    (:func:`~infossl.estimators.mixture_entropy_bounds`) give, in closed form,

    .. math:: -\sum_c \pi_c\log\sum_{c'}\pi_{c'}e^{-\mathrm{BD}(c\|c')} \;\le\; I(Z;Y) \;\le\;
              -\sum_c \pi_c\log\sum_{c'}\pi_{c'}e^{-\mathrm{KL}(c\|c')}\;(\le H(\pi)),

    exact bounds for the model (not for the data when the classes are not Gaussian). ``covariance`` and
    ``ridge`` as in :func:`gaussian_label_mutual_information`.

    Returns
    -------
    LabelInformationBounds
        ``(lower, upper, label_entropy)``; floats for numpy input, 0-d tensors for torch input.

    References
    ----------
    .. [1] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise distances",
       Entropy 19(7):361, 2017 (Theorems 1-2, Section 4).
    """
    from infossl.estimators.mixture import mixture_entropy_bounds

    covariance = check_choice(covariance, "covariance", _COVARIANCES)
    ridge = check_float(ridge, "ridge", low=0.0)
    t, b, classes, codes, counts = _prepare(z, labels, min_samples=3)
    h_y = _plugin_entropy(counts)
    if len(classes) == 1:
        warn_degenerate("labels: a single class, so I(Z; Y) = 0")
        zero = torch.zeros((), dtype=torch.float64, device=t.device)
        return LabelInformationBounds(b.finish(zero), b.finish(zero), b.finish(zero))
    x = _coordinates(t.double())  # (n, r)
    cod = torch.from_numpy(codes).to(t.device)
    covariance = _resolve(covariance, x, cod, len(classes))
    model = _fit(x, cod, len(classes), covariance, ridge)
    _log_densities(x[:1], model, covariance)  # the singular-covariance check and its message
    bounds = mixture_entropy_bounds(model.means, cov=model.covs, weights=torch.exp(model.log_prior))
    lower = (bounds.lower - bounds.conditional).clamp(min=0.0, max=h_y)
    upper = (bounds.upper - bounds.conditional).clamp(min=0.0, max=h_y)
    h = torch.as_tensor(h_y, dtype=torch.float64, device=t.device)
    return LabelInformationBounds(b.finish(lower), b.finish(upper), b.finish(h))


# -------------------------------------------------------------------------------------------- dispatch
_METHODS = {"knn": knn_label_mutual_information, "gaussian": gaussian_label_mutual_information}


def label_mutual_information(z: ArrayLike, labels: Any, method: str = "knn", **options: Any):
    r"""Label information :math:`I(Z; Y)` in nats between embeddings z (n, d) and class labels (n,).

    ``method="knn"`` (default): Ross's nearest-neighbour estimator for multivariate Z
    (:func:`knn_label_mutual_information`; options ``k``, ``metric``, ``standardize``, ``duplicates``).
    ``method="gaussian"``: the class-conditional Gaussian model's information
    (:func:`gaussian_label_mutual_information`; options ``covariance``, ``ridge``, ``folds``).
    Both are at most the label entropy :math:`H(Y) \le \log C` up to estimation error.

    Returns
    -------
    float (numpy input) or 0-d tensor (torch input)
        The information in nats.

    Examples
    --------
    >>> import numpy as np, infossl
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 3000); z = rng.standard_normal((3000, 5))      # z independent of y
    >>> abs(infossl.estimators.label_mutual_information(z, y)) < 0.02
    True
    """
    method = check_choice(method, "method", tuple(_METHODS))
    return _METHODS[method](z, labels, **options)
