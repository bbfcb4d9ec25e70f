"""The ``method=`` façade: :func:`entropy` and :func:`mutual_information`.

Each method name maps to one public estimator function; options are passed through unchanged, so the
estimator's own docstring documents them. ``"auto"`` is the documented rule in :func:`entropy` and
:func:`mutual_information`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Optional

import torch


from infossl._backend import ArrayLike
from infossl._validation import check_embeddings, check_options, check_pair
from infossl.estimators.copula import copula_entropy, copula_mutual_information
from infossl.estimators.corrected import corrected_knn_entropy, corrected_ksg_mutual_information
from infossl.estimators.gaussian import gaussian_entropy, gaussian_mutual_information, logdet_entropy
from infossl.estimators.knn import knn_entropy, ksg_mutual_information
from infossl.estimators.latent import latent_mutual_information
from infossl.estimators.matrix import renyi_entropy, renyi_mutual_information
from infossl.estimators.mixture import mixture_entropy
from infossl.estimators.variational import dv_mutual_information, infonce_mutual_information, nwj_mutual_information

logger = logging.getLogger("infossl")

# method name -> the estimator function (a plain mapping that readers and tools can follow).
ENTROPY_METHODS: dict[str, Callable[..., Any]] = {
    "gaussian": gaussian_entropy,
    "logdet": logdet_entropy,
    "copula": copula_entropy,
    "knn": knn_entropy,
    "corrected-knn": corrected_knn_entropy,
    "mixture": mixture_entropy,
    "renyi": renyi_entropy,
}
MI_METHODS: dict[str, Callable[..., Any]] = {
    "gaussian": gaussian_mutual_information,
    "copula": copula_mutual_information,
    "ksg": ksg_mutual_information,
    "corrected-ksg": corrected_ksg_mutual_information,
    "infonce": infonce_mutual_information,
    "nwj": nwj_mutual_information,
    "dv": dv_mutual_information,
    "renyi": renyi_mutual_information,
    "latent": latent_mutual_information,
}

# "auto" uses the surrogate-corrected kNN estimators up to this many dimensions (see the docstrings).
AUTO_KNN_MAX_DIM = 128
# "auto" MI takes the latent route when a side has at least LATENT_MIN_DIM dimensions, n >= LATENT_MIN_ROWS,
# and its TwoNN dimension (on ID_ROWS rows) is at most min(d / 4, LATENT_MAX_ID) while its linear
# dimension (principal components for 99 % of the variance) is at least 1.5 x that + 1, i.e. a curved set.
LATENT_MIN_DIM = 16
LATENT_MIN_ROWS = 500
LATENT_MAX_ID = 24.0
ID_ROWS = 2000


def _resolve(table: dict[str, Callable[..., Any]], method: str, what: str) -> Callable[..., Any]:
    if method not in table:
        names = ", ".join(repr(m) for m in (*table, "auto"))
        raise ValueError(f"unknown {what} method {method!r}; choose one of {names}")
    return table[method]


def mi_function(method: str) -> Callable[..., Any]:
    """The public MI estimator function behind ``method`` (not "auto")."""
    return _resolve(MI_METHODS, method, "mutual-information")


def entropy_function(method: str) -> Callable[..., Any]:
    """The public entropy estimator function behind ``method`` (not "auto")."""
    return _resolve(ENTROPY_METHODS, method, "entropy")


# ------------------------------------------------------------------------------- intrinsic-dimension rules
def _id_rows(t: torch.Tensor) -> torch.Tensor:
    """At most ID_ROWS rows, evenly spaced (deterministic, no RNG)."""
    n = t.shape[0]
    if n <= ID_ROWS:
        return t
    return t[torch.linspace(0, n - 1, ID_ROWS, device=t.device).round().long()]


def _raw_twonn(t: torch.Tensor) -> Optional[float]:
    from infossl.estimators.intrinsic import twonn_dimension

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return twonn_dimension(_id_rows(t), max_samples=None).value
    except ValueError:  # duplicates only / ties everywhere
        return None


def _linear_dimension(t: torch.Tensor, fraction: float = 0.99) -> int:
    """Principal components needed for ``fraction`` of the variance of the column-standardised rows."""
    from infossl.linalg import centred, small_second_moment, standardize

    s = centred(standardize(_id_rows(t).double()))
    lam = torch.linalg.eigvalsh(small_second_moment(s)).flip(0).clamp_min(0)
    total = float(lam.sum())
    if total <= 0:
        return 0
    return int(torch.searchsorted(torch.cumsum(lam, 0) / total, torch.tensor(fraction, dtype=lam.dtype)).item()) + 1


def low_dimensional_sides(tx: torch.Tensor, ty: torch.Tensor) -> dict[str, Any]:
    """TwoNN dimension and the "curved low-dimensional set" flag of each side, as used by "auto" MI.

    Measured only when n >= LATENT_MIN_ROWS and the side has >= LATENT_MIN_DIM dimensions (else None /
    False). A side is flagged when its TwoNN dimension is at most min(d/4, LATENT_MAX_ID) and its linear
    dimension is at least 1.5 x that + 1 (a low-rank *linear* embedding is left to the copula route, which
    is exact there).
    """
    out: dict[str, Any] = {"id_x": None, "id_y": None, "low_x": False, "low_y": False}
    if tx.shape[0] < LATENT_MIN_ROWS:
        return out
    for side, t in (("x", tx), ("y", ty)):
        d = t.shape[1]
        if d < LATENT_MIN_DIM:
            continue
        idv = _raw_twonn(t)
        out[f"id_{side}"] = idv
        if idv is not None and idv <= min(d / 4.0, LATENT_MAX_ID):
            out[f"low_{side}"] = _linear_dimension(t) >= 1.5 * idv + 1
    return out


def auto_mi_route(tx: torch.Tensor, ty: torch.Tensor) -> tuple[str, dict[str, Any]]:
    """The method "auto" MI uses on validated tensors, and the intrinsic dimensions it measured."""
    n, dims = tx.shape[0], tx.shape[1] + ty.shape[1]
    info = low_dimensional_sides(tx, ty)
    if info["low_x"] or info["low_y"]:
        if info["id_x"] is None:
            info["id_x"] = _raw_twonn(tx)
        if info["id_y"] is None:
            info["id_y"] = _raw_twonn(ty)
        route = "latent"
    elif dims <= AUTO_KNN_MAX_DIM and n >= 20:
        route = "corrected-ksg"
    else:
        route = "copula"
    return route, info


def manifold_dimension(t: torch.Tensor) -> Optional[float]:
    """Calibrated TwoNN dimension of the rows of ``t`` (None when n < 50 or d = 1): the raw TwoNN value when
    it is at least d/2, else its Gaussian-matched calibration (:func:`~infossl.estimators.latent.calibrated_dimension`,
    up to min(d, 128) dimensions; None when it reaches that cap: too few rows to tell)."""
    from infossl.estimators.latent import calibrated_dimension

    n, d = t.shape
    if n < 50 or d < 2:
        return None
    raw = _raw_twonn(t)
    if raw is None or raw >= d / 2:
        return raw
    cap = min(d, 128)
    cal = calibrated_dimension(raw, min(n, ID_ROWS), max_dim=cap)
    return None if cal >= cap else float(cal)  # at the cap: too few rows to tell


def is_manifold(dimension: Optional[float], d: int) -> bool:
    """Whether a calibrated intrinsic dimension says the data lie on a lower-dimensional set (<= d/2)."""
    return dimension is not None and d >= 2 and dimension <= d / 2


def auto_entropy_route(t: torch.Tensor) -> str:
    """The method "auto" entropy uses for validated (n, d) samples."""
    n, d = t.shape
    return "corrected-knn" if d <= AUTO_KNN_MAX_DIM and n > d else "copula"


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
        Return an :class:`~infossl.estimators.details.EstimateResult` (value, interval, kind, method and the
        trust checks of :func:`~infossl.estimators.details.entropy_details`) instead of the bare value;
        failed checks warn with :class:`~infossl.estimators.details.ReliabilityWarning`. Computed in float64
        on the CPU; costs about three estimates.
    **options
        Passed to the estimator.

    Notes
    -----
    ``"auto"`` is ``"corrected-knn"`` (:func:`~infossl.estimators.corrected_knn_entropy`) for d <= 128 (and
    n > d, which its Gaussian surrogate needs) and ``"copula"`` otherwise. Both start from the copula decomposition (1-D marginal entropies, accurate at any
    n, minus the Gaussian-copula total correlation), which has none of the d-dimensional kNN estimator's
    curse of dimensionality or boundary bias (a uniform box in 10 dimensions: kNN is 2.4 nats high) and is
    exact for Gaussian copulas with any marginals. ``"corrected-knn"`` adds the dependence a Gaussian copula
    cannot express, measured by kNN with its bias cancelled against a Gaussian surrogate. Above 128
    dimensions the kNN correction costs more than it can resolve and the copula value is returned (an
    upper bound for non-Gaussian copulas). The choice is logged at DEBUG level on the ``"infossl"``
    logger; accuracy per family is in ``benchmarks/results/accuracy.csv``.

    Data on a lower-dimensional set (an embedding of a k-dimensional latent in R^d, k <= d/2 by the
    calibrated TwoNN dimension, :func:`manifold_dimension`) have differential entropy :math:`-\infty`;
    ``"auto"`` then still returns the estimator's finite number but warns
    (:class:`~infossl.estimators.details.ReliabilityWarning`) and points to the input-noise model of
    :mod:`infossl.deterministic`. The check costs one TwoNN run on at most 2000 rows.
    """
    if details:
        from infossl.estimators.details import entropy_details

        return entropy_details(z, method, **options)
    if method == "auto":
        if options:
            raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
        t, _ = check_embeddings(z, min_samples=2)
        method = auto_entropy_route(t)
        logger.debug("entropy(method='auto'): d=%d -> %s", t.shape[1], method)
        _warn_if_manifold(t)
    return _resolve(ENTROPY_METHODS, method, "entropy")(z, **options)


def _warn_if_manifold(t: torch.Tensor) -> None:
    from infossl.estimators.details import ReliabilityWarning

    dim = manifold_dimension(t.detach())
    if is_manifold(dim, t.shape[1]):
        warnings.warn(
            f"entropy(method='auto'): the {t.shape[1]}-dimensional samples lie on a set of intrinsic dimension "
            f"about {dim:.1f} (TwoNN); their differential entropy is -inf (undefined), and the finite value "
            "returned is an artefact of the estimator's resolution. Model the input noise (infossl.deterministic) "
            "or add noise of an explicit width before estimating.", ReliabilityWarning, stacklevel=3)


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
        Return an :class:`~infossl.estimators.details.EstimateResult` (value, interval, kind, method and the
        checks of :func:`~infossl.estimators.details.mi_details`: n, n/2, n/4 stability, agreement of two
        estimators, the log n ceiling, intrinsic dimension) instead of the bare value; failed checks warn
        with :class:`~infossl.estimators.details.ReliabilityWarning`. Computed in float64 on the CPU; costs
        about three estimates.
    **options
        Passed to the estimator (see its docstring).

    Notes
    -----
    ``"auto"`` first measures the intrinsic dimension of each side with at least 16 dimensions
    (TwoNN on at most 2000 rows, when n >= 500; :func:`low_dimensional_sides`). If a side lies on a curved
    low-dimensional set (TwoNN dimension at most min(d/4, 24) while 99 % of its variance needs at least
    1.5 times that + 1 principal components) it is ``"latent"``
    (:func:`~infossl.estimators.latent_mutual_information`). On the embedded family of
    :mod:`~infossl.estimators.embedded` (k = 1..16 into 64..2048 dimensions) that is within 10 % of the
    truth for k <= 8, where the rules below were 4 to 25 times too high (``benchmarks/results/highdim.csv``).
    No family of ``benchmarks/accuracy.py`` triggers it (full-dimensional ones read 18-35 at d = 25-50; the
    collapsed family is linear), so their results are unchanged. Otherwise ``"auto"`` is
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
    """
    if details:
        from infossl.estimators.details import mi_details

        return mi_details(x, y, method, **options)
    if method == "auto":
        if options:
            raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
        return _auto_mi(x, y)
    return _resolve(MI_METHODS, method, "mutual-information")(x, y, **options)


def _auto_mi(x: ArrayLike, y: ArrayLike):
    tx, ty, b = check_pair(x, y, min_samples=3)
    return b.finish(auto_mi_estimate(tx, ty)[0])


def auto_mi_estimate(tx: torch.Tensor, ty: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The ``method="auto"`` MI of validated tensors (n, dx), (n, dy) and the route that computed it
    (``"latent"``, ``"corrected-ksg"`` or ``"copula"``; the rule is in :func:`mutual_information`)."""
    n, dims = tx.shape[0], tx.shape[1] + ty.shape[1]
    route, info = auto_mi_route(tx, ty)
    if route == "latent":
        from infossl.estimators.latent import latent_parts

        logger.debug("mutual_information(method='auto'): n=%d, dims=%d, TwoNN %s / %s -> latent", n, dims,
                     info["id_x"], info["id_y"])
        return latent_parts(tx, ty, id_x=info["id_x"], id_y=info["id_y"]).value, "latent"
    if route == "corrected-ksg":
        try:
            value = _resolve(MI_METHODS, "corrected-ksg", "")(tx, ty)
            logger.debug("mutual_information(method='auto'): n=%d, dims=%d -> corrected-ksg", n, dims)
            return value, "corrected-ksg"
        except ValueError as exc:  # duplicate points: KSG is undefined there
            logger.debug("mutual_information(method='auto'): KSG refused (%s) -> copula", exc)
    else:
        logger.debug("mutual_information(method='auto'): n=%d, dims=%d -> copula", n, dims)
    return _resolve(MI_METHODS, "copula", "")(tx, ty), "copula"
