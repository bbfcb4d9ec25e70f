"""Shared pieces of the training experiments in analysis/ (seed2_entropy_swap, seed2_trained_regime,
seed3_dimension_coarseness): two-view batches, one training run through the public API, the probe, and
confidence intervals. Everything goes through ``infossl.training`` (``TrainConfig`` for the objective and its
``infossl train`` defaults, ``build_model``, ``fit``, ``embed``, ``linear_probe``).
"""

from __future__ import annotations

import inspect
import math
import os
import platform
import time
from typing import Optional

import numpy as np
import torch
from scipy import stats


def machine_line() -> str:
    """Processor, cpu count, torch version and load average, for the record."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}, "
            f"cuda {torch.cuda.is_available()}, load average {tuple(round(v, 2) for v in load)}")


class PairBatches:
    """Two independently augmented views of each shuffled mini-batch; a ``len``-aware iterable for ``fit``.

    ``augment`` is an :class:`~infossl.training.Augmentation` applied to images (N, C, H, W); ``flatten``
    hands the views to an MLP as (B, C*H*W); ``flip`` adds random horizontal flips (CIFAR-10), which the
    library's augmentation does not have. ``label_views`` (an int64 label tensor) makes the second view another
    image of the same label instead of the same image (the "label augmentation" of Dubois et al.'s code, so
    the equivalence classes are the labels).
    """

    def __init__(self, x: torch.Tensor, augment, generator: torch.Generator, batch_size: int, *,
                 flatten: bool = False, flip: bool = False, label_views: Optional[torch.Tensor] = None,
                 device: Optional[torch.device] = None):
        self.x, self.augment, self.g, self.bs = x, augment, generator, int(batch_size)
        self.flatten, self.flip, self.labels, self.device = flatten, flip, label_views, device
        if label_views is not None:
            self.by_label = [torch.nonzero(label_views == c).flatten() for c in torch.unique(label_views)]
            self.label_pos = {int(c): i for i, c in enumerate(torch.unique(label_views))}

    def __len__(self) -> int:
        return max(1, self.x.shape[0] // self.bs)

    def _view(self, b: torch.Tensor) -> torch.Tensor:
        v = self.augment(b, self.g)
        if self.flip:
            mask = torch.rand(v.shape[0], generator=self.g) < 0.5  # (B,)
            v = torch.where(mask[:, None, None, None], v.flip(-1), v)
        return v.flatten(1) if self.flatten else v

    def __iter__(self):
        perm = torch.randperm(self.x.shape[0], generator=self.g)
        for i in range(len(self)):
            idx = perm[i * self.bs:(i + 1) * self.bs]
            other = idx
            if self.labels is not None:
                other = torch.empty_like(idx)
                for j, k in enumerate(idx.tolist()):
                    pool = self.by_label[self.label_pos[int(self.labels[k])]]
                    other[j] = pool[int(torch.randint(len(pool), (1,), generator=self.g))]
            yield self._view(self.x[idx]), self._view(self.x[other])


def train_encoder(objective: str, x_train: torch.Tensor, *, entropy: str = "logdet", options: Optional[dict] = None,
                  backbone: str = "mlp", widths: str = "256-128", projector: str = "256-256", epochs: int = 20,
                  batch_size: int = 256, lr: float = 2e-3, weight_decay: float = 1e-4, augment=None, seed: int = 0,
                  device: str = "cpu", flip: bool = False, label_views: Optional[torch.Tensor] = None,
                  on_epoch=None):
    """One self-supervised run; returns ``(model, history, seconds)``.

    The objective and its options are resolved exactly as ``infossl train`` does (``TrainConfig`` defaults,
    e.g. info-vicreg alpha = 2), the model is ``build_model`` of the config's spec (an MLP on flattened images
    when ``backbone="mlp"``), the loop is ``fit`` with AdamW and the cosine schedule. ``epochs=0`` returns the
    initialised, untrained network (the random-init control: the same weights the trained runs start from).
    ``on_epoch(record, model)`` runs after every epoch (``record``: the epoch's loss terms, as ``fit`` gives).
    """
    import warnings

    from infossl.training import Augmentation, FitConfig, TrainConfig, build_model, fit, make_objective

    from infossl.objectives import OBJECTIVES

    # ``entropy`` is passed only to objectives whose loss takes one: a TrainConfig may refuse a setting that
    # does not apply to its objective, and callers name one entropy for every method of a comparison.
    takes = "entropy" in inspect.signature(OBJECTIVES[objective].__init__).parameters
    extra = {"entropy": entropy} if takes else {}
    cfg = TrainConfig(objective=objective, **extra, options=dict(options or {}), epochs=max(1, epochs),
                      batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed, backbone=backbone,
                      widths=widths, projector=projector, device=device)
    flatten = backbone == "mlp"
    shape = [int(np.prod(x_train.shape[1:]))] if flatten else list(x_train.shape[1:])
    model = build_model(cfg.model_spec(shape), generator=torch.Generator().manual_seed(2 * seed))
    if epochs == 0:
        return model, [], 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. DISSL's lambda warning, degenerate-input warnings of estimators
        loss = make_objective(cfg)
    g = torch.Generator().manual_seed(2 * seed + 1)
    data = PairBatches(x_train, augment if augment is not None else Augmentation(), g, batch_size,
                       flatten=flatten, flip=flip, label_views=label_views)
    dev = torch.device(device)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = FitConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, device=dev, seed=2 * seed + 1)
        model = model.to(dev)
        hook = None if on_epoch is None else (lambda record, state: bool(on_epoch(record, model)))
        history = fit(model, data, loss, plan, callback=hook)
    return model, history, time.perf_counter() - t0


def features(model, x: torch.Tensor, *, flatten: bool) -> np.ndarray:
    """Frozen backbone features (N, d) as float64 numpy."""
    from infossl.training import embed

    return embed(model.backbone, x.flatten(1) if flatten else x).double().numpy()


def probe_scores(model, x_train, y_train, x_test, y_test, *, flatten: bool, augment=None, flip: bool = False,
                 probe_seed: int = 12345) -> dict:
    """Logistic-regression probe on clean training features; accuracy on clean and once-augmented test images.

    The augmented test set uses a fixed generator (``probe_seed``), the same for every run.
    """
    from infossl.training import Augmentation, linear_probe

    aug = augment if augment is not None else Augmentation()
    g = torch.Generator().manual_seed(probe_seed)
    xa = aug(x_test, g)
    if flip:
        mask = torch.rand(xa.shape[0], generator=g) < 0.5
        xa = torch.where(mask[:, None, None, None], xa.flip(-1), xa)
    ftr = features(model, x_train, flatten=flatten)
    res = linear_probe(ftr, y_train.numpy(), {"clean": (features(model, x_test, flatten=flatten), y_test.numpy()),
                                              "augmented": (features(model, xa, flatten=flatten), y_test.numpy())})
    return {"probe_clean": res["clean"], "probe_augmented": res["augmented"]}


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the Student-t confidence interval (half-width) over seeds; (mean, lo, hi). NaN for n < 2."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    h = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return m, m - h, m + h


def paired_cis(sub, ref, metrics) -> list[dict]:
    """Per metric, the mean and t-interval over seeds of metric(setting) - metric(reference) on the seeds
    both ran (``sub`` and ``ref`` indexed by seed): dicts with metric, mean, ci_lo, ci_hi, n_seeds."""
    common = sub.index.intersection(ref.index)
    out = []
    for metric in metrics:
        mean, lo, hi = mean_ci(sub.loc[common, metric] - ref.loc[common, metric])
        out.append({"metric": metric, "mean": mean, "ci_lo": lo, "ci_hi": hi, "n_seeds": len(common)})
    return out


def stratified_split(y: np.ndarray, every: int = 5) -> np.ndarray:
    """Boolean test mask: within each class, every ``every``-th item in file order (no random generator)."""
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[idx[every - 1::every]] = True
    return test
