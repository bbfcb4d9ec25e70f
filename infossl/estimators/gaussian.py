"""Gaussian (log-determinant) entropy and mutual information, the LogDet entropy, and their
Gaussian-copula versions.

All quantities are in nats. The kernels work on data divided by a global scale so that inputs at
1e30 or 1e-30 neither overflow nor underflow; the scale is added back analytically.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch

from infossl._backend import (STREAM_BLOCK_BYTES, ArrayLike, chunk_size_for, full_precision, global_scale,
                             iter_chunks)
from infossl.linalg import (centred, chol_logdet, column_deviation, gaussian_entropy_from_logdet,
                            gram_of_chunks, logdet_of_cholesky, numerical_rank_basis, positive_or_one,
                            small_second_moment)
from infossl._validation import (DegenerateInputWarning, check_choice, check_embeddings, check_float,
                                 check_pair)
from infossl._warnings import warn

Shrinkage = Union[None, str, float]


# --------------------------------------------------------------------------------------------- helpers
def wishart_logdet_bias(d: int, n: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    r"""Expected error of the plug-in :math:`\log\det\hat\Sigma` for Gaussian data.

    With :math:`\hat\Sigma = W/(n-1)` and :math:`W \sim \mathcal W_d(n-1, \Sigma)`,

    .. math:: \mathbb E[\log\det\hat\Sigma] - \log\det\Sigma
              = \sum_{i=1}^{d}\Big[\psi\big(\tfrac{n-i}{2}\big) - \log\tfrac{n-1}{2}\Big] =: c(d, n) < 0,

    so :math:`\log\det\hat\Sigma - c(d,n)` is unbiased (Ahmed & Gokhale 1989, IEEE Trans. Inf. Theory
    35(3), eq. 7; Misra, Singh & Demchuk 2005, J. Multivar. Anal. 92, eq. 2.2). Needs ``n > d``.

    Returns
    -------
    torch.Tensor
        0-d tensor c(d, n) (negative): the expected bias of the sample log-determinant.
    """
    i = torch.arange(1, d + 1, dtype=dtype, device=device)
    return (torch.special.digamma((n - i) / 2) - math.log((n - 1) / 2)).sum()


def shrink_covariance(z: torch.Tensor, shrinkage: Shrinkage) -> torch.Tensor:
    r"""Covariance of ``z`` (n, d) shrunk towards :math:`\mu I`, :math:`\mu = \operatorname{tr}S/d`.

    ``"ledoit_wolf"`` and ``"oas"`` follow Ledoit & Wolf (2004, J. Multivar. Anal. 88, Lemma 3.2 via the
    formulas of ``sklearn.covariance.ledoit_wolf``) and Chen, Wiesel, Eldar & Hero (2010, IEEE Trans. Signal
    Process. 58(10), eq. 23). Both start from the maximum-likelihood covariance :math:`S` (divisor n), as
    scikit-learn does, and are written in torch so that device and autograd are kept. A float ``a`` in
    [0, 1] gives :math:`(1-a)S + a\mu I`.

    Returns
    -------
    torch.Tensor
        The (d, d) shrunk covariance, on ``z``'s device and dtype.
    """
    n, d = z.shape
    zc = centred(z)  # (n, d)
    a, mu = _shrinkage_weights(zc, shrinkage)
    eye = torch.eye(d, dtype=z.dtype, device=z.device)
    return (1 - a) * (zc.T @ zc / n) + a * mu * eye


def _shrinkage_weights(zc: torch.Tensor, shrinkage: Shrinkage) -> tuple[torch.Tensor, torch.Tensor]:
    """Shrinkage intensity a and target scale mu = tr(S)/d for centred data (n, d), S = zc^T zc / n.

    Only tr(S), ||S||_F^2 and sum_i ||z_i||^4 are needed; ||S||_F^2 comes from the n x n Gram matrix when
    n < d, so the cost is O(min(n, d)^2 max(n, d)) and no d x d matrix is formed.
    """
    n, d = zc.shape
    mu = zc.pow(2).sum() / (n * d)
    if not isinstance(shrinkage, str):
        return torch.as_tensor(float(shrinkage), dtype=zc.dtype, device=zc.device), mu
    gram = small_second_moment(zc)  # (m, m), m = min(n, d)
    s_fro2 = gram.pow(2).sum() / (n * n)  # ||S||_F^2
    if shrinkage == "ledoit_wolf":
        beta_ = (zc.pow(2).sum(dim=1).pow(2).sum() / n - s_fro2) / n
        delta_ = s_fro2 - d * mu * mu  # ||S - mu I||_F^2
        a = torch.minimum(beta_, delta_) / delta_ if delta_ > 0 else torch.zeros((), dtype=zc.dtype)
    else:  # oas
        alpha = s_fro2 / (d * d)
        den = (n + 1) * (alpha - mu * mu / d)
        a = torch.clamp((alpha + mu * mu) / den, max=1.0) if den != 0 else torch.ones((), dtype=zc.dtype)
    return a, mu


def _check_shrinkage(shrinkage: Shrinkage) -> Shrinkage:
    if shrinkage is None or isinstance(shrinkage, str):
        if shrinkage is not None:
            check_choice(shrinkage, "shrinkage", ("ledoit_wolf", "oas"))
        return shrinkage
    return check_float(shrinkage, "shrinkage", low=0.0, high=1.0)


# --------------------------------------------------------------------------------------------- entropy
@full_precision
def gaussian_entropy(z: ArrayLike, *, ridge: float = 0.0, shrinkage: Shrinkage = None,
                     bias_correction: Optional[bool] = None):
    r"""Entropy of the Gaussian with the sample covariance of ``z``, in nats.

    .. math:: \hat H = \tfrac12 \log\det\big(2\pi e\,(\hat\Sigma + \delta \bar\sigma^2 I)\big)
              \;[\,-\,\tfrac12 c(d, n)\,]

    where :math:`\hat\Sigma` is the unbiased sample covariance (or a shrinkage estimate),
    :math:`\bar\sigma^2 = \operatorname{tr}\hat\Sigma/d` makes the ridge :math:`\delta` scale-free, and
    :math:`c(d,n)` (:func:`wishart_logdet_bias`) removes the downward bias of the plug-in log-determinant,
    which for Gaussian data is about :math:`-d^2/(4n)` nats.

    This is the maximum entropy among all distributions with covariance :math:`\Sigma`, so for non-Gaussian
    data it estimates an **upper bound** on :math:`H(Z)` (the quantity VICReg's variance/covariance terms
    stand in for, arXiv 2207.10081 section 4).

    Parameters
    ----------
    z : array (n, d) or tensor
    ridge : float, default 0
        :math:`\delta \ge 0`, added to the diagonal in units of the mean variance.
    shrinkage : None, "ledoit_wolf", "oas" or float in [0, 1]
        Shrink the covariance towards a scaled identity (see :func:`shrink_covariance`); keeps the
        estimate finite when n <= d or when directions have collapsed.
    bias_correction : bool, optional
        Subtract the Gaussian log-det bias. Defaults to True for the plain estimate and False when a
        ridge or shrinkage is used (the correction is derived for the plain sample covariance only).

    Returns
    -------
    float or 0-d tensor
        Nats. Differentiable for torch input.

    Notes
    -----
    A numerically singular covariance (rank r < d: constant or collinear columns, n <= d) has entropy
    :math:`-\infty`. Rather than return that, a :class:`~infossl.DegenerateInputWarning` is raised and
    the value is computed with a ridge :math:`\delta = 10^{-6}`; the warning gives r and d. Pass
    ``shrinkage`` or ``ridge`` to choose the regularisation yourself.

    Examples
    --------
    >>> import math, numpy as np, infossl
    >>> z = np.random.default_rng(0).standard_normal((20000, 3))
    >>> round(infossl.estimators.gaussian_entropy(z), 2), round(1.5 * math.log(2 * math.pi * math.e), 2)
    (4.26, 4.26)
    """
    t, b = check_embeddings(z, min_samples=2)
    ridge = check_float(ridge, "ridge", low=0.0)
    shrinkage = _check_shrinkage(shrinkage)
    if bias_correction is None:
        bias_correction = ridge == 0 and shrinkage is None
    n, d = t.shape
    if bias_correction and n <= d:
        warn_singular("z", f"numerical rank at most {n - 1} of {d}: fewer samples than dimensions",
                      ridged=False)
        raise ValueError(f"bias_correction needs n > d; got n={n}, d={d}. Use shrinkage instead.")
    scale = global_scale(t)
    if scale == 0:
        raise ValueError(f"z is constant (all {n} rows are equal): its differential entropy is -inf")
    zc = centred(t) / scale  # (n, d)
    # The covariance is c1 zc^T zc + c0 I (plain: c1 = 1/(n-1), c0 = 0; shrinkage: c1 = (1-a)/n, c0 = a mu).
    if shrinkage is None:
        c1, c0 = 1.0 / (n - 1), torch.zeros((), dtype=t.dtype, device=t.device)
    else:
        a, mu = _shrinkage_weights(zc, shrinkage)
        c1, c0 = (1 - a) / n, a * mu
    c0 = c0 + ridge * (c1 * zc.pow(2).sum() / d + c0)  # ridge in units of the mean variance
    if n < d and bool(c0 > 0):
        # Low rank plus identity: log det(c0 I_d + c1 Z^T Z) = d log c0 + log det(I_n + (c1/c0) Z Z^T)
        # (matrix determinant lemma), O(n^2 d) instead of O(d^3).
        small = torch.eye(n, dtype=t.dtype, device=t.device) + (c1 / c0) * (zc @ zc.T)
        logdet = d * torch.log(c0) + logdet_of_cholesky(torch.linalg.cholesky(small))
    elif n <= d:  # singular (rank <= n - 1 < d): the same warning and 1e-6 ridge as below, by the Gram route
        logdet = singular_logdet_lowrank(zc, c1, what="z")
    else:
        cov = c1 * (zc.T @ zc) + c0 * torch.eye(d, dtype=t.dtype, device=t.device)  # (d, d)
        logdet = regularised_logdet(cov, 0.0, what="z")
    h = gaussian_entropy_from_logdet(logdet, d) + d * torch.log(scale)
    if bias_correction:
        if n <= d:
            raise ValueError(f"bias_correction needs n > d; got n={n}, d={d}. Use shrinkage instead.")
        h = h - 0.5 * wishart_logdet_bias(d, n, dtype=t.dtype, device=t.device)
    return b.finish(h)


#: The ridge, in units of the mean variance, of the value returned for a singular covariance (entropy -inf):
#: one value for every singular path of this module and of :mod:`~infossl.estimators.copula`, so the finite
#: substitute does not depend on which route (d x d or Gram) met the singularity.
SINGULAR_RIDGE = 1e-6


def warn_singular(what: str, rank: str, *, ridged: bool = True) -> float:
    """Warn (:class:`~infossl.DegenerateInputWarning`) that the covariance of ``what`` is singular (``rank``
    says how) and its Gaussian entropy -inf; with ``ridged``, that the value is returned with the
    :data:`SINGULAR_RIDGE` fallback, which is returned."""
    message = f"the covariance of {what} is singular ({rank}); its Gaussian entropy is -inf"
    if ridged:
        message += (". Returning the value with a ridge of 1e-6 x mean variance; "
                    "pass shrinkage='ledoit_wolf' or ridge=... to choose the regularisation")
    warn(message, DegenerateInputWarning)
    return SINGULAR_RIDGE


def singular_logdet_lowrank(zc: torch.Tensor, c1, *, what: str) -> torch.Tensor:
    r""":math:`\log\det(c_1 Z^\top Z + \epsilon I_d)` for wide centred ``zc`` (n <= d, so :math:`c_1 Z^\top Z` is
    singular), with :math:`\epsilon = 10^{-6}` x the mean variance: the value and warning of the singular path of
    :func:`gaussian_entropy`, computed in O(n^2 d) by the determinant lemma
    :math:`\log\det(\epsilon I_d + c_1 Z^\top Z) = d\log\epsilon + \log\det(I_n + (c_1/\epsilon) Z Z^\top)`."""
    n, d = zc.shape
    gram = zc @ zc.T  # (n, n)
    ridge = warn_singular(what, f"numerical rank at most {n - 1} of {d}: fewer samples than dimensions")
    eps = ridge * c1 * torch.diagonal(gram).sum() / d
    small = torch.eye(n, dtype=zc.dtype, device=zc.device) + (c1 / eps) * gram
    return d * torch.log(eps) + logdet_of_cholesky(torch.linalg.cholesky(small))


def regularised_logdet(cov: torch.Tensor, ridge: float, *, what: str) -> torch.Tensor:
    r"""Log-determinant of a covariance ``cov`` (d, d) for a Gaussian entropy, regularised only on failure.

    Shared by the estimators of this module and :mod:`~infossl.estimators.copula`. With ``ridge > 0`` it is
    :math:`\log\det(\Sigma + \delta\bar\sigma^2 I)` (:math:`\bar\sigma^2` the mean variance) and only
    positive-definiteness is checked; with ``ridge == 0`` it is :func:`~infossl.linalg.chol_logdet`. If the
    matrix is numerically singular, a :class:`~infossl.DegenerateInputWarning` naming ``what`` and the
    numerical rank is raised and the value is returned with a ridge of 1e-6 x the mean variance (the
    eigenvalues are computed only on that failure path).
    """
    d = cov.shape[0]
    eye = torch.eye(d, dtype=cov.dtype, device=cov.device)
    mean_var = torch.diagonal(cov).mean()
    if ridge > 0:  # the caller chose the regularisation: no rank check, only positive-definiteness
        cov = cov + ridge * mean_var * eye
        chol, info = torch.linalg.cholesky_ex(cov)
        if int(info) == 0:
            return logdet_of_cholesky(chol)
    else:
        logdet = chol_logdet(cov)
        if logdet is not None:
            return logdet
    _, rank = numerical_rank_basis(cov, None)
    fallback = warn_singular(what, f"numerical rank {rank} of {d}")
    return torch.linalg.slogdet(cov + fallback * mean_var * eye)[1]


@full_precision
def logdet_entropy(z: ArrayLike, *, beta: float = 1.0):
    r"""LogDet entropy :math:`\tfrac12\log\det(I + \beta\hat\Sigma)` in nats (Zhouyin & Liu 2021).

    .. math:: \hat H_\beta(Z) = \tfrac12 \sum_{i=1}^{d} \log(1 + \beta\lambda_i), \qquad
              \hat\Sigma = Z_c^\top Z_c / n

    with :math:`\lambda_i` the eigenvalues of the (biased, divisor n) covariance of the centred data
    :math:`Z_c`. Unlike :func:`gaussian_entropy` it stays finite and well conditioned when
    :math:`\hat\Sigma` is rank-deficient (n < d, collapsed directions): a collapsed direction contributes 0
    rather than :math:`-\infty`. It is not a differential entropy: constants :math:`(2\pi e)^d` are dropped,
    and it is not scale-equivariant. ``beta`` sets the scale at which a direction counts: directions with
    variance :math:`\gg 1/\beta` contribute :math:`\tfrac12\log(\beta\lambda)`, like the Gaussian entropy,
    those :math:`\ll 1/\beta` contribute about :math:`\beta\lambda/2`. With standardised embeddings,
    ``beta=1`` (the default) is the natural unit; Zhouyin & Liu use :math:`\beta` in this role.

    Computed from the d x d covariance or, when n < d, the n x n Gram matrix (same non-zero eigenvalues).
    Differentiable for torch input.

    Returns
    -------
    float
        The LogDet entropy estimate in nats.

    References
    ----------
    .. [1] Zhouyin, Z. & Liu, D. "Understanding neural networks with logarithm determinant entropy
       estimator", arXiv 2105.03705 (2021), eq. 6.

    Examples
    --------
    >>> import math, numpy as np, infossl
    >>> z = np.random.default_rng(0).standard_normal((100000, 4)) * 2.0   # eigenvalues 4
    >>> round(infossl.estimators.logdet_entropy(z, beta=1.0), 2), round(2 * math.log(5.0), 2)
    (3.22, 3.22)
    """
    t, b = check_embeddings(z, min_samples=2)
    beta = check_float(beta, "beta", low=0.0, low_open=True)
    n, d = t.shape
    scale = global_scale(t)
    if scale == 0:
        return b.finish(torch.zeros((), dtype=t.dtype, device=t.device))
    zc = centred(t) / scale  # (n, d)
    gram = small_second_moment(zc) / n  # (d, d) or (n, n)
    # Fast path: Cholesky of I + beta s^2 G (positive definite by construction).
    m = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device) + (beta * scale * scale) * gram
    chol, info = torch.linalg.cholesky_ex(m)
    if int(info) == 0 and bool(torch.isfinite(chol).all()):
        return b.finish(0.5 * logdet_of_cholesky(chol))
    # Extreme scales (beta s^2 overflows): log(1 + beta s^2 lam) = softplus(log(beta s^2 lam)) on eigenvalues.
    evals = torch.linalg.eigvalsh(gram).clamp_min(0)
    log_a = math.log(beta) + 2 * torch.log(scale) + torch.log(evals)
    return b.finish(0.5 * torch.nn.functional.softplus(log_a).sum())


# --------------------------------------------------------------------------------------------- MI
@full_precision
def gaussian_mutual_information(x: ArrayLike, y: ArrayLike, *, ridge: float = 0.0,
                                bias_correction: bool = True, rtol: Optional[float] = None):
    r"""Mutual information of the Gaussian with the sample covariance of ``(x, y)``, in nats.

    .. math:: \hat I = \tfrac12\big[\log\det\hat\Sigma_{xx} + \log\det\hat\Sigma_{yy}
              - \log\det\hat\Sigma\big] = -\tfrac12\sum_i \log(1-\rho_i^2)

    with :math:`\rho_i` the canonical correlations (CCA). Exact for jointly Gaussian data; for other data
    it is the MI of the Gaussian with the same covariance.

    Rank-deficient input is handled exactly rather than regularised: each of x and y is first projected
    onto the numerical column space of its covariance (eigenvalues above ``rtol`` x the largest), which
    loses nothing since the discarded directions are constant. So a rank-3 signal embedded in
    :math:`\mathbb R^{25}` gives the MI of the 3-dimensional signal. If x and y are linearly dependent
    (a canonical correlation of 1) the MI is :math:`+\infty`, returned as ``inf`` with a
    :class:`~infossl.DegenerateInputWarning`.

    Parameters
    ----------
    x : array (n, dx)
    y : array (n, dy)
    ridge : float, default 0
        Added to each block's diagonal in units of its mean variance before the log-dets.
    bias_correction : bool, default True
        Subtract the Gaussian plug-in bias :math:`\tfrac12[c(d_x+d_y) - c(d_x) - c(d_y)]`
        (:func:`wishart_logdet_bias`; the plug-in MI of independent Gaussians is biased upwards by about
        :math:`d_x d_y / (2n)`). The corrected estimate is unbiased for Gaussian data and can be slightly
        negative at independence; it is not clipped.
    rtol : float, optional
        Relative eigenvalue threshold for the numerical rank; default ``10 d eps``.

    Returns
    -------
    float or 0-d tensor (differentiable for torch input)

    Notes
    -----
    Without autograd, the joint covariance is summed over row chunks and the rank projection works on it
    (:func:`gaussian_mi_of_tensors`): beyond the input, the memory is a (dx + dy) x (dx + dy) matrix and one
    chunk. With autograd (or d > n) the projected data of both sides are held.

    Examples
    --------
    >>> import math, infossl
    >>> from infossl.synthetic import correlated_gaussian
    >>> x, y = correlated_gaussian(2, 0.8).sample(50000, random_state=0)
    >>> round(infossl.estimators.gaussian_mutual_information(x, y), 1), round(-math.log(1 - 0.64), 1)
    (1.0, 1.0)
    """
    tx, ty, b = check_pair(x, y, min_samples=3)
    ridge = check_float(ridge, "ridge", low=0.0)
    return b.finish(gaussian_mi_of_tensors(tx, ty, ridge=ridge, bias_correction=bias_correction, rtol=rtol))


def project_to_rank(t: torch.Tensor, rtol: Optional[float]) -> torch.Tensor:
    """Centre, rescale and express ``t`` (n, d) in the orthonormal basis of its numerical column space: (n, r).

    Shared by the Gaussian and copula MI estimators. The map is linear and lossless for MI (the dropped
    directions are constant); ``rtol`` is the relative eigenvalue threshold (default ``10 d eps``), and wide
    input (d > n) takes the Gram route, O(n^2 d). Constant ``t`` gives (n, 0).
    """
    scale = global_scale(t)
    if scale == 0:
        return t[:, :0]
    tc = centred(t)  # (n, d), a new tensor
    tc = tc.div_(scale) if not tc.requires_grad else tc / scale  # in place: one (n, d) copy, not two
    n, d = tc.shape
    if d > n:  # Gram route, O(n^2 d): the same non-zero spectrum; basis V_r = Z^T U_r / sqrt(lambda_r)
        evals, evecs = torch.linalg.eigh((tc @ tc.T).detach())
        tol = (rtol if rtol is not None else d * torch.finfo(tc.dtype).eps * 10) * evals[-1].clamp_min(0)
        keep = evals > tol
        basis = tc.detach().T @ (evecs[:, keep] / evals[keep].sqrt())  # (d, r) orthonormal
        return tc @ basis
    basis, rank = numerical_rank_basis(tc.T @ tc, rtol)  # (d, r)
    return tc if rank == t.shape[1] else tc @ basis


def centring_constants(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column means (1, d) of ``t`` (n, d) and its largest absolute deviation from them (0-d; 1 if there is
    none): the overflow-safe scale of :func:`~infossl.linalg.column_deviation`, read off the column extremes,
    so no (n, d) copy is made. Dividing the centred rows by it keeps every entry in [-1, 1], so their products
    neither overflow nor underflow at any scale of the input.
    """
    mean = t.mean(dim=0, keepdim=True)  # the same reduction as linalg.centred
    return mean, positive_or_one(column_deviation(t, mean).amax())


def centred_joint_moment(parts: Sequence[torch.Tensor], *, memory_budget: int = STREAM_BLOCK_BYTES
                         ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    r"""Second moment :math:`\sum_i z_i z_i^\top` (D, D) of the rows of the side-by-side ``parts`` (n, d_k),
    D = sum d_k, each part centred by its column means and divided by its largest absolute deviation
    (:func:`centring_constants`), and those constants.

    Accumulated over row chunks (:func:`~infossl.linalg.gram_of_chunks`) whose working set fits in
    ``memory_budget`` bytes: beyond the input only one chunk and the (D, D) result are held. Every block of
    the result is, up to summation order, the cross-product of the centred parts divided by the product of
    their deviations: the covariance of the parts up to one positive factor per part.
    """
    n = parts[0].shape[0]
    consts = [centring_constants(p) for p in parts]
    width = sum(p.shape[1] for p in parts)
    rows = chunk_size_for(width, itemsize=parts[0].element_size(), memory_budget=memory_budget, factor=3)

    def chunk(sl: slice) -> torch.Tensor:
        return torch.cat([(p[sl] - mean) / dev for p, (mean, dev) in zip(parts, consts)], dim=1)

    return gram_of_chunks(chunk(sl) for sl in iter_chunks(n, rows)), consts


def gaussian_mi_of_tensors(x: torch.Tensor, y: torch.Tensor, *, ridge: float, bias_correction: bool,
                           rtol: Optional[float], memory_budget: int = STREAM_BLOCK_BYTES) -> torch.Tensor:
    """The kernel of :func:`gaussian_mutual_information` on checked tensors (n, dx), (n, dy): a 0-d tensor.

    Shared by :mod:`~infossl.estimators.corrected`, which calls it on normal scores. No input checks; the
    warning (``inf`` for linearly dependent x and y) and the ``ValueError`` (too few rows after removing
    collapsed directions) are those of the public function.

    Memory: without autograd and for n >= dx, dy, the joint second moment of x and y is accumulated over row
    chunks of ``memory_budget`` bytes (:func:`centred_joint_moment`) and everything else, the rank
    projection included, is done on that (dx + dy) x (dx + dy) matrix (:func:`gaussian_mi_of_moment`), so no
    (n, d) copy is made. When x or y needs a gradient (and grad mode is on), or is wide (d > n: the Gram
    route of :func:`project_to_rank`), the sides are projected as data and the value is differentiable.
    """
    n = x.shape[0]
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or y.requires_grad)
    if not needs_grad and max(x.shape[1], y.shape[1]) <= n:
        moment, _ = centred_joint_moment([x.detach(), y.detach()], memory_budget=memory_budget)
        return gaussian_mi_of_moment(moment, x.shape[1], n, ridge=ridge, bias_correction=bias_correction,
                                     rtol=rtol)
    xp, yp = project_to_rank(x, rtol), project_to_rank(y, rtol)  # (n, rx), (n, ry)
    rx, ry = xp.shape[1], yp.shape[1]
    if rx == 0 or ry == 0:
        # a constant carries no information
        return torch.zeros((), dtype=x.dtype, device=x.device) + 0 * (x.sum() + y.sum())
    # Joint second moment by blocks: xp and yp are centred already, and no (n, rx + ry) copy is made
    cxx, cxy, cyy = xp.T @ xp, xp.T @ yp, yp.T @ yp
    moment = torch.cat([torch.cat([cxx, cxy], dim=1), torch.cat([cxy.T, cyy], dim=1)], dim=0)
    return gaussian_mi_of_moment(moment, rx, n, ridge=ridge, bias_correction=bias_correction, rtol=rtol,
                                 project=False)


def gaussian_mi_of_moment(moment: torch.Tensor, dx: int, n: int, *, ridge: float, bias_correction: bool,
                          rtol: Optional[float], project: bool = True) -> torch.Tensor:
    r"""Gaussian MI (0-d tensor, nats) of x and y from the centred joint second moment ``moment`` (dx + dy,
    dx + dy) of their n rows, x first; each side may carry its own positive scale factor (the value is
    invariant to it).

    With ``project`` each side is first reduced to the numerical column space of its diagonal block
    (:func:`~infossl.linalg.numerical_rank_basis` with ``rtol``, the rule of :func:`project_to_rank`; a
    full-rank side is kept as it is): the moment of the projected data is :math:`B^\top M B`, so no data
    are needed. Then the log-dets of the two blocks and of the whole (Cholesky), the ridge and the Wishart
    bias correction, the warning and errors of :func:`gaussian_mutual_information`. Shared by
    :func:`gaussian_mi_of_tensors` and :mod:`~infossl.estimators.copula` (the moment of normal scores).
    """
    d = moment.shape[0]
    rx, ry = dx, d - dx
    zero = torch.zeros((), dtype=moment.dtype, device=moment.device)
    if rx == 0 or ry == 0:
        return zero  # a constant carries no information
    if project:
        bx, rx = numerical_rank_basis(moment[:dx, :dx], rtol)  # (dx, rx)
        by, ry = numerical_rank_basis(moment[dx:, dx:], rtol)
        if rx == 0 or ry == 0:
            return zero
        if rx < dx or ry < d - dx:
            eye = torch.eye(d, dtype=moment.dtype, device=moment.device)
            basis = torch.block_diag(bx if rx < dx else eye[:dx, :dx], by if ry < d - dx else eye[dx:, dx:])
            moment = basis.T @ moment @ basis  # (rx + ry, rx + ry)
    if n <= rx + ry + 1:
        raise ValueError(f"the Gaussian MI needs more samples than dimensions: n={n} but dx={rx}, dy={ry} "
                         "(after removing collapsed directions) need n > dx + dy + 1")
    cov = moment / (n - 1)
    if ridge > 0:
        for sl in (slice(0, rx), slice(rx, rx + ry)):
            block = cov[sl, sl]
            cov = cov.clone()
            cov[sl, sl] = block + ridge * torch.diagonal(block).mean() * torch.eye(
                block.shape[0], dtype=cov.dtype, device=cov.device)
    ld_x = chol_logdet(cov[:rx, :rx])
    ld_y = chol_logdet(cov[rx:, rx:])
    ld_xy = chol_logdet(cov)
    if ld_xy is None:
        warn("x and y are linearly dependent (a canonical correlation is 1): the Gaussian "
             "mutual information is +inf", DegenerateInputWarning)
        return zero + math.inf
    mi = 0.5 * (ld_x + ld_y - ld_xy)
    if bias_correction:
        corr = wishart_logdet_bias(rx + ry, n, dtype=moment.dtype, device=moment.device) \
            - wishart_logdet_bias(rx, n, dtype=moment.dtype, device=moment.device) \
            - wishart_logdet_bias(ry, n, dtype=moment.dtype, device=moment.device)
        mi = mi + 0.5 * corr
    return mi
