"""infossl.io.train_format: the infossl format (round trips, the one validity rule, atomic writes under a
kill)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from infossl.io import load_checkpoint
from infossl.io.safe_load import read_training_checkpoint
from infossl.io.train_format import (FORMAT, checkpoint_dict, remove_stale_temporaries, save_checkpoint,
                                     save_safetensors)
from infossl.models import build_model, model_from_checkpoint


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


SPEC = {"backbone": "cnn", "input_shape": [1, 8, 8], "widths": "4-8", "projector": "16-8", "student": None,
        "student_batchnorm": False}


def _checkpoint(seed=0, epoch=3):
    model = build_model(SPEC, generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(4, 1, 8, 8)).sum().backward()
    opt.step()
    g = torch.Generator().manual_seed(7)
    return model, checkpoint_dict(model, config={"objective": "vicreg", "model": SPEC}, epoch=epoch, step=10,
                                  optimizer=opt, rng={"generator": g.get_state()}, metrics={"loss": torch.tensor(1.5)})


def test_pt_round_trip_with_weights_only(tmp_path):
    model, ck = _checkpoint()
    save_checkpoint(ck, tmp_path / "c.pt")
    raw = torch.load(tmp_path / "c.pt", weights_only=True)  # plain containers and tensors only
    assert raw["format"] == FORMAT and raw["version"] == 1 and raw["epoch"] == 3 and raw["step"] == 10
    assert raw["metrics"] == {"loss": 1.5} and json.dumps(raw["config"])
    assert set(raw["optimizer"]) == {"state", "param_groups"}
    rebuilt, config = model_from_checkpoint(tmp_path / "c.pt")
    assert config["model"] == SPEC and not rebuilt.training
    model.eval()
    x = torch.rand(6, 1, 8, 8)
    torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)
    g = torch.Generator()
    g.set_state(raw["rng"]["generator"])
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=torch.Generator().manual_seed(7)))


def test_safetensors_round_trip(tmp_path):
    model, ck = _checkpoint()
    save_safetensors(ck, tmp_path / "c.safetensors")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "c.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
    assert meta["format"] == FORMAT and meta["epoch"] == "3" and json.loads(meta["config"])["model"] == SPEC
    rebuilt, _ = model_from_checkpoint(tmp_path / "c.safetensors")
    model.eval()
    x = torch.rand(6, 1, 8, 8)
    torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)
    assert read_training_checkpoint(tmp_path / "c.safetensors")["optimizer"] is None


def test_state_dict_has_no_ddp_prefix():
    model, _ = _checkpoint()

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.module = m

    ck = checkpoint_dict(Wrapper(model), config={"model": SPEC}, epoch=0, step=0)
    assert set(ck["state_dict"]) == set(model.state_dict())


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_training_checkpoint(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not an infossl training checkpoint"):
        model_from_checkpoint(tmp_path / "other.pt")
    _, ck = _checkpoint()
    with pytest.raises(ValueError, match="checkpoint version 99"):
        model_from_checkpoint(dict(ck, version=99))
    with pytest.raises(ValueError, match="without its 'state_dict' entry"):
        model_from_checkpoint({k: v for k, v in ck.items() if k != "state_dict"})
    with pytest.raises(ValueError, match="config has no 'model' description"):
        model_from_checkpoint(dict(ck, config={}))
    save_checkpoint(ck, tmp_path / "c.pt")
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "torn.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_training_checkpoint(tmp_path / "torn.pt")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"), metadata={"format": "other"})
    with pytest.raises(ValueError, match="is not an infossl training checkpoint"):
        read_training_checkpoint(tmp_path / "plain.safetensors")


WRITER = textwrap.dedent("""
    import os, sys, time, torch
    from infossl.io.train_format import checkpoint_dict, save_checkpoint
    from infossl.models import build_model
    spec = {spec!r}
    path, marker = sys.argv[1], sys.argv[2]
    model = build_model(spec, generator=torch.Generator().manual_seed(0))
    save_checkpoint(checkpoint_dict(model, config={{"model": spec}}, epoch=1, step=1), path)
    def hang(fd):  # the second write stalls after its bytes are written, before the rename
        open(marker, "w").close()
        time.sleep(120)
    os.fsync = hang
    model2 = build_model(spec, generator=torch.Generator().manual_seed(1))
    save_checkpoint(checkpoint_dict(model2, config={{"model": spec}}, epoch=2, step=2), path)
""")


def test_kill_while_writing_keeps_the_previous_checkpoint(tmp_path):
    path, marker = tmp_path / "last.pt", tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, "-c", WRITER.format(spec=SPEC), str(path), str(marker)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, "the writer never reached the second write"
            time.sleep(0.05)
        assert list(tmp_path.glob(".last.pt.*.tmp"))  # the second checkpoint is on disk, not renamed yet
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert read_training_checkpoint(path)["epoch"] == 1  # the previous checkpoint, intact
    model, _ = model_from_checkpoint(path)
    ref = build_model(SPEC, generator=torch.Generator().manual_seed(0))
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    removed = remove_stale_temporaries(tmp_path)
    assert len(removed) == 1 and not list(tmp_path.glob(".*.tmp")) and os.path.exists(path)



def test_one_validity_rule_for_both_formats(tmp_path):
    _, ck = _checkpoint()
    bad = dict(ck, epoch="3")
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="the 'epoch' entry is '3', expected an int"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="the 'epoch' entry is '3', expected an int"):
        save_safetensors(bad, tmp_path / "bad.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "nocfg.safetensors"),
              metadata={"format": FORMAT, "version": "1", "epoch": "2"})
    with pytest.raises(ValueError, match="without its 'config' entry"):
        load_checkpoint(tmp_path / "nocfg.safetensors")
