r"""Test family with exact MI: a low-dimensional Gaussian pair embedded injectively and nonlinearly in high dimension.

It stands for real SSL embeddings: hundreds to thousands of ambient dimensions, with the information on a
low-dimensional curved set. Latent :math:`u, v \in \mathbb R^k` are standard normal with
:math:`\mathrm{corr}(u_i, v_i) = \rho` and the k pairs independent, so

.. math:: I(u; v) = -\tfrac k2 \log(1 - \rho^2).

Each side is embedded as

.. math:: x = Q_x \begin{bmatrix} w(u) \\ \tanh(B_x u + c_x) \end{bmatrix} \in \mathbb R^{D_x},

with :math:`Q_x` a Haar-random rotation, :math:`B_x \in \mathbb R^{(D_x - k)\times k}` with
:math:`N(0, 1/k)` entries, :math:`c_x \sim N(0, 0.25)`, and :math:`w` a strictly increasing per-coordinate
map (``warp="linear"``: :math:`w(u) = u`; ``warp="wiggly"``: :math:`w(u) = u + 0.45\sin 2u`, derivative
:math:`\ge 0.1`). Since :math:`u = w^{-1}((Q_x^\top x)_{1..k})` is recoverable from x, the embedding is
injective and :math:`I(x; y) = I(u; v)` exactly. The intrinsic dimension of x is k and its covariance has
full rank :math:`D_x` (the tanh features are nonlinear), which is what defeats linear and full-dimensional
estimators. This module lives with the estimators so that their tests and ``benchmarks/highdim.py``
share one definition.

Examples
--------
>>> from infossl.synthetic import embedded_gaussian_pair
>>> pair = embedded_gaussian_pair(2, 64, mi=1.66, random_state=0)
>>> x, y = pair.sample(100, random_state=1)
>>> x.shape, y.shape, round(pair.mutual_information(), 2)
((100, 64), (100, 64), 1.66)
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from infossl._validation import check_choice, check_float, check_int, check_random_state

__all__ = ["EmbeddedGaussianPair", "embedded_gaussian_pair"]

_WARPS = ("linear", "wiggly")


def _haar_rotation(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A (dim, dim) Haar-distributed orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


class EmbeddedGaussianPair:
    """A correlated k-dimensional Gaussian pair, each side embedded injectively in R^D (see the module doc).

    Parameters
    ----------
    k : int
        Intrinsic dimension of each side (number of correlated latent pairs).
    dim_x, dim_y : int
        Ambient dimensions, ``>= k``.
    rho : float
        Correlation of each latent pair, ``|rho| < 1``.
    warp : {"linear", "wiggly"}
        The strictly increasing map applied to the latent block (see the module doc).
    random_state : int
        Seed of the embedding (rotations, B, c); sampling has its own seed.
    """

    def __init__(self, k: int, dim_x: int, dim_y: int, rho: float, *, warp: str = "linear", random_state: int = 0):
        self.k = check_int(k, "k", low=1)
        self.dim_x = check_int(dim_x, "dim_x", low=self.k)
        self.dim_y = check_int(dim_y, "dim_y", low=self.k)
        self.rho = check_float(rho, "rho", low=-1.0, high=1.0)
        if abs(self.rho) >= 1:
            raise ValueError(f"rho must satisfy |rho| < 1 (the MI is infinite at |rho| = 1), got {rho}")
        self.warp = check_choice(warp, "warp", _WARPS)
        rng = check_random_state(random_state)
        self._maps = [self._make_map(rng, d) for d in (self.dim_x, self.dim_y)]

    def _make_map(self, rng: np.random.Generator, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q = _haar_rotation(rng, dim)  # (D, D)
        b = rng.standard_normal((dim - self.k, self.k)) / math.sqrt(self.k)  # (D - k, k)
        c = 0.5 * rng.standard_normal(dim - self.k)  # (D - k,)
        return q, b, c

    def _embed(self, u: np.ndarray, side: int) -> np.ndarray:
        q, b, c = self._maps[side]
        head = u if self.warp == "linear" else u + 0.45 * np.sin(2.0 * u)  # (n, k)
        features = np.concatenate([head, np.tanh(u @ b.T + c)], axis=1)  # (n, D)
        return features @ q.T

    def latent_sample(self, n: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws of the latent pair (u, v), each (n, k).

        Returns
        -------
        tuple[numpy.ndarray, numpy.ndarray]
            ``n`` draws of the latent pair (u, v), each (n, k).
        """
        n = check_int(n, "n", low=1)
        rng = check_random_state(random_state)
        u = rng.standard_normal((n, self.k))
        v = self.rho * u + math.sqrt(1.0 - self.rho ** 2) * rng.standard_normal((n, self.k))
        return u, v

    def sample(self, n: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` paired draws (x, y): arrays (n, dim_x) and (n, dim_y), float64.

        Returns
        -------
        tuple[numpy.ndarray, numpy.ndarray]
            ``n`` paired draws (x, y): arrays (n, dim_x) and (n, dim_y), float64.
        """
        u, v = self.latent_sample(n, random_state)
        return self._embed(u, 0), self._embed(v, 1)

    def mutual_information(self) -> float:
        """The exact :math:`I(x; y) = I(u; v) = -\\tfrac k2\\log(1-\\rho^2)`, nats.

        Returns
        -------
        float
            The exact mutual information in nats.
        """
        return -0.5 * self.k * math.log1p(-self.rho ** 2)

    def intrinsic_dimension(self) -> int:
        """Intrinsic dimension of each side (k).

        Returns
        -------
        int
            Intrinsic dimension of each side (k).
        """
        return self.k

    def __repr__(self) -> str:
        return (f"EmbeddedGaussianPair(k={self.k}, dim_x={self.dim_x}, dim_y={self.dim_y}, rho={self.rho:.4g}, "
                f"warp={self.warp!r})")


def embedded_gaussian_pair(k: int, dim_x: int, dim_y: Optional[int] = None, *, mi: Optional[float] = None,
                           rho: Optional[float] = None, warp: str = "linear", random_state: int = 0
                           ) -> EmbeddedGaussianPair:
    """An :class:`EmbeddedGaussianPair` with a total MI of ``mi`` nats or a per-pair correlation ``rho``.

    Exactly one of ``mi`` and ``rho`` is given; ``dim_y`` defaults to ``dim_x``.
    """
    if (mi is None) == (rho is None):
        raise ValueError("give exactly one of mi= (total nats) and rho= (per-pair correlation)")
    if mi is not None:
        mi = check_float(mi, "mi", low=0.0)
        k_ = check_int(k, "k", low=1)
        rho = math.sqrt(-math.expm1(-2.0 * mi / k_))
    return EmbeddedGaussianPair(k, dim_x, dim_x if dim_y is None else dim_y, rho, warp=warp,
                                random_state=random_state)
