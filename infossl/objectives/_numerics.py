"""Numerics shared by the losses: compute dtype, autocast, and what a non-finite result means.

* Half-precision inputs (float16, bfloat16) are computed in float32, with autocast switched off inside the
  loss, as autocast itself does for losses (``F.cross_entropy`` and friends run in float32 under autocast).
  The loss and ``last_terms`` are then float32; gradients flow back to the half-precision inputs in their
  own dtype. float32/float64 inputs are computed and returned in their dtype.
* A loss that is not finite is returned as it is (the training loop stops on it with
  :class:`~infossl.training.NonFiniteLossError`, after all ranks agree) together with a
  :class:`NonFiniteLossWarning` that says why: which input holds how many NaN/Inf values, or which input's
  magnitude overflows the compute dtype in the loss's squared statistics. Raising inside the loss instead
  would leave the other ranks of a distributed job waiting in their collectives.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import torch


class NonFiniteLossWarning(RuntimeWarning):
    """A loss evaluated to NaN or infinity; the message names the input or the overflow responsible."""


HALF = (torch.float16, torch.bfloat16)


def compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float32 when any input is half precision (or all are), else the promoted dtype of the inputs."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return torch.float32 if dtype in HALF or not dtype.is_floating_point else dtype


def promote(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The inputs in :func:`compute_dtype` (no copy where the dtype already matches)."""
    dtype = compute_dtype(*tensors)
    return tuple(t if t.dtype == dtype else t.to(dtype) for t in tensors)


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Switch autocast off for ``device``'s type (and the CPU) within the block, where it is on."""
    with contextlib.ExitStack() as stack:
        for kind in {device.type, "cpu"}:
            try:
                on = torch.is_autocast_enabled(kind)
            except (TypeError, RuntimeError):  # device types without autocast
                on = False
            if on:
                stack.enter_context(torch.autocast(kind, enabled=False))
        yield


def _describe(name: str, t: torch.Tensor) -> str:
    t = t.detach()
    n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
    if n_nan or n_inf:
        bad = torch.nonzero(~torch.isfinite(t))[0].tolist()
        return f"{name} holds {n_nan} NaN and {n_inf} infinite values (first at {tuple(bad)})"
    return ""


def check_loss(loss: torch.Tensor, owner: str, inputs: dict[str, torch.Tensor], *, power: int = 2) -> torch.Tensor:
    """Return ``loss``; if it is not finite, warn with :class:`NonFiniteLossWarning` naming the cause.

    ``power`` is the highest power of the inputs' scale that the loss's statistics form (2 for
    covariances, 4 for squared covariances), used to tell an overflow from the data's magnitude.
    """
    if bool(torch.isfinite(loss.detach()).all()):
        return loss
    causes = [c for c in (_describe(k, v) for k, v in inputs.items()) if c]
    if not causes:
        finfo = torch.finfo(loss.dtype)
        peak = {k: float(v.detach().abs().amax()) for k, v in inputs.items() if v.numel()}
        name, top = max(peak.items(), key=lambda kv: kv[1]) if peak else ("input", float("nan"))
        causes = [f"{name} reaches magnitude {top:.3g}; the loss's statistics (powers up to {power} of the "
                  f"entries) exceed the {loss.dtype} range ({finfo.max:.3g}). Normalise or clip the "
                  "embeddings (or compute in float64)"]
    warnings.warn(f"{owner} is {float(loss.detach()):g}: " + "; ".join(causes), NonFiniteLossWarning,
                  stacklevel=3)
    return loss


def unit_rows(z: torch.Tensor) -> torch.Tensor:
    """``F.normalize(z, dim=1)`` that survives any scale: each row is first divided by its (detached) largest
    magnitude, so the squared norm neither overflows (entries of 1e30) nor underflows (1e-30). The value and
    the gradient equal those of ``F.normalize`` wherever that one is finite (normalisation is scale-invariant
    and its Jacobian homogeneous of degree -1). Rows of zeros stay zero."""
    peak = z.detach().abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)  # (n, 1)
    return torch.nn.functional.normalize(z / peak, dim=1)
