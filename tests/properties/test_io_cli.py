"""Readers and the command line on damaged files and bad arguments: a clear error, exit status 1 or 2,
never a traceback."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from infossl.cli import main
from infossl.io import array_shape, iter_array_chunks, load_array
from ._contract import assert_contract

FORMATS = (".npy", ".npz", ".pt", ".csv")


def _save(path, z):
    if path.suffix == ".npy":
        np.save(path, z)
    elif path.suffix == ".npz":
        np.savez_compressed(path, z=z)
    elif path.suffix == ".pt":
        torch.save(torch.from_numpy(z), path)
    else:
        import pandas as pd
        pd.DataFrame(z).to_csv(path, index=False)


@given(suffix=st.sampled_from(FORMATS), keep=st.floats(0.0, 0.999), flip=st.booleans(), seed=st.integers(0, 99))
def test_damaged_files_are_named(suffix, keep, flip, seed, tmp_path_factory):
    d = tmp_path_factory.mktemp("damaged")
    good = d / f"good{suffix}"
    _save(good, np.random.default_rng(seed).standard_normal((30, 3)))
    data = bytearray(good.read_bytes())
    data = data[: int(len(data) * keep)]
    if flip and data:
        data[len(data) // 2] ^= 0x5A
    bad = d / f"bad{suffix}"
    bad.write_bytes(bytes(data))
    for reader in (load_array, array_shape, lambda p: list(iter_array_chunks(p, chunk_rows=4))):
        out = assert_contract(reader, bad, limit=20)
        if out.kind == "error":
            assert "bad" in out.detail, out.detail  # the message names the file


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = {}
    for name, arr in {"z": rng.standard_normal((60, 3)), "w": rng.standard_normal((60, 2)),
                      "short": rng.standard_normal((59, 2)), "nan": np.full((60, 3), np.nan),
                      "const": np.ones((60, 3)), "3d": np.zeros((4, 3, 2))}.items():
        np.save(tmp_path / f"{name}.npy", arr)
        paths[name] = str(tmp_path / f"{name}.npy")
    (tmp_path / "trunc.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 20)
    paths["trunc"] = str(tmp_path / "trunc.npz")
    paths["missing"] = str(tmp_path / "missing.npy")
    return paths


ARGVS = [
    ["estimate", "{z}", "--method", "gaussian"], ["estimate", "{z}", "{w}", "--method", "ksg"],
    ["estimate", "{z}", "{short}", "--method", "gaussian"], ["estimate", "{nan}", "--method", "knn"],
    ["estimate", "{const}", "--method", "gaussian"], ["estimate", "{3d}"], ["estimate", "{trunc}"],
    ["estimate", "{missing}"], ["estimate", "{z}", "--method", "nope"], ["estimate", "{z}", "--mehtod", "knn"],
    ["estimate", "{z}", "--method", "knn", "--option", "kk=3"], ["diagnose", "{z}", "--json", "-q"],
    ["diagnose", "{trunc}", "-q"], ["diagnose", "{nan}", "-q"], ["diagnose", "{3d}", "-q"],
    ["diagnose", "{missing}", "-q"], ["diagnose", "{z}", "--sampel-size", "3"], ["train", "--epoch", "1"],
    ["train", "--objective", "nope"], ["frobnicate"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=[" ".join(a) for a in ARGVS])
def test_cli_never_raises(argv, files, capsys):
    args = [a.format(**files) for a in argv]
    out = assert_contract(main, args, limit=60)
    assert out.kind == "value"
    code = main(args) if False else None  # (the call above already ran it)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if "infossl: error:" in err:
        assert len(err.strip()) > len("infossl: error:") + 10
