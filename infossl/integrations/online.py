r"""Online evaluation monitors, torch only: a linear probe trained on detached embeddings during training, and
a weighted k-NN classifier over a bank of training embeddings.

* :class:`OnlineLinearProbe`: a linear layer with its own Adam optimiser, one step per training batch on
  ``z.detach()`` (the encoder gets no gradient from it), scored on validation batches. The online probes of
  solo-learn and stable-pretraining work the same way; the number tracks the offline linear probe's
  accuracy without a separate fit.
* :class:`KNNClassifier`: cosine similarity to the bank, the k most similar rows vote with weights
  :math:`e^{s/\tau}` (Wu et al. 2018, sec. 3.4: k = 200, :math:`\tau` = 0.07 there; k = 20 is solo-learn's
  default), the class with the largest summed weight wins.

Both are ``nn.Module``\ s (``.to(device)``, ``state_dict``) and return ``(correct, seen)`` counts from
``score`` so that sums over batches and ranks give the accuracy; :mod:`infossl.integrations.torchmetrics`
wraps them as ``torchmetrics.Metric``\ s.

References
----------
.. [1] Z. Wu, Y. Xiong, S. X. Yu and D. Lin, "Unsupervised feature learning via non-parametric instance
   discrimination", CVPR 2018, arXiv:1805.01978 (the weighted k-NN classifier, sec. 3.4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from infossl._validation import check_float, check_int, check_labels

__all__ = ["KNNClassifier", "OnlineLinearProbe"]


def _embeddings(z: Any, name: str, device: torch.device) -> torch.Tensor:
    t = z.detach() if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z))
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D batch (rows, dim); got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} holds NaN or infinite values; the encoder has diverged")
    return t.to(device)


def _targets(y: Any, m: int, device: torch.device) -> torch.Tensor:
    labels = check_labels(y.detach().cpu() if isinstance(y, torch.Tensor) else y, m)
    return torch.from_numpy(labels).long().to(device)


class OnlineLinearProbe(nn.Module):
    """A linear classifier on detached embeddings with its own Adam optimiser.

    Parameters
    ----------
    dim : int
        Embedding width.
    num_classes : int
        Labels must be integers in ``[0, num_classes)``.
    lr : float, default 1e-3
    weight_decay : float, default 1e-6

    Notes
    -----
    Move the probe with ``.to(device)`` before its first :meth:`train_step` (Adam's moments are created on
    the parameters' device at the first step).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.arange(400) % 2
    >>> z = torch.randn(400, 4, generator=g) + 4.0 * y[:, None]
    >>> probe = OnlineLinearProbe(4, 2, lr=0.05)
    >>> for _ in range(50):
    ...     _ = probe.train_step(z, y)
    >>> correct, seen = probe.score(z, y)
    >>> correct / seen > 0.95
    True
    """

    def __init__(self, dim: int, num_classes: int, *, lr: float = 1e-3, weight_decay: float = 1e-6) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", low=1)
        self.num_classes = check_int(num_classes, "num_classes", low=2)
        self.linear = nn.Linear(self.dim, self.num_classes)
        lr = check_float(lr, "lr", low=0.0, low_open=True)
        weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
        self.optimizer = torch.optim.Adam(self.linear.parameters(), lr=lr, weight_decay=weight_decay)

    def _inputs(self, z: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.linear.weight.device
        t = _embeddings(z, "z", device).to(self.linear.weight.dtype)
        if t.shape[1] != self.dim:
            raise ValueError(f"z has {t.shape[1]} columns; the probe was built for dim={self.dim}")
        target = _targets(y, t.shape[0], device)
        if bool((target < 0).any()) or bool((target >= self.num_classes).any()):
            raise ValueError(f"labels must be integers in [0, {self.num_classes}); got values from "
                             f"{int(target.min())} to {int(target.max())}")
        return t, target

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Class logits (m, num_classes) of embeddings (m, dim).

        Returns
        -------
        tensor
        """
        return self.linear(z)

    def train_step(self, z: Any, y: Any) -> float:
        """One optimiser step on the cross-entropy of detached ``z`` (m, dim) and labels ``y`` (m,).

        Returns
        -------
        float
            The batch's cross-entropy (nats) before the step.
        """
        t, target = self._inputs(z, y)
        with torch.enable_grad():
            loss = nn.functional.cross_entropy(self.linear(t), target)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def score(self, z: Any, y: Any) -> tuple[int, int]:
        """Rows of the batch whose predicted class is the label, and rows scored.

        Returns
        -------
        tuple of int
            ``(correct, seen)``.
        """
        t, target = self._inputs(z, y)
        return int((self.linear(t).argmax(dim=1) == target).sum()), int(t.shape[0])


class KNNClassifier(nn.Module):
    r"""Weighted k-NN classification by cosine similarity to a bank of labelled embeddings (Wu et al. 2018).

    For a query q and the bank rows :math:`b_j` (both l2-normalised), the k rows of largest similarity
    :math:`s_j = q^\top b_j` vote for their class with weight :math:`e^{s_j/\tau}`; the prediction is the
    class of largest total weight.

    Parameters
    ----------
    k : int, default 20
        Neighbours that vote (all bank rows when the bank is smaller).
    temperature : float, default 0.07
    bank_size : int, default 65536
        Most rows kept; :meth:`add` keeps the newest.
    chunk_size : int, default 1024
        Queries per (chunk, bank) similarity block (memory O(chunk_size x bank rows)).

    Examples
    --------
    Two classes on opposite sides of the circle: every query is classified correctly.

    >>> import torch
    >>> knn = KNNClassifier(k=3)
    >>> bank = torch.tensor([[1.0, 0.1], [1.0, -0.1], [-1.0, 0.2], [-1.0, -0.2]])
    >>> knn.add(bank, torch.tensor([0, 0, 1, 1]))
    >>> knn.predict(torch.tensor([[2.0, 0.0], [-3.0, 0.5]])).tolist()
    [0, 1]
    """

    def __init__(self, *, k: int = 20, temperature: float = 0.07, bank_size: int = 65536,
                 chunk_size: int = 1024) -> None:
        super().__init__()
        self.k = check_int(k, "k", low=1)
        self.temperature = check_float(temperature, "temperature", low=0.0, low_open=True)
        self.bank_size = check_int(bank_size, "bank_size", low=1)
        self.chunk_size = check_int(chunk_size, "chunk_size", low=1)
        self.register_buffer("bank", torch.zeros(0, 0), persistent=False)
        self.register_buffer("bank_labels", torch.zeros(0, dtype=torch.long), persistent=False)

    def clear(self) -> None:
        """Empty the bank.

        Returns
        -------
        None
        """
        self.bank = self.bank.new_zeros(0, 0)
        self.bank_labels = self.bank_labels.new_zeros(0)

    @torch.no_grad()
    def add(self, z: Any, y: Any) -> None:
        """Append embeddings ``z`` (m, d) (l2-normalised here, detached) and their labels ``y`` (m,).

        Returns
        -------
        None
        """
        t = _embeddings(z, "z", self.bank.device)
        target = _targets(y, t.shape[0], self.bank.device)
        if bool((target < 0).any()):
            raise ValueError("labels must be non-negative integers (class indices)")
        u = nn.functional.normalize(t.float(), dim=1)
        if self.bank.numel() and self.bank.shape[1] != u.shape[1]:
            raise ValueError(f"z has {u.shape[1]} columns but the bank holds {self.bank.shape[1]}")
        bank = u if not self.bank.numel() else torch.cat([self.bank, u])
        labels = torch.cat([self.bank_labels, target])
        self.bank, self.bank_labels = bank[-self.bank_size:], labels[-self.bank_size:]

    @property
    def size(self) -> int:
        """Rows in the bank."""
        return int(self.bank_labels.shape[0])

    @torch.no_grad()
    def predict(self, z: Any) -> torch.Tensor:
        """Predicted class of each row of ``z`` (m, d).

        Returns
        -------
        tensor
            (m,) int64 on the bank's device.
        """
        if self.size == 0:
            raise ValueError("the k-NN bank is empty; add training embeddings with add(z, y) first")
        q = nn.functional.normalize(_embeddings(z, "z", self.bank.device).float(), dim=1)
        if q.shape[1] != self.bank.shape[1]:
            raise ValueError(f"z has {q.shape[1]} columns but the bank holds {self.bank.shape[1]}")
        k = min(self.k, self.size)
        n_classes = int(self.bank_labels.max()) + 1
        out = []
        for start in range(0, q.shape[0], self.chunk_size):
            sim = q[start:start + self.chunk_size] @ self.bank.T  # (c, bank)
            top, idx = sim.topk(k, dim=1)  # (c, k)
            # exp(s / tau) relative to the row's best: the same vote ratios, no float32 overflow (s / tau
            # passes 88.7 for tau below about 0.011)
            weights = torch.exp((top - top[:, :1]) / self.temperature)
            votes = torch.zeros(sim.shape[0], n_classes, dtype=weights.dtype, device=sim.device)
            votes.scatter_add_(1, self.bank_labels[idx], weights)
            out.append(votes.argmax(dim=1))
        return torch.cat(out)

    def score(self, z: Any, y: Any) -> tuple[int, int]:
        """Rows of the batch whose predicted class is the label, and rows scored.

        Returns
        -------
        tuple of int
            ``(correct, seen)``.
        """
        pred = self.predict(z)
        target = _targets(y, pred.shape[0], pred.device)
        return int((pred == target).sum()), int(pred.shape[0])
