r"""Nonlinear latent mutual information: held-out neural encodings of each side, then a low-dimensional
reading.

The linear latent route (:mod:`~infossl.estimators.latent`) finds the information-bearing latent when a
*linear* projection of the leading principal components carries it. Real encoders give no such guarantee:
information sits on curved sets (saturating maps, helices) or in class clusters. Here each side gets a small
neural encoder, :math:`f: \mathbb R^{d_x} \to \mathbb R^m`, :math:`g: \mathbb R^{d_y} \to \mathbb R^m`,
trained
to make :math:`f(X)` and :math:`g(Y)` maximally dependent, in the spirit of latent MI (Gowri et al. 2024 [1]),
which learns low-dimensional cross-predictive embeddings and reads them with KSG.

Objective. The encoders maximise the Gaussian mutual information of the batch latents,
:math:`-\tfrac12 \sum_i \log(1 - \rho_i^2)` with :math:`\rho_i` the canonical correlations of
:math:`(f(X), g(Y))` -- deep CCA (Andrew et al. 2013 [2]). Its population maximisers are the
Hirschfeld-Gebelein-Renyi maximal-correlation functions; for an injectively embedded Gaussian latent pair
:math:`x = \phi(u), y = \psi(v)` these are linear functions of u and v (Lancaster 1957 [3]: no functions of a
Gaussian pair correlate more than its canonical correlations), so the optimal encoders *invert* the embedding
and the latents carry all of I(X;Y). For a class-mediated pair (X depends on Y only through labels A, B) they
are functions of the class. Critics trained on variational bounds (InfoNCE, NWJ) are capped by the batch
size or have high variance at high MI (Czyz et al. 2023 [4]); this objective has neither problem, and the
value is read afterwards by a nonparametric estimator, not by the objective.

Protocol (Abdelaleem, Martini & Nemenman 2025 [5]: fit and evaluate on different rows, stop on held-out rows,
check consistency). The rows are split once, from ``random_state``: a *fit* part (``train_fraction``), of
which ``stop_fraction`` is kept aside to stop the training (the state with the best Gaussian MI on those rows
is kept), and the *held-out* part, on which the value is read and never used for any choice. Each side is
first reduced to its ``pca_dim`` leading principal components, fitted on the fit rows
(:func:`~infossl.estimators.latent.whitened_scores`). The encoders' outputs are standardised and
soft-clipped, :math:`c \tanh(z / c)` (``clip``; AdamW with ``weight_decay``): a correlation objective on
unbounded outputs is won by sending a few rows far out together, which then fails on new rows (on the helix
2 -> 256 family, n = 5000, truth 1.66, unclipped encoders gave a stopping-row Gaussian MI of 2.22, a held-out
one of 0.06 and a reading of 0.80; clipped at 2 with weight decay 0.01: 1.52, 1.56 and 1.62). After
training, each latent is mapped through the normal quantile of its fit-row empirical CDF, interpolated
linearly between the fit values with exponential tails outside them (``latent_scores``;
:func:`~infossl.estimators._heldout.fit_row_normal_scores`: a strictly increasing map fixed by the fit rows,
so held-out latents keep distinct values and their information), a linear CCA on the fit rows
orients the m latents; the directions whose canonical correlation on the stopping rows exceeds the noise level
:math:`3/\sqrt{n_{stop}}` are kept. The held-out rows' kept latents are then read by ``reading``:
``"corrected-ksg"`` (default, :func:`~infossl.estimators.corrected_ksg_mutual_information`), ``"ksg"`` or
``"gaussian"``.

What the number is. f and g are fixed functions of rows other than the held-out ones, so on those rows the
data-processing inequality gives :math:`I(f(X); g(Y)) \le I(X; Y)`: the *target* is a lower bound, tight when
the encoders recover a sufficient latent. The returned value is an **estimate** of that target by the reading
estimator, with that estimator's own error in either direction (KSG is biased low at high MI and in more
dimensions; the corrected KSG removes most of that on near-Gaussian latents); it is **not** itself a bound.
The interval in :class:`NonlinearResult` is the reading's sampling spread and n-drift on the held-out rows
(two halves and four quarters, the encoders fixed); it does not include the gap between the target and
I(X;Y).

Where the gap comes from (images rendered from a 2-d latent: a Gaussian bump, a soft square or a segment at
the latent's position on a 12 x 12 or 16 x 16 grid, n = 5000). The readings fall 0 to 15 % low (bump 16 x 16,
truth 1.2, three seeds: 1.08, 1.08, 1.18), and the Gaussian MI of the latents shows where: on the fit rows it
is at the truth (1.21 - 1.24), on the stopping and held-out rows 0.1 - 0.15 nats lower (canonical
correlations 0.78 - 0.82 against the population maximum 0.835) -- the encoders' generalisation error, which
only more fitting rows shrink (at n = 10^4 the seed-0 bump and square read 1.22 and 1.25; ``train_fraction``
0.8 at n = 5000: +0.04 nats on average over 8 such draws, none lower by more than 0.01, but the band on the
fewer held-out rows widens). Not the cause, measured on the same
draws: the number of latent directions (2 kept, as the latent has; forcing 4 keeps redundant functions of it
and the reading over-shoots, 1.31), the input PCA (16, 32, 64 components: 1.12, 1.08, 1.07), early stopping
(patience 25 or 60: the same best epoch), the clip (3 instead of 2: 1.08), the width (256: 1.08), the weight
decay (0.1: 1.09), the reading (at or above the Gaussian MI of the same held-out latents) and the held-out
scores (interpolated or step map: within 0.003).

Repeated rows. kNN readings need continuous data: exact copies give zero distances. With
``duplicates="auto"``: (1) when both sides take few distinct values (each distinct row seen at least
:data:`DISCRETE_MIN_REPEATS` times on average) the variables are treated as **discrete** and the value is the
plug-in MI of the row identities with the Miller-Madow correction (no encoder; it estimates the MI of the
discrete law of the rows); (2) otherwise repeated *pairs* (x_i, y_i) = (x_j, y_j) are treated as **copies of
one draw** (an embedding dump that visits an item several times, rows re-sampled with replacement) and each
distinct pair is counted once: the value estimates the MI of the continuous population the distinct pairs
were drawn from. Values repeated in one side only (the same x with different y) are atoms of a
discrete-continuous mixture; the KSG reading with strict counts stays defined there (its joint distances
are positive) and is the estimator Gao et al. (2017) [6] analyse for such mixtures. The mode used and the
row counts are reported.

References
----------
.. [1] Gowri, G., Lun, X.-K., Klein, A. M. and Yin, P. "Approximating mutual information of high-dimensional
   variables using learned representations", NeurIPS 2024, arXiv:2409.02732.
.. [2] Andrew, G., Arora, R., Bilmes, J. and Livescu, K. "Deep canonical correlation analysis", ICML 2013.
.. [3] Lancaster, H. O. "Some properties of the bivariate normal distribution considered in the form of a
   contingency table", Biometrika 44, 289-292 (1957).
.. [4] Czyz, P., Grabowski, F., Vogt, J. E., Beerenwinkel, N. and Marx, A. "Beyond normal: on the evaluation
   of mutual information estimators", NeurIPS 2023, arXiv:2306.11078.
.. [5] Abdelaleem, E., Martini, K. M. and Nemenman, I. "Accurate estimation of mutual information in high
   dimensional data", arXiv:2506.00330 (2025).
.. [6] Gao, W., Kannan, S., Oh, S. and Viswanath, P. "Estimating mutual information for discrete-continuous
   mixtures", NeurIPS 2017, arXiv:1709.06212.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn

from infossl._backend import ArrayLike, one_intra_op_thread
from infossl._validation import check_choice, check_float, check_int, check_pair, check_random_state
from infossl.estimators.intrinsic import ID_ROWS, twonn_dimension
from infossl.estimators.latent import latent_dimension_for, whitened_scores
from infossl.estimators._heldout import (discrete_mi, fit_row_normal_scores, heldout_interval, row_codes,
                                         seeded_init, silu_mlp)

__all__ = ["NonlinearResult", "nonlinear_mutual_information", "discrete_mutual_information", "row_repeats"]

_READINGS = ("corrected-ksg", "ksg", "gaussian")
_DUPLICATES = ("auto", "copies", "discrete")
DISCRETE_MIN_REPEATS = 20  # "discrete" when each distinct row of both sides is seen this often on average
_RIDGE = 1e-4              # added to the latents' correlation matrices in the objective (unit-variance scale)
MAX_LATENT = 10            # latent directions at most (the 9 contrasts of 10 classes fit)
_NOISE_SIGMAS = 3.0        # a canonical direction is kept when its stopping-row correlation exceeds 3/sqrt(n)


@dataclass
class NonlinearResult:
    """What :func:`nonlinear_mutual_information`, :func:`discrete_mutual_information` or
    :func:`~infossl.estimators.clusters.cluster_mutual_information` computed (``details=True``).

    Attributes
    ----------
    value : float
        The estimate, nats (see the module doc for what it estimates).
    interval : (float, float)
        :math:`v \\pm (t_{4, 0.975}\\,se + |drift|)` from the reading on two halves and four quarters of the
        held-out rows (encoders fixed). It covers the reading's sampling spread, not the encoder's loss.
    mode : str
        ``"latent"`` (encoders + reading), ``"discrete"`` (plug-in on row identities) or ``"clusters"``
        (plug-in on learned codes).
    latent_dim : int
        Latent directions kept (0: nothing above the noise level, the value is 0); for ``"clusters"`` the
        chosen number of code states K.
    gaussian_fit, gaussian_stop, gaussian_heldout : float
        Gaussian MI of the m latents on the fit, stopping and held-out rows (nats). A fit value far above
        the held-out one means the encoders memorised their rows.
    canonical_stop : list of float
        Canonical correlations of the latents on the stopping rows, largest first.
    consistent : bool
        False when the held-out Gaussian MI is below half the stopping rows' (minus 0.05 nats): the encoders
        do not carry over to the held-out rows, and ``notes`` says so.
    info : dict
        Route-specific extras (the cluster route's candidate scores and split readings).
    """

    value: float
    interval: tuple[float, float] = (float("nan"), float("nan"))
    mode: str = "latent"
    reading: str = "corrected-ksg"
    latent_dim: int = 0
    gaussian_fit: float = float("nan")
    gaussian_stop: float = float("nan")
    gaussian_heldout: float = float("nan")
    canonical_stop: list[float] = field(default_factory=list)
    epochs: int = 0
    best_epoch: int = 0
    n_rows: int = 0
    n_distinct_pairs: int = 0
    n_fit: int = 0
    n_stop: int = 0
    n_heldout: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    consistent: bool = True
    notes: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def discrete_mutual_information(x: ArrayLike, y: ArrayLike, *, details: bool = False,
                                random_state: Union[None, int, np.random.Generator] = 0):
    r"""Plug-in MI of the row identities of x and y, with the Miller-Madow correction, in nats: the
    estimator for data whose rows repeat exactly because the variables are discrete.

    Each distinct row of x is one symbol, likewise for y (1-D input: each distinct value).
    :math:`\hat I = \hat H_{MM}(X) + \hat H_{MM}(Y) - \hat H_{MM}(X, Y)` with
    :math:`\hat H_{MM} = -\sum \hat p \log \hat p + (K - 1)/(2n)`, K the number of observed symbols (Miller
    1955).

    What it measures. The MI of the discrete joint law of the rows, treating every distinct row as a symbol
    and equal rows as the same outcome. That is I(X;Y) itself when X and Y *are* discrete (class labels,
    cluster codes, quantised features, embeddings of a finite item set with each item seen many times) with
    few symbols relative to n. The plug-in is biased up by about :math:`(K_x - 1)(K_y - 1)/(2n)` for
    independent variables; the correction removes that to first order, leaving a residual of order
    :math:`K^2/n^2` and the sampling error, in either direction. It is meaningless for continuous data and
    for rows re-sampled from a continuous population (most rows their own symbol: the value approaches
    :math:`\log n`); there use :func:`row_repeats` to tell the cases apart, and an estimator that counts
    copies once (:func:`nonlinear_mutual_information` or
    :func:`~infossl.estimators.clusters.cluster_mutual_information`).

    Parameters
    ----------
    x, y : array-like (n,) or (n, d), or torch.Tensor
        Paired rows, n >= 2.
    details : bool, default False
        Return a :class:`NonlinearResult` with an interval instead of the value.
    random_state : None, int or numpy Generator, default 0
        The subsamples of the interval (the value does not depend on it).

    Returns
    -------
    float, or NonlinearResult
        The value in nats. With ``details``: ``mode="discrete"``; ``interval`` is the plug-in's spread and
        n-drift over two disjoint halves and four quarters of the rows
        (:func:`~infossl.estimators.reliability.subsample_interval`; halves only below 400 rows, and
        ``(nan, nan)`` below 40 rows, too few to split) -- a stability band of the sampling error, blind to
        a bias every subsample shares; ``info`` holds the symbol counts ``symbols_x``, ``symbols_y``,
        ``symbols_joint``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 2, 20000); b = np.where(rng.random(20000) < 0.9, a, 1 - a)
    >>> truth = np.log(2) + 0.9 * np.log(0.9) + 0.1 * np.log(0.1)         # binary symmetric channel
    >>> bool(abs(discrete_mutual_information(a, b) - truth) < 0.01)
    True
    """
    start = time.perf_counter()
    tx, ty, _ = check_pair(x, y, min_samples=2)
    cx, cy = row_codes(tx), row_codes(ty)
    value = discrete_mi(cx, cy)
    if not details:
        return value
    rng = check_random_state(random_state)
    joint = np.unique(cx * (int(cy.max()) + 1) + cy).size
    res = NonlinearResult(value=value, interval=_discrete_interval(value, cx, cy, rng), mode="discrete",
                          reading="plug-in (Miller-Madow)", n_rows=cx.size, n_distinct_pairs=joint,
                          device="cpu")
    res.info = dict(symbols_x=int(cx.max()) + 1, symbols_y=int(cy.max()) + 1, symbols_joint=joint)
    if cx.size < 40:
        res.notes.append(f"{cx.size} rows: too few for the subsample interval")
    res.seconds = time.perf_counter() - start
    return res


def row_repeats(x: ArrayLike, y: ArrayLike) -> dict[str, Any]:
    """How the rows of x and y repeat exactly, and which reading that calls for.

    Parameters
    ----------
    x, y : array-like (n,) or (n, d), or torch.Tensor
        Paired rows, n >= 2.

    Returns
    -------
    dict
        ``n_rows``; ``distinct_x``, ``distinct_y``, ``distinct_pairs`` (numbers of distinct rows and pairs);
        ``regime``: ``"none"`` (no row repeats), ``"discrete"`` (both sides have at most n /
        :data:`DISCRETE_MIN_REPEATS` distinct rows: symbols, read by :func:`discrete_mutual_information`),
        ``"copies"`` (whole pairs repeat: copies of one draw, read with each distinct pair once, as
        :func:`nonlinear_mutual_information` and
        :func:`~infossl.estimators.clusters.cluster_mutual_information` do), or ``"one-side"`` (pairs are
        distinct but a side repeats: atoms of a discrete-continuous mixture, where a kNN reading with strict
        counts stays defined; Gao et al. 2017).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0).repeat(3)[:, None]; y = x ** 2
    >>> row_repeats(x, y)["regime"]
    'copies'
    """
    tx, ty, _ = check_pair(x, y, min_samples=2)
    cx, cy = row_codes(tx), row_codes(ty)
    n = cx.size
    kx, ky = int(cx.max()) + 1, int(cy.max()) + 1
    pairs = np.unique(cx * ky + cy).size
    if kx <= n / DISCRETE_MIN_REPEATS and ky <= n / DISCRETE_MIN_REPEATS:
        regime = "discrete"
    elif pairs < n:
        regime = "copies"
    elif kx < n or ky < n:
        regime = "one-side"
    else:
        regime = "none"
    return dict(n_rows=n, distinct_x=kx, distinct_y=ky, distinct_pairs=pairs, regime=regime)


class _Encoder(nn.Module):
    """MLP: (n, p) -> (n, m), SiLU hidden layers; with ``clip``, the outputs are standardised (batch
    statistics in training, running ones after) and soft-clipped to (-clip, clip)."""

    def __init__(self, p: int, hidden: int, depth: int, m: int, clip: float = 0.0):
        super().__init__()
        self.clip = clip
        self.norm = nn.BatchNorm1d(m, affine=False) if clip else nn.Identity()
        self.net = silu_mlp(p, hidden, depth, m)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        if not self.clip:
            return out
        # A correlation objective on unbounded outputs is won by sending a few rows far out together: on a
        # helix the stopping rows' Gaussian MI read 2.2 while their rank-based one read 0.5.
        return self.clip * torch.tanh(self.norm(out) / self.clip)


def _gaussian_mi_of(a: torch.Tensor, b: torch.Tensor, ridge: float = _RIDGE) -> torch.Tensor:
    """Gaussian MI of the rows (a, b), (n, m) each: -1/2 [logdet C - logdet C_a - logdet C_b] on the
    correlation matrices, each with ``ridge`` on the diagonal (keeps the objective finite when two latents
    become collinear). Differentiable."""
    z = torch.cat([a, b], dim=1)
    z = (z - z.mean(0)) / z.std(0).clamp_min(1e-8)  # (n, 2m)
    c = z.T @ z / (z.shape[0] - 1)
    c = c + ridge * torch.eye(c.shape[0], dtype=c.dtype, device=c.device)
    m = a.shape[1]
    return 0.5 * (torch.linalg.slogdet(c[:m, :m])[1] + torch.linalg.slogdet(c[m:, m:])[1]
                  - torch.linalg.slogdet(c)[1])


def _cca(a: torch.Tensor, b: torch.Tensor, ridge: float = 1e-6
         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Linear CCA of (a, b), (n, m) each: means, whitening-then-rotation maps (m, m) for each side, and the
    canonical correlations (largest first)."""
    ma, mb = a.mean(0), b.mean(0)
    ac, bc = a - ma, b - mb
    n = a.shape[0]

    def inv_sqrt(c: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(c.shape[0], dtype=c.dtype, device=c.device)
        w, v = torch.linalg.eigh(c + ridge * eye * c.trace())
        return v @ torch.diag(w.clamp_min(1e-12).rsqrt()) @ v.T

    wa, wb = inv_sqrt(ac.T @ ac / (n - 1)), inv_sqrt(bc.T @ bc / (n - 1))
    u, s, vh = torch.linalg.svd(wa @ (ac.T @ bc / (n - 1)) @ wb)
    return ma, mb, wa @ u, wb @ vh.T, s


def nonlinear_mutual_information(x: ArrayLike, y: ArrayLike, *, latent_dim: Optional[int] = None,
                                 hidden: int = 128, depth: int = 2, pca_dim: int = 32,
                                 reading: str = "corrected-ksg", train_fraction: float = 0.7,
                                 stop_fraction: float = 0.2, max_epochs: int = 300, patience: int = 25,
                                 batch_size: int = 512, lr: float = 2e-3, weight_decay: float = 0.01,
                                 latent_scores: bool = True, clip: float = 2.0, k: int = 3,
                                 duplicates: str = "auto",
                                 random_state: Union[None, int, np.random.Generator] = 0,
                                 device: Union[None, str, torch.device] = None, details: bool = False):
    r"""MI of held-out nonlinear (neural) encodings of x and y, in nats: an estimate of a data-processing
    lower bound of I(X; Y).

    See the module doc for the objective, the protocol, what the value is and the duplicate policy.

    Parameters
    ----------
    x, y : array-like (n, dx), (n, dy) or torch.Tensor, n >= 200
    latent_dim : int, default 10
        m, the most latent directions per side; those whose held-out (stopping-row) canonical correlation is
        below :math:`3/\sqrt{n_{stop}}` are dropped before the reading. 10 covers the 9 class contrasts of a
        10-class problem and latents of up to 10 dimensions.
    hidden, depth : int, default 128, 2
        Width and number of hidden layers of each encoder.
    pca_dim : int, default 32
        Leading principal components of each side fed to its encoder (fitted on the fit rows). Fewer inputs
        overfit less: on the saturating 4 -> 512 family (n = 10^4, truth 2.04, unclipped encoders) 16, 32, 64
        and 128 components read 1.94, 1.92, 1.81 and 1.66.
    reading : {"corrected-ksg", "ksg", "gaussian"}
        Estimator applied to the held-out latents.
    train_fraction : float in (0, 1), default 0.7
        Rows used to fit (the rest are the held-out rows the value is read on). On the 4 -> 512 family at
        n = 5000 (truth 2.04), 0.5 read 1.75 and 0.7 read 1.88: the encoders gain more from rows than the
        reading loses.
    stop_fraction : float in (0, 1), default 0.2
        Part of the fit rows kept aside to stop the training and select the latent directions.
    max_epochs, patience : int
        Training stops after ``patience`` epochs without a better stopping-row Gaussian MI.
    batch_size : int, default 512
    lr : float, default 2e-3
        AdamW learning rate.
    weight_decay : float, default 0.01
        AdamW's decoupled weight decay.
    latent_scores : bool, default True
        Map each latent through the normal quantile of its fit-row empirical CDF before the CCA and the
        reading (module doc).
    clip : float, default 2.0
        Soft clip of the standardised encoder outputs, :math:`c \tanh(z / c)`; 0 leaves them unbounded.
    k : int, default 3
        KSG neighbours of the reading.
    duplicates : {"auto", "copies", "discrete"}
        Policy for repeated rows (module doc): ``"copies"`` counts each distinct pair once, ``"discrete"``
        gives the plug-in MI of the row identities, ``"auto"`` picks ``"discrete"`` when both sides have at
        most n / :data:`DISCRETE_MIN_REPEATS` distinct rows, else ``"copies"``.
    random_state : None, int or numpy Generator, default 0
        Split, initialisation, batches and the reading's subsamples: equal seeds give equal results on the
        same device (the global numpy and torch generators are not used).
    device : str or torch.device, optional
        Where the encoders train; default: CUDA when available, else the CPU.
    details : bool, default False
        Return a :class:`NonlinearResult` instead of the value.

    Returns
    -------
    float (numpy input) or 0-d tensor (torch input), or :class:`NonlinearResult`

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> u = rng.standard_normal((4000, 1)); v = 0.8 * u + 0.6 * rng.standard_normal((4000, 1))
    >>> x = np.hstack([np.tanh(2 * u), np.tanh(2 * u) ** 3, np.sinh(u)])   # injective in u, no linear copy
    >>> y = np.hstack([np.arctan(3 * v), np.exp(v)])
    >>> mi = nonlinear_mutual_information(x, y, device="cpu")                        # truth -log(0.6) = 0.511
    >>> bool(abs(mi - 0.511) < 0.08)
    True
    """
    start = time.perf_counter()
    tx, ty, boundary = check_pair(x, y, min_samples=200)
    if latent_dim is not None:
        latent_dim = check_int(latent_dim, "latent_dim", low=1)
    hidden, depth = check_int(hidden, "hidden", low=1), check_int(depth, "depth", low=0)
    pca_dim = check_int(pca_dim, "pca_dim", low=1)
    reading = check_choice(reading, "reading", _READINGS)
    duplicates = check_choice(duplicates, "duplicates", _DUPLICATES)
    train_fraction = check_float(train_fraction, "train_fraction", low=0.0, high=1.0, low_open=True,
                                 high_open=True)
    stop_fraction = check_float(stop_fraction, "stop_fraction", low=0.0, high=1.0, low_open=True,
                                high_open=True)
    max_epochs, patience = check_int(max_epochs, "max_epochs", low=1), check_int(patience, "patience", low=1)
    batch_size, k = check_int(batch_size, "batch_size", low=8), check_int(k, "k", low=1)
    lr = check_float(lr, "lr", low=0.0, low_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
    clip = check_float(clip, "clip", low=0.0)
    if not isinstance(latent_scores, bool):
        raise ValueError(f"latent_scores must be True or False, got {latent_scores!r}")
    rng = check_random_state(random_state)
    dev = torch.device(device) if device is not None else \
        torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n_rows = tx.shape[0]
    with torch.no_grad():
        tx = tx.detach().to(torch.float64)
        ty = ty.detach().to(torch.float64)
        cx, cy = row_codes(tx), row_codes(ty)
        pair_codes = cx * (int(cy.max()) + 1) + cy
        distinct_pairs = np.unique(pair_codes, return_index=True)[1]
    n_distinct = distinct_pairs.size
    n_cut = n_rows / DISCRETE_MIN_REPEATS
    if duplicates == "discrete" or (duplicates == "auto" and cx.max() + 1 <= n_cut and cy.max() + 1 <= n_cut):
        value = discrete_mi(cx, cy)
        res = NonlinearResult(value=value, interval=_discrete_interval(value, cx, cy, rng), mode="discrete",
                              reading="plug-in (Miller-Madow)", n_rows=n_rows, n_distinct_pairs=n_distinct,
                              seconds=time.perf_counter() - start, device="cpu",
                              notes=[f"discrete: {cx.max() + 1} and {cy.max() + 1} distinct rows in "
                                     f"{n_rows}"])
        return res if details else boundary.finish(torch.as_tensor(value, dtype=torch.float64))
    notes = []
    if n_distinct < n_rows:
        keep = torch.from_numpy(np.sort(distinct_pairs)).to(tx.device)
        tx, ty = tx[keep], ty[keep]
        notes.append(f"{n_rows - n_distinct} repeated (x, y) rows counted once: estimated on the "
                     f"{n_distinct} distinct pairs")
    res = _latent_estimate(tx, ty, m=latent_dim, hidden=hidden, depth=depth, pca_dim=pca_dim, reading=reading,
                           train_fraction=train_fraction, stop_fraction=stop_fraction, max_epochs=max_epochs,
                           patience=patience, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                           latent_scores=latent_scores, clip=clip, k=k, rng=rng, dev=dev)
    res.n_rows, res.n_distinct_pairs, res.notes = n_rows, n_distinct, notes + res.notes
    res.seconds = time.perf_counter() - start
    return res if details else boundary.finish(torch.as_tensor(res.value, dtype=torch.float64))


def _discrete_interval(value: float, cx: np.ndarray, cy: np.ndarray, rng: np.random.Generator
                       ) -> tuple[float, float]:
    n = cx.size
    if n < 40:  # halves of under 20 rows tell nothing about the spread
        return (float("nan"), float("nan"))
    return heldout_interval(value, lambda idx: discrete_mi(cx[idx], cy[idx]), n, rng)[0]


def _train(f: nn.Module, g: nn.Module, opt: torch.optim.Optimizer, sx: torch.Tensor, sy: torch.Tensor,
           fit: torch.Tensor, stop: torch.Tensor, bs: int, max_epochs: int, patience: int,
           gen: torch.Generator, dev: torch.device) -> tuple[float, Any, int, int]:
    """Adam on minus the batch Gaussian MI of (f, g) over the fit rows; returns the best stopping-row
    Gaussian MI, the encoders' states at it, its epoch and the last epoch."""
    best, best_state, best_epoch, epoch = -math.inf, None, 0, 0
    for epoch in range(1, max_epochs + 1):
        f.train(), g.train()
        order_t = fit[torch.randperm(fit.numel(), generator=gen).to(dev)]
        for i in range(0, fit.numel() - bs + 1, bs):  # drop the short last batch: its logdet is noisier
            idx = order_t[i:i + bs]
            loss = -_gaussian_mi_of(f(sx[idx]), g(sy[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        f.eval(), g.eval()
        with torch.no_grad():
            score = float(_gaussian_mi_of(f(sx[stop]), g(sy[stop]), ridge=0.0))
        if math.isfinite(score) and score > best:
            best, best_epoch = score, epoch
            best_state = (copy.deepcopy(f.state_dict()), copy.deepcopy(g.state_dict()))
        elif epoch - best_epoch >= patience:
            break
    return best, best_state, best_epoch, epoch


def _latent_estimate(tx: torch.Tensor, ty: torch.Tensor, *, m: Optional[int], hidden: int, depth: int,
                     pca_dim: int, reading: str, train_fraction: float, stop_fraction: float, max_epochs: int,
                     patience: int, batch_size: int, lr: float, weight_decay: float, latent_scores: bool,
                     clip: float, k: int, rng: np.random.Generator,
                     dev: torch.device
                     ) -> NonlinearResult:
    from infossl.estimators.corrected import corrected_ksg_mutual_information
    from infossl.estimators.gaussian import gaussian_mutual_information
    from infossl.estimators.knn import ksg_mutual_information

    n = tx.shape[0]
    n_fit = int(round(n * train_fraction))
    n_stop = int(round(n_fit * stop_fraction))
    if min(n_fit - n_stop, n_stop, n - n_fit) < 50:
        raise ValueError(f"n={n} distinct rows with train_fraction={train_fraction}, "
                         f"stop_fraction={stop_fraction} "
                         f"give {n_fit - n_stop} fit, {n_stop} stopping and {n - n_fit} held-out rows; each "
                         "needs at least 50")
    t0 = time.perf_counter()
    timing: dict[str, float] = {}
    perm = rng.permutation(n)
    fit_all = torch.from_numpy(np.sort(perm[:n_fit]))
    held = np.sort(perm[n_fit:])
    with torch.no_grad():
        sx = whitened_scores(tx, fit_all.to(tx.device), min(pca_dim, tx.shape[1]), rng).to(dev, torch.float32)
        sy = whitened_scores(ty, fit_all.to(ty.device), min(pca_dim, ty.shape[1]), rng).to(dev, torch.float32)
    order = perm[:n_fit]  # a random order of the fit rows: the first n_stop of them stop the training
    stop = torch.from_numpy(order[:n_stop]).to(dev)
    fit = torch.from_numpy(order[n_stop:]).to(dev)
    timing["pca"] = time.perf_counter() - t0
    if m is None:
        seed = int(rng.integers(2**31))
        ids = [twonn_dimension(t[fit_all.to(t.device)], max_samples=ID_ROWS, random_state=seed).value
               for t in (tx, ty)]
        m = min(MAX_LATENT, latent_dimension_for(*ids, min(n_fit, ID_ROWS), random_state=seed))
    m = max(1, min(m, sx.shape[1], sy.shape[1]))
    timing["dimension"] = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    with torch.random.fork_rng(devices=[]):  # nn.Linear draws a default init from the global generator
        f, g = _Encoder(sx.shape[1], hidden, depth, m, clip), _Encoder(sy.shape[1], hidden, depth, m, clip)
    seeded_init(f, gen)
    seeded_init(g, gen)
    f, g = f.to(dev), g.to(dev)
    opt = torch.optim.AdamW([*f.parameters(), *g.parameters()], lr=lr, weight_decay=weight_decay)
    bs = min(batch_size, fit.numel())
    # One intra-op thread while the encoders train on the CPU: the products are small (batch x 128), threads
    # gain nothing, and on a loaded 2-core machine an epoch ran 70x slower with 2 (6.9 s against 0.10 s).
    with (one_intra_op_thread() if dev.type == "cpu" else contextlib.nullcontext()):
        best, best_state, best_epoch, epoch = _train(f, g, opt, sx, sy, fit, stop, bs, max_epochs, patience,
                                                     gen, dev)
    if best_state is not None:
        f.load_state_dict(best_state[0])
        g.load_state_dict(best_state[1])

    timing["train"] = time.perf_counter() - t0
    with torch.no_grad():
        fx, gy = f(sx).double().cpu(), g(sy).double().cpu()
    fit_c, stop_c = fit.cpu(), stop.cpu()
    if latent_scores:
        # An increasing map per latent (fixed by the fit rows) keeps I(f(X); g(Y)) and tames the few held-out
        # rows the encoders send far out: on a helix (n = 5000) they took the held-out Gaussian MI of the
        # latents to 0.06 against 2.22 on the stopping rows.
        fx, gy = fit_row_normal_scores(fx, fit_c), fit_row_normal_scores(gy, fit_c)
    ma, mb, rot_a, rot_b, _ = _cca(fx[fit_c], gy[fit_c])
    ca, cb = (fx - ma) @ rot_a, (gy - mb) @ rot_b  # (n, m): canonical variates, fit-row orientation
    rho_stop = [float(torch.corrcoef(torch.stack([ca[stop_c, j], cb[stop_c, j]]))[0, 1]) for j in range(m)]
    kept = [j for j in range(m) if rho_stop[j] > _NOISE_SIGMAS / math.sqrt(n_stop)]
    res = NonlinearResult(value=0.0, reading=reading, latent_dim=len(kept), epochs=epoch,
                          best_epoch=best_epoch,
                          n_fit=fit.numel(), n_stop=n_stop, n_heldout=held.size, device=str(dev),
                          canonical_stop=sorted(rho_stop, reverse=True))
    with torch.no_grad():
        res.gaussian_fit = float(_gaussian_mi_of(fx[fit_c], gy[fit_c], ridge=0.0))
        res.gaussian_stop = best
        res.gaussian_heldout = float(_gaussian_mi_of(fx[held], gy[held], ridge=0.0))
    if res.gaussian_heldout < 0.5 * res.gaussian_stop - 0.05:
        # The stopping rows are unseen by the gradient steps too: a held-out value far below theirs means the
        # encoders extrapolate badly on some held-out rows (measured on a helix at n = 5000: 0.06 against
        # 2.22 nats, and the reading fell to half the truth), so the value is not a reading of the fit.
        res.consistent = False
        res.notes.append(f"held-out Gaussian MI of the latents {res.gaussian_heldout:.3f} is far below the "
                         f"stopping rows' {res.gaussian_stop:.3f}: the encoders do not generalise to the "
                         "held-out rows; the value is likely too low")
    if not kept:
        res.interval = (0.0, 0.0)
        res.notes.append(f"no latent direction above the noise level {_NOISE_SIGMAS}/sqrt({n_stop}) on the "
                         "stopping rows: no dependence found, value 0")
        return res
    lx, ly = ca[:, kept], cb[:, kept]  # (n, m')

    def read(idx: np.ndarray) -> float:
        a, b = lx[idx], ly[idx]
        if reading == "corrected-ksg":
            return float(corrected_ksg_mutual_information(a, b, k=k, random_state=int(seed)))
        if reading == "ksg":
            return float(ksg_mutual_information(a, b, k=k))
        return float(gaussian_mutual_information(a, b))

    seed = rng.integers(2**31)
    res.value = read(held)
    timing["read"] = time.perf_counter() - t0
    res.interval = heldout_interval(res.value, lambda idx: read(held[idx]), held.size, rng)[0]
    timing["interval"] = time.perf_counter() - t0
    res.timing = timing
    return res
