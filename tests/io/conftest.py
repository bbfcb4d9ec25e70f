"""Fixtures shared by the checkpoint tests of tests/io: a small seeded network."""
import pytest
import torch
from torch import nn


@pytest.fixture
def net():
    """A 4 -> 3 -> 2 ReLU network with seeded weights."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
