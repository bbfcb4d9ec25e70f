"""The online monitors: the linear probe learns a separable toy from detached embeddings, and the weighted
k-NN classifier gives the accuracy known by construction."""

import numpy as np
import pytest
import torch

from infossl.integrations.online import KNNClassifier, OnlineLinearProbe


def blobs(n=600, d=8, classes=4, gap=4.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    return torch.randn(n, d, generator=g) + gap * torch.nn.functional.one_hot(y, d).float(), y


def test_probe_learns_a_separable_toy_without_touching_the_encoder():
    z, y = blobs()
    encoder = torch.nn.Linear(8, 8)
    out = encoder(z)  # requires grad: the probe must detach it
    probe = OnlineLinearProbe(8, 4, lr=0.05)
    before = probe.score(out, y)[0] / 600
    losses = [probe.train_step(out, y) for _ in range(100)]
    correct, seen = probe.score(out, y)
    assert seen == 600 and correct / seen > 0.95 > before + 0.3
    assert losses[-1] < losses[0]
    assert encoder.weight.grad is None
    with pytest.raises(ValueError, match="in \\[0, 4\\)"):
        probe.train_step(z, y + 4)
    with pytest.raises(ValueError, match="dim=8"):
        probe.score(z[:, :3], y)


def test_knn_accuracy_on_a_toy_with_known_answer():
    # bank: class c at angle 2 pi c / 6 on the circle; queries at the same angles plus 0.1 rad: all correct.
    # Relabel half the bank rows of class 0 as class 1 with k = 3: queries of class 0 see 2 votes of the
    # wrong class among the 3 nearest (known answer: wrong), the other classes stay right.
    angles = np.repeat(np.arange(6), 3) * 2 * np.pi / 6 + np.tile([-0.01, 0.0, 0.01], 6)
    bank = torch.tensor(np.c_[np.cos(angles), np.sin(angles)], dtype=torch.float32)
    labels = torch.tensor(np.repeat(np.arange(6), 3))
    q_angles = np.arange(6) * 2 * np.pi / 6 + 0.1
    queries = torch.tensor(np.c_[np.cos(q_angles), np.sin(q_angles)], dtype=torch.float32) * 7.0
    knn = KNNClassifier(k=3, temperature=0.07)
    knn.add(bank, labels)
    assert knn.predict(queries).tolist() == list(range(6))
    assert knn.score(queries, torch.arange(6)) == (6, 6)
    wrong = labels.clone()
    wrong[:2] = 1
    knn.clear()
    knn.add(bank, wrong)
    assert knn.predict(queries).tolist() == [1, 1, 2, 3, 4, 5]
    # temperature-weighted votes: with k = all 18 rows (3 per class) a small temperature lets the nearest
    # rows outweigh the rest of the bank
    near = KNNClassifier(k=18, temperature=0.01)
    near.add(bank, labels)
    assert near.predict(queries).tolist() == list(range(6))


def test_bank_keeps_the_newest_rows_and_refuses_bad_input():
    knn = KNNClassifier(k=1, bank_size=4)
    knn.add(torch.eye(3), torch.tensor([0, 1, 2]))
    knn.add(-torch.eye(3), torch.tensor([3, 4, 5]))
    assert knn.size == 4 and knn.bank_labels.tolist() == [2, 3, 4, 5]
    with pytest.raises(ValueError, match="columns"):
        knn.add(torch.ones(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="empty"):
        KNNClassifier().predict(torch.ones(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        knn.add(torch.full((1, 3), float("nan")), torch.tensor([0]))


def test_knn_votes_do_not_overflow_at_a_small_temperature():
    # one class-0 row at cosine 0.99 and three class-1 rows at 0.999, tau = 0.01: exp(s / tau) overflows
    # float32 for both classes; the weighted vote (3 e^{99.9} against e^{99}) must still say class 1
    q = torch.tensor([[1.0, 0.0]])
    rows = [[0.99, (1 - 0.99 ** 2) ** 0.5]] + [[0.999, -(1 - 0.999 ** 2) ** 0.5]] * 3
    knn = KNNClassifier(k=4, temperature=0.01)
    knn.add(torch.tensor(rows), torch.tensor([0, 1, 1, 1]))
    assert knn.predict(q).tolist() == [1]
