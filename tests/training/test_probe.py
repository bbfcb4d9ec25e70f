"""Linear probe and feature extraction."""

import numpy as np
import pytest
import torch
from torch import nn

from infossl.training.probe import embed, linear_probe


def test_probe_separable_and_chance(rng):
    x = np.r_[rng.normal(-4, 1, (60, 3)), rng.normal(4, 1, (60, 3))]
    y = np.r_[np.zeros(60), np.ones(60)].astype(int)
    acc = linear_probe(torch.as_tensor(x), torch.as_tensor(y), {"same": (x, y), "flipped": (x, 1 - y)})
    assert acc["train"] == 1.0 and acc["same"] == 1.0 and acc["flipped"] == 0.0


def test_probe_matches_sklearn_pipeline(rng):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = rng.normal(size=(200, 5))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int) + (x[:, 1] > 1)
    xe, ye = rng.normal(size=(80, 5)), rng.integers(0, 3, 80)
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500)).fit(x, y)
    assert linear_probe(x, y, {"e": (xe, ye)}, C=0.5, max_iter=500)["e"] == pytest.approx(ref.score(xe, ye))


def test_probe_constant_features_do_not_break(rng):
    x = np.c_[rng.normal(size=(50, 2)), np.ones(50)]
    y = (x[:, 0] > 0).astype(int)
    assert linear_probe(x, y, {"e": (x, y)})["e"] > 0.9


def test_probe_errors(rng):
    x = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"train_labels must have shape \(10,\), one entry per row; got 9"):
        linear_probe(x, np.zeros(9), {})
    with pytest.raises(ValueError, match="needs at least two classes"):
        linear_probe(x, np.zeros(10), {})
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="train_features contains NaN"):
        linear_probe(bad, np.arange(10) % 2, {})
    with pytest.raises(ValueError, match="C must be in"):
        linear_probe(x, np.arange(10) % 2, {}, C=0.0)
    with pytest.raises(ValueError, match="eval set 'e' contains NaN"):
        linear_probe(x, np.arange(10) % 2, {"e": (bad, np.arange(10) % 2)})


def test_embed_batches_and_restores_mode():
    m = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    m.train()
    x = torch.randn(37, 4)
    z = embed(m, x, batch_size=8)
    assert z.shape == (37, 3) and m.training and not z.requires_grad
    m.eval()
    torch.testing.assert_close(z, m(x).detach())
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        embed(m, x, batch_size=0)
