"""infossl.training.data: held-out splits, seeded batching and user training data with labels."""

import numpy as np
import pytest
import torch

from infossl.training.data import batch_indices, holdout_split, prepare_data


def test_holdout_split_and_batches():
    tr, ho = holdout_split(50, fraction=0.2, seed=3)
    assert len(ho) == 10 and len(tr) == 40
    assert sorted(torch.cat([tr, ho]).tolist()) == list(range(50))
    tr2, ho2 = holdout_split(50, fraction=0.2, seed=3)
    assert torch.equal(ho, ho2) and torch.equal(tr, tr2)
    with pytest.raises(ValueError, match="cannot hold out"):
        holdout_split(3, fraction=0.5)
    g = torch.Generator().manual_seed(0)
    batches = list(batch_indices(10, 4, g))
    assert [len(b) for b in batches] == [4, 4]  # the incomplete last batch is dropped
    assert len(set(torch.cat(batches).tolist())) == 8
    assert [len(b) for b in batch_indices(3, 8, g)] == [3]
    assert [len(b) for b in batch_indices(10, 4, g, drop_last=False)] == [4, 4, 2]


def test_prepare_user_data_with_labels(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 5))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(40) % 3)
    d = prepare_data(str(tmp_path / "x.npy"), labels=str(tmp_path / "y.npy"), heldout_fraction=0.25)
    assert d.x_train.shape == (30, 5) and d.eval_x.shape == (10, 5) and d.eval_aug_x.shape == (10, 5)
    assert d.probe_y.dtype == torch.int64 and d.input_shape == [5]
    np.save(tmp_path / "y_short.npy", np.arange(39))
    with pytest.raises(ValueError, match=r"labels must have shape \(40,\), one entry per row; got 39"):
        prepare_data(str(tmp_path / "x.npy"), labels=str(tmp_path / "y_short.npy"))
    np.save(tmp_path / "y_float.npy", np.linspace(0, 1, 40))
    with pytest.raises(TypeError, match="labels has non-integer values"):
        prepare_data(str(tmp_path / "x.npy"), labels=str(tmp_path / "y_float.npy"))
