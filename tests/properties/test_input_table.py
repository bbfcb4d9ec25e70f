"""README's table of input files, walked row by row against what the readers do.

Each row names a kind of file; a maker below writes one. The table and the makers must list the same kinds,
and every cell must be what the code does: "read" (a result), "refused" (a ValueError or TypeError raised by
infossl), "trusted only" (refused, then read with ``trust=True``).
"""

import pathlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from infossl.io import CheckpointSecurityWarning, load_array, load_checkpoint
from infossl.io.train_format import checkpoint_dict, save_checkpoint

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
Z = np.random.default_rng(0).standard_normal((12, 3))


def _table() -> dict:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- input-table -->(.*?)<!-- /input-table -->", text, re.S)
    assert block, "README.md has no input table between <!-- input-table --> markers"
    rows = {}
    for line in block.group(1).strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = (cells[1], cells[2])
    return rows


def _csv(path, text):
    path.write_text(text)


def _scripted(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated upstream
        torch.jit.script(nn.Linear(3, 2)).save(str(path))


MAKERS = {  # kind -> (file name, writer, key for load_array)
    "`.npy` numeric array": ("a.npy", lambda p: np.save(p, Z), None),
    "`.npy` of Python objects": ("a.npy", lambda p: np.save(p, np.array([{"a": 1}, None]), allow_pickle=True),
                                 None),
    "`.npz` numeric arrays": ("a.npz", lambda p: np.savez(p, z=Z, w=Z[:, :2]), "z"),
    "`.csv` numeric columns": ("a.csv", lambda p: pd.DataFrame(Z).to_csv(p, index=False), None),
    "`.csv` without a final line break": ("a.csv", lambda p: _csv(p, "a,b\n1,2\n3,4"), None),
    "`.csv` with a row longer than the header": ("a.csv", lambda p: _csv(p, "a,b\n1,2\n3,4,5\n6,7\n"), None),
    "`.parquet` numeric columns": ("a.parquet", lambda p: pd.DataFrame(Z, columns=list("abc")).to_parquet(p),
                                   None),
    "`.txt`": ("a.txt", lambda p: _csv(p, "1 2 3\n4 5 6\n"), None),
    "`.pt` tensor": ("a.pt", lambda p: torch.save(torch.from_numpy(Z), p), None),
    "`.pt` state dict": ("a.pt", lambda p: torch.save(nn.Linear(3, 2).state_dict(), p), "weight"),
    "`.pt` legacy (non-zip) state dict": (
        "a.pt", lambda p: torch.save(nn.Linear(3, 2).state_dict(), p, _use_new_zipfile_serialization=False),
        "weight"),
    "`.pt` infossl train checkpoint": (
        "a.pt", lambda p: save_checkpoint(checkpoint_dict(nn.Linear(3, 2), config={}, epoch=1, step=1), p),
        None),
    "`.pt` pickled `nn.Module` or other Python objects": ("a.pt", lambda p: torch.save(nn.Linear(3, 2), p),
                                                          None),
    "`.pt` TorchScript archive": ("a.pt", _scripted, None),
    "`.safetensors` tensors": (
        "a.safetensors",
        lambda p: save_file({"weight": torch.ones(2, 3)}, str(p)), None),
}


def test_the_table_and_the_makers_list_the_same_kinds():
    assert set(_table()) == set(MAKERS)
    for as_embeddings, as_checkpoint in _table().values():
        assert as_embeddings.split(" (")[0] in ("read", "refused")
        assert as_checkpoint in ("read", "refused", "trusted only")


def _outcome(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except (ValueError, TypeError):
        return "refused"
    return "read"


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_each_row_is_what_the_code_does(tmp_path, kind):
    if ".parquet" in kind:
        pytest.importorskip("pyarrow")
    as_embeddings, as_checkpoint = _table()[kind]
    name, write, key = MAKERS[kind]
    path = tmp_path / name
    write(path)
    assert _outcome(lambda: load_array(path, key)) == as_embeddings.split(" (")[0], kind
    untrusted = _outcome(lambda: load_checkpoint(path))
    if as_checkpoint == "trusted only":
        assert untrusted == "refused", kind
        with pytest.warns(CheckpointSecurityWarning):
            load_checkpoint(path, trust=True)
    else:
        assert untrusted == as_checkpoint, kind
