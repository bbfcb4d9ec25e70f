"""Tests for infossl.estimators.knn (Kozachenko–Leonenko entropy, KSG mutual information)."""

import math
import warnings

import numpy as np
import pytest
import torch

from infossl._validation import DegenerateInputWarning
from infossl.estimators._reference import kl_entropy_reference, ksg_reference
from infossl.estimators.knn import knn_entropy, ksg_mutual_information
from infossl.estimators.reliability import ReliabilityWarning


@pytest.fixture(params=[0, 1])
def seed(request):
    return request.param


def _gauss_pair(rng, n, dx, dy, rho=0.6):
    x = rng.standard_normal((n, dx))
    y = rho * x[:, :1] + math.sqrt(1 - rho**2) * rng.standard_normal((n, dy))
    return x, y


# ------------------------------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_entropy_gaussian_closed_form(seed, metric, d):
    z = np.random.default_rng(seed).standard_normal((4000, d))
    truth = 0.5 * d * math.log(2 * math.pi * math.e)
    # KL with k=3 at n=4000: sd about 0.02*sqrt(d) and, for d=5, a bias of about -0.1 (Gaussian tails; it
    # shrinks as n grows, see the slow test). 0.2 is > 4 sd + bias; a wrong ball volume is off by >= 0.45.
    assert knn_entropy(z, metric=metric) == pytest.approx(truth, abs=0.2)


@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
@pytest.mark.parametrize("d", [1, 2, 5])
def test_entropy_uniform_box_closed_form(seed, metric, d):
    widths = np.array([1.0, 2.0, 0.5, 3.0, 1.5])[:d]
    z = np.random.default_rng(seed).uniform(size=(4000, d)) * widths
    truth = float(np.log(widths).sum())
    err = knn_entropy(z, metric=metric) - truth
    # Measured over 8 seeds at n=4000: bias -0.002/+0.022/+0.43 (euclidean) and +0.49 (chebyshev, d=5), sd
    # <= 0.02. The positive bias is the known boundary effect of KL (neighbour balls cross the faces of the
    # box), O(n^(-1/d)). Windows: bias +- 5 sd. Mixing up the ball volumes would be off by >= 0.24 (d=1,
    # none for d=1 chebyshev/euclidean are the same ball) and by 1.8 at d=5.
    if d < 5:
        assert abs(err) < 0.1
    else:
        assert 0.3 < err < 0.6


def test_entropy_volumes_differ_by_ball_ratio(seed):
    # Euclidean and max-norm KL differ in ball volume; mixing them (a peer bug) would be off by d*ln2-ish.
    z = np.random.default_rng(seed).standard_normal((3000, 2))
    diff = abs(knn_entropy(z, metric="euclidean") - knn_entropy(z, metric="chebyshev"))
    assert diff < 0.1  # both consistent; a d*ln2 = 1.39 mistake would fail this


def test_ksg_gaussian_closed_form(seed):
    rng = np.random.default_rng(seed)
    x, y = _gauss_pair(rng, 3000, 1, 1, rho=0.6)
    truth = -0.5 * math.log(1 - 0.36)
    # KSG k=3 sd at n=3000 about 0.015 (measured over 20 seeds); 0.06 = 4 sd.
    for v in (1, 2):
        assert ksg_mutual_information(x, y, variant=v) == pytest.approx(truth, abs=0.06)


def test_ksg_independent_near_zero(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 2))
    assert abs(ksg_mutual_information(x, y)) < 0.05  # sd about 0.01 at n=2000


# ------------------------------------------------------------------------------- slow-reference agreement
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
@pytest.mark.parametrize("k", [1, 3, 7])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
def test_entropy_matches_reference(seed, metric, k, algorithm):
    z = np.random.default_rng(seed).standard_normal((200, 3)) * [1.0, 3.0, 0.2]
    ref = kl_entropy_reference(z, k=k, metric=metric)
    assert knn_entropy(z, k=k, metric=metric, algorithm=algorithm, chunk_size=37) == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize("variant", [1, 2])
@pytest.mark.parametrize("k", [1, 3, 6])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
@pytest.mark.parametrize("dims", [(1, 1), (3, 2)])
def test_ksg_matches_reference(seed, variant, k, algorithm, dims):
    x, y = _gauss_pair(np.random.default_rng(seed), 200, *dims)
    ref = ksg_reference(x, y, k=k, variant=variant)
    got = ksg_mutual_information(x, y, k=k, variant=variant, algorithm=algorithm, chunk_size=29)
    assert got == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("variant", [1, 2])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
def test_ksg_ties_follow_documented_rule(seed, variant, algorithm):
    # Integer data: many equal distances (but fewer than k copies of any point).
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, (200, 2)).astype(float)
    y = x + rng.integers(0, 6, (200, 2))
    ref = ksg_reference(x, y, k=8, variant=variant, standardize=False)
    got = ksg_mutual_information(x, y, k=8, variant=variant, standardize=False, algorithm=algorithm)
    assert got == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("variant", [1, 2])
def test_ksg_float32_screening_band_is_exact(seed, variant):
    # float64 data whose distances differ only below float32 resolution: the float32 screen cannot decide
    # these comparisons and must hand them to the exact float64 recheck.
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, (300, 2)) + 1e-9 * rng.standard_normal((300, 2))
    y = x + rng.integers(0, 3, (300, 2)) + 1e-9 * rng.standard_normal((300, 2))
    ref = ksg_reference(x, y, k=5, variant=variant, standardize=False)
    got = ksg_mutual_information(x, y, k=5, variant=variant, standardize=False, algorithm="brute", chunk_size=64)
    assert got == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
def test_entropy_ties_match_reference(seed, metric):
    # Integer data: many equal distances, so the exact re-ranking and its fallback rows are exercised.
    z = np.random.default_rng(seed).integers(0, 16, (300, 3)).astype(float)
    ref = kl_entropy_reference(z, k=4, metric=metric)
    assert knn_entropy(z, k=4, metric=metric, algorithm="brute", chunk_size=64) == pytest.approx(ref, abs=1e-10)
    assert knn_entropy(z, k=4, metric=metric, algorithm="kd_tree") == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize("kind", ["gauss", "ties"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_entropy_is_the_same_with_either_euclidean_screen(monkeypatch, seed, kind, dtype):
    import infossl.estimators.neighbours as nb

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((700, 24))
    if kind == "ties":  # a coarse grid: many equal distances at the k-th neighbour
        z = np.round(z, 0)
    z = torch.from_numpy(z.astype(dtype))
    values = {}
    for kernel in ("float32", "bfloat16"):
        with nb.pinned_euclidean_screen(kernel):
            values[kernel] = knn_entropy(z, k=3, algorithm="brute", chunk_size=97, duplicates="jitter",
                                         random_state=0)
    assert values["float32"] == values["bfloat16"]
    if kind == "gauss":  # no duplicates: the value is the reference's on the same numbers
        ref = kl_entropy_reference(z.double().numpy(), k=3)
        assert values["float32"] == pytest.approx(ref, abs=1e-4 if dtype == np.float32 else 1e-10)


def test_entropy_high_dim_brute_matches_reference(seed):
    z = np.random.default_rng(seed).standard_normal((120, 300))
    ref = kl_entropy_reference(z, k=2)
    assert knn_entropy(z, k=2, chunk_size=50) == pytest.approx(ref, abs=1e-10)


# ------------------------------------------------------------------------------------- paths and invariances
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
def test_entropy_chunked_equals_oneshot_and_kdtree(seed, metric):
    z = np.random.default_rng(seed).standard_normal((300, 4))
    one = knn_entropy(z, metric=metric, algorithm="brute", chunk_size=300)
    assert knn_entropy(z, metric=metric, algorithm="brute", chunk_size=7) == pytest.approx(one, abs=1e-12)
    assert knn_entropy(z, metric=metric, algorithm="kd_tree") == pytest.approx(one, abs=1e-12)


@pytest.mark.parametrize("variant", [1, 2])
def test_ksg_chunked_equals_oneshot_and_kdtree(seed, variant):
    x, y = _gauss_pair(np.random.default_rng(seed), 300, 2, 2)
    one = ksg_mutual_information(x, y, variant=variant, algorithm="brute", chunk_size=300)
    assert ksg_mutual_information(x, y, variant=variant, algorithm="brute", chunk_size=7) == one
    assert ksg_mutual_information(x, y, variant=variant, algorithm="kd_tree") == pytest.approx(one, abs=1e-12)


def test_numpy_equals_torch_float64(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((250, 3))
    t = knn_entropy(torch.from_numpy(z))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64 and t.ndim == 0
    assert float(t) == pytest.approx(knn_entropy(z), abs=1e-12)
    assert float(knn_entropy(torch.from_numpy(z), algorithm="brute")) == pytest.approx(knn_entropy(z), abs=1e-12)
    x, y = _gauss_pair(rng, 250, 2, 2)
    m = ksg_mutual_information(torch.from_numpy(x), torch.from_numpy(y), algorithm="brute")
    assert isinstance(m, torch.Tensor) and not m.requires_grad
    assert float(m) == pytest.approx(ksg_mutual_information(x, y), abs=1e-12)


def test_float32_input_close(seed):
    rng = np.random.default_rng(seed)
    x, y = _gauss_pair(rng, 300, 2, 2)
    m32 = ksg_mutual_information(torch.from_numpy(x).float(), torch.from_numpy(y).float(), algorithm="brute")
    assert m32.dtype == torch.float32
    # float32 rounding can flip a count only for near-ties at 1e-7 relative: the values agree closely.
    assert float(m32) == pytest.approx(ksg_mutual_information(x, y), abs=1e-2)
    h32 = knn_entropy(torch.from_numpy(x).float(), algorithm="brute")
    assert float(h32) == pytest.approx(knn_entropy(x), abs=1e-4)


def test_permutation_invariance(seed):
    rng = np.random.default_rng(seed)
    x, y = _gauss_pair(rng, 300, 2, 3)
    p = rng.permutation(300)
    assert knn_entropy(x[p]) == pytest.approx(knn_entropy(x), abs=1e-12)
    for v in (1, 2):  # continuous data: no ties, so the tie rule (index order) plays no part
        assert ksg_mutual_information(x[p], y[p], variant=v) == pytest.approx(
            ksg_mutual_information(x, y, variant=v), abs=1e-12)


def test_ksg_per_column_scale_invariance(seed):
    rng = np.random.default_rng(seed)
    x, y = _gauss_pair(rng, 300, 3, 2)
    base = ksg_mutual_information(x, y)
    sx, sy = np.array([1e-3, 7.0, 2.0**20]), np.array([3.3, 1e6])
    assert ksg_mutual_information(x * sx, y * sy) == pytest.approx(base, abs=1e-12)
    # without standardisation a stretched column takes over the max-norm: the estimate changes
    assert ksg_mutual_information(x * sx, y * sy, standardize=False) != pytest.approx(base, abs=1e-3)


@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_extreme_scales(seed, scale):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((300, 3))
    d = z.shape[1]
    for metric in ("euclidean", "chebyshev"):
        for algorithm in ("brute", "kd_tree"):
            h = knn_entropy(z * scale, metric=metric, algorithm=algorithm)
            assert h == pytest.approx(knn_entropy(z, metric=metric) + d * math.log(scale), rel=1e-12, abs=1e-9)
    zt = torch.from_numpy(z * scale).float()  # float32 at 1e30: squares would overflow without rescaling
    assert math.isfinite(float(knn_entropy(zt, algorithm="brute")))
    x, y = _gauss_pair(rng, 300, 2, 2)
    base = ksg_mutual_information(x, y)
    assert ksg_mutual_information(x * scale, y * scale) == pytest.approx(base, abs=1e-12)
    assert ksg_mutual_information(x * scale, y * scale, standardize=False) == pytest.approx(
        ksg_mutual_information(x, y, standardize=False), abs=1e-12)
    m32 = ksg_mutual_information(torch.from_numpy(x * scale).float(), torch.from_numpy(y * scale).float())
    assert float(m32) == pytest.approx(base, abs=1e-2)


def test_one_dimensional_input(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(2000)
    assert knn_entropy(z) == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=0.1)
    assert knn_entropy(z) == pytest.approx(knn_entropy(z.reshape(-1, 1)), abs=1e-12)
    x, y = rng.standard_normal(500), rng.standard_normal(500)
    assert ksg_mutual_information(x, y) == pytest.approx(ksg_reference(x, y), abs=1e-12)


def test_entropy_gradcheck():
    z = torch.randn(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    for metric in ("euclidean", "chebyshev"):
        assert torch.autograd.gradcheck(lambda t, metric=metric: knn_entropy(t, k=2, metric=metric), (z,))
    h = knn_entropy(z)
    h.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_auto_uses_brute_when_grad_needed():
    z = torch.randn(50, 2, dtype=torch.float64, requires_grad=True)
    assert knn_entropy(z).requires_grad  # auto would pick the KD-tree for d=2 without grad


# ------------------------------------------------------------------------------------------ degenerate input
def test_duplicates_raise_drop_jitter(seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((200, 2))
    z[10:14] = z[0]  # point 0 and 4 copies: 5 identical rows
    with pytest.raises(ValueError, match=r"5 point\(s\) of z have at least k=3 exact copies.*duplicates='drop'"):
        knn_entropy(z)
    with pytest.warns(DegenerateInputWarning, match="estimated on the 196 unique rows"):
        dropped = knn_entropy(z, duplicates="drop")
    assert dropped == pytest.approx(knn_entropy(np.unique(z, axis=0)), abs=1e-12)
    with pytest.warns(DegenerateInputWarning, match="added noise"):
        jittered = knn_entropy(z, duplicates="jitter", random_state=0)
    assert math.isfinite(jittered)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        knn_entropy(z, k=5)  # 4 copies < k=5: the k-th distance is positive, no warning


def test_ksg_duplicates_policy(seed):
    rng = np.random.default_rng(seed)
    x, y = _gauss_pair(rng, 200, 2, 2)
    x[5:9], y[5:9] = x[0], y[0]
    with pytest.raises(ValueError, match=r"5 point\(s\) of \(x, y\) have at least k=3"):
        ksg_mutual_information(x, y)
    with pytest.warns(DegenerateInputWarning, match="196 unique rows"):
        got = ksg_mutual_information(x, y, duplicates="drop", algorithm="brute")
    u = np.unique(np.hstack([x, y]), axis=0)
    assert got == pytest.approx(ksg_reference(u[:, :2], u[:, 2:]), abs=1e-12)
    with pytest.warns(DegenerateInputWarning, match="added noise"):
        assert math.isfinite(ksg_mutual_information(x, y, duplicates="jitter", random_state=1))
    with pytest.warns(DegenerateInputWarning):  # float32: noise above float32 resolution
        out = ksg_mutual_information(torch.from_numpy(x).float(), torch.from_numpy(y).float(),
                                     duplicates="jitter", random_state=1)
    assert torch.isfinite(out)
    with pytest.warns(DegenerateInputWarning):  # float32 at 1e30: the noise scale must not overflow
        big = knn_entropy(torch.from_numpy(x * 1e30).float(), duplicates="jitter", random_state=2)
    assert torch.isfinite(big)


def test_drop_leaves_too_few():
    z = np.repeat(np.array([[0.0, 1.0], [2.0, 5.0]]), 4, axis=0)
    with pytest.raises(ValueError, match="k=3 needs more than 3 unique samples after dropping duplicates, got 2"):
        knn_entropy(z, duplicates="drop")


def test_constant_columns_raise():
    z = np.random.default_rng(0).standard_normal((50, 4))
    z[:, 1] = 3.0
    z[:, 3] = -1.0
    with pytest.raises(ValueError, match=r"2 constant column\(s\) \[1, 3\].*-inf"):
        knn_entropy(z)


def test_ksg_constant_column_contributes_nothing(seed):
    rng = np.random.default_rng(seed)
    x, y = _gauss_pair(rng, 200, 2, 2)
    xc = np.hstack([x, np.full((200, 1), 4.0)])
    assert ksg_mutual_information(xc, y) == pytest.approx(ksg_mutual_information(x, y), abs=1e-12)


# --------------------------------------------------------------------------------------------- validation
def test_validation_errors():
    z = np.random.default_rng(0).standard_normal((5, 2))
    with pytest.raises(ValueError, match="k=5 needs more than 5 samples, got 5"):
        knn_entropy(z, k=5)
    with pytest.raises(ValueError, match="k=5 needs more than 5 samples, got 5"):
        ksg_mutual_information(z, z, k=5)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        knn_entropy(z, k=0)
    with pytest.raises(TypeError, match="k must be an integer, got 2.5"):
        knn_entropy(z, k=2.5)
    with pytest.raises(ValueError, match="metric must be one of 'euclidean', 'chebyshev'; got 'manhattan'"):
        knn_entropy(z, metric="manhattan")
    with pytest.raises(ValueError, match="algorithm must be one of .*; got 'ball_tree'"):
        knn_entropy(z, algorithm="ball_tree")
    with pytest.raises(ValueError, match="algorithm must be one of .*; got 'ball_tree'"):
        ksg_mutual_information(z, z, algorithm="ball_tree")
    with pytest.raises(ValueError, match="duplicates must be one of 'raise', 'drop', 'jitter'; got 'keep'"):
        knn_entropy(z, duplicates="keep")
    with pytest.raises(ValueError, match="duplicates must be one of .*; got 'keep'"):
        ksg_mutual_information(z, z, duplicates="keep")
    with pytest.raises(ValueError, match=r"variant must be in \[1, 2\], got 3"):
        ksg_mutual_information(z, z, k=1, variant=3)
    with pytest.raises(TypeError, match="standardize must be True or False, got 'yes'"):
        ksg_mutual_information(z, z, k=1, standardize="yes")
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got 0"):
        knn_entropy(z, k=1, chunk_size=0)
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got -2"):
        ksg_mutual_information(z, z, k=1, chunk_size=-2)
    with pytest.raises(ValueError, match="same number of samples"):
        ksg_mutual_information(z, z[:4], k=1)
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"z contains 1 NaN and 0 infinite values \(first at row 3, column 1\)"):
        knn_entropy(bad, k=1)
    with pytest.raises(TypeError, match="random_state must be None, an int or a numpy Generator"), \
            pytest.warns(DegenerateInputWarning):
        knn_entropy(np.vstack([z, z, z, z]), k=3, duplicates="jitter", random_state="seed")


def test_kd_tree_refused_with_grad():
    z = torch.randn(20, 2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="algorithm='kd_tree' needs CPU data without autograd; got a tensor that"):
        knn_entropy(z, algorithm="kd_tree")


# ------------------------------------------------------------------------------------------------- slow
@pytest.mark.slow
def test_entropy_consistency_bias_shrinks():
    d = 5
    truth = 0.5 * d * math.log(2 * math.pi * math.e)
    errs = []
    for n in (500, 4000, 32000):
        vals = [knn_entropy(np.random.default_rng(s).standard_normal((n, d))) for s in range(5)]
        errs.append(abs(np.mean(vals) - truth))
    assert errs[2] < errs[0] and errs[2] < 0.05


@pytest.mark.slow
def test_ksg_consistency_bias_shrinks():
    truth = -0.5 * 4 * math.log(1 - 0.64)  # 4 independent pairs with rho=0.8
    errs = []
    for n in (500, 4000, 32000):
        vals = []
        for s in range(3):
            rng = np.random.default_rng(s)
            x = rng.standard_normal((n, 4))
            y = 0.8 * x + 0.6 * rng.standard_normal((n, 4))
            vals.append(ksg_mutual_information(x, y))
        errs.append(abs(np.mean(vals) - truth))
    assert errs[2] < errs[0]


def test_entropy_with_fewer_rows_than_dimensions_warns_why():
    # 40 rows in 2000 dimensions span 39 directions: the k-NN distances cannot resolve the density
    z = np.random.default_rng(0).standard_normal((40, 2000))
    with pytest.warns(ReliabilityWarning, match=r"n = 40 rows in d = 2000 dimensions span at most 39") as record:
        knn_entropy(z)
    assert {w.filename for w in record if issubclass(w.category, ReliabilityWarning)} == {__file__}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReliabilityWarning)
        knn_entropy(z[:, :39])  # n > d: no warning


def test_ksg_auto_takes_the_kd_tree_by_the_engines_crossover(monkeypatch):
    import infossl.estimators.knn as knn_mod
    import infossl.estimators.neighbours as nb

    seen = []
    real = knn_mod._ksg
    monkeypatch.setattr(knn_mod, "_ksg", lambda *a: seen.append(a[5]) or real(*a))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 3))
    y = x + rng.standard_normal((300, 3))
    with nb.pinned_ksg_engine("torch"):
        knn_mod.ksg_mutual_information(x[:, :2], y[:, :2])  # 4 dims <= 8: KD-tree with the torch engine
    if nb._native.kernels() is not None:
        with nb.pinned_ksg_engine("compiled"):
            knn_mod.ksg_mutual_information(x[:, :1], y[:, :1])  # 2 dims: KD-tree
            knn_mod.ksg_mutual_information(x[:, :2], y[:, :2])  # 4 dims below n = 5e4: brute force
            monkeypatch.setattr(knn_mod, "KSG_COMPILED_KD_TREE", ((2, 0), (4, 300)))
            knn_mod.ksg_mutual_information(x[:, :2], y[:, :2])  # 4 dims from the (lowered) n: KD-tree
            knn_mod.ksg_mutual_information(x[:, :3], y[:, :3])  # 6 dims: brute force
        assert seen == ["kd_tree", "kd_tree", "brute", "kd_tree", "brute"]
    else:
        assert seen == ["kd_tree"]
