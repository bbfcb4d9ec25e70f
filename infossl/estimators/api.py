"""The ``method=`` façade: :func:`entropy` and :func:`mutual_information`.

Each method name maps to one public estimator function; options are passed through unchanged, so the
estimator's own docstring documents them. ``"auto"`` is the documented rule in :func:`entropy` and
:func:`mutual_information`.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable


from infossl._backend import ArrayLike
from infossl._validation import check_embeddings, check_pair

logger = logging.getLogger("infossl")

# method name -> (module, function). Imported on first use.
ENTROPY_METHODS: dict[str, tuple[str, str]] = {
    "gaussian": ("gaussian", "gaussian_entropy"),
    "logdet": ("gaussian", "logdet_entropy"),
    "copula": ("copula", "copula_entropy"),
    "knn": ("knn", "knn_entropy"),
    "corrected-knn": ("corrected", "corrected_knn_entropy"),
    "mixture": ("mixture", "mixture_entropy"),
    "renyi": ("matrix", "renyi_entropy"),
}
MI_METHODS: dict[str, tuple[str, str]] = {
    "gaussian": ("gaussian", "gaussian_mutual_information"),
    "copula": ("copula", "copula_mutual_information"),
    "ksg": ("knn", "ksg_mutual_information"),
    "corrected-ksg": ("corrected", "corrected_ksg_mutual_information"),
    "infonce": ("variational", "infonce_mutual_information"),
    "nwj": ("variational", "nwj_mutual_information"),
    "dv": ("variational", "dv_mutual_information"),
    "renyi": ("matrix", "renyi_mutual_information"),
}

# "auto" uses the surrogate-corrected kNN estimators up to this many dimensions (see the docstrings).
AUTO_KNN_MAX_DIM = 128


def _resolve(table: dict[str, tuple[str, str]], method: str, what: str) -> Callable[..., Any]:
    if method not in table:
        names = ", ".join(repr(m) for m in (*table, "auto"))
        raise ValueError(f"unknown {what} method {method!r}; choose one of {names}")
    module, func = table[method]
    return getattr(importlib.import_module(f"infossl.estimators.{module}"), func)


def entropy(z: ArrayLike, method: str = "auto", **options: Any):
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
    **options
        Passed to the estimator.

    Notes
    -----
    ``"auto"`` is ``"corrected-knn"`` (:func:`~infossl.estimators.corrected_knn_entropy`) for d <= 128 and
    ``"copula"`` above. Both start from the copula decomposition (1-D marginal entropies, accurate at any
    n, minus the Gaussian-copula total correlation), which has none of the d-dimensional kNN estimator's
    curse of dimensionality or boundary bias (a uniform box in 10 dimensions: kNN is 2.4 nats high) and is
    exact for Gaussian copulas with any marginals. ``"corrected-knn"`` adds the dependence a Gaussian copula
    cannot express, measured by kNN with its bias cancelled against a Gaussian surrogate. Above 128
    dimensions the kNN correction costs more than it can resolve and the copula value is returned (an
    upper bound for non-Gaussian copulas). The choice is logged at DEBUG level on the ``"infossl"``
    logger; accuracy per family is in ``benchmarks/results/accuracy.csv``.
    """
    if method == "auto":
        if options:
            raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
        t, _ = check_embeddings(z, min_samples=2)
        method = "corrected-knn" if t.shape[1] <= AUTO_KNN_MAX_DIM else "copula"
        logger.debug("entropy(method='auto'): d=%d -> %s", t.shape[1], method)
    return _resolve(ENTROPY_METHODS, method, "entropy")(z, **options)


def mutual_information(x: ArrayLike, y: ArrayLike, method: str = "auto", **options: Any):
    r"""Mutual information :math:`I(X;Y)` between paired samples ``x`` (n, dx) and ``y`` (n, dy), in nats.

    Parameters
    ----------
    x, y : array-like or torch.Tensor with the same number of rows
    method : str
        ``"gaussian"`` (log-det / CCA), ``"copula"`` (Gaussian copula, a lower bound), ``"ksg"``
        (Kraskov–Stögbauer–Grassberger), ``"infonce"``, ``"nwj"``, ``"dv"`` (variational lower bounds with a
        trained critic), ``"renyi"`` (matrix-based), or ``"auto"``.
    **options
        Passed to the estimator (see its docstring).

    Notes
    -----
    ``"auto"`` is ``"corrected-ksg"`` (:func:`~infossl.estimators.corrected_ksg_mutual_information`) when
    dx + dy <= 128 and n >= 20, and ``"copula"`` above that or when KSG refuses
    the data (duplicate points):

    * the Gaussian-copula MI is consistent whenever the dependence has a Gaussian copula, whatever the
      marginals (Gaussian, heavy-tailed, monotone transforms), in any dimension and at any MI, and is
      exact on collapsed (low-rank) embeddings; for other copulas it is a lower bound;
    * corrected KSG adds what the copula misses (e.g. the tail dependence of a Student-t) by running KSG
      on the normal scores and subtracting KSG's bias measured on a Gaussian surrogate of the same size,
      dimension and dependence strength. Plain KSG is biased low at high MI and in high dimension
      (Kraskov et al. 2004; Gao, Ver Steeg & Galstyan 2015, arXiv 1411.2003); the correction removes most
      of that bias. It costs two KSG runs, on a subsample when n^2 (dx + dy) > 1e10. Above 128
      dimensions the KSG neighbourhoods carry too little information for the correction to be worth
      its cost, and the copula value is returned.

    The choice is logged at DEBUG level on the ``"infossl"`` logger. Measured accuracy of this rule on the
    synthetic families is in ``benchmarks/results/accuracy.csv``.
    """
    if method == "auto":
        if options:
            raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
        return _auto_mi(x, y)
    return _resolve(MI_METHODS, method, "mutual-information")(x, y, **options)


def _auto_mi(x: ArrayLike, y: ArrayLike):
    tx, ty, b = check_pair(x, y, min_samples=3)
    n, dims = tx.shape[0], tx.shape[1] + ty.shape[1]
    if dims <= AUTO_KNN_MAX_DIM and n >= 20:
        try:
            value = _resolve(MI_METHODS, "corrected-ksg", "")(tx, ty)
            logger.debug("mutual_information(method='auto'): n=%d, dims=%d -> corrected-ksg", n, dims)
            return b.finish(value)
        except ValueError as exc:  # duplicate points: KSG is undefined there
            logger.debug("mutual_information(method='auto'): KSG refused (%s) -> copula", exc)
    else:
        logger.debug("mutual_information(method='auto'): n=%d, dims=%d -> copula", n, dims)
    return b.finish(_resolve(MI_METHODS, "copula", "")(tx, ty))
