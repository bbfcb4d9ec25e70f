"""The ``method=`` façade: :func:`entropy` and :func:`mutual_information`.

Each method name maps to one public estimator function; options are passed through unchanged, so the
estimator's own docstring documents them. ``"auto"`` is the documented rule in :func:`entropy` and
:func:`mutual_information`.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Optional

import torch

from infossl._backend import ArrayLike
from infossl._validation import check_embeddings, check_options, check_pair
from infossl._warnings import warn
from infossl.estimators._routes import (ENTROPY_METHODS, MI_METHODS, MODEL_BASED_METHODS, describe,
                                        entropy_function, entropy_route, mi_function, mi_route,
                                        refuse_auto_options, repeated_rows_note)
from infossl.estimators.details import entropy_details, mi_details
from infossl.estimators.intrinsic import is_manifold, manifold_dimension
from infossl.estimators.latent import latent_parts
from infossl.estimators.reliability import ReliabilityWarning

__all__ = ["ENTROPY_METHODS", "MI_METHODS", "auto_entropy_estimate", "auto_mi_estimate",
           "auto_mutual_information", "entropy", "mutual_information"]

logger = logging.getLogger("infossl")


def _table_target(table: dict[str, Callable[..., Any]]) -> Callable[[dict], Optional[Callable[..., Any]]]:
    """For :func:`check_options`: the estimator a call's ``method`` forwards its options to. For "auto" (which
    checks its options itself) or an unknown name (which the function reports) it raises, and no check is made."""
    def target(arguments: dict) -> Callable[..., Any]:
        return table[arguments["method"]]  # KeyError for "auto" and unknown names

    return target


@check_options("infossl.entropy", resolve=True, forwards_to=_table_target(ENTROPY_METHODS))
def entropy(z: ArrayLike, method: str = "auto", *, details: bool = False, **options: Any):
    r"""Differential entropy of the samples ``z`` (n, d), in nats.

    Parameters
    ----------
    z : array-like (n, d) or torch.Tensor
        Samples in rows. 1-D input is read as (n, 1). numpy input is computed in float64 on the CPU and
        gives a Python float; a tensor stays on its device and gives a 0-d tensor (differentiable for
        "gaussian", "logdet", "knn", "mixture" and "renyi").
    method : str
        ``"gaussian"`` (:func:`~infossl.estimators.gaussian_entropy`, an upper bound: the max-entropy
        Gaussian), ``"logdet"`` (:func:`~infossl.estimators.logdet_entropy`),
        ``"knn"`` (Kozachenko–Leonenko, :func:`~infossl.estimators.knn_entropy`),
        ``"copula"`` (marginals + Gaussian-copula dependence, :func:`~infossl.estimators.copula_entropy`),
        ``"corrected-knn"`` (copula + kNN-measured non-Gaussian dependence,
        :func:`~infossl.estimators.corrected_knn_entropy`),
        ``"mixture"`` (pairwise-distance bounds for a Gaussian mixture centred on the rows,
        :func:`~infossl.estimators.mixture_entropy`), ``"renyi"`` (matrix-based Rényi entropy,
        :func:`~infossl.estimators.renyi_entropy`; not a Shannon differential entropy), or ``"auto"``.
    details : bool, default False
        Return an :class:`~infossl.estimators.reliability.EstimateResult` (value, interval, kind, method and
        the trust checks of :func:`~infossl.estimators.details.entropy_details`) instead of the bare value;
        failed checks warn with :class:`~infossl.estimators.reliability.ReliabilityWarning`. Computed in
        float64 on the CPU; costs about three estimates.
    **options
        Passed to the estimator.

    Notes
    -----
    ``"auto"`` is ``"corrected-knn"`` (:func:`~infossl.estimators.corrected_knn_entropy`) for d <= 128 (and
    n > d, which its Gaussian surrogate needs) and ``"copula"`` otherwise
    (:func:`~infossl.estimators._routes.entropy_route`). Both start from the copula decomposition (1-D
    marginal entropies, accurate at any
    n, minus the Gaussian-copula total correlation), which has none of the d-dimensional kNN estimator's
    curse of dimensionality or boundary bias (a uniform box in 10 dimensions: kNN is 2.4 nats high) and is
    exact for Gaussian copulas with any marginals. ``"corrected-knn"`` adds the dependence a Gaussian copula
    cannot express, measured by kNN with its bias cancelled against a Gaussian surrogate. Above 128
    dimensions the kNN correction costs more than it can resolve and the copula value is returned (an
    upper bound for non-Gaussian copulas). The choice is logged at DEBUG level on the ``"infossl"``
    logger; accuracy per family is in ``benchmarks/results/accuracy.csv``.

    Data on a lower-dimensional set (an embedding of a k-dimensional latent in R^d, k <= d/2 by the
    calibrated TwoNN dimension, :func:`~infossl.estimators.intrinsic.manifold_dimension`) have differential
    entropy :math:`-\infty`;
    ``"auto"`` then still returns the estimator's finite number but warns
    (:class:`~infossl.estimators.reliability.ReliabilityWarning`) and points to the input-noise model of
    :mod:`infossl.deterministic`. The check costs one TwoNN run on at most 2000 rows.

    ``"auto"`` is not differentiable (both routes rank columns): on a tensor that requires grad it warns,
    and the value carries no gradient; name ``"gaussian"``, ``"logdet"``, ``"knn"`` or ``"mixture"`` for a
    differentiable entropy.

    Returns
    -------
    float, 0-d tensor or EstimateResult
        The entropy in nats (a Python float for numpy input, a 0-d tensor for tensor input); an
        :class:`~infossl.estimators.reliability.EstimateResult` with ``details=True``.
    """
    if details:
        return entropy_details(z, method, **options)
    if method == "auto":
        refuse_auto_options(method, options)
        return auto_entropy_estimate(z)[0]
    return entropy_function(method)(z, **options)


def auto_entropy_estimate(z: ArrayLike) -> tuple[Any, str]:
    """The ``method="auto"`` entropy of ``z`` and the route that computed it (the structured form of the
    route the DEBUG log line describes).

    Warns as :func:`entropy` does: not differentiable on tensors that require grad, and a
    :class:`~infossl.estimators.reliability.ReliabilityWarning` when the samples lie on a
    lower-dimensional set.

    Returns
    -------
    tuple of (float or 0-d tensor, str)
        The value as :func:`entropy` returns it and the route: ``"corrected-knn"`` or ``"copula"``.
    """
    t, _ = check_embeddings(z, min_samples=2)
    if t.requires_grad:
        warn("entropy(method='auto') is not differentiable (its routes rank columns): the value carries "
             "no gradient. For a differentiable entropy name a method, e.g. method='gaussian' or 'knn'.",
             UserWarning)
    route = entropy_route(t)
    logger.debug("entropy(method='auto'): d=%d -> %s", t.shape[1], describe(route))
    _warn_if_manifold(t)
    return entropy_function(route.method)(z), route.method


def _warn_if_manifold(t: torch.Tensor) -> None:
    dim = manifold_dimension(t.detach())
    if is_manifold(dim, t.shape[1]):
        warn(f"entropy(method='auto'): the {t.shape[1]}-dimensional samples lie on a set of intrinsic "
             f"dimension about {dim:.1f} (TwoNN); their differential entropy is -inf (undefined), and the "
             "finite value returned is an artefact of the estimator's resolution. Model the input noise "
             "(infossl.deterministic) or add noise of an explicit width before estimating.",
             ReliabilityWarning)


@check_options("infossl.mutual_information", resolve=True, forwards_to=_table_target(MI_METHODS))
def mutual_information(x: ArrayLike, y: ArrayLike, method: str = "auto", *, details: bool = False,
                       **options: Any):
    r"""Mutual information :math:`I(X;Y)` between paired samples ``x`` (n, dx) and ``y`` (n, dy), in nats.

    Parameters
    ----------
    x, y : array-like or torch.Tensor with the same number of rows
    method : str
        ``"gaussian"`` (log-det / CCA), ``"copula"`` (Gaussian copula; a lower bound only for 1-D x and y),
        ``"ksg"`` (Kraskov–Stögbauer–Grassberger), ``"corrected-ksg"``, ``"latent"`` (held-out
        low-dimensional encodings, :func:`~infossl.estimators.latent_mutual_information`), ``"infonce"``,
        ``"nwj"``, ``"dv"`` (variational lower bounds with a trained critic), ``"renyi"`` (matrix-based), or
        ``"auto"``.
    details : bool, default False
        Return an :class:`~infossl.estimators.reliability.EstimateResult` (value, interval, kind, method and
        the checks of :func:`~infossl.estimators.details.mi_details`: n, n/2, n/4 stability, agreement of two
        estimators, the log n ceiling, intrinsic dimension) instead of the bare value; failed checks warn
        with :class:`~infossl.estimators.reliability.ReliabilityWarning`. Computed in float64 on the CPU;
        costs about three estimates.
    **options
        Passed to the estimator (see its docstring).

    Notes
    -----
    ``"auto"`` first measures the intrinsic dimension of each side with at least 16 dimensions
    (TwoNN on at most 2000 rows, when n >= 500; :func:`~infossl.estimators._routes.low_dimensional_sides`;
    every threshold is a named constant there, with its reason). If a side lies on a curved
    low-dimensional set (TwoNN dimension at most min(d/4, 24) while 99 % of its variance needs at least
    1.5 times that + 1 principal components) it is ``"latent"``
    (:func:`~infossl.estimators.latent_mutual_information`). On the embedded family of
    :func:`~infossl.synthetic.embedded_gaussian_pair` (k = 1..16 into 64..2048 dimensions) that is within 10 % of the
    truth for k <= 8, where the rules below are 4 to 25 times too high (``benchmarks/results/highdim.csv``).
    No family of ``benchmarks/accuracy.py`` triggers it (full-dimensional ones read 18-35 at d = 25-50; the
    collapsed family is linear), so the rules below decide all of them. Otherwise ``"auto"`` is
    ``"corrected-ksg"`` (:func:`~infossl.estimators.corrected_ksg_mutual_information`) when dx + dy <= 128
    and n >= 20, and ``"copula"`` above that or when KSG refuses the data (duplicate points):

    * the Gaussian-copula MI is consistent whenever the dependence has a Gaussian copula, whatever the
      marginals (Gaussian, heavy-tailed, monotone transforms), in any dimension and at any MI, and is
      exact on collapsed (low-rank) embeddings; for other copulas and 1-D x and y it is a lower bound,
      but for multivariate x, y it is not a bound of either sign (on nonlinear embeddings it can exceed the
      truth many-fold, which is why the latent route exists);
    * corrected KSG adds what the copula misses (e.g. the tail dependence of a Student-t) by running KSG
      on the normal scores and subtracting KSG's bias measured on a Gaussian surrogate of the same size,
      dimension and dependence strength. Plain KSG is biased low at high MI and in high dimension
      (Kraskov et al. 2004; Gao, Ver Steeg & Galstyan 2015, arXiv 1411.2003); the correction removes most
      of that bias. It costs two KSG runs, on a subsample when n^2 (dx + dy) > 1e10. Above 128
      dimensions the KSG neighbourhoods carry too little information for the correction to be worth
      its cost, and the copula value is returned.

    The choice is logged at DEBUG level on the ``"infossl"`` logger. Measured accuracy of this rule on the
    synthetic families is in ``benchmarks/results/accuracy.csv`` and ``benchmarks/results/highdim.csv``.

    **Repeated rows** (exact copies, e.g. an embedding dump of a finite data set, or rows re-sampled with
    replacement) come before the rules above (:func:`~infossl.estimators._routes.repeated_rows`). When both
    sides are repeated symbols (at most n/5 distinct rows each) the value is the plug-in MI of the symbols
    (:func:`~infossl.estimators.discrete_mutual_information`, Miller-Madow corrected): the MI of the
    discrete distribution of the rows. Otherwise each distinct (x, y) pair is counted once and the rules
    run on the distinct pairs: the value then estimates the MI of the distribution the distinct pairs were
    drawn from (copies read as re-sampling), not of the empirical distribution with its repeats. Either way
    a :class:`~infossl.estimators.reliability.ReliabilityWarning` says which was measured.

    **The log n ceiling in the plain call**: a model-based route (``gaussian``, ``copula``,
    ``corrected-ksg``, ``latent``) that reads more than log n (n: the rows it ran on, so the distinct pairs
    when rows repeat) warns with :class:`~infossl.estimators.reliability.ReliabilityWarning`: no
    distribution-free lower bound can certify more than O(log n) from n samples (McAllester & Stratos,
    AISTATS 2020), so such a value rests on the estimator's model.

    **The evidence route runs only with** ``details=True``: the cross-fitted comparison of the linear route
    with the nonlinear latent and the cluster codes (:func:`~infossl.estimators.details.mi_details`) fits
    every candidate on both halves of the rows plus one re-fit per winner: on 2 shared CPU cores 26 s at
    n = 2000, 64 + 64 dims and 84 s at n = 10^4, 512 + 512 dims (2.7 s and 29 s without it), so the plain
    call keeps the rules above.

    ``"auto"`` is **not differentiable** (its routes count neighbours, rank columns or fit encodings): on
    tensors that require grad it warns and returns a detached value. float16 and bfloat16 tensors are
    computed in float32 and the value is a float32 tensor (numpy input: float64 and a Python float).

    Returns
    -------
    float, 0-d tensor or EstimateResult
        The MI in nats: a Python float for numpy input, a 0-d tensor on the input's device for tensor input;
        an :class:`~infossl.estimators.reliability.EstimateResult` with ``details=True``.
    """
    if details:
        return mi_details(x, y, method, **options)
    if method == "auto":
        refuse_auto_options(method, options)
        return auto_mutual_information(x, y)[0]
    return mi_function(method)(x, y, **options)


def auto_mutual_information(x: ArrayLike, y: ArrayLike) -> tuple[Any, str]:
    """The ``method="auto"`` MI of ``x`` and ``y`` as :func:`mutual_information` returns it, and the route
    that computed it (after a fallback too: the structured form of the DEBUG log line).

    Returns
    -------
    tuple of (float or 0-d tensor, str)
        The value (a Python float for numpy input, a 0-d tensor for tensor input) and the route:
        ``"discrete"``, ``"latent"``, ``"corrected-ksg"`` or ``"copula"``.
    """
    tx, ty, b = check_pair(x, y, min_samples=3)
    value, route = auto_mi_estimate(tx, ty)
    return b.finish(value), route


def auto_mi_estimate(tx: torch.Tensor, ty: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The ``method="auto"`` MI of validated tensors (n, dx), (n, dy) and the route that computed it.

    Warns (:class:`~infossl.estimators.reliability.ReliabilityWarning`) when rows repeat (saying what is
    measured) and when a model-based route reads more than log n (the "log n ceiling").

    Returns
    -------
    tuple of (0-d tensor, str)
        The value and the route: ``"discrete"``, ``"latent"``, ``"corrected-ksg"`` or ``"copula"``.
    """
    n, dims = tx.shape[0], tx.shape[1] + ty.shape[1]
    if tx.requires_grad or ty.requires_grad:
        warn("mutual_information(method='auto') is not differentiable (its routes count neighbours, rank "
             "columns or fit encodings): the value is returned detached, with no gradient. For a "
             "differentiable MI name a method, e.g. method='gaussian' or a variational bound.",
             UserWarning)
    tx, ty = tx.detach(), ty.detach()
    route = mi_route(tx, ty)
    logger.debug("mutual_information(method='auto'): n=%d, dims=%d -> %s", n, dims, describe(route))
    rep = route.info.get("repeated_rows")
    if rep is not None:
        warn(f"mutual_information(method='auto'): {repeated_rows_note(rep, route.method)}.",
             ReliabilityWarning)
    if route.rows is not None:
        tx, ty = tx[route.rows], ty[route.rows]
    value, method = _run_route(tx, ty, route)
    ceiling = math.log(tx.shape[0])
    if method in MODEL_BASED_METHODS and float(value) > ceiling:
        warn(f"mutual_information(method='auto'): check 'log n ceiling' failed: {method} reads "
             f"{float(value):.3f} nats > log n = {ceiling:.3f} (n = {tx.shape[0]}); no distribution-free "
             "lower bound can certify that much from n samples (McAllester & Stratos 2020), so the value "
             "rests on the estimator's model. details=True gives its checks.", ReliabilityWarning)
    return value, method


def _run_route(tx: torch.Tensor, ty: torch.Tensor, route) -> tuple[torch.Tensor, str]:
    if route.method == "discrete":
        return torch.tensor(mi_function("discrete")(tx, ty), dtype=tx.dtype, device=tx.device), "discrete"
    if route.method == "latent":
        # TwoNN on the route's own training rows (as details=True measures it): all rows of class-clustered
        # data read a smaller dimension than the rows the latent is fitted on
        return latent_parts(tx, ty).value, "latent"
    if route.method == "corrected-ksg":
        try:
            return mi_function("corrected-ksg")(tx, ty), "corrected-ksg"
        except ValueError as exc:  # duplicate points: KSG is undefined there
            logger.debug("mutual_information(method='auto'): KSG refused (%s) -> copula", exc)
    return mi_function("copula")(tx, ty), "copula"
