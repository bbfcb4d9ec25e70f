"""The training engine: :func:`fit` trains any torch module with a two-view loss, on a tensor or a loader.

* **Device**: the model and batches go to ``device``. On CUDA the forward pass runs under ``torch.autocast``
  (float16) with gradient scaling; the estimators inside the losses switch autocast off and compute in float32
  themselves. On the CPU everything is float32.
* **Distributed**: inside a process group the model is wrapped in ``DistributedDataParallel``; every rank draws
  the same shuffling and augmentations for the *global* batch and keeps its own slice, and the losses gather
  their batch statistics across ranks (each objective declares ``gathers``), so W processes compute the same
  losses and gradients as one process on the global batch.
* **Inputs**: each objective declares ``inputs`` ("views" or "heads", :mod:`infossl.objectives`); the engine
  feeds it accordingly and knows no objective by name.
* **Divergence**: a NaN or infinite loss raises :class:`NonFiniteLossError` before the optimiser step, so the
  parameters stay those of the last good state.

The run orchestration around it (config, data, monitors, checkpoints, resume) is :mod:`infossl.training.run`.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import torch
import torch.distributed as dist
from torch import nn

from infossl._distributed import rank_and_world
from infossl._validation import check_generator, check_int
from infossl.training.augment import Augmentation
from infossl.training.data import batch_indices

Callback = Callable[[dict, dict], Optional[bool]]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stopped before the update."""


class TwoViews(nn.Module):
    """Run ``model`` on both views in one ``forward`` (one DDP call per step).

    With ``with_student`` each output is ``model(x, with_student=True)`` (teacher, student) pair.
    """

    def __init__(self, model: nn.Module, *, with_student: bool = False) -> None:
        super().__init__()
        self.model = model
        self.with_student = with_student

    def forward(self, xa: torch.Tensor, xb: torch.Tensor) -> tuple[Any, Any]:
        if self.with_student:
            return self.model(xa, with_student=True), self.model(xb, with_student=True)
        return self.model(xa), self.model(xb)


def _float(out: Any) -> Any:
    if isinstance(out, tuple):
        return tuple(_float(o) for o in out)
    return out.float()


def needs_heads(objective: nn.Module) -> bool:
    """Whether ``objective`` declares ``inputs = "heads"`` (student and teacher outputs, as CISSL/DISSL)."""
    return getattr(objective, "inputs", "views") == "heads"


def compute_loss(objective: nn.Module, out_a: Any, out_b: Any) -> torch.Tensor:
    """The objective on the two views' outputs, fed as the objective's ``inputs`` declaration asks.

    A "heads" objective gets ``model(x, with_student=True)`` pairs (teacher, student) of both views and is
    called with the keywords of its one order (student_a, student_b, teacher_a, teacher_b).
    """
    out_a, out_b = _float(out_a), _float(out_b)
    if needs_heads(objective):
        (ta, sa), (tb, sb) = out_a, out_b
        return objective(student_a=sa, student_b=sb, teacher_a=ta, teacher_b=tb)
    return objective(out_a, out_b)


def learning_rate(base: float, step: int, total: int, schedule: str) -> float:
    """``base`` for "constant"; half-cosine from ``base`` to 0 over ``total`` steps for "cosine"."""
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
        raise TypeError(f"a data loader must yield tensors or (view_a, view_b) pairs, got {type(batch).__name__}")
    if augment is None:
        raise ValueError("single-view batches need an augmentation to make two views; pass augment=...")
    return augment(batch, g, feature_std), augment(batch, g, feature_std)


def fit(model: nn.Module, data: Union[torch.Tensor, Iterable], objective: nn.Module, *, epochs: int = 1,
        batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 0.0,
        optimizer: Optional[torch.optim.Optimizer] = None, schedule: str = "cosine",
        augment: Optional[Augmentation] = None, generator: Union[None, int, torch.Generator] = 0,
        device: Union[None, str, torch.device] = None, amp: Optional[bool] = None,
        steps_per_epoch: Optional[int] = None, start_epoch: int = 0, start_step: int = 0,
        scaler: Optional[Any] = None, callback: Optional[Callback] = None, progress: Any = None) -> list[dict]:
    """Train ``model`` with a two-view self-supervised ``objective``.

    Parameters
    ----------
    model : nn.Module
        Any module; ``model(x)`` gives the embedding the objective reads. For CISSL/DISSL it must accept
        ``model(x, with_student=True) -> (teacher, student)`` (as :class:`~infossl.models.SSLModel`).
        May be a :class:`TwoViews` (optionally inside the caller's ``DistributedDataParallel``); a bare
        module is wrapped in ``TwoViews`` and, when a process group is initialised, in
        ``DistributedDataParallel``.
    data : torch.Tensor or iterable
        A tensor (N, C, H, W) or (N, D): shuffled each epoch from ``generator``, two augmented views per
        batch (``augment`` defaults to :class:`~infossl.training.augment.Augmentation` ``()``). Or an iterable
        (e.g. a ``DataLoader``) yielding ``x`` / ``(x, ...)`` batches (augmented here) or
        ``(view_a, view_b)`` pairs of equal shape (used as they are).
    objective : nn.Module
        A loss of :mod:`infossl.objectives` (anything with ``forward(z_a, z_b)`` works; ``last_terms`` is
        logged when present).
    epochs, batch_size, lr, weight_decay, schedule
        ``epochs`` is the final epoch number (training runs ``start_epoch + 1 .. epochs``). ``batch_size`` is
        the global batch for tensor data. AdamW with ``lr``/``weight_decay`` unless ``optimizer`` is given;
        ``schedule`` "cosine" decays the learning rate to 0 over all steps, "constant" keeps it.
    generator : int, torch.Generator or None
        Source of the shuffling and augmentations (a CPU generator, updated in place).
    device, amp
        Default: the device of the model's parameters; ``amp`` defaults to True on CUDA.
    steps_per_epoch : int, optional
        Cap on steps per epoch (and the epoch length the schedule assumes).
    start_epoch, start_step, scaler
        Resume state (see :func:`train`).
    callback : callable, optional
        ``callback(record, state) -> stop`` after every epoch; ``record`` holds ``epoch``, ``step``, ``lr``,
        ``seconds`` and the epoch means of ``loss`` and every ``last_terms`` entry (averaged over ranks);
        ``state`` holds ``model`` (bare), ``optimizer``, ``scaler``, ``generator``. Returning True stops.
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
    """
    check_int(epochs, "epochs", low=1)
    check_int(batch_size, "batch_size", low=2)
    g = check_generator(generator, torch.device("cpu"))
    run = _place(model, objective, device, amp, scaler)
    if optimizer is None:
        optimizer = torch.optim.AdamW(run.bare.parameters(), lr=lr, weight_decay=weight_decay)
    base_lrs = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    for group, base in zip(optimizer.param_groups, base_lrs):
        group["initial_lr"] = base
    feed = _Feed(data, batch_size, augment, g, run.world, steps_per_epoch)
    total = feed.n_batches * epochs
    step = start_step
    history: list[dict] = []
    for epoch in range(start_epoch + 1, epochs + 1):
        run.runner.train()
        t0 = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        count = 0
        lr_now = [group["lr"] for group in optimizer.param_groups]
        for xa, xb in feed.epoch(run.rank):
            lr_now = [learning_rate(b, step, total, schedule) for b in base_lrs]
            for group, value in zip(optimizer.param_groups, lr_now):
                group["lr"] = value
            terms = _step(run, objective, optimizer, xa, xb, epoch=epoch, step=step)
            step += 1
            count += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, torch.zeros((), device=v.device)) + v
            if progress is not None:
                progress.update(1)
                progress.set_postfix(epoch=epoch, loss=f"{float(terms['loss']):.4g}", refresh=False)
        if count == 0:
            raise ValueError("the data yielded no batches")
        record = {"epoch": epoch, "step": step, "lr": lr_now[0], "seconds": time.perf_counter() - t0}
        record.update(_epoch_means(sums, count, run.world))
        history.append(record)
        if callback is not None:
            state = {"model": run.bare, "optimizer": optimizer, "scaler": run.scaler, "generator": g}
            if callback(record, state):
                break
    return history


class _Placement:
    """Where and how a step runs: the module called on both views, the bare model, device, AMP, ranks."""

    def __init__(self, runner: nn.Module, bare: nn.Module, device: torch.device, use_amp: bool, scaler: Any,
                 rank: int, world: int) -> None:
        self.runner, self.bare, self.device, self.use_amp, self.scaler = runner, bare, device, use_amp, scaler
        self.rank, self.world = rank, world


def _place(model: nn.Module, objective: nn.Module, device: Union[None, str, torch.device],
           amp: Optional[bool], scaler: Optional[Any]) -> _Placement:
    """Move model and objective to the device; wrap the model in TwoViews (and DDP under a process group)."""
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if isinstance(inner, TwoViews):
        bare = inner.model
    elif isinstance(model, nn.parallel.DistributedDataParallel):
        raise TypeError("wrap TwoViews(model) in DistributedDataParallel, not the model itself: fit calls it once "
                        "per step with both views (or pass the bare model and let fit wrap it)")
    else:
        bare = model
    if device is None:
        p = next(bare.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    device = torch.device(device)
    bare.to(device)
    objective.to(device)
    use_amp = (device.type == "cuda") if amp is None else bool(amp and device.type == "cuda")
    if scaler is None:
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    rank, world = rank_and_world()
    if isinstance(inner, TwoViews):
        runner: nn.Module = model
    else:
        runner = TwoViews(model, with_student=needs_heads(objective))
        if world > 1:
            runner = nn.parallel.DistributedDataParallel(
                runner, device_ids=[device.index] if device.type == "cuda" else None)
    return _Placement(runner, bare, device, use_amp, scaler, rank, world)


class _Feed:
    """The two views of every step: augmented, seeded batches of a tensor (each rank keeps its slice of the
    global batch) or the batches of an iterable."""

    def __init__(self, data: Union[torch.Tensor, Iterable], batch_size: int, augment: Optional[Augmentation],
                 g: torch.Generator, world: int, steps_per_epoch: Optional[int]) -> None:
        self.data, self.batch_size, self.g, self.steps_per_epoch = data, batch_size, g, steps_per_epoch
        self.augment = augment if augment is not None else Augmentation()
        self.is_tensor = isinstance(data, torch.Tensor)
        if self.is_tensor:
            if data.shape[0] < 2:
                raise ValueError(f"data needs at least 2 samples, got {data.shape[0]}")
            if batch_size % world:
                raise ValueError(f"batch_size={batch_size} must be divisible by the number of processes {world}")
            n_batches = max(1, data.shape[0] // batch_size)
            self.feature_std = data.std(dim=0) if data.ndim == 2 else None  # (D,)
        else:
            n_batches = len(data) if hasattr(data, "__len__") else 0  # type: ignore[arg-type]
            self.feature_std = None
        if steps_per_epoch is not None:
            n_batches = min(n_batches, steps_per_epoch) if n_batches else steps_per_epoch
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


def _step(run: _Placement, objective: nn.Module, optimizer: torch.optim.Optimizer, xa: torch.Tensor,
          xb: torch.Tensor, *, epoch: int, step: int) -> dict[str, torch.Tensor]:
    """One optimiser step on a pair of views; returns the detached loss terms. A non-finite loss on any rank
    raises :class:`NonFiniteLossError` on every rank before the update."""
    xa = xa.to(run.device, non_blocking=True)
    xb = xb.to(run.device, non_blocking=True)
    with torch.autocast(run.device.type, dtype=torch.float16, enabled=run.use_amp):
        out_a, out_b = run.runner(xa, xb)
    loss = compute_loss(objective, out_a, out_b)
    terms = {k: v.detach().float() for k, v in (getattr(objective, "last_terms", None) or {}).items()}
    terms["loss"] = loss.detach().float()
    bad = (~torch.isfinite(loss.detach())).float()
    if run.world > 1:
        dist.all_reduce(bad, op=dist.ReduceOp.MAX)
    if bad.item() > 0:
        shown = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
        raise NonFiniteLossError(
            f"the loss became {float(loss.detach()):.4g} at epoch {epoch}, step {step + 1} ({shown}); training "
            "stopped before this update. Lower the learning rate or check the objective's coefficients")
    optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(optimizer)
    run.scaler.update()
    return terms


def _epoch_means(sums: dict[str, torch.Tensor], count: int, world: int) -> dict[str, float]:
    """Epoch means of the loss terms, averaged over ranks."""
    keys = sorted(sums)
    means = torch.stack([sums[k] for k in keys]) / count  # (n_terms,)
    if world > 1:
        dist.all_reduce(means)
        means /= world
    return {k: float(v) for k, v in zip(keys, means.cpu())}


__all__ = ["Callback", "NonFiniteLossError", "TwoViews", "compute_loss", "fit", "learning_rate", "needs_heads"]
