"""infossl.models.batchnorm: the gathered batch norm outside a process group (2-process runs: tests/training)."""

import torch
from torch import nn

from infossl.models import GlobalBatchNorm, build_model, convert_global_batchnorm

CNN = {"backbone": "cnn", "input_shape": [1, 8, 8], "widths": "8-16-32", "projector": "64-64-16"}


def test_global_batchnorm_equals_batchnorm_without_process_group():
    m = build_model(CNN, generator=torch.Generator().manual_seed(0))
    x = torch.rand(16, 1, 8, 8)
    ref = m(x)
    convert_global_batchnorm(m)
    assert any(isinstance(mod, GlobalBatchNorm) for mod in m.modules())
    assert not any(type(mod) in (nn.BatchNorm1d, nn.BatchNorm2d) for mod in m.modules())
    torch.testing.assert_close(m(x), ref)
    m.eval()
    assert m(x).shape == ref.shape


def test_conversion_keeps_frozen_parameters_frozen():
    m = build_model(dict(CNN, predictor="64-16", target="ema"), generator=torch.Generator().manual_seed(0))
    convert_global_batchnorm(m)
    assert isinstance(m.target["backbone"].net[1], GlobalBatchNorm)
    assert not any(p.requires_grad for p in m.target.parameters())
    assert all(p.requires_grad for p in m.backbone.parameters())
