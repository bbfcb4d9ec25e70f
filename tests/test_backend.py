"""infossl._backend: the numpy -> torch boundary (dtype and device policy), chunking and memory budgets, the
global scale and full precision under autocast."""

import numpy as np
import pytest
import torch

from infossl._backend import (
    DEFAULT_MEMORY_BUDGET,
    autocast_disabled,
    chunk_size_for,
    full_precision,
    global_scale,
    iter_chunks,
    to_tensor,
)


def test_numpy_float64_is_shared_and_comes_back_as_a_float():
    a = np.arange(6.0).reshape(3, 2)
    t, b = to_tensor(a)
    assert t.dtype == torch.float64 and t.data_ptr() == a.__array_interface__["data"][0]  # no copy
    assert not b.is_torch and b.dtype == torch.float64
    out = b.finish(torch.tensor(2.5))
    assert type(out) is float and out == 2.5
    many = b.finish_many(torch.tensor([1.0, 2.0], dtype=torch.float32))
    assert isinstance(many, np.ndarray) and many.dtype == np.float64


@pytest.mark.parametrize("dtype, expected", [(np.int32, torch.float64), (np.float32, torch.float64),
                                             (np.uint8, torch.float64)])
def test_numpy_numbers_become_float64(dtype, expected):
    t, b = to_tensor(np.ones((2, 2), dtype=dtype))
    assert t.dtype == expected and b.dtype == expected


@pytest.mark.parametrize("dtype, expected", [(torch.float32, torch.float32), (torch.float64, torch.float64),
                                             (torch.float16, torch.float32), (torch.bfloat16, torch.float32),
                                             (torch.int64, torch.float64)])
def test_torch_keeps_its_precision_and_device(dtype, expected):
    a = torch.ones(3, 2, dtype=dtype)
    t, b = to_tensor(a)
    assert t.dtype == expected and b.is_torch and b.device == a.device
    if dtype == expected:
        assert t is a  # no copy for float32 / float64 tensors
    out = b.finish(torch.tensor(1.5, dtype=torch.float64))
    assert isinstance(out, torch.Tensor) and out.ndim == 0 and out.dtype == expected


def test_non_contiguous_and_read_only_input():
    a = np.arange(12.0).reshape(3, 4)[:, ::2]
    t, _ = to_tensor(a)
    assert torch.equal(t, torch.from_numpy(np.ascontiguousarray(a)))
    r = np.arange(4.0)
    r.setflags(write=False)
    t, _ = to_tensor(r)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("bad, match", [
    (np.array([True, False]), "boolean dtype"),
    (np.array([1j, 2j]), "complex dtype"),
    (np.array(["1.0", "2.0"]), "cannot be read as numbers"),
    (np.array([1.0, None], dtype=object), "cannot be read as numbers"),
    (torch.ones(2, dtype=torch.bool), "boolean dtype"),
    (torch.empty(2, 2, device="meta"), "meta tensor"),
    (torch.eye(2).to_sparse(), "sparse tensor"),
])
def test_refused_inputs_name_the_argument(bad, match):
    with pytest.raises(TypeError, match=f"emb .*{match}|{match}"):
        to_tensor(bad, name="emb")


@pytest.mark.parametrize("n, chunk", [(0, 3), (1, 1), (10, 3), (10, 10), (10, 64), (97, 8)])
def test_iter_chunks_covers_every_index_once_in_order(n, chunk):
    slices = list(iter_chunks(n, chunk))
    covered = [i for s in slices for i in range(n)[s]]
    assert covered == list(range(n))
    assert all(s.stop - s.start <= chunk for s in slices) and all(s.stop - s.start == chunk for s in slices[:-1])
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        list(iter_chunks(n, 0))


def test_chunk_size_for_fits_the_budget():
    rows = chunk_size_for(1000, itemsize=8, factor=2)
    assert rows * 1000 * 8 * 2 <= DEFAULT_MEMORY_BUDGET < (rows + 1) * 1000 * 8 * 2
    assert chunk_size_for(10, memory_budget=1000) == 12
    assert chunk_size_for(10**9, memory_budget=1) == 1  # never zero rows
    assert chunk_size_for(0) == DEFAULT_MEMORY_BUDGET  # zero columns: the per-row floor is one byte


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e30])
def test_global_scale_is_the_rms_deviation_and_does_not_overflow(rng, scale):
    z = rng.standard_normal((50, 4))
    expected = np.sqrt(((z - z.mean(0)) ** 2).mean())
    s = global_scale(torch.from_numpy(z * scale))
    assert np.isfinite(float(s)) and float(s) == pytest.approx(expected * scale, rel=1e-12)
    assert float(global_scale(torch.ones(5, 2))) == 0.0 and global_scale(torch.zeros(3, 0)).ndim == 0
    g = torch.from_numpy(z).requires_grad_()
    assert not global_scale(g).requires_grad


def test_full_precision_switches_autocast_off():
    @full_precision
    def product(a, b):
        return a @ b

    a = torch.randn(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert (a @ a).dtype == torch.bfloat16  # what autocast does to a plain function
        assert product(a, a).dtype == torch.float32
    assert product.__name__ == "product"


def test_autocast_disabled_switches_autocast_off_in_the_block_only():
    a = torch.randn(4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with autocast_disabled("cpu"):
            assert (a @ a).dtype == torch.float32
        assert (a @ a).dtype == torch.bfloat16
        with autocast_disabled("meta", "cpu"):  # a device type without autocast is skipped
            assert (a @ a).dtype == torch.float32
    with autocast_disabled():
        assert (a @ a).dtype == torch.float32
