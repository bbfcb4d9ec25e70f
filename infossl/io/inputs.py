"""The inputs models run on: the embedded digits data set and user files of features or images.

* :func:`load_digits` -- scikit-learn's 8 x 8 digits (1 797 images, shipped with scikit-learn, no download),
  split deterministically into train and test;
* :func:`load_inputs` -- an (N, D) feature or (N, C, H, W) image array from any format :func:`load_array` reads
  (never unpickling code);
* :func:`load_data` -- what ``infossl diagnose`` runs checkpoints on: ``"digits"``, a path or an array.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from infossl.io.embeddings import load_array

#: The name of the embedded data set in :func:`load_data` (``"digits:train"`` / ``"digits:all"`` pick splits).
DIGITS = "digits"
TEST_EVERY = 4  # within each class, every 4th image (in file order) is a test image


def load_digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8 x 8 digits, split once and for all into a training and a test set.

    The split is a deterministic stratified rule that needs no random generator (so it cannot change
    with a library version): within each class, taking the images in the order of the file, every
    4th image (positions 3, 7, 11, ... counted from 0) is a test image. That gives 1352 training and
    445 test images (43 to 45 per class), every class split about 3:1.

    Parameters
    ----------
    split : {"train", "test", "all"}

    Returns
    -------
    x : torch.Tensor, float32, shape (N, 1, 8, 8)
        Pixel intensities divided by 16, so in [0, 1].
    y : torch.Tensor, int64, shape (N,)
        The digit, 0..9.

    Examples
    --------
    >>> x, y = load_digits("train")
    >>> tuple(x.shape), tuple(load_digits("test")[0].shape)
    ((1352, 1, 8, 8), (445, 1, 8, 8))
    >>> float(x.min()), float(x.max())
    (0.0, 1.0)
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}")
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / 16.0  # (1797, 8, 8)
    labels = np.asarray(bunch.target, dtype=np.int64)  # (1797,)
    if split == "all":
        keep = np.ones(len(labels), dtype=bool)
    else:
        is_test = np.zeros(len(labels), dtype=bool)
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            is_test[idx[TEST_EVERY - 1::TEST_EVERY]] = True
        keep = is_test if split == "test" else ~is_test
    x = torch.from_numpy(images[keep].copy()).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.from_numpy(labels[keep].copy())  # (N,)
    return x, y


def load_inputs(path: Union[str, os.PathLike], key: Optional[str] = None) -> torch.Tensor:
    """Read user training inputs: an (N, C, H, W) image array or an (N, D) feature array, as float32.

    Files are read without unpickling code by :func:`infossl.io.load_array` (.npy .npz .pt .pth
    .safetensors, and .csv .parquet for (N, D)). (N, H, W) arrays are read as one channel.

    Returns
    -------
    torch.Tensor
        The inputs as float32, (N, C, H, W) or (N, D).
    """
    p = Path(os.fspath(path))
    arr = load_array(p, key, max_ndim=8)  # the safe loaders; the shape is checked below
    arr = np.asarray(arr)
    if arr.ndim == 3:
        arr = arr[:, None]  # (N, 1, H, W)
    if arr.ndim == 1:
        raise ValueError(f"{p} holds a 1-D array of shape {arr.shape}; expected (N, D) or (N, C, H, W)")
    if arr.ndim not in (2, 4):
        raise ValueError(f"{p} holds an array of shape {arr.shape}; expected (N, D) or (N, C, H, W)")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{p} holds an array of dtype {arr.dtype}; expected real numbers")
    x = torch.as_tensor(np.array(arr, dtype=np.float32))  # a private copy, never the memory map
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{p} contains {bad} NaN or infinite values; remove or impute them before training")
    if x.shape[0] < 4:
        raise ValueError(f"{p} has {x.shape[0]} samples; training needs at least 4")
    return x


def load_data(
    data: Any = DIGITS, *, key: Optional[str] = None
) -> tuple[torch.Tensor, Optional[np.ndarray], str]:
    """The inputs to run the models on: ``(x, labels or None, description)``.

    ``"digits"`` is the held-out split of :func:`load_digits` (445 images of 8 x 8,
    with labels; ``"digits:train"`` / ``"digits:all"`` pick the other splits); a path is read with
    :func:`load_inputs` ((N, D) features or (N, C, H, W) images, no unpickling); an
    array or tensor is used as it is.

    Returns
    -------
    tuple
        ``(x, labels or None, description)``: a float32 tensor, an int array, a string.
    """
    if isinstance(data, str) and (data == DIGITS or data.startswith(DIGITS + ":")):
        split = data.partition(":")[2] or "test"
        x, y = load_digits(split)
        return x, y.numpy(), f"digits ({split} split, {len(x)} images)"
    if isinstance(data, (str, os.PathLike)):
        x = load_inputs(data, key)
        return x, None, f"{os.fspath(data)} ({len(x)} inputs of shape {tuple(x.shape[1:])})"
    if isinstance(data, (np.ndarray, torch.Tensor)):
        x = torch.as_tensor(data)
        if not x.is_floating_point():
            x = x.float()
        if x.ndim < 1 or len(x) < 2:
            raise ValueError(f"data must hold at least 2 inputs, got shape {tuple(x.shape)}")
        return x, None, f"array of shape {tuple(x.shape)}"
    raise TypeError(f"data must be 'digits', a path or an array, got {type(data).__name__}")


__all__ = ["DIGITS", "TEST_EVERY", "load_data", "load_digits", "load_inputs"]
