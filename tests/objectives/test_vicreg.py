import math

import pytest
import torch
import torch.nn.functional as F

from infossl.objectives import VICRegLoss, covariance_term, invariance_term, variance_term


def off_diagonal(x):
    # The official helper: view the flattened matrix so that the diagonal falls in the first column.
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def reference_vicreg(x, y, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0):
    """Port of VICReg.forward (facebookresearch/vicreg main_vicreg.py) on one process; the batch size
    is taken from the tensor."""
    batch_size, num_features = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (batch_size - 1)
    cov_y = (y.T @ y) / (batch_size - 1)
    cov_loss = off_diagonal(cov_x).pow_(2).sum().div(num_features) + off_diagonal(cov_y).pow_(2).sum().div(
        num_features)
    return sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss


def reference_masked(x, y):
    """Same loss with a boolean off-diagonal mask (the form used by several libraries)."""
    n, d = x.shape
    mask = ~torch.eye(d, dtype=torch.bool)
    total = 25 * F.mse_loss(x, y)
    for z in (x, y):
        zc = z - z.mean(0)
        total = total + 25 * F.relu(1 - torch.sqrt(zc.var(0) + 1e-4)).mean() / 2
        cov = zc.T @ zc / (n - 1)
        total = total + cov[mask].pow(2).sum() / d
    return total


@pytest.mark.parametrize("shape", [(32, 8), (5, 16), (64, 64)])
def test_matches_official_forward_value_and_grad(seed, shape):
    g = torch.Generator().manual_seed(seed)
    x = (0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()
    y = (x.detach() + 0.3 * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()
    ours = VICRegLoss()(x, y)
    gx, gy = torch.autograd.grad(ours, (x, y))
    ref = reference_vicreg(x, y)
    rx, ry = torch.autograd.grad(ref, (x, y))
    # float64: agreement to rounding (the mask-free off-diagonal sum differs only in summation order).
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, rx, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gy, ry, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(reference_masked(x, y), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(128, 32), (32, 128)])
def test_float32_matches_official(seed, shape):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, requires_grad=True)
    y = torch.randn(*shape, generator=g, requires_grad=True)
    ours, ref = VICRegLoss()(x, y), reference_vicreg(x, y)
    # float32: relative 1e-5 allows for the different summation order (and, for n < d, the Gram form).
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    for a, b in zip(torch.autograd.grad(ours, (x, y)), torch.autograd.grad(ref, (x, y))):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_constant_batch_hand_derived():
    x = torch.full((16, 6), 3.0, requires_grad=True)
    y = torch.full((16, 6), 3.0, requires_grad=True)
    loss = VICRegLoss()
    value = loss(x, y)
    # Each view's hinge is 1 - sqrt(1e-4) = 0.99; halved and summed over 2 views: 0.99.
    assert loss.last_terms["variance"].item() == pytest.approx(0.99, abs=1e-7)
    assert loss.last_terms["covariance"].item() == 0.0
    assert value.item() == pytest.approx(25 * 0.99, abs=1e-5)
    value.backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    assert variance_term(x.detach()).item() == pytest.approx(1 - math.sqrt(1e-4), abs=1e-7)


def test_paper_variance_form_drops_the_half():
    x = torch.ones(4, 3)
    assert VICRegLoss(variance_form="paper")(x, x).item() == pytest.approx(2 * 25 * 0.99, abs=1e-5)


def test_last_terms_recombine(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(20, 7, generator=g, dtype=torch.float64)
    y = torch.randn(20, 7, generator=g, dtype=torch.float64)
    mod = VICRegLoss(sim_coeff=2.0, std_coeff=3.0, cov_coeff=0.5)
    value = mod(x, y)
    t = mod.last_terms
    assert not any(v.requires_grad for v in t.values())
    torch.testing.assert_close(value, 2 * t["invariance"] + 3 * t["variance"] + 0.5 * t["covariance"])
    torch.testing.assert_close(t["invariance"], invariance_term(x, y))
    torch.testing.assert_close(t["covariance"], covariance_term(x) + covariance_term(y))


def test_batch_smaller_than_dim_is_finite():
    x = torch.randn(3, 50, requires_grad=True)
    value = VICRegLoss()(x, x.detach() * 0.5)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()


def test_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: VICRegLoss()(a, b), (x, y))


def test_errors():
    loss = VICRegLoss()
    with pytest.raises(ValueError, match=r"same shape; got \(4, 3\) and \(5, 3\)"):
        loss(torch.ones(4, 3), torch.ones(5, 3))
    with pytest.raises(ValueError, match=r"z_a must be 2-D .* got shape \(4,\)"):
        loss(torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="batch size must be at least 2; got 1|at least 2 .*got 1"):
        loss(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(TypeError, match="z_b must be a torch.Tensor"):
        loss(torch.ones(4, 3), [[1.0]])
    with pytest.raises(TypeError, match="floating dtype"):
        loss(torch.ones(4, 3, dtype=torch.int64), torch.ones(4, 3))
    with pytest.raises(ValueError, match="variance_form must be one of"):
        VICRegLoss(variance_form="other")
    with pytest.raises(ValueError, match="eps must be in"):
        VICRegLoss(eps=0.0)


def test_the_old_name_of_check_view_pair_is_gone():
    from infossl.objectives import vicreg

    assert not hasattr(vicreg, "check_views")
