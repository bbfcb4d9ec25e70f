r"""Exact spectral toolkit on the Boolean hypercube: Walsh basis, crop augmentation, dot-product kernels.

On :math:`X = \{-1, 1\}^d` with the uniform measure, the parities :math:`\chi_S(x) = \prod_{i\in S}x_i`
(S a subset of {0..d-1}) form an orthonormal basis of :math:`L^2`. Both operators of the kernel-regime theory
are diagonal in it:

* **Crop augmentation** ("crop + refresh"): draw a cyclic window W of ``width`` contiguous coordinates with a
  uniform offset, keep x on W and redraw the other coordinates uniformly. Then
  :math:`A\chi_S = p_S\chi_S` with :math:`p_S = P(S\subseteq W) = \sum_j\max(0, g_j-(d-w))/d` over the cyclic
  gaps :math:`g_j` between consecutive members of S (:math:`p_\emptyset = 1`; :func:`crop_probability`) and
  :math:`T\chi_S = p_S^2\chi_S`.
* **Dot-product kernels** :math:`k(x, y) = h(\langle x, y\rangle)`: eigenvalue of :math:`\chi_S` depends only on
  :math:`\ell = |S|`,

  .. math:: \mu_\ell = 2^{-d}\sum_{j=0}^{d} h(d-2j)\sum_i (-1)^i\binom{\ell}{i}\binom{d-\ell}{j-i}

  (j = number of coordinates where y differs from x; the inner sum is a Krawtchouk polynomial).
* **Two-layer ReLU NTK**: :math:`h(u) = u\,\kappa_0(u) + \kappa_1(u)`, :math:`\kappa_0(u) = (\pi-\arccos u)/\pi`,
  :math:`\kappa_1(u) = (u(\pi-\arccos u)+\sqrt{1-u^2})/\pi`, with :math:`u = (\langle x,y\rangle+1)/(d+1)` when a
  constant bias input is appended and :math:`u = \langle x,y\rangle/d` without. Without the bias, every odd
  degree :math:`\ell\ge 3` has :math:`\mu_\ell = 0`: odd parities of degree >= 3 are not representable.

The crop model and kernel follow our reconstruction of the hypercube examples of Cabannes et al. (2023,
arXiv 2302.02774, Fig. 8: two-layer ReLU network and cropping); the eigenvalue formulas are exact and tested
against brute-force eigendecompositions.

References
----------
.. [1] V. Cabannes et al., "The SSL Interplay: Augmentations, Inductive Bias, and Generalization", ICML 2023,
   arXiv 2302.02774.
.. [2] R. O'Donnell, "Analysis of Boolean Functions", Cambridge University Press, 2014, ch. 1 (Walsh basis).
.. [3] Y. Cho, L. K. Saul, "Kernel methods for deep learning", NeurIPS 2009 (arc-cosine kernels kappa_0, kappa_1);
   A. Jacot, F. Gabriel, C. Hongler, "Neural Tangent Kernel", NeurIPS 2018, arXiv 1806.07572.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from infossl._validation import check_int, check_random_state

Subset = tuple[int, ...]

MAX_DIM = 20  # 2^20 points: the largest cube enumerated explicitly
MAX_KERNEL_DIM = 30  # the alternating Krawtchouk sum loses digits (terms up to 2^d) beyond this


def hypercube(d: int) -> np.ndarray:
    """All 2^d points of {-1, 1}^d as a (2^d, d) float64 array; row j has x_i = 1 - 2 * bit_i(j).

    >>> hypercube(2).tolist()
    [[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]]

    Returns
    -------
    numpy.ndarray
        The points, (2^d, d) float64.
    """
    d = check_int(d, "d", low=1, high=MAX_DIM)
    bits = (np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1  # (2^d, d)
    return 1.0 - 2.0 * bits


def walsh_subsets(d: int, *, max_degree: int | None = None) -> list[Subset]:
    """Subsets of {0..d-1} by degree, then lexicographically (degree <= ``max_degree`` if given).

    >>> walsh_subsets(3, max_degree=1)
    [(), (0,), (1,), (2,)]

    Returns
    -------
    list of tuple
        The subsets in that order.
    """
    d = check_int(d, "d", low=1)
    top = d if max_degree is None else check_int(max_degree, "max_degree", low=0, high=d)
    return [s for ell in range(top + 1) for s in itertools.combinations(range(d), ell)]


def walsh_basis(x: np.ndarray, subsets: Sequence[Subset]) -> np.ndarray:
    """Parities chi_S(x) (n, q) of points x (n, d) with entries +-1.

    >>> walsh_basis(hypercube(2), [(), (0,), (0, 1)]).tolist()
    [[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [1.0, 1.0, -1.0], [1.0, -1.0, 1.0]]

    Returns
    -------
    numpy.ndarray
        The parities, (n, q).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or not np.all(np.abs(x) == 1):
        raise ValueError(f"x must be a 2-D array of +-1 entries, got shape {x.shape}")
    out = np.ones((x.shape[0], len(subsets)))  # (n, q)
    for c, s in enumerate(subsets):
        if any(i < 0 or i >= x.shape[1] for i in s):
            raise ValueError(f"subset {s} has coordinates outside 0..{x.shape[1] - 1}")
        if s:
            out[:, c] = np.prod(x[:, list(s)], axis=1)
    return out


def crop_probability(subset: Subset, d: int, width: int) -> float:
    r"""P(S is inside a uniform cyclic window of ``width`` coordinates) = #{offsets whose window contains S} / d.

    The window's complement is an arc of d - w coordinates that must fit strictly inside one of the cyclic
    gaps :math:`g_1..g_{|S|}` between consecutive members of S, so
    :math:`p_S = \sum_j \max(0, g_j - (d - w)) / d` (:math:`p_\emptyset = 1`). This differs from
    :math:`\max(0, w - \mathrm{diam}(S) + 1)/d` when S can be covered by going round either way
    (e.g. d = 10, w = 7, S = {0, 4}: 4 windows, not 3).

    >>> crop_probability((0,), 10, 7), crop_probability((0, 4), 10, 7), crop_probability((0, 1, 2), 10, 7)
    (0.7, 0.4, 0.5)

    Returns
    -------
    float
        The probability.
    """
    if not subset:
        return 1.0
    s = sorted(set(subset))
    gaps = [b - a for a, b in itertools.pairwise(s)] + [s[0] + d - s[-1]]
    return sum(max(0, g - (d - width)) for g in gaps) / d


def crop_eigenvalues(d: int, width: int, subsets: Sequence[Subset] | None = None, *,
                     operator: str = "T") -> np.ndarray:
    r"""Eigenvalues of the crop augmentation on the parities: :math:`p_S` (``operator="A"``) or :math:`p_S^2`
    (``"T"``), with :math:`p_S` from :func:`crop_probability`.

    Returns
    -------
    numpy.ndarray
        One eigenvalue per subset.

    Examples
    --------
    d = 10, w = 7: singletons 0.49, adjacent pairs 0.36, contiguous triples 0.25 (eigenvalues of T).

    >>> crop_eigenvalues(10, 7, [(0,), (0, 1), (0, 1, 2)]).round(12).tolist()
    [0.49, 0.36, 0.25]
    """
    d = check_int(d, "d", low=1)
    width = check_int(width, "width", low=1, high=d)
    if operator not in ("A", "T"):
        raise ValueError(f"operator must be 'A' or 'T', got {operator!r}")
    subsets = walsh_subsets(d) if subsets is None else subsets
    p = np.array([crop_probability(s, d, width) for s in subsets])
    return p if operator == "A" else p ** 2


def crop_transition_matrix(d: int, width: int) -> np.ndarray:
    """P[x, xi] = P(view xi | input x) of the crop augmentation on the enumerated cube (2^d, 2^d).

    With the uniform input measure, the population T on views is ``P.T @ P`` (the views are uniform too).

    Returns
    -------
    numpy.ndarray
        The row-stochastic matrix (2^d, 2^d).
    """
    d = check_int(d, "d", low=1, high=14)
    width = check_int(width, "width", low=1, high=d)
    n = 2 ** d
    idx = np.arange(n)
    out = np.zeros((n, n))
    for offset in range(d):
        window = [(offset + i) % d for i in range(width)]
        mask = sum(1 << i for i in window)
        free = d - width
        # views keep the bits on the window and take every value outside it with probability 2^-free
        same = (idx[:, None] & mask) == (idx[None, :] & mask)  # (n, n)
        out += same / (d * 2.0 ** free)
    return out


def crop_views(x: np.ndarray, width: int, *, n_views: int = 2, random_state=None) -> np.ndarray:
    """Draw ``n_views`` crop views of each point: (n, d) -> (n, n_views, d).

    Returns
    -------
    numpy.ndarray
        The views, shape (n, n_views, d).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (n, d), got shape {x.shape}")
    n, d = x.shape
    width = check_int(width, "width", low=1, high=d)
    n_views = check_int(n_views, "n_views", low=1)
    rng = check_random_state(random_state)
    offsets = rng.integers(0, d, size=(n, n_views))  # (n, m)
    pos = (np.arange(d)[None, None, :] - offsets[:, :, None]) % d  # (n, m, d)
    keep = pos < width
    fresh = rng.choice([-1.0, 1.0], size=(n, n_views, d))
    return np.where(keep, x[:, None, :], fresh)


def dot_product_kernel_eigenvalues(h: Callable[[np.ndarray], np.ndarray], d: int) -> np.ndarray:
    r"""Eigenvalues :math:`\mu_\ell`, :math:`\ell = 0..d`, of :math:`k(x,y) = h(\langle x,y\rangle)` on the uniform
    cube (each with multiplicity :math:`\binom d\ell`). ``h`` receives the inner products d - 2j, j = 0..d.

    Returns
    -------
    numpy.ndarray
        The eigenvalues (d + 1,), one per degree.

    Examples
    --------
    The linear kernel <x, y> has mu_1 = 1 and all others 0.

    >>> dot_product_kernel_eigenvalues(lambda t: t, 4).round(12).tolist()
    [0.0, 1.0, 0.0, 0.0, 0.0]
    """
    d = check_int(d, "d", low=1, high=MAX_KERNEL_DIM)
    vals = np.asarray(h(d - 2.0 * np.arange(d + 1)), dtype=np.float64)  # (d+1,) h at j flips
    if vals.shape != (d + 1,) or not np.all(np.isfinite(vals)):
        raise ValueError("h must return d + 1 finite values for the inner products d, d-2, ..., -d")
    kraw = np.array([[sum((-1) ** i * math.comb(ell, i) * math.comb(d - ell, j - i) for i in range(max(0, j - d + ell), min(ell, j) + 1))
                      for j in range(d + 1)] for ell in range(d + 1)], dtype=np.float64)  # (d+1, d+1)
    return kraw @ vals / 2.0 ** d


def relu_ntk(u: np.ndarray) -> np.ndarray:
    r"""Two-layer ReLU NTK profile :math:`h(u) = u\kappa_0(u) + \kappa_1(u)` on cosines u in [-1, 1].

    Returns
    -------
    numpy.ndarray
        h(u), the shape of ``u``.
    """
    u = np.clip(np.asarray(u, dtype=np.float64), -1.0, 1.0)
    acos = np.arccos(u)
    k0 = (np.pi - acos) / np.pi
    k1 = (u * (np.pi - acos) + np.sqrt(np.clip(1.0 - u * u, 0.0, None))) / np.pi
    return u * k0 + k1


def relu_ntk_eigenvalues(d: int, *, bias: bool = True) -> np.ndarray:
    r"""Eigenvalues :math:`\mu_\ell` (d+1,) of the two-layer ReLU NTK on {-1,1}^d, with or without a bias input.

    Returns
    -------
    numpy.ndarray
        The eigenvalues (d + 1,), one per degree.

    Examples
    --------
    d = 10 with bias: [.4546, .0996, .0087, 2.80e-4, ...]; without bias the odd degrees >= 3 vanish.

    >>> relu_ntk_eigenvalues(10)[:3].round(4).tolist()
    [0.4546, 0.0996, 0.0087]
    >>> bool(abs(relu_ntk_eigenvalues(10, bias=False)[[3, 5, 7, 9]]).max() < 1e-12)
    True
    """
    d = check_int(d, "d", low=1, high=MAX_KERNEL_DIM)
    if bias:
        return dot_product_kernel_eigenvalues(lambda t: relu_ntk((t + 1.0) / (d + 1.0)), d)
    return dot_product_kernel_eigenvalues(lambda t: relu_ntk(t / d), d)


def parity_features(x: np.ndarray, degree_eigenvalues: np.ndarray, subsets: Sequence[Subset]) -> np.ndarray:
    r"""Exact feature map of a dot-product kernel restricted to ``subsets``:
    :math:`\phi(x) = (\sqrt{\mu_{|S|}}\,\chi_S(x))_S` (n, q); with all subsets, :math:`\phi(x)^\top\phi(y) = k(x, y)`.

    Returns
    -------
    numpy.ndarray
        The features (n, q), one column per subset.
    """
    mu = np.asarray(degree_eigenvalues, dtype=np.float64)
    if np.any(mu < -1e-12 * np.abs(mu).max()):
        raise ValueError(f"degree_eigenvalues must be >= 0 (a PSD kernel), smallest {mu.min():.3g}")
    scale = np.sqrt(np.clip(np.array([mu[len(s)] for s in subsets]), 0.0, None))  # (q,)
    return walsh_basis(x, subsets) * scale
