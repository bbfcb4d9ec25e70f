"""Autograd-correct gathering of a batch across ``torch.distributed`` ranks.

``torch.distributed.all_gather`` has no autograd: the gathered copies of other ranks' rows carry no
gradient back to them. :func:`gather_with_grad` wraps it in an autograd function whose backward sums the
incoming gradients over ranks (``all_reduce``) and returns this rank's slice, the scheme of the official
VICReg ``FullGatherLayer``. With it, a loss computed on the gathered batch on every rank has, after
``DistributedDataParallel`` averages over ranks, the gradient of the same loss computed on the global batch
in one process.

Convention (the one DDP uses): if every rank computes a loss whose mean over ranks equals the global-batch
loss :math:`L`, the gradient this rank sees for its own rows is ``world_size`` times :math:`\\partial L /
\\partial z_{\\text{own}}`; DDP's averaging of parameter gradients divides it back.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when ``torch.distributed`` is available, initialised and has more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t.contiguous())
        return tuple(parts)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        stacked = torch.stack([g.contiguous() for g in grads])  # (world, n_local, ...)
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
        return stacked[dist.get_rank()]


def gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` from every rank along dim 0, with gradients flowing back to every rank.

    Parameters
    ----------
    t : torch.Tensor, shape (n_local, ...)
        This rank's rows. Every rank must pass the same shape (``all_gather`` requires it).

    Returns
    -------
    torch.Tensor, shape (world_size * n_local, ...)
        Rows ordered by rank. When ``torch.distributed`` is not initialised (or has one rank) ``t`` itself
        is returned, so single-process code needs no special case.
    """
    if not is_distributed():
        return t
    return torch.cat(_GatherWithGrad.apply(t), dim=0)


def rank_and_world() -> tuple[int, int]:
    """(rank, world_size), or (0, 1) outside a process group."""
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()
