"""Run orchestration: :func:`train` runs a :class:`~infossl.training.config.TrainConfig` end to end.

It joins a process group under ``torchrun`` (gloo on the CPU, NCCL on CUDA) and converts batch norms to
:class:`~infossl.models.GlobalBatchNorm`, prepares the data, monitors every epoch, writes checkpoints in the
format of :mod:`infossl.io.train_format` and resumes from them. **Reproducibility**: shuffling and augmentations
come from one ``torch.Generator`` whose state is saved in each checkpoint, so ``--resume`` after a kill
continues exactly (on the CPU). The training steps themselves are :func:`~infossl.training.engine.fit`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import torch
import torch.distributed as dist
from torch import nn

from infossl._distributed import rank_and_world
from infossl.training.engine import NonFiniteLossError, fit

if TYPE_CHECKING:
    from infossl.training.config import TrainConfig


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


def _resume_state(out: Optional[Path], stream: Any) -> dict:
    """The checkpoint to resume from: ``last.pt``, or -- when it is missing or unreadable (truncated, corrupt)
    -- the newest intact ``ckpt_epochEEE.pt``, with a warning saying which and what that loses."""
    import sys
    import warnings

    from infossl.io import safe_load as ck

    if out is None:
        raise FileNotFoundError("--resume needs --out, the folder of the earlier run")
    problem = None
    if (out / "last.pt").exists():
        try:
            return ck.read_training_checkpoint(out / "last.pt")
        except ValueError as exc:
            problem = f"{out / 'last.pt'} is unreadable ({exc})"
    for path in sorted(out.glob("ckpt_epoch[0-9][0-9][0-9]*.pt"), reverse=True):
        try:
            saved = ck.read_training_checkpoint(path)
        except ValueError:
            continue
        if not isinstance(saved.get("rng"), dict) or "generator" not in saved["rng"]:
            continue
        message = (f"{problem or f'{out}/last.pt is missing'}; resuming from {path.name} (epoch {saved['epoch']}), "
                   "the newest intact checkpoint. Epoch checkpoints hold no optimiser state, so AdamW restarts "
                   "its moments: the run continues but will not equal an uninterrupted one")
        warnings.warn(message, UserWarning, stacklevel=3)
        print(f"infossl: warning: {message}", file=stream or sys.stderr)
        return saved
    raise FileNotFoundError(f"--resume found no intact checkpoint in {out} "
                            f"({problem or 'no last.pt'}; no readable ckpt_epochEEE.pt)")


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
    from infossl.io import train_format as ck
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
    lock = None
    try:
        if rank == 0 and config.out is not None:
            # One writer per run folder: a second `infossl train --out` on it gets LockHeldError naming the
            # holder; a folder left by a killed run is taken over and its temporary files removed.
            from infossl.io.locks import lock_run_dir

            Path(config.out).mkdir(parents=True, exist_ok=True)
            lock = lock_run_dir(config.out)
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
            saved = _resume_state(out, stream if not quiet else None)
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
        if lock is not None:
            lock.release()
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


__all__ = ["RESUMABLE", "TrainResult", "summarise", "train"]
