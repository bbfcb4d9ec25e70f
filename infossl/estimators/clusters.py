r"""Mutual information of class-clustered representations: learned discrete codes of each side, read by a
held-out plug-in.

Setting. Many real representation pairs carry their shared information through a discrete variable: X is an
image (or its embedding) of class A, Y one of class B, and X - A - B - Y is a Markov chain in which the
class is a function of the image; then :math:`I(X;Y) = I(A;B)` (the label-channel construction of Lee &
Rhee 2024 [3]). Continuous estimators struggle there: kNN readings see clusters of nearly tied points, the
Gaussian and latent readings see a mixture. A discrete reading of learned class codes fits the structure.

Codes. Each side gets a small network with a softmax over K states, :math:`c(x) \in \Delta^K`,
:math:`d(y) \in \Delta^K` (one shared network when ``shared`` and both sides live in the same space). On the
*training* rows they maximise the plug-in mutual information of the soft joint assignment
:math:`P = \frac1B \sum_i c(x_i) d(y_i)^\top` (symmetrised when the network is shared),
:math:`\sum_{ab} P_{ab} \log \frac{P_{ab}}{P_{a\cdot} P_{\cdot b}}` -- the invariant information clustering
objective of Ji, Henriques & Vedaldi (ICCV 2019) [1], there with augmented views of one image, here with the
two paired variables; Dubois et al. (DISSL, 2022) [2] study the same objective for self-supervised
representations. It cannot exceed log K and it rewards balanced codes that predict each other.

Inputs. Each side's leading principal components on the fitting rows, all divided by one scale (not
whitened: cluster structure lives in the large components, and whitening lifts the small, noisy ones to the
same weight); optionally each column's normal scores first (``ranks``: invariance to increasing maps of a
coordinate, at a cost on images).

Selection on *validation* rows. Training stops early, and K (from ``n_clusters``; also shared vs separate
networks when both are possible) is chosen, by the predictive information of the hard codes on the
validation rows, :math:`\frac1{n_v}\sum_{i} \log \hat q(b_i \mid a_i) / \hat q(b_i)` with :math:`\hat q` the
code table of the training rows (add-1/2 smoothed). Unlike an in-sample plug-in it is not inflated by large
K: codes that only fit the training rows score low there. With ``refit`` (default) the chosen K is then
fitted again on the training and validation rows together for the chosen number of epochs: the codes'
class information still grows with the rows they are fitted on (see ``learning_curve``).

Reading on *held-out* rows. The value is the plug-in MI of the hard codes :math:`(\arg\max c(x_i),
\arg\max d(y_i))` on rows used for no fit and no choice, with the Miller-Madow correction
(:func:`~infossl.estimators.nonlinear.discrete_mutual_information`). With ``folds=2`` (cross-fitting) the
codes fitted on one half read the other and the other way round, and the value is the mean of the two.

What the number is. For codes c, d fixed independently of the held-out rows, the data-processing inequality
gives :math:`I(c(X); d(Y)) \le I(X; Y)`: that *target* is a lower bound, equal to I(A;B) in the label-channel
setting when the codes recover the classes (or refine them). The returned value is an **estimate** of the
target by the Miller-Madow plug-in, which at finite n errs in either direction (the plug-in is biased up by
about :math:`(K_a - 1)(K_b - 1) / (2n)` for independent codes; Miller-Madow removes that to first order and
leaves a residual of order :math:`K^2/n^2` plus the sampling error): the value itself is **not** a bound.
How far the target falls below I(A;B) is set by the codes' accuracy, on both sides at once: for a 10-class
symmetric channel and codes that are right with probability p on each side (errors spread evenly over the
other classes), the codes see a symmetric channel whose agreement factor is that of the labels times
:math:`(1 - \frac{10}{9}(1 - p))^2`; at I(A;B) = log 10 that gives 1.40 nats for p = 0.90, 1.77 for
0.95, 2.05 for 0.98 and 2.16 for 0.99 -- so a reading within 10 % of log 10 needs codes about 98 % right on
each side.

The interval is the reading's sampling spread and n-drift over two halves and four quarters of the
held-out rows, the codes fixed (:func:`~infossl.estimators.reliability.subsample_interval`). With
``learning_curve`` (default) its upper end is raised by the gain that a gap shrinking as 1/(fitting rows)
still has to make: the chosen K is refitted on half the rows and read on the same held-out rows, and
:math:`v + (v - v_h)\,h/(m - h)` (Richardson's step from h to m fitting rows) is the extrapolated value. That
covers codes that are still improving with n, under two assumptions that were not measured: that the gap
shrinks as 1/m, and that the two fits are the same procedure (the half-row codes stop early on the
validation rows, the full ones are refitted for the epochs validation chose). It does not cover codes that
miss a class for good, or information not carried by a discrete variable at all (for a continuous latent
the value is roughly the information of a K-state quantisation, below the truth).

Repeated rows. Pairs (x_i, y_i) repeated exactly are treated as copies of one draw (an embedding dump that
visits an item several times, rows re-sampled with replacement) and counted once before the split, so no
copy of a held-out pair is trained on; the value estimates the MI of the population the distinct pairs came
from. Data whose rows are *symbols* (few distinct rows, each repeated often) need no codes:
:func:`~infossl.estimators.nonlinear.discrete_mutual_information`.

References
----------
.. [1] Ji, X., Henriques, J. F. and Vedaldi, A. "Invariant information clustering for unsupervised image
   classification and segmentation", ICCV 2019, arXiv:1807.06653.
.. [2] Dubois, Y., Hashimoto, T., Ermon, S. and Liang, P. "Improving self-supervised learning by
   characterizing idealized representations", NeurIPS 2022, arXiv:2209.06235.
.. [3] Lee, K. and Rhee, W. "A benchmark suite for evaluating neural mutual information estimators on
   unstructured datasets", NeurIPS 2024 Datasets and Benchmarks, arXiv:2410.10924.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from infossl._backend import ArrayLike, one_intra_op_thread
from infossl._progress import progress_bar, progress_enabled
from infossl._validation import check_choice, check_float, check_int, check_pair, check_random_state
from infossl.estimators.reliability import subsample_interval
from infossl.estimators._heldout import (discrete_mi, fit_row_normal_scores, heldout_interval, row_codes,
                                         seeded_init, silu_mlp)
from infossl.estimators.nonlinear import NonlinearResult

__all__ = ["cluster_mutual_information"]

_EPS = 1e-10          # floor of the soft table's cells inside the logarithm
_MIN_SPLIT_ROWS = 50  # training, validation and held-out rows each need at least this many


class _Coder(nn.Module):
    """MLP with SiLU hidden layers and a K-way output (logits): (n, p) -> (n, K)."""

    def __init__(self, p: int, hidden: int, depth: int, k: int):
        super().__init__()
        self.net = silu_mlp(p, hidden, depth, k)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def _soft_mi(pa: torch.Tensor, pb: torch.Tensor, symmetric: bool) -> torch.Tensor:
    """Plug-in MI of the soft joint table (1/B) pa^T pb, (B, K) each: the IIC objective. Differentiable."""
    joint = pa.T @ pb / pa.shape[0]  # (K, K)
    if symmetric:
        joint = 0.5 * (joint + joint.T)
    joint = joint.clamp_min(_EPS)
    ma, mb = joint.sum(1, keepdim=True), joint.sum(0, keepdim=True)
    return (joint * (joint.log() - ma.log() - mb.log())).sum()


def _predictive_information(train_a: np.ndarray, train_b: np.ndarray, a: np.ndarray, b: np.ndarray, k: int
                            ) -> float:
    """Mean of log q(b | a) / q(b) over the rows (a, b), q the training rows' code table with 1/2 added to
    each cell (nats)."""
    table = np.full((k, k), 0.5)
    np.add.at(table, (train_a, train_b), 1.0)
    cond = table / table.sum(1, keepdims=True)
    marg = table.sum(0) / table.sum()
    return float(np.mean(np.log(cond[a, b]) - np.log(marg[b])))


def _kmeans(s: torch.Tensor, k: int, gen: torch.Generator, iters: int = 30, restarts: int = 5
            ) -> torch.Tensor:
    """Lloyd's k-means of the rows of s (m, p), the best (least within-cluster sum of squares) of
    ``restarts`` k-means++ starts drawn with ``gen``: labels (m,)."""
    m = s.shape[0]
    best, best_labels = math.inf, None
    for _ in range(restarts):
        centres = s[int(torch.randint(m, (1,), generator=gen))][None]  # (1, p)
        d2 = torch.cdist(s, centres).square().min(1).values  # (m,)
        for _ in range(1, k):  # k-means++ (Arthur & Vassilvitskii 2007): far points more likely
            weights = (d2 / d2.sum()).cpu() if float(d2.sum()) > 0 else torch.full((m,), 1.0 / m)
            pick = int(torch.multinomial(weights, 1, generator=gen))
            centres = torch.cat([centres, s[pick][None]])
            d2 = torch.minimum(d2, (s - s[pick]).square().sum(1))
        for _ in range(iters):
            labels = torch.cdist(s, centres).argmin(1)
            counts = torch.bincount(labels, minlength=k).to(s.dtype)  # (k,)
            sums = torch.zeros_like(centres).index_add_(0, labels, s)
            filled = counts > 0  # an empty cluster keeps its centre
            centres[filled] = sums[filled] / counts[filled, None]
        dist = torch.cdist(s, centres).square()
        inertia = float(dist.min(1).values.sum())
        if inertia < best:
            best, best_labels = inertia, dist.argmin(1)
    return best_labels


def _warm_start(net: nn.Module, s: torch.Tensor, labels: torch.Tensor, steps: int, lr: float,
                gen: torch.Generator) -> None:
    """``steps`` Adam steps of cross-entropy towards the k-means labels of the rows s (batches of 256): the
    IIC objective then starts from a partition that uses every state (from a random start it often merges
    states for good)."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    bs, done = min(256, s.shape[0]), 0
    while done < steps:
        order = torch.randperm(s.shape[0], generator=gen).to(s.device)
        for i in range(0, s.shape[0] - bs + 1, bs):
            if done == steps:
                break
            done += 1
            idx = order[i:i + bs]
            loss = nn.functional.cross_entropy(net(s[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def _principal_scores(t: torch.Tensor, fit: torch.Tensor, dim: int, whiten: bool) -> torch.Tensor:
    """All rows of t (n, d) on the fitting rows' ``dim`` leading principal directions (centred on the fitting
    rows): (n, min(dim, d)). Whitened: each component divided by its standard deviation; otherwise all by
    one scale (the root mean variance of the kept components), which keeps the Euclidean geometry of the
    leading subspace -- cluster structure lives in the large components, and whitening lifts the small,
    noisy ones to the same weight."""
    rows = t[fit]
    mu = rows.mean(0, keepdim=True)
    if t.shape[1] <= 4096:
        cov = (rows - mu).T @ (rows - mu) / max(rows.shape[0] - 1, 1)
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        evals, evecs = evals.flip(0)[:dim], evecs.flip(1)[:, :dim]
    else:  # a d x d matrix would not fit: the leading directions of the centred fitting rows
        # the randomised range finder draws from torch's global generator: a fixed seed on a forked state
        # keeps the result a function of the data (and random_state) alone and leaves the caller's stream
        with torch.random.fork_rng(devices=[t.device] if t.device.type == "cuda" else []):
            torch.manual_seed(0)
            _, sing, v = torch.svd_lowrank(rows - mu, q=min(dim + 10, *rows.shape), niter=4)
        evals, evecs = (sing[:dim] ** 2 / max(rows.shape[0] - 1, 1)), v[:, :dim]
    scores = (t - mu) @ evecs
    floor = evals.max().clamp_min(1e-300) * 1e-12
    evals = evals.clamp_min(floor)
    return scores / evals.sqrt() if whiten else scores / evals.mean().sqrt()


def _codes(net: nn.Module, s: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return net(s).argmax(1).cpu().numpy().astype(np.int64)


def _epoch(f: nn.Module, g: nn.Module, sx: torch.Tensor, sy: torch.Tensor, train: torch.Tensor, opt, bs: int,
           shared: bool, gen: torch.Generator) -> None:
    """One pass of the IIC objective over the training rows in shuffled batches of bs."""
    f.train(), g.train()
    order = train[torch.randperm(train.numel(), generator=gen).to(train.device)]
    for i in range(0, train.numel() - bs + 1, bs):  # drop the short last batch: its table is noisier
        idx = order[i:i + bs]
        loss = -_soft_mi(f(sx[idx]).softmax(1), g(sy[idx]).softmax(1), shared)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _fit_codes(sx: torch.Tensor, sy: torch.Tensor, train: torch.Tensor, val: Optional[np.ndarray], *, k: int,
               shared: bool, hidden: int, depth: int, max_epochs: int, patience: int, batch_size: int,
               lr: float, weight_decay: float, warm_steps: int, gen: torch.Generator, dev: torch.device,
               bar) -> tuple[float, nn.Module, nn.Module, int, int]:
    """Train the coders on the training rows (IIC objective), keeping the state with the best validation
    predictive information; returns that score, the coders (f, g: the same module when shared), the best
    and the last epoch. Without validation rows (``val=None``): exactly ``max_epochs`` epochs, the last state
    kept, the score NaN."""
    with torch.random.fork_rng(devices=[]):  # nn.Linear draws a default init from the global generator
        f = _Coder(sx.shape[1], hidden, depth, k)
        g = f if shared else _Coder(sy.shape[1], hidden, depth, k)
    seeded_init(f, gen)
    if not shared:
        seeded_init(g, gen)
    f, g = f.to(dev), g.to(dev)
    if warm_steps:
        if shared:
            pooled = torch.cat([sx[train], sy[train]])
            _warm_start(f, pooled, _kmeans(pooled, k, gen), warm_steps, lr, gen)
        else:
            for net, side in ((f, sx), (g, sy)):
                _warm_start(net, side[train], _kmeans(side[train], k, gen), warm_steps, lr, gen)
    params = list(f.parameters()) + ([] if shared else list(g.parameters()))
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    bs = min(batch_size, train.numel())
    train_np = train.cpu().numpy()

    def score() -> float:
        f.eval(), g.eval()
        ca, cb = _codes(f, sx), _codes(g, sy)
        return _predictive_information(ca[train_np], cb[train_np], ca[val], cb[val], k)

    if val is None:
        for _ in range(max_epochs):
            _epoch(f, g, sx, sy, train, opt, bs, shared, gen)
            bar.update(1)
        return float("nan"), f, g, max_epochs, max_epochs
    best, best_epoch, epoch = score(), 0, 0  # epoch 0: the warm start (or the random initialisation)
    best_state = (copy.deepcopy(f.state_dict()), copy.deepcopy(g.state_dict()))
    for epoch in range(1, max_epochs + 1):
        _epoch(f, g, sx, sy, train, opt, bs, shared, gen)
        current = score()
        bar.update(1)
        if current > best:
            best, best_epoch = current, epoch
            best_state = (copy.deepcopy(f.state_dict()), copy.deepcopy(g.state_dict()))
        elif epoch - best_epoch >= patience:
            break
    bar.update(max_epochs - epoch)
    f.load_state_dict(best_state[0])
    if not shared:
        g.load_state_dict(best_state[1])
    return best, f, g, best_epoch, epoch


def _inputs(tx: torch.Tensor, ty: torch.Tensor, fit_rows: np.ndarray, options: list, ranks: bool,
            pca_dim: int, whiten: bool, dev: torch.device) -> dict:
    """The coders' inputs of every row, transforms fitted on ``fit_rows`` only: {shared: (sx, sy)}."""
    inputs = {}
    with torch.no_grad():
        fit_t = torch.from_numpy(fit_rows).to(tx.device)
        if ranks:
            tx, ty = fit_row_normal_scores(tx, fit_t), fit_row_normal_scores(ty, fit_t)
        if False in options:
            inputs[False] = tuple(_principal_scores(t, fit_t, pca_dim, whiten).to(dev, torch.float32)
                                  for t in (tx, ty))
        if True in options:  # one coordinate system for both sides: components of the pooled fitting rows
            n = tx.shape[0]
            both = _principal_scores(torch.cat([tx, ty]), torch.cat([fit_t, fit_t + n]), pca_dim,
                                     whiten).to(dev, torch.float32)
            inputs[True] = (both[:n], both[n:])
    return inputs


def _fit_fold(inputs: dict, train: np.ndarray, val: np.ndarray, candidates: list, settings: dict, bar
              ) -> dict:
    """Every candidate (K, shared) fitted on ``train``, the best by the validation score kept: its codes of
    every row, the choice, the scores and the epochs."""
    train_t = torch.from_numpy(train).to(settings["dev"])
    scores, fits = {}, {}
    for k, s in candidates:
        sx, sy = inputs[s]
        score, f, g, best_epoch, epoch = _fit_codes(sx, sy, train_t, val, k=k, shared=s, bar=bar, **settings)
        scores[(k, s)] = score
        fits[(k, s)] = (f, g, best_epoch, epoch)
    choice = max(candidates, key=lambda c: scores[c])
    f, g, best_epoch, epoch = fits[choice]
    sx, sy = inputs[choice[1]]
    return dict(codes=(_codes(f, sx), _codes(g, sy)), choice=choice, scores=scores, best_epoch=best_epoch,
                epoch=epoch)


def _crossfit_interval(value: float, readings: list) -> tuple[float, float]:
    """The interval of the mean of the folds' readings: each fold's subsample standard error, combined as for
    a mean of two independent readings, and never below half the folds' difference (which also holds the
    difference between the two fits' codes); the drifts averaged."""
    spreads = [r["spread"] for r in readings]
    if not all(math.isfinite(sp["se"]) for sp in spreads):
        return float("nan"), float("nan")
    se = math.sqrt(sum(sp["se"] ** 2 for sp in spreads)) / len(spreads)
    values = [r["value"] for r in readings]
    se = max(se, (max(values) - min(values)) / 2.0)
    drift = float(np.mean([sp["drift"] for sp in spreads]))
    dof = 4 if all(len(sp["quarters"]) == 4 for sp in spreads) else 1
    return subsample_interval(value, se, drift, dof)


def cluster_mutual_information(x: ArrayLike, y: ArrayLike, *,
                               n_clusters: Union[int, Sequence[int]] = (10, 20, 40),
                               shared: Optional[bool] = None, hidden: int = 128, depth: int = 2,
                               pca_dim: int = 32, ranks: bool = False, whiten: bool = False,
                               folds: int = 1, refit: bool = True, learning_curve: bool = True,
                               train_fraction: float = 0.6,
                               validation_fraction: float = 0.25, max_epochs: int = 200, patience: int = 20,
                               batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-3,
                               warm_steps: int = 300,
                               random_state: Union[None, int, np.random.Generator] = 0,
                               device: Union[None, str, torch.device] = None,
                               progress: Optional[bool] = None, details: bool = False):
    r"""MI of learned discrete codes of x and y, read on held-out rows, in nats: an estimate of the
    data-processing lower bound :math:`I(c(X); d(Y)) \le I(X;Y)`.

    Made for class-clustered representations (X, Y embeddings of items of classes A and B: the value
    estimates I(A;B) when the codes recover the classes). See the module doc for the objective, the
    selection, what the value is, and the repeated-row policy.

    Parameters
    ----------
    x, y : array-like (n, dx), (n, dy) or torch.Tensor, n >= 200
    n_clusters : int or sequence of int, default (10, 20, 40)
        Candidate numbers of code states K (each >= 2); the one with the best validation predictive
        information is used. More states can only help the target (a refinement keeps the information) but
        cost plug-in variance on the held-out rows. On the development label-channel digits (raw pixels and
        a random MLP of them, n = 2000) K = 20 was chosen at every nonzero truth and K = 10 at truth 0.
    shared : bool, optional
        One network for both sides (the IIC setting: x and y are the same kind of object, e.g. images of
        two classes). Default: both options are fitted when x and y have the same number of columns and the
        better on the validation rows is used; otherwise separate networks.
    hidden, depth : int, default 128, 2
        Width and number of hidden layers of each coder.
    pca_dim : int, default 32
        Leading principal components of each side fed to its coder (fitted on the fitting rows; a shared
        coder gets the components of both sides' fitting rows pooled).
    ranks : bool, default False
        Replace each column by the normal quantile of its empirical CDF on the fitting rows before the
        components: the codes, and so the value, are then unchanged by increasing maps of any coordinate.
        Off by default: on the label-channel digits (raw pixels, n = 2000, truth log 10) ranks read 1.90
        against 2.10 without (one seed): the pixels' many ties and the equal weight of every column blur
        the class geometry that the components keep.
    whiten : bool, default False
        Divide each component by its own standard deviation; by default all share one scale (the root mean
        variance of the kept components), which keeps the Euclidean geometry of the leading subspace. On
        the label-channel digits (raw pixels, truth log 10) whitened ranks read 1.77, unwhitened 1.90, and
        k-means on whitened components keeps less of the class (in-sample I(class; code) 1.99 against
        2.08 at K = 40).
    folds : {1, 2}, default 1
        1: one split (``train_fraction`` of the rows fit and choose, the rest are read). 2: cross-fitting:
        the codes fitted on one half read the other half and the other way round; the value is the mean of
        the two readings, so every distinct row is read once, by codes that never saw it, at the price of
        twice the fits on fewer rows each.
    refit : bool, default True
        Fit the chosen K once more on the training and validation rows together, for the number of epochs
        the validation rows chose, and read those codes (one more fit per fold).
    learning_curve : bool, default True
        Also refit the chosen K on half as many rows and read it on the same held-out rows
        (``info["value_half_train"]``); the interval's upper end is raised by the extrapolated gain
        (``info["learning_gain"]``, ``info["value_extrapolated"]``, see the module doc) and ``notes`` says
        so. One more fit per fold.
    train_fraction : float in (0, 1), default 0.6
        Rows used to fit and choose (``folds=1``); the rest are the held-out rows the value is read on.
    validation_fraction : float in (0, 1), default 0.25
        Part of the fitting rows kept aside for early stopping and the choice of K and ``shared``.
    max_epochs, patience : int, default 200, 20
        Training stops after ``patience`` epochs without a better validation score.
    batch_size : int, default 256
        Rows per step of the soft table.
    lr, weight_decay : float, default 1e-3, 1e-3
        AdamW step size and decoupled weight decay.
    warm_steps : int, default 300
        Steps of cross-entropy towards a k-means partition (K clusters of the training rows' components)
        before the IIC objective; that start is scored on the validation rows like every epoch (epoch 0).
        0 starts from the random initialisation, where the objective often keeps fewer than K states for
        good.
    random_state : None, int or numpy Generator, default 0
        Split, initialisation, batches and the interval's subsamples: equal seeds give equal results on the
        same device (the global numpy and torch generators are neither used nor advanced).
    device : str or torch.device, optional
        Where the coders train; default: x's device (a CUDA tensor trains on its GPU).
    progress : bool, optional
        Draw a progress bar over the training epochs (default: automatic, see :mod:`infossl._progress`).
    details : bool, default False
        Return a :class:`~infossl.estimators.nonlinear.NonlinearResult` instead of the value.

    Returns
    -------
    float (numpy input), 0-d tensor (torch input), or NonlinearResult
        The held-out Miller-Madow plug-in MI of the codes. With ``details``: ``mode="clusters"``,
        ``latent_dim`` = the chosen K (the larger of the folds' with ``folds=2``; each fold's K and
        sharing in ``info["choices"]``, ``shared`` and the code states from fold 1), ``interval`` (the
        reading's spread over subsamples of the held-out
        rows, the upper end raised by the learning gain, see the module doc), ``consistent`` (False when
        the held-out value is below half the training rows' plug-in minus 0.05 nats: the codes do not carry
        over), and ``info`` with the per-candidate validation scores, the
        training / validation / held-out plug-in values, ``shared`` and the occupied code states, per fold
        the value (``fold_values``), the choice (K, shared) and the interval, the held-out rows (indices of
        the distinct pairs) with their codes (``heldout_rows``, ``codes_x``, ``codes_y``), and with
        ``learning_curve`` the reading of codes fitted on half the training rows (``value_half_train``).
        With ``folds=2`` the interval combines both folds' subsample spreads and is never narrower than
        the two readings' difference, which carries the difference between two fits of the codes.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 4, 3000); b = np.where(rng.random(3000) < 0.8, a, rng.integers(0, 4, 3000))
    >>> centres = 4 * rng.standard_normal((4, 8))
    >>> x = centres[a] + rng.standard_normal((3000, 8)); y = centres[b] + rng.standard_normal((3000, 8))
    >>> truth = 0.85 * np.log(0.85 / 0.25) + 0.15 * np.log(0.05 / 0.25)           # I(A;B) = 0.799
    >>> mi = cluster_mutual_information(x, y, n_clusters=4, max_epochs=60)
    >>> bool(abs(mi - truth) < 0.1)
    True
    """
    start = time.perf_counter()
    tx, ty, boundary = check_pair(x, y, min_samples=200)
    ks = [n_clusters] if isinstance(n_clusters, (int, np.integer)) else list(n_clusters)
    if not ks:
        raise ValueError("n_clusters must name at least one number of code states, got an empty sequence")
    ks = sorted({check_int(k, "n_clusters", low=2) for k in ks})
    if not isinstance(ranks, bool):
        raise ValueError(f"ranks must be True or False, got {ranks!r}")
    if shared is not None and not isinstance(shared, bool):
        raise ValueError(f"shared must be True, False or None, got {shared!r}")
    if shared and tx.shape[1] != ty.shape[1]:
        raise ValueError(f"shared=True needs x and y with the same number of columns, got {tx.shape[1]} and "
                         f"{ty.shape[1]}")
    hidden, depth = check_int(hidden, "hidden", low=1), check_int(depth, "depth", low=0)
    pca_dim = check_int(pca_dim, "pca_dim", low=1)
    train_fraction = check_float(train_fraction, "train_fraction", low=0.0, high=1.0, low_open=True,
                                 high_open=True)
    validation_fraction = check_float(validation_fraction, "validation_fraction", low=0.0, high=1.0,
                                      low_open=True, high_open=True)
    max_epochs, patience = check_int(max_epochs, "max_epochs", low=1), check_int(patience, "patience", low=1)
    batch_size = check_int(batch_size, "batch_size", low=8)
    lr = check_float(lr, "lr", low=0.0, low_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
    warm_steps = check_int(warm_steps, "warm_steps", low=0)
    folds = check_int(folds, "folds", low=1, high=2)
    if not isinstance(refit, bool):
        raise ValueError(f"refit must be True or False, got {refit!r}")
    if not isinstance(learning_curve, bool):
        raise ValueError(f"learning_curve must be True or False, got {learning_curve!r}")
    if not isinstance(whiten, bool):
        raise ValueError(f"whiten must be True or False, got {whiten!r}")
    rng = check_random_state(random_state)
    dev = torch.device(device) if device is not None else tx.device
    n_rows = tx.shape[0]
    with torch.no_grad():
        tx, ty = tx.detach().to(torch.float64), ty.detach().to(torch.float64)
        cx, cy = row_codes(tx), row_codes(ty)
        first = np.sort(np.unique(cx * (int(cy.max()) + 1) + cy, return_index=True)[1])
    notes = []
    if first.size < n_rows:
        keep = torch.from_numpy(first).to(tx.device)
        tx, ty = tx[keep], ty[keep]
        notes.append(f"{n_rows - first.size} repeated (x, y) rows counted once: estimated on the "
                     f"{first.size} distinct pairs")
    n = tx.shape[0]
    perm = rng.permutation(n)
    if folds == 1:
        n_fit = int(round(n * train_fraction))
        splits = [(np.sort(perm[:n_fit]), np.sort(perm[n_fit:]))]
    else:  # cross-fitting: each half is read by the codes fitted on the other half
        splits = [(np.sort(perm[1 - j::2]), np.sort(perm[j::2])) for j in range(2)]
    for fit_rows, held in splits:
        n_val = int(round(fit_rows.size * validation_fraction))
        if min(fit_rows.size - n_val, n_val, held.size) < _MIN_SPLIT_ROWS:
            raise ValueError(f"n={n} distinct rows with folds={folds}, train_fraction={train_fraction}, "
                             f"validation_fraction={validation_fraction} give {fit_rows.size - n_val} "
                             f"training, {n_val} validation and {held.size} held-out rows; each needs at "
                             f"least {_MIN_SPLIT_ROWS}")
    options = [shared] if shared is not None else ([False, True] if tx.shape[1] == ty.shape[1] else [False])
    candidates = [(k, s) for s in options for k in ks]
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    settings = dict(hidden=hidden, depth=depth, max_epochs=max_epochs, patience=patience,
                    batch_size=batch_size, lr=lr, weight_decay=weight_decay, warm_steps=warm_steps, gen=gen,
                    dev=dev)
    n_fits = len(splits) * (len(candidates) + int(refit) + int(learning_curve))
    bar_on = progress_enabled(progress, work=n_fits * max_epochs * n, min_work=2e6)
    readings = []
    with progress_bar(bar_on, total=n_fits * max_epochs, desc="cluster MI", unit="epoch") as bar, \
            (one_intra_op_thread() if dev.type == "cpu" else contextlib.nullcontext()):
        # one thread on the CPU: the steps are small (batch x 128) and threads only wait on a busy machine
        for fit_rows, held in splits:
            # the validation rows: a random part of the fitting rows (a permutation of them, then the first)
            order = fit_rows[rng.permutation(fit_rows.size)]
            n_val = int(round(fit_rows.size * validation_fraction))
            val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
            inputs = _inputs(tx, ty, fit_rows, options, ranks, pca_dim, whiten, dev)
            fold = _fit_fold(inputs, train, val, candidates, settings, bar)
            fitted = train
            if refit:  # the chosen K and sharing again, on the training and validation rows together, for
                # the epochs the validation rows chose: more rows make better codes (see learning_curve)
                k, s = fold["choice"]
                fitted = np.sort(np.concatenate([train, val]))
                _, f, g, _, _ = _fit_codes(*inputs[s], torch.from_numpy(fitted).to(dev), None, k=k, shared=s,
                                           bar=bar, **dict(settings, max_epochs=fold["best_epoch"]))
                bar.update(max_epochs - fold["best_epoch"])
                fold["codes"] = (_codes(f, inputs[s][0]), _codes(g, inputs[s][1]))
            ca, cb = fold["codes"]
            fold.update(rows_fitted=fitted.size, held=held, train=train, val=val,
                        value=discrete_mi(ca[held], cb[held]), mi_train=discrete_mi(ca[train], cb[train]),
                        mi_validation=discrete_mi(ca[val], cb[val]))
            fold["interval"], fold["spread"] = heldout_interval(
                fold["value"], lambda idx, ca=ca, cb=cb, held=held: discrete_mi(ca[held[idx]], cb[held[idx]]),
                held.size, rng)
            if learning_curve:  # the chosen K and sharing refitted on half the training rows, read on the
                # same held-out rows: a value still growing with the training rows is short of its target
                half = np.sort(train[rng.permutation(train.size)[:fitted.size // 2]])
                sub = _fit_fold(inputs, half, val, [fold["choice"]], settings, bar)
                ha, hb = sub["codes"]
                fold["value_half_train"] = discrete_mi(ha[held], hb[held])
                fold["rows_half"], fold["rows_full"] = half.size, fitted.size
            readings.append(fold)
    value = float(np.mean([r["value"] for r in readings]))
    if folds == 1:
        interval = readings[0]["interval"]
    else:
        interval = _crossfit_interval(value, readings)
    first = readings[0]
    k = max((r["choice"][0] for r in readings))  # each fold's own K and sharing: info["choices"]
    res = NonlinearResult(value=value, interval=interval, mode="clusters", reading="plug-in (Miller-Madow)",
                          latent_dim=k, epochs=first["epoch"], best_epoch=first["best_epoch"], n_rows=n_rows,
                          n_distinct_pairs=n, n_fit=int(sum(r["train"].size for r in readings)),
                          n_stop=int(sum(r["val"].size for r in readings)),
                          n_heldout=int(sum(r["held"].size for r in readings)), device=str(dev), notes=notes)
    mi_train = float(np.mean([r["mi_train"] for r in readings]))
    if value < 0.5 * mi_train - 0.05:
        res.consistent = False
        res.notes.append(f"held-out plug-in MI of the codes {value:.3f} is far below the training rows' "
                         f"{mi_train:.3f}: the codes do not carry over to new rows; the value is likely too "
                         "low")
    res.info = dict(
        folds=folds, shared=first["choice"][1], mi_train=mi_train, refit=refit,
        choices=[{"K": int(r["choice"][0]), "shared": bool(r["choice"][1])} for r in readings],
        rows_codes_fitted=[int(r["rows_fitted"]) for r in readings],
        mi_validation=float(np.mean([r["mi_validation"] for r in readings])),
        validation_scores={f"K={kk}{' shared' if ss else ''}": v for (kk, ss), v in first["scores"].items()},
        states_x=int(np.unique(first["codes"][0][first["held"]]).size),
        states_y=int(np.unique(first["codes"][1][first["held"]]).size),
        fold_values=[r["value"] for r in readings], fold_choices=[r["choice"] for r in readings],
        fold_intervals=[r["interval"] for r in readings],
        heldout_rows=[r["held"] for r in readings],
        codes_x=[r["codes"][0][r["held"]] for r in readings],
        codes_y=[r["codes"][1][r["held"]] for r in readings])
    if learning_curve:
        half_value = float(np.mean([r["value_half_train"] for r in readings]))
        # Richardson's step for a gap shrinking as 1/m in the training rows m: from v(m) = v_inf - c / m at
        # m = h and m = M, v_inf = v(M) + (v(M) - v(h)) h / (M - h)
        h_rows, m_rows = first["rows_half"], first["rows_full"]
        gain = (value - half_value) * h_rows / (m_rows - h_rows)
        res.info.update(value_half_train=half_value, learning_gain=gain, rows_half_train=h_rows,
                        value_extrapolated=value + max(gain, 0.0))
        if gain > 0 and math.isfinite(res.interval[1]):
            res.interval = (res.interval[0], res.interval[1] + gain)
            res.notes.append(f"the codes' reading grew by {value - half_value:.3f} from {h_rows} to "
                             f"{m_rows} fitting rows: the codes are still improving with n; the interval's "
                             f"upper end is raised by {gain:.3f}, to the value extrapolated in n for a gap "
                             f"shrinking as 1/n ({value + gain:.3f})")
    res.seconds = time.perf_counter() - start
    return res if details else boundary.finish(torch.as_tensor(value, dtype=torch.float64))
