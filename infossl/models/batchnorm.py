"""Batch norm over the global batch of a process group, on any backend (gloo on the CPU included)."""

from __future__ import annotations

import torch
from torch import nn

from infossl._distributed import gather_with_grad, is_distributed


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training-mode statistics come from the batch gathered from every rank.

    ``nn.SyncBatchNorm`` runs on CUDA only; this version gathers with autograd
    (:func:`~infossl.objectives.gather_with_grad`), so it also works with gloo on the CPU, and a
    ``DistributedDataParallel`` run normalises exactly like one process on the global batch. Outside a
    process group (or in eval mode) it is ordinary batch norm. The state-dict keys are those of
    ``nn.BatchNorm1d/2d``.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.ndim not in (2, 3, 4, 5):
            raise ValueError(f"expected 2-D to 5-D input, got {x.ndim}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        self._check_input_dim(x)
        xg = gather_with_grad(x)  # (world * N, C, ...)
        dims = [0] + list(range(2, x.ndim))
        mean = xg.mean(dim=dims)  # (C,)
        var = xg.var(dim=dims, unbiased=False)  # (C,)
        if self.track_running_stats and self.running_mean is not None:
            count = xg.numel() // xg.shape[1]
            momentum = self.momentum if self.momentum is not None else 0.0
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
                self.running_var.mul_(1 - momentum).add_(momentum * var.detach() * count / max(count - 1, 1))
        shape = [1, -1] + [1] * (x.ndim - 2)
        out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_global_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every batch norm in ``module`` by :class:`GlobalBatchNorm`, keeping parameters and buffers.

    Each parameter keeps its ``requires_grad`` (a frozen copy, such as BYOL's target network, stays frozen, so
    ``DistributedDataParallel`` does not wait for gradients that never come).

    Returns
    -------
    nn.Module
        ``module`` converted in place, or the replacement when ``module`` itself is a batch norm.
    """
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        new.load_state_dict(module.state_dict())
        for name, param in module.named_parameters():
            getattr(new, name).requires_grad_(param.requires_grad)
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, convert_global_batchnorm(child))
    return module
