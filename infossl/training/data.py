"""Training data: scikit-learn's digits with a fixed split, user arrays, and seeded mini-batches.

The default data set is scikit-learn's copy of the UCI optical-recognition digits (1797 grey images of
8 x 8 pixels with values 0..16, ten classes); it ships with scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch

from infossl._validation import check_labels
from infossl.io import load_array
from infossl.io.inputs import load_digits, load_inputs
from infossl.training.augment import Augmentation


def holdout_split(n: int, *, fraction: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of a seeded (train, held-out) split of ``range(n)``; the held-out part has >= 2 rows.

    Returns
    -------
    tuple of torch.Tensor
        (train indices, held-out indices), each sorted.
    """
    n_held = max(2, int(round(fraction * n)))
    if n - n_held < 2:
        raise ValueError(f"cannot hold out {n_held} of {n} samples and still train")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))  # (n,)
    return perm[n_held:].sort().values, perm[:n_held].sort().values


def batch_indices(n: int, batch_size: int, generator: torch.Generator, *, drop_last: bool = True
                  ) -> Iterator[torch.Tensor]:
    """One epoch of shuffled mini-batch indices drawn from ``generator`` (a CPU torch.Generator).

    With ``drop_last`` the incomplete last batch is dropped (batch statistics of the SSL losses are
    noisy on a few rows); when ``n < batch_size`` a single batch of all ``n`` rows is yielded.

    Yields
    ------
    torch.Tensor
        The (batch,) index tensor of each batch.
    """
    perm = torch.randperm(n, generator=generator)  # (n,)
    if n <= batch_size:
        yield perm
        return
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield perm[start:start + batch_size]


EVAL_AUGMENT_SEED = 20240  # the fixed draw of the augmented test set (the same for every run)


class TrainData:
    """Everything a run reads: training inputs, the probe's training set, and the held-out sets.

    Attributes
    ----------
    x_train : (N, ...) float32, the self-supervised training inputs
    probe_x, probe_y : the probe's training inputs and labels (None without labels)
    eval_x, eval_y : held-out inputs (monitored embeddings) and labels (or None)
    eval_aug_x : ``eval_x`` augmented once with :data:`EVAL_AUGMENT_SEED`
    eval_view_a, eval_view_b : two more fixed augmentations of ``eval_x`` (view-MI monitor)
    name : "digits" or the file name
    """

    def __init__(self, name: str, x_train: torch.Tensor, probe_x: torch.Tensor,
                 probe_y: Optional[torch.Tensor], eval_x: torch.Tensor, eval_y: Optional[torch.Tensor],
                 augment) -> None:
        self.name = name
        self.x_train, self.probe_x, self.probe_y = x_train, probe_x, probe_y
        self.eval_x, self.eval_y = eval_x, eval_y
        g = torch.Generator().manual_seed(EVAL_AUGMENT_SEED)
        std = x_train.std(dim=0) if x_train.ndim == 2 else None  # (D,)
        self.eval_aug_x = augment(eval_x, g, std)
        self.eval_view_a = augment(eval_x, g, std)
        self.eval_view_b = augment(eval_x, g, std)

    @property
    def input_shape(self) -> list[int]:
        return list(self.x_train.shape[1:])


def prepare_data(data: Optional[str], *, key: Optional[str] = None, labels: Optional[str] = None,
                 augment=None, heldout_fraction: float = 0.1, seed: int = 0) -> TrainData:
    """Load the digits (``data=None``) or a user file and set up the probe and held-out sets.

    Digits: training split for training and the probe, test split for the monitors; the augmented test
    set uses the default :class:`~infossl.training.augment.Augmentation` whatever the run's augmentation,
    so that every run is scored on the same images. User data: a seeded ``heldout_fraction`` of the rows
    is held out (the run's own augmentation makes the augmented held-out set); ``labels`` (a file with
    N integers) enables the probe.

    Returns
    -------
    TrainData
    """
    if data is None:
        x, y = load_digits("train")
        xt, yt = load_digits("test")
        return TrainData("digits", x, x, y, xt, yt, Augmentation())
    x = load_inputs(data, key)
    y = None
    if labels is not None:
        y = torch.as_tensor(check_labels(np.asarray(load_array(labels)).ravel(), x.shape[0]))
    tr, ho = holdout_split(x.shape[0], fraction=heldout_fraction, seed=seed)
    return TrainData(Path(data).name, x[tr], x[tr], None if y is None else y[tr], x[ho],
                     None if y is None else y[ho], augment if augment is not None else Augmentation())
