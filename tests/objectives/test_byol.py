"""BYOL and BYOL + LogDet against hand computations in numpy; the momentum schedule; the stop-gradient."""

import math

import numpy as np
import pytest
import torch

from infossl.objectives import OBJECTIVES, BYOLLogDetLoss, BYOLLoss, byol_momentum, regression_term


def rows(seed, n=10, k=4):
    return np.random.default_rng(seed).normal(size=(n, k))


def t(x, grad=False):
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def cos_by_hand(p, z):
    return (p * z).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(z, axis=1))


def test_regression_term_is_2_minus_2_cos():
    p, z = rows(0), rows(1)
    assert float(regression_term(t(p), t(z))) == pytest.approx((2 - 2 * cos_by_hand(p, z)).mean(), rel=1e-12)
    # ||p/|p| - z/|z| ||^2, the form of the paper
    unit = p / np.linalg.norm(p, axis=1, keepdims=True) - z / np.linalg.norm(z, axis=1, keepdims=True)
    assert float(regression_term(t(p), t(z))) == pytest.approx((unit ** 2).sum(1).mean(), rel=1e-12)


def test_byol_loss_is_symmetrised_and_equals_the_hand_formula():
    za, zb, pa, pb, ta, tb = (rows(s) for s in range(6))
    loss_fn = BYOLLoss()
    loss = loss_fn(t(za), t(zb), t(pa), t(pb), t(ta), t(tb))
    expected = (2 - 2 * cos_by_hand(pa, tb)).mean() + (2 - 2 * cos_by_hand(pb, ta)).mean()
    assert float(loss) == pytest.approx(expected, rel=1e-12)
    assert set(loss_fn.last_terms) == {"regression", "loss"}


def test_byol_logdet_equals_the_hand_formula():
    za, zb, pa, pb, ta, tb = (rows(s, n=16) for s in range(6))

    def logdet(z, beta):
        zc = z - z.mean(0)
        return 0.5 * np.linalg.slogdet(np.eye(z.shape[1]) + beta * zc.T @ zc / len(z))[1]

    loss_fn = BYOLLogDetLoss(alpha=0.25, beta=2.0)
    loss = loss_fn(t(za), t(zb), t(pa), t(pb), t(ta), t(tb))
    regression = (2 - 2 * cos_by_hand(pa, tb)).mean() + (2 - 2 * cos_by_hand(pb, ta)).mean()
    expected = regression - 0.25 * (logdet(za, 2.0) + logdet(zb, 2.0))  # on the online projections
    assert float(loss) == pytest.approx(expected, rel=1e-12)
    assert float(loss_fn.last_terms["entropy_b"]) == pytest.approx(logdet(zb, 2.0), rel=1e-12)


def test_the_targets_receive_no_gradient():
    za, zb, pa, pb, ta, tb = (t(rows(s), grad=True) for s in range(6))
    BYOLLogDetLoss()(za, zb, pa, pb, ta, tb).backward()
    assert ta.grad is None and tb.grad is None
    assert pa.grad is not None and za.grad is not None and float(pa.grad.abs().sum()) > 0


def test_momentum_schedule():
    assert byol_momentum(0.996, 0, 100) == 0.996
    assert byol_momentum(0.996, 100, 100) == 1.0
    assert byol_momentum(0.996, 50, 100) == pytest.approx(1 - 0.004 / 2, abs=1e-15)
    k, K = 30, 100  # BYOL, Section 3.2: 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2
    assert byol_momentum(0.99, k, K) == pytest.approx(1 - 0.01 * (math.cos(math.pi * k / K) + 1) / 2, abs=1e-15)
    assert byol_momentum(0.99, 30, 100, "constant") == 0.99
    assert BYOLLoss(momentum=0.9, momentum_schedule="constant").target_momentum(7, 10) == 0.9
    assert BYOLLoss(momentum=0.9).target_momentum(10, 10) == 1.0


def test_declarations_and_option_errors():
    for name in ("byol", "byol-logdet"):
        cls = OBJECTIVES[name]
        assert (cls.inputs, cls.predictor, cls.target) == ("target", True, "ema")
    with pytest.raises(ValueError, match="momentum must be in"):
        BYOLLoss(momentum=1.5)
    with pytest.raises(ValueError, match="momentum_schedule must be one of"):
        BYOLLoss(momentum_schedule="linear")
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpha'"):
        BYOLLoss(alpha=1.0)
    with pytest.raises(ValueError, match="prediction_a and target_a must have the same shape"):
        z = torch.ones(4, 3)
        BYOLLoss()(z, z, z, z, torch.ones(4, 2), torch.ones(4, 2))
