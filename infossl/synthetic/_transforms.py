r"""Invertible per-coordinate monotone maps, which leave mutual information unchanged.

For injective differentiable :math:`f, g`, :math:`I(f(X); g(Y)) = I(X; Y)` (Cover & Thomas, 2nd ed.,
Sec. 8.6; Kraskov, Stögbauer & Grassberger, Phys. Rev. E 69, 066138, 2004, eq. 43), while the
entropy changes by the expected log-Jacobian:

.. math:: H(f(X)) = H(X) + \mathbb E\left[\textstyle\sum_i \log|f'(X_i)|\right]

These are the "normal CDF" and "half-cube" benchmark transforms of Czyż et al., arXiv:2306.11078.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Union

import numpy as np
from scipy.special import ndtr, ndtri

from infossl._validation import check_choice, check_int, check_random_state
from infossl.synthetic._gaussian import MultivariateNormal, SplitMultinormal

RandomState = Union[None, int, np.random.Generator]
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_EULER_GAMMA = 0.5772156649015329


def _log_cosh(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return a + np.log1p(np.exp(-2.0 * a)) - math.log(2.0)


def _signed_power(x: np.ndarray, p: float) -> np.ndarray:
    return np.sign(x) * np.abs(x) ** p


# name -> (forward, inverse, log|forward'|)
_MAPS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], ...]] = {
    "identity": (lambda x: x, lambda y: y, lambda x: np.zeros_like(x)),
    "normal_cdf": (ndtr, ndtri, lambda x: -0.5 * x**2 - _HALF_LOG_2PI),
    "half_cube": (
        lambda x: _signed_power(x, 1.5),
        lambda y: _signed_power(y, 2.0 / 3.0),
        lambda x: math.log(1.5) + 0.5 * np.log(np.abs(x)),
    ),
    "cube": (lambda x: x**3, np.cbrt, lambda x: math.log(3.0) + 2.0 * np.log(np.abs(x))),
    "exp": (np.exp, np.log, lambda x: x),
    "asinh": (np.arcsinh, np.sinh, lambda x: -0.5 * np.log1p(x**2)),
    "sinh": (np.sinh, np.arcsinh, _log_cosh),
}
TRANSFORMS: tuple[str, ...] = tuple(_MAPS)


def _as_float(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def transform(x: object, kind: str) -> np.ndarray:
    """Apply the monotone map ``kind`` (one of :data:`TRANSFORMS`) to every entry of ``x``.

    ``normal_cdf`` is the standard normal CDF, ``half_cube`` is :math:`\\mathrm{sign}(x)|x|^{3/2}`,
    ``cube`` is :math:`x^3`, and ``exp``, ``asinh``, ``sinh`` are the usual functions. All are strictly
    increasing; ``inverse_transform(transform(x, kind), kind)`` recovers ``x`` (for ``normal_cdf`` up
    to the float64 resolution of the CDF near 0 and 1, i.e. for |x| below about 8).

    Returns
    -------
    numpy.ndarray
        f(x), entrywise, the shape of ``x``.
    """
    return _MAPS[check_choice(kind, "kind", TRANSFORMS)][0](_as_float(x))


def inverse_transform(y: object, kind: str) -> np.ndarray:
    """Inverse of :func:`transform`.

    Returns
    -------
    numpy.ndarray
        The inverse map applied entrywise, the shape of ``y``.
    """
    return _MAPS[check_choice(kind, "kind", TRANSFORMS)][1](_as_float(y))


def log_abs_derivative(x: object, kind: str) -> np.ndarray:
    """Entrywise :math:`\\log|f'(x)|` of the map ``kind`` (``-inf`` where the derivative vanishes).

    Returns
    -------
    numpy.ndarray
        log|f'(x)| entrywise, the shape of ``x`` (``-inf`` where the derivative vanishes).
    """
    with np.errstate(divide="ignore"):
        return _MAPS[check_choice(kind, "kind", TRANSFORMS)][2](_as_float(x))


def _gaussian_expected_log_derivative(kind: str, mean: np.ndarray, var: np.ndarray) -> Optional[float]:
    r""":math:`\sum_i \mathbb E\log|f'(X_i)|` for :math:`X_i \sim \mathcal N(m_i, s_i^2)`, if in closed form.

    Uses :math:`\mathbb E[X^2] = s^2 + m^2` and, for m = 0,
    :math:`\mathbb E\log|X| = \log s - (\gamma + \log 2)/2`.
    """
    if kind == "identity":
        return 0.0
    if kind == "exp":
        return float(mean.sum())
    if kind == "normal_cdf":
        return float((-0.5 * (var + mean**2) - _HALF_LOG_2PI).sum())
    if kind in ("half_cube", "cube") and np.all(mean == 0):
        e_log_abs = 0.5 * np.log(var) - 0.5 * (_EULER_GAMMA + math.log(2.0))
        power = 0.5 if kind == "half_cube" else 2.0
        return float((math.log(1.5 if kind == "half_cube" else 3.0) + power * e_log_abs).sum())
    return None


class Transformed:
    r"""A distribution pushed through per-coordinate monotone maps.

    For a split distribution (one with ``dim_x``/``dim_y`` whose ``sample`` returns ``(x, y)``) the
    samples are :math:`(f(x), g(y))` with f = ``kind_x`` and g = ``kind_y`` (defaults to ``kind_x``) and

    .. math:: I(f(X); g(Y)) = I(X; Y).

    For a single distribution (``sample`` returns one array), ``kind_y`` must be omitted.
    :meth:`entropy` is exact when the base is Gaussian and the expected log-derivative has a closed form
    (identity, exp, normal_cdf; half_cube and cube with zero mean); :meth:`entropy_monte_carlo` works for
    any base with an exact ``entropy()``.
    """

    def __init__(self, dist: object, kind_x: str, kind_y: Optional[str] = None) -> None:
        self.base = dist
        self.is_split = hasattr(dist, "dim_x") and hasattr(dist, "dim_y")
        self.kind_x = check_choice(kind_x, "kind_x", TRANSFORMS)
        if self.is_split:
            self.kind_y = check_choice(kind_x if kind_y is None else kind_y, "kind_y", TRANSFORMS)
            self.dim_x, self.dim_y = dist.dim_x, dist.dim_y  # type: ignore[attr-defined]
        elif kind_y is not None:
            raise ValueError(f"kind_y={kind_y!r} is only meaningful for a split (x, y) distribution")
        self.dim = dist.dim  # type: ignore[attr-defined]

    def sample(self, n: int, random_state: RandomState = None):
        """Samples of the base distribution, transformed: ``(x, y)`` for split bases, else one array.

        Returns
        -------
        tuple of numpy.ndarray, or numpy.ndarray
            ``(x, y)`` for a split base, else one (n, d) array.
        """
        s = self.base.sample(n, random_state)  # type: ignore[attr-defined]
        if self.is_split:
            return transform(s[0], self.kind_x), transform(s[1], self.kind_y)
        return transform(s, self.kind_x)

    def mutual_information(self) -> float:
        """I(f(X); g(Y)) = I(X; Y) in nats.

        Returns
        -------
        float
            I(f(X); g(Y)) = I(X; Y) in nats.
        """
        if not self.is_split:
            raise TypeError("mutual_information needs a split (x, y) base distribution")
        return self.base.mutual_information()  # type: ignore[attr-defined]

    def _log_jacobian(self, s) -> np.ndarray:
        if self.is_split:
            return log_abs_derivative(s[0], self.kind_x).sum(axis=1) + log_abs_derivative(
                s[1], self.kind_y
            ).sum(axis=1)  # (n,)
        return log_abs_derivative(s, self.kind_x).sum(axis=1)

    def entropy(self) -> float:
        """Exact (joint) entropy in nats, where a closed form exists (see the class docstring).

        Returns
        -------
        float
            Exact (joint) entropy in nats, where a closed form exists (see the class docstring).
        """
        if isinstance(self.base, (MultivariateNormal, SplitMultinormal)):
            gauss = self.base.joint if isinstance(self.base, SplitMultinormal) else self.base
            mean, var = gauss.mean, np.diag(gauss.cov)
            if self.is_split:
                dx = self.dim_x
                parts = [
                    _gaussian_expected_log_derivative(self.kind_x, mean[:dx], var[:dx]),
                    _gaussian_expected_log_derivative(self.kind_y, mean[dx:], var[dx:]),
                ]
            else:
                parts = [_gaussian_expected_log_derivative(self.kind_x, mean, var)]
            if all(p is not None for p in parts):
                return self.base.entropy() + sum(parts)  # type: ignore[attr-defined,arg-type]
        raise NotImplementedError(
            f"no closed-form entropy for {self!r}; use entropy_monte_carlo(n_samples, random_state)"
        )

    def entropy_monte_carlo(
        self, n_samples: int = 10_000, random_state: RandomState = None
    ) -> tuple[float, float]:
        """H(base) + a Monte Carlo mean of the log-Jacobian: returns (estimate, standard error) in nats.

        Returns
        -------
        tuple of float
            (estimate, standard error) in nats.
        """
        n_samples = check_int(n_samples, "n_samples", low=2)
        s = self.base.sample(n_samples, check_random_state(random_state))  # type: ignore[attr-defined]
        lj = self._log_jacobian(s)  # (n_samples,)
        return float(self.base.entropy() + lj.mean()), float(lj.std(ddof=1) / math.sqrt(n_samples))  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        kinds = f"{self.kind_x!r}, {self.kind_y!r}" if self.is_split else repr(self.kind_x)
        return f"Transformed({self.base!r}, {kinds})"
