"""MomentAccumulator: chunked == one-shot, merge == concatenation, 2-rank gloo == 1 process, reservoir
uniformity, scale robustness, and the error paths."""

import numpy as np
import pytest
import torch

from infossl.diagnostics import MomentAccumulator
from tests._ranks import run_ranks


def _reference(z):
    """Two-pass float64 moments (the oracle)."""
    z = np.asarray(z, dtype=np.float64)
    u = z / np.where((nrm := np.linalg.norm(z, axis=1, keepdims=True)) > 0, nrm, 1)
    return {"mean": z.mean(0), "cov": np.cov(z, rowvar=False), "second": z.T @ z / len(z),
            "umean": u.mean(0), "uvar": u.var(0, ddof=1)}


def _check(acc, z, atol):
    ref = _reference(z)
    assert acc.n == len(z)
    np.testing.assert_allclose(acc.mean.numpy(), ref["mean"], rtol=0, atol=atol)
    np.testing.assert_allclose(acc.covariance.numpy(), ref["cov"], rtol=0, atol=atol)
    np.testing.assert_allclose(acc.second_moment.numpy(), ref["second"], rtol=0, atol=atol)
    np.testing.assert_allclose(acc.normalized_mean.numpy(), ref["umean"], rtol=0, atol=atol)
    np.testing.assert_allclose(acc.normalized_var.numpy(), ref["uvar"], rtol=0, atol=atol)


@pytest.fixture
def data(rng):
    # An offset far from 0 relative to the spread: the case where uncentred sums would lose digits.
    return 50.0 + rng.standard_normal((1003, 7)) @ rng.standard_normal((7, 7))


@pytest.mark.parametrize("chunk", [1, 17, 256, 1003])
def test_chunked_equals_one_shot_float64(data, chunk):
    acc = MomentAccumulator()
    for start in range(0, len(data), chunk):
        acc.update(data[start:start + chunk])
    # float64 throughout: agreement to rounding of sums of ~1e3 terms of size ~50^2 (relative 1e-13).
    _check(acc, data, atol=1e-10)


def test_float32_chunks_match_float64_reference(rng):
    z = (3.0 + rng.standard_normal((2000, 6))).astype(np.float32)
    acc = MomentAccumulator()
    for start in range(0, 2000, 300):
        acc.update(z[start:start + 300])
    assert acc.input_dtype == torch.float32
    # Products in float32 on rows centred at the running mean: relative error ~ eps32 (1.2e-7) x a few.
    _check(acc, z.astype(np.float64), atol=2e-6)


def test_torch_input_and_dtypes(rng):
    z = rng.standard_normal((200, 4))
    a = MomentAccumulator().update(torch.from_numpy(z))
    b = MomentAccumulator().update(z.astype(np.float16))  # half precision is read as float32
    c = MomentAccumulator().update(np.round(z * 10).astype(np.int64))  # integers are read as float64
    _check(a, z, atol=1e-12)
    assert b.input_dtype == torch.float32
    _check(c, np.round(z * 10), atol=1e-10)


def test_merge_equals_concatenation(data):
    a = MomentAccumulator().update(data[:400])
    b = MomentAccumulator().update(data[400:700]).update(data[700:])
    a.merge(b)
    _check(a, data, atol=1e-10)
    empty = MomentAccumulator()
    empty.merge(a)
    _check(empty, data, atol=1e-10)
    a.merge(MomentAccumulator())  # merging an empty accumulator changes nothing
    _check(a, data, atol=1e-10)


def test_sample_is_rows_and_uniform():
    z = np.arange(1000, dtype=np.float64)[:, None] * np.ones((1, 2))
    counts = np.zeros(1000)
    for seed in range(200):
        acc = MomentAccumulator(sample_size=50, random_state=seed)
        for start in range(0, 1000, 64):
            acc.update(z[start:start + 64])
        s, idx = acc.sample.numpy(), acc.sample_index
        assert s.shape == (50, 2) and len(np.unique(idx)) == 50
        np.testing.assert_array_equal(s[:, 0], idx)  # the sample rows are the rows at those indices
        counts[idx] += 1
    # Each row is kept with probability 50/1000; over 200 runs the count per block of 100 rows is
    # Binomial-like with mean 1000 and sd ~ 30; 5 sd bounds.
    blocks = counts.reshape(10, 100).sum(1)
    assert np.all(np.abs(blocks - 1000) < 150), blocks


def test_merged_sample_is_uniform():
    z = np.arange(600, dtype=np.float64)[:, None]
    first = 0
    for seed in range(300):
        a = MomentAccumulator(sample_size=30, random_state=seed).update(z[:100])
        b = MomentAccumulator(sample_size=30, random_state=seed + 1000).update(z[100:])
        a.merge(b)
        idx = a.sample_index
        assert len(idx) == 30 and len(np.unique(idx)) == 30
        np.testing.assert_array_equal(a.sample.numpy()[:, 0], idx)
        first += np.sum(idx < 100)
    # Expected share of the first 100 of 600 rows: 1/6 of 9000 draws = 1500, sd ~ 35; 5 sd.
    assert abs(first - 1500) < 175


def test_small_data_sample_is_everything(rng):
    z = rng.standard_normal((20, 3))
    a = MomentAccumulator(sample_size=64).update(z[:7])
    a.merge(MomentAccumulator(sample_size=64).update(z[7:]))
    np.testing.assert_array_equal(a.sample.numpy(), z)


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_extreme_scales(rng, scale):
    z = rng.standard_normal((500, 3)) + 2
    for dtype in (np.float64, np.float32):
        acc = MomentAccumulator()
        for start in range(0, 500, 128):
            acc.update((z[start:start + 128] * scale).astype(dtype))
        ref = _reference(z)
        tol = 1e-10 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(acc.covariance.numpy() / scale**2, ref["cov"], rtol=tol, atol=tol)
        np.testing.assert_allclose(acc.normalized_var.numpy(), ref["uvar"], rtol=tol, atol=tol)


def test_float32_near_its_limit(rng):
    # Differences of entries near 3e38 overflow float32; that chunk is redone in float64.
    z = (rng.uniform(-1, 1, size=(50, 3)) * 3e38).astype(np.float32)
    acc = MomentAccumulator().update(z)
    np.testing.assert_allclose(acc.covariance.numpy(), np.cov(z.astype(np.float64), rowvar=False), rtol=1e-6)


def test_constant_plus_tiny_noise_keeps_its_variance(rng):
    # 1e-6 noise on a constant 5: the centred products keep the 1e-12 variances (uncentred sums would not).
    z = 5.0 + 1e-6 * rng.standard_normal((4000, 4))
    acc = MomentAccumulator()
    for start in range(0, 4000, 512):
        acc.update(z[start:start + 512])
    np.testing.assert_allclose(acc.covariance.numpy(), np.cov(z, rowvar=False), rtol=1e-6, atol=1e-20)


def test_errors():
    acc = MomentAccumulator(3)
    with pytest.raises(ValueError, match="chunk has 4 columns but the accumulator has dim=3"):
        acc.update(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="must be 2-D"):
        acc.update(np.zeros(3))
    bad = np.zeros((5, 3))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values \\(first at row 2 of the data, column 1\\)"):
        acc.update(bad)
    with pytest.raises(ValueError, match="covariance needs at least 2 rows, the accumulator has n=0"):
        _ = acc.covariance
    acc.update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="needs at least 2 rows.*n=1"):
        _ = acc.normalized_var
    with pytest.raises(ValueError, match="cannot merge accumulators with dim=3 and dim=2"):
        acc.merge(MomentAccumulator().update(np.zeros((2, 2))))
    with pytest.raises(TypeError, match="other must be a MomentAccumulator"):
        acc.merge(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sample_size must be >= 0"):
        MomentAccumulator(sample_size=-1)
    with pytest.raises(TypeError, match="boolean dtype"):
        MomentAccumulator().update(np.zeros((2, 2), dtype=bool))
    assert MomentAccumulator(3).update(np.zeros((0, 3))).n == 0  # empty chunks are a no-op


def test_all_reduce_without_process_group_is_identity(data):
    acc = MomentAccumulator().update(data)
    assert acc.all_reduce() is acc and acc.n == len(data)


# ------------------------------------------------------------------------------------------- distributed
WORLD = 2


def _global_data():
    return np.random.default_rng(0).standard_normal((301, 5)) + 3.0


def _worker(rank, out_dir):
    z = _global_data()
    rows = slice(0, 120) if rank == 0 else slice(120, None)  # unequal shards
    acc = MomentAccumulator(sample_size=64, random_state=rank)
    for start in range(rows.start or 0, rows.stop or len(z), 50):
        acc.update(z[start:min(start + 50, rows.stop or len(z))])
    acc.all_reduce()
    out = {"n": acc.n, "mean": acc.mean, "cov": acc.covariance, "uvar": acc.normalized_var,
           "sample": acc.sample, "index": torch.from_numpy(acc.sample_index)}
    torch.save(out, f"{out_dir}/rank{rank}.pt")


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    run_ranks(_worker, tmp, str(tmp), world=WORLD)
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


def test_all_reduce_equals_one_process(rank_results):
    z = _global_data()
    one = MomentAccumulator().update(z)
    for res in rank_results:
        assert res["n"] == len(z)
        torch.testing.assert_close(res["mean"], one.mean, rtol=0, atol=1e-10)
        torch.testing.assert_close(res["cov"], one.covariance, rtol=0, atol=1e-10)
        torch.testing.assert_close(res["uvar"], one.normalized_var, rtol=0, atol=1e-10)
    # Every rank holds the same sample, and it consists of rows of the concatenated data.
    torch.testing.assert_close(rank_results[0]["sample"], rank_results[1]["sample"])
    idx = rank_results[0]["index"].numpy()
    np.testing.assert_allclose(rank_results[0]["sample"].numpy(), z[idx])
    assert len(idx) == 64 and len(np.unique(idx)) == 64


def test_drifting_float32_chunks_recentre(rng):
    # Each chunk sits 1e4 further away than the last, with unit spread: centred at a fixed shift, float32
    # products would bury the spread (offset^2 ~ 1e8 x 1e-7 rounding ~ 10 > 1); the accumulator moves its
    # shift to a drifting chunk's mean and redoes that chunk, so the float32 result stays at float32
    # rounding of the spread itself.
    chunks = [(1e4 * k + rng.standard_normal((300, 3))).astype(np.float32) for k in range(6)]
    acc = MomentAccumulator()
    for c in chunks:
        acc.update(c)
    z = np.concatenate(chunks).astype(np.float64)
    np.testing.assert_allclose(acc.mean.numpy(), z.mean(0), rtol=1e-12)
    np.testing.assert_allclose(acc.covariance.numpy(), np.cov(z, rowvar=False), rtol=1e-5)
    within = MomentAccumulator().update(chunks[3])
    np.testing.assert_allclose(within.covariance.numpy(), np.cov(chunks[3].astype(np.float64), rowvar=False),
                               rtol=1e-5, atol=1e-6)


def test_mixed_dtype_chunks_equal_float64(rng):
    # A float64 first chunk fixes a shift that float32 cannot hold exactly; later float32 chunks are
    # centred at its float32 rounding and the difference is corrected exactly in float64.
    z = 3.3 + rng.standard_normal((900, 4))
    parts = [z[:300], z[300:600].astype(np.float32), z[600:]]
    acc = MomentAccumulator()
    for p in parts:
        acc.update(p)
    ref = np.concatenate([parts[0], parts[1].astype(np.float64), parts[2]])
    # the float32 chunk's column sums are float32 sums of 300 centred values: ~1e-8 relative to the mean
    np.testing.assert_allclose(acc.mean.numpy(), ref.mean(0), rtol=1e-7)
    np.testing.assert_allclose(acc.covariance.numpy(), np.cov(ref, rowvar=False), rtol=1e-6)


@pytest.mark.parametrize("noise,rtol64,rtol32", [(1e-3, 1e-9, 1e-4), (1e-6, 1e-6, 0.3)])
def test_normalized_moments_of_near_constant_rows(rng, noise, rtol64, rtol32):
    # Rows u = z / |z| of a near-constant z: their per-dimension variance is ~noise^2 / |z|^2, far below the
    # squared mean, so it must come from centred sums. float64 keeps it to rounding; float32 data hold the
    # noise to a few ulps at 1e-6 (2e-7 relative), so only its order of magnitude survives there.
    z = np.array([5.0, 8.0, -3.0, 1.0]) + noise * rng.standard_normal((4000, 4))
    for data, rtol in ((z, rtol64), (z.astype(np.float32), rtol32)):
        acc = MomentAccumulator()
        for start in range(0, 4000, 512):
            acc.update(data[start:start + 512])
        u = data.astype(np.float64)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        np.testing.assert_allclose(acc.normalized_mean.numpy(), u.mean(0), rtol=1e-7)
        np.testing.assert_allclose(acc.normalized_var.numpy(), u.var(0, ddof=1), rtol=rtol)


def test_free_buffers_keeps_the_state(rng):
    z = rng.standard_normal((600, 5))
    acc = MomentAccumulator().update(z[:300]).free_buffers().update(z[300:])
    ref = MomentAccumulator().update(z)
    np.testing.assert_allclose(acc.covariance.numpy(), ref.covariance.numpy(), rtol=1e-12)
    assert acc.free_buffers()._work == {}


# ------------------------------------------------------------------------------- wide data: rows, not sums
def test_wide_data_keeps_rows_and_no_square_matrix():
    from ._data import entry_budget

    z = np.random.default_rng(0).standard_normal((20, 2000)).astype(np.float32)
    acc = MomentAccumulator(sample_size=4)
    with entry_budget(2000 * 2000 // 4):
        acc.update(z[:12]).update(z[12:])
    assert acc.n == 20 and torch.equal(acc.rows, torch.from_numpy(z))


def test_rows_turn_into_the_same_sums_bit_for_bit():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((30, 12)) * 3 + 5
    dense, held = MomentAccumulator(sample_size=5), MomentAccumulator(sample_size=5)
    dense.update(z[:4])
    _ = dense.mean  # the dense sums from here on
    dense.update(z[4:9]).update(z[9:])
    held.update(z[:4]).update(z[4:9])
    assert held.rows is not None  # 9 < 12 rows: still held
    held.update(z[9:])
    assert held.rows is None
    for name in ("mean", "comoment", "normalized_var"):
        assert torch.equal(getattr(dense, name), getattr(held, name)), name


def test_merge_of_row_holding_accumulators():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((14, 10))
    a, b = MomentAccumulator().update(z[:4]), MomentAccumulator().update(z[4:8])
    a.merge(b)
    assert torch.equal(a.rows, torch.from_numpy(z[:8]))  # 8 < 10: still rows
    a.merge(MomentAccumulator().update(z[8:]))  # 14 >= 10: the dense sums of the whole
    whole = MomentAccumulator().update(z)
    assert a.rows is None
    assert torch.allclose(a.covariance, whole.covariance, atol=1e-12)


def test_row_holding_chunk_with_nan_is_refused_at_update():
    z = np.zeros((3, 10))
    z[1, 4] = np.nan
    with pytest.raises(ValueError, match="first at row 1 of the data, column 4"):
        MomentAccumulator().update(z)
