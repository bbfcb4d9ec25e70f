"""Gaussian distributions with exact entropy and mutual information."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np

from infossl._validation import check_float, check_int, check_random_state
from infossl.synthetic._common import (
    LOG_2PI_E,
    as_covariance,
    as_mean,
    check_dim_x,
    check_n,
    gaussian_split_mi,
    logdet_pd,
)

RandomState = Union[None, int, np.random.Generator]


class MultivariateNormal:
    r"""Multivariate normal :math:`\mathcal N(\mu, \Sigma)` in :math:`\mathbb R^d`.

    .. math:: H = \tfrac12 \log\det(2\pi e\,\Sigma) = \tfrac d2 \log(2\pi e) + \tfrac12\log\det\Sigma

    (Cover & Thomas, *Elements of Information Theory*, 2nd ed., Thm 8.4.1.)

    Parameters
    ----------
    cov : array_like, shape (d, d), or (d,) for a diagonal, or a scalar for d = 1
        Symmetric positive-definite covariance.
    mean : array_like, shape (d,), optional
        Mean (zeros by default).

    Examples
    --------
    >>> MultivariateNormal(np.eye(2)).entropy()  # log(2 pi e)
    2.8378770664093453
    """

    def __init__(self, cov: object, mean: object = None) -> None:
        self.cov = as_covariance(cov)
        self.dim = self.cov.shape[0]
        self.mean = as_mean(mean, self.dim)
        self._chol = np.linalg.cholesky(self.cov)  # (d, d)

    def entropy(self) -> float:
        """Differential entropy in nats.

        Returns
        -------
        float
            Differential entropy in nats.
        """
        return 0.5 * self.dim * LOG_2PI_E + 0.5 * logdet_pd(self.cov)

    def sample(self, n: int, random_state: RandomState = None) -> np.ndarray:
        """Draw ``n`` samples, shape (n, d).

        Returns
        -------
        numpy.ndarray
            The samples, shape (n, d).
        """
        n = check_n(n)
        rng = check_random_state(random_state)
        e = rng.standard_normal((n, self.dim))  # (n, d)
        return self.mean + e @ self._chol.T

    def __repr__(self) -> str:
        return f"MultivariateNormal(dim={self.dim})"


class SplitMultinormal:
    r"""A joint Gaussian on :math:`(X, Y)`: X is the first ``dim_x`` coordinates, Y the rest.

    .. math:: I(X;Y) = \tfrac12\left[\log\det\Sigma_{xx} + \log\det\Sigma_{yy} - \log\det\Sigma\right]

    (Cover & Thomas, 2nd ed., Example 8.5.1; Czyż et al., "Beyond normal", NeurIPS 2023, arXiv:2306.11078.)

    Parameters
    ----------
    cov : array_like, shape (dim_x + dim_y, dim_x + dim_y)
        Symmetric positive-definite joint covariance.
    dim_x : int
        Number of leading coordinates that form X.
    mean : array_like, optional
        Joint mean (zeros by default).

    Examples
    --------
    >>> d = correlated_gaussian(1, 0.6)
    >>> bool(np.isclose(d.mutual_information(), -0.5 * np.log(1 - 0.36)))
    True
    """

    def __init__(self, cov: object, dim_x: int, mean: object = None) -> None:
        self.joint = MultivariateNormal(cov, mean)
        self.dim_x = check_dim_x(dim_x, self.joint.dim)
        self.dim_y = self.joint.dim - self.dim_x

    @property
    def cov(self) -> np.ndarray:
        return self.joint.cov

    @property
    def dim(self) -> int:
        return self.joint.dim

    def mutual_information(self) -> float:
        """I(X; Y) in nats.

        Returns
        -------
        float
            I(X; Y) in nats.
        """
        return gaussian_split_mi(self.cov, self.dim_x)

    def entropy(self) -> float:
        """Joint entropy H(X, Y) in nats.

        Returns
        -------
        float
            Joint entropy H(X, Y) in nats.
        """
        return self.joint.entropy()

    def entropy_x(self) -> float:
        """Marginal entropy H(X) in nats.

        Returns
        -------
        float
            Marginal entropy H(X) in nats.
        """
        return MultivariateNormal(self.cov[: self.dim_x, : self.dim_x]).entropy()

    def entropy_y(self) -> float:
        """Marginal entropy H(Y) in nats.

        Returns
        -------
        float
            Marginal entropy H(Y) in nats.
        """
        return MultivariateNormal(self.cov[self.dim_x :, self.dim_x :]).entropy()

    def sample(self, n: int, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` pairs; returns x of shape (n, dim_x) and y of shape (n, dim_y).

        Returns
        -------
        tuple of numpy.ndarray
            x of shape (n, dim_x) and y of shape (n, dim_y).
        """
        z = self.joint.sample(n, random_state)  # (n, dim_x + dim_y)
        return z[:, : self.dim_x], z[:, self.dim_x :]

    def __repr__(self) -> str:
        return f"SplitMultinormal(dim_x={self.dim_x}, dim_y={self.dim_y})"


def _pair_rhos(rho: object, m: int) -> np.ndarray:
    r = np.asarray(rho, dtype=np.float64)
    if r.ndim == 0:
        r = np.full(m, float(r))
    if r.shape != (m,):
        raise ValueError(f"rho must be a scalar or have shape ({m},), got shape {r.shape}")
    if not np.all(np.abs(r) < 1):
        raise ValueError(f"rho must lie in (-1, 1), got {r.tolist()}")
    return r


def correlated_gaussian(dim: int, rho: object, *, dim_y: Optional[int] = None) -> SplitMultinormal:
    r"""Standard-normal X and Y whose coordinate pairs :math:`(x_i, y_i)` have correlation :math:`\rho_i`.

    Pairs are independent of each other. With ``dim_y != dim`` the first ``min(dim, dim_y)`` coordinates
    are paired and the rest are independent standard normals.

    .. math:: I(X;Y) = -\tfrac12 \sum_i \log(1-\rho_i^2)

    Parameters
    ----------
    dim : int
        Dimension of X (and of Y unless ``dim_y`` is given).
    rho : float or array_like, shape (min(dim, dim_y),)
        Correlation of each pair, in (-1, 1).
    dim_y : int, optional
        Dimension of Y.

    Returns
    -------
    SplitMultinormal
        The distribution of (X, Y).
    """
    dim = check_int(dim, "dim")
    dim_y = dim if dim_y is None else check_int(dim_y, "dim_y")
    m = min(dim, dim_y)
    r = _pair_rhos(rho, m)
    cov = np.eye(dim + dim_y)  # (dx + dy, dx + dy)
    idx = np.arange(m)
    cov[idx, dim + idx] = r
    cov[dim + idx, idx] = r
    return SplitMultinormal(cov, dim)


def rho_for_mi(mi_per_pair: float) -> float:
    r"""Correlation :math:`\rho = \sqrt{1 - e^{-2 I}}` of a Gaussian pair with mutual information I nats.

    Returns
    -------
    float
        The correlation rho.
    """
    mi_per_pair = check_float(mi_per_pair, "mi", low=0.0)
    return math.sqrt(-math.expm1(-2.0 * mi_per_pair))


def correlated_gaussian_for_mi(dim: int, mi: float, *, dim_y: Optional[int] = None) -> SplitMultinormal:
    r""":func:`correlated_gaussian` with one :math:`\rho` chosen so that the total I(X;Y) equals ``mi`` nats.

    With m = min(dim, dim_y) pairs, :math:`\rho = \sqrt{1 - e^{-2\,\mathrm{mi}/m}}`.

    Returns
    -------
    SplitMultinormal
        The distribution of (X, Y), with I(X;Y) = ``mi`` nats.
    """
    dim = check_int(dim, "dim")
    dim_y = dim if dim_y is None else check_int(dim_y, "dim_y")
    mi = check_float(mi, "mi", low=0.0)
    m = min(dim, dim_y)
    rho = rho_for_mi(mi / m)
    if rho >= 1.0:
        raise ValueError(f"mi={mi} nats over {m} pairs needs a correlation indistinguishable from 1")
    return correlated_gaussian(dim, rho, dim_y=dim_y)


def _random_orthonormal(rng: np.random.Generator, dim: int, rank: int) -> np.ndarray:
    """A (dim, rank) matrix with orthonormal columns, Haar-distributed (QR with sign fix)."""
    g = rng.standard_normal((dim, rank))  # (dim, rank)
    q, r = np.linalg.qr(g)
    return q * np.sign(np.diag(r))


class LowRankGaussianPair:
    r"""A collapsed representation: an r-dimensional correlated Gaussian pair embedded in high dimension.

    Latent :math:`(u, v)` with :math:`u, v \sim \mathcal N(0, I_r)`, :math:`\mathrm{corr}(u_i, v_i) = \rho`,
    pairs independent; observed :math:`x = A u + \sigma \varepsilon_x`, :math:`y = B v + \sigma\varepsilon_y`
    with fixed random orthonormal :math:`A \in \mathbb R^{d_x\times r}`, :math:`B \in \mathbb R^{d_y\times r}`
    and independent standard-normal noise. Since :math:`A^\top x = u + \sigma A^\top\varepsilon_x` is
    sufficient and the orthogonal complement is independent noise,

    .. math:: I(X;Y) = -\tfrac r2 \log\left(1 - \frac{\rho^2}{(1+\sigma^2)^2}\right)

    which is the latent pair's :math:`-\tfrac r2\log(1-\rho^2)` when :math:`\sigma = 0`. With
    :math:`\sigma = 0` the covariance of x has rank r < d_x and H(X) is :math:`-\infty`.

    Attributes
    ----------
    embedding_x : ndarray, shape (dim_x, rank)
    embedding_y : ndarray, shape (dim_y, rank)
    """

    def __init__(
        self, rank: int, dim_x: int, dim_y: int, rho: float, noise: float = 0.0, random_state: RandomState = 0
    ) -> None:
        self.rank = check_int(rank, "rank")
        self.dim_x = check_int(dim_x, "dim_x", low=self.rank)
        self.dim_y = check_int(dim_y, "dim_y", low=self.rank)
        self.rho = check_float(rho, "rho", low=-1.0, high=1.0, low_open=True, high_open=True)
        self.noise = check_float(noise, "noise", low=0.0)
        rng = check_random_state(random_state)
        self.embedding_x = _random_orthonormal(rng, self.dim_x, self.rank)  # (dim_x, rank)
        self.embedding_y = _random_orthonormal(rng, self.dim_y, self.rank)  # (dim_y, rank)
        self.latent = correlated_gaussian(self.rank, self.rho)

    @property
    def dim(self) -> int:
        return self.dim_x + self.dim_y

    def mutual_information(self) -> float:
        """I(X; Y) in nats.

        Returns
        -------
        float
            I(X; Y) in nats.
        """
        rho_eff = self.rho / (1.0 + self.noise**2)
        return -0.5 * self.rank * math.log1p(-(rho_eff**2))

    def covariance(self) -> np.ndarray:
        """Joint covariance of (x, y), shape (dim_x + dim_y, dim_x + dim_y); singular when noise = 0.

        Returns
        -------
        numpy.ndarray
            Joint covariance of (x, y), shape (dim_x + dim_y, dim_x + dim_y); singular when noise = 0.
        """
        a, b = self.embedding_x, self.embedding_y
        cxx = a @ a.T + self.noise**2 * np.eye(self.dim_x)
        cyy = b @ b.T + self.noise**2 * np.eye(self.dim_y)
        cxy = self.rho * a @ b.T  # (dim_x, dim_y)
        return np.block([[cxx, cxy], [cxy.T, cyy]])

    def sample(self, n: int, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` pairs; x of shape (n, dim_x), y of shape (n, dim_y).

        Returns
        -------
        tuple of numpy.ndarray
            x of shape (n, dim_x) and y of shape (n, dim_y).
        """
        n = check_n(n)
        rng = check_random_state(random_state)
        u, v = self.latent.sample(n, rng)  # (n, rank) each
        x = u @ self.embedding_x.T  # (n, dim_x)
        y = v @ self.embedding_y.T  # (n, dim_y)
        if self.noise > 0:
            x = x + self.noise * rng.standard_normal(x.shape)
            y = y + self.noise * rng.standard_normal(y.shape)
        return x, y

    def __repr__(self) -> str:
        return (
            f"LowRankGaussianPair(rank={self.rank}, dim_x={self.dim_x}, dim_y={self.dim_y}, "
            f"rho={self.rho}, noise={self.noise})"
        )


def low_rank_gaussian_pair(
    rank: int,
    dim: int,
    *,
    rho: Optional[float] = None,
    mi_per_component: Optional[float] = None,
    noise: float = 0.0,
    dim_y: Optional[int] = None,
    random_state: RandomState = 0,
) -> LowRankGaussianPair:
    r"""A rank-``rank`` correlated Gaussian pair embedded in :math:`\mathbb R^{dim}` (see
    :class:`LowRankGaussianPair`). Give exactly one of ``rho`` or ``mi_per_component`` (nats per latent
    pair, :math:`\rho = \sqrt{1-e^{-2I}}`). The embedding is drawn from ``random_state`` (seed 0 by default,
    so the same call gives the same distribution).

    Returns
    -------
    LowRankGaussianPair
        The distribution of (x, y).

    Examples
    --------
    >>> p = low_rank_gaussian_pair(3, 25, mi_per_component=0.5)
    >>> round(p.mutual_information(), 12)
    1.5
    """
    if (rho is None) == (mi_per_component is None):
        raise ValueError(
            "give exactly one of rho or mi_per_component, "
            f"got rho={rho!r}, mi_per_component={mi_per_component!r}"
        )
    if rho is None:
        rho = rho_for_mi(mi_per_component)  # type: ignore[arg-type]
    dim_y = dim if dim_y is None else dim_y
    return LowRankGaussianPair(rank, dim, dim_y, rho, noise, random_state)


__all__: Sequence[str] = [
    "MultivariateNormal",
    "SplitMultinormal",
    "LowRankGaussianPair",
    "correlated_gaussian",
    "correlated_gaussian_for_mi",
    "low_rank_gaussian_pair",
    "rho_for_mi",
]
