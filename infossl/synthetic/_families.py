"""Named benchmark families of (X, Y) distributions with known mutual information.

Each constructor takes ``(dim_x, dim_y, **options)`` and returns an object with ``dim_x``, ``dim_y``,
``sample(n, random_state) -> (x, y)`` and ``mutual_information()`` in nats. The families follow the
benchmark of Czyż et al., "Beyond normal: on the evaluation of mutual information estimators",
NeurIPS 2023 (arXiv:2306.11078), plus a collapsed (low-rank) family typical of SSL embeddings.
"""

from __future__ import annotations

from typing import Callable, Optional

from infossl._validation import check_choice, check_int
from infossl.synthetic._gaussian import (
    LowRankGaussianPair,
    SplitMultinormal,
    correlated_gaussian,
    correlated_gaussian_for_mi,
    low_rank_gaussian_pair,
)
from infossl.synthetic._student import SplitStudentT
from infossl.synthetic._transforms import Transformed


def _gaussian(dim_x: int, dim_y: int, *, rho: float = 0.5) -> SplitMultinormal:
    """Pairs (x_i, y_i) with correlation rho; MI = -m/2 log(1 - rho^2), m = min(dim_x, dim_y)."""
    return correlated_gaussian(dim_x, rho, dim_y=dim_y)


def _student_t(dim_x: int, dim_y: int, *, df: float = 5.0, rho: float = 0.5) -> SplitStudentT:
    """Split Student-t with the "gaussian" family's matrix as shape; heavy tails add MI."""
    return SplitStudentT(df, correlated_gaussian(dim_x, rho, dim_y=dim_y).cov, dim_x)


def _normal_cdf(dim_x: int, dim_y: int, *, rho: float = 0.5) -> Transformed:
    """The "gaussian" family pushed through the normal CDF (bounded, uniform marginals); same MI."""
    return Transformed(correlated_gaussian(dim_x, rho, dim_y=dim_y), "normal_cdf")


def _half_cube(dim_x: int, dim_y: int, *, rho: float = 0.5) -> Transformed:
    """The "gaussian" family pushed through sign(x)|x|^{3/2} (longer tails); same MI."""
    return Transformed(correlated_gaussian(dim_x, rho, dim_y=dim_y), "half_cube")


def _high_mi(dim_x: int, dim_y: int, *, mi: float = 5.0) -> SplitMultinormal:
    """Correlated Gaussian pairs with a total MI of ``mi`` nats (5 by default), where kNN and
    variational estimators are known to underestimate (McAllester & Stratos, arXiv:1811.04251)."""
    return correlated_gaussian_for_mi(dim_x, mi, dim_y=dim_y)


def _collapsed(
    dim_x: int, dim_y: int, *, rank: int = 3, rho: float = 0.8, noise: float = 0.0, random_state: int = 0
) -> LowRankGaussianPair:
    """A rank-``rank`` correlated pair embedded in R^dim_x and R^dim_y (rank clipped to the smaller dim)."""
    rank = min(check_int(rank, "rank"), dim_x, dim_y)
    return low_rank_gaussian_pair(rank, dim_x, rho=rho, noise=noise, dim_y=dim_y, random_state=random_state)


FAMILIES: dict[str, Callable[..., object]] = {
    "gaussian": _gaussian,
    "student-t": _student_t,
    "normal-cdf": _normal_cdf,
    "half-cube": _half_cube,
    "high-mi": _high_mi,
    "collapsed": _collapsed,
}


def families() -> tuple[str, ...]:
    """Names of the benchmark families, in a fixed order.

    Returns
    -------
    tuple[str, ...]
        Names of the benchmark families, in a fixed order.
    """
    return tuple(FAMILIES)


def make_family(name: str, dim_x: int, dim_y: Optional[int] = None, **options: object) -> object:
    """Build the family ``name`` at dimensions (dim_x, dim_y); ``dim_y`` defaults to ``dim_x``.

    Options are passed to the family constructor (``rho``, ``df``, ``mi``, ``rank``, ``noise``).

    Returns
    -------
    object
        The distribution object (with ``sample`` and its exact entropy or MI).

    Examples
    --------
    >>> d = make_family("high-mi", 4)
    >>> round(d.mutual_information(), 10)
    5.0
    """
    name = check_choice(name, "name", families())
    dim_x = check_int(dim_x, "dim_x")
    dim_y = dim_x if dim_y is None else check_int(dim_y, "dim_y")
    return FAMILIES[name](dim_x, dim_y, **options)
