"""infossl.training.run: every objective and entropy through train, divergence, resume (also after a kill), DDP == 1 process."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from infossl.cli import main
from infossl.io.safe_load import read_training_checkpoint
from infossl.models import model_from_checkpoint
from infossl.objectives import VICRegLoss
from infossl.training.config import OBJECTIVES, TrainConfig
from infossl.training.engine import NonFiniteLossError
from infossl.training.monitors import read_records
from infossl.training.run import train
from tests._ranks import run_ranks

SMALL = dict(widths="4-8", projector="16-16", batch_size=64, steps_per_epoch=2, threads=1)
SPEC = {"backbone": "mlp", "input_shape": [6], "widths": "16", "projector": "8"}


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_every_objective_trains_a_few_steps(objective, tmp_path):
    cfg = TrainConfig(objective=objective, epochs=1, out=str(tmp_path), probe_every=5, **SMALL)
    result = train(cfg, quiet=True)
    last = result.records[-1]
    assert [r["epoch"] for r in result.records] == [0, 1] and last["step"] == 2
    assert torch.isfinite(torch.tensor(last["loss"]))
    assert "probe_augmented" in last and "backbone_rankme" in last  # the last epoch is always probed
    assert (tmp_path / "ckpt_epoch001.pt").exists() and (tmp_path / "metrics.jsonl").exists()
    model, config = model_from_checkpoint(tmp_path / "ckpt_epoch001.pt")
    assert config["objective"] == objective and model.backbone(torch.rand(2, 1, 8, 8)).shape == (2, 8)


@pytest.mark.parametrize("entropy", ["gaussian", "pairdist-kl", "pairdist-bd", "vicreg"])
def test_every_entropy_trains(entropy):
    result = train(TrainConfig(entropy=entropy, epochs=1, probe_every=5, **SMALL), quiet=True)
    assert torch.isfinite(torch.tensor(result.records[-1]["loss"]))
    assert set(result.records[-1]) >= {"cross_entropy", "entropy_a", "entropy_b"}


class ExplodingLoss(VICRegLoss):
    """VICReg that returns NaN from its ``after``-th call on."""

    def __init__(self, after):
        super().__init__()
        self.calls, self.after = 0, after

    def forward(self, a, b):
        self.calls += 1
        loss = super().forward(a, b)
        return loss * float("nan") if self.calls > self.after else loss


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import infossl.training.run as run_module

    monkeypatch.setattr(run_module, "make_objective", lambda config, distributed=False: ExplodingLoss(3))
    cfg = TrainConfig(objective="vicreg", epochs=4, out=str(tmp_path), probe_every=9, **SMALL)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, step 4 .*last good checkpoint is .*last.pt"):
        train(cfg, quiet=True)
    saved = read_training_checkpoint(tmp_path / "last.pt")
    assert saved["epoch"] == 1 and all(torch.isfinite(v).all() for v in saved["state_dict"].values())


def _final(records):
    last = records[-1]
    return {k: last[k] for k in ("loss", "probe_clean", "probe_augmented", "backbone_rankme", "step")}


@pytest.mark.parametrize("objective", ["vicreg", "byol"])  # byol: the EMA target is part of the state
def test_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch, objective):
    base = dict(objective=objective, probe_every=2, **SMALL)
    full = train(TrainConfig(epochs=3, out=str(tmp_path / "full"), **base), quiet=True)
    from infossl.training.monitors import Monitor

    real_log = Monitor.log

    def interrupted_log(self, record):  # epoch 2 is logged, then the run dies before its checkpoint
        real_log(self, record)
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Monitor, "log", interrupted_log)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(epochs=3, out=str(tmp_path / "split"), **base), quiet=True)
    monkeypatch.setattr(Monitor, "log", real_log)
    assert read_training_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 1
    resumed = train(TrainConfig(epochs=3, out=str(tmp_path / "split"), **base), resume=True, quiet=True)
    assert _final(resumed.records) == _final(full.records)
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2, 3]
    a = read_training_checkpoint(tmp_path / "full" / "last.pt")["state_dict"]
    b = read_training_checkpoint(tmp_path / "split" / "last.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()
    assert any(k.startswith("target.") for k in a) == (objective == "byol")


def test_resume_refuses_a_different_configuration(tmp_path):
    train(TrainConfig(objective="vicreg", epochs=1, out=str(tmp_path), probe_every=5, **SMALL), quiet=True)
    with pytest.raises(ValueError, match="different run configuration \\(lr: 0.002 -> 0.1\\)"):
        train(TrainConfig(objective="vicreg", epochs=2, out=str(tmp_path), lr=0.1, probe_every=5, **SMALL),
              resume=True, quiet=True)
    with pytest.raises(FileNotFoundError, match="--resume found no intact checkpoint"):
        train(TrainConfig(objective="vicreg", epochs=2, out=str(tmp_path / "new"), **SMALL), resume=True, quiet=True)


KILL_ARGS = ["--objective", "vicreg", "--widths", "4-8", "--projector", "16-16", "--batch-size", "64",
             "--steps-per-epoch", "3", "--probe-every", "3", "--threads", "1", "--quiet"]


def test_resume_after_killing_the_process(tmp_path):
    """Kill a CLI run after its second epoch, resume it, and compare with an uninterrupted run."""
    killed = tmp_path / "killed"
    epochs = 8
    cmd = [sys.executable, "-m", "infossl.cli", "train", "--epochs", str(epochs), "--out", str(killed), *KILL_ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "the run did not reach epoch 2"
            lines = (killed / "metrics.jsonl").read_text().splitlines() if (killed / "metrics.jsonl").exists() else []
            if len(lines) >= 3:  # epochs 0, 1, 2 recorded
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = read_training_checkpoint(killed / "last.pt")["epoch"]
    assert list(killed.glob("ckpt_epoch*.pt"))
    assert 1 <= done < epochs  # epoch 2 may be logged but not yet checkpointed when the kill lands
    # resume in-process and compare with an uninterrupted in-process run
    cfg = dict(objective="vicreg", widths="4-8", projector="16-16", batch_size=64, steps_per_epoch=3, probe_every=3,
               threads=1)
    resumed = train(TrainConfig(epochs=epochs, out=str(killed), **cfg), resume=True, quiet=True)
    full = train(TrainConfig(epochs=epochs, out=str(tmp_path / "full"), **cfg), quiet=True)
    assert _final(resumed.records) == _final(full.records)


# Runs `infossl <argv[2:]>` and kills itself with SIGKILL just before the checkpoint of epoch argv[1] is
# written, that is after the epoch's metrics line.
DIE_BEFORE_CHECKPOINT = """
import os, signal, sys
import infossl.io.train_format as ck

real_save = ck.save_checkpoint

def save_or_die(obj, path):
    if obj.get("epoch") == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, path)

ck.save_checkpoint = save_or_die
from infossl.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_resume_records_each_epoch_once_after_a_kill_between_metrics_line_and_checkpoint(tmp_path):
    """kill -9 after epoch 1's metrics line, before its checkpoint: --resume starts from epoch 0's checkpoint,
    and metrics.jsonl still holds every epoch exactly once."""
    out = tmp_path / "run"
    args = ["train", "--epochs", "3", "--out", str(out), *KILL_ARGS]
    killed = subprocess.run([sys.executable, "-c", DIE_BEFORE_CHECKPOINT, "1", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert [r["epoch"] for r in read_records(out / "metrics.jsonl")] == [0, 1]
    assert read_training_checkpoint(out / "last.pt")["epoch"] == 0
    assert main([*args, "--resume"]) == 0
    assert [r["epoch"] for r in read_records(out / "metrics.jsonl")] == [0, 1, 2, 3]


# --------------------------------------------------------------------------------------------- DDP
WORLD = 2
DDP_CFG = dict(objective="vicreg", epochs=2, widths="4-8", projector="16-16", batch_size=64, steps_per_epoch=2,
               probe_every=9, threads=1)


def _ddp_worker(rank, out_dir, cfgs):
    out = {}
    for name, cfg in cfgs.items():
        result = train(TrainConfig(**cfg), quiet=True)
        out[name] = {"records": [{k: v for k, v in r.items() if isinstance(v, float)} for r in result.records],
                     "state": {k: v.cpu() for k, v in result.model.state_dict().items()}}
    if rank == 0:
        torch.save(out, f"{out_dir}/ddp.pt")


# Parameters whose gradient is zero up to rounding: the losses are invariant to a common shift of those outputs
# (for CISSL's student, the batch norm after the linear layer removes it), and Adam turns rounding noise of either
# run into full-size steps, so they are not comparable; nor are the running means that track that bias: CISSL's
# student's, and for BYOL (whose predictor starts with a batch norm, so the projector's bias is free there too) the
# predictor's first batch norm's and the target's average of the projector's bias.
SHIFT_INVARIANT = ("projector.3.bias", "student.0.bias", "student.1.running_mean", "predictor.1.running_mean",
                   "target.projector.3.bias")


def test_ddp_two_gloo_processes_equal_one_process_for_every_objective(tmp_path):
    """Every objective, through ``train`` -> ``fit`` under a 2-process group, gathers its batch statistics:
    losses, terms and weights equal the single-process run on the global batch."""
    cfgs = {name: dict(DDP_CFG, objective=name) for name in sorted(OBJECTIVES)}
    run_ranks(_ddp_worker, tmp_path, str(tmp_path), cfgs, world=WORLD)
    ddp = torch.load(tmp_path / "ddp.pt")
    for name, cfg in cfgs.items():
        single = train(TrainConfig(**cfg), quiet=True)
        compared = 0
        for r_ddp, r_one in zip(ddp[name]["records"][1:], single.records[1:]):
            assert "loss" in r_one, name
            for key, value in r_one.items():  # the loss and its terms (the objective's last_terms)
                if not isinstance(value, float) or key in ("lr", "seconds", "mi_views_gaussian") \
                        or key.startswith(("backbone_", "projector_", "probe", "raw_")):
                    continue
                # float32 sums in a different order (gathered statistics): 1e-5 relative is ~100 ulps
                assert r_ddp[key] == pytest.approx(value, rel=1e-5, abs=1e-6), (name, key)
                compared += 1
        assert compared > 0, name
        state = single.model.state_dict()
        for k, v in ddp[name]["state"].items():
            if k in SHIFT_INVARIANT:
                continue
            torch.testing.assert_close(v, state[k], rtol=1e-4, atol=1e-5, msg=f"{name}: {k}")


@pytest.mark.gpu
@pytest.mark.parametrize("objective", ["info-vicreg", "byol-logdet"])  # byol-logdet: the EMA under AMP
def test_cuda_autocast_and_grad_scaling(tmp_path, objective):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    result = train(TrainConfig(objective=objective, epochs=2, out=str(tmp_path), device="cuda", **SMALL),
                   quiet=True)
    assert result.records[-1]["step"] == 4 and torch.isfinite(torch.tensor(result.records[-1]["loss"]))
    saved = read_training_checkpoint(tmp_path / "last.pt")
    assert saved["scaler"] is not None and all(v.device.type == "cpu" for v in saved["state_dict"].values())


def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path):
    cfg = dict(objective="vicreg", out=str(tmp_path), probe_every=9, **SMALL)
    train(TrainConfig(epochs=2, **cfg), quiet=True)
    last = tmp_path / "last.pt"
    last.write_bytes(last.read_bytes()[:200])  # truncated by a disk fault
    (tmp_path / "ckpt_epoch002.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match=r"last.pt is unreadable .*resuming from ckpt_epoch001.pt \(epoch 1\)"):
        resumed = train(TrainConfig(epochs=3, **cfg), resume=True, quiet=True)
    assert [r["epoch"] for r in resumed.records] == [0, 1, 2, 3]
    assert read_training_checkpoint(last)["epoch"] == 3
    for p in tmp_path.glob("*.pt"):
        p.unlink()
    with pytest.raises(FileNotFoundError, match="no intact checkpoint"):
        train(TrainConfig(epochs=3, **cfg), resume=True, quiet=True)


def test_a_second_writer_of_the_same_run_folder_is_refused(tmp_path):
    from infossl.io.locks import LockHeldError, lock_run_dir

    with lock_run_dir(tmp_path):  # another run holds the folder
        with pytest.raises(LockHeldError, match=str(os.getpid())):
            train(TrainConfig(objective="vicreg", epochs=1, out=str(tmp_path), probe_every=9, **SMALL), quiet=True)
    assert not (tmp_path / "last.pt").exists()
    train(TrainConfig(objective="vicreg", epochs=1, out=str(tmp_path), probe_every=9, **SMALL), quiet=True)
    assert (tmp_path / "last.pt").exists()


def test_resume_fallback_orders_epochs_by_number(tmp_path, monkeypatch):
    # with last.pt unreadable the newest intact epoch checkpoint is taken: 1000 is newer than 999
    from infossl.training import run as run_module

    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    for epoch in (998, 999, 1000):
        (tmp_path / f"ckpt_epoch{epoch:03d}.pt").write_bytes(b"stand-in")
    read = []

    def fake_read(path):
        read.append(path.name)
        if path.name == "last.pt":
            raise ValueError("truncated")
        return {"epoch": int(path.stem[len("ckpt_epoch"):]), "rng": {"generator": None}}

    monkeypatch.setattr(run_module.safe_load, "read_training_checkpoint", fake_read)
    with pytest.warns(UserWarning, match="resuming from ckpt_epoch1000.pt"):
        saved = run_module._resume_state(tmp_path, io.StringIO())
    assert read[:2] == ["last.pt", "ckpt_epoch1000.pt"]
    assert saved["epoch"] == 1000
