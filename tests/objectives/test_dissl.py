import math

import pytest
import torch

from infossl.objectives import OBJECTIVES, CISSLLoss, DISSLLoss
from infossl.objectives._base import HEAD_INPUTS


def rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def reference_cissl(sa, sb, ta, tb, tau):
    u = torch.nn.functional.normalize(torch.cat([sa, sb]), dim=1)
    v = torch.nn.functional.normalize(torch.cat([ta, tb]), dim=1)
    n2 = u.shape[0]
    total = 0.0
    for i in range(n2):
        logits = torch.stack([u[i] @ v[j] / tau for j in range(n2)])
        logp = logits - torch.logsumexp(logits, 0)
        total = total - 0.5 * (logp[i] + logp[(i + n2 // 2) % n2])
    return total / n2


def test_cissl_matches_loop_reference(seed):
    sa, sb, ta, tb = (rand(seed * 4 + k, 5, 3).requires_grad_() for k in range(4))
    ours = CISSLLoss(temperature=0.2)(sa, sb, ta, tb)
    ref = reference_cissl(sa, sb, ta, tb, 0.2)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)  # float64 rounding
    for x, y in zip(torch.autograd.grad(ours, (sa, ta)), torch.autograd.grad(ref, (sa, ta))):
        torch.testing.assert_close(x, y, rtol=1e-8, atol=1e-10)


def test_cissl_constant_and_gradcheck():
    o = torch.ones(4, 3, requires_grad=True)
    value = CISSLLoss()(o, o, o, o)
    value.backward()
    assert value.item() == pytest.approx(math.log(8), abs=1e-6) and torch.isfinite(o.grad).all()
    args = tuple(rand(k, 4, 3).requires_grad_() for k in range(4))
    assert torch.autograd.gradcheck(lambda *a: CISSLLoss()(*a), args)


def test_cissl_errors():
    with pytest.raises(ValueError, match=r"student_a and teacher_a must have the same shape; got \(4, 3\) "
                                         r"and \(4, 2\)"):
        CISSLLoss()(torch.ones(4, 3), torch.ones(4, 3), torch.ones(4, 2), torch.ones(4, 2))
    with pytest.raises(ValueError, match="at least 2"):
        CISSLLoss()(*(torch.ones(1, 3),) * 4)


def reference_dissl_terms(ga, gb, ha, hb, tt, ts):
    t = [torch.softmax(g / tt, 1) for g in (ga, gb)]
    s = [torch.softmax(h / ts, 1) for h in (ha, hb)]
    distil = marg = detinv = 0.0
    for x, a in ((0, 1), (1, 0)):
        distil = distil - (t[x] * torch.log(s[a])).sum(1).mean() / 2
        m = t[x].mean(0)
        marg = marg - (m * torch.log(m)).sum() / 2
        detinv = detinv - (t[x] * torch.log(t[a])).sum(1).mean() / 2
    return distil, marg, detinv


def test_dissl_matches_reference_and_mi_identity(seed):
    ga, gb, ha, hb = (rand(seed * 4 + k, 16, 7).requires_grad_() for k in range(4))
    lam, beta = 2.3, 0.8
    mod = DISSLLoss(lambd=lam, beta=beta)
    loss = mod(student_a=ha, student_b=hb, teacher_a=ga, teacher_b=gb)
    distil, marg, detinv = reference_dissl_terms(ga, gb, ha, hb, 0.5, 1.0)
    torch.testing.assert_close(loss, distil - lam * marg + beta * detinv, rtol=1e-10, atol=1e-10)
    # -(1+b) I - (lam-1-b) H + KL(t||s) + b KL(t||t~) reproduces the loss (batch plug-in, exact).
    t = [torch.softmax(g / 0.5, 1) for g in (ga, gb)]
    cond = sum(-(p * torch.log(p)).sum(1).mean() for p in t) / 2
    kl_ts, kl_tt = distil - cond, detinv - cond
    tm = mod.last_terms
    identity = (-(1 + beta) * tm["mutual_information"] - (lam - 1 - beta) * tm["marginal_entropy"]
                + kl_ts + beta * kl_tt)
    torch.testing.assert_close(tm["loss"], identity.detach(), rtol=1e-10, atol=1e-10)


def test_dissl_constant_and_gradcheck():
    g = torch.zeros(6, 10, requires_grad=True)
    value = DISSLLoss()(student_a=g, student_b=g, teacher_a=g, teacher_b=g)
    value.backward()
    assert value.item() == pytest.approx((1 - 2.3 + 0.8) * math.log(10), abs=1e-6)
    assert torch.isfinite(g.grad).all()
    args = tuple(rand(k, 5, 4).requires_grad_() for k in range(4))
    assert torch.autograd.gradcheck(lambda *a: DISSLLoss()(**dict(zip(HEAD_INPUTS, a))), args)


def test_dissl_takes_the_cissl_order_by_position_and_by_keyword():
    sa, sb, ta, tb = (rand(10 + k, 6, 5) for k in range(4))
    keyword = DISSLLoss()(student_a=sa, student_b=sb, teacher_a=ta, teacher_b=tb)
    torch.testing.assert_close(DISSLLoss()(sa, sb, ta, tb), keyword, rtol=0, atol=0)
    swapped = DISSLLoss()(student_a=ta, student_b=tb, teacher_a=sa, teacher_b=sb)
    assert not torch.allclose(swapped, keyword)  # the order matters, so the test above can fail
    with pytest.raises(TypeError, match="missing"):
        DISSLLoss()(student_a=sa, student_b=sb, teacher_a=ta)
    with pytest.raises(TypeError, match="unexpected keyword"):
        DISSLLoss()(student_a=sa, student_b=sb, teacher_a=ta, teacher_c=tb)


def test_objectives_declare_what_training_feeds_them():
    assert {n: c.inputs for n, c in OBJECTIVES.items()} == {
        "info-vicreg": "views", "vicreg": "views", "barlow": "views", "simclr": "views",
        "cissl": "heads", "dissl": "heads", "vicreg-logdet": "views", "vicreg-pairdist": "views",
        "byol": "target", "byol-logdet": "target"}
    assert all(c.gathers for c in OBJECTIVES.values())
    assert CISSLLoss.student_batchnorm and not DISSLLoss.student_batchnorm


def test_dissl_warns_below_collapse_threshold():
    with pytest.warns(UserWarning, match=r"lambd=1.5 < 1 \+ beta=1.8"):
        DISSLLoss(lambd=1.5, beta=0.8)


def test_dissl_errors():
    with pytest.raises(ValueError, match=r"student_a and teacher_a must have the same shape; got \(4, 5\) "
                                         r"and \(4, 3\)"):
        DISSLLoss()(student_a=torch.ones(4, 5), student_b=torch.ones(4, 5), teacher_a=torch.ones(4, 3),
                    teacher_b=torch.ones(4, 3))
    with pytest.raises(ValueError, match="teacher_temperature must be in"):
        DISSLLoss(teacher_temperature=0.0)
