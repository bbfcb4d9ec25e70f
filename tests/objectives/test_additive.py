"""VICReg + LogDet and VICReg + PairDist against hand computations in numpy (float64)."""

import numpy as np
import pytest
import torch

from infossl.objectives import OBJECTIVES, VICRegLogDetLoss, VICRegLoss, VICRegPairDistLoss


def views(n=12, d=5, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, d)) * np.linspace(0.3, 2.0, d)
    return a, a + 0.4 * rng.normal(size=(n, d))


def vicreg_by_hand(a, b, sim=25.0, std=25.0, cov=1.0, eps=1e-4):
    n, d = a.shape

    def var(z):
        return np.maximum(0.0, 1.0 - np.sqrt(z.var(axis=0, ddof=1) + eps)).mean()

    def offdiag(z):
        c = np.cov(z, rowvar=False)  # divisor n - 1
        return (c ** 2).sum() - (np.diag(c) ** 2).sum()

    return sim * ((a - b) ** 2).mean() + std * (var(a) + var(b)) / 2 + cov * (offdiag(a) + offdiag(b)) / d


def logdet_by_hand(z, beta):
    zc = z - z.mean(axis=0)
    return 0.5 * np.linalg.slogdet(np.eye(z.shape[1]) + beta * zc.T @ zc / len(z))[1]  # biased covariance


def pairdist_by_hand(z, sigma, distance):
    n, d = z.shape
    sq = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    div = sq / (8 * sigma ** 2) if distance == "bhattacharyya" else sq / (2 * sigma ** 2)
    return 0.5 * d * np.log(2 * np.pi * np.e * sigma ** 2) - np.log(np.exp(-div).mean(axis=1)).mean()


def t(x):
    return torch.tensor(x, dtype=torch.float64)


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.3, 4.0)])
def test_vicreg_logdet_equals_the_hand_formula(alpha, beta):
    a, b = views()
    loss_fn = VICRegLogDetLoss(alpha=alpha, beta=beta)
    loss = loss_fn(t(a), t(b))
    h_a, h_b = logdet_by_hand(a, beta), logdet_by_hand(b, beta)
    expected = vicreg_by_hand(a, b) - alpha * (h_a + h_b)
    assert float(loss) == pytest.approx(expected, rel=1e-10)
    terms = loss_fn.last_terms
    assert float(terms["entropy_a"]) == pytest.approx(h_a, rel=1e-10)
    assert float(terms["vicreg_loss"]) == pytest.approx(vicreg_by_hand(a, b), rel=1e-10)
    assert set(terms) == {"invariance", "variance", "covariance", "vicreg_loss", "entropy_a", "entropy_b", "loss"}


@pytest.mark.parametrize("distance", ["bhattacharyya", "kl"])
def test_vicreg_pairdist_equals_the_hand_formula(distance):
    a, b = views(seed=1)
    loss = VICRegPairDistLoss(alpha=0.7, sigma=0.6, distance=distance, std_coeff=10.0)(t(a), t(b))
    expected = vicreg_by_hand(a, b, std=10.0) - 0.7 * (pairdist_by_hand(a, 0.6, distance)
                                                        + pairdist_by_hand(b, 0.6, distance))
    assert float(loss) == pytest.approx(expected, rel=1e-10)


def test_the_entropy_is_added_to_vicreg_not_put_in_place_of_its_terms():
    a, b = views(seed=2)
    za, zb = t(a).requires_grad_(), t(b)
    plain = VICRegLoss(cov_coeff=2.0)(za, zb)
    for cls in (VICRegLogDetLoss, VICRegPairDistLoss):
        assert torch.equal(cls(alpha=0.0, cov_coeff=2.0)(za, zb), plain)
    # the entropy's gradient is the difference of the two gradients
    (g_total,) = torch.autograd.grad(VICRegLogDetLoss(alpha=0.5)(za, zb), za)
    (g_vic,) = torch.autograd.grad(VICRegLoss()(za, zb), za)
    za_h = t(a).requires_grad_()
    from infossl.estimators import logdet_entropy

    (g_h,) = torch.autograd.grad(logdet_entropy(za_h), za_h)
    torch.testing.assert_close(g_total, g_vic - 0.5 * g_h)


def test_registered_with_their_own_options_only():
    assert OBJECTIVES["vicreg-logdet"] is VICRegLogDetLoss and OBJECTIVES["vicreg-pairdist"] is VICRegPairDistLoss
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigma'"):
        VICRegLogDetLoss(sigma=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'entropy'"):
        VICRegPairDistLoss(entropy="logdet")
    with pytest.raises(ValueError, match="distance must be one of"):
        VICRegPairDistLoss(distance="chernoff")
    with pytest.raises(ValueError, match="alpha must be"):
        VICRegLogDetLoss(alpha=-1.0)
