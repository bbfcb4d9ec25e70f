"""The rules of ``method="auto"``, in one place: the method tables, every threshold, and the decision.

:func:`mi_route` and :func:`entropy_route` return a :class:`Route`: the estimator ``"auto"`` runs, the
reasons (one line per condition that decided it) and what was measured on the way (the intrinsic
dimensions). :mod:`~infossl.estimators.dispatch` runs the route; :mod:`~infossl.estimators.details` runs it
and checks it. Why the rules are what they are (and what they measured) is documented once, in
:func:`~infossl.estimators.mutual_information` and :func:`~infossl.estimators.entropy`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from infossl.estimators.copula import copula_entropy, copula_mutual_information
from infossl.estimators.corrected import corrected_knn_entropy, corrected_ksg_mutual_information
from infossl.estimators.gaussian import gaussian_entropy, gaussian_mutual_information, logdet_entropy
from infossl.estimators.intrinsic import linear_dimension, raw_twonn
from infossl.estimators.knn import knn_entropy, ksg_mutual_information
from infossl.estimators.latent import latent_mutual_information
from infossl.estimators.matrix import renyi_entropy, renyi_mutual_information
from infossl.estimators.mixture import mixture_entropy
from infossl.estimators.nonlinear import discrete_mutual_information
from infossl.estimators.variational import (dv_mutual_information, infonce_mutual_information,
                                            nwj_mutual_information)

__all__ = ["AUTO_KNN_MAX_DIM", "DISCRETE_MIN_COPIES", "ENTROPY_METHODS", "FULL_DIMENSIONAL_METHODS",
           "KSG_MIN_ROWS", "LATENT_MAX_ID", "LATENT_MIN_DIM", "LATENT_MIN_ROWS", "MI_METHODS",
           "MODEL_BASED_METHODS", "Route", "describe", "entropy_function", "entropy_route",
           "low_dimensional_sides", "mi_function", "mi_route", "refuse_auto_options", "repeated_rows",
           "repeated_rows_note"]

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
    "discrete": discrete_mutual_information,
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
#: Routes whose value rests on a model (a Gaussian surrogate, a copula, fitted encodings) rather than on
#: counts: above log n they say more than n samples can certify (McAllester & Stratos 2020), and the plain
#: call warns.
MODEL_BASED_METHODS = ("gaussian", "copula", "corrected-ksg", "latent")
#: Repeated rows: when each side has at most n / DISCRETE_MIN_COPIES distinct rows (on average at least this
#: many copies of each), the rows are read as discrete symbols and "auto" takes the plug-in estimator of
#: their MI (Miller-Madow corrected); with fewer copies the plug-in counts are too thin (its bias grows
#: with the number of joint symbols over n) and the repeated (x, y) pairs are counted once instead.
DISCRETE_MIN_COPIES = 5


@dataclass(frozen=True)
class Route:
    """What ``"auto"`` decided: the ``method`` it runs, one line per condition that decided it, and the
    quantities measured on the way (``info``: TwoNN dimensions ``id_x``, ``id_y`` and flags ``low_x``,
    ``low_y`` for MI, and the repeated-row counts of :func:`repeated_rows` when rows repeat; empty for
    entropy). ``rows`` are the row indices the method runs on (None: all; the first row of each distinct
    (x, y) pair when pairs repeat)."""

    method: str
    reasons: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)
    rows: Optional[torch.Tensor] = None


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


def _codes(t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Integer identity of every row (equal rows, equal codes) and the number of distinct rows."""
    _, inverse = torch.unique(t.detach().cpu(), dim=0, return_inverse=True)
    return inverse, int(inverse.max()) + 1 if inverse.numel() else 0


def repeated_rows(tx: torch.Tensor, ty: torch.Tensor) -> Optional[dict[str, Any]]:
    """Counts of exactly repeated rows of validated tensors (n, dx), (n, dy), or None when no (x, y) pair
    repeats and not both sides have :data:`DISCRETE_MIN_COPIES` copies per distinct row on average.

    Returns
    -------
    dict or None
        ``n``, ``distinct_x``, ``distinct_y``, ``distinct_pairs``, ``max_pair_copies``, ``discrete``
        (each side has at most n / :data:`DISCRETE_MIN_COPIES` distinct rows) and ``first_rows`` (a
        tensor: the index of the first row of each distinct (x, y) pair, in row order).
    """
    n = tx.shape[0]
    cx, kx = _codes(tx)
    cy, ky = _codes(ty)
    pair = cx.to(torch.int64) * ky + cy.to(torch.int64)
    uniq, inverse, counts = torch.unique(pair, return_inverse=True, return_counts=True)
    discrete = kx * DISCRETE_MIN_COPIES <= n and ky * DISCRETE_MIN_COPIES <= n
    if uniq.numel() == n and not discrete:
        return None
    first = torch.full((uniq.numel(),), n, dtype=torch.int64)
    first.scatter_reduce_(0, inverse, torch.arange(n), reduce="amin")
    return {"n": n, "distinct_x": kx, "distinct_y": ky, "distinct_pairs": int(uniq.numel()),
            "max_pair_copies": int(counts.max()), "discrete": bool(discrete),
            "first_rows": first.sort().values}


def repeated_rows_note(rep: dict[str, Any], method: str) -> str:
    """What ``"auto"`` measures on repeated rows (the text of its warning and of the details check).

    Returns
    -------
    str
        One sentence for ``rep`` (from :func:`repeated_rows`) and the route ``method`` that runs on it.
    """
    if method == "discrete":
        return (f"the rows repeat exactly ({rep['distinct_x']} distinct x rows, {rep['distinct_y']} "
                f"distinct y rows in n = {rep['n']}): they are read as discrete symbols and the value is the "
                "plug-in MI of the symbols (Miller-Madow corrected), I of the discrete distribution of the "
                "rows; if the repeats are copies of continuous samples, this is not the continuous MI")
    return (f"{rep['n'] - rep['distinct_pairs']} of n = {rep['n']} rows repeat an earlier (x, y) pair "
            f"exactly (up to {rep['max_pair_copies']} copies): each distinct pair is counted once, so the "
            f"value ({method}, on {rep['distinct_pairs']} rows) estimates the MI of the distribution the "
            "distinct pairs were drawn from (copies read as re-sampling), not of the empirical distribution "
            "with its repeats")


def mi_route(tx: torch.Tensor, ty: torch.Tensor) -> Route:
    """The method "auto" MI uses on validated tensors (n, dx), (n, dy), why, and the intrinsic dimensions it
    measured: ``"discrete"`` when both sides are repeated symbols (:func:`repeated_rows`), else (on the
    distinct (x, y) pairs when pairs repeat) ``"latent"`` when a side lies on a curved low-dimensional set,
    else ``"corrected-ksg"`` when dx + dy <= :data:`AUTO_KNN_MAX_DIM` and n >= :data:`KSG_MIN_ROWS`, else
    ``"copula"``.

    Returns
    -------
    Route
        The method, its reasons, the measured quantities and the rows it runs on.
    """
    rep = repeated_rows(tx, ty)
    if rep is not None:
        counts = {k: v for k, v in rep.items() if k != "first_rows"}
        if rep["discrete"]:
            return Route("discrete", (repeated_rows_note(rep, "discrete"),), {"repeated_rows": counts})
        rows = rep["first_rows"]
        inner = mi_route(tx[rows], ty[rows])
        note = (f"{rep['n'] - rep['distinct_pairs']} repeated (x, y) pairs counted once: "
                f"{rep['distinct_pairs']} distinct of n = {rep['n']}")
        return Route(inner.method, (note, *inner.reasons), {**inner.info, "repeated_rows": counts}, rows)
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


#: The keywords of the public façade, for the "did you mean" of a misspelled one.
FACADE_KEYWORDS = ("method", "details", "random_state")


def refuse_auto_options(method: str, options: dict[str, Any]) -> None:
    """Raise ``TypeError`` when ``method="auto"`` is given estimator options: they would belong to whichever
    method the rules pick, so the caller names the method instead. A keyword close to one of the façade's
    own (``metod=`` for ``method=``) is named as a likely misspelling (difflib).

    Returns
    -------
    None
    """
    if method == "auto" and options:
        hints = []
        for name in sorted(options):
            close = difflib.get_close_matches(name, FACADE_KEYWORDS, n=1, cutoff=0.7)
            if close:
                hints.append(f"{name!r} (did you mean {close[0]!r}?)")
        if hints:
            raise TypeError(f"unexpected keyword argument {', '.join(hints)}; method='auto' takes no options")
        raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
