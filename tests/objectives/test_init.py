import pytest
import torch

import infossl.objectives as objectives


def test_all_names_exist_and_are_unique():
    names = objectives.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(objectives, name), name
    losses = {"VICRegLoss", "InfoVICRegLoss", "BarlowTwinsLoss", "InfoNCELoss", "CISSLLoss", "DISSLLoss"}
    assert losses <= set(names)


@pytest.mark.parametrize("cls", ["VICRegLoss", "InfoVICRegLoss", "BarlowTwinsLoss", "InfoNCELoss"])
def test_two_view_losses_keep_last_terms_detached(cls):
    mod = getattr(objectives, cls)()
    assert mod.last_terms is None
    x = torch.randn(10, 4, requires_grad=True)
    loss = mod(x, torch.randn(10, 4))
    assert loss.ndim == 0 and loss.requires_grad
    assert mod.last_terms["loss"].item() == pytest.approx(loss.item())
    assert all(not v.requires_grad for v in mod.last_terms.values())
