"""Streaming metric objects: chunked compute equals one-shot diagnose, merge of halves equals the whole, a
2-rank gloo merge equals one process, and bad input is refused."""

import math
import os

import numpy as np
import pytest
import torch

import infossl
from infossl.estimators import gaussian_mutual_information
from infossl.diagnostics import lidar, alignment, invariance_ratio
from infossl.integrations import CollapseMetrics, ViewInformation, numeric_metrics
from tests._ranks import run_ranks

N, D = 600, 6


def data(seed=0, n=N, d=D, rank=None):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)) @ rng.standard_normal((d, d))
    if rank is not None:
        z = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d)) + 2.0
    return z


def views(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x + 0.5 * rng.standard_normal((n, d)), 1.5 * x + 0.7 * rng.standard_normal((n, d)) + 1.0


def assert_same(streamed: dict, oneshot: dict, rel=1e-9):
    assert streamed["verdict"] == oneshot["verdict"]
    for key, value in oneshot.items():
        if isinstance(value, (int, float)) and value is not None and math.isfinite(value):
            assert streamed[key] == pytest.approx(value, rel=rel, abs=1e-12), key


@pytest.mark.parametrize("batch", [1, 7, 128, N])
def test_streaming_equals_one_shot_diagnose(batch):
    z = data()
    metric = CollapseMetrics()
    for start in range(0, N, batch):
        metric.update(z[start:start + batch])
    out = metric.compute()
    assert out["n"] == N and out["verdict"] == "healthy" and out["verdict_code"] == 0
    assert_same(out, infossl.diagnose(z).as_dict())


def test_collapsed_embeddings_and_float32_tensors():
    z = torch.tensor(data(rank=2), dtype=torch.float32)
    metric = CollapseMetrics(prefix="val/")
    for chunk in z.split(100):
        metric.update(chunk)
    out = metric.compute()
    assert out["val/verdict"] == "dimensional-collapse" and out["val/collapse_rank"] == 2
    assert out["val/verdict_code"] == 1
    one = infossl.diagnose(z).as_dict()
    assert out["val/total_variance"] == pytest.approx(one["total_variance"], rel=1e-6)
    report = metric.report()
    assert report.verdict == "dimensional-collapse"
    with pytest.raises(ValueError, match="compute\\(\\) needs at least 2 rows"):
        CollapseMetrics().compute()


def test_merge_of_two_halves_equals_the_whole_and_reset():
    z = data(1)
    y = np.arange(N) % 3
    a, b = CollapseMetrics(), CollapseMetrics()
    a.update(z[:250], y[:250])
    b.update(z[250:], y[250:])
    whole = CollapseMetrics()
    whole.update(z, y)
    merged = a.merge(b).compute()
    assert_same(merged, whole.compute())
    assert_same(merged, infossl.diagnose(z, labels=y).as_dict())
    assert "label_information" in merged and "nc1" in merged
    assert merged["label_information"] == pytest.approx(
        infossl.label_mutual_information(z, y, method="gaussian"), rel=1e-9)
    a.reset()
    assert a.n == 0


def test_label_information_sees_the_labels():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 1000)
    z = rng.standard_normal((1000, 3))
    z[:, 0] += 50 * y
    metric = CollapseMetrics(label_information="knn")
    metric.update(z, torch.tensor(y))
    assert metric.compute()["label_information"] == pytest.approx(math.log(2), abs=0.01)


def test_view_information_equals_the_one_shot_values():
    z1, z2 = views()
    vi = ViewInformation(prefix="v/")
    for start in range(0, N, 64):
        vi.update(torch.tensor(z1[start:start + 64]), torch.tensor(z2[start:start + 64]))
    out = vi.compute()
    assert out["v/mi_views_gaussian"] == pytest.approx(gaussian_mutual_information(z1, z2), rel=1e-9)
    assert out["v/alignment"] == pytest.approx(alignment(z1, z2), rel=1e-9)
    assert out["v/invariance_ratio"] == pytest.approx(invariance_ratio([z1, z2]), rel=1e-9)
    assert out["v/lidar"] == pytest.approx(lidar([z1, z2]), rel=1e-7)
    one = infossl.diagnose(z1, views=[z1, z2]).as_dict()
    assert out["v/mi_views_gaussian"] == pytest.approx(one["mi_views_gaussian"], rel=1e-9)
    half = ViewInformation(prefix="v/")
    half.update(z1[:300], z2[:300])
    rest = ViewInformation()
    rest.update(z1[300:], z2[300:])
    merged = half.merge(rest).compute()
    for key in out:
        assert merged[key] == pytest.approx(out[key], rel=1e-9), key


def test_view_information_rank_deficient_views():
    z1, z2 = views(2)
    pad1 = np.hstack([z1, np.zeros((N, 2)), z1[:, :1]])  # constant and duplicated columns
    pad2 = np.hstack([z2, 3 * z2[:, 1:2]])
    vi = ViewInformation()
    vi.update(pad1, pad2)
    out = vi.compute()
    assert out["mi_views_gaussian"] == pytest.approx(gaussian_mutual_information(z1, z2), rel=1e-7)
    assert set(out) == {"mi_views_gaussian"}  # different widths: the other view metrics are undefined


def test_numeric_metrics_and_bad_input():
    assert numeric_metrics({"verdict": "healthy", "a": 1, "b": float("nan"), "c": True, "d": np.float32(2)}) == \
        {"a": 1, "d": 2.0}
    m = CollapseMetrics()
    with pytest.raises(ValueError, match="2-D"):
        m.update(np.zeros((2, 3, 4)))
    m.update(np.ones((3, 4)))
    with pytest.raises(ValueError, match="columns"):
        m.update(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        m.update(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="every batch or with none"):
        m.update(np.ones((3, 4)), labels=np.zeros(3, int))
    m2 = CollapseMetrics()
    with pytest.raises(ValueError, match="labels must have shape"):
        m2.update(np.ones((3, 4)), labels=np.zeros(2, int))
    with pytest.raises(TypeError, match="non-integer values"):
        m2.update(np.ones((3, 4)), labels=np.full(3, 0.5))
    with pytest.raises(TypeError, match="integer class labels"):
        m2.update(np.ones((3, 4)), labels=["a", "b", "c"])
    with pytest.raises(TypeError, match="CollapseMetrics"):
        m2.merge(ViewInformation())
    with pytest.raises(ValueError, match="label_information"):
        CollapseMetrics(label_information="mine")
    vi = ViewInformation()
    with pytest.raises(ValueError, match="same number of rows"):
        vi.update(np.ones((3, 4)), np.ones((4, 4)))


def test_gradients_are_not_tracked():
    z = torch.randn(50, 4, requires_grad=True)
    m = CollapseMetrics()
    m.update(z * 2)
    m.update(torch.randn(50, 4, dtype=torch.bfloat16, requires_grad=True))
    assert m.compute()["n"] == 100


# --------------------------------------------------------------------------------------- 2 ranks (gloo)
def _worker(rank, out_dir):
    z = data(5)
    y = np.arange(N) % 4
    z1, z2 = views(5)
    rows = slice(0, 200) if rank == 0 else slice(200, N)  # unequal shards
    cm = CollapseMetrics()
    vi = ViewInformation()
    for start in range(rows.start, rows.stop, 50):
        end = min(start + 50, rows.stop)
        cm.update(torch.tensor(z[start:end]), torch.tensor(y[start:end]))
        vi.update(z1[start:end], z2[start:end])
    out = {"collapse": cm.compute(), "views": vi.compute(), "local_n": cm.n}
    torch.save(out, os.path.join(out_dir, f"rank{rank}.pt"))


def test_two_rank_merge_equals_one_process(tmp_path):
    run_ranks(_worker, tmp_path, str(tmp_path), threads=1)
    outs = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    z, y = data(5), np.arange(N) % 4
    z1, z2 = views(5)
    whole = CollapseMetrics()
    whole.update(z, y)
    ref = whole.compute()
    vi = ViewInformation()
    vi.update(z1, z2)
    ref_v = vi.compute()
    for out in outs:
        assert_same(out["collapse"], ref)
        assert out["collapse"]["n"] == N
        for key, value in ref_v.items():
            assert out["views"][key] == pytest.approx(value, rel=1e-9)
    assert [o["local_n"] for o in outs] == [200, N - 200]  # the local state is left as it was


# ------------------------------------------------------------------------------- wide batches (n < d)
def test_collapse_metrics_of_wide_batches_form_no_d_by_d_matrix():
    from tests.diagnostics._data import entry_budget, wide_pair

    z, _ = wide_pair()
    warm = infossl.integrations.CollapseMetrics()
    warm.update(z[:, :30])
    warm.compute()  # the lazy imports, outside the budget
    metric = infossl.integrations.CollapseMetrics()
    with entry_budget(2000 * 2000 // 4):
        metric.update(z[:10])
        metric.update(z[10:])
        out = metric.compute()
    assert out["rankme"] == pytest.approx(infossl.diagnose(z)["rankme"], rel=1e-10)


def test_view_information_of_wide_pairs_forms_no_d_by_d_matrix():
    from tests.diagnostics._data import entry_budget

    rng = np.random.default_rng(1)
    g = rng.standard_normal((20, 3))
    z1 = g @ rng.standard_normal((3, 2000)) + 0.01 * rng.standard_normal((20, 2000))  # rank ~ 3 + noise
    z2 = z1 + 0.1 * rng.standard_normal((20, 2000))
    warm = infossl.integrations.ViewInformation()
    warm.update(z1[:, :30], z2[:, :30])
    with pytest.raises(ValueError):  # the lazy imports, outside the budget
        warm.compute()
    metric = infossl.integrations.ViewInformation(ridge=1e-3)
    with entry_budget(2000 * 2000 // 4):
        metric.update(z1, z2)
        with pytest.raises(ValueError, match="more samples than dimensions"):
            metric.compute()  # 20 pairs cannot give a Gaussian MI of 19 + 19 directions


def test_view_information_held_pairs_equal_the_moment_route():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((30, 4))
    z1 = g @ rng.standard_normal((4, 20))  # rank 4 in R^20: the MI is defined with 30 pairs
    z2 = (g + 0.3 * rng.standard_normal((30, 4))) @ rng.standard_normal((4, 20))
    held, dense = infossl.integrations.ViewInformation(), infossl.integrations.ViewInformation()
    held.update(z1, z2)
    dense.update(z1[:5], z2[:5])
    _ = dense._acc.mean  # the dense joint moments from here on
    dense.update(z1[5:], z2[5:])
    assert held._acc.rows is not None and dense._acc.rows is None
    a, b = held.compute(), dense.compute()
    assert a.keys() == b.keys() == {"mi_views_gaussian", "alignment", "invariance_ratio", "lidar"}
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-10, abs=1e-12), key
    assert a["mi_views_gaussian"] == pytest.approx(float(gaussian_mutual_information(z1, z2)), rel=1e-10)


@pytest.mark.parametrize("shape", [(10, 0), (0, 3)])
def test_an_empty_batch_is_refused_naming_it(shape):
    y = np.random.default_rng(0).standard_normal((shape[0], 3))
    with pytest.raises(ValueError, match=r"z1 is empty: shape \(%d, %d\)" % shape):
        ViewInformation().update(np.zeros(shape), y)
    with pytest.raises(ValueError, match=r"z is empty"):
        CollapseMetrics().update(np.zeros(shape))


def test_forty_rows_a_class_give_label_information_without_a_warning():
    # a typical validation set: 10 classes of 40 rows at d = 64 (a class covariance is singular there)
    import warnings

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 40)
    z = rng.standard_normal((400, 64)) + 2.0 * np.eye(10, 64)[y]
    metric = CollapseMetrics()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for start in range(0, 400, 100):
            metric.update(z[start:start + 100], labels=y[start:start + 100])
        out = metric.compute()
    ref = infossl.diagnose(z, labels=y)["label_information"]
    assert 0 < out["label_information"] <= np.log(10) + 0.05
    assert out["label_information"] == pytest.approx(ref, rel=1e-9)
    shared = CollapseMetrics(covariance="shared", ridge=0.0)
    shared.update(z, labels=y)
    assert shared.compute()["label_information"] == pytest.approx(out["label_information"], rel=1e-12)
    with pytest.raises(ValueError, match="covariance"):
        CollapseMetrics(covariance="diagonal")
