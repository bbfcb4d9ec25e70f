"""infossl.models.layers: the layer to read, its outputs in batches, flattened."""

import pytest
import torch
from torch import nn

from infossl.models import layer_outputs, resolve_layer


def test_resolve_layer_and_outputs():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(128, 4))
    assert resolve_layer(net, None) is None and resolve_layer(net, "output") is None
    with pytest.raises(ValueError, match=r"layer='9' is not a submodule of the model; available: 0, 1, 2, 3"):
        resolve_layer(net, "9")
    with pytest.raises(TypeError, match="layer must be a submodule name, got 3"):
        resolve_layer(net, 3)
    x = torch.rand(10, 1, 8, 8)
    chunks = list(layer_outputs(net, x, layer="1", batch_size=4))  # conv maps are flattened
    assert [c.shape for c in chunks] == [(4, 128), (4, 128), (2, 128)]
    torch.testing.assert_close(torch.cat(chunks), torch.relu(net[0](x)).flatten(1))
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        list(layer_outputs(net, x, batch_size=0))

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.spare = nn.Linear(3, 2), nn.Linear(3, 2)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match="layer='spare' was not called"):
        list(layer_outputs(Unused(), torch.rand(4, 3), layer="spare"))
