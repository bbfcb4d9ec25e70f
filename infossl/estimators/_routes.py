"""The rules of ``method="auto"``, in one place: the method tables, every threshold, and the decision.

:func:`mi_route` and :func:`entropy_route` return a :class:`Route`: the estimator ``"auto"`` runs, the
reasons (one line per condition that decided it) and what was measured on the way (the intrinsic
dimensions). :mod:`~infossl.estimators.dispatch` runs the route; :mod:`~infossl.estimators.details` runs it
and checks it. Why the rules are what they are (and what they measured) is documented once, in
:func:`~infossl.estimators.mutual_information` and :func:`~infossl.estimators.entropy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from infossl.estimators.copula import copula_entropy, copula_mutual_information
from infossl.estimators.corrected import corrected_knn_entropy, corrected_ksg_mutual_information
from infossl.estimators.gaussian import gaussian_entropy, gaussian_mutual_information, logdet_entropy
from infossl.estimators.intrinsic import linear_dimension, raw_twonn
from infossl.estimators.knn import knn_entropy, ksg_mutual_information
from infossl.estimators.latent import latent_mutual_information
from infossl.estimators.matrix import renyi_entropy, renyi_mutual_information
from infossl.estimators.mixture import mixture_entropy
from infossl.estimators.variational import (dv_mutual_information, infonce_mutual_information,
                                            nwj_mutual_information)

__all__ = ["AUTO_KNN_MAX_DIM", "ENTROPY_METHODS", "FULL_DIMENSIONAL_METHODS", "KSG_MIN_ROWS", "LATENT_MAX_ID",
           "LATENT_MIN_DIM", "LATENT_MIN_ROWS", "MI_METHODS", "Route", "describe", "entropy_function",
           "entropy_route", "low_dimensional_sides", "mi_function", "mi_route", "refuse_auto_options"]

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

#: The k-NN routes ("corrected-knn", "corrected-ksg") up to this many dimensions (d, or dx + dy); above it the
#: k-NN correction costs more than it can resolve and the copula value is returned.
AUTO_KNN_MAX_DIM = 128
#: Fewer rows than this: the copula route (k-NN with k = 3 on a handful of rows, and the corrected KSG's
#: Gaussian surrogate of the same size, resolve too little to correct anything).
KSG_MIN_ROWS = 20
#: A side is tested for a curved low-dimensional set only with at least this many dimensions: the latent
#: route was set and measured on 64 to 2048 (``benchmarks/results/highdim.csv``); smaller sides stay on the
#: full-dimensional routes.
LATENT_MIN_DIM = 16
#: ... and only with at least this many rows: the latent route fits on one half of them and estimates on the
#: other, and TwoNN needs hundreds of rows to read a dimension of a few units.
LATENT_MIN_ROWS = 500
#: A TwoNN dimension above min(d / LATENT_DIM_RATIO, LATENT_MAX_ID) is not "low": the latent route was
#: measured up to 16 latent dimensions (TwoNN reads 16 as about 14 at 2000 rows), and a latent a quarter
#: of the ambient dimension or more leaves the principal-component step little to discard.
LATENT_MAX_ID = 24.0
LATENT_DIM_RATIO = 4.0
#: A side is curved when its linear dimension (principal components for LINEAR_VARIANCE_FRACTION of the
#: variance) is at least CURVED_FACTOR x TwoNN + CURVED_OFFSET; a low-rank *linear* embedding (linear
#: dimension about equal to TwoNN) is left to the copula route, which is exact there.
LINEAR_VARIANCE_FRACTION = 0.99
CURVED_FACTOR = 1.5
CURVED_OFFSET = 1.0
#: Methods that model the full ambient dimension: on a curved low-dimensional set they count every nonlinear
#: feature as new information (the ``details`` intrinsic-dimension check fails for them there).
FULL_DIMENSIONAL_METHODS = ("gaussian", "copula", "corrected-ksg", "renyi")


@dataclass(frozen=True)
class Route:
    """What ``"auto"`` decided: the ``method`` it runs, one line per condition that decided it, and the
    quantities measured on the way (``info``: TwoNN dimensions ``id_x``, ``id_y`` and flags ``low_x``,
    ``low_y`` for MI; empty for entropy)."""

    method: str
    reasons: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)


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


def _sides(tx: torch.Tensor, ty: torch.Tensor) -> tuple[dict[str, Any], list[str]]:
    out: dict[str, Any] = {"id_x": None, "id_y": None, "low_x": False, "low_y": False}
    reasons: list[str] = []
    if tx.shape[0] < LATENT_MIN_ROWS:
        return out, [f"n = {tx.shape[0]} < {LATENT_MIN_ROWS}: no intrinsic dimension measured"]
    for side, t in (("x", tx), ("y", ty)):
        d = t.shape[1]
        if d < LATENT_MIN_DIM:
            continue
        idv = raw_twonn(t)
        out[f"id_{side}"] = idv
        if idv is not None and idv <= min(d / LATENT_DIM_RATIO, LATENT_MAX_ID):
            linear = linear_dimension(t, LINEAR_VARIANCE_FRACTION)
            out[f"low_{side}"] = linear >= CURVED_FACTOR * idv + CURVED_OFFSET
            if out[f"low_{side}"]:
                reasons.append(f"{side} lies on a curved low-dimensional set: TwoNN {idv:.1f} <= min(d/4, "
                               f"{LATENT_MAX_ID:g}) with d = {d}, and {linear} principal components for "
                               "99 % of the variance >= 1.5 x TwoNN + 1")
    return out, reasons


def low_dimensional_sides(tx: torch.Tensor, ty: torch.Tensor) -> dict[str, Any]:
    """TwoNN dimension and the "curved low-dimensional set" flag of each side, as used by "auto" MI.

    Measured only when n >= :data:`LATENT_MIN_ROWS` and the side has >= :data:`LATENT_MIN_DIM` dimensions
    (else None / False). A side is flagged when its TwoNN dimension is at most min(d/4, :data:`LATENT_MAX_ID`)
    and its linear dimension is at least 1.5 x that + 1.
    """
    return _sides(tx, ty)[0]


def mi_route(tx: torch.Tensor, ty: torch.Tensor) -> Route:
    """The method "auto" MI uses on validated tensors (n, dx), (n, dy), why, and the intrinsic dimensions it
    measured: ``"latent"`` when a side lies on a curved low-dimensional set, else ``"corrected-ksg"`` when
    dx + dy <= :data:`AUTO_KNN_MAX_DIM` and n >= :data:`KSG_MIN_ROWS`, else ``"copula"``."""
    n, dims = tx.shape[0], tx.shape[1] + ty.shape[1]
    info, reasons = _sides(tx, ty)
    if info["low_x"] or info["low_y"]:
        if info["id_x"] is None:
            info["id_x"] = raw_twonn(tx)
        if info["id_y"] is None:
            info["id_y"] = raw_twonn(ty)
        return Route("latent", tuple(reasons), info)
    if dims > AUTO_KNN_MAX_DIM:
        reasons.append(f"dx + dy = {dims} > {AUTO_KNN_MAX_DIM}: too wide for the k-NN correction")
        return Route("copula", tuple(reasons), info)
    if n < KSG_MIN_ROWS:
        reasons.append(f"n = {n} < {KSG_MIN_ROWS}: too few rows for k-NN")
        return Route("copula", tuple(reasons), info)
    reasons.append(f"dx + dy = {dims} <= {AUTO_KNN_MAX_DIM} and n = {n} >= {KSG_MIN_ROWS}")
    return Route("corrected-ksg", tuple(reasons), info)


def entropy_route(t: torch.Tensor) -> Route:
    """The method "auto" entropy uses for validated (n, d) samples, and why: ``"corrected-knn"`` when
    d <= :data:`AUTO_KNN_MAX_DIM` and n > d (its Gaussian surrogate needs a full-rank covariance), else
    ``"copula"``."""
    n, d = t.shape
    if d > AUTO_KNN_MAX_DIM:
        return Route("copula", (f"d = {d} > {AUTO_KNN_MAX_DIM}: too wide for the k-NN correction",))
    if n <= d:
        return Route("copula", (f"n = {n} <= d = {d}: the Gaussian surrogate of corrected-knn needs n > d",))
    return Route("corrected-knn", (f"d = {d} <= {AUTO_KNN_MAX_DIM} and n = {n} > d",))


def describe(route: Route) -> str:
    """``route`` as one line: the method and its reasons (the DEBUG log line of ``"auto"``)."""
    return f"{route.method} ({'; '.join(route.reasons)})" if route.reasons else route.method


def refuse_auto_options(method: str, options: dict[str, Any]) -> None:
    """Raise ``TypeError`` when ``method="auto"`` is given estimator options: they would belong to whichever
    method the rules pick, so the caller names the method instead."""
    if method == "auto" and options:
        raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
