"""infossl.io.inputs: the digits split, user files of features or images, and what diagnose runs models on."""

import numpy as np
import pytest
import torch

from infossl.io.inputs import TEST_EVERY, load_data, load_digits, load_inputs


def test_load_data(tmp_path):
    x, y, text = load_data("digits")
    assert tuple(x.shape) == (445, 1, 8, 8) and y.shape == (445,) and "test split" in text
    assert load_data("digits:train")[0].shape[0] == 1352
    np.save(tmp_path / "inputs.npy", np.random.default_rng(0).random((20, 5)))
    x, y, text = load_data(tmp_path / "inputs.npy")
    assert tuple(x.shape) == (20, 5) and y is None and "inputs.npy" in text
    with pytest.raises(TypeError, match="data must be 'digits', a path or an array, got int"):
        load_data(3)
    with pytest.raises(ValueError, match="at least 2 inputs"):
        load_data(np.zeros((1, 3)))


def test_digits_split_is_fixed_disjoint_and_stratified():
    from sklearn.datasets import load_digits as sk

    x, y = load_digits("train")
    xt, yt = load_digits("test")
    xa, _ = load_digits("all")
    assert x.shape == (1352, 1, 8, 8) and xt.shape == (445, 1, 8, 8) and xa.shape == (1797, 1, 8, 8)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(xa.min()) == 0.0 and float(xa.max()) == 1.0
    # The rule: within each class, every TEST_EVERY-th image in file order is a test image.
    target = sk().target
    for c in range(10):
        idx = np.flatnonzero(target == c)
        test_idx = idx[TEST_EVERY - 1::TEST_EVERY]
        torch.testing.assert_close(xt[yt == c], xa[torch.as_tensor(test_idx)])
        assert int((y == c).sum()) == len(idx) - len(test_idx)
    # the same call twice gives the same tensors
    torch.testing.assert_close(load_digits("test")[0], xt)


def test_digits_bad_split():
    with pytest.raises(ValueError, match="split must be 'train', 'test' or 'all'; got 'valid'"):
        load_digits("valid")


@pytest.mark.parametrize("shape", [(10, 3, 5, 5), (10, 7), (10, 6, 6)])
def test_load_inputs_npy(tmp_path, shape):
    a = np.random.default_rng(0).normal(size=shape)
    np.save(tmp_path / "x.npy", a)
    x = load_inputs(tmp_path / "x.npy")
    expected = a[:, None] if a.ndim == 3 else a
    assert x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), expected.astype(np.float32))


def test_load_inputs_other_formats(tmp_path):
    a = np.random.default_rng(1).normal(size=(6, 1, 4, 4)).astype(np.float32)
    np.savez(tmp_path / "x.npz", images=a)
    torch.save({"images": torch.from_numpy(a)}, tmp_path / "x.pt")
    from safetensors.numpy import save_file

    save_file({"images": a}, str(tmp_path / "x.safetensors"))
    for name in ("x.npz", "x.pt", "x.safetensors"):
        np.testing.assert_array_equal(load_inputs(tmp_path / name).numpy(), a)
    np.savez(tmp_path / "two.npz", a=a, b=a)
    with pytest.raises(ValueError, match="holds 2 arrays"):
        load_inputs(tmp_path / "two.npz")
    np.testing.assert_array_equal(load_inputs(tmp_path / "two.npz", key="b").numpy(), a)


def test_load_inputs_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_inputs(tmp_path / "missing.npy")
    np.save(tmp_path / "one.npy", np.zeros(5))
    with pytest.raises(ValueError, match="expected \\(N, D\\) or \\(N, C, H, W\\)"):
        load_inputs(tmp_path / "one.npy")
    np.save(tmp_path / "five.npy", np.zeros((2, 2, 2, 2, 2)))
    with pytest.raises(ValueError, match="expected \\(N, D\\) or \\(N, C, H, W\\)"):
        load_inputs(tmp_path / "five.npy")
    bad = np.zeros((8, 3))
    bad[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="1 NaN or infinite values"):
        load_inputs(tmp_path / "nan.npy")
    np.save(tmp_path / "tiny.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="has 3 samples; training needs at least 4"):
        load_inputs(tmp_path / "tiny.npy")


def test_load_inputs_key_errors(tmp_path):
    a = np.zeros((6, 1, 4, 4), dtype=np.float32)
    torch.save({"a": torch.from_numpy(a), "b": torch.from_numpy(a)}, tmp_path / "two.pt")
    with pytest.raises(ValueError, match="holds 2 entries; choose one with"):
        load_inputs(tmp_path / "two.pt")
    torch.save({"a": [1, 2]}, tmp_path / "list.pt")
    with pytest.raises(TypeError, match="holds a (list|ndarray)"):
        load_inputs(tmp_path / "list.pt")
    from safetensors.numpy import save_file

    save_file({"a": a, "b": a}, str(tmp_path / "two.safetensors"))
    with pytest.raises(ValueError, match="holds 2 (tensors|arrays)"):
        load_inputs(tmp_path / "two.safetensors")
    np.testing.assert_array_equal(load_inputs(tmp_path / "two.safetensors", key="b").numpy(), a)
