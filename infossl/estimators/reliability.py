r"""How sure is an estimate: the generic assessment behind ``details=True``, for entropy and MI alike.

:func:`assess` takes an estimate on all n rows and a way to recompute it on a subset of rows, and returns an
:class:`EstimateResult`: the value, an interval, the kind of number, and the checks that say whether to
trust it. The checks that do not depend on the quantity live here:

* **stability** -- the estimate on the n rows, on two disjoint halves (n/2) and on four disjoint quarters
  (n/4). A consistent estimator that has converged gives the same value at the three sizes; a drift says
  its bias still depends on n (e.g. KSG at high MI), so the value at n is still biased the same way.
* **agreement** -- a second estimator built on different assumptions (:func:`agreement_check`; the partner
  is chosen per quantity by :mod:`~infossl.estimators.details`). When two unrelated estimators disagree,
  at least one is wrong here.
* **precision** -- the interval (below) is at most max(0.2 nats, half the value) wide on each side; a wider
  one means the value is not resolved at this n, however stable its mean looks.
* **degenerate input** -- present only when the estimate on all n rows raised a
  :class:`~infossl.DegenerateInputWarning` (constant or collinear columns, duplicate points, n <= d): the
  value is then the documented finite substitute the warning describes, not an estimate of the data's
  quantity, so the check fails. The warning itself is passed on to the caller, as the plain call gives it.

Each failed check raises a :class:`ReliabilityWarning` that says which check failed and why, attributed to
the caller's line.

The interval is :math:`\hat v \pm \big(t_{\nu, 0.975}\,\widehat{se} + |\delta|\big)` with the drift
:math:`\delta = \hat v(n) - \bar v(n/2)`. :math:`\widehat{se}^2` pools the variances of the two half and
the four quarter estimates, each scaled to n rows (:math:`se \propto n^{-1/2}`), weighted by their degrees
of freedom (1 and 3), so :math:`\nu = 4` and :math:`t_{4, 0.975} = 2.78`: with so few subsamples the
spread is itself uncertain. The drift term allows for the bias the spread cannot see: for a bias
:math:`c/n` the truth is :math:`\hat v + \delta`, but a drift is as noisy as the estimate itself and the
bias of a surrogate-corrected estimator need not shrink monotonically in n, so its sign is not trusted and
both sides are widened by :math:`|\delta|`.

What the interval is: a **stability band of nested subsamples** -- two disjoint halves and four disjoint
quarters of one random order of the rows (each quarter lies inside a half), all drawn from the one sample.
They are not independent replicates of the experiment, and the band is not a subsampling confidence
interval in the sense of Politis, Romano & Wolf (*Subsampling*, 1999), which needs many subsamples and a
known convergence rate; it is closest to a delete-half jackknife (Shao & Tu, *The Jackknife and Bootstrap*,
1995, sec. 5.2) with a Richardson-type drift term. It sees the estimator's sampling spread and the part of
its bias that still changes between n/2 and n; it **cannot see a bias that every subsample shares**
(encodings that lose information, a Gaussian surrogate that does not match the data's copula, a reading
that saturates below the truth). The checks that can see such a shared bias are separate: agreement across
k or with a partner chosen for the regime, the linear route against learned readings (nonlinear latent,
cluster codes), a learned reading that still rises with its training rows (extrapolation in n), and the
ceilings (log n, the entropy of a discrete side), in :mod:`~infossl.estimators.details`; they see some
shared biases, not all. Measured coverage of the
truth on families no rule was tuned on: ``benchmarks/results/highdim_coverage*.csv`` (Gaussian-copula and
Gaussian-latent families: 70 of 75) and ``benchmarks/results/realdata_*.csv`` (curved, real-image and
non-Gaussian-copula families; ``benchmarks/README.md`` has the figures).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch

from infossl._progress import progress_bar, progress_enabled
from infossl._validation import DegenerateInputWarning
from infossl._warnings import warn
from infossl.io.plain import to_plain

__all__ = ["Check", "EstimateResult", "ReliabilityWarning", "agreement_check", "assess", "recorded",
           "safe_value", "stability_band", "subsample_interval", "tolerance"]

#: :math:`t_{4, 0.975}`, the Student quantile of the interval for the pooled 4 degrees of freedom of two
#: halves and four quarters (scipy.stats.t.ppf(0.975, 4)); other degrees of freedom are looked up in scipy.
T4_975 = 2.7764451051977934


#: From this many rows the six subsample estimates of ``details=True`` (each an estimator run on n/2 or
#: n/4 rows; seconds or more for the k-NN and latent routes) draw a progress bar on a terminal.
PROGRESS_MIN_ROWS = 20_000


class ReliabilityWarning(UserWarning):
    """A check of :class:`EstimateResult` failed: the value should not be trusted as it stands."""


@dataclass
class Check:
    """One trust check: its name, whether it passed (None: not run), a one-line reason and its numbers."""

    name: str
    passed: Optional[bool]
    detail: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class EstimateResult:
    """An estimate with its interval, kind, method and checks (see the module doc).

    ``float(result)`` is the value; :meth:`to_dict` is strict-JSON-ready (numpy and torch values as Python
    numbers, NaN and infinities as None); ``str(result)`` is a short report.
    """

    quantity: str
    value: float
    interval: tuple[float, float]
    kind: str
    method: str
    n: int
    checks: list[Check]
    warnings: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)

    @property
    def trusted(self) -> bool:
        """True when no check failed."""
        return all(c.passed is not False for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain Python values.

        Returns
        -------
        dict
            Strict-JSON-ready values (numpy and torch numbers as Python ones, NaN and infinities as None),
            with ``trusted``.
        """
        d = asdict(self)
        d["interval"] = list(self.interval)
        d["trusted"] = self.trusted
        return to_plain(d, nonfinite="null")

    def __str__(self) -> str:
        lo, hi = self.interval
        lines = [f"{self.quantity} = {self.value:.4f} nats  [{lo:.4f}, {hi:.4f}]  ({self.kind}; "
                 f"method {self.method}; n = {self.n})"]
        for c in self.checks:
            mark = "n/a " if c.passed is None else ("ok  " if c.passed else "FAIL")
            lines.append(f"  {mark} {c.name:20s} {c.detail}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ the checks
def tolerance(a: float, b: float) -> float:
    """How far two estimates of one quantity may differ and still agree: 0.1 nats or 15 % of the larger."""
    return max(0.1, 0.15 * max(abs(a), abs(b)))


def subsample_interval(value: float, se: float, drift: float, dof: int = 4) -> tuple[float, float]:
    r"""The interval of an :class:`EstimateResult`: :math:`v \pm (t_{\nu, 0.975}\,se + |\delta|)`
    (see the module doc).

    ``se`` is the pooled subsample standard error scaled to n rows, ``drift`` the estimate at n minus the
    mean of the half-sample estimates, ``dof`` the pooled degrees of freedom (4 for two halves and four
    quarters).
    """
    if dof == 4:
        quantile = T4_975
    else:  # only a partial pooling (too few rows for quarters) reaches scipy
        from scipy.stats import t as student_t

        quantile = float(student_t.ppf(0.975, dof))
    half_width = quantile * se + abs(drift)
    return value - half_width, value + half_width


def _subsamples(fn: Callable[[torch.Tensor], float], n: int, rng: np.random.Generator, min_rows: int
                ) -> tuple[list[float], list[float]]:
    """Estimates on two disjoint halves and four disjoint quarters of the rows (empty when too small), under a
    progress bar from :data:`PROGRESS_MIN_ROWS` rows (:mod:`infossl._progress`)."""
    perm = torch.from_numpy(rng.permutation(n))
    halves, quarters = [], []
    total = (2 if n // 2 >= min_rows else 0) + (4 if n // 4 >= min_rows else 0)
    with progress_bar(progress_enabled(work=n, min_work=PROGRESS_MIN_ROWS), total=total,
                      desc="details: subsamples", unit="estimate") as bar:
        if n // 2 >= min_rows:
            for i in range(2):
                halves.append(fn(perm[i::2].sort().values))
                bar.update(1)
        if n // 4 >= min_rows:
            for i in range(4):
                quarters.append(fn(perm[i::4].sort().values))
                bar.update(1)
    return halves, quarters


def pooled_spread(halves: list[float], quarters: list[float]) -> tuple[float, int]:
    """The standard error at n rows from the two half and four quarter estimates: each group's spread scaled
    to n rows (se ~ n^-1/2: a half's variance / 2, a quarter's / 4) and pooled by its degrees of freedom
    (1 + 3). The one home of this rule (the band of every estimator's details and of the held-out fits).

    Returns
    -------
    (float, int)
        The standard error (NaN without two halves) and its degrees of freedom (0, 1 or 4).
    """
    pooled, dof = 0.0, 0
    if len(halves) == 2:
        pooled, dof = pooled + float(np.var(halves, ddof=1)) / 2.0, dof + 1
    if len(quarters) == 4:
        pooled, dof = pooled + 3 * float(np.var(quarters, ddof=1)) / 4.0, dof + 3
    return (math.sqrt(pooled / dof) if dof else float("nan")), dof


def _stability(value: float, halves: list[float], quarters: list[float]
               ) -> tuple[tuple[float, float], Check]:
    """The interval and the stability check from the subsample estimates."""
    if not all(math.isfinite(v) for v in [*halves, *quarters]):
        rounded = [round(v, 3) for v in [*halves, *quarters]]
        check = Check("stability n, n/2, n/4", False, f"n: {value:.3f}, subsample estimates {rounded} -- not "
                      "finite on fewer rows: the estimate at n rests on too few rows per dimension",
                      {"n/2": halves, "n/4": quarters})
        return (value, value), check
    se, dof = pooled_spread(halves, quarters)
    if not halves:
        return (value, value), Check("stability n, n/2, n/4", None, "too few rows for the subsample checks")
    h = float(np.mean(halves))
    q = float(np.mean(quarters)) if quarters else float("nan")
    drift = value - h
    lo, hi = subsample_interval(value, se, drift, dof)
    tol = tolerance(value, h) + 2.0 * se
    ok = abs(drift) <= tol and (not quarters or abs(h - q) <= tolerance(h, q) + 4.0 * se)
    qtext = f", n/4: {q:.3f}" if quarters else ""
    detail = f"n: {value:.3f}, n/2: {h:.3f}{qtext}" + ("" if ok else " -- the estimate still moves with n, "
                                                       "so its bias has not settled; more rows or another method")
    return (lo, hi), Check("stability n, n/2, n/4", bool(ok), detail,
                           {"n": value, "n/2": h, "n/4": q, "drift": drift, "se": se})


def stability_band(value: float, fn: Callable[[torch.Tensor], float], n: int, rng: np.random.Generator,
                   min_rows: int) -> tuple[tuple[float, float], Check]:
    """The interval and stability check of ``value`` from ``fn`` re-run on two halves and four quarters of
    n rows (the band of the module doc), for a candidate that is compared rather than reported.

    Returns
    -------
    tuple of ((float, float), Check)
        The interval and the "stability n, n/2, n/4" check.
    """
    halves: list[float] = []
    quarters: list[float] = []
    if math.isfinite(value):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                halves, quarters = _subsamples(fn, n, rng, min_rows)
            except ValueError:
                pass
    return _stability(value, halves, quarters)


def _precision(value: float, interval: tuple[float, float]) -> Check:
    """Whether the interval resolves the value: its half-width at most max(0.2 nats, half the value)."""
    lo, hi = interval
    half = 0.5 * (hi - lo)
    if not (math.isfinite(value) and math.isfinite(half)):
        return Check("precision", None, "no finite interval")
    if half == 0:
        return Check("precision", None, "no interval: too few rows for the subsample estimates")
    ok = half <= max(0.2, 0.5 * abs(value))
    detail = f"interval half-width {half:.3f} nats" + ("" if ok else
             " -- wider than half the value: the estimate is not resolved at this n; more rows, or a method "
             "with less variance")
    return Check("precision", bool(ok), detail, {"half_width": half})


def _degenerate(caught: list[warnings.WarningMessage]) -> Optional[Check]:
    """A failed "degenerate input" check when the estimate raised a DegenerateInputWarning, else None."""
    messages = [str(w.message) for w in caught if issubclass(w.category, DegenerateInputWarning)]
    if not messages:
        return None
    return Check("degenerate input", False, "; ".join(messages) + " -- the value is the estimator's finite "
                 "substitute for degenerate data, not an estimate of the quantity", {"warnings": messages})


def agreement_check(name_a: str, a: float, name_b: str, b: Optional[float], why: str = "") -> Check:
    """Whether ``a`` and a partner estimate ``b`` agree within :func:`tolerance` (not run when ``b`` is None
    or not finite; ``why`` then says why it could not be computed)."""
    if b is None or not math.isfinite(b):
        return Check("agreement", None, f"{name_b} could not be computed{': ' + why if why else ''}")
    ok = abs(a - b) <= tolerance(a, b)
    detail = f"{name_a} {a:.3f} vs {name_b} {b:.3f}" + ("" if ok else
             " -- two estimators built on different assumptions disagree; at least one is wrong here")
    return Check("agreement", bool(ok), detail, {name_a: a, name_b: b})


def safe_value(fn: Callable[[], Any]) -> Optional[float]:
    """``float(fn())`` with its warnings silenced, or None when it raises ValueError or RuntimeError (for
    partner estimates: their own warnings are not the caller's)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(fn())
    except (ValueError, RuntimeError):
        return None


def recorded(fn: Callable[[], Any]) -> tuple[Any, list[warnings.WarningMessage]]:
    """``fn()`` and the warnings it raised, caught instead of shown (:func:`assess` passes them on)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, list(caught)


# ------------------------------------------------------------------------------------------ the assessment
def assess(*, quantity: str, method: str, value: float, caught: list[warnings.WarningMessage],
           subsample: Callable[[torch.Tensor], float], n: int, rng: np.random.Generator, min_rows: int,
           checks: list[Check], kind: str, info: dict[str, Any],
           band: Optional[tuple[tuple[float, float], Check]] = None) -> EstimateResult:
    """The :class:`EstimateResult` of an estimate ``value`` on n rows.

    ``caught`` are the warnings the estimate raised (:func:`recorded`): they are passed on to the caller and a
    :class:`~infossl.DegenerateInputWarning` among them adds the failed "degenerate input" check.
    ``subsample(rows)`` recomputes the estimate on the given row indices, for the stability check and the
    interval (halves and quarters of at least ``min_rows`` rows, drawn from ``rng``; not run when the value is
    not finite, and skipped when a subsample raises ValueError, e.g. duplicate points for KSG). ``checks`` are
    the quantity's own checks (agreement first), placed between stability and precision. Each failed check
    warns with :class:`ReliabilityWarning`. ``band``: an interval and stability check computed already
    (the estimator's own band of nested subsamples); ``subsample`` is then not called.

    Returns
    -------
    EstimateResult
        The value, interval, kind, method, checks (failed ones also warned) and info.
    """
    if band is None:
        band = stability_band(value, subsample, n, rng, min_rows)
    interval, stability = band
    all_checks = [stability, *checks, _precision(value, interval)]
    degenerate = _degenerate(caught)
    if degenerate is not None:
        all_checks.append(degenerate)
    for w in caught:
        warn(str(w.message), w.category)
    result = EstimateResult(quantity=quantity, value=value, interval=interval, kind=kind, method=method, n=n,
                            checks=all_checks, warnings=[], info=info)
    for c in result.checks:
        if c.passed is False:
            msg = f"{result.quantity} ({result.method}): check '{c.name}' failed: {c.detail}"
            result.warnings.append(msg)
            warn(msg, ReliabilityWarning)
    return result
