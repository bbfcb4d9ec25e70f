import pytest
import torch

from infossl.objectives import BarlowTwinsLoss


def reference_barlow(z1, z2, lambd=5e-3):
    """Barlow Twins as in the paper's pseudo-code / official code: BatchNorm1d(affine=False) in training
    mode, c = bn(z1).T @ bn(z2) / n, on-diagonal (1 - c_ii)^2, off-diagonal lambda * c_ij^2 (boolean mask)."""
    n, d = z1.shape
    bn = torch.nn.BatchNorm1d(d, affine=False, dtype=z1.dtype).train()
    c = bn(z1).T @ bn(z2) / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = c[~torch.eye(d, dtype=torch.bool)].pow(2).sum()
    return on + lambd * off


@pytest.mark.parametrize("shape", [(32, 8), (5, 16), (12, 12)])
def test_matches_batchnorm_reference(seed, shape):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    ours = BarlowTwinsLoss()(x, y)
    ref = reference_barlow(x, y)
    # float64: rounding only.
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    for a, b in zip(torch.autograd.grad(ours, (x, y)), torch.autograd.grad(ref, (x, y))):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("shape", [(64, 16), (16, 64)])
def test_float32_matches_reference(seed, shape):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
    # float32: relative 1e-5 covers the different summation order (and the Gram form for n < d).
    torch.testing.assert_close(BarlowTwinsLoss()(x, y), reference_barlow(x, y), rtol=1e-5, atol=1e-5)


def test_identical_views_perfectly_correlated():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5000, 3, generator=g, dtype=torch.float64)
    mod = BarlowTwinsLoss()
    mod(x, x)
    # C_ii = var / (var + 1e-5) ~ 1 - 1e-5; off-diagonal correlations of independent columns ~ 1/sqrt(n).
    assert mod.last_terms["on_diagonal"].item() < 1e-8
    assert mod.last_terms["off_diagonal"].item() < 6 * 6 / 5000


def test_constant_batch():
    x = torch.full((8, 5), 1.5, requires_grad=True)
    value = BarlowTwinsLoss()(x, x)
    value.backward()
    assert value.item() == 5.0 and torch.isfinite(x.grad).all()


def test_batch_smaller_than_dim_is_finite():
    x = torch.randn(3, 40, requires_grad=True)
    value = BarlowTwinsLoss()(x, torch.randn(3, 40))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()


def test_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: BarlowTwinsLoss()(a, b), (x, y))


def test_errors():
    with pytest.raises(ValueError, match=r"same shape; got \(4, 3\) and \(4, 2\)"):
        BarlowTwinsLoss()(torch.ones(4, 3), torch.ones(4, 2))
    with pytest.raises(ValueError, match="2-D"):
        BarlowTwinsLoss()(torch.ones(4, 3, 2), torch.ones(4, 3, 2))
    with pytest.raises(ValueError, match="at least 2"):
        BarlowTwinsLoss()(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="lambd must be in"):
        BarlowTwinsLoss(lambd=-1.0)


def test_batch_standardize_and_no_old_spelling():
    from infossl import objectives
    from infossl.objectives import barlow

    z = torch.randn(16, 3, dtype=torch.float64) * 4 + 2
    s = objectives.batch_standardize(z)
    torch.testing.assert_close(s.mean(dim=0), torch.zeros(3, dtype=torch.float64))
    # biased variance var / (var + eps) per column
    torch.testing.assert_close(s.pow(2).mean(dim=0), 1 / (1 + 1e-5 / z.var(0, unbiased=False)))
    assert not hasattr(objectives, "batch_standardise") and not hasattr(barlow, "batch_standardise")
