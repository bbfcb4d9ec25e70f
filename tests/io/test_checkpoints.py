"""infossl.io.checkpoints: the infossl format (round trips, validity rule, atomic writes under a kill) and
loading any checkpoint safely (no code from the file runs; prefixes, layouts, safetensors, TorchScript)."""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest
import torch
from torch import nn

from infossl.io import Checkpoint, CheckpointSecurityWarning, load_checkpoint, load_weights, strip_prefixes
from infossl.io.checkpoints import (FORMAT, checkpoint_dict, is_checkpoint, read_training_checkpoint,
                                    remove_stale_temporaries, save_checkpoint, save_safetensors)
from infossl.models import build_model, model_from_checkpoint


class Malicious:
    """Unpickling this creates the file ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------------------- malicious files
@pytest.mark.parametrize("layout", ["zip", "legacy", "raw-pickle"])
def test_malicious_pickle_is_refused_without_running(tmp_path, net, layout):
    marker = tmp_path / "MARKER"
    payload = {"state_dict": net.state_dict(), "extra": Malicious(marker)}
    path = tmp_path / "evil.pt"
    if layout == "raw-pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=layout == "zip")
    assert not marker.exists()
    with pytest.raises(ValueError, match=r"refused to load .*evil.pt.*--trust-checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()  # the __reduce__ payload never ran


def test_refusal_names_the_object(tmp_path):
    torch.save(nn.Linear(2, 2), tmp_path / "module.pt")  # a pickled full module names torch.nn classes
    with pytest.raises(ValueError, match=r"refused to load .*\(.*Linear.*\)"):
        load_checkpoint(tmp_path / "module.pt")


def test_trusted_full_module_warns(tmp_path, net):
    torch.save(net, tmp_path / "module.pt")
    with pytest.warns(CheckpointSecurityWarning, match="executes any code stored in the file"):
        ck = load_checkpoint(tmp_path / "module.pt", trust=True)
    assert ck.kind == "module" and not ck.module.training
    assert same_weights(ck.module.state_dict(), net.state_dict())
    torch.save({"model": net, "epoch": 4}, tmp_path / "wrapped.pt")
    with pytest.warns(CheckpointSecurityWarning):
        ck = load_checkpoint(tmp_path / "wrapped.pt", trust=True)
    assert ck.kind == "module" and ck.epoch == 4


def test_safe_files_do_not_warn_even_when_trusted(tmp_path, net):
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_checkpoint(tmp_path / "sd.pt", trust=True).kind == "state_dict"


# ----------------------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("wrap", ["bare", "state_dict", "model_state_dict", "model", "net"])
def test_state_dict_layouts(tmp_path, net, wrap):
    sd = net.state_dict()
    torch.save(sd if wrap == "bare" else {wrap: sd, "epoch": 3, "step": 30}, tmp_path / "c.pt")
    ck = load_checkpoint(tmp_path / "c.pt")
    assert isinstance(ck, Checkpoint) and ck.kind == "state_dict" and same_weights(ck.state_dict, sd)
    assert (ck.epoch, ck.step) == ((None, None) if wrap == "bare" else (3, 30))


def test_key_selects_the_entry(tmp_path, net):
    torch.save({"teacher": net.state_dict(), "student": net.state_dict(), "cfg": {"a": 1}}, tmp_path / "c.pt")
    with pytest.raises(
        ValueError, match=r"entries 'teacher', 'student', 'cfg', none of which is a state dict"
    ):
        load_checkpoint(tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt", key="teacher").kind == "state_dict"
    with pytest.raises(ValueError, match=r"key='ema' is not in .*available entries: 'teacher'"):
        load_checkpoint(tmp_path / "c.pt", key="ema")
    with pytest.raises(ValueError, match="none of which is a state dict"):
        load_checkpoint(tmp_path / "c.pt", key="cfg")


def test_prefixes_are_stripped(tmp_path, net):
    sd = net.state_dict()
    wrapped = {f"module._orig_mod.{k}": v for k, v in sd.items()}
    torch.save({"state_dict": wrapped}, tmp_path / "ddp.pt")
    assert same_weights(load_checkpoint(tmp_path / "ddp.pt").state_dict, sd)
    assert strip_prefixes({"backbone._orig_mod.fc.weight": 1, "head.bias": 2}) == {
        "backbone.fc.weight": 1,
        "head.bias": 2,
    }
    assert strip_prefixes({"module.a": 1}, prefixes=()) == {"module.a": 1}
    with pytest.raises(ValueError, match="'module.a' and 'a' are the same after stripping"):
        strip_prefixes({"module.a": 1, "a": 2})
    with pytest.raises(TypeError, match="keys must be strings"):
        strip_prefixes({1: 2})


def test_infossl_checkpoint(tmp_path, net):
    config = {"model": {"kind": "mlp"}, "seed": 0}
    record = {
        "format": "infossl-checkpoint",
        "version": 1,
        "config": config,
        "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()},
        "epoch": 2,
        "step": 20,
        "optimizer": {"state": {}},
        "rng": {"torch": torch.get_rng_state()},
        "metrics": {"loss": 0.5},
    }
    torch.save(record, tmp_path / "ckpt_epoch002.pt")
    ck = load_checkpoint(tmp_path / "ckpt_epoch002.pt")
    assert ck.kind == "infossl" and ck.config == config and (ck.epoch, ck.step) == (2, 20)
    assert same_weights(ck.state_dict, net.state_dict()) and ck.raw["state_dict"] is ck.state_dict
    del record["config"]
    torch.save(record, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="infossl checkpoint without its 'config' entry"):
        load_checkpoint(tmp_path / "broken.pt")


def test_safetensors(tmp_path, net):
    from safetensors.torch import save_file

    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(sd, str(tmp_path / "plain.safetensors"))
    ck = load_checkpoint(tmp_path / "plain.safetensors")
    assert ck.kind == "state_dict" and same_weights(ck.state_dict, sd)
    config = {"model": {"kind": "mlp"}}
    meta = {"format": "infossl-checkpoint", "config": json.dumps(config), "epoch": "7"}
    save_file(sd, str(tmp_path / "ckpt.safetensors"), metadata=meta)
    ck = load_checkpoint(tmp_path / "ckpt.safetensors")
    assert ck.kind == "infossl" and ck.config == config and ck.epoch == 7
    assert ck.raw["format"] == "infossl-checkpoint" and ck.raw["epoch"] == 7
    save_file(sd, str(tmp_path / "bad.safetensors"), metadata={**meta, "config": "{not json"})
    with pytest.raises(ValueError, match="'config' metadata is not valid JSON"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_torchscript_only_when_trusted(tmp_path, net):
    torch.jit.script(net).save(str(tmp_path / "scripted.pt"))
    with pytest.raises(ValueError, match=r"refused to load .*scripted\.pt: it is a TorchScript archive"):
        load_checkpoint(tmp_path / "scripted.pt")
    with pytest.warns(CheckpointSecurityWarning, match="TorchScript archive"):
        ck = load_checkpoint(tmp_path / "scripted.pt", trust=True)
    x = torch.randn(5, 4)
    assert ck.kind == "torchscript" and torch.allclose(ck.module(x), net(x))


# ----------------------------------------------------------------------------------------- bad files
@pytest.mark.parametrize("kind", ["pt", "legacy", "safetensors", "torchscript"])
def test_truncated_checkpoints(tmp_path, net, kind):
    path = tmp_path / ("c.safetensors" if kind == "safetensors" else "c.pt")
    if kind == "safetensors":
        from safetensors.torch import save_file

        save_file(net.state_dict(), str(path))
    elif kind == "torchscript":
        torch.jit.script(net).save(str(path))
    else:
        torch.save(net.state_dict(), path, _use_new_zipfile_serialization=kind == "pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"c\.(pt|safetensors).*(truncated|corrupt|refused)"):
        load_checkpoint(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CheckpointSecurityWarning)
        with pytest.raises(ValueError, match=r"c\.(pt|safetensors).*(truncated|corrupt|refused)"):
            load_checkpoint(path, trust=True)


def test_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="is a directory"):
        load_checkpoint(tmp_path)
    torch.save({"w": torch.ones(2)}, tmp_path / "c.pt")
    with pytest.raises(TypeError, match="trust must be True or False, got 'yes'"):
        load_checkpoint(tmp_path / "c.pt", trust="yes")
    torch.save([torch.ones(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="holds a list; expected a state dict"):
        load_checkpoint(tmp_path / "list.pt")


def test_load_weights_lists_the_mismatch(net):
    sd = dict(net.state_dict())
    other = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 5))  # last layer has another shape
    with pytest.raises(
        ValueError, match=r"other shapes \(2\): 2.weight: checkpoint \(2, 3\) vs model \(5, 3\), 2.bias"
    ):
        load_weights(other, sd)
    sd["extra.weight"] = torch.ones(1)
    del sd["0.bias"]
    with pytest.raises(
        ValueError,
        match=r"ckpt.pt does not match the model. Keys missing from the checkpoint \(1\): 0.bias; "
        r"not in the model \(1\): extra.weight",
    ):
        load_weights(net, sd, source="ckpt.pt")
    fresh = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).train()
    model = load_weights(fresh, {f"module.{k}": v for k, v in net.state_dict().items()})
    assert model is fresh and not model.training and same_weights(model.state_dict(), net.state_dict())


# ------------------------------------------------------------------------------ the infossl format
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
    from infossl.io.checkpoints import checkpoint_dict, save_checkpoint
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


def test_is_checkpoint_tells_models_from_embeddings(tmp_path):
    from safetensors.torch import save_file

    model, ck = _checkpoint()
    save_checkpoint(ck, tmp_path / "c.pt")
    save_safetensors(ck, tmp_path / "c.safetensors")
    save_file({"z": torch.randn(5, 3)}, str(tmp_path / "emb.safetensors"))
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"model": nn.Linear(2, 2).state_dict()}, tmp_path / "entry.pt")
    torch.save(torch.randn(5, 3), tmp_path / "emb.pt")
    (tmp_path / "weights.ckpt").write_bytes(b"anything")
    (tmp_path / "torn.pt").write_bytes((tmp_path / "c.pt").read_bytes()[:100])
    import numpy as np

    np.save(tmp_path / "emb.npy", np.zeros((4, 2)))
    models = ["c.pt", "c.safetensors", "legacy.pt", "entry.pt", "weights.ckpt"]
    others = ["emb.safetensors", "emb.pt", "torn.pt", "emb.npy", "missing.pt"]
    assert [is_checkpoint(tmp_path / f) for f in models] == [True] * len(models)
    assert [is_checkpoint(tmp_path / f) for f in others] == [False] * len(others)


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


# ------------------------------------------------------------------------------ other frameworks' files
def _save_with_fake_class(path, obj_factory, module_name, class_name):
    """torch.save an object holding an instance of a class that exists only while saving (as a Lightning
    AttributeDict does on the machine that trained), so that loading cannot import it."""
    import sys
    import types

    parts = module_name.split(".")
    made = []
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            made.append(name)
    cls = type(class_name, (dict,), {"__module__": module_name})
    setattr(sys.modules[module_name], class_name, cls)
    try:
        torch.save(obj_factory(cls), path)
    finally:
        for name in made:
            sys.modules.pop(name, None)


def test_lightning_checkpoint_reads_hyperparameters_as_plain_dicts(tmp_path, net):
    path = tmp_path / "epoch=3-step=40.ckpt"
    _save_with_fake_class(path, lambda AttributeDict: {
        "state_dict": {f"model.backbone.{k}": v for k, v in net.state_dict().items()},
        "hyper_parameters": AttributeDict(lr=0.1, dim=8), "epoch": 3, "global_step": 40,
        "pytorch-lightning_version": "2.4.0"}, "lightning.fabric.utilities.data", "AttributeDict")
    ck = load_checkpoint(path)
    assert ck.kind == "state_dict" and ck.epoch == 3 and ck.step == 40
    assert ck.notes == ["read as plain dicts (no code run): lightning.fabric.utilities.data.AttributeDict"]
    notes = []
    fresh = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    load_weights(fresh, ck.state_dict, notes=notes)
    assert notes == ["stripped the prefix 'model.backbone.'"] and same_weights(fresh.state_dict(), net.state_dict())


def test_other_globals_are_still_refused_next_to_framework_classes(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned > /dev/null",))

    path = tmp_path / "mixed.ckpt"
    _save_with_fake_class(path, lambda AttributeDict: {"hyper_parameters": AttributeDict(a=1), "x": Evil(),
                                                       "state_dict": {"w": torch.zeros(1)}},
                          "pytorch_lightning.utilities.parsing", "AttributeDict")
    with pytest.raises(ValueError, match="refused to load"):
        load_checkpoint(path)


def test_fit_state_dict_strips_framework_prefixes_and_leaves_out_heads():
    from infossl.io.checkpoints import fit_state_dict

    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    state = {f"model.backbone.{k}": v for k, v in model.state_dict().items()}
    state["model.projector.weight"] = torch.zeros(5, 2)
    fitted, notes = fit_state_dict(state, list(model.state_dict()))
    assert sorted(fitted) == sorted(model.state_dict())
    assert notes == ["stripped the prefix 'model.backbone.'; left out 1 other entries (model.projector.weight)"]
    notes = []
    assert load_weights(model, state, notes=notes) is model and "model.backbone." in notes[0]
    exact, none = fit_state_dict(model.state_dict(), list(model.state_dict()))
    assert none == [] and list(exact) == list(model.state_dict())
    unrelated = {"encoder.other.weight": torch.zeros(1)}
    assert fit_state_dict(unrelated, ["0.weight"]) == (unrelated, [])
    with pytest.raises(ValueError, match="does not match the model"):
        load_weights(model, unrelated)
