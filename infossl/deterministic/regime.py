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
  one: it sees non-Gaussian marginals (kinks, truncation at zero) but not non-Gaussian dependence.
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


def regime_check(model: Callable, x: object, noise_std: float, *, n_noise: int = 200,
                 generator: object = None) -> pd.DataFrame:
    r"""Per-input check of the small-noise regime: activation patterns, covariance error, normality.

    Parameters
    ----------
    model : torch.nn.Module or callable
        Encoder in eval mode (see :func:`output_mixture`).
    x : array_like or torch.Tensor, shape (n, *input_shape)
        Inputs to check (a few dozen are enough; the cost is n * n_noise forward passes).
    noise_std : float
        Isotropic input-noise standard deviation, > 0.
    n_noise : int
        Noisy copies per input, >= 20 (``normaltest`` needs 20 for its kurtosis term).
    generator : None, int or torch.Generator
        Source of the noise.

    Returns
    -------
    pandas.DataFrame
        One row per input: ``input``, ``pattern_fraction``, ``cov_error``, ``cov_error_floor``,
        ``normality_pvalue`` (see the module docstring). In the small-noise regime ``pattern_fraction``
        is 1, ``cov_error`` is of the order of ``cov_error_floor`` and the p-values are not small.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    >>> df = regime_check(net, torch.randn(3, 4), 1e-4, n_noise=50, generator=0)
    >>> list(df.columns)
    ['input', 'pattern_fraction', 'cov_error', 'cov_error_floor', 'normality_pvalue']
    """
    check_model(model)
    noise_std = check_float(noise_std, "noise_std", low=0.0, low_open=True)
    n_noise = check_int(n_noise, "n_noise", low=20)
    device, dtype = model_placement(model, x)
    xt = checked_model_input(x, "x", device, dtype, 2)
    g = check_generator(generator, xt.device)
    n = xt.shape[0]
    checked_model_outputs(model, xt, "x")
    jac = jacobians(model, xt)                                                        # (n, K, D)
    cov = noise_std ** 2 * jac @ jac.transpose(1, 2)                                  # (n, K, K)
    clean = _patterns(model, xt)                                                      # (n, P) or None
    rows = []
    for i in range(n):
        eps = torch.randn(n_noise, *xt.shape[1:], generator=g, dtype=xt.dtype, device=xt.device)
        xi = xt[i:i + 1] + noise_std * eps                                            # (m, ...)
        out = checked_model_outputs(model, xi, "noisy copies of x")                                # (m, K)
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
        rows.append({"input": i, "pattern_fraction": frac, "cov_error": err, "cov_error_floor": floor,
                     "normality_pvalue": pval})
    return pd.DataFrame(rows)
