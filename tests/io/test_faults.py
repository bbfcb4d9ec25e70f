"""Truncated and corrupt files give a ValueError naming the file; an interrupted write leaves no partial file."""

import os

import numpy as np
import pytest
import torch

from infossl.io import array_shape, iter_array_chunks, load_array, write_text_atomic

READERS = {
    "load_array": load_array,
    "array_shape": array_shape,
    "iter_array_chunks": lambda p: [c for c in iter_array_chunks(p, chunk_rows=7)],
}


def _write(path, kind):
    z = np.random.default_rng(0).standard_normal((64, 5))
    if kind == "npz":
        np.savez(path, z=z)
    elif kind == "npz-compressed":
        np.savez_compressed(path, z=z)
    elif kind == "npy":
        np.save(path, z)
    else:
        torch.save(torch.from_numpy(z), path)


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("kind,suffix", [("npz", ".npz"), ("npz-compressed", ".npz"), ("npy", ".npy"), ("pt", ".pt")])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.97])
def test_truncated_file_names_the_file(tmp_path, reader, kind, suffix, keep):
    src = tmp_path / f"full{suffix}"
    _write(src, kind)
    data = src.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(ValueError, match=str(cut)):
        READERS[reader](cut)


@pytest.mark.parametrize("reader", ["load_array", "iter_array_chunks"])
def test_corrupt_npz_member_names_the_file(tmp_path, reader):
    src = tmp_path / "z.npz"
    _write(src, "npz-compressed")
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    src.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="z.npz.*(truncated or corrupt)"):
        READERS[reader](src)


def test_interrupted_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "metrics.json"
    write_text_atomic("old\n", out)

    def killed(*args):
        raise KeyboardInterrupt  # stands for a kill between write and rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic("new\n", out)
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
