r"""Closed-form minimisers of the VICReg-type objective in the kernel regime (dual, primal and moment forms).

Model and assumptions (Cabannes et al. 2023, arXiv 2302.02774, Sec. 2-3; constants re-derived here):

* n inputs, each with the same number m >= 2 of views; N = n m views with features :math:`\phi_j` (explicit,
  primal) or a kernel :math:`k(\xi, \xi') = \langle\phi(\xi), \phi(\xi')\rangle` (Gram matrix, dual).
* A linear-in-features representation :math:`\psi(x) = \Theta\phi(x) \in \mathbb R^k` (the kernel / NTK regime of
  a network), trained to minimise the empirical objective

  .. math::

      L(\Theta) = \beta\,\Big\|\frac1N\sum_j\psi(\xi_j)\psi(\xi_j)^\top - I_k\Big\|_F^2
                 + \frac{1}{n m (m-1)}\sum_i\sum_{a\ne b}\|\psi(\xi_{ia})-\psi(\xi_{ib})\|^2
                 + \lambda_{\rm pen}\|\Theta\|_{HS}^2 .

* With :math:`\hat\Sigma` the views' second moment, :math:`\hat C` the positive-pair cross moment and
  :math:`\hat D = 2(\hat\Sigma - \hat C)`, the minimiser is (up to a rotation in O(k))

  .. math::

      \Theta^\star = \operatorname{diag}(\sqrt{s_i})\,V_k^\top\hat\Sigma^{-1/2}, \quad
      M = \hat\Sigma^{-1/2}(\hat D + \lambda_{\rm pen} I)\hat\Sigma^{-1/2} = 2(I-\hat T) + \lambda_{\rm pen}
      \hat\Sigma^{-1}, \quad s_i = \Big(1-\frac{g_i}{2\beta}\Big)_+ = \Big(1-\frac{1-\nu_i}{\beta}\Big)_+

  with :math:`(g_i, V)` the k smallest eigenpairs of M and :math:`\nu_i = 1 - g_i/2` the top eigenvalues of
  :math:`\hat T - (\lambda_{\rm pen}/2)\hat\Sigma^{-1}` (the empirical :math:`T - (\lambda_{\rm pen}/2)K^{-1}`).
  The optimum is :math:`L^\star = \beta\sum_{i\le k}(1-s_i^2)` and :math:`E[\psi\psi^\top] = \operatorname{diag}(s)`;
  the predicted rank is :math:`\#\{i\le k: g_i < 2\beta\}` (dimensional collapse when < k).

**Lambda convention.** ``convention="penalty"`` (default): ``lam`` is :math:`\lambda_{\rm pen}` above and the
operator is :math:`T-(\lambda/2)K^{-1}`. ``convention="operator"``: the operator is :math:`T-\lambda K^{-1}`
(our inference for the paper's Figure 2, from its round switch points; not verified against the paper's text),
i.e. :math:`\lambda_{\rm pen} = 2\lambda`. The returned ``nu`` are eigenvalues of the
operator in the chosen convention either way.

References
----------
.. [1] V. Cabannes, B. T. Kiani, R. Balestriero, Y. LeCun, A. Bietti, "The SSL Interplay: Augmentations,
   Inductive Bias, and Generalization", ICML 2023, arXiv 2302.02774.
.. [2] J. Z. HaoChen, C. Wei, A. Gaidon, T. Ma, "Provable guarantees for self-supervised deep learning with
   spectral contrastive loss", NeurIPS 2021, arXiv 2106.04156 (the beta = 1 case, up to the constant k).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from infossl._backend import ArrayLike, Boundary, to_tensor
from infossl._validation import check_embeddings, check_float, check_int
from infossl.spectral._checks import check_beta_lam, check_gram, check_groups
from infossl.spectral.augmentation import view_moments

Array = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class ClosedFormSolution:
    """The kernel-regime minimiser. Arrays follow the caller's type (numpy in -> numpy, torch in -> torch).

    Attributes
    ----------
    kind : {"primal", "dual", "moments"}
    coef : (p, k) with psi(x) = (phi(x) - mean) @ coef for "primal"/"moments"; (N, k) with
        psi(x) = k_c(x, views) @ coef for "dual" (k_c the kernel centred like the training Gram matrix).
    nu : (r,) descending eigenvalues of the empirical T - c lam K^{-1} (c from ``convention``).
    variances : (k,) predicted embedding variances s_i = (1 - (1 - nu_i) / beta)_+ (E[psi psi^T] = diag(s)).
    rank : int, number of s_i > 0 (predicted rank; < k means dimensional collapse, 0 complete collapse).
    objective : float, optimal value beta * sum_i (1 - s_i^2) of the regularised objective.
    beta, lam, penalty : floats; ``penalty`` is the weight of ||Theta||_HS^2 (lam or 2 lam).
    convention : {"penalty", "operator"}
    mean : (p,) or None; the feature mean subtracted before ``coef`` (primal with ``center=True``).

    Notes
    -----
    The solution is unique up to a rotation in O(k) (and arbitrary within eigenvalue ties of M); compare
    solutions through ``psi psi^T``, ``variances`` or ``nu``, not ``coef`` itself.
    """

    kind: str
    coef: Array
    nu: Array
    variances: Array
    rank: int
    objective: float
    beta: float
    lam: float
    penalty: float
    convention: str
    mean: Array | None = None
    _coef: torch.Tensor = field(default=None, repr=False)  # type: ignore[assignment]
    _center: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)
    _mean: torch.Tensor | None = field(default=None, repr=False)

    def transform(self, x: ArrayLike) -> Array:
        """Embed new points: explicit features (n_new, p) for primal/moments, kernel rows k(x, views)
        (n_new, N) for dual. Returns (n_new, k) in the type of ``x``.

        Returns
        -------
        Array
            The embedding of the new points: features (n_new, p) for primal/moments, kernel rows (n_new, N)
            for dual.
        """
        t, b = check_embeddings(x, name="x", min_samples=1)
        coef = self._coef.to(device=t.device)
        t = t.to(coef.dtype)
        if t.shape[1] != coef.shape[0]:
            what = "kernel values against the N training views" if self.kind == "dual" else "features"
            raise ValueError(f"x must have {coef.shape[0]} columns ({what}), got {t.shape[1]}")
        if self.kind == "dual":
            if self._center is not None:
                col_mean, all_mean = (a.to(t.device) for a in self._center)
                t = t - t.mean(dim=1, keepdim=True) - col_mean + all_mean  # (n_new, N)
        elif self._mean is not None:
            t = t - self._mean.to(t.device)
        return b.finish_many(t @ coef)  # (n_new, k)


def predicted_variances(nu: ArrayLike, *, beta: float = 1.0) -> Array:
    r"""Optimal embedding variances :math:`s_i = (1 - (1-\nu_i)/\beta)_+` for operator eigenvalues ``nu``.

    Returns
    -------
    Array
        The variances s_i, one per eigenvalue of ``nu``.

    Examples
    --------
    >>> predicted_variances([1.0, 0.5, -0.5], beta=1.0).tolist()
    [1.0, 0.5, 0.0]
    """
    beta = check_float(beta, "beta", low=0.0, low_open=True)
    t, b = to_tensor(nu, name="nu")
    if not bool(torch.isfinite(t).all()):
        raise ValueError("nu contains NaN or infinite values")
    return b.finish_many((1.0 - (1.0 - t.reshape(-1)) / beta).clamp_min(0.0))


def predicted_collapse_rank(nu: ArrayLike, *, beta: float = 1.0, k: int | None = None) -> int:
    r"""Predicted rank of the optimal k-dimensional embedding: :math:`\#\{i \le k : \nu_i > 1 - \beta\}` over the
    k largest ``nu`` (all of them when k is None).

    Returns
    -------
    int
        The predicted rank.

    Examples
    --------
    >>> predicted_collapse_rank([0.9, 0.2, -0.5, -3.0], beta=1.0)
    2
    """
    beta = check_float(beta, "beta", low=0.0, low_open=True)
    t, _ = to_tensor(nu, name="nu")
    t = t.reshape(-1).sort(descending=True).values
    if k is not None:
        k = check_int(k, "k", low=1, high=t.numel())
        t = t[:k]
    return int((t > 1.0 - beta).sum())


def vicreg_objective(embeddings: ArrayLike, groups: ArrayLike, *, beta: float = 1.0) -> float | torch.Tensor:
    r"""The empirical (unregularised) objective :math:`\beta\|\hat E[\psi\psi^\top]-I\|_F^2 + \hat E\|\psi(\xi)-
    \psi(\xi')\|^2` of view embeddings (N, k) grouped by input (uncentred second moment; differentiable).

    Returns
    -------
    float or torch.Tensor
        The objective's value (a tensor, differentiable, for tensor input).

    Examples
    --------
    Orthonormal, perfectly invariant embeddings reach 0.

    >>> import numpy as np
    >>> z = np.repeat(np.array([[1., 1.], [1., -1.], [-1., 1.], [-1., -1.]]), 2, axis=0)
    >>> vicreg_objective(z, np.repeat(np.arange(4), 2), beta=2.0)
    0.0
    """
    beta = check_float(beta, "beta", low=0.0, low_open=True)
    z, b = check_embeddings(embeddings, name="embeddings", min_samples=2)
    inverse, n, m = check_groups(groups, z.shape[0])
    sigma, cross, _ = view_moments(z, inverse, n, m)
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    value = beta * (sigma - eye).pow(2).sum() + 2 * torch.diagonal(sigma - cross).sum()
    return b.finish(value)


def _solve_moments(sigma: torch.Tensor, cross: torch.Tensor, *, k: int, beta: float, penalty: float, tol: float
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Kernel: Theta^T (p, k), g (r,) ascending, s (k,) from the second and cross moments (float64)."""
    ev, u = torch.linalg.eigh(sigma)  # (p,), (p, p)
    scale = ev[-1]
    if not bool(scale > 0):
        raise ValueError("the views' feature second moment is zero: there is nothing to represent")
    ev, cross, pen = ev / scale, cross / scale, penalty / float(scale)  # phi -> phi / sqrt(scale)
    sigma = sigma / scale
    keep = ev > tol
    r = int(keep.sum())
    if k > r:
        raise ValueError(f"k={k} exceeds the rank r={r} of the views' feature covariance (eigenvalues above "
                         f"tol={tol:g} times the largest); use k <= {r}")
    sh = u[:, keep] / ev[keep].sqrt()  # (p, r) Sigma^{-1/2} on its range
    d = 2.0 * (sigma - cross)  # (p, p) invariance matrix
    m_op = sh.T @ d @ sh + pen * torch.diag(1.0 / ev[keep])  # (r, r)
    g, v = torch.linalg.eigh((m_op + m_op.T) / 2)  # ascending
    s = (1.0 - g[:k] / (2.0 * beta)).clamp_min(0.0)  # (k,)
    theta_t = sh @ v[:, :k] * s.sqrt() / scale.sqrt()  # (p, k)
    return theta_t, g, s


def _finish(kind: str, coef: torch.Tensor, g: torch.Tensor, s: torch.Tensor, beta: float, lam: float,
            penalty: float, convention: str, b: Boundary, **private) -> ClosedFormSolution:
    mean = private.get("_mean")
    return ClosedFormSolution(
        kind=kind, coef=b.finish_many(coef), nu=b.finish_many(1.0 - g / 2.0), variances=b.finish_many(s),
        rank=int((s > 0).sum()), objective=float(beta * (1.0 - s.pow(2)).sum()), beta=beta, lam=lam,
        penalty=penalty, convention=convention, mean=None if mean is None else b.finish_many(mean), _coef=coef,
        **private)


def moment_closed_form(second_moment: ArrayLike, cross_moment: ArrayLike, *, k: int, beta: float = 1.0,
                       lam: float = 0.0, convention: str = "penalty", tol: float = 1e-10) -> ClosedFormSolution:
    r"""Closed-form minimiser from the views' moments (population or estimated).

    Parameters
    ----------
    second_moment : (p, p) :math:`\Sigma = E[\phi(\xi)\phi(\xi)^\top]` (PSD).
    cross_moment : (p, p) :math:`C = E[\phi(\xi)\phi(\xi')^\top]` over positive pairs (symmetrised here).
    k, beta, lam, convention, tol : see :func:`feature_closed_form`.

    Returns
    -------
    ClosedFormSolution with ``kind="moments"``: ``transform(features)`` embeds explicit features (n, p).

    Examples
    --------
    Two features with T-eigenvalues 0.9 and 0.5 (diagonal moments), beta = 1: s = nu.

    >>> import numpy as np
    >>> sol = moment_closed_form(np.eye(2), np.diag([0.9, 0.5]), k=2)
    >>> np.round(sol.variances, 12).tolist(), sol.rank
    ([0.9, 0.5], 2)
    """
    beta, lam, penalty = check_beta_lam(beta, lam, convention)
    tol = check_float(tol, "tol", low=0.0, high=1.0)
    sigma, b = check_gram(second_moment, name="second_moment", tol=tol)
    cross, _ = to_tensor(cross_moment, name="cross_moment")
    if tuple(cross.shape) != tuple(sigma.shape):
        raise ValueError(f"cross_moment must have the shape of second_moment {tuple(sigma.shape)}, "
                         f"got {tuple(cross.shape)}")
    if not bool(torch.isfinite(cross).all()):
        raise ValueError("cross_moment contains NaN or infinite values")
    k = check_int(k, "k", low=1)
    sigma64 = sigma.double()
    cross64 = cross.to(device=sigma.device, dtype=torch.float64)
    theta_t, g, s = _solve_moments(sigma64, (cross64 + cross64.T) / 2, k=k, beta=beta, penalty=penalty, tol=tol)
    return _finish("moments", theta_t, g, s, beta, lam, penalty, convention, b)


def feature_closed_form(features: ArrayLike, groups: ArrayLike, *, k: int, beta: float = 1.0, lam: float = 0.0,
                        convention: str = "penalty", center: bool = False, tol: float = 1e-10
                        ) -> ClosedFormSolution:
    r"""Primal closed form: explicit view features (N, p) and the input id of each view.

    Solves :math:`(\hat D + \lambda_{\rm pen} I)v = g\,\hat\Sigma v` after whitening (module docstring).

    Parameters
    ----------
    features : (N, p) array
        Features :math:`\phi(\xi_j)` of the N = n m views.
    groups : (N,) array
        Input id of each view; every input must have the same number m >= 2 of views.
    k : int
        Representation dimension; at most the rank of the feature covariance.
    beta : float > 0, default 1
        Weight of the variance-covariance term.
    lam : float >= 0, default 0
        Kernel (Tikhonov) penalty, in the units given by ``convention``.
    convention : {"penalty", "operator"}
        ``"penalty"``: objective + lam ||Theta||^2, operator T - (lam/2) K^{-1}. ``"operator"``: T - lam K^{-1}.
    center : bool, default False
        Centre the features first (then E[psi psi^T] is a covariance and the constant function is excluded).
    tol : float, default 1e-10
        Covariance eigenvalues below ``tol`` times the largest are treated as zero.

    Returns
    -------
    ClosedFormSolution (``kind="primal"``); ``transform(features_new)`` gives (n_new, k).

    Notes
    -----
    Cost O(N p^2 + p^3). Features at any scale are handled by normalising by the largest covariance
    eigenvalue (the problem with phi / c and lam / c^2 is the same, Theta scaled by c).

    Examples
    --------
    Each input's two views share features exactly (T = I on the span): with beta = 1 and lam = 0 the
    embedding keeps unit variances and the optimum is 0.

    >>> import numpy as np
    >>> phi = np.repeat(np.eye(3), 2, axis=0) * 3**0.5
    >>> sol = feature_closed_form(phi, np.repeat(np.arange(3), 2), k=3)
    >>> np.round(sol.variances, 12).tolist(), round(sol.objective, 12)
    ([1.0, 1.0, 1.0], 0.0)
    """
    beta, lam, penalty = check_beta_lam(beta, lam, convention)
    tol = check_float(tol, "tol", low=0.0, high=1.0)
    x, b = check_embeddings(features, name="features", min_samples=2)
    inverse, n, m = check_groups(groups, x.shape[0])
    k = check_int(k, "k", low=1)
    x64 = x.double()
    amax = x64.abs().amax()
    unit = amax if bool(amax > 0) else torch.ones((), dtype=torch.float64, device=x.device)
    sigma, cross, mean = view_moments(x64 / unit, inverse, n, m, center=bool(center))  # (p, p), (p, p), (p,)
    theta_t, g, s = _solve_moments(sigma, cross, k=k, beta=beta, penalty=penalty / float(unit) ** 2, tol=tol)
    return _finish("primal", theta_t / unit, g, s, beta, lam, penalty, convention, b,
                   _mean=(mean * unit) if center else None)


def kernel_closed_form(gram: ArrayLike, groups: ArrayLike, *, k: int, beta: float = 1.0, lam: float = 0.0,
                       convention: str = "penalty", center: bool = False, tol: float = 1e-10
                       ) -> ClosedFormSolution:
    r"""Dual closed form from the (N, N) Gram matrix of the views.

    With :math:`K = U\Lambda U^\top` (eigenvalues above ``tol`` times the largest kept) and the block-diagonal
    view Laplacian :math:`\mathcal L = \bigoplus_i \frac{2}{n m (m-1)}(m I_m - \mathbf 1\mathbf 1^\top)`,

    .. math:: M = N\,U^\top\mathcal L U + N\lambda_{\rm pen}\Lambda^{-1},\qquad
              \psi(x) = \sqrt N\,\operatorname{diag}(\sqrt{s})\,V_k^\top\Lambda^{-1}U^\top k(\text{views}, x),

    which equals the primal solution when :math:`K = \Phi\Phi^\top` (same M up to the isometry
    :math:`\Phi = U\Lambda^{1/2}W^\top`).

    Parameters
    ----------
    gram : (N, N) symmetric PSD array
        Kernel between all views. Non-symmetric or non-PSD input raises ``ValueError``.
    groups, k, beta, lam, convention, center, tol
        As in :func:`feature_closed_form`; ``center`` double-centres the Gram matrix.

    Returns
    -------
    ClosedFormSolution (``kind="dual"``, ``coef`` (N, k)); ``transform(k_new)`` takes kernel rows (n_new, N).

    Examples
    --------
    The linear kernel of the primal example gives the same variances.

    >>> import numpy as np
    >>> phi = np.repeat(np.eye(3), 2, axis=0) * 3**0.5
    >>> sol = kernel_closed_form(phi @ phi.T, np.repeat(np.arange(3), 2), k=3)
    >>> np.round(sol.variances, 12).tolist()
    [1.0, 1.0, 1.0]
    """
    beta, lam, penalty = check_beta_lam(beta, lam, convention)
    tol = check_float(tol, "tol", low=0.0, high=1.0)
    kt, b = check_gram(gram, name="gram", tol=tol)
    big_n = kt.shape[0]
    inverse, n, m = check_groups(groups, big_n)
    k = check_int(k, "k", low=1)
    k64 = kt.double()
    center_stats = None
    if center:
        col_mean = k64.mean(dim=0)  # (N,)
        all_mean = col_mean.mean()
        k64 = k64 - col_mean[None, :] - col_mean[:, None] + all_mean  # (N, N)
        center_stats = (col_mean, all_mean)
    ev, u = torch.linalg.eigh(k64)  # (N,), (N, N)
    scale = ev[-1]
    if not bool(scale > 0):
        raise ValueError("gram has no positive eigenvalue after centring: the kernel is constant on the views")
    ev = ev / scale
    keep = ev > tol
    r = int(keep.sum())
    if k > r:
        raise ValueError(f"k={k} exceeds the rank r={r} of the Gram matrix (eigenvalues above tol={tol:g} times "
                         f"the largest); use k <= {r}")
    ur, lr = u[:, keep], ev[keep]  # (N, r), (r,)
    inv = inverse.to(u.device)
    sums = torch.zeros(n, r, dtype=ur.dtype, device=ur.device).index_add_(0, inv, ur)  # (n, r) group sums
    lap_u = (2.0 / (n * m * (m - 1))) * (m * ur - sums[inv])  # (N, r) = Lap U
    m_op = big_n * (ur.T @ lap_u) + big_n * (penalty / float(scale)) * torch.diag(1.0 / lr)  # (r, r)
    g, v = torch.linalg.eigh((m_op + m_op.T) / 2)
    s = (1.0 - g[:k] / (2.0 * beta)).clamp_min(0.0)  # (k,)
    coef = (big_n ** 0.5) * (ur / lr) @ v[:, :k] * s.sqrt() / scale  # (N, k)
    return _finish("dual", coef, g, s, beta, lam, penalty, convention, b, _center=center_stats)
