r"""The augmentation operator T seen from views, and the regime map over the kernel penalty lambda.

Model (kernel regime, Cabannes et al. 2023, arXiv 2302.02774, Sec. 2-3): views :math:`\xi, \xi'` of the same
input x are drawn independently from :math:`p(\cdot\mid x)`; :math:`(Af)(x) = \mathbb E[f(\xi)\mid x]` and
:math:`T = A^*A`, so :math:`\langle f, Tf\rangle = \mathbb E[f(\xi) f(\xi')]` and :math:`0 \preceq T \preceq I`.
For unit-variance f an eigenvalue of T is the correlation between f(xi) and f(xi'): restricted to the span of
features phi, T is :math:`\hat\Sigma^{-1/2}\hat C\hat\Sigma^{-1/2}`, whose eigenvalues are the canonical
correlations between two views (CCA of the pooled, symmetrised view pairs).

The representation selects the top eigenfunctions of :math:`T - c\,\lambda K^{-1}`, K the kernel's integral
operator. Two conventions for lambda are in use and every function here takes ``convention``:

* ``"penalty"`` (default): lambda is the weight of :math:`\|\Theta\|_{HS}^2` added to
  :math:`\beta\|E[\psi\psi^\top]-I\|_F^2 + E\|\psi(\xi)-\psi(\xi')\|^2`; the operator is
  :math:`T - (\lambda/2)K^{-1}` (c = 1/2).
* ``"operator"``: lambda multiplies :math:`K^{-1}` directly, :math:`T - \lambda K^{-1}` (c = 1). That
  the paper's Figure 2 uses this convention is our inference (its toy example then switches at the round
  values lambda = 1 and 2), not something the paper is verified to state; both conventions are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from infossl._backend import ArrayLike
from infossl._validation import check_float, check_int
from infossl.spectral._checks import check_view_list, lambda_factor


def view_moments(x: torch.Tensor, inverse: torch.Tensor, n: int, m: int, *, center: bool = False
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Second moment of the views and the positive-pair cross moment (torch kernel, no validation).

    .. math:: \hat\Sigma = \frac1N\sum_j \phi_j\phi_j^\top, \qquad
              \hat C = \frac{1}{n m (m-1)}\sum_i\sum_{a\ne b}\phi_{ia}\phi_{ib}^\top

    Returns ``(sigma, cross, mean)``; with ``center`` the features are centred by their mean over all views
    first (``mean`` is zero otherwise).
    """
    mean = x.mean(dim=0) if center else torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)  # (p,)
    xc = x - mean  # (N, p)
    sums = torch.zeros(n, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, inverse.to(x.device), xc)  # (n, p)
    gram = xc.T @ xc  # (p, p)
    sigma = gram / (n * m)
    cross = (sums.T @ sums - gram) / (n * m * (m - 1))
    return sigma, (cross + cross.T) / 2, mean


def whitened_cross(sigma: torch.Tensor, cross: torch.Tensor, *, tol: float = 1e-10
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sigma^{-1/2} C Sigma^{-1/2} on the range of Sigma (eigenvalues > tol * largest); returns (matrix, half
    inverse square root (p, r), kept eigenvalues of Sigma (r,))."""
    ev, u = torch.linalg.eigh(sigma)  # (p,), (p, p)
    keep = ev > tol * ev[-1].clamp_min(0)
    if not bool(keep.any()):
        raise ValueError("the views' feature covariance is zero: every feature is constant")
    sh = u[:, keep] / ev[keep].sqrt()  # (p, r)
    t_hat = sh.T @ cross @ sh  # (r, r)
    return (t_hat + t_hat.T) / 2, sh, ev[keep]


def augmentation_spectrum(views: ArrayLike | Sequence[ArrayLike], groups: ArrayLike | None = None, *,
                          center: bool = True, tol: float = 1e-10) -> np.ndarray | torch.Tensor:
    r"""Eigenvalues of the augmentation operator T in the span of the view features (descending).

    .. math:: \hat T = \hat\Sigma^{-1/2}\hat C\hat\Sigma^{-1/2},\qquad
              \nu_i = \max_{f \perp f_1..f_{i-1}}\operatorname{corr}(f(\xi), f(\xi'))

    For m = 2 views these are the canonical correlations between the two views (with the two view orders
    pooled, i.e. the symmetrised cross-covariance).

    Parameters
    ----------
    views : sequence of m >= 2 arrays (n, p), or one array (N, p) with ``groups``
        Features of the views (e.g. embeddings, or explicit kernel features).
    groups : array (N,), optional
        Input id of each row when ``views`` is one array; every input needs the same number m >= 2 of views.
    center : bool, default True
        Centre the features first (removes the constant eigenfunction, whose eigenvalue is 1).
    tol : float, default 1e-10
        Directions where the feature covariance is below ``tol`` times its largest eigenvalue are dropped.

    Returns
    -------
    nu : (r,) array or tensor, r = numerical rank of the feature covariance; in [-1, 1] (population T >= 0,
        sample values can be slightly negative).

    Notes
    -----
    Biased upwards when p is not small against n (sample CCA overfits); the pooled estimator over
    the m(m-1) ordered view pairs is unbiased for C, not for the ratio.

    References
    ----------
    .. [1] V. Cabannes, B. T. Kiani, R. Balestriero, Y. LeCun, A. Bietti, "The SSL Interplay: Augmentations,
       Inductive Bias, and Generalization", ICML 2023, arXiv 2302.02774, Sec. 3 (operator T).
    .. [2] H. Hotelling, "Relations between two sets of variates", Biometrika 28 (1936) (canonical correlations).

    Examples
    --------
    Two noisy views of a latent with signal variance 1 and noise variance 1/3: correlation 0.75.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.standard_normal((200000, 1))
    >>> views = [s + rng.standard_normal(s.shape) / 3**0.5 for _ in range(2)]
    >>> round(float(augmentation_spectrum(views)[0]), 2)
    0.75
    """
    tol = check_float(tol, "tol", low=0.0)
    x, inverse, n, m, boundary = check_view_list(views, groups)
    x64 = x.double()
    sigma, cross, _ = view_moments(x64, inverse, n, m, center=bool(center))
    t_hat, _, _ = whitened_cross(sigma, cross, tol=tol)
    nu = torch.linalg.eigvalsh(t_hat).flip(0)  # (r,) descending
    return boundary.finish_many(nu.to(x.device))


def _check_spectrum(nu: ArrayLike, rkhs_norms: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    nu = np.asarray(nu, dtype=np.float64).reshape(-1)
    norms = np.asarray(rkhs_norms, dtype=np.float64).reshape(-1)
    if nu.shape != norms.shape:
        raise ValueError(f"nu and rkhs_norms must have the same length, got {nu.shape[0]} and {norms.shape[0]}")
    if nu.size == 0 or not (np.all(np.isfinite(nu)) and np.all(np.isfinite(norms))):
        raise ValueError("nu and rkhs_norms must be non-empty and finite")
    if np.any(norms < 0):
        raise ValueError(f"rkhs_norms are squared RKHS norms and must be >= 0; smallest {norms.min():.4g}")
    return nu, norms


def commuting_scores(nu: ArrayLike, rkhs_norms: ArrayLike, lam: float, *, convention: str = "penalty"
                     ) -> np.ndarray:
    r"""Scores of shared eigenfunctions when T and K commute: :math:`\nu_i - c\,\lambda\,\|f_i\|_H^2`.

    ``rkhs_norms`` are squared RKHS norms :math:`\|f_i\|_H^2 = 1/\mu_i` (mu_i the kernel eigenvalue of f_i);
    c = 1/2 (``"penalty"``: operator :math:`T - (\lambda/2)K^{-1}`) or 1 (``"operator"``: :math:`T-\lambda K^{-1}`).

    Returns
    -------
    numpy.ndarray
        One score per eigenfunction.

    Examples
    --------
    >>> commuting_scores([.9, .75, .5], [.4, .25, .125], 1.0, convention="operator").round(3).tolist()
    [0.5, 0.5, 0.375]
    """
    nu, norms = _check_spectrum(nu, rkhs_norms)
    lam = check_float(lam, "lam", low=0.0)
    return nu - lambda_factor(convention) * lam * norms


def _classes(nu: np.ndarray, norms: np.ndarray, decimals: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (nu, norm) pairs (degenerate eigenspaces) with their multiplicities and the class of each item."""
    key = np.stack([np.round(nu, decimals), np.round(norms, decimals)], axis=1)
    uniq, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return uniq, counts, inv.reshape(-1)


def _fill(scores: np.ndarray, counts: np.ndarray, k: int, tiebreak: np.ndarray) -> np.ndarray:
    """How many members of each class the top-k selection takes (classes by score, ties by ``tiebreak``)."""
    order = np.lexsort((tiebreak, -scores))
    taken = np.zeros_like(counts)
    left = k
    for c in order:
        if left == 0:
            break
        taken[c] = min(counts[c], left)
        left -= taken[c]
    return taken


def _top_k_limits(uniq: np.ndarray, counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    small = _fill(uniq[:, 0], counts, k, uniq[:, 1])       # lambda -> 0+: by nu, ties by smaller norm
    large = _fill(-uniq[:, 1], counts, k, -uniq[:, 0])     # lambda -> inf: by smaller norm, ties by larger nu
    return small, large


def crossover_lambdas(nu: ArrayLike, rkhs_norms: ArrayLike, *, k: int = 1, convention: str = "penalty"
                      ) -> pd.DataFrame:
    r"""Every lambda > 0 where the top-k eigenfunctions of :math:`T - c\lambda K^{-1}` change (commuting case).

    Two eigenfunctions i, j swap order at :math:`\lambda_{ij} = (\nu_i-\nu_j)/(c(\|f_i\|^2_H-\|f_j\|^2_H))`;
    the crossovers are the :math:`\lambda_{ij}` where the selected set changes. Eigenfunctions with equal
    (nu, norm) form one degenerate eigenspace ("class") and move together.

    Parameters
    ----------
    nu : (q,) eigenvalues of T of the shared eigenfunctions.
    rkhs_norms : (q,) squared RKHS norms (1 / kernel eigenvalue), >= 0.
    k : int, default 1
        Number of eigenfunctions selected (representation dimension).
    convention : {"penalty", "operator"}
        c = 1/2 (:math:`T-(\lambda/2)K^{-1}`) or c = 1 (:math:`T-\lambda K^{-1}`).

    Returns
    -------
    DataFrame with columns ``lam``, ``entering`` and ``leaving`` (lists of ``(nu, norm, count)`` tuples: the
    degenerate eigenspaces that gain or lose ``count`` selected members), one row per crossover, ascending.
    Empty when the selection never changes.

    Examples
    --------
    The three-eigenfunction example of Cabannes et al. (2023), Fig. 2 (numbers from its caption): switches at
    1 and 2 with c = 1 (2 and 4 with c = 1/2).

    >>> crossover_lambdas([.9, .75, .5], [.4, .25, .125], convention="operator").lam.round(6).tolist()
    [1.0, 2.0]
    """
    nu, norms = _check_spectrum(nu, rkhs_norms)
    k = check_int(k, "k", low=1, high=nu.size)
    c = lambda_factor(convention)
    uniq, counts, _ = _classes(nu, norms)
    dn = uniq[:, None, 0] - uniq[None, :, 0]  # (C, C)
    dr = uniq[:, None, 1] - uniq[None, :, 1]  # (C, C)
    with np.errstate(divide="ignore", invalid="ignore"):
        cand = dn / (c * dr)
    cand = np.unique(cand[np.isfinite(cand) & (cand > 0)])
    rows = []
    if cand.size:
        probes = np.concatenate([[cand[0] / 2], (cand[:-1] + cand[1:]) / 2, [cand[-1] * 2]])
        prev = _fill(uniq[:, 0] - c * probes[0] * uniq[:, 1], counts, k, uniq[:, 1])
        for lam_c, probe in zip(cand, probes[1:]):
            cur = _fill(uniq[:, 0] - c * probe * uniq[:, 1], counts, k, uniq[:, 1])
            if not np.array_equal(cur, prev):
                diff = cur - prev
                rows.append({"lam": float(lam_c),
                             "entering": [(float(uniq[i, 0]), float(uniq[i, 1]), int(diff[i]))
                                          for i in np.flatnonzero(diff > 0)],
                             "leaving": [(float(uniq[i, 0]), float(uniq[i, 1]), int(-diff[i]))
                                         for i in np.flatnonzero(diff < 0)]})
            prev = cur
    return pd.DataFrame(rows, columns=["lam", "entering", "leaving"])


def regime_map(nu: ArrayLike, rkhs_norms: ArrayLike, lams: ArrayLike, *, k: int = 1, beta: float | None = None,
               convention: str = "penalty") -> pd.DataFrame:
    r"""Which eigenfunctions the kernel-regime minimiser selects at each lambda (commuting T and K).

    The selected k maximise :math:`\nu_i - c\lambda\|f_i\|_H^2`. A selection equal to the lambda -> 0+
    selection (top-k of T, ties by smaller norm) is the **augmentation** regime; equal to the
    lambda -> infinity selection (top-k of K, i.e. kernel PCA) the **architecture** regime (the paper's
    "VCReg" regime); anything else the **interplay** regime. When both limits select the same set the label
    is "augmentation".

    Parameters
    ----------
    nu : (q,) eigenvalues of T of the candidate eigenfunctions, in [0, 1].
    rkhs_norms : (q,) their squared RKHS norms (1 / kernel eigenvalue).
    lams : (L,) lambda values >= 0.
    k : int, representation dimension.
    beta : float > 0, optional
        With it, the predicted variances :math:`s_i = (1-(1-\text{score}_i)/\beta)_+` of the selected
        eigenfunctions give the predicted ``rank`` (number of non-collapsed dimensions).
    convention : {"penalty", "operator"}
        c = 1/2 (:math:`T-(\lambda/2)K^{-1}`) or c = 1 (:math:`T-\lambda K^{-1}`).

    Returns
    -------
    DataFrame, one row per lambda: ``lam``, ``regime``, ``selected`` (item indices, a degenerate eigenspace cut
    by the k boundary contributes its first members), ``top`` (index of the best eigenfunction),
    ``kth_score``, and with ``beta``: ``rank``, ``variances`` (list of k values).

    References
    ----------
    .. [1] Cabannes et al., arXiv 2302.02774, Fig. 2 and its Proposition on commuting operators.

    Examples
    --------
    >>> df = regime_map([.9, .75, .5], [.4, .25, .125], [0.5, 1.5, 3.0], convention="operator")
    >>> df.top.tolist(), df.regime.tolist()
    ([0, 1, 2], ['augmentation', 'interplay', 'architecture'])
    """
    nu, norms = _check_spectrum(nu, rkhs_norms)
    k = check_int(k, "k", low=1, high=nu.size)
    lams = np.asarray(lams, dtype=np.float64).reshape(-1)
    if lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0):
        raise ValueError(f"lams must be a non-empty array of finite values >= 0, got {lams}")
    if beta is not None:
        beta = check_float(beta, "beta", low=0.0, low_open=True)
    c = lambda_factor(convention)
    uniq, counts, item_class = _classes(nu, norms)
    small, large = _top_k_limits(uniq, counts, k)
    rows = []
    for lam in lams:
        scores = nu - c * lam * norms  # (q,)
        taken = _fill(uniq[:, 0] - c * lam * uniq[:, 1], counts, k, uniq[:, 1])
        if np.array_equal(taken, small):
            regime = "augmentation"
        elif np.array_equal(taken, large):
            regime = "architecture"
        else:
            regime = "interplay"
        left = taken.copy()
        selected = []
        for i in np.lexsort((norms, -scores)):
            if left[item_class[i]] > 0:
                selected.append(int(i))
                left[item_class[i]] -= 1
        row = {"lam": float(lam), "regime": regime, "selected": selected, "top": selected[0],
               "kth_score": float(scores[selected[-1]])}
        if beta is not None:
            s = np.clip(1.0 - (1.0 - scores[selected]) / beta, 0.0, None)
            row["rank"] = int(np.count_nonzero(s > 0))
            row["variances"] = s.tolist()
        rows.append(row)
    return pd.DataFrame(rows)


def feature_regime_map(views: ArrayLike | Sequence[ArrayLike], groups: ArrayLike | None = None, *,
                       lams: ArrayLike, k: int, beta: float | None = None, convention: str = "penalty",
                       center: bool = True, threshold: float = 0.9, tol: float = 1e-10) -> pd.DataFrame:
    r"""Regime map from view features when T and K need not commute: where the learned span sits between the
    augmentation span and the kernel-PCA span, for each lambda.

    In the :math:`L^2`(views) geometry (whitened coordinates), the learned span at lambda is spanned by the
    top-k eigenvectors of :math:`\hat T - c\lambda\hat\Sigma^{-1}`; it is compared with the
    **augmentation** span (top-k of :math:`\hat T`, lambda -> 0) and the **architecture** span (top-k
    principal directions of the features, kernel PCA, lambda -> infinity) by the overlap
    :math:`\|P_A^\top V\|_F^2 / k \in [0, 1]`. Label: "augmentation" if its overlap is >= ``threshold``,
    else "architecture" if that overlap is >= ``threshold``, else "interplay".

    Parameters
    ----------
    views, groups : as in :func:`augmentation_spectrum`.
    lams : (L,) lambda values >= 0 in the units of ``convention``.
    k : int, representation dimension (<= rank of the feature covariance).
    beta : float > 0, optional; adds the predicted ``rank`` (number of variances s_i > 0).
    convention : {"penalty", "operator"}; c = 1/2 or 1.
    center : bool, default True (centre the features; removes the constant function).
    threshold : float in (0, 1], default 0.9.

    Returns
    -------
    DataFrame: ``lam``, ``overlap_augmentation``, ``overlap_architecture``, ``regime``, ``top_nu`` (largest
    eigenvalue of the operator) and, with ``beta``, ``rank``.

    Examples
    --------
    Three latent coordinates with view correlations (.9, .75, .5) and feature variances (2.5, 4, 8)
    (squared RKHS norms .4, .25, .125): the toy example of arXiv 2302.02774, Fig. 2, from samples.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> rho, var = np.array([.9, .75, .5]), np.array([2.5, 4., 8.])
    >>> s = rng.standard_normal((20000, 3))
    >>> views = [np.sqrt(var) * (np.sqrt(rho) * s + np.sqrt(1 - rho) * rng.standard_normal(s.shape))
    ...          for _ in range(2)]
    >>> feature_regime_map(views, lams=[0.5, 1.5, 3.0], k=1, convention="operator").regime.tolist()
    ['augmentation', 'interplay', 'architecture']
    """
    k = check_int(k, "k", low=1)
    threshold = check_float(threshold, "threshold", low=0.0, high=1.0, low_open=True)
    tol = check_float(tol, "tol", low=0.0, high=1.0)
    c = lambda_factor(convention)
    lams = np.asarray(lams, dtype=np.float64).reshape(-1)
    if lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0):
        raise ValueError(f"lams must be a non-empty array of finite values >= 0, got {lams}")
    if beta is not None:
        beta = check_float(beta, "beta", low=0.0, low_open=True)
    x, inverse, n, m, _ = check_view_list(views, groups)
    x64 = x.double()
    x64 = x64 / x64.abs().amax().clamp_min(torch.finfo(torch.float64).tiny)
    sigma, cross, _ = view_moments(x64, inverse, n, m, center=bool(center))
    scale = float(torch.linalg.eigvalsh(sigma)[-1].clamp_min(torch.finfo(torch.float64).tiny))
    amax2 = float(x.double().abs().amax()) ** 2 or 1.0  # lam is in the units of the raw features
    t_hat, _, ev = whitened_cross(sigma / scale, cross / scale, tol=tol)  # ev ascending, (r,)
    r = ev.numel()
    if k > r:
        raise ValueError(f"k={k} exceeds the rank r={r} of the views' feature covariance; use k <= {r}")
    arch = torch.zeros(r, k, dtype=torch.float64, device=ev.device)
    arch[torch.arange(r - k, r), torch.arange(k)] = 1.0  # top-k principal directions (largest ev)
    aug = torch.linalg.eigh(t_hat)[1][:, -k:]  # (r, k)
    rows = []
    for lam in lams:
        op = t_hat - c * float(lam) / (amax2 * scale) * torch.diag(1.0 / ev)  # (r, r) whitened operator
        w, v = torch.linalg.eigh((op + op.T) / 2)
        vk = v[:, -k:]  # (r, k) learned span
        o_aug = float((aug.T @ vk).pow(2).sum() / k)
        o_arch = float((arch.T @ vk).pow(2).sum() / k)
        regime = ("augmentation" if o_aug >= threshold else "architecture" if o_arch >= threshold
                  else "interplay")
        row = {"lam": float(lam), "overlap_augmentation": o_aug, "overlap_architecture": o_arch,
               "regime": regime, "top_nu": float(w[-1])}
        if beta is not None:
            row["rank"] = int(((1.0 - (1.0 - w[-k:]) / beta) > 0).sum())
        rows.append(row)
    return pd.DataFrame(rows)
