"""infossl._distributed outside a process group: gathering returns the input itself, rank 0 of 1. The 2-process
gloo run (gradients across ranks) is in tests/objectives/test_distributed.py."""

import torch
import torch.distributed as dist

from infossl._distributed import gather_with_grad, is_distributed, rank_and_world


def test_single_process_gather_is_the_identity_with_gradients():
    assert not (dist.is_available() and dist.is_initialized())
    assert is_distributed() is False and rank_and_world() == (0, 1)
    t = torch.randn(4, 3, requires_grad=True)
    out = gather_with_grad(t)
    assert out is t
    (out * 2).sum().backward()
    assert torch.equal(t.grad, torch.full((4, 3), 2.0))
