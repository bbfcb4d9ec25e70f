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

import numpy as np
import torch

from infossl._validation import check_embeddings, check_pair, check_random_state
from infossl._warnings import warn
from infossl.estimators import _routes
from infossl.estimators.intrinsic import entropy_dimension_check, manifold_dimension, mi_dimension_check
from infossl.estimators.latent import latent_parts
from infossl.estimators.nonlinear import nonlinear_mutual_information
from infossl.estimators.reliability import (Check, EstimateResult, ReliabilityWarning, agreement_check,
                                            assess, recorded, safe_value, stability_band, subsample_interval,
                                            tolerance)

__all__ = ["Check", "EstimateResult", "ReliabilityWarning", "entropy_details", "mi_details", "mi_kind",
           "subsample_interval"]

#: Smallest subsample (halves, quarters) the latent route is re-run on: it splits each again into a training
#: and a held-out half and measures TwoNN on them; the other methods run on 20 rows and more.
LATENT_SUBSAMPLE_ROWS = 200
SUBSAMPLE_ROWS = 20
#: The evidence route (linear against nonlinear latent on a selection half) runs from this many rows: the
#: value is then read on n/2 rows and its band on quarters of those, and the latent route's quarters of
#: fewer than about 500 rows read low (embedded 2-in-64 family, 1.66 nats: 1.31 on quarters of 475 rows),
#: which would fail the stability check of a correct value.
EVIDENCE_MIN_ROWS = 4000

_KIND = {
    "gaussian": "estimate", "ksg": "estimate", "corrected-ksg": "estimate", "renyi": "other (Renyi, not Shannon)",
    "infonce": "lower bound", "nwj": "lower bound", "dv": "lower bound",
    "latent": "lower bound (estimated)", "nonlinear": "lower bound (estimated)",
    "discrete": "estimate (plug-in, discrete symbols)",
}


def mi_kind(method: str, dx: int, dy: int) -> str:
    """What a method's MI value is: the Gaussian-copula MI is a lower bound only for 1-D x and y."""
    if method == "copula":
        return "lower bound" if dx == 1 and dy == 1 else "estimate"
    return _KIND.get(method, "estimate")


# ------------------------------------------------------------------------------------------------ MI
def _symbol_entropy(t: torch.Tensor) -> float:
    """Miller-Madow entropy (nats) of the rows of ``t`` read as symbols: plug-in + (K - 1) / (2n)."""
    _, counts = torch.unique(t, dim=0, return_counts=True)
    n = t.shape[0]
    p = counts.to(torch.float64) / n
    return float(-(p * p.log()).sum()) + (counts.numel() - 1) / (2 * n)


def _ceiling_check(value: float, n: int, route: str, tx: torch.Tensor, ty: torch.Tensor) -> Check:
    """The ceiling a value cannot pass: min(H(X), H(Y)) of the symbols on the discrete route, else log n.

    On the discrete route both the value and the ceiling are Miller-Madow corrected, and then the value can
    never exceed the ceiling for correct data: H_MM(X, Y) - H_MM(X) = plug-in H(Y|X) + (K_xy - K_x) / (2n)
    >= 0, so I_MM = H_MM(Y) - (H_MM(X, Y) - H_MM(X)) <= H_MM(Y), and likewise <= H_MM(X); a failure means
    the value did not come from these symbols (the margin 1e-9 is rounding)."""
    if route == "discrete":
        hx, hy = _symbol_entropy(tx), _symbol_entropy(ty)
        ceiling = min(hx, hy)
        ok = value <= ceiling + 1e-9
        detail = f"value {value:.3f} vs min(H(X), H(Y)) = {ceiling:.3f} of the symbols" + ("" if ok else
                 " -- above the entropy of a discrete side, which no MI can exceed")
        return Check("entropy ceiling", bool(ok), detail, {"H(X)": hx, "H(Y)": hy})
    ceiling = math.log(n)
    ok = value <= ceiling
    detail = f"value {value:.3f} vs log n = {ceiling:.3f}" + ("" if ok else
             " -- above what any distribution-free lower bound could certify from n samples "
             "(McAllester & Stratos 2020); the value rests on the estimator's assumptions")
    return Check("log n ceiling", bool(ok), detail, {"log_n": ceiling})


def _disjoint(a: tuple[float, float], b: tuple[float, float]) -> int:
    """+1 when interval a lies wholly above b, -1 wholly below, 0 when they overlap."""
    if a[0] > b[1]:
        return 1
    if a[1] < b[0]:
        return -1
    return 0


def _evidence(tx, ty, route: str, info: dict, rng: np.random.Generator, seed: int) -> dict[str, Any]:
    """Choose between the linear route and the nonlinear latent on a SELECTION half of the rows.

    Both candidates are read on the selection rows with their bands of nested subsamples; the nonlinear
    latent wins only when its encoders carry over to held-out rows (``consistent``) and its band lies wholly
    above the linear one. The nonlinear reading and the latent route estimate data-processing lower bounds
    of I(X;Y) (encoders fitted on other rows than they are read on), so a latent reading resolved below the
    nonlinear one has missed information. The copula route is NOT a lower bound in more than one dimension
    (it reads high on heavy-tailed copulas, see ``corrected.py``), so against it the comparison is one-sided:
    a nonlinear reading above shows what the copula missed, one below does not show the copula right.
    The reported value is then computed on the other half, which the selection never saw.
    """
    n = tx.shape[0]
    perm = torch.from_numpy(rng.permutation(n))
    sel, val = perm[: n // 2].sort().values, perm[n // 2:].sort().values
    sx, sy = tx[sel], ty[sel]
    if route == "latent":
        m = info.get("latent_dim")

        def linear(rows_x, rows_y):
            return float(latent_parts(rows_x, rows_y, latent_dim=m).value)
    else:
        def linear(rows_x, rows_y):
            return float(_routes.mi_function(route)(rows_x, rows_y))
    lin = safe_value(lambda: linear(sx, sy))
    lin_band = None
    if lin is not None:
        lin_band = stability_band(lin, lambda r: linear(sx[r], sy[r]), sx.shape[0], rng,
                                  LATENT_SUBSAMPLE_ROWS)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            nl = nonlinear_mutual_information(sx, sy, random_state=seed, details=True)
        except (ValueError, RuntimeError) as exc:
            nl = None
            why = str(exc)
    cands: dict[str, Any] = {route: {"value": lin, "interval": lin_band}}
    side = 0
    winner, reason = route, "the nonlinear latent could not be computed"
    if nl is not None:
        nl_band = tuple(float(v) for v in nl.interval)
        cands["nonlinear"] = {"value": float(nl.value), "interval": nl_band,
                              "consistent": bool(nl.consistent), "latent_dim": int(nl.latent_dim)}
        side = _disjoint(nl_band, lin_band) if lin_band is not None else 0
        if lin is None:
            reason = f"{route} could not be computed on the selection rows"
        elif side > 0 and nl.consistent:
            winner = "nonlinear"
            reason = (f"nonlinear {nl.value:.3f} [{nl_band[0]:.3f}, {nl_band[1]:.3f}] lies wholly above "
                      f"{route} {lin:.3f} [{lin_band[0]:.3f}, {lin_band[1]:.3f}] and its encoders carry over")
        elif side > 0:
            reason = "the nonlinear latent reads higher but its encoders do not carry over to held-out rows"
        else:
            reason = (f"the nonlinear latent ({nl.value:.3f}) is not resolved above {route} ({lin:.3f}) "
                      "on the selection rows")
    else:
        cands["nonlinear"] = {"error": why}
    return {"candidates": cands, "winner": winner, "why": reason, "selection_rows": int(sel.numel()),
            "value_rows": int(val.numel()), "value_idx": val, "side": side}


def mi_details(x, y, method: str = "auto", *, random_state=0, **options) -> EstimateResult:
    """The :class:`EstimateResult` of ``mutual_information(x, y, method, **options)``.

    Agreement partners, chosen for the regime (a partner known to fail in a regime tells nothing there):
    ``"corrected-ksg"`` is compared with itself at k = 8 ("agreement across k": the surrogate correction of
    a converged reading does not depend on k); the latent route with the Gaussian MI of the same held-out
    latents; ``"copula"`` in at most 128 dimensions with plain ``"ksg"``, above that with no partner (plain
    KSG is biased low there, so a disagreement would say nothing); ``"discrete"`` with none; any other method
    with ``"copula"``. ``random_state`` draws the subsamples.

    **Evidence route** (``method="auto"`` only, when the route is ``"latent"`` or the copula in more than
    128 dimensions, and n >= :data:`EVIDENCE_MIN_ROWS`): the rows are split at random into a selection half
    and a value half. On the selection half the linear route and the nonlinear latent
    (:func:`~infossl.estimators.nonlinear_mutual_information`) are read with their bands; the nonlinear one
    wins when its band lies wholly above and its encoders carry over to held-out rows. The reported value
    and its interval are computed on the value half only (the selection never saw those rows), and
    ``info["selection"]`` holds the candidates, their selection-half values and intervals, the winner and
    why. The check "linear vs nonlinear latent" fails when the nonlinear band lies wholly above the linear
    one (the linear route missed information, whichever value is then reported). It costs
    one nonlinear fit on n/2 rows (about 10-20 s at n = 10^4, 512 + 512 dims on 2 CPU cores), which is why
    the plain call does not run it.

    Repeated rows follow the plain call's rule (:func:`~infossl.estimators._routes.mi_route`): symbols on
    both sides take the plug-in ``"discrete"`` route, else repeated (x, y) pairs are counted once; a failed
    "repeated rows" check says what is then measured.

    Returns
    -------
    EstimateResult
        Value, interval (a stability band of nested subsamples), kind, method, checks and info.
    """
    tx, ty, _ = check_pair(x, y, min_samples=3)
    tx, ty = tx.detach().to(torch.float64).cpu(), ty.detach().to(torch.float64).cpu()
    dx, dy = tx.shape[1], ty.shape[1]
    rng = check_random_state(random_state)
    seed = int(rng.integers(2**31 - 1))
    _routes.refuse_auto_options(method, options)
    info: dict[str, Any] = {}
    extra: list[Check] = []
    route = method
    if method == "auto":
        decided = _routes.mi_route(tx, ty)
        route, info = decided.method, dict(decided.info)
        rep = info.get("repeated_rows")
        if rep is not None:
            # the discrete route is the estimator for symbols: the check informs (and warns, as the plain call
            # does, what is measured) without making the result untrusted; merged copies fail it
            note = _routes.repeated_rows_note(rep, route)
            if route == "discrete":
                warn(f"mutual_information(method='auto'): {note}.", ReliabilityWarning)
            extra.append(Check("repeated rows", None if route == "discrete" else False, note, dict(rep)))
        if decided.rows is not None:
            tx, ty = tx[decided.rows], ty[decided.rows]
    n = tx.shape[0]
    band = None
    evidence_on = (method == "auto" and n >= EVIDENCE_MIN_ROWS
                   and (route == "latent" or (route == "copula" and dx + dy > _routes.AUTO_KNN_MAX_DIM)))
    if evidence_on:
        ev = _evidence(tx, ty, route, info, rng, seed)
        val = ev.pop("value_idx")
        side = ev.pop("side")
        info["selection"] = ev
        nl = ev["candidates"].get("nonlinear", {})
        if "interval" in nl:
            lin = ev["candidates"][route]
            # Only the nonlinear reading resolved ABOVE the linear one shows information the linear route
            # missed (the nonlinear reading estimates a lower bound); one below says only that its encoders
            # lost more, and proves nothing about the copula route, which is no lower bound in > 1 dims.
            ok = side <= 0
            detail = f"on the selection rows {route} {lin['value']:.3f} vs nonlinear {nl['value']:.3f}"
            if not ok:
                detail += (" -- the nonlinear band lies wholly above the linear one: the linear route misses "
                           f"information; {ev['why']}")
            extra.append(Check("linear vs nonlinear latent", bool(ok), detail, {route: lin, "nonlinear": nl}))
        tx, ty, n = tx[val], ty[val], int(val.numel())
        if ev["winner"] == "nonlinear":
            res, caught = recorded(
                lambda: nonlinear_mutual_information(tx, ty, random_state=seed, details=True))
            value = float(res.value)
            lo, hi = (float(v) for v in res.interval)
            carried = bool(res.consistent)
            detail = (f"the nonlinear reading's own band on {n} rows: [{lo:.3f}, {hi:.3f}] (encoder loss not "
                      "included)")
            if not carried:
                detail += " -- its encoders do not carry over to held-out rows on the value half"
            notes = "; ".join(str(x) for x in res.notes)
            if notes:
                detail += f"; {notes}"
            band = ((lo, hi), Check("stability n, n/2, n/4", carried, detail))
            info.update(latent_dim=res.latent_dim, consistent=res.consistent)
            route = "nonlinear"

            def subsample(rows):  # not called: the band above is the estimator's own
                raise ValueError("no subsample re-run for the nonlinear route")
            min_rows = LATENT_SUBSAMPLE_ROWS
            agree = Check("agreement", None, "the linear route was compared on the selection rows")
    if route == "latent":
        kw = {"id_x": info.get("id_x"), "id_y": info.get("id_y"), **options}
        if info.get("latent_dim") is not None and "latent_dim" not in options:
            kw["latent_dim"] = info["latent_dim"]
        parts, caught = recorded(lambda: latent_parts(tx, ty, **kw))
        value = float(parts.value)
        m = parts.latent_dim
        info.update(latent_dim=m, id_x=parts.id_x if info.get("id_x") is None else info["id_x"],
                    id_y=parts.id_y if info.get("id_y") is None else info["id_y"], n_train=parts.n_train,
                    n_test=parts.n_test, canonical_correlations=parts.canonical_correlations)
        sub_opts = {k: v for k, v in options.items() if k != "latent_dim"}
        lx, ly = tx, ty

        def subsample(rows):
            return float(latent_parts(lx[rows], ly[rows], latent_dim=m, **sub_opts).value)
        min_rows = LATENT_SUBSAMPLE_ROWS
        gauss_opts = {k: v for k, v in sub_opts.items() if k != "estimator"}
        partner = safe_value(
            lambda: latent_parts(lx, ly, latent_dim=m, estimator="gaussian", **gauss_opts).value)
        agree = agreement_check("latent", value, "gaussian on the latents", partner)
    elif route != "nonlinear":
        est = _routes.mi_function(route)
        value, caught = recorded(lambda: float(est(tx, ty, **options)))
        ex, ey = tx, ty

        def subsample(rows):
            return float(est(ex[rows], ey[rows], **options))
        min_rows = SUBSAMPLE_ROWS
        agree = _partner(route, value, tx, ty, options)
    ceiling_check = _ceiling_check(value, n, route, tx, ty)
    if route not in ("latent", "nonlinear", "discrete") and "id_x" not in info:
        info.update(_routes.low_dimensional_sides(tx, ty))
    dimension = mi_dimension_check(dx, dy, info, method=route,
                                   full_dimensional=route in _routes.FULL_DIMENSIONAL_METHODS)
    kind = mi_kind(route, dx, dy)
    return assess(quantity="I(X;Y)", method=route if method != "auto" else f"auto -> {route}", value=value,
                  caught=caught, subsample=subsample, n=n, rng=rng, min_rows=min_rows,
                  checks=[agree, ceiling_check, dimension, *extra], kind=kind, info=info, band=band)


def k_tolerance(a: float, b: float) -> float:
    """How far corrected KSG at k = 3 and k = 8 may differ: max(0.03 nats, 4 % of the larger). Both read the
    same rows, so their difference carries little sampling noise: on the development pairs and the
    accuracy families at n = 5000 (Gaussian, Student-t 5 dof, monotone maps, high MI) it was at most 0.006,
    on the rotated uniform box (a boundary bias, 34 % low) 0.049.

    Returns
    -------
    float
        The tolerance in nats.
    """
    return max(0.03, 0.04 * max(abs(a), abs(b)))


def _partner(route: str, value: float, tx, ty, options: dict) -> Check:
    """The agreement check of a full-dimensional or discrete route, with a partner chosen for the regime."""
    if route == "corrected-ksg":
        k = int(options.get("k", 3))
        other_k = 8 if k != 8 else 4
        partner = safe_value(lambda: _routes.mi_function(route)(tx, ty, **{**options, "k": other_k}))
        if partner is None or not math.isfinite(partner):
            return Check("agreement across k", None, f"corrected-ksg at k = {other_k} could not be computed")
        tol = k_tolerance(value, partner)
        ok = abs(value - partner) <= tol
        detail = f"corrected-ksg at k = {k}: {value:.3f}, at k = {other_k}: {partner:.3f}" + ("" if ok else
                 f" -- differ by more than {tol:.3f}: the surrogate correction has not removed a bias that "
                 "depends on the neighbourhood size (e.g. the boundary of a bounded support), and the same "
                 "bias is in every subsample, so the interval cannot show it")
        return Check("agreement across k", bool(ok), detail, {f"k={k}": value, f"k={other_k}": partner})
    if route == "discrete":
        return Check("agreement", None, "no partner estimator is valid for discrete symbols")
    if route == "copula" and tx.shape[1] + ty.shape[1] > _routes.AUTO_KNN_MAX_DIM:
        return Check("agreement", None, f"no partner: plain KSG is biased low in {tx.shape[1] + ty.shape[1]} "
                     "dimensions, so a disagreement would say nothing")
    other = "copula" if route != "copula" else "ksg"
    partner = safe_value(lambda: _routes.mi_function(other)(tx, ty))
    return agreement_check(route, value, other, partner)


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

