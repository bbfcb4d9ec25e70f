"""The training loop: :func:`fit` for any torch module and two-view loss, and :func:`train` for a config.

* **Device**: the model and batches go to ``device`` (CUDA when present for "auto"). On CUDA the
  forward pass runs under ``torch.autocast`` (float16) with gradient scaling; the estimators inside
  the losses switch autocast off and compute in float32 themselves. On the CPU everything is float32.
* **Distributed**: under ``torchrun`` (``WORLD_SIZE > 1``) :func:`train` joins the process group
  (gloo on the CPU, NCCL on CUDA), converts batch norms to :class:`~infossl.models.GlobalBatchNorm`
  and wraps the model in ``DistributedDataParallel``. Every rank draws the same shuffling and
  augmentations for the *global* batch and keeps its own slice, and the losses gather their batch
  statistics across ranks, so a run on W processes computes the same losses and gradients as one
  process on the same global batch.
* **Reproducibility**: shuffling and augmentations come from one ``torch.Generator`` whose state is
  saved in each checkpoint, so ``--resume`` after a kill continues exactly (on the CPU).
* **Divergence**: a NaN or infinite loss raises :class:`NonFiniteLossError` before the optimiser step,
  so the parameters and the last checkpoint stay those of the last good state.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Union

import torch
import torch.distributed as dist
from torch import nn

from infossl._distributed import rank_and_world
from infossl.training.augment import Augmentation
from infossl.training.data import batch_indices

if TYPE_CHECKING:
    from infossl.training.config import TrainConfig

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
    import time

    from infossl._validation import check_generator, check_int

    check_int(epochs, "epochs", low=1)
    check_int(batch_size, "batch_size", low=2)
    g = check_generator(generator, torch.device("cpu"))
    inner = model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
    with_student = needs_heads(objective)
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
        runner = TwoViews(model, with_student=with_student)
        if world > 1:
            runner = nn.parallel.DistributedDataParallel(
                runner, device_ids=[device.index] if device.type == "cuda" else None)
    if optimizer is None:
        optimizer = torch.optim.AdamW(bare.parameters(), lr=lr, weight_decay=weight_decay)
    base_lrs = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    for group, base in zip(optimizer.param_groups, base_lrs):
        group["initial_lr"] = base

    is_tensor = isinstance(data, torch.Tensor)
    augment = augment if augment is not None else Augmentation()
    if is_tensor:
        if data.shape[0] < 2:
            raise ValueError(f"data needs at least 2 samples, got {data.shape[0]}")
        if batch_size % world:
            raise ValueError(f"batch_size={batch_size} must be divisible by the number of processes {world}")
        n_batches = max(1, data.shape[0] // batch_size)
        feature_std = data.std(dim=0) if data.ndim == 2 else None  # (D,)
    else:
        n_batches = len(data) if hasattr(data, "__len__") else 0  # type: ignore[arg-type]
        feature_std = None
    if steps_per_epoch is not None:
        n_batches = min(n_batches, steps_per_epoch) if n_batches else steps_per_epoch
    total = n_batches * epochs
    step = start_step
    history: list[dict] = []
    for epoch in range(start_epoch + 1, epochs + 1):
        runner.train()
        t0 = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        count = 0
        batches: Iterable = (batch_indices(data.shape[0], batch_size, g) if is_tensor else data)  # type: ignore[union-attr]
        for i, batch in enumerate(batches):
            if steps_per_epoch is not None and i >= steps_per_epoch:
                break
            if is_tensor:
                xa_full = augment(data[batch], g, feature_std)  # (B, ...) the global batch
                xb_full = augment(data[batch], g, feature_std)
                b_local = len(batch) // world
                rows = slice(rank * b_local, (rank + 1) * b_local)
                xa, xb = xa_full[rows], xb_full[rows]
            else:
                xa, xb = _views_from_batch(batch, augment, g, feature_std)
            xa = xa.to(device, non_blocking=True)
            xb = xb.to(device, non_blocking=True)
            lr_now = [learning_rate(b, step, total, schedule) for b in base_lrs]
            for group, value in zip(optimizer.param_groups, lr_now):
                group["lr"] = value
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                out_a, out_b = runner(xa, xb)
            loss = compute_loss(objective, out_a, out_b)
            terms = {k: v.detach().float() for k, v in (getattr(objective, "last_terms", None) or {}).items()}
            terms["loss"] = loss.detach().float()
            bad = (~torch.isfinite(loss.detach())).float()
            if world > 1:
                dist.all_reduce(bad, op=dist.ReduceOp.MAX)
            if bad.item() > 0:
                shown = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items())
                raise NonFiniteLossError(
                    f"the loss became {float(loss.detach()):.4g} at epoch {epoch}, step {step + 1} ({shown}); training "
                    "stopped before this update. Lower the learning rate or check the objective's coefficients")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            count += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, torch.zeros((), device=v.device)) + v
            if progress is not None:
                progress.update(1)
                progress.set_postfix(epoch=epoch, loss=f"{float(terms['loss']):.4g}", refresh=False)
        if count == 0:
            raise ValueError("the data yielded no batches")
        keys = sorted(sums)
        means = torch.stack([sums[k] for k in keys]) / count  # (n_terms,)
        if world > 1:
            dist.all_reduce(means)
            means /= world
        record = {"epoch": epoch, "step": step, "lr": lr_now[0], "seconds": time.perf_counter() - t0}
        record.update({k: float(v) for k, v in zip(keys, means.cpu())})
        history.append(record)
        if callback is not None:
            state = {"model": bare, "optimizer": optimizer, "scaler": scaler, "generator": g}
            if callback(record, state):
                break
    return history


# ---------------------------------------------------------------------------------------------- train()
class TrainResult:
    """What :func:`train` returns: ``records`` (epoch 0 = before training), ``summary``, ``model``, ``out``."""

    def __init__(self, config: dict, records: list[dict], summary: dict, model: nn.Module, out: Optional[Any]):
        self.config, self.records, self.summary, self.model, self.out = config, records, summary, model, out


# Fields that may change between a run and its --resume (they do not change the computation).
RESUMABLE = ("epochs", "out", "device", "amp", "probe_every", "save_every", "save_format")


def _setup_distributed(device_name: str) -> tuple[int, int, torch.device, bool]:
    from infossl.training.config import resolve_device

    created = False
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        created = True
    rank, world = rank_and_world()
    device = resolve_device(device_name)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(device)
    return rank, world, device, created


def _compatible(saved: dict, current: dict) -> None:
    diffs = [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in sorted(set(saved) | set(current))
             if k not in RESUMABLE + ("model",) and saved.get(k) != current.get(k)]
    if diffs:
        raise ValueError("--resume found a checkpoint of a different run configuration (" + "; ".join(diffs)
                         + "); use a new --out folder or the same options")


def train(config: "TrainConfig", *, resume: bool = False, quiet: bool = False, stream: Any = None) -> TrainResult:
    """Run the training described by ``config`` (the engine of ``infossl train``).

    Epoch 0 is the randomly initialised model (monitored and saved as ``ckpt_epoch000``); epochs
    1..``config.epochs`` are trained with :func:`fit`, each followed by the monitors
    (:func:`~infossl.training.monitors.evaluate`) and a checkpoint. With ``config.out`` set the folder
    receives ``metrics.jsonl``, ``last.pt`` (full state, for ``resume``), ``ckpt_epochEEE.pt`` every
    ``save_every`` epochs (weights, config, metrics and RNG state; no optimiser state), optional
    ``.safetensors`` copies, ``config.json`` and ``curves.png``.

    Parameters
    ----------
    config : TrainConfig
    resume : bool
        Continue from ``<out>/last.pt``: same weights, optimiser, RNG state and epoch, so the final
        metrics equal those of an uninterrupted run (on the CPU). The configuration must match except
        for ``epochs`` and the output-only fields; a different ``epochs`` trains longer (or shorter), and
        with the cosine schedule the remaining learning rates then follow the new length.
    quiet : bool
        No progress bar or epoch lines.
    stream : file, optional
        Where the epoch lines go (default standard output).

    Raises
    ------
    NonFiniteLossError
        NaN/inf loss; the message names the last good checkpoint.
    """
    import time

    from infossl.io import save_json_atomic
    from infossl.io import checkpoints as ck
    from infossl.training.config import make_objective
    from infossl.training.data import prepare_data
    from infossl.models import build_model, convert_global_batchnorm
    from infossl.training.monitors import Monitor, baseline_probes, evaluate, plot_curves, read_records

    t_start = time.perf_counter()
    config.validate()
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    rank, world, device, created = _setup_distributed(config.device)
    try:
        if config.batch_size % world:
            raise ValueError(f"batch_size={config.batch_size} must be divisible by the number of processes {world}")
        augment = config.augmentation()
        data = prepare_data(config.data, key=config.data_key, labels=config.labels, augment=augment,
                            heldout_fraction=config.heldout_fraction, seed=config.seed)
        spec = config.model_spec(data.input_shape)
        cfg = config.as_dict()
        cfg["model"] = spec
        cfg["objective_options"] = config.objective_options()  # resolved, so the checkpoint is self-describing
        model = build_model(spec, generator=torch.Generator().manual_seed(2 * config.seed))
        g = torch.Generator().manual_seed(2 * config.seed + 1)
        if world > 1:
            convert_global_batchnorm(model)
        model.to(device)
        objective = make_objective(config, distributed=world > 1)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        use_amp = device.type == "cuda" if config.amp is None else bool(config.amp and device.type == "cuda")
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        out = Path(config.out) if config.out is not None else None
        start_epoch = start_step = 0
        records: list[dict] = []
        if resume:
            if out is None or not (out / "last.pt").exists():
                raise FileNotFoundError(f"--resume needs {out}/last.pt from an earlier run; none found")
            saved = ck.read_training_checkpoint(out / "last.pt")
            _compatible(saved["config"], cfg)
            model.load_state_dict(saved["state_dict"])
            if saved.get("optimizer"):
                optimizer.load_state_dict(saved["optimizer"])
            if saved.get("scaler") and use_amp:
                scaler.load_state_dict(saved["scaler"])
            g.set_state(saved["rng"]["generator"])
            start_epoch, start_step = int(saved["epoch"]), int(saved["step"])
            records = [r for r in read_records(out / "metrics.jsonl") if r.get("epoch", 1e9) <= start_epoch]
        n_batches = max(1, data.x_train.shape[0] // config.batch_size)
        if config.steps_per_epoch is not None:
            n_batches = min(n_batches, config.steps_per_epoch)
        monitor = Monitor(out, total_steps=n_batches * config.epochs, initial_steps=start_step, quiet=quiet,
                          enabled=rank == 0, stream=stream)
        monitor.records = list(records)
        baselines = baseline_probes(data) if rank == 0 else {}
        if rank == 0 and out is not None:
            out.mkdir(parents=True, exist_ok=True)
            ck.remove_stale_temporaries(out)
            save_json_atomic(cfg, out / "config.json")
            if resume:  # drop records of epochs after the checkpoint (the killed run's partial progress)
                from infossl.io import write_text_atomic

                write_text_atomic("".join(json.dumps(r) + "\n" for r in records), out / "metrics.jsonl")
            elif (out / "metrics.jsonl").exists():
                (out / "metrics.jsonl").unlink()

        def save(record: dict, epoch: int, step: int, full: bool) -> None:
            if rank != 0 or out is None:
                return
            state = ck.checkpoint_dict(model, config=cfg, epoch=epoch, step=step, optimizer=optimizer,
                                       scaler=scaler, rng={"generator": g.get_state()}, metrics=record)
            if full:
                ck.save_checkpoint(state, out / "last.pt")
            if epoch % config.save_every == 0 or epoch == config.epochs:
                light = dict(state, optimizer=None, scaler=None)
                ck.save_checkpoint(light, out / f"ckpt_epoch{epoch:03d}.pt")
                if config.save_format == "safetensors":
                    ck.save_safetensors(light, out / f"ckpt_epoch{epoch:03d}.safetensors")

        if start_epoch == 0 and rank == 0:
            rec0 = {"epoch": 0, "step": 0, "lr": config.lr, "seconds": 0.0}
            rec0.update(evaluate(model, data, probe=True))
            rec0.update(baselines)
            monitor.log(rec0)
            save(rec0, 0, 0, full=True)

        def on_epoch(record: dict, state: dict) -> bool:
            epoch = record["epoch"]
            if rank == 0:
                probe = epoch % config.probe_every == 0 or epoch == config.epochs
                record.update(evaluate(state["model"], data, probe=probe))
                monitor.log(record)
                save(record, epoch, record["step"], full=True)
            return False

        try:
            if start_epoch < config.epochs:
                fit(model, data.x_train, objective, epochs=config.epochs, batch_size=config.batch_size,
                    optimizer=optimizer, schedule=config.schedule, augment=augment, generator=g, device=device,
                    amp=use_amp, steps_per_epoch=config.steps_per_epoch, start_epoch=start_epoch,
                    start_step=start_step, scaler=scaler, callback=on_epoch,
                    progress=monitor.bar)
        except NonFiniteLossError as exc:
            where = (f"the last good checkpoint is {out / 'last.pt'}" if out is not None
                     else "no checkpoint was written (no --out)")
            raise NonFiniteLossError(f"{exc}; {where}") from None
        finally:
            monitor.close()
        summary: dict[str, Any] = {}
        if rank == 0:
            recs = monitor.records
            summary = summarise(recs, seconds=time.perf_counter() - t_start, out=out)
            if out is not None:
                plot_curves(recs, out / "curves.png", title=f"{config.objective} on {data.name}")
                save_json_atomic(summary, out / "summary.json")
        return TrainResult(cfg, list(monitor.records), summary, model, out)
    finally:
        torch.set_num_threads(threads_before)
        if created:
            dist.destroy_process_group()


def summarise(records: list[dict], *, seconds: float, out: Optional[Any] = None) -> dict:
    """The final summary: first/last values of the main monitors, baselines and the run time."""
    first = next((r for r in records if r.get("epoch") == 0), {})
    last = records[-1] if records else {}
    s: dict[str, Any] = {"epochs": last.get("epoch"), "steps": last.get("step"), "seconds": round(seconds, 2)}
    for k in ("loss", "cross_entropy", "entropy_a", "entropy_b", "invariance", "variance", "covariance",
              "mi_lower_bound", "probe_clean", "probe_augmented", "backbone_rankme", "backbone_effective_rank",
              "backbone_normalized_std", "projector_effective_rank", "projector_normalized_std_scaled",
              "view_mi_gaussian", "backbone_verdict", "projector_verdict"):
        if last.get(k) is not None:
            s[k] = last[k]
    for k in ("probe_clean", "probe_augmented"):
        if first.get(k) is not None:
            s[f"random_init_{k}"] = first[k]
    for k in ("raw_probe_clean", "raw_probe_augmented"):
        if first.get(k) is not None:
            s[k] = first[k]
    alarm = next((r for r in records if r.get("collapse_alarm")), None)
    s["collapse_alarm_epoch"] = alarm["epoch"] if alarm else None
    if alarm:
        s["collapse_alarm"] = alarm["collapse_alarm"]
    if out is not None:
        s["checkpoint"] = str(out / "last.pt")
    return s
