r"""The ``details=True`` result of :func:`~infossl.entropy` and :func:`~infossl.mutual_information`.

:func:`mi_details` and :func:`entropy_details` run the estimate (``"auto"`` through the rules of
:mod:`~infossl.estimators._routes`), choose its agreement partner and its quantity's own checks, and hand
them to the generic assessment :func:`~infossl.estimators.reliability.assess` (stability over n, n/2 and
n/4, the interval, precision, degenerate input; the module doc there explains each). The checks added here:

* **agreement** -- the partner per method, listed in :func:`mi_details` and :func:`entropy_details`.
* **log n ceiling** (MI) -- no distribution-free high-confidence lower bound on MI can exceed
  :math:`O(\log n)` (McAllester & Stratos, AISTATS 2020, arXiv 1811.04251). A value above :math:`\log n`
  rests on the estimator's modelling assumptions (smoothness, a Gaussian surrogate, ...), not on the data
  alone.
* **intrinsic dimension** -- the TwoNN dimension of each side
  (:func:`~infossl.estimators.intrinsic.mi_dimension_check`,
  :func:`~infossl.estimators.intrinsic.entropy_dimension_check`). Full-dimensional estimators (``gaussian``,
  ``copula``, ``corrected-ksg``) count every nonlinear feature of data on a low-dimensional curved set as
  new information; entropy of such data is :math:`-\infty`.

The result types and the interval rule are those of :mod:`~infossl.estimators.reliability`; they are named
here too because this is where ``details=True`` leads readers.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from infossl._validation import check_embeddings, check_pair, check_random_state
from infossl.estimators import _routes
from infossl.estimators.intrinsic import entropy_dimension_check, manifold_dimension, mi_dimension_check
from infossl.estimators.latent import latent_parts
from infossl.estimators.reliability import (Check, EstimateResult, ReliabilityWarning, agreement_check,
                                            assess, recorded, safe_value, subsample_interval, tolerance)

__all__ = ["Check", "EstimateResult", "ReliabilityWarning", "entropy_details", "mi_details", "mi_kind",
           "subsample_interval"]

#: Smallest subsample (halves, quarters) the latent route is re-run on: it splits each again into a training
#: and a held-out half and measures TwoNN on them; the other methods run on 20 rows and more.
LATENT_SUBSAMPLE_ROWS = 200
SUBSAMPLE_ROWS = 20

_KIND = {
    "gaussian": "estimate", "ksg": "estimate", "corrected-ksg": "estimate", "renyi": "other (Renyi, not Shannon)",
    "infonce": "lower bound", "nwj": "lower bound", "dv": "lower bound", "latent": "lower bound (estimated)",
}


def mi_kind(method: str, dx: int, dy: int) -> str:
    """What a method's MI value is: the Gaussian-copula MI is a lower bound only for 1-D x and y."""
    if method == "copula":
        return "lower bound" if dx == 1 and dy == 1 else "estimate"
    return _KIND.get(method, "estimate")


# ------------------------------------------------------------------------------------------------ MI
def mi_details(x, y, method: str = "auto", *, random_state=0, **options) -> EstimateResult:
    """The :class:`EstimateResult` of ``mutual_information(x, y, method, **options)``.

    Agreement partners: the latent route (auto on low-intrinsic-dimension data, or ``"latent"``) is compared
    with the Gaussian MI of the same held-out latents; ``"corrected-ksg"`` with ``"copula"``; ``"copula"``
    with plain ``"ksg"``; any other method with ``"copula"``. ``random_state`` draws the subsamples.
    Cost: about 2.75 times one estimate (the halves and quarters are cheaper than the full run).
    """
    tx, ty, _ = check_pair(x, y, min_samples=3)
    tx, ty = tx.detach().to(torch.float64).cpu(), ty.detach().to(torch.float64).cpu()
    n, dx, dy = tx.shape[0], tx.shape[1], ty.shape[1]
    rng = check_random_state(random_state)
    _routes.refuse_auto_options(method, options)
    info: dict[str, Any] = {}
    route = method
    if method == "auto":
        decided = _routes.mi_route(tx, ty)
        route, info = decided.method, decided.info
    if route == "latent":
        parts, caught = recorded(lambda: latent_parts(tx, ty, id_x=info.get("id_x"), id_y=info.get("id_y"),
                                                      **options))
        value = float(parts.value)
        m = parts.latent_dim
        info.update(latent_dim=m, id_x=parts.id_x, id_y=parts.id_y, n_train=parts.n_train, n_test=parts.n_test,
                    canonical_correlations=parts.canonical_correlations)
        sub_opts = {k: v for k, v in options.items() if k != "latent_dim"}

        def subsample(rows):
            return float(latent_parts(tx[rows], ty[rows], latent_dim=m, **sub_opts).value)
        min_rows = LATENT_SUBSAMPLE_ROWS
        gauss_opts = {k: v for k, v in sub_opts.items() if k != "estimator"}
        partner = safe_value(
            lambda: latent_parts(tx, ty, latent_dim=m, estimator="gaussian", **gauss_opts).value)
        agree = agreement_check("latent", value, "gaussian on the latents", partner)
    else:
        est = _routes.mi_function(route)
        value, caught = recorded(lambda: float(est(tx, ty, **options)))

        def subsample(rows):
            return float(est(tx[rows], ty[rows], **options))
        min_rows = SUBSAMPLE_ROWS
        other = "copula" if route != "copula" else "ksg"
        partner = safe_value(lambda: _routes.mi_function(other)(tx, ty))
        agree = agreement_check(route, value, other, partner)
    ceiling = math.log(n)
    ok = value <= ceiling
    detail = f"value {value:.3f} vs log n = {ceiling:.3f}" + ("" if ok else
             " -- above what any distribution-free lower bound could certify from n samples "
             "(McAllester & Stratos 2020); the value rests on the estimator's assumptions")
    ceiling_check = Check("log n ceiling", bool(ok), detail, {"log_n": ceiling})
    if route != "latent" and "id_x" not in info:
        info.update(_routes.low_dimensional_sides(tx, ty))
    dimension = mi_dimension_check(dx, dy, info, method=route,
                                   full_dimensional=route in _routes.FULL_DIMENSIONAL_METHODS)
    return assess(quantity="I(X;Y)", method=route if method != "auto" else f"auto -> {route}", value=value,
                  caught=caught, subsample=subsample, n=n, rng=rng, min_rows=min_rows,
                  checks=[agree, ceiling_check, dimension], kind=mi_kind(route, dx, dy), info=info)


# ------------------------------------------------------------------------------------------- entropy
def entropy_details(z, method: str = "auto", *, random_state=0, **options) -> EstimateResult:
    """The :class:`EstimateResult` of ``entropy(z, method, **options)``.

    Agreement partner: plain ``"knn"`` (Kozachenko-Leonenko) for d <= 128, else ``"gaussian"`` (an upper
    bound: the check passes when the value is at most the Gaussian entropy plus the tolerance). The
    manifold check compares the calibrated TwoNN dimension with d: data on a lower-dimensional set have
    entropy -inf, and the result's kind is then ``"undefined (manifold)"``.
    """
    t, _ = check_embeddings(z, min_samples=3)
    t = t.detach().to(torch.float64).cpu()
    n, d = t.shape
    rng = check_random_state(random_state)
    _routes.refuse_auto_options(method, options)
    with warnings.catch_warnings():  # the check reports the dimension itself
        warnings.simplefilter("ignore")
        manifold = manifold_dimension(t)
    route = _routes.entropy_route(t).method if method == "auto" else method
    est = _routes.entropy_function(route)
    value, caught = recorded(lambda: float(est(t, **options)))

    def subsample(rows):
        return float(est(t[rows], **options))
    if d <= _routes.AUTO_KNN_MAX_DIM and route != "knn":
        partner = safe_value(lambda: _routes.entropy_function("knn")(t))
        agree = agreement_check(route, value, "knn", partner)
    else:
        other = "gaussian" if route != "gaussian" else "copula"
        partner = safe_value(lambda: _routes.entropy_function(other)(t))
        if other == "gaussian" and partner is not None:
            ok = value <= partner + tolerance(value, partner)
            agree = Check("agreement", bool(ok), f"{route} {value:.3f} vs the Gaussian upper bound {partner:.3f}"
                          + ("" if ok else " -- above the maximum-entropy Gaussian bound, so it is too high"),
                          {route: value, "gaussian": partner})
        else:
            agree = agreement_check(route, value, other, partner)
    dimension = entropy_dimension_check(manifold, d)
    kind = "upper bound" if route == "gaussian" else "estimate"
    info: dict[str, Any] = {}
    if manifold is not None:
        info["intrinsic_dimension"] = manifold
        if dimension.passed is False:
            kind = "undefined (manifold)"
    return assess(quantity="H(Z)", method=route if method != "auto" else f"auto -> {route}", value=value,
                  caught=caught, subsample=subsample, n=n, rng=rng, min_rows=SUBSAMPLE_ROWS,
                  checks=[agree, dimension], kind=kind, info=info)

