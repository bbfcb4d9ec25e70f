"""infossl.models.architectures: model specs, seeded construction, heads."""

import pytest
import torch
from torch import nn

from infossl.models import SSLModel, build_model, parse_spec

CNN = {"backbone": "cnn", "input_shape": [1, 8, 8], "widths": "8-16-32", "projector": "64-64-16"}
MLP = {"backbone": "mlp", "input_shape": [12], "widths": "32-32", "projector": "16"}


def test_parse_spec():
    assert parse_spec("256-256-256") == [256, 256, 256]
    assert parse_spec([4, 5]) == [4, 5] and parse_spec(7) == [7]
    assert parse_spec("", allow_empty=True) == []


@pytest.mark.parametrize("spec", ["256-x", "0-4", "-4", "4--4", "1.5"])
def test_parse_spec_errors(spec):
    with pytest.raises(ValueError, match="is not a list of positive integers"):
        parse_spec(spec, "projector")


def test_parse_spec_empty_and_type():
    with pytest.raises(ValueError, match="projector must name at least one width"):
        parse_spec("", "projector")
    with pytest.raises(TypeError, match="must be a string like"):
        parse_spec(2.5, "projector")
    with pytest.raises(TypeError, match="must be a string like"):
        parse_spec(True, "projector")


def test_cnn_and_mlp_shapes():
    m = build_model(CNN)
    assert isinstance(m, SSLModel) and m.backbone.out_dim == 32
    assert m(torch.rand(5, 1, 8, 8)).shape == (5, 16)
    assert m.backbone(torch.rand(5, 1, 8, 8)).shape == (5, 32)
    m = build_model(MLP)
    assert m(torch.rand(5, 12)).shape == (5, 16) and m.backbone.out_dim == 32
    m = build_model(dict(MLP, projector=""))
    assert isinstance(m.projector, nn.Identity)


def test_student_head():
    m = build_model(dict(CNN, student=16, student_batchnorm=True))
    z, s = m(torch.rand(5, 1, 8, 8), with_student=True)
    assert z.shape == (5, 16) and s.shape == (5, 16)
    assert isinstance(m.student[-1], nn.BatchNorm1d)
    with pytest.raises(ValueError, match="has no student head"):
        build_model(CNN)(torch.rand(5, 1, 8, 8), with_student=True)


def test_seeded_construction_is_reproducible_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model(CNN, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    b = build_model(CNN, generator=torch.Generator().manual_seed(3))
    c = build_model(CNN, generator=torch.Generator().manual_seed(4))
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.backbone.net[0].weight, c.backbone.net[0].weight)


@pytest.mark.parametrize("config, err, match", [
    ([1], TypeError, "model config must be a dict"),
    (dict(CNN, backbone="resnet"), ValueError, "'backbone' must be one of"),
    (dict(CNN, input_shape=[1, 0, 8]), ValueError, "'input_shape' must be a list of positive ints"),
    (dict(CNN, input_shape=[64]), ValueError, "the cnn backbone needs input_shape \\(C, H, W\\)"),
    (dict(CNN, student=0), ValueError, "'student' must be a positive int or None"),
    (dict(CNN, widths="8-a"), ValueError, "widths='8-a' is not a list"),
])
def test_build_model_errors(config, err, match):
    with pytest.raises(err, match=match):
        build_model(config)
