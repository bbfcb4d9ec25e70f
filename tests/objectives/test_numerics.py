"""Loss numerics: half precision, large logit scale, non-finite and absurd-scale batches."""

import math
import re
import warnings

import pytest
import torch

from infossl.objectives import (BarlowTwinsLoss, CISSLLoss, DISSLLoss, InfoNCELoss, InfoVICRegLoss,
                                VICRegLoss)
from infossl.objectives import NonFiniteGradientWarning, ViewLoss
from infossl.objectives._numerics import NonFiniteLossWarning, unit_rows
from infossl.objectives.derived import ENTROPIES

VIEW_LOSSES = [VICRegLoss, BarlowTwinsLoss, InfoNCELoss] + [
    (lambda e=e: InfoVICRegLoss(entropy=e)) for e in ENTROPIES]
VIEW_IDS = ["vicreg", "barlow", "infonce"] + [f"info-{e}" for e in ENTROPIES]


def _views(n, d, dtype, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    b = a + 0.3 * scale * torch.randn(n, d, generator=g, dtype=torch.float64)
    return a.to(dtype).requires_grad_(), b.to(dtype).requires_grad_()


def _heads(n, c, dtype, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(scale * torch.randn(n, c, generator=g, dtype=torch.float64)).to(dtype).requires_grad_()
            for _ in range(4)]


def _call_heads(loss, xs):
    return loss(student_a=xs[0], student_b=xs[1], teacher_a=xs[2], teacher_b=xs[3])


def _finite(loss, xs):
    loss.backward()
    return bool(torch.isfinite(loss)) and all(bool(torch.isfinite(x.grad).all()) for x in xs)


@pytest.mark.parametrize("make", VIEW_LOSSES, ids=VIEW_IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_views_give_finite_loss_and_gradients(make, dtype):
    # n < d and n > d, where the float16 products used to overflow
    for n, d in ((64, 256), (256, 32)):
        a, b = _views(n, d, dtype, scale=3.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the gaussian estimator's rank note
            loss = make()(a, b)
        assert loss.dtype == torch.float32  # statistics in float32, as under autocast
        assert _finite(loss, (a, b))
        assert a.grad.dtype == dtype


@pytest.mark.parametrize("make", VIEW_LOSSES[:3], ids=VIEW_IDS[:3])
def test_half_precision_matches_float32_of_the_same_values(make):
    a16, b16 = _views(128, 64, torch.float16)
    a32, b32 = a16.detach().float(), b16.detach().float()
    assert float(make()(a16, b16)) == pytest.approx(float(make()(a32, b32)), rel=1e-5)


@pytest.mark.parametrize("make", [CISSLLoss, DISSLLoss], ids=["cissl", "dissl"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_heads(make, dtype):
    xs = _heads(64, 32, dtype, scale=4.0)
    loss = _call_heads(make(), xs)
    assert loss.dtype == torch.float32
    assert _finite(loss, xs)


@pytest.mark.parametrize("scale", [1e4, 1e6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dissl_large_logit_scale_has_finite_gradients(scale, dtype):
    xs = _heads(32, 16, dtype, scale=scale)
    loss = _call_heads(DISSLLoss(), xs)
    assert _finite(loss, xs)


def test_dissl_large_logit_scale_under_bf16_autocast():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(16, 16, generator=g, requires_grad=True)
    xs = [(1e4 * torch.randn(32, 16, generator=g)) for _ in range(4)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        heads = [x @ w for x in xs]  # bf16 outputs, like a head under autocast
        loss = _call_heads(DISSLLoss(), heads)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(w.grad).all()


def test_dissl_stable_marginal_matches_the_plain_formula():
    xs = [x.detach().double() for x in _heads(16, 8, torch.float64)]
    loss = _call_heads(DISSLLoss(), xs)
    lt = [torch.log_softmax(x / 0.5, dim=1) for x in xs[2:]]
    ls = [torch.log_softmax(x, dim=1) for x in xs[:2]]
    ref = 0.0
    for x, a in ((0, 1), (1, 0)):
        t = lt[x].exp()
        m = t.mean(0)
        ref += (-(t * ls[a]).sum(1).mean() + 2.3 * (m * m.log()).sum() - 0.8 * (t * lt[a]).sum(1).mean()) / 2
    assert float(loss) == pytest.approx(float(ref), rel=1e-12)


@pytest.mark.parametrize("scale", [1e-30, 1e-8, 1e30])
def test_normalising_losses_are_scale_invariant(scale):
    a, b = _views(16, 8, torch.float32)
    ref = InfoNCELoss()(a, b)
    assert float(InfoNCELoss()(a.detach() * scale, b.detach() * scale)) == pytest.approx(float(ref), rel=1e-5)
    xs = [x.detach() for x in _heads(16, 8, torch.float32)]
    ref = _call_heads(CISSLLoss(), xs)
    assert float(_call_heads(CISSLLoss(), [x * scale for x in xs])) == pytest.approx(float(ref), rel=1e-5)


def test_unit_rows_matches_normalize_and_its_gradient():
    z = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 5, dtype=torch.float64)
    (unit_rows(z) * w).sum().backward()
    g1 = z.grad.clone()
    z.grad = None
    (torch.nn.functional.normalize(z, dim=1) * w).sum().backward()
    assert torch.allclose(g1, z.grad)
    assert torch.equal(unit_rows(torch.zeros(2, 3)), torch.zeros(2, 3))


@pytest.mark.parametrize("make", VIEW_LOSSES, ids=VIEW_IDS)
def test_nan_input_warns_naming_the_view(make):
    a, b = _views(16, 4, torch.float32)
    b = b.detach().clone()
    b[3, 1] = math.nan
    loss_fn = make()
    if getattr(loss_fn, "entropy", "vicreg") != "vicreg":  # the estimators validate their input: an error
        with pytest.raises(ValueError, match=r"1 NaN and 0 infinite values \(first at row 3, column 1\)"):
            loss_fn(a, b)
        return
    match = r"z_b holds 1 NaN and 0 infinite values \(first at \(3, 1\)\)"
    with pytest.warns(NonFiniteLossWarning, match=match):
        loss = loss_fn(a, b)
    assert not torch.isfinite(loss)


def test_outlier_row_beyond_float32_range_warns_with_its_magnitude():
    a, b = _views(16, 4, torch.float32)
    a = a.detach().clone()
    a[0] = 1e30
    with pytest.warns(NonFiniteLossWarning, match=r"z_a reaches magnitude 1e\+30.*float32 range"):
        VICRegLoss()(a, b)
    # the same batch in float64 is representable and finite: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteLossWarning)
        assert torch.isfinite(VICRegLoss()(a.double(), b.double()))


def test_heads_nan_warns_naming_the_head():
    xs = [x.detach().clone() for x in _heads(8, 4, torch.float32)]
    xs[2][0, 0] = math.inf
    for make in (CISSLLoss, DISSLLoss):
        with pytest.warns(NonFiniteLossWarning, match="teacher_a holds 0 NaN and 1 infinite"):
            _call_heads(make(), xs)


def test_finite_loss_emits_no_warning():
    a, b = _views(32, 8, torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for make in VIEW_LOSSES[:3]:
            make()(a, b)


@pytest.mark.parametrize("make", [VICRegLoss] + VIEW_LOSSES[3:], ids=["vicreg"] + VIEW_IDS[3:])
def test_float16_at_scale_1e4_gives_finite_gradients_or_names_the_overflow(make):
    a, b = _views(32, 8, torch.float16, scale=1e4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = make()(a, b)
        assert bool(torch.isfinite(loss))
        loss.backward()
    named = [str(w.message) for w in caught if issubclass(w.category, NonFiniteGradientWarning)]
    if all(bool(torch.isfinite(x.grad).all()) for x in (a, b)):
        assert named == []
    else:  # the covariance term's float32 gradient (about 1e9 here) cannot be held by float16
        assert len(named) == 1 and re.search(r"gradient with respect to z_a reaches \S+ in torch\.float32, "
                                             r"beyond the torch\.float16 range \(6\.55e\+04\)", named[0])
    if make is VICRegLoss:  # the overflowing case is exercised, so the branch above can fail
        assert named


def test_finite_loss_with_a_nan_gradient_warns_in_the_backward_pass():
    class Distance(ViewLoss):  # mean Euclidean distance: its gradient is 0/0 where the views coincide
        def terms(self, z_a, z_b):
            return {"loss": (z_a - z_b).pow(2).sum(dim=1).sqrt().mean()}

    a, _ = _views(8, 3, torch.float64)
    b = a.detach().clone().requires_grad_()
    loss = Distance()(a, b)
    assert float(loss) == 0.0
    match = r"Distance is finite \(0\) but its gradient is not: the gradient with respect to z_a holds 24 NaN"
    with pytest.warns(NonFiniteGradientWarning, match=match):
        loss.backward()
    assert torch.isnan(a.grad).all()  # passed on unchanged: the training loop sees what autograd computed


def test_a_non_finite_loss_is_reported_once_not_again_for_its_gradient():
    a, b = _views(16, 4, torch.float32)
    b = b.detach().clone()
    b[0, 0] = math.inf
    with pytest.warns(NonFiniteLossWarning) as caught:
        VICRegLoss()(a, b).backward()
    assert not any(issubclass(w.category, NonFiniteGradientWarning) for w in caught)
