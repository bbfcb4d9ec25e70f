import sys

import numpy as np
import pytest


@pytest.fixture(params=[0, 1, 2])
def seed(request):
    """Tests must pass for any seed; three are run by default."""
    return request.param


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)


# A user's own model module, importable as "user_nets" (model factories "user_nets:build" etc.).
FACTORY_SOURCE = """
import torch
from torch import nn

def build():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 6))

class Nets:
    @staticmethod
    def wide():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 20))

NOT_CALLABLE = 3
"""


@pytest.fixture
def factory_module(tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text(FACTORY_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_nets"
    sys.modules.pop("user_nets", None)
