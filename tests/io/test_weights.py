"""infossl.io.weights: fitting a state dict to a model (prefixes stripped, heads left out, mismatches
listed)."""

import pytest
import torch
from torch import nn

from infossl.io.weights import fit_state_dict, load_weights
from ._nets import same_weights


def test_load_weights_lists_the_mismatch(net):
    sd = dict(net.state_dict())
    other = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 5))  # last layer has another shape
    with pytest.raises(
        ValueError, match=r"other shapes \(2\): 2.weight: checkpoint \(2, 3\) vs model \(5, 3\), 2.bias"
    ):
        load_weights(other, sd)
    sd["extra.weight"] = torch.ones(1)
    del sd["0.bias"]
    with pytest.raises(
        ValueError,
        match=r"ckpt.pt does not match the model. Keys missing from the checkpoint \(1\): 0.bias; "
        r"not in the model \(1\): extra.weight",
    ):
        load_weights(net, sd, source="ckpt.pt")
    fresh = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).train()
    model = load_weights(fresh, {f"module.{k}": v for k, v in net.state_dict().items()})
    assert model is fresh and not model.training and same_weights(model.state_dict(), net.state_dict())


def test_fit_state_dict_strips_framework_prefixes_and_leaves_out_heads():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    state = {f"model.backbone.{k}": v for k, v in model.state_dict().items()}
    state["model.projector.weight"] = torch.zeros(5, 2)
    fitted, notes = fit_state_dict(state, list(model.state_dict()))
    assert sorted(fitted) == sorted(model.state_dict())
    assert notes == ["stripped the prefix 'model.backbone.'; left out 1 other entries (model.projector.weight)"]
    notes = []
    assert load_weights(model, state, notes=notes) is model and "model.backbone." in notes[0]
    exact, none = fit_state_dict(model.state_dict(), list(model.state_dict()))
    assert none == [] and list(exact) == list(model.state_dict())
    unrelated = {"encoder.other.weight": torch.zeros(1)}
    assert fit_state_dict(unrelated, ["0.weight"]) == (unrelated, [])
    with pytest.raises(ValueError, match="does not match the model"):
        load_weights(model, unrelated)
