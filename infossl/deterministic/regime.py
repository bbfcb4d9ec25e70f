"""Is the input noise small enough for the output-mixture model? A per-input Monte-Carlo check.

The mixture of :func:`output_mixture` is exact only for an affine network. For a ReLU network it is a
first-order approximation, accurate when almost all noisy copies of :math:`x_i` keep its activation pattern
(Gaussian noise has unbounded support, so some copies always leave it). For each input this
module draws ``n_noise`` copies :math:`x_i + \\varepsilon`, :math:`\\varepsilon \\sim \\mathcal N(0,\\sigma^2 I)`,
and reports

* ``pattern_fraction``: the fraction of copies whose ReLU sign pattern equals that of :math:`x_i` (signs of
  the inputs of every ``torch.nn.ReLU`` module, recorded with forward hooks; functional ``F.relu`` calls are
  not seen - NaN when the model has no ``nn.ReLU``);
* ``cov_error``: :math:`\\|\\hat C_i - C_i\\|_F / \\|C_i\\|_F` between the sample covariance of the outputs and
  :math:`C_i = \\sigma^2 J_i J_i^\\top`;
* ``cov_error_floor``: the same error expected from sampling alone if the outputs were exactly
  :math:`\\mathcal N(\\cdot, C_i)`: :math:`\\sqrt{(\\|C_i\\|_F^2 + \\mathrm{tr}(C_i)^2)/(m-1)}/\\|C_i\\|_F`
  (the Wishart second moment, m = ``n_noise``);
* ``normality_pvalue``: D'Agostino-Pearson omnibus test (``scipy.stats.normaltest``) on each output
  dimension, Bonferroni-combined: :math:`\\min(1, K \\min_k p_k)`. A per-dimension test, not a multivariate
  one: it sees non-Gaussian marginals (kinks, truncation at zero) but not non-Gaussian dependence;
* ``mean_shift``: :math:`\\|\\bar f_i - f(x_i)\\| / \\sqrt{\\mathrm{tr}\\,\\hat C_i}`, how far the mean output
  of the copies sits from the clean output, in units of their spread (of order :math:`1/\\sqrt m` in the
  regime).

With ``views`` (M augmented copies of each input, e.g. shifts and rotations instead of Gaussian noise) the
copies are the given views and the linear prediction is :math:`C_i = J_i \\hat S_i J_i^\\top` with
:math:`\\hat S_i` the sample covariance of the flattened input displacements :math:`v_{ij} - x_i`: the
first-order model of the output under *those* perturbations. The floor then treats :math:`\\hat S_i` as
exact, so it is a lower reference, not a calibrated null.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from infossl._validation import check_float, check_generator, check_int
from infossl.deterministic.jacobian import check_model, jacobians
from infossl.deterministic.mixture import checked_model_input, checked_model_outputs, model_placement

__all__ = ["regime_check"]


def _patterns(model: Callable, x: torch.Tensor) -> torch.Tensor | None:
    """Signs (m, P) of the inputs of every nn.ReLU module, concatenated; None without ReLU modules."""
    if not isinstance(model, nn.Module):
        return None
    signs: list[torch.Tensor] = []
    hooks = [mod.register_forward_hook(lambda _m, inp, _o: signs.append((inp[0] > 0).reshape(inp[0].shape[0], -1)))
             for mod in model.modules() if isinstance(mod, nn.ReLU)]
    if not hooks:
        return None
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return torch.cat(signs, dim=1)                                                   # (m, P)


def regime_check(model: Callable, x: object, noise_std: float | None = None, *, n_noise: int = 200,
                 generator: object = None, views: object = None) -> pd.DataFrame:
    r"""Per-input check of the small-noise regime: activation patterns, covariance error, normality.

    Parameters
    ----------
    model : torch.nn.Module or callable
        Encoder in eval mode (see :func:`output_mixture`).
    x : array_like or torch.Tensor, shape (n, *input_shape)
        Inputs to check (a few dozen are enough; the cost is n * n_noise forward passes).
    noise_std : float, optional
        Isotropic input-noise standard deviation, > 0. Required unless ``views`` is given; not both.
    n_noise : int
        Noisy copies per input, >= 20 (``normaltest`` needs 20 for its kurtosis term). Unused with ``views``.
    generator : None, int or torch.Generator
        Source of the noise.
    views : array_like, shape (n, M, *input_shape), optional
        M >= 20 augmented copies of each input, used instead of Gaussian noise (module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per input: ``input``, ``pattern_fraction``, ``cov_error``, ``cov_error_floor``,
        ``normality_pvalue``, ``mean_shift`` (see the module docstring). In the small-noise regime
        ``pattern_fraction`` is 1, ``cov_error`` is of the order of ``cov_error_floor`` and the p-values are
        not small.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    >>> df = regime_check(net, torch.randn(3, 4), 1e-4, n_noise=50, generator=0)
    >>> list(df.columns)
    ['input', 'pattern_fraction', 'cov_error', 'cov_error_floor', 'normality_pvalue', 'mean_shift']
    """
    check_model(model)
    if (noise_std is None) == (views is None):
        raise ValueError("regime_check needs exactly one of noise_std (isotropic Gaussian copies) and views "
                         f"(given copies); got noise_std={noise_std!r} and views "
                         f"{'None' if views is None else 'given'}")
    device, dtype = model_placement(model, x)
    xt = checked_model_input(x, "x", device, dtype, 2)
    n = xt.shape[0]
    clean_out = checked_model_outputs(model, xt, "x")                                 # (n, K)
    jac = jacobians(model, xt)                                                        # (n, K, D)
    if views is None:
        noise_std = check_float(noise_std, "noise_std", low=0.0, low_open=True)
        n_noise = check_int(n_noise, "n_noise", low=20)
        g = check_generator(generator, xt.device)
        cov = noise_std ** 2 * jac @ jac.transpose(1, 2)                              # (n, K, K)
    else:
        v = checked_model_input(views, "views", device, dtype, 3)                     # (n, M, ...)
        if v.shape[0] != n or v.shape[2:] != xt.shape[1:]:
            raise ValueError(f"views of shape {tuple(v.shape)} do not match x of shape {tuple(xt.shape)}: "
                             "expected (n, M, *x.shape[1:])")
        n_noise = v.shape[1]
        if n_noise < 20:
            raise ValueError(f"views needs at least 20 copies per input (normaltest), got M={n_noise}")
        disp = (v - xt[:, None]).reshape(n, n_noise, -1)                              # (n, M, D)
        disp = disp - disp.mean(1, keepdim=True)
        # J S J^T with S = disp^T disp / (M - 1), without forming the (n, D, D) S (1 GB at 30 CIFAR images)
        a = jac @ disp.transpose(1, 2)                                                # (n, K, M)
        cov = a @ a.transpose(1, 2) / (n_noise - 1)                                   # (n, K, K)
    clean = _patterns(model, xt)                                                      # (n, P) or None
    rows = []
    for i in range(n):
        if views is None:
            eps = torch.randn(n_noise, *xt.shape[1:], generator=g, dtype=xt.dtype, device=xt.device)
            xi = xt[i:i + 1] + noise_std * eps                                        # (m, ...)
        else:
            xi = v[i]                                                                 # (m, ...)
        out = checked_model_outputs(model, xi, "noisy copies of x")                   # (m, K)
        k = out.shape[1]
        sample = torch.cov(out.T).reshape(k, k)                                       # (K, K)
        c = cov[i]
        c_norm = float(torch.linalg.matrix_norm(c))
        err = float(torch.linalg.matrix_norm(sample - c)) / c_norm if c_norm > 0 else math.inf
        floor = math.sqrt((c_norm ** 2 + float(torch.trace(c)) ** 2) / (n_noise - 1)) / c_norm if c_norm > 0 \
            else math.inf
        if clean is None:
            frac = math.nan
        else:
            pats = _patterns(model, xi)                                               # (m, P)
            frac = float((pats == clean[i]).all(dim=1).double().mean())
        o = out.detach().cpu().double().numpy()
        keep = o.std(axis=0) > 0
        if keep.any():
            p = stats.normaltest(o[:, keep], axis=0).pvalue
            pval = float(min(1.0, k * np.min(p)))
        else:
            pval = math.nan
        spread = math.sqrt(float(torch.trace(sample)))
        shift = float(torch.linalg.vector_norm(out.mean(0) - clean_out[i]))
        rows.append({"input": i, "pattern_fraction": frac, "cov_error": err, "cov_error_floor": floor,
                     "normality_pvalue": pval, "mean_shift": (shift / spread if spread > 0
                                                          else (0.0 if shift == 0 else math.inf))})
    return pd.DataFrame(rows)
