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
* A finite loss whose gradient is not finite gets the same treatment in the backward pass: the gradient is
  passed on unchanged and a :class:`NonFiniteGradientWarning` names the input, the count of NaN/Inf entries,
  or, for half-precision inputs, the gradient's peak that exceeds the input dtype's range (VICReg's
  covariance term at scale 1e4 in float16: a float32 gradient near 1e9 that turns into inf when cast back
  to float16). Raising there would leave the other ranks waiting in DDP's gradient all-reduce.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from infossl._warnings import warn


class NonFiniteLossWarning(RuntimeWarning):
    """A loss evaluated to NaN or infinity; the message names the input or the overflow responsible."""


class NonFiniteGradientWarning(NonFiniteLossWarning):
    """A finite loss has a NaN or infinite gradient with respect to an input (or one that overflows the
    input's half-precision dtype); the message names the input and the magnitude."""


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


def _describe(name: str, t: torch.Tensor) -> str:
    t = t.detach()
    n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
    if n_nan or n_inf:
        bad = torch.nonzero(~torch.isfinite(t))[0].tolist()
        return f"{name} holds {n_nan} NaN and {n_inf} infinite values (first at {tuple(bad)})"
    return ""


def check_loss(loss: torch.Tensor, owner: str, inputs: dict[str, torch.Tensor], *, power: int = 2) -> bool:
    """Whether ``loss`` is finite; if it is not, warn with :class:`NonFiniteLossWarning` naming the cause.

    ``power`` is the highest power of the inputs' scale that the loss's statistics form (2 for
    covariances, 4 for squared covariances), used to tell an overflow from the data's magnitude.
    """
    if bool(torch.isfinite(loss.detach()).all()):
        return True
    causes = [c for c in (_describe(k, v) for k, v in inputs.items()) if c]
    if not causes:
        finfo = torch.finfo(loss.dtype)
        peak = {k: float(v.detach().abs().amax()) for k, v in inputs.items() if v.numel()}
        name, top = max(peak.items(), key=lambda kv: kv[1]) if peak else ("input", float("nan"))
        causes = [f"{name} reaches magnitude {top:.3g}; the loss's statistics (powers up to {power} of the "
                  f"entries) exceed the {loss.dtype} range ({finfo.max:.3g}). Normalise or clip the "
                  "embeddings (or compute in float64)"]
    warn(f"{owner} is {float(loss.detach()):g}: " + "; ".join(causes), NonFiniteLossWarning)
    return False


def unit_rows(z: torch.Tensor) -> torch.Tensor:
    """``F.normalize(z, dim=1)`` that survives any scale: each row is first divided by its (detached) largest
    magnitude, so the squared norm neither overflows (entries of 1e30) nor underflows (1e-30). The value and
    the gradient equal those of ``F.normalize`` wherever that one is finite (normalisation is scale-invariant
    and its Jacobian homogeneous of degree -1). Rows of zeros stay zero."""
    peak = z.detach().abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(z.dtype).tiny)  # (n, 1)
    return torch.nn.functional.normalize(z / peak, dim=1)


class GradientWatch:
    """Checks, in the backward pass, the gradients that flow from a loss into its inputs.

    :meth:`attach` threads the (promoted) inputs through an identity autograd function whose backward hands
    the gradients to :meth:`inspect` unchanged. ``input_dtypes`` are the dtypes the caller passed, so a
    float32 gradient that will overflow on its way back to a float16 input is named before it does.
    ``loss_finite`` is set after the forward pass: a non-finite loss has already been reported by
    :func:`check_loss`, and its gradient says nothing new.
    """

    def __init__(self, owner: str, names: tuple[str, ...], input_dtypes: tuple[torch.dtype, ...]) -> None:
        self.owner, self.names, self.input_dtypes = owner, names, input_dtypes
        self.loss_finite = True
        self.loss: Optional[torch.Tensor] = None  # detached, read only for a warning's message

    def attach(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """The same tensors, watched in the backward pass when gradients are recorded (else as they are)."""
        if not torch.is_grad_enabled() or not any(t.requires_grad for t in tensors):
            return tensors
        return _Watched.apply(self, *tensors)

    def inspect(self, grads: tuple[Optional[torch.Tensor], ...]) -> None:
        """Warn with :class:`NonFiniteGradientWarning` about every input whose gradient is not finite, or
        exceeds the range of the input's own dtype."""
        if not self.loss_finite:
            return
        present = [(name, g, dtype) for name, g, dtype in zip(self.names, grads, self.input_dtypes)
                   if g is not None]
        if not present:
            return
        with torch.no_grad():  # one device sync for all inputs
            stats = torch.stack([_gradient_stats(g) for _, g, _ in present]).tolist()  # (inputs, 2)
        causes = []
        for (name, g, dtype), (n_bad, peak) in zip(present, stats):
            if n_bad:
                causes.append(f"the gradient with respect to {name} holds {int(n_bad)} NaN or infinite "
                              f"values in {g.dtype}; the backward pass of the loss's statistics overflows "
                              "there")
            elif dtype.is_floating_point and peak > torch.finfo(dtype).max:
                causes.append(f"the gradient with respect to {name} reaches {peak:.3g} in {g.dtype}, beyond "
                              f"the {dtype} range ({torch.finfo(dtype).max:.3g}): it becomes infinite in "
                              f"{name}'s own dtype")
        if causes:
            value = math.nan if self.loss is None else float(self.loss)
            warn(f"{self.owner} is finite ({value:g}) but its gradient is not: "
                          + "; ".join(causes) + ". Normalise or clip the embeddings, or compute the loss on "
                          "float32 (or float64) inputs", NonFiniteGradientWarning)


def _gradient_stats(g: torch.Tensor) -> torch.Tensor:
    """(2,) float64: the number of non-finite entries of ``g`` and its largest finite magnitude."""
    finite = torch.nan_to_num(g.abs(), nan=0.0, posinf=0.0, neginf=0.0)
    peak = finite.amax() if g.numel() else finite.new_zeros(())
    return torch.stack([(~torch.isfinite(g)).sum().to(torch.float64), peak.to(torch.float64)])


class _Watched(torch.autograd.Function):
    """Identity whose backward shows the incoming gradients to a :class:`GradientWatch`."""

    @staticmethod
    def forward(ctx, watch: GradientWatch,  # type: ignore[override]
                *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.watch = watch
        return tuple(t.view_as(t) for t in tensors)

    @staticmethod
    def backward(ctx, *grads: Optional[torch.Tensor]  # type: ignore[override]
                 ) -> tuple[Optional[torch.Tensor], ...]:
        ctx.watch.inspect(grads)
        return (None, *grads)
