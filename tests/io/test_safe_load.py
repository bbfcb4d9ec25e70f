"""infossl.io.safe_load: loading any checkpoint safely (no code from the file runs; prefixes, layouts,
safetensors, TorchScript only when trusted, other frameworks' containers)."""

import json
import pickle
import warnings

import pytest
import torch
from torch import nn

from infossl.io import Checkpoint, CheckpointSecurityWarning, load_checkpoint, load_weights, strip_prefixes
from ._nets import same_weights


class Malicious:
    """Unpickling this creates the file ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


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


def test_every_stripped_prefix_gets_a_note(tmp_path, net):
    # README promises a note of what was stripped; a DDP checkpoint used to load with notes == []
    sd = net.state_dict()
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "ddp.pt")
    n = len(sd)
    ddp, compiled = (f"stripped the prefix {p!r} from {n} of {n} keys" for p in ("module.", "_orig_mod."))
    assert load_checkpoint(tmp_path / "ddp.pt").notes == [ddp]
    torch.save({"state_dict": {f"module._orig_mod.{k}": v for k, v in sd.items()}}, tmp_path / "both.pt")
    assert load_checkpoint(tmp_path / "both.pt").notes == [ddp, compiled]
    torch.save(sd, tmp_path / "plain.pt")
    assert load_checkpoint(tmp_path / "plain.pt").notes == []
    safetensors = pytest.importorskip("safetensors.torch")
    safetensors.save_file({f"module.{k}": v.contiguous() for k, v in sd.items()},
                          str(tmp_path / "ddp.safetensors"))
    assert load_checkpoint(tmp_path / "ddp.safetensors").notes == [ddp]


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


def test_argparse_namespace_hyperparameters_are_read_as_a_plain_dict(tmp_path, net):
    """A Namespace pickles as NEWOBJ + BUILD (its attributes), not as dict entries: its attributes arrive."""
    import argparse

    from infossl.io.safe_load import _weights_only_load

    hp = argparse.Namespace(lr=0.1, layers=[4, 3], name="run")
    path = tmp_path / "namespace.ckpt"
    torch.save({"state_dict": net.state_dict(), "hyper_parameters": hp, "epoch": 2, "both": [hp, (hp,)]}, path)
    ck = load_checkpoint(path)
    assert ck.kind == "state_dict" and ck.epoch == 2
    assert ck.notes == ["read as plain dicts (no code run): argparse.Namespace"]
    assert same_weights(ck.state_dict, net.state_dict())
    notes = []
    raw = _weights_only_load(path, notes)
    assert raw["hyper_parameters"] == {"lr": 0.1, "layers": [4, 3], "name": "run"}
    assert type(raw["hyper_parameters"]) is dict and raw["both"][0] is raw["hyper_parameters"]
    assert raw["both"][1][0] is raw["hyper_parameters"]
    assert raw["state_dict"]._metadata == net.state_dict()._metadata  # genuine OrderedDicts keep theirs


def test_a_framework_dict_with_attributes_and_entries_keeps_both(tmp_path):
    from infossl.io.safe_load import _weights_only_load

    def make(AttributeDict):
        hp = AttributeDict(lr=0.1)
        hp.extra = "kept"  # an instance attribute: pickled as BUILD state after the entries
        return {"hyper_parameters": hp, "state_dict": {"w": torch.zeros(1)}}

    path = tmp_path / "attrs.ckpt"
    _save_with_fake_class(path, make, "lightning.fabric.utilities.data", "AttributeDict")
    raw = _weights_only_load(path, [])
    assert raw["hyper_parameters"] == {"lr": 0.1, "extra": "kept"}



def _save_with_fake(path, obj_factory, module_name, class_name, bases=(), namespace=None):
    """Like :func:`_save_with_fake_class` for any bases and class body; an existing module (e.g. argparse)
    gets the class only while saving."""
    import sys
    import types

    created = module_name not in sys.modules
    module = sys.modules.setdefault(module_name, types.ModuleType(module_name))
    cls = type(class_name, bases, {"__module__": module_name, "__qualname__": class_name, **(namespace or {})})
    had = hasattr(module, class_name)
    old = getattr(module, class_name, None)
    setattr(module, class_name, cls)
    try:
        torch.save(obj_factory(cls), path)
    finally:
        if had:
            setattr(module, class_name, old)
        else:
            delattr(module, class_name)
        if created:
            sys.modules.pop(module_name, None)


def test_hostile_stand_in_state_is_read_as_data_or_refused(tmp_path):
    """An attribute named like a dict method is data (kept, never called); a name that only starts like an
    exact-name entry (argparse.NamespaceEvil) is refused."""
    import argparse

    from infossl.io.safe_load import _weights_only_load

    ns = argparse.Namespace(lr=0.1)
    ns.items = torch.zeros(1)  # shadows the dict method the converter must not call
    path = tmp_path / "shadow.ckpt"
    torch.save({"hyper_parameters": ns, "state_dict": {"w": torch.zeros(1)}}, path)
    assert load_checkpoint(path).kind == "state_dict"
    hp = _weights_only_load(path, [])["hyper_parameters"]
    assert hp["lr"] == 0.1 and torch.equal(hp["items"], torch.zeros(1))

    path = tmp_path / "lookalike.ckpt"
    _save_with_fake(path, lambda Evil: {"hp": Evil(), "state_dict": {"w": torch.zeros(1)}},
                    "argparse", "NamespaceEvil")
    with pytest.raises(ValueError, match="refused to load"):
        load_checkpoint(path)


def test_slots_state_of_a_framework_class_is_a_clear_refusal(tmp_path):
    def init(self):
        self.a = 1

    path = tmp_path / "slots.ckpt"
    _save_with_fake(path, lambda Slotted: {"hp": Slotted(), "state_dict": {"w": torch.zeros(1)}},
                    "lightning.fake_slots", "Slotted", namespace={"__slots__": ("a",), "__init__": init})
    with pytest.raises(ValueError, match="refused to load"):  # a ValueError, not a raw TypeError
        load_checkpoint(path)


def test_framework_enum_arguments_are_kept(tmp_path):
    """A container built from arguments (REDUCE, e.g. Lightning's TrainerFn("fit")) keeps them."""
    from infossl.io.safe_load import _weights_only_load

    def reduce(self):
        return (type(self), (str(self),))

    path = tmp_path / "enum.ckpt"
    _save_with_fake(path, lambda Fn: {"fn": Fn("fit"), "state_dict": {"w": torch.zeros(1)}},
                    "lightning.fake_states", "TrainerFn", bases=(str,), namespace={"__reduce__": reduce})
    notes = []
    assert _weights_only_load(path, notes)["fn"] == {"__args__": ["fit"]}
    assert notes == ["read as plain dicts (no code run): lightning.fake_states.TrainerFn"]
