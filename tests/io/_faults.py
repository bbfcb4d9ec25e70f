"""Shared checks of the readers' fault handling (used by test_embeddings.py and test_streaming.py): a
truncated or corrupt file gives a ValueError that names the file."""
import numpy as np
import pytest
import torch

# (kind, suffix) of the sample files every reader is tried on
FILE_KINDS = [("npz", ".npz"), ("npz-compressed", ".npz"), ("npy", ".npy"), ("pt", ".pt")]


def write_sample(path, kind):
    z = np.random.default_rng(0).standard_normal((64, 5))
    if kind == "npz":
        np.savez(path, z=z)
    elif kind == "npz-compressed":
        np.savez_compressed(path, z=z)
    elif kind == "npy":
        np.save(path, z)
    else:
        torch.save(torch.from_numpy(z), path)


def check_truncated_file_is_named(read, tmp_path, kind, suffix, keep):
    src = tmp_path / f"full{suffix}"
    write_sample(src, kind)
    data = src.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(ValueError, match=str(cut)):
        read(cut)


def check_corrupt_npz_member_is_named(read, tmp_path):
    src = tmp_path / "z.npz"
    write_sample(src, "npz-compressed")
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    src.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="z.npz.*(truncated or corrupt)"):
        read(src)
