"""kNN estimators with their bias removed by a Gaussian surrogate: the default MI and entropy estimators.

The KSG estimator (:func:`~infossl.estimators.ksg_mutual_information`) captures any kind of dependence
but is biased low whenever MI is high or the dimension is large: on the 25+25-dimensional Gaussian pair
it reports 0.55 nats (n = 1000) and 0.70 (n = 5000) where the truth is 3.60 (means over 5 seeds,
``benchmarks/results/accuracy.csv``). The Gaussian-copula estimator
has no such bias but sees only the dependence a Gaussian copula can express. This module combines them by
a parametric-bootstrap bias correction (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
ch. 10): the bias of KSG on the data is estimated by its bias on a Gaussian sample of the same size and
dimension whose MI is known exactly because we drew it.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from infossl._backend import ArrayLike
from infossl._validation import (DegenerateInputWarning, check_embeddings, check_int, check_pair,
                                 check_random_state)
from infossl._warnings import warn
from infossl.estimators.copula import copula_entropy, copula_scores, normal_scores
from infossl.estimators.gaussian import gaussian_mi_of_tensors, wishart_logdet_bias
from infossl.linalg import centred_cov, chol_logdet
from infossl.estimators.knn import knn_entropy, ksg_mutual_information
from infossl.synthetic import student_t_mi_correction

# pairs x dims that one KSG pass may cost before the rows are subsampled (~ a few seconds on 2 CPU cores)
DEFAULT_BUDGET = 1e10
#: The surrogate becomes a Student-t copula when the data's radii depend on each other more than the Gaussian
#: twin's by this many standard errors (sqrt(2/m) for the difference of two Spearman correlations of m rows).
SCALE_SIGMAS = 3.0
#: Degrees of freedom the Student-t surrogate may take.
STUDENT_DF_RANGE = (0.5, 1000.0)
_ROUNDS = 2  # alternations of the df and shape fits (a second one moved 5+5 values by <= 0.016 nats)


def corrected_ksg_mutual_information(x: ArrayLike, y: ArrayLike, *, k: int = 3, budget: float = DEFAULT_BUDGET,
                                     random_state=0):
    r"""KSG on normal scores, minus the KSG bias measured on a matched Gaussian surrogate, in nats.

    .. math:: \hat I = \hat I_G + \hat I_{\mathrm{KSG}}(S_x, S_y) - \hat I_{\mathrm{KSG}}(G_x, G_y)

    where :math:`(S_x, S_y)` are the normal scores of x and y (:func:`~infossl.estimators.copula.copula_scores`;
    MI is invariant under these monotone maps), :math:`\hat I_G` is the bias-corrected Gaussian MI of the
    scores (the Gaussian-copula MI), and :math:`(G_x, G_y)` is a Gaussian surrogate sample of the same
    size, normal-scored like the data, whose covariance has the marginal blocks of the scores and a
    cross-covariance shrunk so that its exact MI equals :math:`\hat I_G`. Both KSG runs use algorithm 1
    with the same k, n and dimensions.

    Why it works: :math:`\hat I_{\mathrm{KSG}}(G) - I_G(\hat\Sigma)` is the KSG bias at this n, these
    dimensions and this linear dependence strength; subtracting it from the KSG value of the data leaves an
    estimate whose error is only the *difference* of the biases on the data and on its Gaussian twin.
    For Gaussian-copula data (any marginals) the two biases agree in expectation and the estimator is
    consistent; for other copulas KSG's extra non-Gaussian dependence is kept. The assumption is that the
    bias depends mainly on n, the dimension and the Gaussian part of the dependence;
    ``benchmarks/results/accuracy.csv`` measures how well it holds on the synthetic families through its
    ``auto`` rows (this estimator at those sizes): on the 25+25 Gaussian pair, n = 5000, 3.585 against 3.596
    (0.3 % low) where plain KSG reports 0.70, a factor of 5 low.

    **Heavy tails: a Student-t twin.** A Student-t (or other elliptical) copula makes the sides' radii
    dependent through a common scale (tail dependence), and KSG reads that part of the MI low: with the
    Gaussian twin the 5+5 Student-t pair at 2 degrees of freedom read 0.95 for 1.167 (n = 5000). So when the
    Spearman correlation of the squared radii :math:`\|S_x\|^2, \|S_y\|^2` exceeds the Gaussian twin's by
    more than :data:`SCALE_SIGMAS` standard errors (:math:`\sqrt{2/n}`), the twin becomes a normal-scored
    Student-t sample :math:`Z\sqrt{\nu/W}` (the same Gaussian draws Z, :math:`W \sim \chi^2_\nu`): its
    :math:`\nu` is fitted so that its radii's Spearman correlation equals the data's, its cross-covariance
    factor so that the exact Gaussian MI of its shape is :math:`\hat I_G` plus the change that normal scoring
    t draws instead of Gaussian ones (the same Z) makes in the scored estimate (bisections with the draws
    held fixed), and its exact MI -- the Gaussian MI of its shape plus the Student-t term
    :func:`~infossl.synthetic.student_t_mi_correction` (Arellano-Valle et al. 2013) -- replaces
    :math:`\hat I_G` in the formula. Measured (n = 5000, seeds 0 and 1, against the Gaussian twin): Student-t
    2 dof 5+5 1.16 / 1.24 (0.95 / 1.01) for 1.167; 3 dof 5+5 0.99 / 1.06 (0.88 / 0.95) for 1.018; Gaussian
    mixtures and rotated boxes (radii less dependent than the twin's) keep the Gaussian twin and their values.
    Copulas that neither twin resembles (bounded supports: a rotated uniform box reads 0.38 for 0.58) keep
    KSG's own bias on the non-Gaussian part; :func:`corrected_ksg_parts` reports the pieces.

    Cost is two KSG runs (the Student-t twin adds its fits, about 100 normal scorings of the rows: 3x the
    time of the Gaussian twin at 5+5 dims, n = 5000). If :math:`n^2 (d_x + d_y)` exceeds ``budget``, both
    run on the same random subsample of :math:`\sqrt{\text{budget}/(d_x+d_y)}` rows (drawn from
    ``random_state``). The result is random through the surrogate (standard deviation about :math:`\sqrt2`
    times KSG's); the default ``random_state=0`` makes it reproducible. Not differentiable.

    Parameters
    ----------
    x : array (n, dx)
    y : array (n, dy)
    k : int, default 3
        Neighbours for KSG.
    budget : float, default 1e10
        Pair-dimensions one KSG pass may cost before rows are subsampled.
    random_state : None, int or numpy Generator, default 0

    Returns
    -------
    float or 0-d tensor
        ``inf`` (with a :class:`~infossl.DegenerateInputWarning`) if x and y are linearly dependent.
        Raises ``ValueError`` where KSG does (duplicate points).

    Examples
    --------
    >>> import infossl
    >>> from infossl.synthetic import make_family
    >>> dist = make_family("high-mi", 10)              # 10+10 dims, MI = 5 nats
    >>> x, y = dist.sample(2000, random_state=0)
    >>> round(infossl.estimators.ksg_mutual_information(x, y), 1)   # plain KSG saturates
    2.1
    >>> abs(infossl.estimators.corrected_ksg_mutual_information(x, y) - 5.0) < 0.25
    True
    """
    tx, ty, b = check_pair(x, y, min_samples=k + 2)
    k = check_int(k, "k")
    if not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"budget must be a positive number, got {budget!r}")
    rng = check_random_state(random_state)
    with torch.no_grad():
        value = _corrected_ksg(tx.detach(), ty.detach(), k=k, budget=float(budget), rng=rng)
    return b.finish(value)


def corrected_ksg_parts(x: ArrayLike, y: ArrayLike, *, k: int = 3, budget: float = DEFAULT_BUDGET,
                        random_state=0) -> dict:
    r""":func:`corrected_ksg_mutual_information` with the pieces of its correction, for checks and reports.

    Same arguments, same value (equal ``random_state``, equal value).

    Returns
    -------
    dict
        ``value`` (nats); ``rows`` (rows used after any subsample); ``gaussian_mi`` (:math:`\hat I_G`);
        ``ksg_data``, ``ksg_surrogate`` (the two KSG readings); ``surrogate``: ``"gaussian"`` or
        ``"student-t"``; ``surrogate_df`` (its degrees of freedom, ``inf`` for the Gaussian);
        ``surrogate_mi`` (its exact MI, the value's first term); ``scale_dependence`` and
        ``scale_dependence_gaussian``: the Spearman correlation of the sides' squared radii
        :math:`\|s_x\|^2, \|s_y\|^2` of the data's normal scores and of the Gaussian twin's;
        ``scale_threshold``: the excess that selects the Student-t surrogate. The value's error is that of
        KSG's bias on the data minus its bias on the surrogate, so a data copula far from both surrogates
        (e.g. a negative ``scale_dependence`` excess: bounded supports, boxes) is read with an uncorrected
        non-Gaussian part ``ksg_data - ksg_surrogate`` (KSG reads that part low in several dimensions).
        Empty of everything but ``value`` when a side has no non-constant column or the sides are linearly
        dependent.
    """
    tx, ty, _ = check_pair(x, y, min_samples=k + 2)
    k = check_int(k, "k")
    if not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"budget must be a positive number, got {budget!r}")
    rng = check_random_state(random_state)
    parts: dict = {}
    with torch.no_grad():
        value = _corrected_ksg(tx.detach(), ty.detach(), k=k, budget=float(budget), rng=rng, parts=parts)
    return {"value": float(value), **parts}


def _corrected_ksg(tx: torch.Tensor, ty: torch.Tensor, *, k: int, budget: float,
                   rng: np.random.Generator, parts: Optional[dict] = None) -> torch.Tensor:
    rows = _subsample(rng, tx.shape[0], tx.shape[1] + ty.shape[1], budget, k + 2)
    if rows is not None:
        rows = rows.to(tx.device)
        tx, ty = tx[rows], ty[rows]
    sx, sy = copula_scores(tx), copula_scores(ty)  # (m, rx), (m, ry)
    rx = sx.shape[1]
    if rx == 0 or sy.shape[1] == 0:
        return torch.zeros((), dtype=tx.dtype, device=tx.device)
    s = torch.cat([sx, sy], dim=1)  # (m, rx + ry)
    cov = centred_cov(s)
    ld_xy = chol_logdet(cov)
    if ld_xy is None:
        warn("x and y are linearly dependent after normal scoring: the mutual information is +inf",
             DegenerateInputWarning)
        return torch.full((), math.inf, dtype=tx.dtype, device=tx.device)
    # Gaussian part of the MI, bias-corrected (unbiased for Gaussian data; the plug-in value is high by about
    # rx * ry / (2m) nats, 0.6 nats at 50+50 dims and m = 2000).
    i_gauss = gaussian_mi_of_tensors(sx, sy, ridge=0.0, bias_correction=True, rtol=None).clamp_min(0)
    # Surrogate (normal-scored like the data, so both have the same marginal values and differ only in
    # their copula): same marginal covariances, cross-covariance shrunk by t so that its exact MI equals
    # i_gauss. KSG's bias then is measured at the right level of dependence, which matters because in high
    # dimension the bias grows with the MI itself (KSG saturates).
    rho = _canonical_correlations(cov, rx)
    t = _shrink_factor(rho, float(i_gauss))
    m, d = s.shape
    noise = torch.from_numpy(rng.standard_normal((m, d))).to(dtype=cov.dtype, device=cov.device)
    g = normal_scores(noise @ torch.linalg.cholesky(_scaled_cross(cov, rx, t)).T)  # (m, rx + ry)
    ksg_data = ksg_mutual_information(sx, sy, k=k)
    surrogate_mi = i_gauss
    scale_data, scale_gauss = _scale_dependence(s, rx), _scale_dependence(g, rx)
    df = math.inf
    if scale_data - scale_gauss > SCALE_SIGMAS * math.sqrt(2.0 / m):
        # The sides' radii depend on each other more than a Gaussian copula with this correlation allows:
        # the signature of a common scale (a Student-t or other elliptical copula, tail dependence). KSG's
        # bias there differs from its bias on the Gaussian twin (it reads the tail dependence low), so the
        # twin becomes a Student-t copula whose exact MI is known.
        df, t, g = _student_surrogate(cov, rx, rho, noise, float(i_gauss), scale_data, rng)
        surrogate_mi = torch.as_tensor(
            -0.5 * float(np.log1p(-np.minimum((t * rho.double().cpu().numpy()) ** 2, 1 - 1e-16)).sum())
            + student_t_mi_correction(df, rx, sy.shape[1]), dtype=tx.dtype, device=tx.device)
    ksg_surrogate = ksg_mutual_information(g[:, :rx], g[:, rx:], k=k)
    if parts is not None:
        parts.update(rows=m, gaussian_mi=float(i_gauss), ksg_data=float(ksg_data),
                     ksg_surrogate=float(ksg_surrogate),
                     surrogate="gaussian" if math.isinf(df) else "student-t",
                     surrogate_df=df, surrogate_mi=float(surrogate_mi), scale_dependence=scale_data,
                     scale_dependence_gaussian=scale_gauss,
                     scale_threshold=SCALE_SIGMAS * math.sqrt(2.0 / m))
    return surrogate_mi + ksg_data - ksg_surrogate


def _scaled_cross(cov: torch.Tensor, rx: int, t: float) -> torch.Tensor:
    """cov with its cross-covariance block multiplied by t (every canonical correlation times t)."""
    out = cov.clone()
    out[:rx, rx:] *= t
    out[rx:, :rx] *= t
    return out


def _scale_dependence(s: torch.Tensor, rx: int) -> float:
    """Spearman correlation of the squared radii ||s_x||^2 and ||s_y||^2 of the rows of s (m, rx + ry)."""
    radii = torch.stack([s[:, :rx].pow(2).sum(dim=1), s[:, rx:].pow(2).sum(dim=1)])  # (2, m)
    ranks = radii.argsort(dim=1).argsort(dim=1).to(torch.float64)
    return float(torch.corrcoef(ranks)[0, 1])


def _student_surrogate(cov: torch.Tensor, rx: int, rho: torch.Tensor, noise: torch.Tensor, i_gauss: float,
                       scale_data: float, rng: np.random.Generator
                       ) -> tuple[float, float, torch.Tensor]:
    r"""A normal-scored Student-t surrogate matched to the data: degrees of freedom :math:`\nu` so that the
    dependence of its sides' radii (:func:`_scale_dependence`) equals the data's, and the cross-covariance
    factor t so that the exact Gaussian MI of its shape is ``i_gauss`` corrected by what normal scoring t
    draws instead of Gaussian ones changes in the scored estimate (in few dimensions at low df it lowers it),
    each fitted by bisection with the draws held fixed (common random numbers), twice in turn. Returns (nu, t,
    scored sample (m, rx + ry))."""
    from scipy.stats import chi2

    m = noise.shape[0]
    uniforms = rng.random(m)
    t_max = (1.0 - 1e-6) / max(float(rho.max()), 1e-12)  # the scaled covariance stays positive definite

    cache: dict[float, torch.Tensor] = {}

    def sample(nu: float, t: float) -> torch.Tensor:
        w = torch.from_numpy(np.sqrt(nu / chi2.ppf(uniforms, nu))).to(noise)  # (m,) common scale per row
        if t not in cache:
            cache.clear()
            cache[t] = noise @ torch.linalg.cholesky(_scaled_cross(cov, rx, t)).T
        return normal_scores(cache[t] * w[:, None])

    def gaussian(t: float) -> torch.Tensor:  # the Gaussian draws of shape t, normal-scored
        if t not in cache:
            cache.clear()
            cache[t] = noise @ torch.linalg.cholesky(_scaled_cross(cov, rx, t)).T
        return normal_scores(cache[t])

    r2 = rho.double().cpu().numpy() ** 2

    def exact(t: float) -> float:
        return -0.5 * float(np.log1p(-np.minimum(t * t * r2, 1 - 1e-16)).sum())

    def gauss_part(sample_: torch.Tensor) -> float:
        return float(gaussian_mi_of_tensors(sample_[:, :rx], sample_[:, rx:], ridge=0.0, bias_correction=True,
                                            rtol=None).clamp_min(0))

    log_nu, t = math.log(STUDENT_DF_RANGE[1]), min(_shrink_factor(rho, i_gauss), t_max)
    for _ in range(_ROUNDS):
        # the radii's dependence falls as nu grows (nu -> inf: the Gaussian twin)
        log_nu = _bisect_on(lambda v: -_scale_dependence(sample(math.exp(v), t), rx), -scale_data,
                            math.log(STUDENT_DF_RANGE[0]), math.log(STUDENT_DF_RANGE[1]))
        # The shape's exact Gaussian MI E is set, as for the Gaussian twin, from i_gauss, plus what normal
        # scoring t draws (rather than Gaussian ones) of the same shape changes in the scored estimate:
        # E = i_gauss + [scored Gaussian-MI estimate of the Gaussian draws - of the t draws]. (Matching the
        # scored estimates directly would also carry the twin's own estimation noise, which sits on top of the
        # data's in its shape: at 25 + 25 dims, n = 1000 that read 0.4 nats low.)
        t = _bisect_on(lambda u: exact(u) - gauss_part(gaussian(u)) + gauss_part(sample(math.exp(log_nu), u)),
                       i_gauss, 0.0, t_max)
    nu = math.exp(log_nu)
    return nu, t, sample(nu, t)


def _bisect_on(f, target: float, lo: float, hi: float, steps: int = 16) -> float:
    """The x in [lo, hi] with f(x) = target for f increasing (the nearer end when target is outside)."""
    if f(lo) >= target:
        return lo
    if f(hi) <= target:
        return hi
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _canonical_correlations(cov: torch.Tensor, rx: int) -> torch.Tensor:
    """Canonical correlations of the blocks of a joint covariance (rx first variables vs the rest)."""
    lx = torch.linalg.cholesky(cov[:rx, :rx])
    ly = torch.linalg.cholesky(cov[rx:, rx:])
    m = torch.linalg.solve_triangular(lx, cov[:rx, rx:], upper=False)  # Lx^-1 Sxy
    m = torch.linalg.solve_triangular(ly, m.T, upper=False).T  # Lx^-1 Sxy Ly^-T
    return torch.linalg.svdvals(m).clamp(0, 1)


def _shrink_factor(rho: torch.Tensor, target: float) -> float:
    """t in [0, 1] with -1/2 sum log(1 - t^2 rho^2) = target."""
    r2 = rho.double().cpu().numpy() ** 2
    return _bisect(lambda t: -0.5 * float(np.log1p(-np.minimum(t * t * r2, 1 - 1e-16)).sum()), target)


def _bisect(f, target: float) -> float:
    """The t in [0, 1] with f(t) = target for f increasing, f(0) = 0; clipped to 0 or 1 outside its range."""
    if target <= 0:
        return 0.0
    if f(1.0) <= target:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _scored_surrogate(cov: torch.Tensor, m: int, rng: np.random.Generator) -> torch.Tensor:
    """m draws of N(0, cov), normal-scored per column like the data: (m, d)."""
    chol = torch.linalg.cholesky(cov)
    noise = torch.from_numpy(rng.standard_normal((m, cov.shape[0]))).to(dtype=cov.dtype, device=cov.device)
    return normal_scores(noise @ chol.T)


def _subsample(rng: np.random.Generator, n: int, dims: int, budget: float, minimum: int) -> Optional[torch.Tensor]:
    """Row indices of a subsample whose pair-dimension cost n^2 dims fits ``budget`` (None: keep all)."""
    n_sub = min(n, max(minimum, int(math.sqrt(budget / dims))))
    return None if n_sub == n else torch.from_numpy(np.sort(rng.choice(n, size=n_sub, replace=False)))


def corrected_knn_entropy(z: ArrayLike, *, k: int = 3, budget: float = DEFAULT_BUDGET, random_state=0):
    r"""Copula entropy plus the non-Gaussian dependence seen by kNN, bias-corrected by a surrogate, in nats.

    .. math:: \hat H = \sum_j \hat H_{\mathrm{KL}}(Z_j) - \widehat{TC}_G
              + \hat H_{\mathrm{KL}}(S) - \hat H_{\mathrm{KL}}(G)

    The first two terms are :func:`~infossl.estimators.copula_entropy` (1-D marginal entropies minus the
    bias-corrected Gaussian-copula total correlation :math:`\widehat{TC}_G`). The last two correct the
    total correlation for dependence a Gaussian copula cannot express: S are the normal scores of z and
    G a Gaussian surrogate of the same size, normal-scored the same way, with the correlation of the scores
    shrunk so that its total correlation equals :math:`\widehat{TC}_G`. Because S and G have identical
    marginal values, :math:`\hat H_{\mathrm{KL}}(S) - \hat H_{\mathrm{KL}}(G)` equals the difference of
    their kNN total correlations, in which the d-dimensional kNN bias cancels to first order. This is the
    entropy counterpart of :func:`corrected_ksg_mutual_information` (same parametric-bootstrap idea).

    It keeps the copula estimator's strengths (any marginals, no boundary bias, exact for Gaussian copulas)
    and removes most of its upward error on heavy-tailed joint distributions: on a 25-dimensional
    Student-t (df = 5, n = 5000, mean of 5 seeds) the copula estimate is 1.70 nats high, this one (the
    ``auto`` rows) 0.54 nats low (``benchmarks/results/accuracy.csv``). Cost: two kNN entropy runs, on a
    subsample of :math:`\sqrt{\text{budget}/d}` rows when :math:`n^2 d` exceeds ``budget``. Random through
    the surrogate (``random_state``, default 0). Not differentiable.

    Raises where the copula estimator does (a column with a point mass: entropy :math:`-\infty`) and where
    kNN does (duplicate rows). With collinear columns the copula value is returned with its warning.

    Returns
    -------
    float
        Differential entropy estimate of ``z``'s distribution, in nats.

    Examples
    --------
    >>> import numpy as np, infossl
    >>> from infossl.synthetic import StudentT
    >>> dist = StudentT(5.0, dim=5)
    >>> z = dist.sample(4000, random_state=0)
    >>> bool(abs(infossl.estimators.corrected_knn_entropy(z) - dist.entropy()) < 0.1)
    True
    """
    t, b = check_embeddings(z, min_samples=k + 2)
    k = check_int(k, "k")
    if not (isinstance(budget, (int, float)) and budget > 0):
        raise ValueError(f"budget must be a positive number, got {budget!r}")
    rng = check_random_state(random_state)
    with torch.no_grad():
        t = t.detach()
        n, d = t.shape
        if n <= d:  # the Gaussian surrogate has a singular covariance (and calibrating it costs O(d^3))
            raise ValueError(f"corrected-knn needs more rows than dimensions for its Gaussian surrogate; got n={n}, "
                             f"d={d}. Use method='copula' or 'logdet', or reduce the dimension first")
        h_copula = copula_entropy(t, k=k)
        if d == 1:
            return b.finish(h_copula)
        rows = _subsample(rng, n, d, float(budget), k + 2)
        s = normal_scores(t if rows is None else t[rows.to(t.device)])  # (m, d)
        cov = centred_cov(s)
        corr = cov / torch.sqrt(torch.diagonal(cov)[:, None] * torch.diagonal(cov)[None, :])
        lam = torch.linalg.eigvalsh(corr).double().cpu().numpy()
        if lam.min() <= 1e-10 * lam.max():  # collinear: copula_entropy has warned already
            return b.finish(h_copula)
        m = s.shape[0]
        bias = float(wishart_logdet_bias(d, m) - d * wishart_logdet_bias(1, m)) if m > d + 1 else 0.0
        tc_target = -0.5 * float(np.log(lam).sum()) + 0.5 * bias
        shrink = _bisect(lambda u: -0.5 * float(np.log1p(u * (lam - 1)).sum()), tc_target)
        eye = torch.eye(d, dtype=corr.dtype, device=corr.device)
        g = _scored_surrogate(eye + shrink * (corr - eye), m, rng)
        value = h_copula + knn_entropy(s, k=k) - knn_entropy(g, k=k)
    return b.finish(value)
