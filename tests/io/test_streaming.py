"""infossl.io.streaming: chunks of every format concatenate to load_array; bad files give clear errors."""

import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from infossl.io import array_shape, iter_array_chunks, load_array
from infossl.io.streaming import DEFAULT_CHUNK_BYTES

from ._faults import FILE_KINDS, check_corrupt_npz_member_is_named, check_truncated_file_is_named


@pytest.fixture
def z(rng):
    return rng.standard_normal((103, 5)).astype(np.float32)  # (n, d); 103 is not a multiple of the chunk


def write(tmp_path, z, fmt):
    """Write ``z`` in format ``fmt``; returns (path, key)."""
    p = tmp_path / f"z.{fmt}"
    if fmt == "npy":
        np.save(p, z)
    elif fmt == "npz":
        np.savez(p, other=z[:, :2], z=z)
        return p, "z"
    elif fmt == "npz-deflated":
        p = tmp_path / "z.npz"
        np.savez_compressed(p, z=z)
    elif fmt == "pt":
        torch.save({"emb": torch.from_numpy(z), "labels": torch.zeros(len(z))}, p)
        return p, "emb"
    elif fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({"z": torch.from_numpy(z)}, str(p))
    elif fmt == "csv":
        pd.DataFrame(z.astype(np.float64), columns=list("abcde")).assign(name="x").to_csv(p, index=False)
        return p, "a,b,c,d,e"
    elif fmt == "parquet":
        pd.DataFrame(z, columns=list("abcde")).to_parquet(p)
    return p, None


FORMATS = ["npy", "npz", "npz-deflated", "pt", "safetensors", "csv", "parquet"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("chunk_rows", [1, 10, 103, 1000])
def test_chunks_concatenate_to_load_array(tmp_path, z, fmt, chunk_rows):
    path, key = write(tmp_path, z, fmt)
    chunks = list(iter_array_chunks(path, key, chunk_rows=chunk_rows))
    assert [len(c) for c in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1) and 0 < len(
        chunks[-1]
    ) <= chunk_rows
    assert all(c.flags.c_contiguous and c.ndim == 2 for c in chunks)
    got = np.concatenate(chunks)
    assert np.array_equal(got, load_array(path, key))  # exact: the same bytes, no arithmetic
    assert array_shape(path, key) == (103, 5)


def test_default_chunk_rows_follow_the_byte_budget(tmp_path):
    z = np.zeros((70_000, 256), dtype=np.float32)  # 70 MiB > 64 MiB: two chunks by default
    np.save(tmp_path / "z.npy", z)
    sizes = [len(c) for c in iter_array_chunks(tmp_path / "z.npy")]
    assert sizes[0] == DEFAULT_CHUNK_BYTES // (256 * 4) and sum(sizes) == 70_000


def test_layouts_dtypes_and_one_column(tmp_path, z):
    np.save(tmp_path / "fortran.npy", np.asfortranarray(z))
    np.save(tmp_path / "big_endian.npy", z.astype(">f8"))
    np.save(tmp_path / "ints.npy", (z * 10).astype(np.int32))
    np.save(tmp_path / "vector.npy", z[:, 0])
    np.savez(tmp_path / "fortran.npz", z=np.asfortranarray(z))
    for name, want in [
        ("fortran.npy", z),
        ("big_endian.npy", z.astype(np.float64)),
        ("ints.npy", (z * 10).astype(np.int32).astype(np.float64)),
        ("vector.npy", z[:, :1]),
        ("fortran.npz", z),
    ]:
        chunks = list(iter_array_chunks(tmp_path / name, chunk_rows=7))
        got = np.concatenate(chunks)
        assert got.dtype == want.dtype and got.dtype.isnative and np.array_equal(got, want), name


def test_empty_array_yields_nothing(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 3), dtype=np.float32))
    assert list(iter_array_chunks(tmp_path / "empty.npy")) == []
    assert array_shape(tmp_path / "empty.npy") == (0, 3)


def test_npy_is_read_with_file_reads_not_a_growing_map(tmp_path, z):
    np.save(tmp_path / "z.npy", z)
    chunks = list(iter_array_chunks(tmp_path / "z.npy", chunk_rows=50))
    assert not any(
        isinstance(c, np.memmap) or c.base is not None and isinstance(c.base, np.memmap) for c in chunks
    )
    chunks[0][0, 0] = 1e9  # each chunk is a fresh writable buffer; the file is untouched
    assert np.array_equal(np.load(tmp_path / "z.npy"), z)


# ----------------------------------------------------------------------------------------- bad input
def cut(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_truncated_npy_names_the_sizes(tmp_path, z):
    np.save(tmp_path / "z.npy", z)
    cut(tmp_path / "z.npy", 0.5)
    with pytest.raises(
        ValueError, match=r"z.npy is truncated: its header describes an array of shape \(103, 5\)"
    ):
        iter_array_chunks(tmp_path / "z.npy")  # raised at the call, before any chunk
    np.save(tmp_path / "h.npy", z)
    cut(tmp_path / "h.npy", 0.02)  # inside the header
    with pytest.raises(ValueError, match="h.npy as .npy: corrupt header"):
        iter_array_chunks(tmp_path / "h.npy")


@pytest.mark.parametrize("fmt", ["npz", "pt", "safetensors", "parquet"])
def test_truncated_archives(tmp_path, z, fmt):
    path, key = write(tmp_path, z, fmt)
    cut(path, 0.6)
    with pytest.raises(ValueError, match=r"(truncated|corrupt)"):
        list(iter_array_chunks(path, key))


def test_corrupt_deflated_member_is_reported(tmp_path, z):
    path, _ = write(tmp_path, z, "npz-deflated")
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("z.npy")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(path.read_bytes())
    for i in range(start + 200, start + 260):  # damage the compressed stream in the middle
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"z.npz\['z'\].*(truncated or corrupt|corrupt header)"):
        list(iter_array_chunks(path, chunk_rows=10))


def test_errors_name_the_argument(tmp_path, z):
    np.save(tmp_path / "z.npy", z)
    with pytest.raises(ValueError, match="chunk_rows must be >= 1, got 0"):
        iter_array_chunks(tmp_path / "z.npy", chunk_rows=0)
    with pytest.raises(TypeError, match="chunk_rows must be an integer, got 2.5"):
        iter_array_chunks(tmp_path / "z.npy", chunk_rows=2.5)
    with pytest.raises(FileNotFoundError, match="no such file"):
        iter_array_chunks(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="is a directory"):
        iter_array_chunks(tmp_path)
    (tmp_path / "z.txt").write_text("1 2\n")
    with pytest.raises(ValueError, match=r"unknown suffix '.txt'"):
        array_shape(tmp_path / "z.txt")
    with pytest.raises(ValueError, match="holds a single array; key='a' does not apply"):
        iter_array_chunks(tmp_path / "z.npy", "a")


def test_key_rules_are_shared_with_load_array(tmp_path, z):
    np.savez(tmp_path / "two.npz", a=z, b=z)
    with pytest.raises(ValueError, match="holds 2 arrays; choose one with key=...: 'a', 'b'"):
        iter_array_chunks(tmp_path / "two.npz")
    with pytest.raises(ValueError, match="key='c' is not in"):
        iter_array_chunks(tmp_path / "two.npz", "c")
    path, _ = write(tmp_path, z, "csv")
    with pytest.raises(ValueError, match=r"non-numeric columns \['name'\]"):
        iter_array_chunks(path)
    with pytest.raises(ValueError, match=r"columns \['zz'\] are not in"):
        iter_array_chunks(path, "a,zz")


def test_unsafe_and_non_numeric_content_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([[{"a": 1}]], dtype=object))
    with pytest.raises(ValueError, match="pickled Python objects"):
        iter_array_chunks(tmp_path / "obj.npy")
    np.savez(tmp_path / "obj.npz", z=np.array([[{"a": 1}]], dtype=object))
    with pytest.raises(ValueError, match="pickled Python objects"):
        iter_array_chunks(tmp_path / "obj.npz")
    np.save(tmp_path / "bool.npy", np.ones((3, 2), dtype=bool))
    with pytest.raises(TypeError, match="boolean array"):
        iter_array_chunks(tmp_path / "bool.npy")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\); expected \(n_samples, n_features\)"):
        iter_array_chunks(tmp_path / "cube.npy")
    (tmp_path / "fake.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a .npz file"):
        iter_array_chunks(tmp_path / "fake.npz")


def test_the_default_chunk_budget_lives_in_backend():
    from infossl import _backend

    assert DEFAULT_CHUNK_BYTES == _backend.READ_CHUNK_BYTES == 64 * 2**20


# ----------------------------------------------------------------------------------------- faults
# Truncated and corrupt files give a ValueError naming the file.
READERS = {
    "array_shape": array_shape,
    "iter_array_chunks": lambda p: [c for c in iter_array_chunks(p, chunk_rows=7)],
}



@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("kind,suffix", FILE_KINDS)
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.97])
def test_truncated_file_names_the_file(tmp_path, reader, kind, suffix, keep):
    check_truncated_file_is_named(READERS[reader], tmp_path, kind, suffix, keep)


@pytest.mark.parametrize("reader", ["iter_array_chunks"])
def test_corrupt_npz_member_names_the_file(tmp_path, reader):
    check_corrupt_npz_member_is_named(READERS[reader], tmp_path)
