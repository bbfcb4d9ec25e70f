"""Loss modules on generated bad batches: clear errors, finite values, or NaN with a NonFiniteLossWarning."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from infossl.objectives import OBJECTIVES
from ._contract import assert_contract

BATCH_KINDS = ("normal", "float16", "bfloat16", "int", "numpy", "list", "1d", "3d", "mismatched", "tiny", "meta",
               "sparse", "nan", "outlier", "scale-big", "scale-small", "constant", "non-contiguous", "float64",
               "requires-grad")


def batch(kind, n, d, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g)
    w = z + 0.1 * torch.randn(n, d, generator=g)
    conv = {"float16": torch.float16, "bfloat16": torch.bfloat16, "int": torch.int64, "float64": torch.float64}
    if kind in conv:
        return z.to(conv[kind]), w.to(conv[kind])
    if kind == "numpy":
        return z.numpy(), w.numpy()
    if kind == "list":
        return z.tolist(), w.tolist()
    if kind == "1d":
        return z[:, 0], w[:, 0]
    if kind == "3d":
        return z[:, :, None], w[:, :, None]
    if kind == "mismatched":
        return z, w[:-1]
    if kind == "tiny":
        return z[:1], w[:1]
    if kind == "meta":
        return z.to("meta"), w.to("meta")
    if kind == "sparse":
        return z.to_sparse(), w.to_sparse()
    if kind == "nan":
        z[0, 0] = float("nan")
    if kind == "outlier":
        z[0] = 1e30
    if kind == "scale-big":
        z, w = z * 1e30, w * 1e30
    if kind == "scale-small":
        z, w = z * 1e-30, w * 1e-30
    if kind == "constant":
        z, w = torch.ones(n, d), torch.ones(n, d)
    if kind == "non-contiguous":
        z, w = z.repeat(1, 2)[:, ::2], w.repeat(1, 2)[:, ::2]
    if kind == "requires-grad":
        z.requires_grad_()
    return z, w


def call(name, a, b, c, e):
    loss = OBJECTIVES[name]() if name != "info-vicreg" else OBJECTIVES[name](entropy="logdet")
    if OBJECTIVES[name].inputs == "heads":
        return loss(student_a=a, student_b=b, teacher_a=c, teacher_b=e)
    if OBJECTIVES[name].inputs == "target":
        return loss(online_a=a, online_b=b, prediction_a=c, prediction_b=e, target_a=b, target_b=a)
    return loss(a, b)


@given(name=st.sampled_from(sorted(OBJECTIVES)), kind=st.sampled_from(BATCH_KINDS), n=st.integers(2, 24),
       d=st.integers(1, 12), seed=st.integers(0, 999))
def test_loss_contract(name, kind, n, d, seed):
    a, b = batch(kind, n, d, seed)
    c, e = batch(kind, n, d, seed + 1)
    out = assert_contract(call, name, a, b, c, e, limit=20)
    if kind in ("numpy", "list", "1d", "3d", "mismatched", "tiny", "meta", "sparse", "int"):
        assert out.kind == "error", out.detail
    if kind == "nan":
        assert out.kind in ("error", "nan-with-warning"), out.detail


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_meta_batches_are_refused_by_type(name):
    a = torch.empty(4, 3, device="meta")
    with pytest.raises(TypeError, match="meta tensor"):
        call(name, a, a, a, a)
