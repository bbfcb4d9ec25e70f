"""Multivariate Student-t distributions with exact entropy and mutual information."""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
from scipy.special import digamma, gammaln

from infossl._validation import check_float, check_int, check_random_state
from infossl.synthetic._common import (
    as_covariance,
    as_mean,
    check_dim_x,
    check_n,
    gaussian_split_mi,
    logdet_pd,
)

RandomState = Union[None, int, np.random.Generator]


def _t_entropy_constant(df: float, dim: int) -> float:
    r"""The part of the t entropy that does not depend on the shape matrix:

    .. math:: \tfrac d2\log(\nu\pi) + \log\Gamma(\tfrac\nu2) - \log\Gamma(\tfrac{\nu+d}2)
              + \tfrac{\nu+d}2\left[\psi(\tfrac{\nu+d}2) - \psi(\tfrac\nu2)\right]
    """
    half_nu, half_nd = 0.5 * df, 0.5 * (df + dim)
    return (
        0.5 * dim * math.log(df * math.pi)
        + gammaln(half_nu)
        - gammaln(half_nd)
        + half_nd * (digamma(half_nd) - digamma(half_nu))
    )


def _f(x: float) -> float:
    r""":math:`f(x) = \log\Gamma(x/2) - \tfrac x2\,\psi(x/2)`."""
    return float(gammaln(0.5 * x) - 0.5 * x * digamma(0.5 * x))


def student_t_mi_correction(df: float, dim_x: int, dim_y: int) -> float:
    r"""What a split Student-t adds to the Gaussian MI of its shape matrix (nats, always >= 0).

    .. math:: c(\nu, d_x, d_y) = f(\nu) + f(\nu + d_x + d_y) - f(\nu + d_x) - f(\nu + d_y),
              \qquad f(x) = \log\Gamma(\tfrac x2) - \tfrac x2\,\psi(\tfrac x2)

    Derivation: the marginals of a multivariate t are t with the same :math:`\nu` and the corresponding
    blocks of the shape matrix, so in :math:`I = H(X) + H(Y) - H(X, Y)` the log-determinants give the
    Gaussian MI of the shape matrix, the :math:`\tfrac d2\log(\nu\pi)` terms cancel, and the
    :math:`\Gamma`/:math:`\psi` terms of :func:`_t_entropy_constant` regroup into c. Same result as
    Arellano-Valle, Contreras-Reyes & Genton, Scand. J. Stat. 40 (2013), and Czyż et al.,
    arXiv:2306.11078, Appendix.

    Returns
    -------
    float
        The correction in nats (>= 0).
    """
    return _f(df) + _f(df + dim_x + dim_y) - _f(df + dim_x) - _f(df + dim_y)


class StudentT:
    r"""Multivariate Student-t with ``df`` degrees of freedom, location ``mean`` and shape matrix ``shape``.

    .. math:: H = \tfrac12\log\det\Sigma + \tfrac d2\log(\nu\pi) + \log\Gamma(\tfrac\nu2)
              - \log\Gamma(\tfrac{\nu+d}2)
              + \tfrac{\nu+d}2\left[\psi(\tfrac{\nu+d}2) - \psi(\tfrac\nu2)\right]

    (Kotz & Nadarajah, *Multivariate t Distributions and Their Applications*, 2004; Arellano-Valle,
    Contreras-Reyes & Genton, Scand. J. Stat. 40 (2013); the same value as
    ``scipy.stats.multivariate_t(...).entropy()``.) Sampled as
    :math:`\mu + L\,g\,/\sqrt{w/\nu}` with :math:`g \sim \mathcal N(0, I)`, :math:`w \sim \chi^2_\nu`,
    :math:`LL^\top = \Sigma`. The covariance is :math:`\tfrac{\nu}{\nu-2}\Sigma` for :math:`\nu > 2`.

    Parameters
    ----------
    df : float
        Degrees of freedom, > 0.
    shape : array_like, shape (d, d), optional
        Positive-definite shape (scale) matrix; identity of size ``dim`` if omitted.
    dim : int, optional
        Dimension when ``shape`` is omitted.
    mean : array_like, shape (d,), optional
        Location (zeros by default).

    Examples
    --------
    >>> import scipy.stats
    >>> t = StudentT(4.0, np.eye(3))
    >>> bool(np.isclose(t.entropy(), scipy.stats.multivariate_t(shape=np.eye(3), df=4.0).entropy()))
    True
    """

    def __init__(
        self, df: float, shape: object = None, *, dim: Optional[int] = None, mean: object = None
    ) -> None:
        self.df = check_float(df, "df", low=0.0, low_open=True)
        if shape is None:
            if dim is None:
                raise ValueError("give shape (a (d, d) matrix) or dim")
            shape = np.eye(check_int(dim, "dim"))
        self.shape = as_covariance(shape, "shape")
        self.dim = self.shape.shape[0]
        if dim is not None and check_int(dim, "dim") != self.dim:
            raise ValueError(f"dim={dim} does not match shape of size {self.dim}")
        self.mean = as_mean(mean, self.dim)
        self._chol = np.linalg.cholesky(self.shape)  # (d, d)

    def entropy(self) -> float:
        """Differential entropy in nats.

        Returns
        -------
        float
            Differential entropy in nats.
        """
        return 0.5 * logdet_pd(self.shape) + _t_entropy_constant(self.df, self.dim)

    def covariance(self) -> np.ndarray:
        """Covariance matrix; only defined for df > 2.

        Returns
        -------
        numpy.ndarray
            Covariance matrix; only defined for df > 2.
        """
        if self.df <= 2:
            raise ValueError(f"the covariance of a Student-t exists only for df > 2, got df={self.df}")
        return self.df / (self.df - 2) * self.shape

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        g = rng.standard_normal((n, self.dim))  # (n, d)
        w = rng.chisquare(self.df, size=(n, 1))  # (n, 1)
        return self.mean + (g @ self._chol.T) / np.sqrt(w / self.df)

    def sample(self, n: int, random_state: RandomState = None) -> np.ndarray:
        """Draw ``n`` samples, shape (n, d).

        Returns
        -------
        numpy.ndarray
            The samples, shape (n, d).
        """
        return self._sample(check_n(n), check_random_state(random_state))

    def __repr__(self) -> str:
        return f"StudentT(df={self.df}, dim={self.dim})"


class SplitStudentT:
    r"""A joint multivariate Student-t on (X, Y), X the first ``dim_x`` coordinates.

    X and Y share the same :math:`\chi^2` mixing variable, so they are dependent even when the shape
    matrix is block diagonal.

    .. math:: I(X;Y) = \tfrac12\left[\log\det\Sigma_{xx} + \log\det\Sigma_{yy} - \log\det\Sigma\right]
              + c(\nu, d_x, d_y)

    with c from :func:`student_t_mi_correction` (Arellano-Valle et al. 2013; Czyż et al.,
    arXiv:2306.11078).

    Parameters
    ----------
    df : float
        Degrees of freedom, > 0.
    shape : array_like, shape (dim_x + dim_y, dim_x + dim_y)
        Positive-definite joint shape matrix.
    dim_x : int
        Number of leading coordinates that form X.
    """

    def __init__(self, df: float, shape: object, dim_x: int, mean: object = None) -> None:
        self.joint = StudentT(df, shape, mean=mean)
        self.dim_x = check_dim_x(dim_x, self.joint.dim)
        self.dim_y = self.joint.dim - self.dim_x

    @property
    def df(self) -> float:
        return self.joint.df

    @property
    def shape(self) -> np.ndarray:
        return self.joint.shape

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
        return gaussian_split_mi(self.shape, self.dim_x) + student_t_mi_correction(
            self.df, self.dim_x, self.dim_y
        )

    def entropy(self) -> float:
        """Joint entropy H(X, Y) in nats.

        Returns
        -------
        float
            Joint entropy H(X, Y) in nats.
        """
        return self.joint.entropy()

    def marginal_x(self) -> StudentT:
        """The marginal of X.

        Returns
        -------
        StudentT
            The Student-t distribution of X.
        """
        return StudentT(self.df, self.shape[: self.dim_x, : self.dim_x], mean=self.joint.mean[: self.dim_x])

    def marginal_y(self) -> StudentT:
        """The marginal of Y.

        Returns
        -------
        StudentT
            The Student-t distribution of Y.
        """
        return StudentT(self.df, self.shape[self.dim_x :, self.dim_x :], mean=self.joint.mean[self.dim_x :])

    def sample(self, n: int, random_state: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` pairs; x of shape (n, dim_x), y of shape (n, dim_y).

        Returns
        -------
        tuple of numpy.ndarray
            x of shape (n, dim_x) and y of shape (n, dim_y).
        """
        z = self.joint.sample(n, random_state)  # (n, dim_x + dim_y)
        return z[:, : self.dim_x], z[:, self.dim_x :]

    def __repr__(self) -> str:
        return f"SplitStudentT(df={self.df}, dim_x={self.dim_x}, dim_y={self.dim_y})"
