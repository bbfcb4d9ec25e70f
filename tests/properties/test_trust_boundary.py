"""The trust boundary of the file readers: code stored in a file never runs without an explicit trust flag.

Live payloads: TorchScript archives whose scripted ``__setstate__`` (runs at load) or ``forward`` (runs on the
data) overwrite a file through ``torch.from_file(path, shared=True)``. Every entry point that reads a model
file is tried, and the target file must keep its bytes.
"""

import warnings

import numpy as np
import pytest
import torch

from infossl.cli import main
from infossl.diagnostics.checkpoints import diagnose_checkpoints
from infossl.io import load_array, load_checkpoint, read_training_checkpoint

ORIGINAL = b"orig"


class WritesOnCall(torch.nn.Module):
    """``forward`` overwrites ``target`` with b'AAAA', then returns its input."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target

    def forward(self, x):
        t = torch.from_file(self.target, shared=True, size=4, dtype=torch.uint8)
        t.fill_(65)
        return x.flatten(1) + t[:1].to(x.dtype) * 0  # depends on t, so scripting keeps the write


class WritesOnLoad(torch.nn.Module):
    """The scripted ``__setstate__`` (run by ``torch.jit.load``) overwrites ``target`` with b'BBBB'."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.w = torch.zeros(4)

    @torch.jit.export
    def __getstate__(self):
        return (self.target, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]):
        self.target = state[0]
        self.training = state[1]
        t = torch.from_file(self.target, shared=True, size=4, dtype=torch.uint8)
        t.fill_(66)
        self.w = t.to(torch.float32)

    def forward(self, x):
        return x.flatten(1) * self.w.sum()


def _payload(tmp_path, cls):
    target = tmp_path / "victim.bin"
    target.write_bytes(ORIGINAL)
    archive = tmp_path / "payload.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated upstream
        torch.jit.save(torch.jit.script(cls(str(target))), str(archive))
    assert target.read_bytes() == ORIGINAL  # saving ran nothing
    return archive, target


def _cli(archive):
    return main(["diagnose", str(archive), "-q"])


ENTRY_POINTS = {
    "load_checkpoint": lambda p: load_checkpoint(p),
    "read_training_checkpoint": lambda p: read_training_checkpoint(p),
    "diagnose_checkpoints": lambda p: diagnose_checkpoints(p, progress=False),
    "load_array": lambda p: load_array(p),
}


@pytest.mark.parametrize("cls", [WritesOnLoad, WritesOnCall], ids=["setstate", "forward"])
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_torchscript_payload_is_refused_and_writes_nothing(tmp_path, cls, entry):
    archive, target = _payload(tmp_path, cls)
    with pytest.raises(ValueError, match="payload.pt"):
        ENTRY_POINTS[entry](archive)
    assert target.read_bytes() == ORIGINAL


@pytest.mark.parametrize("cls", [WritesOnLoad, WritesOnCall], ids=["setstate", "forward"])
def test_torchscript_payload_through_the_command_line(tmp_path, cls, capsys):
    archive, target = _payload(tmp_path, cls)
    assert _cli(archive) == 1
    err = capsys.readouterr().err
    assert "TorchScript archive" in err and "--trust-checkpoint" in err
    assert target.read_bytes() == ORIGINAL


def test_the_payload_is_live_when_trusted(tmp_path):
    """The refusal above is what stops it: with trust=True the archive's code does run."""
    archive, target = _payload(tmp_path, WritesOnLoad)
    with pytest.warns(UserWarning, match="TorchScript"):
        load_checkpoint(archive, trust=True)
    assert target.read_bytes() == b"BBBB"
    archive, target = _payload(tmp_path, WritesOnCall)
    with pytest.warns(UserWarning, match="TorchScript"):
        ck = load_checkpoint(archive, trust=True)
    ck.module(torch.zeros(2, 3))
    assert target.read_bytes() == b"AAAA"
    assert np.isfinite(ck.module(torch.zeros(2, 3)).numpy()).all()
