"""The training engine: :func:`fit` trains any torch module with a two-view loss, on a tensor or a loader.

* **Device**: the model and batches go to ``device``. On CUDA the forward pass runs under ``torch.autocast``
  (float16) with gradient scaling; the estimators inside the losses switch autocast off and compute in float32
  themselves. On the CPU everything is float32.
* **Distributed**: inside a process group the model is wrapped in ``DistributedDataParallel``; every rank
  draws the same shuffling and augmentations for the *global* batch and keeps its own slice, and the losses
  gather their batch statistics across ranks (each objective declares ``gathers``), so W processes compute the
  same losses and gradients as one process on the global batch.
* **Inputs**: each objective declares ``inputs`` ("views", "heads" or "target", :mod:`infossl.objectives`);
  the engine feeds it accordingly and knows no objective by name. An objective declaring ``target = "ema"``
  (BYOL) gets, after every optimiser step, the EMA update of the model's target network with the momentum of
  its ``target_momentum(step, total_steps)``; the target's weights are in the model's ``state_dict``, so a
  checkpoint saves and restores them.
* **Divergence**: a NaN or infinite loss raises :class:`NonFiniteLossError` before the optimiser step, so the
  parameters stay those of the last good state.

A call is ``fit(model, data, objective, config, state)``: a :class:`FitConfig` says how to train, a
:class:`RunState` holds what changes while training (optimiser, scaler, generator, epoch, step) and is what a
checkpoint keeps. :class:`Fit` is the same call prepared, for a caller that needs the run's length before it
starts. The run orchestration around it (config, data, monitors, checkpoints, resume) is
:mod:`infossl.training.run`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import torch
import torch.distributed as dist
from torch import nn

from infossl._distributed import rank_and_world
from infossl._validation import check_choice, check_int
from infossl.training.augment import Augmentation
from infossl.training.data import batch_indices

Callback = Callable[[dict, dict], Optional[bool]]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stopped before the update."""


class TwoViews(nn.Module):
    """Run ``model`` on both views in one ``forward`` (one DDP call per step).

    With ``with_student`` each output is ``model(x, with_student=True)`` (teacher, student) pair; with
    ``with_target`` it is ``model(x, with_target=True)`` (online, prediction, target) triple.
    """

    def __init__(self, model: nn.Module, *, with_student: bool = False, with_target: bool = False) -> None:
        super().__init__()
        self.model = model
        self.with_student = with_student
        self.with_target = with_target

    def forward(self, xa: torch.Tensor, xb: torch.Tensor) -> tuple[Any, Any]:
        """The model's outputs on each of the two views.

        Returns
        -------
        tuple
            (output of view a, output of view b).
        """
        if self.with_target:
            return self.model(xa, with_target=True), self.model(xb, with_target=True)
        if self.with_student:
            return self.model(xa, with_student=True), self.model(xb, with_student=True)
        return self.model(xa), self.model(xb)


def _float(out: Any) -> Any:
    if isinstance(out, tuple):
        return tuple(_float(o) for o in out)
    return out.float()


def needs_heads(objective: nn.Module) -> bool:
    """Whether ``objective`` declares ``inputs = "heads"`` (student and teacher outputs, as CISSL/DISSL).

    Returns
    -------
    bool
    """
    return getattr(objective, "inputs", "views") == "heads"


def needs_target(objective: nn.Module) -> bool:
    """Whether ``objective`` declares ``inputs = "target"`` (online, predictor and target outputs, as BYOL).

    Such an objective also declares ``target = "ema"``: after each optimiser step the loop calls the bare
    model's ``update_target(objective.target_momentum(step, total_steps))``.

    Returns
    -------
    bool
    """
    return getattr(objective, "inputs", "views") == "target"


def compute_loss(objective: nn.Module, out_a: Any, out_b: Any) -> torch.Tensor:
    """The objective on the two views' outputs, fed as the objective's ``inputs`` declaration asks.

    A "heads" objective gets ``model(x, with_student=True)`` pairs (teacher, student) of both views and is
    called with the keywords of its one order (student_a, student_b, teacher_a, teacher_b). A "target"
    objective gets ``model(x, with_target=True)`` triples (online, prediction, target) and is called with
    online_a, online_b, prediction_a, prediction_b, target_a, target_b.

    Returns
    -------
    torch.Tensor
        The 0-d loss.
    """
    out_a, out_b = _float(out_a), _float(out_b)
    if needs_target(objective):
        (za, pa, ta), (zb, pb, tb) = out_a, out_b
        return objective(online_a=za, online_b=zb, prediction_a=pa, prediction_b=pb, target_a=ta, target_b=tb)
    if needs_heads(objective):
        (ta, sa), (tb, sb) = out_a, out_b
        return objective(student_a=sa, student_b=sb, teacher_a=ta, teacher_b=tb)
    return objective(out_a, out_b)


def learning_rate(base: float, step: int, total: int, schedule: str) -> float:
    """``base`` for "constant"; half-cosine from ``base`` to 0 over ``total`` steps for "cosine".

    Returns
    -------
    float
        The learning rate of step ``step``.
    """
    if schedule == "constant" or total <= 0:
        return base
    return base * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


def _views_from_batch(batch: Any, augment: Optional[Augmentation], g: torch.Generator,
                      feature_std: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(batch, (list, tuple)):
        if len(batch) >= 2 and isinstance(batch[1], torch.Tensor) and batch[0].shape == batch[1].shape:
            return batch[0], batch[1]
        batch = batch[0]
    if not isinstance(batch, torch.Tensor):
        raise TypeError("a data loader must yield tensors or (view_a, view_b) pairs, "
                        f"got {type(batch).__name__}")
    if augment is None:
        raise ValueError("single-view batches need an augmentation to make two views; pass augment=...")
    return augment(batch, g, feature_std), augment(batch, g, feature_std)


SCHEDULES = ("cosine", "constant")


def use_amp(amp: Optional[bool], device: torch.device) -> bool:
    """The AMP switch: ``amp`` on CUDA (default on); never on other devices, whose float16 autocast is slow
    or missing. :meth:`RunState.start` asks it once, and the scaler it builds carries the answer.

    Returns
    -------
    bool
        Whether mixed precision is on.
    """
    return device.type == "cuda" if amp is None else bool(amp and device.type == "cuda")


@dataclass(frozen=True)
class FitConfig:
    """How :func:`fit` trains: the loop's options, validated when built.

    Parameters
    ----------
    epochs : int, default 1
        The final epoch number: fit trains epochs ``state.epoch + 1 .. epochs``.
    batch_size : int, default 256
        The global batch for tensor data: each of W processes keeps ``batch_size / W`` rows of it.
    schedule : {"cosine", "constant"}
        "cosine" decays the learning rate to 0 over all steps (half-cosine), "constant" keeps it.
    steps_per_epoch : int, optional
        Cap on steps per epoch (and the epoch length the schedule assumes).
    augment : Augmentation, optional
        Makes the two views of single-view batches; default
        :class:`~infossl.training.augment.Augmentation` ``()``.
    device : str or torch.device, optional
        Default: the device of the model's parameters.
    lr, weight_decay, amp, seed
        What :meth:`RunState.start` builds a fresh state from (ignored when fit is given a state): AdamW's
        learning rate and weight decay, mixed precision (default on CUDA; see :func:`use_amp`) and the seed
        of the generator behind the shuffling and augmentations.
    """

    epochs: int = 1
    batch_size: int = 256
    schedule: str = "cosine"
    steps_per_epoch: Optional[int] = None
    augment: Optional[Augmentation] = None
    device: Union[None, str, torch.device] = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    amp: Optional[bool] = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs", low=1)
        check_int(self.batch_size, "batch_size", low=2)
        check_choice(self.schedule, "schedule", SCHEDULES)
        if self.steps_per_epoch is not None:
            check_int(self.steps_per_epoch, "steps_per_epoch", low=1)
        check_int(self.seed, "seed", low=0)

    def local_batch(self, world: int) -> int:
        """The rows of each global batch one of ``world`` processes trains on.

        Returns
        -------
        int
            ``batch_size / world``.
        """
        if self.batch_size % world:
            raise ValueError(f"batch_size={self.batch_size} must be divisible by the number of processes "
                             f"{world}")
        return self.batch_size // world


@dataclass
class RunState:
    """What changes while a run trains, and what a checkpoint keeps so that a resumed run continues exactly.

    Attributes
    ----------
    optimizer : torch.optim.Optimizer
        Its parameter groups' ``initial_lr`` (set on the first fit) are the schedule's base rates.
    scaler : torch.amp.GradScaler
        Gradient scaling; whether it is enabled is the run's AMP switch.
    generator : torch.Generator
        The CPU generator of the shuffling and augmentations, updated in place.
    epoch, step : int
        The last finished epoch (0: none) and the optimiser steps taken.
    """

    optimizer: torch.optim.Optimizer
    scaler: Any
    generator: torch.Generator
    epoch: int = 0
    step: int = 0

    @classmethod
    def start(cls, model: nn.Module, config: FitConfig, device: Union[None, str, torch.device] = None
              ) -> "RunState":
        """A fresh state for ``model``: AdamW with ``config``'s rates, the scaler of :func:`use_amp` on
        ``device`` (default ``config.device``, else the parameters' device) and a generator seeded
        ``config.seed``.

        Returns
        -------
        RunState
            The fresh state (epoch 0, step 0).
        """
        device = _device(model, config.device if device is None else device)
        # a target network's parameters (requires_grad False) are moved by the EMA, never by the optimiser
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp(config.amp, device))
        return cls(optimizer, scaler, torch.Generator().manual_seed(config.seed))

    def load(self, saved: dict) -> None:
        """Continue from ``saved``, an entry dict of :meth:`entries` (as a checkpoint holds it); a missing
        optimiser or scaler state leaves the fresh one.

        Returns
        -------
        None
        """
        if saved.get("optimizer"):
            self.optimizer.load_state_dict(saved["optimizer"])
        if saved.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(saved["scaler"])
        self.generator.set_state(saved["rng"]["generator"])
        self.epoch, self.step = int(saved["epoch"]), int(saved["step"])

    def entries(self) -> dict:
        """The state as the keyword entries of :func:`infossl.io.train_format.checkpoint_dict`.

        Returns
        -------
        dict
            ``epoch``, ``step``, ``optimizer``, ``scaler`` and ``rng``.
        """
        return {"epoch": self.epoch, "step": self.step, "optimizer": self.optimizer, "scaler": self.scaler,
                "rng": {"generator": self.generator.get_state()}}


class Fit:
    """:func:`fit` made ready: the model placed, the state made, the batches counted and checked.

    Building it checks all a run needs before its first step (the split of the batch over the processes
    included); ``total_steps`` is the run's length, shared by the schedule and any progress bar. :meth:`run`
    trains.
    """

    def __init__(self, model: nn.Module, data: Union[torch.Tensor, Iterable], objective: nn.Module,
                 config: Optional[FitConfig] = None, state: Optional[RunState] = None) -> None:
        self.config = config if config is not None else FitConfig()
        self.objective = objective
        self.placement = _place(model, objective, self.config.device)
        self.state = state if state is not None else RunState.start(self.placement.bare, self.config,
                                                                    self.placement.device)
        self.feed = _Feed(data, self.config, self.state.generator, self.placement.world)
        self.total_steps = self.feed.n_batches * self.config.epochs
        groups = self.state.optimizer.param_groups
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in groups]

    def run(self, *, callback: Optional[Callback] = None, progress: Any = None) -> list[dict]:
        """Train the remaining epochs (see :func:`fit`); returns their records.

        Returns
        -------
        list of dict
            The records of the epochs trained.
        """
        history: list[dict] = []
        for epoch in range(self.state.epoch + 1, self.config.epochs + 1):
            record = self._epoch(epoch, progress)
            history.append(record)
            if callback is not None and callback(record, self.state):
                break
        return history

    def _epoch(self, epoch: int, progress: Any) -> dict:
        """One pass over the feed; the record of :func:`fit`."""
        place, state, optimizer = self.placement, self.state, self.state.optimizer
        place.runner.train()
        t0 = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        count = 0
        lr_now = [group["lr"] for group in optimizer.param_groups]
        for xa, xb in self.feed.epoch(place.rank):
            lr_now = [learning_rate(base, state.step, self.total_steps, self.config.schedule)
                      for base in self.base_lrs]
            for group, value in zip(optimizer.param_groups, lr_now):
                group["lr"] = value
            terms = _step(place, self.objective, state, xa, xb, epoch=epoch, total_steps=self.total_steps)
            state.step += 1
            count += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, torch.zeros((), device=v.device)) + v
            if progress is not None:
                progress.update(1)
                progress.set_postfix(epoch=epoch, loss=f"{float(terms['loss']):.4g}", refresh=False)
        if count == 0:
            raise ValueError("the data yielded no batches")
        state.epoch = epoch
        record = {"epoch": epoch, "step": state.step, "lr": lr_now[0], "seconds": time.perf_counter() - t0}
        record.update(_epoch_means(sums, count, place.world))
        return record


def fit(model: nn.Module, data: Union[torch.Tensor, Iterable], objective: nn.Module,
        config: Optional[FitConfig] = None, state: Optional[RunState] = None, *,
        callback: Optional[Callback] = None, progress: Any = None) -> list[dict]:
    """Train ``model`` with a two-view self-supervised ``objective``.

    Parameters
    ----------
    model : nn.Module
        Any module; ``model(x)`` gives the embedding the objective reads. For CISSL/DISSL it must accept
        ``model(x, with_student=True) -> (teacher, student)`` (as :class:`~infossl.models.SSLModel`); for
        BYOL, ``model(x, with_target=True) -> (online, prediction, target)`` and ``update_target(momentum)``
        (an ``SSLModel`` built with ``"predictor"`` and ``"target": "ema"``). May be a :class:`TwoViews`
        (optionally inside the caller's ``DistributedDataParallel``); a bare
        module is wrapped in ``TwoViews`` and, when a process group is initialised, in
        ``DistributedDataParallel``.
    data : torch.Tensor or iterable
        A tensor (N, C, H, W) or (N, D): shuffled each epoch from the state's generator, two augmented views
        per batch (``config.augment``). Or an iterable (e.g. a ``DataLoader``) yielding ``x`` / ``(x, ...)``
        batches (augmented here) or ``(view_a, view_b)`` pairs of equal shape (used as they are).
    objective : nn.Module
        A loss of :mod:`infossl.objectives` (anything with ``forward(z_a, z_b)`` works; ``last_terms`` is
        logged when present).
    config : FitConfig, optional
        How to train (default ``FitConfig()``: one epoch).
    state : RunState, optional
        Where to continue from: optimiser, scaler, generator, epoch and step (a resumed run's, or the
        caller's own optimiser); default :meth:`RunState.start` of ``config``. Updated in place.
    callback : callable, optional
        ``callback(record, state) -> stop`` after every epoch; ``record`` holds ``epoch``, ``step``, ``lr``,
        ``seconds`` and the epoch means of ``loss`` and every ``last_terms`` entry (averaged over ranks);
        ``state`` is the :class:`RunState` after that epoch. Returning True stops.
    progress : tqdm-like, optional
        ``progress.update(1)`` and ``progress.set_postfix`` per step.

    Returns
    -------
    list of dict
        The epoch records.

    Raises
    ------
    NonFiniteLossError
        The loss was NaN/inf; raised before the optimiser step of that batch.

    Examples
    --------
    >>> from infossl.models import build_model
    >>> from infossl.objectives import VICRegLoss
    >>> model = build_model({"backbone": "mlp", "input_shape": [6], "widths": "16", "projector": "8"})
    >>> history = fit(model, torch.randn(64, 6), VICRegLoss(), FitConfig(epochs=2, batch_size=16))
    >>> [record["step"] for record in history]
    [4, 8]
    """
    return Fit(model, data, objective, config, state).run(callback=callback, progress=progress)


class _Placement:
    """Where a step runs: the module called on both views, the bare model, the device and the ranks."""

    def __init__(self, runner: nn.Module, bare: nn.Module, device: torch.device, rank: int,
                 world: int) -> None:
        self.runner, self.bare, self.device, self.rank, self.world = runner, bare, device, rank, world


def _device(model: nn.Module, device: Union[None, str, torch.device]) -> torch.device:
    """``device``, or the device of the model's parameters (the CPU for a model without any)."""
    if device is None:
        p = next(model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")
    return torch.device(device)


def _place(model: nn.Module, objective: nn.Module, device: Union[None, str, torch.device]) -> _Placement:
    """Move model and objective to the device; wrap the model in TwoViews (and DDP under a process group)."""
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if isinstance(inner, TwoViews):
        bare = inner.model
        wanted = (needs_heads(objective), needs_target(objective))
        if (inner.with_student, inner.with_target) != wanted:
            raise TypeError(f"{type(objective).__name__} needs TwoViews(model, with_student={wanted[0]}, "
                            f"with_target={wanted[1]}), got with_student={inner.with_student}, "
                            f"with_target={inner.with_target} (or pass the bare model and let fit wrap it)")
    elif isinstance(model, nn.parallel.DistributedDataParallel):
        raise TypeError("wrap TwoViews(model) in DistributedDataParallel, not the model itself: fit calls it "
                        "once per step with both views (or pass the bare model and let fit wrap it)")
    else:
        bare = model
    if getattr(objective, "target", None) == "ema" and not callable(getattr(bare, "update_target", None)):
        raise TypeError(f"{type(objective).__name__} declares an EMA target network, but the model "
                        f"({type(bare).__name__}) has no update_target(momentum); build it with "
                        "infossl.models.build_model and model config 'predictor' and 'target': 'ema'")
    device = _device(bare, device)
    bare.to(device)
    objective.to(device)
    rank, world = rank_and_world()
    if isinstance(inner, TwoViews):
        runner: nn.Module = model
    else:
        runner = TwoViews(model, with_student=needs_heads(objective), with_target=needs_target(objective))
        if world > 1:
            runner = nn.parallel.DistributedDataParallel(
                runner, device_ids=[device.index] if device.type == "cuda" else None)
    return _Placement(runner, bare, device, rank, world)


class _Feed:
    """The two views of every step: augmented, seeded batches of a tensor (each rank keeps its slice of the
    global batch) or the batches of an iterable."""

    def __init__(self, data: Union[torch.Tensor, Iterable], config: FitConfig, g: torch.Generator,
                 world: int) -> None:
        self.data, self.batch_size, self.g = data, config.batch_size, g
        self.steps_per_epoch = config.steps_per_epoch
        self.augment = config.augment if config.augment is not None else Augmentation()
        self.is_tensor = isinstance(data, torch.Tensor)
        if self.is_tensor:
            if data.shape[0] < 2:
                raise ValueError(f"data needs at least 2 samples, got {data.shape[0]}")
            config.local_batch(world)  # refuses a batch the processes cannot split evenly
            n_batches = max(1, data.shape[0] // self.batch_size)
            self.feature_std = data.std(dim=0) if data.ndim == 2 else None  # (D,)
        else:
            n_batches = len(data) if hasattr(data, "__len__") else 0  # type: ignore[arg-type]
            self.feature_std = None
        if self.steps_per_epoch is not None:
            n_batches = min(n_batches, self.steps_per_epoch) if n_batches else self.steps_per_epoch
        self.n_batches, self.world = n_batches, world

    def epoch(self, rank: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        data = self.data
        batches: Iterable = (batch_indices(data.shape[0], self.batch_size, self.g)  # type: ignore[union-attr]
                             if self.is_tensor else data)
        for i, batch in enumerate(batches):
            if self.steps_per_epoch is not None and i >= self.steps_per_epoch:
                break
            if self.is_tensor:
                xa_full = self.augment(data[batch], self.g, self.feature_std)  # (B, ...) the global batch
                xb_full = self.augment(data[batch], self.g, self.feature_std)
                b_local = len(batch) // self.world
                rows = slice(rank * b_local, (rank + 1) * b_local)
                yield xa_full[rows], xb_full[rows]
            else:
                yield _views_from_batch(batch, self.augment, self.g, self.feature_std)


def _step(place: _Placement, objective: nn.Module, state: RunState, xa: torch.Tensor, xb: torch.Tensor, *,
          epoch: int, total_steps: int) -> dict[str, torch.Tensor]:
    """One optimiser step on a pair of views (then the target's EMA update for an objective declaring
    ``target = "ema"``); returns the detached loss terms. A non-finite loss on any rank raises
    :class:`NonFiniteLossError` on every rank before the update."""
    xa = xa.to(place.device, non_blocking=True)
    xb = xb.to(place.device, non_blocking=True)
    with torch.autocast(place.device.type, dtype=torch.float16, enabled=state.scaler.is_enabled()):
        out_a, out_b = place.runner(xa, xb)
    loss = compute_loss(objective, out_a, out_b)
    terms = {k: v.detach().float() for k, v in (getattr(objective, "last_terms", None) or {}).items()}
    terms["loss"] = loss.detach().float()
    bad = (~torch.isfinite(loss.detach())).float()
    if place.world > 1:
        dist.all_reduce(bad, op=dist.ReduceOp.MAX)
    if bad.item() > 0:
        shown = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
        raise NonFiniteLossError(
            f"the loss became {float(loss.detach()):.4g} at epoch {epoch}, step {state.step + 1} ({shown}); "
            "training stopped before this update. Lower the learning rate or check the objective's "
            "coefficients")
    state.optimizer.zero_grad(set_to_none=True)
    state.scaler.scale(loss).backward()
    ema = getattr(objective, "target", None) == "ema"
    scale = state.scaler.get_scale() if ema and state.scaler.is_enabled() else None
    state.scaler.step(state.optimizer)
    state.scaler.update()
    # the scaler lowers its scale exactly when it skipped the step (inf/NaN gradients): no step, no EMA move
    stepped = scale is None or state.scaler.get_scale() >= scale
    if ema and stepped:
        # every rank applies the same update to the same weights, so the targets stay equal under DDP
        place.bare.update_target(objective.target_momentum(state.step, total_steps))
    return terms


def _epoch_means(sums: dict[str, torch.Tensor], count: int, world: int) -> dict[str, float]:
    """Epoch means of the loss terms, averaged over ranks."""
    keys = sorted(sums)
    means = torch.stack([sums[k] for k in keys]) / count  # (n_terms,)
    if world > 1:
        dist.all_reduce(means)
        means /= world
    return {k: float(v) for k, v in zip(keys, means.cpu())}


__all__ = ["Callback", "Fit", "FitConfig", "NonFiniteLossError", "RunState", "SCHEDULES", "TwoViews",
           "compute_loss", "fit", "learning_rate", "needs_heads", "needs_target", "use_amp"]
