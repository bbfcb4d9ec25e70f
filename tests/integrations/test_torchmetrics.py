"""The torchmetrics wrappers: the same numbers as infossl.diagnose and the torch-only monitors, sum states
that merge (merge_state and a 2-rank gloo sync) to the one-process values, MetricCollection, state_dict,
key=."""

import numpy as np
import pytest
import torch

tm = pytest.importorskip("torchmetrics")

import infossl  # noqa: E402
from infossl.integrations import CollapseMetrics, ViewInformation  # noqa: E402
from infossl.integrations.torchmetrics import (CollapseMetric, KNNAccuracy, LinearProbeAccuracy,  # noqa: E402
                                               ViewInformationMetric)
from tests._ranks import run_ranks

N, D = 400, 6


def data(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 2.0  # full rank, off-centre
    return z, np.arange(n) % 4


def pair(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x + 0.5 * rng.standard_normal((n, d)), 1.5 * x + 0.7 * rng.standard_normal((n, d)) + 1.0


def numbers(report):
    return {k: v for k, v in report.as_dict().items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)}


def assert_close(out, ref, rel=1e-9, prefix=""):
    assert ref, "nothing to compare"
    for key, value in ref.items():
        assert float(out[prefix + key]) == pytest.approx(value, rel=rel, abs=1e-12), key


def test_collapse_metric_equals_diagnose_with_labels():
    z, y = data()
    metric = CollapseMetric(prefix="val/")
    for start in range(0, N, 96):
        metric.update(torch.from_numpy(z[start:start + 96]), labels=y[start:start + 96])
    out = metric.compute()
    ref = infossl.diagnose(z, labels=y)
    assert_close(out, numbers(ref), prefix="val/")
    assert "val/label_information" in out and "val/nc1" in out
    assert metric.report().verdict == ref.verdict == "healthy" and float(out["val/verdict_code"]) == 0
    # the torch-only CollapseMetrics gives the same numbers
    streamed = CollapseMetrics()
    streamed.update(z, labels=y)
    assert_close(out, {k: v for k, v in streamed.compute().items() if not isinstance(v, str)},
                 prefix="val/")


def test_view_information_metric_equals_view_information():
    z1, z2 = pair()
    metric, ref = ViewInformationMetric(), ViewInformation()
    for a, b in zip(np.array_split(z1, 3), np.array_split(z2, 3)):
        metric.update(torch.from_numpy(a), torch.from_numpy(b))
        ref.update(a, b)
    out, expected = metric.compute(), ref.compute()
    assert set(out) == set(expected) == {"mi_views_gaussian", "alignment", "invariance_ratio", "lidar"}
    assert_close(out, expected, rel=1e-8)
    one = ViewInformationMetric(key="mi_views_gaussian")
    one.update(torch.from_numpy(z1), torch.from_numpy(z2))
    assert float(one.compute()) == pytest.approx(expected["mi_views_gaussian"], rel=1e-8)


def test_merge_state_of_two_halves_equals_one_metric():
    z, y = data(1)
    whole = CollapseMetric()
    whole.update(z, labels=y)
    a, b = CollapseMetric(), CollapseMetric()
    a.update(z[:250], labels=y[:250])
    b.update(z[250:], labels=y[250:])
    assert float(a.count) == 250  # the states are sums of the rows' moments
    a.merge_state(b)
    assert_close(a.compute(), {k: float(v) for k, v in whole.compute().items()}, rel=1e-10)
    # beyond sample_size the merged sample is the bottom-k of the union's keys: still sample_size rows
    small_a, small_b = CollapseMetric(sample_size=50), CollapseMetric(sample_size=50, random_state=1)
    small_a.update(z[:250])
    small_b.update(z[250:])
    small_a.merge_state(small_b)
    out = small_a.compute()
    assert float(out["n"]) == N
    assert float(out["rankme"]) == pytest.approx(float(whole.compute()["rankme"]), rel=1e-10)
    # merging into a metric that has seen no batch keeps the incoming sums
    fresh = CollapseMetric()
    fresh.merge_state(a)
    assert float(fresh.compute()["rankme"]) == pytest.approx(float(whole.compute()["rankme"]), rel=1e-10)


def test_collection_state_dict_device_and_key():
    z, _ = data(2)
    collection = tm.MetricCollection({"collapse": CollapseMetric(key="rankme"),
                                      "views": ViewInformationMetric(key="alignment")}).to("cpu")
    collection["collapse"].update(z)
    collection["views"].update(z, z + np.random.default_rng(0).standard_normal(z.shape))
    out = collection.compute()
    assert float(out["collapse"]) == pytest.approx(infossl.diagnose(z)["rankme"], rel=1e-9)
    assert float(out["views"]) > 0
    saved = collection["collapse"].state_dict()
    assert {"count", "total", "gram"} <= set(saved)
    fresh = CollapseMetric(key="rankme")
    fresh.load_state_dict(saved)  # the width comes from the saved sums
    assert float(fresh.compute()) == pytest.approx(float(out["collapse"]), rel=1e-12)
    fresh.reset()
    assert float(fresh.count) == 0 and float(fresh.gram.abs().sum()) == 0
    with pytest.raises(KeyError, match="not among"):
        bad = CollapseMetric(key="rnakme")
        bad.update(z)
        bad.compute()


def test_forward_adds_the_batch_only_and_bad_input_is_refused():
    z, y = data(3)
    metric = CollapseMetric(dim=D)
    assert metric(z[:100]) is None and float(metric.count) == 100
    with pytest.raises(ValueError, match="columns"):
        metric.update(z[:, :3])
    with pytest.raises(ValueError, match="every batch or with none"):
        metric.update(z[:10], labels=y[:10])
    with pytest.raises(ValueError, match="NaN"):
        metric.update(np.full((3, D), np.nan))
    with pytest.raises(ValueError, match="covariance"):
        CollapseMetric(covariance="diag")
    with pytest.raises(ValueError, match="at least 2 rows"):
        CollapseMetric().compute()


def test_probe_and_knn_accuracy_metrics():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(600) % 3
    z = torch.randn(600, 5, generator=g) + 5.0 * torch.nn.functional.one_hot(y, 5).float()
    probe = LinearProbeAccuracy(dim=5, num_classes=3, lr=0.05)
    for _ in range(60):
        probe.train_step(z[:400], y[:400])
    probe.update(z[400:], y[400:])
    assert float(probe.compute()) > 0.95
    knn = KNNAccuracy(k=5)
    knn.set_bank(z[:400], y[:400])
    knn.update(z[400:500], y[400:500])
    other = KNNAccuracy(k=5)
    other.set_bank(z[:400], y[:400])
    other.update(z[500:], y[500:])
    knn.merge_state(other)  # counts are sums
    assert float(knn.seen) == 200 and float(knn.compute()) > 0.95
    probe.reset()
    with pytest.raises(ValueError, match="scored"):
        probe.compute()


# --------------------------------------------------------------------------------------- 2 ranks (gloo)
def _worker(rank, out_dir):
    z, y = data(5)
    half = slice(0, 150) if rank == 0 else slice(150, N)
    metric = CollapseMetric(dim=D)
    metric.update(z[half], labels=y[half])
    views = ViewInformationMetric()
    z1, z2 = pair(5)
    views.update(z1[half], z2[half])
    out = {k: float(v) for k, v in metric.compute().items()}
    out.update({k: float(v) for k, v in views.compute().items()})
    out["local_count"] = float(metric.count)  # unsynced again after compute
    idle = CollapseMetric(dim=D)  # a rank that sees no batch still takes part in the sync
    if rank == 0:
        idle.update(z[:150])
    out.update({f"idle_{k}": float(v) for k, v in idle.compute().items()})
    torch.save(out, f"{out_dir}/rank{rank}.pt")


def test_two_rank_sync_equals_one_process(tmp_path):
    run_ranks(_worker, tmp_path, str(tmp_path), threads=1)
    outs = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    z, y = data(5)
    ref = numbers(infossl.diagnose(z, labels=y))
    z1, z2 = pair(5)
    views = ViewInformation()
    views.update(z1, z2)
    for rank, out in enumerate(outs):
        assert out["local_count"] == (150 if rank == 0 else N - 150)
        for key, value in ref.items():
            if key in ("separability_fraction",):  # sampled labelings: same rows, the draw may differ
                continue
            assert out[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        assert_close(out, views.compute(), rel=1e-8)
        idle_ref = numbers(infossl.diagnose(z[:150]))
        assert out["idle_rankme"] == pytest.approx(idle_ref["rankme"], rel=1e-9)
        assert out["idle_n"] == 150


def test_torchmetrics_stays_optional(monkeypatch):
    import subprocess
    import sys

    code = ("import sys, infossl, infossl.integrations as i; i.CollapseMetrics; i.OnlineLinearProbe; "
            "assert 'torchmetrics' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    import infossl.integrations.torchmetrics as module

    monkeypatch.setattr(module, "Metric", None)
    with pytest.raises(ImportError, match="pip install torchmetrics.*CollapseMetrics"):
        CollapseMetric()


def test_inference_mode_states_and_compute():
    # Lightning resets and updates in inference mode and may compute in it: the values stay diagnose's
    z, y = data(4)
    metric = CollapseMetric()
    with torch.inference_mode():
        metric.reset()
        metric.update(torch.from_numpy(z[:200]), labels=y[:200])
        inside = metric.compute()
    metric.update(torch.from_numpy(z[200:]), labels=y[200:])  # states made in inference mode, updated outside
    out = metric.compute()
    assert float(inside["n"]) == 200
    assert_close(out, numbers(infossl.diagnose(z, labels=y)))


def _readme_block(marker):
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```python\n(.*?)```\s*<!-- /{marker} -->", text, re.S)
    assert found, f"README.md has no python block between <!-- {marker} --> markers"
    return found.group(1)


def test_readme_loop_runs(tmp_path, monkeypatch):
    import csv

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    y = torch.arange(240) % 10
    x = torch.randn(240, 16) + 3.0 * torch.nn.functional.one_hot(y, 16).float()
    batches = list(zip(x.split(60), y.split(60)))
    encoder = torch.nn.Linear(16, 64)
    env = {"epochs": 2, "train_loader": batches, "val_loader": batches, "encoder": encoder,
           "augment": lambda t: t + 0.05 * torch.randn_like(t),
           "objective": lambda a, b: (a - b).pow(2).mean() - a.var(dim=0).mean().clamp(max=1.0),
           "optimizer": torch.optim.SGD(encoder.parameters(), lr=0.01)}
    exec(_readme_block("monitor-loop"), env)
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["step"] for r in rows] == ["0", "1"]
    for key in ("rankme", "label_information", "mi_views_gaussian", "probe_accuracy", "knn_accuracy"):
        assert rows[-1][key] != "", key
    assert float(rows[-1]["knn_accuracy"]) > 0.9


def test_readme_lightning_block_builds():
    pytest.importorskip("lightning")
    env = {}
    exec(_readme_block("monitor-lightning"), env)
    assert env["callback"].knn is not None and env["callback"].num_classes == 10


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_metrics_on_cuda_equal_diagnose():
    z, y = data(6)
    metric = CollapseMetric().to("cuda")
    views = ViewInformationMetric().to("cuda")
    knn = KNNAccuracy(k=5).to("cuda")
    zt = torch.from_numpy(z).float().cuda()  # float32 batches on the device, float64 sums
    for chunk, lab in zip(zt.split(100), torch.from_numpy(y).cuda().split(100)):
        metric.update(chunk, labels=lab)
        views.update(chunk, chunk + 0.1 * torch.randn_like(chunk))
    assert metric.gram.device.type == "cuda"
    out = metric.compute()
    assert_close(out, numbers(infossl.diagnose(zt.double().cpu().numpy(), labels=y)), rel=1e-6)
    assert all(v.device.type == "cuda" for v in views.compute().values())
    knn.set_bank(zt, torch.from_numpy(y).cuda())
    knn.update(zt, torch.from_numpy(y).cuda())
    assert 0 <= float(knn.compute()) <= 1


def test_negative_labels_are_classes_and_mixed_merges_are_refused():
    z, y = data(7)
    metric = CollapseMetric()
    metric.update(z, labels=y - 1)  # -1 is a class like any other
    assert float(metric.compute()["n_classes"]) == 4
    labelled, unlabelled = CollapseMetric(), CollapseMetric()
    labelled.update(z[:200], labels=y[:200])
    unlabelled.update(z[200:])
    labelled.merge_state(unlabelled)
    with pytest.raises(ValueError, match="have labels"):
        labelled.compute()
