"""Uniform boxes and isotropic Gaussian mixtures."""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
from scipy.special import logsumexp

from infossl._backend import chunk_size_for, iter_chunks
from infossl._validation import check_float, check_int, check_random_state
from infossl.synthetic._common import LOG_2PI, LOG_2PI_E, check_n

RandomState = Union[None, int, np.random.Generator]


class UniformBox:
    r"""Uniform distribution on the box :math:`\prod_i [\mathrm{low}_i, \mathrm{high}_i]`.

    .. math:: H = \sum_i \log(\mathrm{high}_i - \mathrm{low}_i)

    Examples
    --------
    >>> UniformBox([0, 0], [1, 2]).entropy()  # log 2
    0.6931471805599453
    """

    def __init__(self, low: object, high: object) -> None:
        lo = np.atleast_1d(np.asarray(low, dtype=np.float64))
        hi = np.atleast_1d(np.asarray(high, dtype=np.float64))
        if lo.ndim != 1 or lo.shape != hi.shape:
            raise ValueError(
                f"low and high must be 1-D of the same length, got shapes {lo.shape} and {hi.shape}"
            )
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError("low and high must be finite")
        if not np.all(hi > lo):
            bad = int(np.argmax(~(hi > lo)))
            raise ValueError(
                f"high must exceed low in every coordinate; coordinate {bad} has "
                f"low={lo[bad]}, high={hi[bad]}"
            )
        self.low, self.high = lo, hi
        self.dim = lo.shape[0]

    def entropy(self) -> float:
        """Differential entropy in nats.

        Returns
        -------
        float
            Differential entropy in nats.
        """
        return float(np.log(self.high - self.low).sum())

    def sample(self, n: int, random_state: RandomState = None) -> np.ndarray:
        """Draw ``n`` samples, shape (n, d).

        Returns
        -------
        numpy.ndarray
            The samples, shape (n, d).
        """
        n = check_n(n)
        rng = check_random_state(random_state)
        return rng.uniform(self.low, self.high, size=(n, self.dim))

    def __repr__(self) -> str:
        return f"UniformBox(dim={self.dim})"


class IsotropicGaussianMixture:
    r"""Mixture :math:`p(x) = \sum_k w_k\,\mathcal N(x; \mu_k, \sigma^2 I_d)`.

    The entropy has no closed form. :meth:`entropy_monte_carlo` estimates
    :math:`H = -\mathbb E_p[\log p(X)]` from samples with the exact log-density (log-sum-exp), and
    :meth:`entropy_bounds` gives the pairwise-distance bounds of Kolchinsky & Tracey, "Estimating mixture
    entropy with pairwise distances", Entropy 19(7):361, 2017 (arXiv:1706.02419), eqs. (10)-(11):

    .. math:: -\sum_i w_i \log\sum_j w_j e^{-D(p_i\|p_j)} + \tfrac d2\log(2\pi e\sigma^2)

    with the Bhattacharyya distance :math:`D_B = \|\mu_i-\mu_j\|^2/(8\sigma^2)` (lower bound) and the
    KL divergence :math:`D_{KL} = \|\mu_i-\mu_j\|^2/(2\sigma^2)` (upper bound).

    Parameters
    ----------
    means : array_like, shape (K, d)
        Component means.
    sigma : float
        Common standard deviation of every coordinate of every component, > 0.
    weights : array_like, shape (K,), optional
        Non-negative component weights (normalised to sum to 1); uniform by default.
    """

    def __init__(self, means: object, sigma: float, weights: object = None) -> None:
        mu = np.asarray(means, dtype=np.float64)
        if mu.ndim == 1:
            mu = mu.reshape(-1, 1)
        if mu.ndim != 2 or mu.shape[0] == 0 or mu.shape[1] == 0:
            raise ValueError(f"means must have shape (K, d), got {mu.shape}")
        if not np.all(np.isfinite(mu)):
            raise ValueError("means contains non-finite entries")
        self.means = mu
        self.n_components, self.dim = mu.shape
        self.sigma = check_float(sigma, "sigma", low=0.0, low_open=True)
        if weights is None:
            w = np.full(self.n_components, 1.0 / self.n_components)
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (self.n_components,):
                raise ValueError(f"weights must have shape ({self.n_components},), got {w.shape}")
            if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
            w = w / w.sum()
        self.weights = w
        self._center = mu.mean(axis=0)  # (d,) subtracted before distances to limit cancellation

    def _component_entropy(self) -> float:
        return 0.5 * self.dim * (LOG_2PI_E + 2.0 * math.log(self.sigma))

    def sample(self, n: int, random_state: RandomState = None) -> np.ndarray:
        """Draw ``n`` samples, shape (n, d).

        Returns
        -------
        numpy.ndarray
            The samples, shape (n, d).
        """
        n = check_n(n)
        rng = check_random_state(random_state)
        k = rng.choice(self.n_components, size=n, p=self.weights)  # (n,)
        return self.means[k] + self.sigma * rng.standard_normal((n, self.dim))

    def log_density(self, x: object, *, chunk_size: Optional[int] = None) -> np.ndarray:
        """Exact log-density at each row of ``x`` (shape (n, d)); returns shape (n,). Memory O(chunk * K).

        Returns
        -------
        numpy.ndarray
            The log-density at each row, shape (n,).
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and self.dim == 1:
            x = x.reshape(-1, 1)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {x.shape}")
        if chunk_size is None:
            chunk_size = chunk_size_for(self.n_components, factor=3)
        chunk_size = check_int(chunk_size, "chunk_size")
        mu = (self.means - self._center) / self.sigma  # (K, d)
        mu_sq = (mu**2).sum(axis=1)  # (K,)
        log_w = np.log(self.weights, where=self.weights > 0, out=np.full(self.n_components, -np.inf))  # (K,)
        out = np.empty(x.shape[0])
        for sl in iter_chunks(x.shape[0], chunk_size):
            xc = (x[sl] - self._center) / self.sigma  # (chunk, d)
            sq = (xc**2).sum(axis=1, keepdims=True) - 2.0 * xc @ mu.T + mu_sq  # (chunk, K)
            np.maximum(sq, 0.0, out=sq)
            out[sl] = logsumexp(log_w - 0.5 * sq, axis=1)
        return out - 0.5 * self.dim * (LOG_2PI + 2.0 * math.log(self.sigma))

    def entropy_monte_carlo(
        self, n_samples: int = 10_000, random_state: RandomState = None
    ) -> tuple[float, float]:
        """Monte Carlo entropy in nats: returns (estimate, standard error), error ~ 1/sqrt(n_samples).

        Returns
        -------
        tuple of float
            (estimate, standard error) in nats.
        """
        n_samples = check_int(n_samples, "n_samples", low=2)
        rng = check_random_state(random_state)
        lp = self.log_density(self.sample(n_samples, rng))  # (n_samples,)
        return float(-lp.mean()), float(lp.std(ddof=1) / math.sqrt(n_samples))

    def entropy_bounds(self) -> tuple[float, float]:
        """(lower, upper) bounds on the entropy in nats (Kolchinsky & Tracey 2017). Memory O(K^2).

        Returns
        -------
        tuple[float, float]
            (lower, upper) bounds on the entropy in nats (Kolchinsky & Tracey 2017).
        """
        mu = (self.means - self._center) / self.sigma  # (K, d)
        mu_sq = (mu**2).sum(axis=1)
        sq = np.maximum(mu_sq[:, None] + mu_sq[None, :] - 2.0 * mu @ mu.T, 0.0)  # (K, K)
        np.fill_diagonal(sq, 0.0)
        pos = self.weights > 0
        w, sq = self.weights[pos], sq[np.ix_(pos, pos)]
        log_w = np.log(w)

        def bound(scale: float) -> float:
            return float(-(w * logsumexp(log_w[None, :] - scale * sq, axis=1)).sum())

        h0 = self._component_entropy()
        return h0 + bound(1.0 / 8.0), h0 + bound(1.0 / 2.0)

    def __repr__(self) -> str:
        return (
            f"IsotropicGaussianMixture(n_components={self.n_components}, dim={self.dim}, sigma={self.sigma})"
        )
