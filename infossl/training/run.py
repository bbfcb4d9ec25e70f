"""Run orchestration: :func:`train` runs a :class:`~infossl.training.config.TrainConfig` end to end.

It joins a process group under ``torchrun`` (gloo on the CPU, NCCL on CUDA) and converts batch norms to
:class:`~infossl.models.GlobalBatchNorm`, prepares the data, monitors every epoch, writes checkpoints in the
format of :mod:`infossl.io.train_format` and resumes from them. **Reproducibility**: shuffling and
augmentations come from one ``torch.Generator`` whose state is saved in each checkpoint, so ``--resume`` after
a kill continues exactly (on the CPU). The training steps themselves are :func:`~infossl.training.engine.fit`.

**Exactly once**: an epoch's metrics line is appended to ``metrics.jsonl`` before its checkpoint is written,
and a resumed run keeps the lines of the epochs its checkpoint covers and drops the rest, so however a run is
killed, each epoch appears once in ``metrics.jsonl`` after ``--resume``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
import torch.distributed as dist
from torch import nn

from infossl._distributed import rank_and_world
from infossl._warnings import warn
from infossl.io import save_json_atomic, write_text_atomic
from infossl.io import safe_load
from infossl.io import train_format as ck
from infossl.io.locks import lock_run_dir
from infossl.models import build_model, convert_global_batchnorm
from infossl.training.config import TrainConfig, make_objective, resolve_device
from infossl.training.data import TrainData, prepare_data
from infossl.training.engine import Fit, FitConfig, NonFiniteLossError, RunState
from infossl.training.monitors import Monitor, baseline_probes, evaluate, plot_curves, read_records


class TrainResult:
    """What :func:`train` returns: ``records`` (epoch 0 = before training), ``summary``, ``model``,
    ``out``."""

    def __init__(self, config: dict, records: list[dict], summary: dict, model: nn.Module,
                 out: Optional[Any]) -> None:
        self.config, self.records, self.summary, self.model, self.out = config, records, summary, model, out


# Fields that may change between a run and its --resume (they do not change the computation).
RESUMABLE = ("epochs", "out", "device", "amp", "probe_every", "save_every", "save_format")


# ---------------------------------------------------------------------------------------------- train()
def train(config: TrainConfig, *, resume: bool = False, quiet: bool = False,
          stream: Any = None) -> TrainResult:
    """Run the training described by ``config`` (the engine of ``infossl train``).

    Epoch 0 is the randomly initialised model (monitored and saved as ``ckpt_epoch000``); epochs
    1..``config.epochs`` are trained with :func:`~infossl.training.engine.fit`, each followed by the monitors
    (:func:`~infossl.training.monitors.evaluate`) and a checkpoint. With ``config.out`` set the folder
    receives ``metrics.jsonl``, ``last.pt`` (full state, for ``resume``), ``ckpt_epochEEE.pt`` every
    ``save_every`` epochs (weights, config, metrics and RNG state; no optimiser state), optional
    ``.safetensors`` copies, ``config.json``, ``summary.json`` and ``curves.png``.

    Parameters
    ----------
    config : TrainConfig
    resume : bool
        Continue from ``<out>/last.pt``: same weights, optimiser, RNG state and epoch, so the final
        metrics equal those of an uninterrupted run (on the CPU), and ``metrics.jsonl`` holds each epoch
        once. The configuration must match except for ``epochs`` and the output-only fields; a different
        ``epochs`` trains longer (or shorter), and with the cosine schedule the remaining learning rates then
        follow the new length.
    quiet : bool
        No progress bar or epoch lines.
    stream : file, optional
        Where the epoch lines go (default standard output).

    Returns
    -------
    TrainResult
        ``records`` (epoch 0 = before training), ``summary`` (empty on ranks other than 0), ``model``,
        ``out``.

    Raises
    ------
    NonFiniteLossError
        NaN/inf loss; the message names the last good checkpoint.
    """
    started = time.perf_counter()
    config.validate()
    with _session(config) as (rank, world, device):
        run = _build_run(config, rank, world, device)
        records = _restore(run, stream=None if quiet else stream) if resume else []
        fitting = Fit(run.model, run.data.x_train, run.objective, run.plan, run.state)
        monitor = Monitor(run.out, total_steps=fitting.total_steps, initial_steps=run.state.step, quiet=quiet,
                          enabled=rank == 0, stream=stream, records=records)
        recorder = _Recorder(run, monitor)
        try:
            recorder.open(resumed=resume)
            if not resume:  # a resumed run's epoch 0 is already recorded (each line precedes its checkpoint)
                recorder.epoch_zero()
            _fit(fitting, recorder.on_epoch, monitor, run.out)
        finally:
            monitor.close()
        summary = _finish(run, monitor.records, seconds=time.perf_counter() - started)
        return TrainResult(run.saved_config, list(monitor.records), summary, run.model, run.out)


# --------------------------------------------------------------------------------------- the run as data
@dataclass
class _Run:
    """One run, built once: what it trains, how (``plan``), where it stands (``state``), where it writes.

    ``saved_config`` is the config every checkpoint and ``config.json`` carry: the fields, the model spec and
    the objective's resolved options, so a checkpoint describes itself.
    """

    config: TrainConfig
    saved_config: dict
    data: TrainData
    model: nn.Module
    objective: nn.Module
    plan: FitConfig
    state: RunState
    out: Optional[Path]
    rank: int  # only rank 0 records and writes


def _build_run(config: TrainConfig, rank: int, world: int, device: torch.device) -> _Run:
    """Data, model (global batch norms across processes), objective and a fresh state, on ``device``."""
    plan = config.fit_config(device)
    data = prepare_data(config.data, key=config.data_key, labels=config.labels, augment=plan.augment,
                        heldout_fraction=config.heldout_fraction, seed=config.seed)
    spec = config.model_spec(data.input_shape)
    saved_config = dict(config.as_dict(), model=spec, objective_options=config.objective_options())
    model = build_model(spec, generator=torch.Generator().manual_seed(2 * config.seed))
    if world > 1:
        convert_global_batchnorm(model)
    model.to(device)
    objective = make_objective(config, distributed=world > 1)
    out = Path(config.out) if config.out is not None else None
    state = RunState.start(model, plan, device)
    return _Run(config, saved_config, data, model, objective, plan, state, out, rank)


@contextmanager
def _session(config: TrainConfig) -> Iterator[tuple[int, int, torch.device]]:
    """The process-level setup of a run, undone on exit however the run ends: torch's thread count, the
    process group (joined under ``torchrun``), and on rank 0 the lock of the run folder. Yields
    ``(rank, world, device)``."""
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    created, lock = False, None
    try:
        created = _join_process_group(config.device)
        rank, world = rank_and_world()
        device = _rank_device(config.device, rank, world)
        if rank == 0 and config.out is not None:
            # One writer per run folder: a second `infossl train --out` on it gets LockHeldError naming the
            # holder; a folder left by a killed run is taken over and its temporary files removed.
            Path(config.out).mkdir(parents=True, exist_ok=True)
            lock = lock_run_dir(config.out)
        yield rank, world, device
    finally:
        if lock is not None:
            lock.release()
        torch.set_num_threads(threads_before)
        if created:
            dist.destroy_process_group()


def _join_process_group(device_name: str) -> bool:
    """Join the group of a ``torchrun`` launch (WORLD_SIZE > 1) unless one exists; True when it made one."""
    if dist.is_initialized() or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return True


def _rank_device(device_name: str, rank: int, world: int) -> torch.device:
    """The device of this process: one GPU per process (``LOCAL_RANK``) in a group on CUDA."""
    device = resolve_device(device_name)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(device)
    return device


# ------------------------------------------------------------------------------------------------ resume
def _restore(run: _Run, *, stream: Any) -> list[dict]:
    """Load the checkpoint to resume from into ``run`` (weights and state); return the metrics records of the
    epochs it covers (later ones belong to the killed run's lost progress)."""
    saved = _resume_state(run.out, stream)
    _compatible(saved["config"], run.saved_config)
    run.model.load_state_dict(saved["state_dict"])
    run.state.load(saved)
    return [r for r in read_records(run.out / "metrics.jsonl") if r.get("epoch", 1e9) <= run.state.epoch]


def _compatible(saved: dict, current: dict) -> None:
    if current.get("entropy") is None:  # older runs recorded an entropy even where no objective read it
        saved = {k: v for k, v in saved.items() if k != "entropy"}
    diffs = [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in sorted(set(saved) | set(current))
             if k not in RESUMABLE + ("model",) and saved.get(k) != current.get(k)]
    if diffs:
        raise ValueError("--resume found a checkpoint of a different run configuration (" + "; ".join(diffs)
                         + "); use a new --out folder or the same options")


def _resume_state(out: Optional[Path], stream: Any) -> dict:
    """The checkpoint to resume from: ``last.pt``, or -- when it is missing or unreadable (truncated, corrupt)
    -- the newest intact ``ckpt_epochEEE.pt``, with a warning saying which and what that loses."""
    if out is None:
        raise FileNotFoundError("--resume needs --out, the folder of the earlier run")
    problem = None
    if (out / "last.pt").exists():
        try:
            return safe_load.read_training_checkpoint(out / "last.pt")
        except ValueError as exc:
            problem = f"{out / 'last.pt'} is unreadable ({exc})"
    epochs = {p: p.stem[len("ckpt_epoch"):] for p in out.glob("ckpt_epoch[0-9][0-9][0-9]*.pt")}
    numbered = [p for p, e in epochs.items() if e.isdigit()]  # epoch 1000 sorts after 999 by number, not text
    for path in sorted(numbered, key=lambda p: int(epochs[p]), reverse=True):
        try:
            saved = safe_load.read_training_checkpoint(path)
        except ValueError:
            continue
        if not isinstance(saved.get("rng"), dict) or "generator" not in saved["rng"]:
            continue
        message = (f"{problem or f'{out}/last.pt is missing'}; resuming from {path.name} "
                   f"(epoch {saved['epoch']}), the newest intact checkpoint. Epoch checkpoints hold no "
                   "optimiser state, so AdamW restarts its moments: the run continues but will not equal an "
                   "uninterrupted one")
        warn(message, UserWarning)
        print(f"infossl: warning: {message}", file=stream or sys.stderr)
        return saved
    raise FileNotFoundError(f"--resume found no intact checkpoint in {out} "
                            f"({problem or 'no last.pt'}; no readable ckpt_epochEEE.pt)")


# ------------------------------------------------------------------------------------ records, checkpoints
class _Recorder:
    """What a run leaves on rank 0, epoch by epoch: the monitors' record, its metrics line, then its
    checkpoints (in that order, the rule that makes ``--resume`` exactly once)."""

    def __init__(self, run: _Run, monitor: Monitor) -> None:
        self.run, self.monitor = run, monitor
        self.writes = run.rank == 0 and run.out is not None

    def open(self, *, resumed: bool) -> None:
        """Write ``config.json``; a resumed run's ``metrics.jsonl`` is cut to the records it keeps, a new
        run's is removed."""
        out = self.run.out
        if not self.writes:
            return
        save_json_atomic(self.run.saved_config, out / "config.json")
        if resumed:
            kept = "".join(json.dumps(r) + "\n" for r in self.monitor.records)
            write_text_atomic(kept, out / "metrics.jsonl")
        elif (out / "metrics.jsonl").exists():
            (out / "metrics.jsonl").unlink()

    def epoch_zero(self) -> None:
        """Record and save the untrained model, with the raw-input probe baselines."""
        if self.run.rank != 0:
            return
        record = {"epoch": 0, "step": 0, "lr": self.run.config.lr, "seconds": 0.0}
        record.update(evaluate(self.run.model, self.run.data, probe=True))
        record.update(baseline_probes(self.run.data))
        self._commit(record)

    def on_epoch(self, record: dict, state: RunState) -> bool:
        """The callback of :func:`~infossl.training.engine.fit`: monitors, metrics line, checkpoints."""
        if self.run.rank == 0:
            config = self.run.config
            probe = state.epoch % config.probe_every == 0 or state.epoch == config.epochs
            record.update(evaluate(self.run.model, self.run.data, probe=probe))
            self._commit(record)
        return False

    def _commit(self, record: dict) -> None:
        self.monitor.log(record)
        if self.writes:
            self._save(record)

    def _save(self, record: dict) -> None:
        """``last.pt`` (full state); every ``save_every`` epochs and at the end a light epoch checkpoint."""
        run, out = self.run, self.run.out
        epoch = run.state.epoch
        state = ck.checkpoint_dict(run.model, config=run.saved_config, metrics=record, **run.state.entries())
        ck.save_checkpoint(state, out / "last.pt")
        if epoch % run.config.save_every == 0 or epoch == run.config.epochs:
            light = dict(state, optimizer=None, scaler=None)
            ck.save_checkpoint(light, out / f"ckpt_epoch{epoch:03d}.pt")
            if run.config.save_format == "safetensors":
                ck.save_safetensors(light, out / f"ckpt_epoch{epoch:03d}.safetensors")


def _fit(fitting: Fit, callback: Any, monitor: Monitor, out: Optional[Path]) -> None:
    """Train the remaining epochs; a diverged loss names the last good checkpoint."""
    try:
        fitting.run(callback=callback, progress=monitor.bar)
    except NonFiniteLossError as exc:
        where = (f"the last good checkpoint is {out / 'last.pt'}" if out is not None
                 else "no checkpoint was written (no --out)")
        raise NonFiniteLossError(f"{exc}; {where}") from None


def _finish(run: _Run, records: list[dict], *, seconds: float) -> dict:
    """Rank 0: the summary, written with the curves to the run folder. Other ranks: an empty dict."""
    if run.rank != 0:
        return {}
    summary = summarise(records, seconds=seconds, out=run.out)
    if run.out is not None:
        plot_curves(records, run.out / "curves.png", title=f"{run.config.objective} on {run.data.name}")
        save_json_atomic(summary, run.out / "summary.json")
    return summary


SUMMARY_KEYS = ("loss", "cross_entropy", "entropy_a", "entropy_b", "regression", "vicreg_loss", "invariance",
                "variance", "covariance",
                "mi_lower_bound", "probe_clean", "probe_augmented", "backbone_rankme",
                "backbone_effective_rank", "backbone_normalized_std", "projector_effective_rank",
                "projector_normalized_std_scaled", "mi_views_gaussian", "backbone_verdict",
                "projector_verdict")


def summarise(records: list[dict], *, seconds: float, out: Optional[Any] = None) -> dict:
    """The final summary: first/last values of the main monitors, baselines and the run time.

    Returns
    -------
    dict
        The summary (``summary.json``).
    """
    first = next((r for r in records if r.get("epoch") == 0), {})
    last = records[-1] if records else {}
    s: dict[str, Any] = {"epochs": last.get("epoch"), "steps": last.get("step"), "seconds": round(seconds, 2)}
    s.update({k: last[k] for k in SUMMARY_KEYS if last.get(k) is not None})
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
