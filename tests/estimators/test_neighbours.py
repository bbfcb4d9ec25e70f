"""Tests for infossl.estimators.neighbours: exact k-NN (Euclidean, max-norm), the KSG counts, both search paths."""
import contextlib
import math
import time

import numpy as np
import pytest
import torch

import infossl.estimators.neighbours as nb
from infossl.estimators import _native
from infossl.estimators.neighbours import chebyshev_slabs, distances, ksg_counts, kth_neighbour, nearest_neighbours


def _brute(z, k):
    d = torch.cdist(z, z)
    d.fill_diagonal_(math.inf)
    n = z.shape[0]
    # order by (distance, index)
    idx = torch.stack([torch.from_numpy(np.lexsort((np.arange(n), d[i].numpy()))[:k]) for i in range(n)])
    return d.gather(1, idx), idx


@pytest.mark.parametrize("chunk", [None, 7, 1000])
def test_neighbours_exact_and_chunked(rng, chunk):
    # also near-duplicates, which the float32 screening cannot rank: they go through the float64 pass
    line = torch.from_numpy(np.random.default_rng(9).uniform(size=(200, 1)) @ np.ones((1, 5)))
    d, i = nearest_neighbours(line, 3, chunk_size=chunk)
    db, ib = _brute(line, 3)
    assert torch.equal(i, ib) and torch.allclose(d, db, rtol=1e-12)
    z = torch.from_numpy(rng.standard_normal((300, 20)))
    d, i = nearest_neighbours(z, 5, chunk_size=chunk)
    db, ib = _brute(z, 5)
    assert torch.equal(i, ib)
    assert torch.allclose(d, db, rtol=1e-12)


def test_neighbours_ties_by_index_and_errors():
    z = torch.tensor([[0.0], [1.0], [-1.0], [2.0]], dtype=torch.float64)
    d, i = nearest_neighbours(z, 2)
    assert i[0].tolist() == [1, 2] and d[0].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="k must be in"):
        nearest_neighbours(z, 4)


def _ksg_reference(x, y, k, variant):
    """Counts and joint k-th distances by the definitions, one row at a time (float64 numpy)."""
    n = len(x)
    nx, ny, eps = np.empty(n, int), np.empty(n, int), np.empty(n)
    for i in range(n):
        dx, dy = np.abs(x - x[i]).max(axis=1), np.abs(y - y[i]).max(axis=1)
        dj = np.maximum(dx, dy)
        dj[i] = np.inf
        sel = np.lexsort((np.arange(n), dj))[:k]  # (distance, index) order
        eps[i] = dj[sel[-1]]
        if variant == 1:
            nx[i], ny[i] = (dx < eps[i]).sum() - 1, (dy < eps[i]).sum() - 1
        else:
            nx[i], ny[i] = (dx <= dx[sel].max()).sum() - 1, (dy <= dy[sel].max()).sum() - 1
    return nx, ny, eps


def _pairs(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        x = rng.standard_normal((240, 3))
        return x, 0.6 * x[:, :2] + 0.8 * rng.standard_normal((240, 2))
    if kind == "ties":  # many equal distances, fewer than k copies of any point
        x = rng.integers(0, 6, (240, 2)).astype(float)
        return x, x + rng.integers(0, 6, (240, 2))
    # distances that differ only below float32 resolution: the float32 screen must hand them to float64
    x = rng.integers(0, 5, (240, 2)) + 1e-9 * rng.standard_normal((240, 2))
    return x, x + rng.integers(0, 3, (240, 2)) + 1e-9 * rng.standard_normal((240, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chebyshev_slabs_are_exact(seed, dtype):
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((300, 7))).to(dtype)
    rows = slice(40, 77)
    slabs = chebyshev_slabs(z, rows, 64)  # (5, 37, 64), the last 20 columns padded with +inf
    assert slabs.shape == (5, 37, 64) and torch.isinf(slabs[-1, :, 300 - 256:]).all()
    flat = slabs.permute(1, 0, 2).reshape(37, -1)[:, :300]
    direct = distances(z, torch.arange(40, 77), torch.arange(300).expand(37, 300), "chebyshev")
    assert torch.equal(flat, direct)


@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
@pytest.mark.parametrize("k", [1, 4])
def test_kth_neighbour_paths_and_chunks_agree(seed, metric, k):
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((250, 4)))
    d = distances(z, torch.arange(250), torch.arange(250).expand(250, 250), metric)
    d.fill_diagonal_(math.inf)
    truth = d.sort(dim=1).values[:, k - 1]
    for algorithm, chunk in (("brute", None), ("brute", 7), ("brute", 250), ("kd_tree", None)):
        idx = kth_neighbour(z, k, metric, algorithm, chunk)
        assert torch.equal(d.gather(1, idx.unsqueeze(1)).squeeze(1), truth), (algorithm, chunk)
    assert (idx != torch.arange(250)).all()


@pytest.mark.parametrize("variant", [1, 2])
@pytest.mark.parametrize("kind", ["gauss", "ties", "band"])
def test_ksg_counts_match_the_definition(seed, variant, kind):
    x, y = _pairs(kind, seed)
    ref = _ksg_reference(x, y, 5, variant)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    one = ksg_counts(tx, ty, 5, variant, "brute", 240)
    for got in (one, ksg_counts(tx, ty, 5, variant, "brute", 17), ksg_counts(tx, ty, 5, variant, "kd_tree")):
        for g, r in zip(got, ref):
            assert np.array_equal(g.numpy(), r)
    for g, o in zip(ksg_counts(tx, ty, 5, variant, "brute", 61), one):  # chunked == one-shot, bit for bit
        assert torch.equal(g, o)


@pytest.mark.parametrize("variant", [1, 2])
def test_ksg_counts_float32_equals_float64_where_exact(seed, variant):
    # multiples of 1/32 below 32: every coordinate and difference is exact in float32, so the float32 search
    # must give the float64 neighbours and counts, ties included
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1024, (300, 3)) / 32.0
    y = 0.5 * x[:, :2] + rng.integers(0, 512, (300, 2)) / 32.0
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    n64 = ksg_counts(tx, ty, 4, variant)
    n32 = ksg_counts(tx.float(), ty.float(), 4, variant)
    assert torch.equal(n32[0], n64[0]) and torch.equal(n32[1], n64[1])
    assert torch.equal(n32[2].double(), n64[2])


# ------------------------------------------------------------------ kernels, workers and chunk boundaries
KERNELS = ["pdist", "features"]


@pytest.fixture
def force_kernel(monkeypatch):
    """Pin the CPU max-norm kernel for every width and dtype (the timed choice is bypassed); a torch kernel
    also pins the KSG search to the torch engine, ``"compiled"`` pins it to the compiled kernels."""
    def pin(name):
        if name == "compiled":
            if _native.kernels() is None:
                pytest.skip(f"compiled kernels unavailable: {_native.unavailable_reason()}")
            monkeypatch.setattr(nb, "_KSG_PIN", ["compiled"])
            return

        class Always(dict):
            def __contains__(self, key):
                return True

            def __getitem__(self, key):
                return name
        monkeypatch.setattr(nb, "_KERNEL_CHOICE", Always())
        monkeypatch.setattr(nb, "_KSG_PIN", ["torch"])
    return pin


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [1, 7, 64])
def test_each_maxnorm_kernel_gives_the_direct_distances(force_kernel, kernel, dtype, d):
    # n = 2 m + 3: a partial last slab; the rows straddle a slab boundary (m = 64)
    force_kernel(kernel)
    z = torch.from_numpy(np.random.default_rng(d).standard_normal((131, d))).to(dtype)
    z[5] = z[70]  # a duplicate row: distance exactly 0 away from the diagonal
    rows = slice(60, 75)
    slabs = chebyshev_slabs(z, rows, 64)
    flat = slabs.permute(1, 0, 2).reshape(15, -1)
    direct = distances(z, torch.arange(60, 75), torch.arange(131).expand(15, 131), "chebyshev")
    assert torch.equal(flat[:, :131], direct)
    assert torch.isinf(flat[:, 131:]).all()


def test_the_timed_kernel_choice_is_one_of_the_two_and_cached():
    choice = nb._cpu_kernel(5, torch.float32)
    assert choice in KERNELS and nb._KERNEL_CHOICE[(5, torch.float32)] == choice
    assert nb._cpu_kernel(5, torch.float32) == choice


def _duplicates_pair(seed):
    """Gaussian pairs with exact duplicate rows (two and three copies) and tied coordinates."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((230, 3)), 1)
    y = np.round(0.5 * x[:, :2] + rng.standard_normal((230, 2)), 1)
    x[10:12], y[10:12] = x[3], y[3]
    x[40:43], y[40:43] = x[100], y[100]
    return x, y


@pytest.mark.parametrize("kernel", KERNELS + ["compiled"])
@pytest.mark.parametrize("variant", [1, 2])
@pytest.mark.parametrize("kind", ["gauss", "ties", "band", "duplicates"])
def test_ksg_counts_each_kernel_and_worker_count_matches_the_definition(force_kernel, kernel, variant, kind):
    force_kernel(kernel)
    x, y = _duplicates_pair(5) if kind == "duplicates" else _pairs(kind, 5)
    ref = _ksg_reference(x, y, 4, variant)
    before = torch.get_num_threads()
    try:
        for threads, chunk in ((1, None), (2, 33), (3, 7)):
            torch.set_num_threads(threads)
            for dtype in (torch.float64,) if kind == "band" else (torch.float64, torch.float32):
                tx, ty = torch.from_numpy(x).to(dtype), torch.from_numpy(y).to(dtype)
                got = ksg_counts(tx, ty, 4, variant, "brute", chunk)
                assert torch.get_num_threads() == threads  # restored after the workers
                if dtype == torch.float32:  # exact for the float32 distances: the reference in float32
                    ref32 = _ksg_reference(tx.numpy(), ty.numpy(), 4, variant)
                    for g, r in zip(got, ref32):
                        assert np.array_equal(g.double().numpy(), r), (threads, chunk)
                    continue
                for g, r in zip(got, ref):
                    assert np.array_equal(g.numpy(), r), (threads, chunk, dtype)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
def test_kth_neighbour_and_nearest_on_workers_match_one_thread(force_kernel, kernel, metric):
    force_kernel(kernel)
    z = torch.from_numpy(np.random.default_rng(3).standard_normal((301, 6)))
    z[7] = z[200]  # a duplicate
    d = distances(z, torch.arange(301), torch.arange(301).expand(301, 301), metric)
    d.fill_diagonal_(math.inf)
    truth = d.sort(dim=1).values[:, 2]
    before = torch.get_num_threads()
    try:
        for threads, chunk in ((1, None), (2, None), (2, 19)):
            torch.set_num_threads(threads)
            idx = kth_neighbour(z, 3, metric, "brute", chunk)
            assert torch.equal(d.gather(1, idx.unsqueeze(1)).squeeze(1), truth), (threads, chunk)
            if metric == "euclidean":
                dist, index = nearest_neighbours(z, 3, chunk_size=chunk)
                ib = d.argsort(dim=1, stable=True)[:, :3]  # (distance, index) order, direct differences
                assert torch.equal(index, ib) and torch.equal(dist, d.gather(1, ib))
    finally:
        torch.set_num_threads(before)


def test_worker_errors_propagate_and_threads_are_restored():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []

    def fn(rows, scratch):
        seen.append(rows.start)
        if rows.start == 30:
            raise ValueError("chunk 30 failed")

    try:
        with pytest.raises(ValueError, match="chunk 30 failed"):
            nb._run_chunks(fn, [slice(s, s + 10) for s in range(0, 100, 10)], 2)
        assert torch.get_num_threads() == 2 and 30 in seen
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("n, workers, preferred, expected", [
    (10_000, 2, 256, 256),  # the kernel's block
    (1_000, 2, 256, 125),  # four chunks per worker
    (10_000, 1, 256, 256),
    (10_000, 2, 256, 50),  # the memory budget of 100 rows, split between two workers
])
def test_chunk_rows(n, workers, preferred, expected):
    budget = 100 if expected == 50 else 10**6
    assert nb._chunk_rows(n, budget, workers, preferred) == expected


def test_a_worker_error_drops_the_chunks_not_started():
    started = []

    def fn(rows, scratch):
        started.append(rows.start)
        if rows.start == 0:
            raise RuntimeError("chunk 0 failed")
        time.sleep(0.01)

    chunks = [slice(s, s + 1) for s in range(200)]
    with pytest.raises(RuntimeError, match="chunk 0 failed"):
        nb._run_chunks(fn, chunks, 2)
    assert len(started) < len(chunks) // 2  # the queued chunks were cancelled, not run to the end


# ---------------------------------------------------------- selection over many blocks (grouped minima)
def test_smallest_by_groups_gives_the_topk_values_on_ties_and_padding():
    gen = torch.Generator().manual_seed(0)
    slabs = torch.randint(0, 4, (9, 13, 8), generator=gen).double()  # many equal values: ties everywhere
    slabs[-1, :, 5:] = math.inf  # the padded tail of the last slab
    for q in (1, 3, 8):
        v, cols = nb._smallest(slabs, q, 8)
        ref = slabs.permute(1, 0, 2).reshape(13, -1).sort(dim=1).values[:, :q]
        assert torch.equal(v, ref)
        flat = slabs.permute(1, 0, 2).reshape(13, -1)
        assert torch.equal(flat.gather(1, cols), v) and (cols < 69).all()
        assert all(len(set(row)) == q for row in cols.tolist())  # q distinct columns


def test_count_sums_the_mask_per_row():
    mask = torch.rand(40, 6, 16, generator=torch.Generator().manual_seed(1)) < 0.3
    assert torch.equal(nb._count(mask), mask.sum(dim=(0, 2)))


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few columns, so that small data cross many block boundaries (and a partial last one); the
    KSG search on the torch engine, whose slabs these are."""
    monkeypatch.setattr(nb, "_KSG_PIN", ["torch"])
    monkeypatch.setattr(nb, "_GEMM_COLS", 16)
    monkeypatch.setattr(nb, "_COL_BLOCK", 16)
    monkeypatch.setattr(nb, "_CAND_BYTES", 512)  # several pieces of the exact re-ranking


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["gauss", "near_duplicates", "duplicates"])
def test_nearest_neighbours_over_many_blocks_is_exact(small_blocks, dtype, kind):
    rng = np.random.default_rng(4)
    if kind == "gauss":
        z = rng.standard_normal((203, 6))
    elif kind == "near_duplicates":  # distances below float32 resolution: the float64 passes decide
        z = rng.uniform(size=(203, 1)) @ np.ones((1, 5)) + 1e-9 * rng.standard_normal((203, 5))
    else:  # exact copies and integer ties: the (distance, index) order decides
        z = rng.integers(0, 3, (203, 3)).astype(float)
        z[50:53] = z[7]
    t = torch.from_numpy(z).to(dtype)
    d = distances(t, torch.arange(203), torch.arange(203).expand(203, 203))
    d.fill_diagonal_(math.inf)
    ib = d.argsort(dim=1, stable=True)[:, :4]
    before = torch.get_num_threads()
    try:
        for threads, chunk in ((1, None), (2, 9), (1, 203)):
            torch.set_num_threads(threads)
            dist, index = nearest_neighbours(t, 4, chunk_size=chunk)
            assert torch.equal(index, ib) and torch.equal(dist, d.gather(1, ib)), (threads, chunk)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("variant", [1, 2])
@pytest.mark.parametrize("kind", ["gauss", "ties", "band", "duplicates"])
def test_ksg_counts_over_many_slabs_match_the_definition(small_blocks, variant, kind):
    x, y = _duplicates_pair(2) if kind == "duplicates" else _pairs(kind, 2)
    ref = _ksg_reference(x, y, 3, variant)
    for dtype in (torch.float64,) if kind == "band" else (torch.float64, torch.float32):
        tx, ty = torch.from_numpy(x).to(dtype), torch.from_numpy(y).to(dtype)
        want = ref if dtype == torch.float64 else _ksg_reference(tx.numpy(), ty.numpy(), 3, variant)
        for chunk in (None, 31):
            for g, r in zip(ksg_counts(tx, ty, 3, variant, "brute", chunk), want):
                assert np.array_equal(g.double().numpy() if dtype == torch.float32 else g.numpy(), r)
    z = torch.from_numpy(x)
    dz = distances(z, torch.arange(len(x)), torch.arange(len(x)).expand(len(x), len(x)), "chebyshev")
    truth = dz.clone().fill_diagonal_(math.inf).sort(dim=1).values[:, 2]
    idx = kth_neighbour(z, 3, "chebyshev", "brute", 17)  # with >= 3 copies it may name the row itself (0)
    assert torch.equal(dz.gather(1, idx.unsqueeze(1)).squeeze(1), truth)


def test_a_long_search_shows_a_bar_over_its_rows_and_a_short_one_none(monkeypatch):
    import contextlib

    import infossl._progress as progress

    bars = []

    class Bar:
        def __init__(self, total):
            self.total, self.done = total, 0

        def update(self, k):
            self.done += k

    @contextlib.contextmanager
    def record(enabled, *, total, desc, unit="it"):
        bars.append(Bar(total))
        yield bars[-1]

    monkeypatch.setattr(progress, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(nb, "progress_bar", record)
    monkeypatch.delenv("INFOSSL_PROGRESS", raising=False)
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((300, 4)))
    nearest_neighbours(z, 3)
    assert bars == []  # 300^2 * 4 pair-features: far below the threshold
    monkeypatch.setattr(nb, "_PROGRESS_MIN_WORK", 1e5)
    want = nearest_neighbours(z, 3)
    got = nearest_neighbours(z, 3, chunk_size=7)
    ksg_counts(z[:, :2], z[:, 2:], 3, 1, "brute", 11)
    kth_neighbour(z, 3, "chebyshev", "brute", 13)
    ksg_rows = 600 if nb.ksg_engine() == "compiled" else 300  # the compiled engine: both passes, one bar
    assert [b.total for b in bars] == [300, 300, ksg_rows, 300] and all(b.done == b.total for b in bars)
    assert torch.equal(got[1], want[1])  # the bar changes nothing


@pytest.mark.parametrize("shape", [(3, 5, 8), (7, 13, 11), (1, 1, 3)])
def test_sparse_true_gives_the_nonzero_indices(shape):
    for p in (0.0, 0.01, 0.5, 1.0):
        mask = torch.rand(shape, generator=torch.Generator().manual_seed(2)) < p
        assert torch.equal(nb._sparse_true(mask), torch.nonzero(mask.reshape(-1)).squeeze(1))


@pytest.mark.parametrize("engine", ["torch", "compiled"])
@pytest.mark.parametrize("variant", [1, 2])
def test_ksg_counts_int16_screen_and_its_float_fallback_match_the_definition(force_kernel, engine, variant):
    force_kernel("features" if engine == "torch" else "compiled")
    x, y = _pairs("gauss", 8)
    xs, ys, scale, delta = nb._screens(torch.from_numpy(x), torch.from_numpy(y))
    assert xs.dtype == torch.int16 and scale > 0 and delta > scale  # the integer grid is used
    assert int(xs.abs().max()) <= nb._Q and int(ys.abs().max()) <= nb._Q
    x[0, 0] = 1e7  # one outlier: the common grid would be coarser than the bulk, so the float screen is used
    assert nb._screens(torch.from_numpy(x), torch.from_numpy(y))[0].dtype == torch.float32
    ref = _ksg_reference(x, y, 3, variant)
    for g, r in zip(ksg_counts(torch.from_numpy(x), torch.from_numpy(y), 3, variant, "brute", 50), ref):
        assert np.array_equal(g.numpy(), r)


def test_workers_take_the_callers_inference_mode():
    # inference mode is per thread: the workers must write the caller's inference-mode outputs under it too
    import infossl

    z = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        report = infossl.diagnose(z)
    assert report.verdict == infossl.diagnose(z).verdict


def test_k_beyond_one_cpu_column_block_matches_a_full_sort():
    # more neighbours than one column block holds: the block is widened so that m groups exist
    from infossl.estimators.neighbours import _GEMM_COLS, nearest_neighbours

    n = _GEMM_COLS + 60
    z = torch.randn(n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    k = _GEMM_COLS + 10
    dist, _ = nearest_neighbours(z, k)
    full = torch.cdist(z, z).fill_diagonal_(math.inf).sort(dim=1).values[:, :k]
    torch.testing.assert_close(dist, full, rtol=1e-12, atol=1e-12)


@pytest.fixture
def euclid_kernel(monkeypatch):
    """Pin the Euclidean first screen (``pinned_euclidean_screen`` until the test ends) and count the
    bfloat16 screen's uses."""
    calls = []
    stack = contextlib.ExitStack()
    real = nb._bf16_operands

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(nb, "_bf16_operands", spy)

    def pin(name):
        stack.enter_context(nb.pinned_euclidean_screen(name))
        calls.clear()
        return calls
    with stack:
        yield pin


def _euclid_data(kind, n, d, seed=4):
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        return rng.standard_normal((n, d))
    if kind == "ties":  # values on a coarse grid: many equal distances, the (distance, index) order decides
        return np.round(rng.standard_normal((n, d)), 1)
    if kind == "duplicates":
        z = rng.integers(0, 3, (n, d)).astype(float)
        z[50:53] = z[7]
        return z
    if kind == "near_duplicates":  # below float32 (and bfloat16) resolution: the float64 passes decide
        return rng.uniform(size=(n, 1)) @ np.ones((1, d)) + 1e-9 * rng.standard_normal((n, d))
    z = rng.standard_normal((n, d))  # "outlier": one row far beyond the bulk (the bfloat16 screen declines)
    z[11] *= 1e3
    return z


@pytest.mark.parametrize("kernel", ["float32", "bfloat16"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["gauss", "ties", "duplicates", "near_duplicates", "outlier"])
def test_each_euclidean_screen_gives_the_exact_neighbours(euclid_kernel, small_blocks, kernel, dtype, kind):
    t = torch.from_numpy(_euclid_data(kind, 203, 6)).to(dtype)
    d = distances(t, torch.arange(203), torch.arange(203).expand(203, 203))
    d.fill_diagonal_(math.inf)
    ib = d.argsort(dim=1, stable=True)[:, :4]  # the exact reference, ties by index
    calls = euclid_kernel(kernel)
    before = torch.get_num_threads()
    try:
        for threads, chunk in ((1, None), (2, 9), (1, 203)):  # chunk boundaries, one chunk, workers
            torch.set_num_threads(threads)
            dist, index = nearest_neighbours(t, 4, chunk_size=chunk)
            assert torch.equal(index, ib) and torch.equal(dist, d.gather(1, ib)), (threads, chunk)
    finally:
        torch.set_num_threads(before)
    # the pinned kernel ran, except where an outlier makes the bfloat16 bound useless
    assert bool(calls) == (kernel == "bfloat16" and kind != "outlier")


@pytest.mark.parametrize("kernel", ["float32", "bfloat16"])
def test_each_euclidean_screen_is_exact_in_64_dims_over_default_blocks(euclid_kernel, kernel):
    z = torch.from_numpy(_euclid_data("gauss", 4500, 64, seed=2))  # crosses the 4096-column blocks
    euclid_kernel(kernel)
    dist, index = nearest_neighbours(z, 3)
    rows = torch.arange(0, 4500, 37)
    d = distances(z, rows, torch.arange(4500).expand(rows.numel(), 4500))
    d[torch.arange(rows.numel()), rows] = math.inf
    ib = d.argsort(dim=1, stable=True)[:, :3]
    assert torch.equal(index[rows], ib) and torch.equal(dist[rows], d.gather(1, ib))


@pytest.mark.parametrize("kind, d", [("gauss", 64), ("gauss", 3), ("uniform", 16), ("student", 32)])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4])
def test_the_bfloat16_screen_obeys_its_error_bound(kind, d, scale):
    rng = np.random.default_rng(5)
    if kind == "gauss":
        z = rng.standard_normal((300, d))
    elif kind == "uniform":
        z = rng.uniform(-1, 1, (300, d)) + 3.0
    else:
        z = rng.standard_t(5, (300, d))
    z32 = torch.from_numpy(z * scale).float()
    z32 = (z32 - z32.mean(dim=0)) / scale
    sq = z32.pow(2).sum(dim=1)
    big = float(sq.max())
    sa, sb, off, tol = nb._bf16_operands(z32, sq, big)
    s_hat = (sa @ sb).double()  # (n, n) bfloat16 screen of d^2 + c_i
    exact = torch.cdist(z32.double(), z32.double()).pow(2) + off.double().unsqueeze(1)
    u = 2.0 ** -8
    assert bool((s_hat >= 0).all())
    # before the output's rounding the screen is within E_i of d^2 + c_i; the rounding adds <= u |s| / (1 - u)
    err = (s_hat - exact).abs()
    assert bool((err <= tol.unsqueeze(1) + u * s_hat / (1 - u)).all())
    assert bool((off.double() >= tol).all())


def test_the_euclidean_screen_choice_is_measured_cached_and_leaves_the_thread_count(monkeypatch):
    monkeypatch.setattr(nb, "_EUCLID_CHOICE", {})
    monkeypatch.setattr(nb, "_KERNEL_CHOICE", {})
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        first = nb._euclid_kernel(24, torch.device("cpu"))
        assert first in ("float32", "bfloat16") and nb._euclid_kernel(24, torch.device("cpu")) == first
        assert torch.get_num_threads() == 2
        rng = np.random.default_rng(0)
        z = torch.from_numpy(rng.standard_normal((300, 8)))
        nearest_neighbours(z, 3)
        kth_neighbour(z, 3, metric="chebyshev")
        ksg_counts(z, z.flip(1), 3, 1)
        assert torch.get_num_threads() == 2  # the search's one-thread ops and timings are undone after it
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("dtype,scale", [(torch.float32, 1e-23), (torch.float32, 1e-19), (torch.float64, 1e-165)])
def test_distances_that_underflow_follow_the_data_dtype_rule(dtype, scale):
    """At scales where the data dtype's squared differences underflow, the neighbours are those of the
    distances computed in that dtype, ties by row index (the screens see the scaled data and would differ)."""
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((300, 6)) * scale).to(dtype)
    dist, index = nearest_neighbours(z, 3)
    n = z.shape[0]
    full = distances(z, torch.arange(n), torch.arange(n).expand(n, n))  # (n, n) in the data's dtype
    full[torch.arange(n), torch.arange(n)] = math.inf
    order = full.argsort(dim=1, stable=True)[:, :3]
    assert torch.equal(index, order) and torch.equal(dist, full.gather(1, order))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_is_refused(bad):
    z = torch.randn(50, 3, dtype=torch.float64)
    z[4, 1] = bad
    with pytest.raises(ValueError, match="NaN or"):
        nearest_neighbours(z, 2)
    with pytest.raises(ValueError, match="NaN or"):
        ksg_counts(z, z.clone(), 2, 1)


# ------------------------------------------------------------------ the compiled KSG kernels (_maxnorm.c)
def _both_engines(x, y, k, variant, chunk=None):
    with nb.pinned_ksg_engine("torch"):
        want = ksg_counts(x, y, k, variant, "brute", chunk)
    with nb.pinned_ksg_engine("compiled"):
        got = ksg_counts(x, y, k, variant, "brute", chunk)
    return got, want


@pytest.fixture
def compiled():
    if _native.kernels() is None:
        pytest.skip(f"compiled kernels unavailable: {_native.unavailable_reason()}")
    return _native.kernels()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n", [6, 63, 64, 65, 129, 300])
def test_compiled_ksg_counts_equal_the_torch_engine_at_block_edges(compiled, dtype, n):
    # n around the register block (32 or 64 columns) and chunks that leave 1-3 rows in the last register
    # block of four: every partial block, the row's own column in it, and q = n - 1 at n = 6
    rng = np.random.default_rng(n)
    x = torch.from_numpy(rng.standard_normal((n, 5))).to(dtype)
    y = torch.from_numpy(np.round(rng.standard_normal((n, 3)), 1)).to(dtype)  # tied coordinates
    y[n // 2] = y[0]
    for k in (1, 3) if n > 6 else (1, 4):
        for variant in (1, 2):
            for chunk in (None, 1, 3, 5, 7):
                got, want = _both_engines(x, y, k, variant, chunk)
                for g, w in zip(got, want):
                    assert torch.equal(g, w), (k, variant, chunk)


def test_compiled_ksg_counts_settle_a_band_wider_than_its_first_allocation(compiled):
    # 300 copies of one point: every copy's k-th distance is 0 and the whole block of copies sits in the
    # band of every copy's count: 9e4 pairs, so the kernel's band list grows many times
    rng = np.random.default_rng(1)
    x = rng.standard_normal((700, 4))
    y = 0.5 * x[:, :2] + rng.standard_normal((700, 2))
    x[100:400], y[100:400] = x[0], y[0]
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for variant in (1, 2):
        got, want = _both_engines(tx, ty, 3, variant, 50)
        ref = _ksg_reference(x, y, 3, variant)
        for g, w, r in zip(got, want, ref):
            assert torch.equal(g, w) and np.array_equal(g.numpy(), r)


def test_compiled_ksg_counts_wide_features_span_several_column_tiles(compiled):
    # 200 features: a column tile of the kernels holds fewer columns than n, so rows cross tile edges
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.standard_normal((600, 120)))
    y = torch.from_numpy(rng.standard_normal((600, 80))) + 0.3 * x[:, :80]
    for variant in (1, 2):
        got, want = _both_engines(x, y, 4, variant, 37)
        for g, w in zip(got, want):
            assert torch.equal(g, w)


def test_a_pinned_engine_is_restored_and_names_are_checked():
    before = nb._KSG_PIN[0]
    with nb.pinned_ksg_engine("torch"):
        assert nb._KSG_PIN[0] == "torch"
    assert nb._KSG_PIN[0] == before
    with pytest.raises(ValueError, match="'compiled' or 'torch'"):
        with nb.pinned_ksg_engine("numba"):
            pass


@pytest.mark.parametrize("engine", ["torch", "compiled"])
def test_ksg_counts_refuse_k_out_of_range_and_overflowing_values(force_kernel, engine):
    force_kernel("features" if engine == "torch" else "compiled")
    one = torch.zeros(1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"k must be in \[1, n - 1\]"):
        ksg_counts(one, one, 1, 1)
    z = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"k must be in"):
        ksg_counts(z, z, 10, 1)
    huge = (z / z.abs().max() * 1e38).float()  # finite, but differences reach 2e38: past float32 max / 4
    with pytest.raises(ValueError, match="overflow"):
        ksg_counts(huge, z.float(), 2, 1)


def test_compiled_ksg_counts_beyond_float32_range_take_the_exact_float64_screen(compiled):
    # float64 data whose centred values exceed float32's range: no float32 screen exists, the search runs
    # on float64 slabs (torch) and matches the definition
    rng = np.random.default_rng(3)
    x = rng.standard_normal((150, 3)) * 1e39
    y = rng.standard_normal((150, 2)) + x[:, :2] * 1e-39
    x[5] = x[9]
    ref = _ksg_reference(x, y, 3, 1)
    got, want = _both_engines(torch.from_numpy(x), torch.from_numpy(y), 3, 1)
    for g, w, r in zip(got, want, ref):
        assert torch.equal(g, w) and np.array_equal(g.numpy(), r)
