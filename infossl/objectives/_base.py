"""The loss template: the steps every loss of :mod:`infossl.objectives` shares, written once.

:meth:`Loss.forward` (through :class:`ViewLoss` or :class:`HeadLoss`) checks the inputs, switches autocast
off, promotes half precision to float32, watches the gradients of the backward pass, calls the subclass's
:meth:`Loss.terms`, keeps the detached terms in ``last_terms`` and reports a non-finite loss. A loss class
only declares what it needs (``inputs``, ``gathers``, ``power``) and writes ``terms``: the formula. Gathering
across ranks is a step of the formula (each loss gathers different tensors at a different point), so the
template offers it as :meth:`Loss.gather` and :meth:`Loss.rank_and_world`, no-ops unless
``gather_distributed``.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Optional

import torch
from torch import nn

from infossl._backend import refuse_special_tensor
from infossl._distributed import gather_with_grad, rank_and_world
from infossl._backend import autocast_disabled
from infossl.objectives._numerics import GradientWatch, check_loss, promote

#: The inputs of a two-view loss, ``forward(z_a, z_b)``.
VIEW_INPUTS = ("z_a", "z_b")
#: The one input order of the student-teacher objectives (CISSL, DISSL).
HEAD_INPUTS = ("student_a", "student_b", "teacher_a", "teacher_b")
#: The one input order of the objectives with a predictor and a target network (BYOL).
TARGET_INPUTS = ("online_a", "online_b", "prediction_a", "prediction_b", "target_a", "target_b")


def check_view_pair(z_a: object, z_b: object, *, names: tuple[str, str] = VIEW_INPUTS) -> None:
    """Refuse anything but two floating tensors of the same (batch >= 2, dim) shape."""
    for name, z in zip(names, (z_a, z_b)):
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
        refuse_special_tensor(z, name)  # meta, sparse, quantized
        if not z.is_floating_point():
            raise TypeError(f"{name} must have a floating dtype, got {z.dtype}")
        if z.ndim != 2:
            raise ValueError(f"{name} must be 2-D (batch, dim); got shape {tuple(z.shape)}")
    shape_a, shape_b = tuple(z_a.shape), tuple(z_b.shape)  # type: ignore[union-attr]
    if shape_a != shape_b:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape; got {shape_a} and {shape_b}")
    if shape_a[0] < 2:
        raise ValueError(f"the batch size must be at least 2 (variances need two rows); got {shape_a[0]}")


class Loss(nn.Module, abc.ABC):
    """Base of the losses: the shared prelude in :meth:`forward`, the formula in :meth:`terms`.

    Parameters
    ----------
    gather_distributed : bool
        Whether :meth:`gather` collects a tensor from all ranks (with gradients); a no-op without an
        initialised process group.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor or None
        The detached terms of the last forward call (``"loss"`` among them), kept from the computation.
    """

    #: What the training loop feeds ``forward``: "views" -> (z_a, z_b), the two views' embeddings;
    #: "heads" -> (student_a, student_b, teacher_a, teacher_b), the two heads on both views;
    #: "target" -> :data:`TARGET_INPUTS`, the online projections, the predictor's outputs and the target
    #: network's projections of both views.
    inputs: ClassVar[str]
    #: Whether the model needs a predictor head on the projector (BYOL's q).
    predictor: ClassVar[bool] = False
    #: The target network the model needs: None, or "ema" -- a copy of the backbone and projector that
    #: follows the online weights as an exponential moving average (the loss's ``target_momentum``).
    target: ClassVar[Optional[str]] = None
    #: Whether the loss accepts ``gather_distributed`` (batch statistics over all ranks under DDP).
    gathers: ClassVar[bool] = True
    #: The highest power of the inputs' scale that the loss's statistics form (2 for covariances, 4 for
    #: squared covariances): a non-finite loss at a large input magnitude is then reported as an overflow.
    power: ClassVar[int] = 2

    def __init__(self, *, gather_distributed: bool = False) -> None:
        super().__init__()
        self.gather_distributed = bool(gather_distributed)
        self.last_terms: Optional[dict[str, torch.Tensor]] = None

    @abc.abstractmethod
    def terms(self, *tensors: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss's formula on the checked, promoted inputs: a dict of 0-d tensors with ``"loss"``."""

    def gather(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` gathered from all ranks along the rows (autograd-correct) when ``gather_distributed``.

        Returns
        -------
        torch.Tensor
            ``t`` itself, or (world x rows, ...) rows of all ranks in rank order.
        """
        return gather_with_grad(t) if self.gather_distributed else t

    def rank_and_world(self) -> tuple[int, int]:
        """(rank, world size) when ``gather_distributed``, else (0, 1).

        Returns
        -------
        tuple of int
            (rank, world size).
        """
        return rank_and_world() if self.gather_distributed else (0, 1)

    def _evaluate(self, given: dict[str, torch.Tensor]) -> torch.Tensor:
        names, tensors = tuple(given), tuple(given.values())
        owner = type(self).__name__
        watch = GradientWatch(owner, names, tuple(t.dtype for t in tensors))
        with autocast_disabled(tensors[0].device.type, "cpu"):
            found = self.terms(*watch.attach(promote(*tensors)))  # half precision -> float32 statistics
        loss = found["loss"]
        self.last_terms = {k: v.detach() for k, v in found.items()}
        watch.loss = self.last_terms["loss"]
        watch.loss_finite = check_loss(loss, owner, given, power=self.power)
        return loss


class ViewLoss(Loss):
    """A loss of two views' embeddings, ``forward(z_a, z_b)`` with both of shape (batch, dim)."""

    inputs: ClassVar[str] = "views"

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
        check_view_pair(z_a, z_b)
        return self._evaluate({"z_a": z_a, "z_b": z_b})


class HeadLoss(Loss):
    """A loss of a student and a teacher head on two views, ``forward(student_a, student_b, teacher_a,
    teacher_b)``, all four of shape (batch, k)."""

    inputs: ClassVar[str] = "heads"
    #: Whether the linear student head ends with a BatchNorm (CISSL) or not (DISSL).
    student_batchnorm: ClassVar[bool]

    def forward(self, student_a: torch.Tensor, student_b: torch.Tensor, teacher_a: torch.Tensor,
                teacher_b: torch.Tensor) -> torch.Tensor:
        check_view_pair(student_a, student_b, names=("student_a", "student_b"))
        check_view_pair(teacher_a, teacher_b, names=("teacher_a", "teacher_b"))
        check_view_pair(student_a, teacher_a, names=("student_a", "teacher_a"))
        return self._evaluate({"student_a": student_a, "student_b": student_b, "teacher_a": teacher_a,
                               "teacher_b": teacher_b})


class TargetLoss(Loss):
    """A loss of an online network with a predictor and a target network (BYOL), ``forward(online_a, online_b,
    prediction_a, prediction_b, target_a, target_b)``, all six of shape (batch, k).

    ``online_*`` are the online projections, ``prediction_*`` the predictor's outputs on them and
    ``target_*`` the target network's projections; the targets are detached here (the stop-gradient of the
    formula), whatever the caller passes. A subclass writes ``terms`` and :meth:`target_momentum`.
    """

    inputs: ClassVar[str] = "target"
    predictor: ClassVar[bool] = True
    target: ClassVar[Optional[str]] = "ema"

    def forward(self, online_a: torch.Tensor, online_b: torch.Tensor, prediction_a: torch.Tensor,
                prediction_b: torch.Tensor, target_a: torch.Tensor, target_b: torch.Tensor) -> torch.Tensor:
        check_view_pair(online_a, online_b, names=("online_a", "online_b"))
        check_view_pair(prediction_a, prediction_b, names=("prediction_a", "prediction_b"))
        check_view_pair(target_a, target_b, names=("target_a", "target_b"))
        check_view_pair(prediction_a, target_a, names=("prediction_a", "target_a"))
        return self._evaluate({"online_a": online_a, "online_b": online_b, "prediction_a": prediction_a,
                               "prediction_b": prediction_b, "target_a": target_a.detach(),
                               "target_b": target_b.detach()})

    @abc.abstractmethod
    def target_momentum(self, step: int, total_steps: int) -> float:
        """The EMA momentum tau of the target update after optimiser step ``step`` (0-based) of
        ``total_steps``: target <- tau target + (1 - tau) online.

        Returns
        -------
        float
            The momentum tau in [0, 1].
        """
