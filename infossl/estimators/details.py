r"""How sure is an estimate: the ``details=True`` result of :func:`~infossl.entropy` and
:func:`~infossl.mutual_information`.

:class:`EstimateResult` carries the value, an interval, what kind of number it is (an estimate, a lower or
upper bound, or undefined), the method that produced it, and the checks that say whether to trust it:

* **stability** -- the estimate on the n rows, on two disjoint halves (n/2) and on four disjoint quarters
  (n/4). A consistent estimator that has converged gives the same value at the three sizes; a drift says
  its bias still depends on n (e.g. KSG at high MI), so the value at n is still biased the same way.
* **agreement** -- a second estimator built on different assumptions (see :func:`mi_details`). When two
  unrelated estimators disagree, at least one is wrong here.
* **log n ceiling** (MI) -- no distribution-free high-confidence lower bound on MI can exceed
  :math:`O(\log n)` (McAllester & Stratos, AISTATS 2020, arXiv 1811.04251). A value above :math:`\log n`
  rests on the estimator's modelling assumptions (smoothness, a Gaussian surrogate, ...), not on the data
  alone.
* **intrinsic dimension** -- the TwoNN dimension of each side
  (:func:`~infossl.estimators.intrinsic.twonn_dimension`). Full-dimensional estimators (``gaussian``,
  ``copula``, ``corrected-ksg``) count every nonlinear feature of data on a low-dimensional curved set as
  new information; entropy of such data is :math:`-\infty`.
* **precision** -- the interval (below) is at most max(0.2 nats, half the value) wide on each side; a wider
  one means the value is not resolved at this n, however stable its mean looks.

Each failed check raises a :class:`ReliabilityWarning` that says which check failed and why.

The interval is :math:`\hat v \pm \big(t_{\nu, 0.975}\,\widehat{se} + |\delta|\big)` with the drift
:math:`\delta = \hat v(n) - \bar v(n/2)`. :math:`\widehat{se}^2` pools the variances of the two half and
the four quarter estimates, each scaled to n rows (:math:`se \propto n^{-1/2}`), weighted by their degrees
of freedom (1 and 3), so :math:`\nu = 4` and :math:`t_{4, 0.975} = 2.78`: with so few subsamples the
spread is itself uncertain. The drift term allows for the bias the spread cannot see: for a bias
:math:`c/n` the truth is :math:`\hat v + \delta`, but a drift is as noisy as the estimate itself and the
bias of a surrogate-corrected estimator need not shrink monotonically in n, so its sign is not trusted and
both sides are widened by :math:`|\delta|`. It is a subsample interval (Politis, Romano & Wolf,
*Subsampling*, 1999), not a guaranteed confidence interval. Measured coverage of the truth on families no
rule was tuned on: ``benchmarks/results/highdim_coverage*.csv`` (the rule was chosen on the seeds of
``highdim_coverage.csv`` and checked on the held-out seeds and families of ``highdim_coverage_heldout.csv``;
``benchmarks/README.md`` has both figures).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np
from scipy.stats import t as student_t
import torch

from infossl._validation import check_embeddings, check_pair, check_random_state
from infossl.io.plain import to_plain

__all__ = ["Check", "EstimateResult", "ReliabilityWarning", "entropy_details", "mi_details", "mi_kind",
           "subsample_interval"]


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
        d = asdict(self)
        d["interval"] = list(self.interval)
        d["trusted"] = self.trusted
        return to_plain(d, nonfinite="null")

    def __str__(self) -> str:
        lo, hi = self.interval
        lines = [f"{self.quantity} = {self.value:.4f} nats  [{lo:.4f}, {hi:.4f}]  ({self.kind}; method {self.method}; "
                 f"n = {self.n})"]
        for c in self.checks:
            mark = "n/a " if c.passed is None else ("ok  " if c.passed else "FAIL")
            lines.append(f"  {mark} {c.name:20s} {c.detail}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- helpers
_KIND = {
    "gaussian": "estimate", "ksg": "estimate", "corrected-ksg": "estimate", "renyi": "other (Renyi, not Shannon)",
    "infonce": "lower bound", "nwj": "lower bound", "dv": "lower bound", "latent": "lower bound (estimated)",
}


def mi_kind(method: str, dx: int, dy: int) -> str:
    """What a method's MI value is: the Gaussian-copula MI is a lower bound only for 1-D x and y."""
    if method == "copula":
        return "lower bound" if dx == 1 and dy == 1 else "estimate"
    return _KIND.get(method, "estimate")


def _tol(a: float, b: float) -> float:
    return max(0.1, 0.15 * max(abs(a), abs(b)))


def _spread(fn: Callable[[torch.Tensor], float], n: int, rng: np.random.Generator, min_rows: int
            ) -> tuple[list[float], list[float]]:
    """Estimates on two disjoint halves and four disjoint quarters of the rows (empty when too small)."""
    perm = torch.from_numpy(rng.permutation(n))
    halves, quarters = [], []
    if n // 2 >= min_rows:
        halves = [fn(perm[i::2].sort().values) for i in range(2)]
    if n // 4 >= min_rows:
        quarters = [fn(perm[i::4].sort().values) for i in range(4)]
    return halves, quarters


def subsample_interval(value: float, se: float, drift: float, dof: int = 4) -> tuple[float, float]:
    r"""The interval of an :class:`EstimateResult`: :math:`v \pm (t_{\nu, 0.975}\,se + |\delta|)`
    (see the module doc).

    ``se`` is the pooled subsample standard error scaled to n rows, ``drift`` the estimate at n minus the
    mean of the half-sample estimates, ``dof`` the pooled degrees of freedom (4 for two halves and four
    quarters).
    """
    half_width = float(student_t.ppf(0.975, dof)) * se + abs(drift)
    return value - half_width, value + half_width


def _interval_and_stability(value: float, halves: list[float], quarters: list[float]
                            ) -> tuple[tuple[float, float], Check, float]:
    if not all(math.isfinite(v) for v in [*halves, *quarters]):
        check = Check("stability n, n/2, n/4", False, f"n: {value:.3f}, subsample estimates "
                      f"{[round(v, 3) for v in [*halves, *quarters]]} -- not finite on fewer rows: the estimate "
                      "at n rests on too few rows per dimension", {"n/2": halves, "n/4": quarters})
        return (value, value), check, float("nan")
    # Each group's spread, scaled to n rows (se ~ n^-1/2), pooled by its degrees of freedom (1 + 3)
    pooled, dof = 0.0, 0
    if len(halves) == 2:
        pooled, dof = pooled + float(np.var(halves, ddof=1)) / 2.0, dof + 1
    if len(quarters) == 4:
        pooled, dof = pooled + 3 * float(np.var(quarters, ddof=1)) / 4.0, dof + 3
    se = math.sqrt(pooled / dof) if dof else float("nan")
    if not halves:
        check = Check("stability n, n/2, n/4", None, "too few rows for the subsample checks")
        return (value, value), check, se
    h = float(np.mean(halves))
    q = float(np.mean(quarters)) if quarters else float("nan")
    drift = value - h
    lo, hi = subsample_interval(value, se, drift, dof)
    tol = _tol(value, h) + 2.0 * se
    ok = abs(drift) <= tol and (not quarters or abs(h - q) <= _tol(h, q) + 4.0 * se)
    qtext = f", n/4: {q:.3f}" if quarters else ""
    detail = (f"n: {value:.3f}, n/2: {h:.3f}{qtext}" + ("" if ok else
              " -- the estimate still moves with n, so its bias has not settled; more rows or another method"))
    return (lo, hi), Check("stability n, n/2, n/4", bool(ok), detail,
                           {"n": value, "n/2": h, "n/4": q, "drift": drift, "se": se}), se


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


def _agreement(name_a: str, a: float, name_b: str, b: Optional[float], why: str = "") -> Check:
    if b is None or not math.isfinite(b):
        return Check("agreement", None, f"{name_b} could not be computed{': ' + why if why else ''}")
    ok = abs(a - b) <= _tol(a, b)
    detail = f"{name_a} {a:.3f} vs {name_b} {b:.3f}" + ("" if ok else
             " -- two estimators built on different assumptions disagree; at least one is wrong here")
    return Check("agreement", bool(ok), detail, {name_a: a, name_b: b})


def _emit(result: EstimateResult) -> EstimateResult:
    for c in result.checks:
        if c.passed is False:
            msg = f"{result.quantity} ({result.method}): check '{c.name}' failed: {c.detail}"
            result.warnings.append(msg)
            warnings.warn(msg, ReliabilityWarning, stacklevel=4)
    return result


def _safe(fn: Callable[[], Any]) -> Optional[float]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(fn())
    except (ValueError, RuntimeError):
        return None


# ------------------------------------------------------------------------------------------------ MI
def mi_details(x, y, method: str = "auto", *, random_state=0, **options) -> EstimateResult:
    """The :class:`EstimateResult` of ``mutual_information(x, y, method, **options)``.

    Agreement partners: the latent route (auto on low-intrinsic-dimension data, or ``"latent"``) is compared
    with the Gaussian MI of the same held-out latents; ``"corrected-ksg"`` with ``"copula"``; ``"copula"``
    with plain ``"ksg"``; any other method with ``"copula"``. ``random_state`` draws the subsamples.
    Cost: about 2.75 times one estimate (the halves and quarters are cheaper than the full run).
    """
    from infossl.estimators import dispatch
    from infossl.estimators.latent import latent_parts

    tx, ty, _ = check_pair(x, y, min_samples=3)
    tx, ty = tx.detach().to(torch.float64).cpu(), ty.detach().to(torch.float64).cpu()
    n, dx, dy = tx.shape[0], tx.shape[1], ty.shape[1]
    rng = check_random_state(random_state)
    info: dict[str, Any] = {}
    route = method
    if method == "auto":
        if options:
            raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
        route, info = dispatch.auto_mi_route(tx, ty)
    checks: list[Check] = []
    if route == "latent":
        opts = dict(options)
        parts = latent_parts(tx, ty, id_x=info.get("id_x"), id_y=info.get("id_y"), **opts)
        value = float(parts.value)
        m = parts.latent_dim
        info.update(latent_dim=m, id_x=parts.id_x, id_y=parts.id_y, canonical_correlations=parts.canonical_correlations,
                    n_train=parts.n_train, n_test=parts.n_test)
        sub_opts = {k: v for k, v in opts.items() if k != "latent_dim"}

        def fn(rows):
            return float(latent_parts(tx[rows], ty[rows], latent_dim=m, **sub_opts).value)
        min_rows = 200
        partner = _safe(lambda: latent_parts(tx, ty, latent_dim=m, estimator="gaussian",
                                             **{k: v for k, v in sub_opts.items() if k != "estimator"}).value)
        agree = _agreement("latent", value, "gaussian on the latents", partner)
    else:
        est = dispatch.mi_function(route)
        value = float(est(tx, ty, **options))

        def fn(rows):
            return float(est(tx[rows], ty[rows], **options))
        min_rows = 20
        other = "copula" if route != "copula" else "ksg"
        partner = _safe(lambda: dispatch.mi_function(other)(tx, ty))
        agree = _agreement(route, value, other, partner)
    halves, quarters = [], []
    if math.isfinite(value):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                halves, quarters = _spread(fn, n, rng, min_rows)
            except ValueError:  # e.g. a subsample with duplicate points for KSG
                halves, quarters = [], []
    interval, stability, se = _interval_and_stability(value, halves, quarters)
    checks += [stability, agree]
    ceiling = math.log(n)
    ok = value <= ceiling
    checks.append(Check("log n ceiling", bool(ok), f"value {value:.3f} vs log n = {ceiling:.3f}" + ("" if ok else
                        " -- above what any distribution-free lower bound could certify from n samples "
                        "(McAllester & Stratos 2020); the value rests on the estimator's assumptions"),
                        {"log_n": ceiling}))
    checks.append(_id_check(tx, ty, route, info))
    checks.append(_precision(value, interval))
    result = EstimateResult(quantity="I(X;Y)", value=value, interval=interval, kind=mi_kind(route, dx, dy),
                            method=route if method != "auto" else f"auto -> {route}", n=n, checks=checks,
                            warnings=[], info=info)
    return _emit(result)


def _id_check(tx: torch.Tensor, ty: torch.Tensor, route: str, info: dict[str, Any]) -> Check:
    from infossl.estimators import dispatch

    if route == "latent":
        return Check("intrinsic dimension", True, f"TwoNN x: {info['id_x']:.1f} of {tx.shape[1]}, y: {info['id_y']:.1f} "
                     f"of {ty.shape[1]}; latent dimension {info['latent_dim']}", {"id_x": info["id_x"], "id_y": info["id_y"]})
    if "id_x" not in info:
        lows = dispatch.low_dimensional_sides(tx, ty)
        info.update(lows)
    if "id_x" not in info or info["id_x"] is None:
        return Check("intrinsic dimension", None, "not measured (fewer than 500 rows or under 16 dimensions per side)")
    low = info.get("low_x") or info.get("low_y")
    full_dim = route in ("gaussian", "copula", "corrected-ksg", "renyi")
    ok = not (low and full_dim)
    detail = f"TwoNN x: {info['id_x']:.1f} of {tx.shape[1]}, y: {info['id_y']:.1f} of {ty.shape[1]}"
    if not ok:
        detail += (f" -- the data lie on a low-dimensional curved set; '{route}' counts its nonlinear features as "
                   "new information (it can exceed the truth many-fold); use method='latent' or 'auto'")
    return Check("intrinsic dimension", bool(ok), detail, {"id_x": info["id_x"], "id_y": info["id_y"]})


# ------------------------------------------------------------------------------------------- entropy
def entropy_details(z, method: str = "auto", *, random_state=0, **options) -> EstimateResult:
    """The :class:`EstimateResult` of ``entropy(z, method, **options)``.

    Agreement partner: plain ``"knn"`` (Kozachenko-Leonenko) for d <= 128, else ``"gaussian"`` (an upper
    bound: the check passes when the value is at most the Gaussian entropy plus the tolerance). The
    manifold check compares the calibrated TwoNN dimension with d: data on a lower-dimensional set have
    entropy -inf, and the result's kind is then ``"undefined (manifold)"``.
    """
    from infossl.estimators import dispatch

    t, _ = check_embeddings(z, min_samples=3)
    t = t.detach().to(torch.float64).cpu()
    n, d = t.shape
    rng = check_random_state(random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manifold = dispatch.manifold_dimension(t)
        route = dispatch.auto_entropy_route(t) if method == "auto" else method
        if method == "auto" and options:
            raise TypeError(f"method='auto' takes no options (got {sorted(options)}); name a method to set them")
        est = dispatch.entropy_function(route)
        value = float(est(t, **options))

    def fn(rows):
        return float(est(t[rows], **options))
    halves, quarters = [], []
    if math.isfinite(value):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                halves, quarters = _spread(fn, n, rng, 20)
            except ValueError:
                pass
    interval, stability, _ = _interval_and_stability(value, halves, quarters)
    if d <= 128 and route != "knn":
        partner = _safe(lambda: dispatch.entropy_function("knn")(t))
        agree = _agreement(route, value, "knn", partner)
    else:
        other = "gaussian" if route != "gaussian" else "copula"
        partner = _safe(lambda: dispatch.entropy_function(other)(t))
        if other == "gaussian" and partner is not None:
            ok = value <= partner + _tol(value, partner)
            agree = Check("agreement", bool(ok), f"{route} {value:.3f} vs the Gaussian upper bound {partner:.3f}"
                          + ("" if ok else " -- above the maximum-entropy Gaussian bound, so it is too high"),
                          {route: value, "gaussian": partner})
        else:
            agree = _agreement(route, value, other, partner)
    checks = [stability, agree]
    kind = "upper bound" if route == "gaussian" else "estimate"
    info: dict[str, Any] = {}
    if manifold is None:
        checks.append(Check("intrinsic dimension", None, "not measured (fewer than 50 rows or d = 1)"))
    else:
        info["intrinsic_dimension"] = manifold
        ok = not dispatch.is_manifold(manifold, d)
        detail = f"calibrated TwoNN {manifold:.1f} of d = {d}"
        if not ok:
            kind = "undefined (manifold)"
            detail += (" -- the data lie on a lower-dimensional set: their differential entropy is -inf and the "
                       "finite value is an artefact of the estimator; model the input noise "
                       "(infossl.deterministic) or add noise of an explicit width")
        checks.append(Check("intrinsic dimension", bool(ok), detail, {"intrinsic_dimension": manifold}))
    checks.append(_precision(value, interval))
    result = EstimateResult(quantity="H(Z)", value=value, interval=interval, kind=kind,
                            method=route if method != "auto" else f"auto -> {route}", n=n, checks=checks,
                            warnings=[], info=info)
    return _emit(result)
