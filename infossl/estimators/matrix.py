r"""Matrix-based Rényi :math:`\alpha`-entropy and mutual information (Sanchez Giraldo, Rao & Principe 2015).

For a sample :math:`z_1..z_n` and a positive definite kernel :math:`\kappa`, the Gram matrix
:math:`K_{ij} = \kappa(z_i, z_j)` normalised to unit trace, :math:`A = K / \operatorname{tr} K`, has
eigenvalues :math:`\lambda_i \ge 0` summing to 1, and

.. math::

    S_\alpha(A) = \frac{1}{1-\alpha} \ln \sum_i \lambda_i(A)^\alpha, \qquad
    S_1(A) = -\sum_i \lambda_i \ln \lambda_i .

The joint entropy uses the normalised Hadamard product :math:`A_{xy} = A_x \circ A_y / \operatorname{tr}(A_x
\circ A_y)` and :math:`I_\alpha(x; y) = S_\alpha(A_x) + S_\alpha(A_y) - S_\alpha(A_{xy})`.

This is **not** Shannon differential entropy: it is a functional of the Gram matrix, lies in
:math:`[0, \ln n]` nats, depends on the kernel width, and is invariant to translations, rotations and (with
the default width) scaling of the data. The cost is an O(n^3) eigendecomposition of an (n, n) matrix.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch

from infossl._backend import ArrayLike, full_precision, global_scale, to_tensor
from infossl._validation import check_embeddings, check_float, check_int, check_pair

__all__ = ["matrix_entropy", "renyi_entropy", "renyi_mutual_information"]

DEFAULT_MAX_SAMPLES = 4096


# ------------------------------------------------------------------------------------------ kernels


def _spectral_entropy(a: torch.Tensor, alpha: float) -> torch.Tensor:
    """S_alpha of a symmetric PSD matrix with unit trace, from its eigenvalues (0-d tensor)."""
    lam = torch.linalg.eigvalsh(a)                                          # (n,) ascending
    # Eigenvalues below the rounding level n * eps * lambda_max (numpy's matrix_rank rule) are zero: for
    # alpha < 1 each positive rounding residue ~1e-16 would otherwise add ~1e-8 to sum lambda^alpha.
    tol = a.shape[0] * torch.finfo(a.dtype).eps * lam[-1].detach()
    lam = torch.where(lam > tol, lam, torch.zeros_like(lam))
    lam = lam / lam.sum()
    pos = lam > 0
    log_lam = torch.where(pos, torch.log(torch.where(pos, lam, torch.ones_like(lam))), torch.zeros_like(lam))
    delta = alpha - 1.0
    if delta == 0.0:
        return 0.0 - (lam * log_lam).sum()                                  # von Neumann, 0 log 0 = 0
    if abs(delta) < torch.finfo(a.dtype).eps ** 0.25:
        # Cumulant expansion of ln sum lam^alpha = ln E_lam[exp(delta ln lam)] (ln lam under weights lam):
        # S = H - delta * var / 2 - delta^2 * k3 / 6 + O(delta^3); the direct quotient loses ~eps/|delta|.
        h = -(lam * log_lam).sum()
        dev = torch.where(pos, log_lam + h, torch.zeros_like(lam))          # (n,) ln lam - E[ln lam]
        var = (lam * dev ** 2).sum()
        k3 = (lam * dev ** 3).sum()
        return h - delta * var / 2 - delta ** 2 * k3 / 6
    terms = torch.where(pos, alpha * log_lam, torch.full_like(lam, -float("inf")))   # (n,)
    return torch.logsumexp(terms, dim=0) / (1.0 - alpha)


def _sq_dists(u: torch.Tensor) -> torch.Tensor:
    """(n, n) squared Euclidean distances by the matmul identity, clamped at 0, zero diagonal."""
    norms = (u * u).sum(1)                                                  # (n,)
    sq = (norms[:, None] + norms[None, :] - 2.0 * u @ u.T).clamp(min=0.0)  # (n, n)
    return sq * (1.0 - torch.eye(u.shape[0], device=u.device, dtype=u.dtype))


def _gaussian_gram(z: torch.Tensor, sigma: Optional[float]) -> torch.Tensor:
    """Unit-trace Gaussian Gram matrix A = K / n with K_ij = exp(-|z_i - z_j|^2 / (2 sigma^2))."""
    scale = global_scale(z).detach()
    if not bool(scale > 0):                                                 # all rows identical: K = 1
        scale = torch.ones((), device=z.device, dtype=z.dtype)
    u = (z - z.detach().mean(0)) / scale                                    # (n, d) unit-RMS coordinates
    sq = _sq_dists(u)                                                       # (n, n)
    if sigma is None:
        n = z.shape[0]
        upper = sq[torch.triu(torch.ones(n, n, dtype=torch.bool, device=z.device), diagonal=1)]  # (n(n-1)/2,)
        positive = upper[upper > 0]
        one = torch.ones((), device=z.device, dtype=z.dtype)
        width = positive.sqrt().median() if positive.numel() else one      # lower median of distances
    else:
        width = sigma / scale
    k = torch.exp(-sq / (2.0 * width * width))                              # (n, n)
    return k / z.shape[0]


# --------------------------------------------------------------------------------------- validation


def _check_alpha(alpha: object) -> float:
    return check_float(alpha, "alpha", low=0.0, low_open=True)


def _check_size(n: int, max_samples: object, name: str) -> None:
    max_samples = check_int(max_samples, "max_samples", low=1)
    if n > max_samples:
        raise ValueError(
            f"{name} has n={n} samples, more than max_samples={max_samples}: the eigendecomposition costs "
            f"O(n^3) time and O(n^2) memory. Subsample, e.g. {name}[rng.choice({n}, {max_samples}, "
            f"replace=False)], or raise max_samples")


def _check_sigma(sigma: object, name: str = "sigma") -> Optional[float]:
    if sigma is None:
        return None
    if isinstance(sigma, torch.Tensor) and sigma.numel() == 1:
        sigma = float(sigma)
    return check_float(sigma, name, low=0.0, low_open=True)


# ------------------------------------------------------------------------------------------- public


@full_precision
def matrix_entropy(gram: ArrayLike, *, alpha: float = 1.0,
                   max_samples: int = DEFAULT_MAX_SAMPLES) -> Union[float, torch.Tensor]:
    r"""Matrix-based Rényi :math:`\alpha`-entropy of a positive semidefinite Gram matrix, in nats.

    .. math::

        A = \frac{G}{\operatorname{tr} G}, \qquad
        S_\alpha(A) = \frac{1}{1-\alpha}\ln\sum_i \lambda_i(A)^\alpha, \qquad
        S_1(A) = -\sum_i \lambda_i(A)\ln\lambda_i(A)

    Parameters
    ----------
    gram : array_like or torch.Tensor, shape (n, n)
        Symmetric positive semidefinite Gram matrix (any kernel, any scale: it is normalised to unit trace).
    alpha : float > 0
        Rényi order. ``alpha=1`` is the von Neumann entropy, evaluated exactly; for :math:`|\alpha - 1|`
        below :math:`\epsilon^{1/4}` of the dtype a second-order cumulant expansion replaces the quotient,
        so the value is continuous in ``alpha``.
    max_samples : int
        Largest n accepted (O(n^3) cost).

    Returns
    -------
    float or torch.Tensor
        :math:`S_\alpha` in nats, in :math:`[0, \ln \operatorname{rank} G]`: a float for numpy input, a 0-d
        tensor (differentiable through ``eigvalsh``) for torch input.

    Notes
    -----
    Eigenvalues of A below the rounding level :math:`n\,\epsilon\,\lambda_{\max}` (the rank tolerance of
    ``numpy.linalg.matrix_rank``) are set to 0, with :math:`0 \ln 0 = 0`, so that rounding residues do not
    inflate :math:`\sum_i \lambda_i^\alpha` for :math:`\alpha < 1`; eigenvalues below
    :math:`-100\,n\,\epsilon` are an error (the matrix is not PSD). Gradients of :math:`\lambda^\alpha` are
    unbounded as :math:`\lambda \to 0^+` when :math:`\alpha < 1`. Not a Shannon differential entropy.

    References
    ----------
    .. [1] L. G. Sanchez Giraldo, M. Rao and J. C. Principe, "Measures of entropy from data using infinitely
       divisible kernels", IEEE Trans. Inf. Theory 61(1):535-548, 2015, arXiv:1211.2459 (matrix-based
       alpha-entropy: Definition 4.1 / eq. (4.1); joint entropy by the Hadamard product: Section 5).

    Examples
    --------
    The identity has n equal eigenvalues 1/n, so every order gives ln n:

    >>> import math, numpy as np
    >>> round(matrix_entropy(np.eye(8), alpha=2.0), 12) == round(math.log(8), 12)
    True
    """
    alpha = _check_alpha(alpha)
    g, b = to_tensor(gram, name="gram")
    if g.ndim != 2 or g.shape[0] != g.shape[1] or g.shape[0] == 0:
        raise ValueError(f"gram must be a square (n, n) matrix, got shape {tuple(g.shape)}")
    n = g.shape[0]
    _check_size(n, max_samples, "gram")
    if not bool(torch.isfinite(g).all()):
        raise ValueError("gram contains NaN or infinite values")
    size = g.detach().abs().amax()
    asym = (g - g.T).detach().abs().amax()
    if bool(asym > max(1e-6, 100 * torch.finfo(g.dtype).eps) * size):
        raise ValueError(f"gram must be symmetric; max |gram - gram^T| = {float(asym):.3g}")
    trace = torch.diagonal(g).sum()
    if not bool(trace > 0):
        raise ValueError(f"gram must have a positive trace, got {float(trace):.6g}")
    a = 0.5 * (g + g.T) / trace                                             # (n, n)
    lam_min = float(torch.linalg.eigvalsh(a.detach())[0])
    if lam_min < -100 * n * torch.finfo(g.dtype).eps:
        raise ValueError(f"gram is not positive semidefinite: smallest eigenvalue of gram / trace(gram) "
                         f"is {lam_min:.3g}")
    return b.finish(_spectral_entropy(a, alpha))


@full_precision
def renyi_entropy(z: ArrayLike, *, alpha: float = 1.0, sigma: Optional[float] = None,
                  max_samples: int = DEFAULT_MAX_SAMPLES) -> Union[float, torch.Tensor]:
    r"""Matrix-based Rényi :math:`\alpha`-entropy of a sample with a Gaussian kernel, in nats.

    .. math::

        K_{ij} = \exp\!\Big(-\frac{\lVert z_i - z_j\rVert^2}{2\sigma^2}\Big), \qquad A = K / n, \qquad
        S_\alpha(A) = \frac{1}{1-\alpha}\ln\sum_i \lambda_i(A)^\alpha

    Parameters
    ----------
    z : array_like or torch.Tensor, shape (n, d)
        Samples (1-D input is read as (n, 1)).
    alpha : float > 0
        Rényi order; 1 gives the von Neumann entropy (see :func:`matrix_entropy`).
    sigma : float, optional
        Kernel width in the units of ``z``. Default: the median heuristic, sigma = the (lower) median of the
        positive pairwise Euclidean distances. It is chosen over Silverman's rule
        (:math:`1.06\,\hat s\, n^{-1/(4+d)}`) because it adapts to the dimension: in d dimensions typical
        distances grow like :math:`\sqrt{2d}\,\hat s`, so a Silverman-width kernel tends to the identity
        and the entropy saturates at ln n, while the median width keeps the typical kernel value at
        :math:`e^{-1/2}`. The default makes the estimate invariant to scaling of ``z``.
    max_samples : int
        Largest n accepted (default 4096; the cost is O(n^3) time, O(n^2) memory).

    Returns
    -------
    float or torch.Tensor
        :math:`S_\alpha` in nats, in :math:`[0, \ln n]`: a float for numpy input, a 0-d tensor for torch input
        (differentiable in ``z``, also through the data-dependent default width).

    Notes
    -----
    Not Shannon differential entropy: it is a functional of the Gram matrix, bounded by ln n, and moves with
    ``sigma`` (0 as sigma -> infinity, ln n as sigma -> 0 for distinct points). Compare values only at the
    same n and the same width rule. Identical rows give 0 for any width; duplicates are allowed (the default
    width ignores zero distances, and equals 1 when all rows coincide).

    References
    ----------
    .. [1] L. G. Sanchez Giraldo, M. Rao and J. C. Principe, "Measures of entropy from data using infinitely
       divisible kernels", IEEE Trans. Inf. Theory 61(1):535-548, 2015, arXiv:1211.2459 (matrix-based
       alpha-entropy: Definition 4.1 / eq. (4.1); joint entropy by the Hadamard product: Section 5).

    Examples
    --------
    Points far apart compared with the width give K = I, hence ln n:

    >>> import math, numpy as np
    >>> round(renyi_entropy(np.arange(5.0), sigma=1e-3), 12) == round(math.log(5), 12)
    True
    """
    alpha = _check_alpha(alpha)
    sigma = _check_sigma(sigma)
    t, b = check_embeddings(z, name="z", min_samples=1)
    _check_size(t.shape[0], max_samples, "z")
    return b.finish(_spectral_entropy(_gaussian_gram(t, sigma), alpha))


@full_precision
def renyi_mutual_information(x: ArrayLike, y: ArrayLike, *, alpha: float = 1.0,
                             sigma: Union[None, float, Sequence[Optional[float]]] = None,
                             max_samples: int = DEFAULT_MAX_SAMPLES) -> Union[float, torch.Tensor]:
    r"""Matrix-based Rényi :math:`\alpha`-mutual information with Gaussian kernels, in nats.

    .. math::

        A_{xy} = \frac{A_x \circ A_y}{\operatorname{tr}(A_x \circ A_y)}, \qquad
        I_\alpha(x; y) = S_\alpha(A_x) + S_\alpha(A_y) - S_\alpha(A_{xy})

    Parameters
    ----------
    x, y : array_like or torch.Tensor, shapes (n, d_x) and (n, d_y)
        Paired samples (row i of x goes with row i of y).
    alpha : float > 0
        Rényi order.
    sigma : float or (float or None, float or None), optional
        Kernel widths: one value for both, a pair (sigma_x, sigma_y), or None for the median heuristic on
        each variable separately (see :func:`renyi_entropy`).
    max_samples : int
        Largest n accepted.

    Returns
    -------
    float or torch.Tensor
        :math:`I_\alpha` in nats. Since :math:`S_\alpha(A_{xy}) \ge \max(S_\alpha(A_x), S_\alpha(A_y))`, it is
        at most :math:`\min(S_\alpha(A_x), S_\alpha(A_y))`. It can be slightly negative.

    Bias: for independent samples the value is not 0 but positive, and more so for small ``alpha``
    (n = 200 independent Gaussians in 2 and 3 dimensions, median widths, 30 seeds: mean 0.56, 0.11 and
    0.008 nats at alpha = 0.5, 1, 2, range -0.02 to 0.62). Compare values at the same n, alpha and widths,
    or against a permutation baseline (shuffle the rows of ``y``).

    Notes
    -----
    For Gaussian kernels :math:`K_x \circ K_x` is the Gaussian Gram at width :math:`\sigma/\sqrt2`, so
    :math:`I_\alpha(x; x) = 2 S_\alpha^{\sigma} - S_\alpha^{\sigma/\sqrt2}`, which is smaller than
    :math:`S_\alpha(A_x)`: the "self-information" is not the entropy, unlike for Shannon quantities.

    References
    ----------
    .. [1] L. G. Sanchez Giraldo, M. Rao and J. C. Principe, "Measures of entropy from data using infinitely
       divisible kernels", IEEE Trans. Inf. Theory 61(1):535-548, 2015, arXiv:1211.2459 (matrix-based
       alpha-entropy: Definition 4.1 / eq. (4.1); joint entropy by the Hadamard product: Section 5).

    Examples
    --------
    With widths tiny against the spacing all three Gram matrices are I/n, so I = ln n + ln n - ln n:

    >>> import math, numpy as np
    >>> x = np.arange(6.0)
    >>> round(renyi_mutual_information(x, x[::-1], sigma=1e-3), 12) == round(math.log(6), 12)
    True
    """
    alpha = _check_alpha(alpha)
    if sigma is None or isinstance(sigma, (int, float, np.floating, np.integer, torch.Tensor)):
        sx = sy = _check_sigma(sigma)
    elif isinstance(sigma, (tuple, list)) and len(sigma) == 2:
        sx, sy = _check_sigma(sigma[0], "sigma[0]"), _check_sigma(sigma[1], "sigma[1]")
    else:
        raise TypeError(f"sigma must be None, a positive number or a pair of them, got {sigma!r}")
    tx, ty, b = check_pair(x, y, min_samples=1)
    _check_size(tx.shape[0], max_samples, "x")
    ax = _gaussian_gram(tx, sx)                                             # (n, n)
    ay = _gaussian_gram(ty, sy)                                             # (n, n)
    axy = ax * ay                                                           # (n, n)
    axy = axy / torch.diagonal(axy).sum()
    value = _spectral_entropy(ax, alpha) + _spectral_entropy(ay, alpha) - _spectral_entropy(axy, alpha)
    return b.finish(value)
