"""infossl.io.load_array: every format round-trips, keys select, unsafe content is refused."""

import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from infossl.io import SUPPORTED_SUFFIXES, load_array, save_json_atomic, write_text_atomic

from ._faults import FILE_KINDS, check_corrupt_npz_member_is_named, check_truncated_file_is_named


@pytest.fixture
def z(rng):
    return rng.standard_normal((20, 4))  # (n, d)


class NotATensor:
    """A custom class: pickling it into a .pt file must make loading fail."""

    def __init__(self):
        self.payload = 1


# ----------------------------------------------------------------------------------------- numpy
@pytest.mark.parametrize("mmap", [True, False])
def test_npy_round_trip(tmp_path, z, mmap):
    np.save(tmp_path / "z.npy", z)
    out = load_array(tmp_path / "z.npy", mmap=mmap)
    assert np.array_equal(out, z) and out.dtype == np.float64
    assert isinstance(out, np.memmap) == mmap
    out[0, 0] = 123.0  # writable (copy-on-write map), and the file is untouched
    assert np.array_equal(np.load(tmp_path / "z.npy"), z)


def test_torch_mmap_is_copy_on_write(tmp_path, z):
    torch.save(torch.from_numpy(z), tmp_path / "z.pt")
    out = load_array(tmp_path / "z.pt", mmap=True)
    out[0, 0] = 123.0
    assert np.array_equal(load_array(tmp_path / "z.pt"), z)


def test_npy_dtypes_and_shapes(tmp_path):
    np.save(tmp_path / "f32.npy", np.ones((3, 2), dtype=np.float32))
    assert load_array(str(tmp_path / "f32.npy")).dtype == np.float32  # floats keep their dtype
    np.save(tmp_path / "int.npy", np.arange(6).reshape(3, 2))
    assert load_array(tmp_path / "int.npy").dtype == np.float64  # integers become float64
    np.save(tmp_path / "vec.npy", np.arange(5.0))
    assert load_array(tmp_path / "vec.npy").shape == (5,)  # 1-D stays 1-D
    with open(tmp_path / "UPPER.NPY", "wb") as fh:  # np.save would append ".npy" to the name
        np.save(fh, np.ones((2, 2)))
    assert load_array(tmp_path / "UPPER.NPY").shape == (2, 2)  # suffix is case-insensitive


def test_npy_errors(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    for mmap in (True, False):
        with pytest.raises(ValueError, match="holds pickled Python objects; infossl does not unpickle"):
            load_array(tmp_path / "obj.npy", mmap=mmap)
    with open(tmp_path / "pickle.npy", "wb") as fh:
        pickle.dump([1.0, 2.0], fh)
    with pytest.raises(ValueError, match="is not a .npy file"):
        load_array(tmp_path / "pickle.npy")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\); expected \(n_samples, n_features\).*reshape"):
        load_array(tmp_path / "cube.npy")
    np.save(tmp_path / "scalar.npy", np.float64(1.0))
    with pytest.raises(ValueError, match=r"shape \(\)"):
        load_array(tmp_path / "scalar.npy")
    np.save(tmp_path / "bool.npy", np.ones((2, 2), dtype=bool))
    with pytest.raises(TypeError, match="boolean array"):
        load_array(tmp_path / "bool.npy")
    np.save(tmp_path / "complex.npy", np.ones((2, 2), dtype=complex))
    with pytest.raises(TypeError, match="dtype complex128"):
        load_array(tmp_path / "complex.npy")
    np.save(tmp_path / "str.npy", np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="not real-valued numeric"):
        load_array(tmp_path / "str.npy")
    np.save(tmp_path / "z.npy", np.ones((2, 2)))
    with pytest.raises(ValueError, match="holds a single array; key='x' does not apply"):
        load_array(tmp_path / "z.npy", key="x")


def test_npz_keys(tmp_path, z):
    np.savez(tmp_path / "one.npz", emb=z)
    assert np.array_equal(load_array(tmp_path / "one.npz"), z)
    np.savez_compressed(tmp_path / "two.npz", train=z, test=2 * z)
    assert np.array_equal(load_array(tmp_path / "two.npz", key="test"), 2 * z)
    with pytest.raises(ValueError, match="holds 2 arrays; choose one with key=...: 'train', 'test'"):
        load_array(tmp_path / "two.npz")
    with pytest.raises(ValueError, match="key='val' is not in .*; available arrays: 'train', 'test'"):
        load_array(tmp_path / "two.npz", key="val")
    np.savez(tmp_path / "obj.npz", a=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled Python objects"):
        load_array(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a .npz file"):
        load_array(tmp_path / "junk.npz")
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(ValueError, match="holds no arrays"):
        load_array(tmp_path / "empty.npz")


# ----------------------------------------------------------------------------------------- torch
@pytest.mark.parametrize("suffix", [".pt", ".pth"])
@pytest.mark.parametrize("mmap", [True, False])
def test_torch_round_trip(tmp_path, z, suffix, mmap):
    torch.save(torch.from_numpy(z), tmp_path / f"z{suffix}")
    assert np.array_equal(load_array(tmp_path / f"z{suffix}", mmap=mmap), z)


def test_torch_containers_and_dtypes(tmp_path, z):
    t = torch.from_numpy(z)
    torch.save({"emb": t, "labels": torch.arange(20)}, tmp_path / "d.pt")
    assert np.array_equal(load_array(tmp_path / "d.pt", key="emb"), z)
    with pytest.raises(ValueError, match="holds 2 entries; choose one with key=...: 'emb', 'labels'"):
        load_array(tmp_path / "d.pt")
    with pytest.raises(ValueError, match="key='x' is not in .*available entries: 'emb', 'labels'"):
        load_array(tmp_path / "d.pt", key="x")
    torch.save([t, 2 * t], tmp_path / "l.pt")
    assert np.array_equal(load_array(tmp_path / "l.pt", key="1"), 2 * z)
    with pytest.raises(ValueError, match=r"list of 2 entries; choose one with key='0'..'1'"):
        load_array(tmp_path / "l.pt")
    torch.save(t.to(torch.bfloat16), tmp_path / "bf16.pt")
    assert load_array(tmp_path / "bf16.pt").dtype == np.float32  # numpy has no bfloat16
    torch.save(t, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert np.array_equal(load_array(tmp_path / "legacy.pt", mmap=True), z)  # falls back from mmap
    torch.save({"n": 3}, tmp_path / "int.pt")
    with pytest.raises(TypeError, match=r"holds a int, expected a tensor"):
        load_array(tmp_path / "int.pt")


def test_torch_refuses_arbitrary_objects(tmp_path, z):
    # weights_only=True: a pickled custom class is refused, never instantiated.
    torch.save({"emb": torch.from_numpy(z), "extra": NotATensor()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"refused to load .*NotATensor.*weights_only=True"):
        load_array(tmp_path / "evil.pt", key="emb")
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="junk.pt"):
        load_array(tmp_path / "junk.pt")


# ----------------------------------------------------------------------------------------- safetensors
def test_safetensors(tmp_path, z):
    pytest.importorskip("safetensors", reason="optional dependency safetensors is not installed")
    from safetensors.torch import save_file

    save_file({"a": torch.from_numpy(z), "b": torch.from_numpy(2 * z)}, str(tmp_path / "z.safetensors"))
    assert np.array_equal(load_array(tmp_path / "z.safetensors", key="b"), 2 * z)
    with pytest.raises(ValueError, match="holds 2 tensors; choose one with key=...: 'a', 'b'"):
        load_array(tmp_path / "z.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read .* as .safetensors"):
        load_array(tmp_path / "junk.safetensors")


def test_safetensors_missing_package_message(tmp_path, monkeypatch):
    (tmp_path / "z.safetensors").write_bytes(b"")
    monkeypatch.setitem(__import__("sys").modules, "safetensors", None)  # import now fails
    with pytest.raises(ImportError, match="pip install safetensors"):
        load_array(tmp_path / "z.safetensors")


# ----------------------------------------------------------------------------------------- tables
def _frame(z):
    df = pd.DataFrame(z, columns=[f"f{i}" for i in range(z.shape[1])])
    df["label"] = ["cat", "dog"] * (len(z) // 2)
    return df


def test_csv_columns(tmp_path, z):
    _frame(z).to_csv(tmp_path / "t.csv", index=False)
    assert np.allclose(load_array(tmp_path / "t.csv", key="f0,f1,f2,f3"), z, rtol=1e-14)
    assert np.allclose(load_array(tmp_path / "t.csv", key=["f2", "f0"]), z[:, [2, 0]], rtol=1e-14)
    assert load_array(tmp_path / "t.csv", key="f1").shape == (20, 1)
    with pytest.raises(
        ValueError, match=r"non-numeric columns \['label'\]; select numeric columns with key="
    ):
        load_array(tmp_path / "t.csv")
    with pytest.raises(ValueError, match=r"non-numeric columns \['label'\]$"):
        load_array(tmp_path / "t.csv", key="f0,label")
    with pytest.raises(ValueError, match=r"columns \['g'\] are not in .*available columns: 'f0'"):
        load_array(tmp_path / "t.csv", key="f0,g")
    pd.DataFrame(z).to_csv(tmp_path / "plain.csv", index=False)
    assert np.allclose(load_array(tmp_path / "plain.csv"), z, rtol=1e-14)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="cannot read .* as .csv"):
        load_array(tmp_path / "empty.csv")


def test_parquet(tmp_path, z):
    pytest.importorskip("pyarrow", reason="optional dependency pyarrow is not installed")
    _frame(z).to_parquet(tmp_path / "t.parquet")
    assert np.array_equal(load_array(tmp_path / "t.parquet", key="f0,f1,f2,f3"), z)
    with pytest.raises(ValueError, match=r"non-numeric columns \['label'\]"):
        load_array(tmp_path / "t.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"garbage!")
    with pytest.raises(ValueError, match="cannot read .* as .parquet"):
        load_array(tmp_path / "junk.parquet")


def test_parquet_missing_package_message(tmp_path, monkeypatch):
    (tmp_path / "t.parquet").write_bytes(b"")
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        load_array(tmp_path / "t.parquet")


# ----------------------------------------------------------------------------------------- paths
def test_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file: .*missing.npy"):
        load_array(tmp_path / "missing.npy")
    (tmp_path / "z.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match=r"unknown suffix '.txt'; supported: .npy, .npz, .pt"):
        load_array(tmp_path / "z.txt")
    with pytest.raises(ValueError, match="is a directory"):
        load_array(tmp_path)
    assert SUPPORTED_SUFFIXES == (".npy", ".npz", ".pt", ".pth", ".safetensors", ".csv", ".parquet")


# ----------------------------------------------------------------------------------------- writers
def test_atomic_writers(tmp_path):
    out = tmp_path / "sub" / "r.json"
    save_json_atomic({"value": np.float64(1.5), "n": np.int64(3), "v": np.arange(2), "p": tmp_path}, out)
    assert json.loads(out.read_text()) == {"value": 1.5, "n": 3, "v": [0, 1], "p": str(tmp_path)}
    write_text_atomic("hello", out)
    assert out.read_text() == "hello"
    assert os.listdir(out.parent) == ["r.json"]  # no temporary files left behind
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_json_atomic({"x": object()}, out)
    assert out.read_text() == "hello" and os.listdir(out.parent) == [
        "r.json"
    ]  # failed write: old file intact


def test_atomic_bytes_csv_and_figure(tmp_path):
    import pandas as pd

    from infossl.io import save_csv_atomic, save_figure_atomic, write_text_atomic

    write_text_atomic(b"\x89PNG raw", tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"\x89PNG raw"
    save_csv_atomic([{"a": 1, "b": 2.5}, {"a": 3, "b": 4.0}], tmp_path / "t.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), pd.DataFrame({"a": [1, 3], "b": [2.5, 4.0]}))

    class Figure:  # anything with savefig(buffer, format=...)
        def savefig(self, buf, format, **kwargs):
            buf.write(f"{format}:{kwargs['dpi']}".encode())

    save_figure_atomic(Figure(), tmp_path / "f.png", dpi=50)
    assert (tmp_path / "f.png").read_bytes() == b"png:50"

    class Broken:
        def savefig(self, buf, format, **kwargs):
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        save_figure_atomic(Broken(), tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes() == b"png:50"  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "f.png", "t.csv"]  # no temp files left


def test_load_array_max_ndim(tmp_path):
    # Embeddings are 1-D/2-D by default; callers that read images ask for more dimensions.
    p = tmp_path / "img.npy"
    np.save(p, np.zeros((3, 1, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(3, 1, 4, 4\); expected \(n_samples, n_features\)"):
        load_array(p)
    assert load_array(p, max_ndim=4).shape == (3, 1, 4, 4)
    with pytest.raises(ValueError, match=r"expected an array of 1 to 3 dimensions"):
        load_array(p, max_ndim=3)
    with pytest.raises(ValueError, match="max_ndim"):
        load_array(p, max_ndim=0)


# ------------------------------------------------------------------------------ faults: name the file, no partial file
# Truncated and corrupt files give a ValueError naming the file; an interrupted write leaves no partial file.
READERS = {"load_array": load_array}



@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("kind,suffix", FILE_KINDS)
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.97])
def test_truncated_file_names_the_file(tmp_path, reader, kind, suffix, keep):
    check_truncated_file_is_named(READERS[reader], tmp_path, kind, suffix, keep)


@pytest.mark.parametrize("reader", ["load_array"])
def test_corrupt_npz_member_names_the_file(tmp_path, reader):
    check_corrupt_npz_member_is_named(READERS[reader], tmp_path)


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
