"""Monitors: evaluation record, collapse alarm, JSON lines, curves."""

import json
import math

import pytest
import torch

from infossl.estimators import gaussian_mutual_information
from infossl.training.config import TrainConfig
from infossl.training.data import prepare_data
from infossl.models import build_model
from infossl.training.monitors import (ALARM_NORMALIZED_STD, Monitor, collapse_alarm, collapse_metrics,
                                       curves_figure, evaluate, format_epoch, mi_views_gaussian, plot_curves,
                                       read_records)


@pytest.fixture(scope="module")
def digits():
    return prepare_data(None)


def test_evaluate_record(digits):
    spec = TrainConfig(widths="4-8", projector="16-16").model_spec(digits.input_shape)
    rec = evaluate(build_model(spec, generator=torch.Generator().manual_seed(0)), digits)
    for space in ("backbone", "projector"):
        for key in ("rankme", "effective_rank", "normalized_std", "normalized_std_scaled", "variance_fraction",
                    "collapse_rank", "dim_std_mean", "dim_std_min", "verdict"):
            assert f"{space}_{key}" in rec, f"{space}_{key}"
    assert 0 <= rec["probe_clean"] <= 1 and 0 <= rec["probe_augmented"] <= 1
    assert rec["mi_views_gaussian"] == rec["mi_views_gaussian"]  # not NaN
    no_probe = evaluate(build_model(spec), digits, probe=False)
    assert "probe_clean" not in no_probe


def test_collapse_metrics_on_collapsed_and_isotropic_embeddings():
    g = torch.Generator().manual_seed(0)
    iso = collapse_metrics(torch.randn(400, 16, generator=g), "z")
    assert iso["z_verdict"] == "healthy" and iso["z_normalized_std_scaled"] > 0.9
    point = torch.ones(400, 16) + 1e-9 * torch.randn(400, 16, generator=g)
    assert collapse_metrics(point, "z")["z_verdict"] == "complete-collapse"
    bad = torch.full((5, 3), float("nan"))
    assert collapse_metrics(bad, "z")["z_verdict"] == "non-finite"


def test_mi_views_gaussian_is_the_one_kernel_with_its_defaults():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 3, generator=g)
    b = a + 0.5 * torch.randn(500, 3, generator=g)
    # Gaussian MI of y = x + 0.5 e per coordinate: 3 * 0.5 * log(1 + 1 / 0.25) = 2.414 nats; sampling sd ~0.06
    assert mi_views_gaussian(a, b) == pytest.approx(1.5 * torch.log(torch.tensor(5.0)).item(), abs=0.25)
    dead = torch.cat([a, torch.zeros(500, 2)], dim=1)  # collapsed directions: projected out by the estimator
    kernel = gaussian_mutual_information(dead.double().numpy(), b.double().numpy())
    assert mi_views_gaussian(dead, b) == kernel
    assert mi_views_gaussian(torch.zeros(10, 2), torch.zeros(10, 2)) == 0.0
    wide = torch.randn(8, 6, generator=g)  # 8 rows cannot estimate 12 dimensions: undefined, not an error
    assert math.isnan(mi_views_gaussian(wide, wide + torch.randn(8, 6, generator=g)))


def test_collapse_alarm_rule():
    assert collapse_alarm({"epoch": 0, "projector_verdict": "complete-collapse"}) is None
    assert collapse_alarm({"epoch": 1, "projector_verdict": "complete-collapse"}) is None
    assert "complete collapse" in collapse_alarm({"epoch": 2, "backbone_verdict": "complete-collapse"})
    low = [{"epoch": e, "projector_normalized_std_scaled": ALARM_NORMALIZED_STD / 2} for e in range(1, 6)]
    assert collapse_alarm(low[1], low[:1]) is None  # epoch 2: one epoch >= 2 below the threshold
    assert collapse_alarm(low[2], low[:2]) is None  # epoch 3: two
    assert "narrow cone for 3 epochs" in collapse_alarm(low[3], low[:3])  # epoch 4: three
    dip = [dict(r) for r in low]
    dip[2]["projector_normalized_std_scaled"] = 0.9  # a healthy epoch 3 breaks the run of low epochs
    assert collapse_alarm(dip[3], dip[:3]) is None
    assert "narrow cone" in collapse_alarm(dip[4] | {"epoch": 6}, dip[:4] + [dip[4]])


def test_monitor_writes_json_lines_and_warns(tmp_path, capsys):
    mon = Monitor(tmp_path, quiet=False, total_steps=2)
    mon.log({"epoch": 1, "step": 1, "loss": 1.5, "probe_clean": 0.5, "x": float("nan")})
    mon.log({"epoch": 3, "step": 2, "loss": 1.0, "backbone_verdict": "complete-collapse"})
    mon.log({"epoch": 4, "step": 3, "loss": 1.0, "backbone_verdict": "complete-collapse"})
    mon.close()
    out = capsys.readouterr().out
    assert "epoch   1  loss 1.5" in out and out.count("warning: epoch 3: possible collapse") == 1
    recs = read_records(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in recs] == [1, 3, 4] and recs[0]["x"] is None and recs[1]["collapse_alarm"]
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('{"epoch": 4, "lo')  # a line torn by a kill is skipped
    assert len(read_records(tmp_path / "metrics.jsonl")) == 3
    quiet = Monitor(None, quiet=True)
    quiet.log({"epoch": 1})
    assert capsys.readouterr().out == "" and quiet.records[0]["collapse_alarm"] is None


def test_format_epoch_line():
    rec = {"epoch": 3, "step": 3, "lr": 0.1, "seconds": 1.0, "loss": 1.7, "probe_clean": 0.65,
           "backbone_verdict": "healthy"}
    line = format_epoch(rec)
    assert "probe_clean 65.0%" in line and "healthy" in line and "1.7" in line


def test_curves_figure_draws_every_recorded_series(tmp_path):
    pytest.importorskip("matplotlib")
    recs = [{"epoch": e, "step": e, "lr": 0.1, "seconds": 1.0, "loss": 2.0 - e / 10, "cross_entropy": 3.0 + e,
             "probe_clean": 0.5 + e / 20, "probe_augmented": 0.4, "backbone_rankme": 5.0 + e,
             "backbone_verdict": "healthy", "mi_views_gaussian": 1.0} for e in range(4)]
    recs[0].pop("probe_clean")  # a series with a gap: drawn on the epochs that have it
    fig = curves_figure(recs, title="run")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["loss terms (nats where defined)", "linear probe accuracy",
                                               "held-out embedding rank"]
    lines = {ax.get_title(): {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.lines}
             for ax in axes}
    assert lines["loss terms (nats where defined)"] == {
        "cross_entropy": ([0, 1, 2, 3], [3.0, 4.0, 5.0, 6.0]), "loss": ([0, 1, 2, 3], [2.0, 1.9, 1.8, 1.7])}
    assert lines["linear probe accuracy"]["probe_clean"] == ([1, 2, 3], [0.55, 0.6, 0.65])
    assert lines["held-out embedding rank"]["backbone_rankme"][1] == [5.0, 6.0, 7.0, 8.0]
    assert fig._suptitle.get_text() == "run"
    path = plot_curves(recs, tmp_path / "c.png", title="t")
    assert path == tmp_path / "c.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(recs)

def test_curves_legend_lists_only_drawn_lines():
    pytest.importorskip("matplotlib")
    recs = [{"epoch": e, "loss": 1.0 / (e + 1), "entropy_a": 2.0, "entropy_b": 2.0, "collapse_alarm": None,
             "probe_clean": 0.9, "flag": True, "note": "text"} for e in range(1, 4)]
    recs.insert(0, {"epoch": 0, "raw_probe_clean": 0.5})
    recs[-1]["collapse_alarm"] = "the projector embeddings point within a narrow cone"
    fig = curves_figure(recs)
    for ax in fig.axes:
        legend = ax.get_legend()
        labels = [t.get_text() for t in legend.get_texts()] if legend else []
        drawn = {ln.get_label() for ln in ax.lines if len(ln.get_xdata())}
        assert set(labels) == drawn, ax.get_title()  # every key drew a line, every line has a key
    loss_labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert loss_labels == ["loss", "entropy_a", "entropy_b"]  # no collapse_alarm, flag or note
    styles = {ln.get_label(): ln.get_linestyle() for ln in fig.axes[0].lines}
    assert styles["entropy_a"] != styles["entropy_b"]  # equal curves stay distinguishable
    assert "raw_probe_clean (baseline)" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


def test_monitor_bar_follows_the_progress_rule(monkeypatch, capsys):
    from infossl._progress import no_progress

    forced = Monitor(None, total_steps=10, initial_steps=4, progress=True)
    assert not forced.bar.disable and forced.bar.n == 4  # a resumed run's bar starts at its step
    forced.close()
    with no_progress():
        silent = Monitor(None, total_steps=10)
    assert silent.bar.disable  # progress switched off (the CLI's -q): a silent bar, messages still printed
    silent.message("hello")
    silent.close()
    assert "hello" in capsys.readouterr().out
    auto = Monitor(None, total_steps=10)  # stderr is not a terminal under pytest: no bar drawn
    assert auto.bar.disable
    auto.close()
