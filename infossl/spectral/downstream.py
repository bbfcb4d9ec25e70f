r"""Downstream predictor for a learned representation: captured fraction, probe variance, and baselines.

With a representation :math:`\psi: X \to \mathbb R^k` and a target :math:`f^\star` observed with noise of variance
:math:`\sigma^2` on :math:`n_l` labelled points, a least-squares linear probe has (Cabannes et al. 2023,
arXiv 2302.02774, Sec. 4, quadratic loss; exact constants from the Gaussian-design OLS formula below)

.. math::

    \mathbb E\|\hat f - f^\star\|^2 \approx
    \underbrace{(1-\rho)\|f^\star\|^2}_{\text{approximation}}
    + \underbrace{\big(\sigma^2 + (1-\rho)\|f^\star\|^2\big)\frac{p}{n_l-p-1}}_{\text{estimation}},
    \qquad \rho = \frac{\|\Pi_{\mathrm{span}(1,\psi)}f^\star\|^2}{\|f^\star\|^2},

p = k + 1 with an intercept. The estimation term is exact for ordinary least squares with Gaussian features and
Gaussian residuals (e.g. Breiman & Freedman 1983; Hastie et al. 2022, arXiv 1903.08560, Sec. 3); for other
designs it is the usual approximation :math:`\approx \sigma^2 p / n_l`. The reading: once the span captures
f* (rho -> 1), about k labels suffice, whereas kernel ridge regression needs as many labels as kernel
eigenfunctions above f*'s level.
"""

from __future__ import annotations

import math

import torch

from infossl._backend import ArrayLike
from infossl._validation import check_embeddings, check_float, check_int


def _target(y: ArrayLike, n: int, name: str) -> torch.Tensor:
    t, _ = check_embeddings(y, name=name, min_samples=1)
    if t.shape[1] != 1 or t.shape[0] != n:
        raise ValueError(f"{name} must be a vector of {n} values (one per point), got shape {tuple(t.shape)}")
    return t.reshape(-1)


def _design(x: torch.Tensor, intercept: bool) -> torch.Tensor:
    if intercept:
        return torch.cat([torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device), x], dim=1)  # (n, k+1)
    return x


def captured_fraction(embedding: ArrayLike, target: ArrayLike, *, weights: ArrayLike | None = None,
                      intercept: bool = True, tol: float = 1e-10) -> float | torch.Tensor:
    r"""Fraction of a target's squared norm in the span of the embedding (and the constant, with ``intercept``).

    .. math:: \rho = \|\Pi_{\mathrm{span}(1, \psi_1..\psi_k)} f\|_w^2 / \|f\|_w^2, \qquad
              \|f\|_w^2 = \textstyle\sum_j w_j f(x_j)^2

    over the evaluation points x_j (e.g. the whole hypercube, or a large held-out sample).

    Parameters
    ----------
    embedding : (n, k) psi at the evaluation points. Collapsed (zero) or collinear columns are allowed:
        directions with singular value below ``tol`` times the largest are dropped.
    target : (n,) f at the same points; must not be identically zero.
    weights : (n,) non-negative probability weights, default uniform.
    intercept : bool, default True

    Returns
    -------
    float in [0, 1] (0-d tensor for torch input).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.], [-1.], [1.], [-1.]]); f = np.array([2., -2., 1., -1.])
    >>> round(captured_fraction(x, f, intercept=False), 12)
    0.9
    """
    tol = check_float(tol, "tol", low=0.0, high=1.0)
    z, b = check_embeddings(embedding, name="embedding", min_samples=1)
    z = z.double()
    f = _target(target, z.shape[0], "target").to(device=z.device, dtype=z.dtype)
    if weights is None:
        w = torch.full_like(f, 1.0 / f.numel())
    else:
        w = _target(weights, z.shape[0], "weights").to(device=z.device, dtype=z.dtype)
        if bool((w < 0).any()) or not bool(w.sum() > 0):
            raise ValueError("weights must be non-negative with a positive sum")
        w = w / w.sum()
    total = (w * f * f).sum()
    if not bool(total > 0):
        raise ValueError("target is identically zero (on the weighted points): the captured fraction is undefined")
    sw = w.sqrt()
    a = _design(z, intercept) * sw[:, None]  # (n, p) weighted design
    u, s, _ = torch.linalg.svd(a, full_matrices=False)
    if s.numel() == 0 or not bool(s[0] > 0):
        return b.finish(torch.zeros((), dtype=z.dtype, device=z.device))
    ur = u[:, s > tol * s[0]]  # (n, r) orthonormal basis of the span
    proj = ur.T @ (sw * f)  # (r,)
    return b.finish((proj.pow(2).sum() / total).clamp(0.0, 1.0))


def probe_risk(captured: float, *, n_labels: int, dim: int, target_norm2: float = 1.0, noise_var: float = 0.0,
               intercept: bool = True) -> dict[str, float]:
    r"""Predicted test risk of a least-squares linear probe on a k-dimensional representation.

    approximation :math:`A = (1-\rho)\|f^\star\|^2`, estimation :math:`(\sigma^2 + A)\,p/(n_l-p-1)` with
    p = dim + intercept (module docstring); ``risk`` is their sum. When :math:`n_l \le p + 1` the
    least-squares probe interpolates and its expected risk is infinite: ``estimation`` and ``risk`` are
    ``inf`` (documented, not an error).

    Returns
    -------
    dict of str to float
        The predicted test risk and its parts.

    Examples
    --------
    >>> probe_risk(0.97, n_labels=100, dim=21, noise_var=0.0)["approximation"]
    0.030000000000000027
    """
    captured = check_float(captured, "captured", low=0.0, high=1.0)
    n_labels = check_int(n_labels, "n_labels", low=1)
    dim = check_int(dim, "dim", low=0)
    target_norm2 = check_float(target_norm2, "target_norm2", low=0.0)
    noise_var = check_float(noise_var, "noise_var", low=0.0)
    p = dim + int(bool(intercept))
    approx = (1.0 - captured) * target_norm2
    est = (noise_var + approx) * p / (n_labels - p - 1) if n_labels > p + 1 else math.inf
    return {"approximation": approx, "estimation": est, "risk": approx + est}


def linear_probe_mse(x_train: ArrayLike, y_train: ArrayLike, x_test: ArrayLike, y_test: ArrayLike, *,
                     l2_penalty: float = 0.0, intercept: bool = True) -> float:
    r"""Test MSE of an L2-penalised linear probe :math:`\min_w \frac1{n}\|y - Xw\|^2 + \lambda\|w\|^2`
    (intercept unpenalised, fitted by centring). ``l2_penalty`` is :math:`\lambda`; 0 gives the minimum-norm
    least-squares fit.

    Returns
    -------
    float
        The test mean squared error.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(6.)[:, None]; y = 2 * x[:, 0] + 1
    >>> round(linear_probe_mse(x, y, x, y), 10)
    0.0
    """
    l2_penalty = check_float(l2_penalty, "l2_penalty", low=0.0)
    xtr, _ = check_embeddings(x_train, name="x_train", min_samples=1)
    xte, _ = check_embeddings(x_test, name="x_test", min_samples=1)
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"x_train and x_test must have the same number of columns, got {xtr.shape[1]} and "
                         f"{xte.shape[1]}")
    xtr, xte = xtr.double(), xte.double().to(xtr.device)
    ytr = _target(y_train, xtr.shape[0], "y_train").double().to(xtr.device)
    yte = _target(y_test, xte.shape[0], "y_test").double().to(xtr.device)
    n = xtr.shape[0]
    mx = xtr.mean(dim=0) if intercept else torch.zeros(xtr.shape[1], dtype=xtr.dtype, device=xtr.device)
    my = ytr.mean() if intercept else torch.zeros((), dtype=xtr.dtype, device=xtr.device)
    xc, yc = xtr - mx, ytr - my  # (n, k), (n,)
    if l2_penalty > 0:
        eye = torch.eye(xc.shape[1], dtype=xc.dtype, device=xc.device)
        coef = torch.linalg.solve(xc.T @ xc / n + l2_penalty * eye, xc.T @ yc / n)  # (k,)
    else:
        coef = torch.linalg.pinv(xc, rtol=1e-10) @ yc
    pred = (xte - mx) @ coef + my  # (n_test,)
    return float((pred - yte).pow(2).mean())


def kernel_ridge_mse(gram_train: ArrayLike, y_train: ArrayLike, gram_test: ArrayLike, y_test: ArrayLike, *,
                     l2_penalty: float) -> float:
    r"""Test MSE of kernel ridge regression :math:`\hat f = k(\cdot, X)(K + n\lambda I)^{-1}y`
    (the minimiser of :math:`\frac1n\sum_i (y_i - f(x_i))^2 + \lambda\|f\|_{\mathcal H}^2`).

    Parameters
    ----------
    gram_train : (n, n) kernel between training points (symmetric PSD).
    gram_test : (n_test, n) kernel between test and training points.
    l2_penalty : float > 0
        :math:`\lambda`, the weight of the RKHS-norm penalty.

    Returns
    -------
    float
        The test mean squared error.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 5)[:, None]; k = x @ x.T; y = 3 * x[:, 0]
    >>> round(kernel_ridge_mse(k, y, k, y, l2_penalty=1e-12), 8)
    0.0
    """
    l2_penalty = check_float(l2_penalty, "l2_penalty", low=0.0, low_open=True)
    ktr, _ = check_embeddings(gram_train, name="gram_train", min_samples=1)
    n = ktr.shape[0]
    if ktr.shape[1] != n:
        raise ValueError(f"gram_train must be square, got shape {tuple(ktr.shape)}")
    kte, _ = check_embeddings(gram_test, name="gram_test", min_samples=1)
    if kte.shape[1] != n:
        raise ValueError(f"gram_test must have {n} columns (one per training point), got {kte.shape[1]}")
    ktr, kte = ktr.double(), kte.double().to(ktr.device)
    ytr = _target(y_train, n, "y_train").double().to(ktr.device)
    yte = _target(y_test, kte.shape[0], "y_test").double().to(ktr.device)
    eye = torch.eye(n, dtype=ktr.dtype, device=ktr.device)
    alpha = torch.linalg.solve((ktr + ktr.T) / 2 + n * l2_penalty * eye, ytr)  # (n,)
    return float((kte @ alpha - yte).pow(2).mean())
