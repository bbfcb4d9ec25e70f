import math
import warnings

import pytest
import torch

from infossl.estimators import gaussian_entropy, logdet_entropy, mixture_entropy
from infossl.objectives import InfoVICRegLoss, VICRegLoss, covariance_term, variance_term
from infossl.objectives.derived import ENTROPIES, gaussian_cross_entropy


def views(seed, n=40, d=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return x, x + 0.2 * torch.randn(n, d, generator=g, dtype=torch.float64)


def expected_entropy(name, z):
    if name == "gaussian":
        return gaussian_entropy(z, ridge=1e-3, shrinkage=None, bias_correction=False)
    if name == "logdet":
        return logdet_entropy(z, beta=2.0)
    if name == "pairdist-kl":
        return mixture_entropy(z, sigma=0.7, distance="kl")
    if name == "pairdist-bd":
        return mixture_entropy(z, sigma=0.7, distance="bhattacharyya")
    return -(0.5 * 25 * variance_term(z) + covariance_term(z))


@pytest.mark.parametrize("entropy", ENTROPIES)
def test_loss_is_sum_of_imported_terms(seed, entropy):
    x, y = views(seed)
    mod = InfoVICRegLoss(entropy=entropy, mu=1.3, alpha=0.7, ridge=1e-3, beta=2.0, sigma=0.7)
    loss = mod(x, y)
    ce = 0.5 * (x - y).pow(2).sum(1).mean() + 0.5 * x.shape[1] * math.log(2 * math.pi)
    expected = 1.3 * ce - 0.7 * (expected_entropy(entropy, x) + expected_entropy(entropy, y))
    # float64, same operations: equality to rounding.
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    t = mod.last_terms
    torch.testing.assert_close(t["entropy_a"], expected_entropy(entropy, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(t["loss"], 1.3 * t["cross_entropy"] - 0.7 * (t["entropy_a"] + t["entropy_b"]))


def test_vicreg_member_equals_vicreg_loss(seed):
    x, y = views(seed, d=6)
    d = x.shape[1]
    mu = 50.0 / d
    derived = InfoVICRegLoss(entropy="vicreg", mu=mu, alpha=1.0)(x, y)
    const = mu * 0.5 * d * math.log(2 * math.pi)
    torch.testing.assert_close(derived, VICRegLoss()(x, y) + const, rtol=1e-12, atol=1e-12)


def test_cross_entropy_bounds_gaussian_conditional_entropy():
    # z = z' + N(0, I): CE is the exact conditional entropy d/2 log(2 pi e) up to sampling error.
    g = torch.Generator().manual_seed(0)
    zp = torch.randn(200000, 2, generator=g, dtype=torch.float64)
    z = zp + torch.randn(200000, 2, generator=g, dtype=torch.float64)
    # 5 standard errors of the mean of a chi^2_2 / 2 at n = 2e5 is about 0.011.
    assert gaussian_cross_entropy(z, zp).item() == pytest.approx(math.log(2 * math.pi * math.e), abs=0.011)


@pytest.mark.parametrize("entropy", [e for e in ENTROPIES if e != "gaussian"])
def test_constant_batch_is_finite(entropy):
    x = torch.full((8, 4), 2.0, dtype=torch.float64, requires_grad=True)
    loss = InfoVICRegLoss(entropy=entropy)(x, x)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


def test_constant_batch_gaussian_raises():
    x = torch.full((8, 4), 2.0)
    with pytest.raises(ValueError, match="constant"):
        InfoVICRegLoss(entropy="gaussian")(x, x)


@pytest.mark.parametrize("entropy", ENTROPIES)
def test_batch_smaller_than_dim_is_finite(entropy):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 12, generator=g, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default ridge keeps the Gaussian estimate regular: no warning
        loss = InfoVICRegLoss(entropy=entropy)(x, x.detach() + 0.1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("entropy", ENTROPIES)
def test_gradcheck(entropy):
    x, y = views(1, n=7, d=3)
    x.requires_grad_()
    y.requires_grad_()
    mod = InfoVICRegLoss(entropy=entropy, ridge=1e-2)
    assert torch.autograd.gradcheck(lambda a, b: mod(a, b), (x, y))


def test_errors():
    with pytest.raises(ValueError, match="entropy must be one of"):
        InfoVICRegLoss(entropy="knn")
    with pytest.raises(ValueError, match="sigma must be in"):
        InfoVICRegLoss(sigma=0.0)
    with pytest.raises(ValueError, match=r"same shape; got \(4, 3\) and \(4, 2\)"):
        InfoVICRegLoss()(torch.ones(4, 3), torch.ones(4, 2))
    with pytest.raises(ValueError, match="2-D"):
        InfoVICRegLoss()(torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="at least 2"):
        InfoVICRegLoss()(torch.ones(1, 3), torch.ones(1, 3))
