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


BYOL_SPEC = dict(MLP, predictor="24-16", target="ema")


def test_predictor_and_target_network():
    m = build_model(BYOL_SPEC, generator=torch.Generator().manual_seed(0))
    x = torch.rand(5, 12)
    z, p, t = m(x, with_target=True)
    assert z.shape == p.shape == t.shape == (5, 16) and not t.requires_grad
    # the target starts equal to the online network, and its parameters take no gradient
    for (name, online), target in zip(list(m.backbone.named_parameters()) + list(m.projector.named_parameters()),
                                      list(m.target.parameters())):
        assert torch.equal(online, target) and not target.requires_grad, name
    torch.testing.assert_close(t, z.detach())
    assert all(k.startswith(("backbone.", "projector.", "predictor.", "target.")) for k in m.state_dict())
    (z.sum() + p.sum()).backward()
    assert all(q.grad is None for q in m.target.parameters())
    assert m.predictor[0].weight.grad is not None
    with pytest.raises(ValueError, match="no predictor and target network"):
        build_model(MLP)(x, with_target=True)


def test_ema_update_is_tau_target_plus_one_minus_tau_online():
    m = build_model(BYOL_SPEC, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for q in list(m.backbone.parameters()) + list(m.projector.parameters()):
            q.add_(torch.randn(q.shape, generator=torch.Generator().manual_seed(q.numel())))
    online = [q.clone() for q in list(m.backbone.parameters()) + list(m.projector.parameters())]
    before = [q.clone() for q in m.target.parameters()]
    m.update_target(0.9)
    for xi, xi0, theta in zip(m.target.parameters(), before, online):
        torch.testing.assert_close(xi, 0.9 * xi0 + (1 - 0.9) * theta)  # float32 rounding only
    assert any(not torch.equal(a, b) for a, b in zip(m.target.parameters(), before))
    m.update_target(1.0)  # tau = 1 keeps the target
    m.copy_to_target()
    assert all(torch.equal(a, b) for a, b in zip(m.target.parameters(), online))
    with pytest.raises(ValueError, match="momentum must be in \\[0, 1\\], got 1.5"):
        m.update_target(1.5)
    with pytest.raises(ValueError, match="has no target network"):
        build_model(MLP).update_target(0.5)


@pytest.mark.parametrize("config, match", [
    (dict(MLP, predictor="24-8"), "'predictor'='24-8' must end with the projector's output size 16"),
    (dict(MLP, target="momentum"), "'target' must be None or 'ema'"),
])
def test_predictor_and_target_errors(config, match):
    with pytest.raises(ValueError, match=match):
        build_model(config)
