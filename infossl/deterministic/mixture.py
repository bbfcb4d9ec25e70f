"""From a network and Gaussian input noise to the Gaussian mixture of its outputs.

Model (Shwartz-Ziv, Balestriero, Kawaguchi, Rudner & LeCun, arXiv:2303.00633, Section 3; arXiv:2207.10081):
the input is a mixture of Gaussians around the data points, :math:`X = x_T + \\varepsilon`, with
:math:`T` uniform on :math:`\\{1..n\\}` and :math:`\\varepsilon \\sim \\mathcal N(0, \\Sigma_x)` standing for
the augmentation noise. To first order in the noise, the output :math:`Z = f(X)` is the mixture

.. math::

    p(z) = \\frac1n \\sum_{i=1}^n \\mathcal N\\big(z;\\, f(x_i),\\; J_i \\Sigma_x J_i^\\top + \\delta I_K\\big).

This is exact only for an affine network. A Gaussian has unbounded support, so for a ReLU network every
noisy copy crosses into other linear regions with positive probability: the component is then a Gaussian
truncated to :math:`x_i`'s region plus the mass pushed through other regions, and the mixture above is an
approximation whose error is governed by the probability of leaving the region (small noise regime; see
:func:`~infossl.deterministic.regime_check`), not an identity.

The ridge :math:`\\delta I_K` is read as a small independent output noise. It is needed whenever
:math:`J_i \\Sigma_x J_i^\\top` is singular (K > D, dead ReLU units, a rank-deficient sketch or fewer than
K+1 views), and it then dominates the log-determinant of the singular directions: entropies of a singular
mixture are :math:`-\\infty`, and every finite number reported for one depends on ``ridge``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from infossl._backend import chunk_size_for, iter_chunks, to_tensor
from infossl._validation import check_choice, check_float, check_generator, check_int, warn_degenerate
from infossl.deterministic.jacobian import check_model, jacobians, noise_factor, sketch_covariance_factor

__all__ = ["OutputMixture", "output_mixture"]

METHODS = ("auto", "exact", "sketch", "views")


@dataclass(frozen=True)
class OutputMixture:
    """The Gaussian mixture of a network's outputs under input noise (uniform weights).

    Attributes
    ----------
    means : torch.Tensor, shape (n, K)
        Component means :math:`f(x_i)` (the mean of the views' outputs for ``method="views"`` without ``x``).
    cov : torch.Tensor, shape (n, K, K) or None
        Full component covariances :math:`J_i\\Sigma_x J_i^\\top` **without** the output noise (exact and
        views routes).
    factor : torch.Tensor, shape (n, K, r) or None
        Low-rank factor :math:`F_i` with :math:`F_i F_i^\\top \\approx J_i\\Sigma_x J_i^\\top` (sketch route).
    output_noise_var : float
        Variance :math:`\\delta` of the independent output noise (absolute: :func:`output_mixture`'s
        relative ``ridge`` times the mean output variance), added to every covariance's diagonal in
        :meth:`covariances`.
    method : str
        "exact", "sketch" or "views".
    """

    means: torch.Tensor
    cov: torch.Tensor | None
    factor: torch.Tensor | None
    output_noise_var: float
    method: str

    @property
    def n(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def weights(self) -> torch.Tensor:
        """Uniform component weights, shape (n,)."""
        return torch.full((self.n,), 1.0 / self.n, dtype=self.means.dtype, device=self.means.device)

    def covariances(self, *, with_output_noise: bool = True) -> torch.Tensor:
        """Per-component covariances (n, K, K), plus ``output_noise_var * I`` unless
        ``with_output_noise=False``.

        Returns
        -------
        torch.Tensor
            (n, K, K) component covariances.
        """
        c = self.cov if self.cov is not None else self.factor @ self.factor.transpose(1, 2)   # (n, K, K)
        if with_output_noise and self.output_noise_var > 0:
            c = c + self.output_noise_var * torch.eye(self.dim, dtype=c.dtype, device=c.device)
        return c



def model_placement(model: Callable, x: object) -> tuple[torch.device, torch.dtype]:
    """Device and dtype to run ``model`` in: its first parameter's, else a float tensor input's, else the CPU
    in float64 (float32 for a non-float tensor input)."""
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device, p.dtype
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x.device, x.dtype
    return torch.device("cpu"), torch.float32 if isinstance(x, torch.Tensor) else torch.float64


def checked_model_input(a: object, name: str, device: torch.device, dtype: torch.dtype,
                        min_ndim: int) -> torch.Tensor:
    """``a`` as a finite real tensor on ``device`` / ``dtype`` with at least ``min_ndim`` dimensions and rows.

    It enters through :func:`infossl._backend.to_tensor` (the one conversion: booleans, complex numbers,
    strings, objects, ragged lists, meta and sparse tensors are refused there, naming ``name``); the checks of
    :func:`~infossl._validation.check_embeddings` do not apply, since a model input may have any number of
    trailing dimensions."""
    t, _ = to_tensor(a, name=name)
    t = t.to(device=device, dtype=dtype)
    if t.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions "
                         f"({'(n, ...)' if min_ndim == 2 else '(n, M, ...)'}); got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains {int((~torch.isfinite(t)).sum())} NaN or infinite values")
    return t


def checked_model_outputs(model: Callable, x: torch.Tensor, name: str) -> torch.Tensor:
    """``model(x)`` without gradients, flattened to (n, K); a shape mismatch or a non-finite output is a
    ValueError that names ``name``."""
    try:
        with torch.no_grad():
            out = model(x)
    except RuntimeError as exc:  # typically a shape mismatch between the inputs and the first layer
        raise ValueError(f"model failed on {name} of shape {tuple(x.shape)}: {exc}") from exc
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != x.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"model must map {name} of shape {tuple(x.shape)} to a tensor with {x.shape[0]} "
                         f"rows, got {shape}")
    out = out.reshape(out.shape[0], -1)                                               # (n, K)
    bad = ~torch.isfinite(out)
    if bool(bad.any()):
        raise ValueError(f"model outputs contain {int(bad.sum())} non-finite values on {name} "
                         f"(first at row {int(torch.nonzero(bad)[0, 0])})")
    return out


def _overflow_error(method: str, noise_std: float | None, dtype: torch.dtype) -> ValueError:
    """The error for covariances (or a noise factor) beyond the range of the model's dtype."""
    if method == "views":
        cause = "the views' outputs spread too far"
    else:
        cause = (f"noise_std={noise_std:g}" if noise_std is not None else "noise_cov") + " is too large"
    return ValueError(
        f"the output covariances of the {method} route overflow {dtype} (largest finite value "
        f"{torch.finfo(dtype).max:.3g}): {cause} for the model's dtype. Use a float64 model, or a smaller "
        "noise (the small-noise mixture is only meaningful while the noise keeps each input within its "
        "linear region)")


def output_mixture(model: Callable, x: object = None, *, noise_std: float | None = None,
                   noise_cov: object = None, method: str = "auto", views: object = None,
                   rank: int | None = None, ridge: float = 1e-6, chunk_size: int | None = None,
                   generator: object = None) -> OutputMixture:
    r"""Gaussian mixture of a network's outputs under Gaussian input noise.

    .. math::

        Z \mid T{=}i \;\sim\; \mathcal N\big(f(x_i),\; J_i\Sigma_x J_i^\top + \delta I\big), \qquad
        \delta = \mathrm{ridge}\cdot \frac1{nK}\sum_i \operatorname{tr}(J_i\Sigma_x J_i^\top)

    Parameters
    ----------
    model : torch.nn.Module or callable
        Maps a batch (m, *input_shape) to outputs (m, K) (trailing output dims are flattened). Must act on
        each sample independently: modules with BatchNorm or Dropout in train mode are refused (call
        ``model.eval()``). Computed on the device and dtype of the model's first parameter.
    x : array_like or torch.Tensor, shape (n, *input_shape)
        Data points (component centres). Required except for ``method="views"``.
    noise_std : float, optional
        Isotropic input-noise standard deviation (:math:`\Sigma_x = \sigma^2 I_D`), > 0.
    noise_cov : array_like, shape (D,) or (D, D), optional
        Diagonal or full input-noise covariance shared by all inputs (D = prod(input_shape)).
    method : {"auto", "exact", "sketch", "views"}
        "exact": per-sample Jacobians via ``torch.func`` (forward mode when D < K). "sketch": rank-``rank``
        randomized range finder from ``rank`` JVPs and VJPs per sample (exact when ``rank >= K``).
        "views": empirical covariance of the outputs of M augmented views per input (no noise model
        needed). "auto": "views" if ``views`` is given, else "sketch" if ``rank`` is given, else "exact".
    views : array_like, shape (n, M, *input_shape), optional
        M >= 2 augmented copies of each input for ``method="views"``.
    rank : int, optional
        Sketch rank r >= 1 for ``method="sketch"`` (default min(K, 32)).
    ridge : float
        Relative ridge >= 0: :math:`\delta` is ``ridge`` times the mean per-dimension output variance
        :math:`\frac1{nK}\sum_i \mathrm{tr}\,C_i`. Read as a small output noise; it keeps singular
        covariances (K > D, dead units, low rank) invertible and then dominates their log-determinants.
    chunk_size : int, optional
        Samples per Jacobian/sketch block (default from a ~256 MiB budget). Results do not depend on it
        (up to round-off; for the sketch, also up to the random probes drawn per chunk).
    generator : None, int or torch.Generator
        Random probes of the sketch.

    Returns
    -------
    OutputMixture
        Means (n, K), covariances (n, K, K) or a low-rank factor (n, K, r), the absolute output-noise variance
        :math:`\delta`, the method.

    Notes
    -----
    A rank-deficient covariance (K > D, or dead units, or views with M <= K) emits a
    ``DegenerateInputWarning``: the mixture's entropies then depend on ``ridge``.

    References
    ----------
    .. [1] R. Shwartz-Ziv, R. Balestriero, K. Kawaguchi, T. G. J. Rudner, Y. LeCun, "An information-theoretic
       perspective on variance-invariance-covariance regularization", NeurIPS 2023, arXiv:2303.00633
       (Section 3: deterministic network, input noise, output Gaussian mixture).
    .. [2] N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness", SIAM Review 53(2),
       2011, arXiv:0909.4061 (Algorithm 4.1, randomized range finder).

    Examples
    --------
    A linear map sends N(x_i, s^2 I) to N(W x_i, s^2 W W^T) exactly:

    >>> import torch
    >>> lin = torch.nn.Linear(3, 2, bias=False).double()
    >>> mix = output_mixture(lin, torch.randn(5, 3, dtype=torch.float64), noise_std=0.1, ridge=0.0)
    >>> W = lin.weight.detach()
    >>> bool(torch.allclose(mix.covariances()[0], 0.01 * W @ W.T))
    True
    """
    check_model(model)
    method = check_choice(method, "method", METHODS)
    ridge = check_float(ridge, "ridge", low=0.0)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    if method == "auto":
        method = "views" if views is not None else ("sketch" if rank is not None else "exact")
    device, dtype = model_placement(model, x if x is not None else views)

    if method == "views":
        if views is None:
            raise ValueError('method="views" needs views= of shape (n, M, *input_shape)')
        v = checked_model_input(views, "views", device, dtype, 3)
        n, m = v.shape[0], v.shape[1]
        if m < 2:
            raise ValueError(f"views needs at least 2 views per input (shape (n, M, ...)), got M={m}")
        if x is not None:
            xt = checked_model_input(x, "x", device, dtype, 2)
            if xt.shape[0] != n or xt.shape[1:] != v.shape[2:]:
                raise ValueError(f"x of shape {tuple(xt.shape)} does not match views of shape "
                                 f"{tuple(v.shape)}: "
                                 f"expected ({n}, {', '.join(map(str, v.shape[2:]))})")
        step = chunk_size or max(1, chunk_size_for(m * math.prod(v.shape[2:]), itemsize=v.element_size(),
                                                   factor=8))
        out = torch.cat([checked_model_outputs(model, v[s].reshape(-1, *v.shape[2:]), "views")
                         .reshape(s.stop - s.start, m, -1) for s in iter_chunks(n, step)])  # (n, M, K)
        means = checked_model_outputs(model, xt, "x") if x is not None else out.mean(dim=1)  # (n, K)
        dev = out - out.mean(dim=1, keepdim=True)                                          # (n, M, K)
        cov = dev.transpose(1, 2) @ dev / (m - 1)                                          # (n, K, K)
        mix_cov, factor, k = cov, None, out.shape[2]
        rank_max = min(m - 1, k)
    else:
        if x is None:
            raise ValueError(f'method="{method}" needs the inputs x')
        if (noise_std is None) == (noise_cov is None):
            got = "both" if noise_std is not None else "neither"
            raise ValueError(f"pass exactly one of noise_std= or noise_cov=; got {got}")
        xt = checked_model_input(x, "x", device, dtype, 2)
        d = math.prod(xt.shape[1:])
        if noise_std is not None:
            noise_std = check_float(noise_std, "noise_std", low=0.0, low_open=True)
        else:
            c, _ = to_tensor(noise_cov, name="noise_cov")
            if c.shape not in ((d,), (d, d)):
                raise ValueError(f"noise_cov must have shape ({d},) or ({d}, {d}) for inputs of shape "
                                 f"{tuple(xt.shape[1:])}; got {tuple(c.shape)}")
            if not bool(torch.isfinite(c).all()):
                bad = int((~torch.isfinite(c)).sum())
                raise ValueError(f"noise_cov contains {bad} NaN or infinite values")
            if c.ndim == 1 and bool((c <= 0).any()):
                raise ValueError(f"diagonal noise_cov must be positive, got min {float(c.min())}")
            noise_cov = c
        kind, l = noise_factor(noise_std, noise_cov, d, xt)
        if not bool(torch.isfinite(l).all()):  # the noise itself does not fit the model's dtype
            raise _overflow_error(method, noise_std, l.dtype)
        means = checked_model_outputs(model, xt, "x")  # (n, K)
        k = means.shape[1]
        if method == "exact":
            j = jacobians(model, xt, chunk_size=chunk_size)                                 # (n, K, D)
            a = j @ l if kind == "full" else j * l                                         # (n, K, D)
            mix_cov, factor = a @ a.transpose(1, 2), None                                  # (n, K, K)
            rank_max = min(d, k)
        else:
            r = min(k, 32) if rank is None else check_int(rank, "rank", low=1)
            g = check_generator(generator, xt.device)
            factor = sketch_covariance_factor(model, xt, kind, l, r, chunk_size=chunk_size, generator=g)
            mix_cov, rank_max = None, min(d, k, r)
    if mix_cov is not None:
        mix_cov = 0.5 * (mix_cov + mix_cov.transpose(1, 2))
        scale = float(mix_cov.diagonal(dim1=1, dim2=2).mean())
    else:
        scale = float(factor.pow(2).sum(dim=(1, 2)).mean()) / k
    overflow = mix_cov if mix_cov is not None else factor
    if not (math.isfinite(scale) and math.isfinite(ridge * scale) and bool(torch.isfinite(overflow).all())):
        raise _overflow_error(method, noise_std, overflow.dtype)
    if not scale > 0:
        raise ValueError("the output covariance is zero for every input (constant network or all units "
                         "dead); the mixture is degenerate")
    if rank_max < k:
        warn_degenerate(f"the output covariances have rank at most {rank_max} < K={k} ({method} route); "
                        f"a ridge {ridge:g} x mean output variance is added and the entropies depend on it")
    return OutputMixture(means=means.detach(), cov=None if mix_cov is None else mix_cov.detach(),
                         factor=factor, output_noise_var=ridge * scale, method=method)
