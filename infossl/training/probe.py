"""Linear probe: multinomial logistic regression (scikit-learn) on frozen features.

The probe standardises the training features (mean 0, variance 1 per feature, statistics of the
training features only), fits ``LogisticRegression(C=C, max_iter=max_iter)`` (L-BFGS, multinomial
loss, L2 penalty) and reports the accuracy on each evaluation set. It is deterministic: L-BFGS on a
strictly convex problem does not use a random state. BLAS runs on one thread during the fit.
"""

from __future__ import annotations

import warnings
from typing import Mapping, Optional, Union

import numpy as np
import torch
from torch import nn

from infossl._validation import check_labels
from infossl._validation import check_float, check_int

Array = Union[np.ndarray, torch.Tensor]


def _numpy(a: Array, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        a = a.reshape(len(a), -1)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite features; the encoder has diverged")
    return a


@torch.no_grad()
def embed(module: nn.Module, x: torch.Tensor, *, batch_size: int = 512,
          device: Optional[torch.device] = None) -> torch.Tensor:
    """``module(x)`` in eval mode, in batches, without gradients; returns a float32 CPU tensor (N, k).

    The module's train/eval mode is restored afterwards.

    Returns
    -------
    tensor
        (N, k) float32 on the CPU.
    """
    check_int(batch_size, "batch_size", low=1)
    if device is None:
        p = next(module.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    was_training = module.training
    module.eval()
    try:
        parts = [module(x[i:i + batch_size].to(device)).float().flatten(1).cpu()
                 for i in range(0, x.shape[0], batch_size)]
    finally:
        module.train(was_training)
    return torch.cat(parts)  # (N, k)


def linear_probe(train_features: Array, train_labels: Array, eval_sets: Mapping[str, tuple[Array, Array]], *,
                 C: float = 1.0, max_iter: int = 1000) -> dict[str, float]:
    """Fit a logistic-regression probe on ``train_features`` and return its accuracy on each eval set.

    Parameters
    ----------
    train_features : array (n, k)
    train_labels : array (n,) of ints
    eval_sets : mapping name -> (features (m, k), labels (m,))
    C : float, default 1.0
        Inverse L2 strength of scikit-learn's ``LogisticRegression``.
    max_iter : int, default 1000

    Returns
    -------
    dict
        ``{"train": accuracy on the training features, name: accuracy, ...}``, fractions in [0, 1].

    Examples
    --------
    Two well-separated classes are classified perfectly.

    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.normal(-3, 1, (50, 2)), rng.normal(3, 1, (50, 2))]
    >>> y = np.r_[np.zeros(50), np.ones(50)].astype(int)
    >>> linear_probe(x, y, {"same": (x, y)})["same"]
    1.0
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    check_float(C, "C", low=0.0, low_open=True)
    check_int(max_iter, "max_iter", low=1)
    xtr = _numpy(train_features, "train_features")
    ytr = check_labels(train_labels, len(xtr), name="train_labels")
    if len(np.unique(ytr)) < 2:
        raise ValueError("the linear probe needs at least two classes in train_labels")
    mean = xtr.mean(axis=0)
    std = xtr.std(axis=0)
    std[std < 1e-12] = 1.0  # constant features stay constant (0) instead of dividing by 0
    from threadpoolctl import threadpool_limits

    clf = LogisticRegression(C=C, max_iter=max_iter)
    # One BLAS thread: on these small problems threading only adds synchronisation (25x slower measured
    # on a busy 2-core machine).
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit((xtr - mean) / std, ytr)
    out = {"train": float(clf.score((xtr - mean) / std, ytr))}
    for name, (xe, ye) in eval_sets.items():
        xe = _numpy(xe, f"eval set {name!r}")
        ye = check_labels(ye, len(xe), name=f"the labels of eval set {name!r}")
        out[name] = float(clf.score((xe - mean) / std, ye))
    return out
