import math

import pytest
import torch

from infossl.objectives import InfoNCELoss


def reference_ntxent(a, b, tau):
    """SimCLR eq. 1 written as a loop over the 2N anchors (views interleaved as in the paper)."""
    z = torch.cat([a, b])
    n2 = z.shape[0]
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        sims = [torch.nn.functional.cosine_similarity(z[i], z[k], dim=0) / tau for k in range(n2)]
        denom = sum(torch.exp(s) for k, s in enumerate(sims) if k != i)
        total = total - torch.log(torch.exp(sims[j]) / denom)
    return total / n2


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_matches_loop_reference(seed, tau):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    ours = InfoNCELoss(temperature=tau)(a, b)
    ref = reference_ntxent(a, b, tau)
    # float64, tiny batch: rounding only.
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    for x, y in zip(torch.autograd.grad(ours, (a, b)), torch.autograd.grad(ref, (a, b))):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n", [2, 5, 64])
def test_coinciding_embeddings_give_log_2n_minus_1(n):
    z = torch.full((n, 3), 0.7, requires_grad=True)
    mod = InfoNCELoss()
    value = mod(z, z)
    value.backward()
    assert value.item() == pytest.approx(math.log(2 * n - 1), abs=1e-5)
    assert mod.last_terms["mi_lower_bound"].item() == pytest.approx(0.0, abs=1e-5)
    assert torch.isfinite(z.grad).all()


def test_zero_embeddings_are_finite():
    z = torch.zeros(4, 3, requires_grad=True)
    value = InfoNCELoss()(z, z)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z.grad).all()


def test_gradcheck():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: InfoNCELoss()(x, y), (a, b))


def test_errors():
    with pytest.raises(ValueError, match=r"same shape; got \(4, 3\) and \(3, 3\)"):
        InfoNCELoss()(torch.ones(4, 3), torch.ones(3, 3))
    with pytest.raises(ValueError, match="2-D"):
        InfoNCELoss()(torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="at least 2"):
        InfoNCELoss()(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="temperature must be in"):
        InfoNCELoss(temperature=0.0)
