"""analysis/protocol.py end to end on a tiny budget, and its split hygiene."""

import importlib.util
import json
import math
import os
import sys

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "analysis"))


def _protocol():
    spec = importlib.util.spec_from_file_location("protocol", os.path.join(ROOT, "analysis", "protocol.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TINY = ["--subsample", "240", "--configs", "3", "--tune-epochs", "2", "--tune-seeds", "1", "--seeds", "2"]


def test_paired_ci_against_a_hand_computation():
    mod = _protocol()
    m, lo, hi = mod.paired_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    # mean 3, sample sd sqrt(2.5), t quantile 0.975 at 4 dof = 2.776445 (tables)
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert m == 3.0 and lo == pytest.approx(3 - half, abs=1e-5) and hi == pytest.approx(3 + half, abs=1e-5)
    assert math.isnan(mod.paired_ci([0.4])[1])
    with pytest.raises(ValueError, match="finite"):
        mod.paired_ci([0.1, float("nan")])


def test_validation_split_is_stratified_seeded_and_leaves_training_rows():
    mod = _protocol()
    y = np.repeat(np.arange(4), [10, 20, 30, 41])
    a, b, c = (mod.validation_split(y, 0.2, s) for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert [int(a[y == k].sum()) for k in range(4)] == [2, 4, 6, 8]
    with pytest.raises(ValueError, match="fraction"):
        mod.validation_split(y, 1.0, 0)


def test_configs_have_equal_budgets_and_the_default_first():
    mod = _protocol()
    a, v = mod.sample_configs("info-vicreg-logdet", 5, 0), mod.sample_configs("vicreg", 5, 0)
    assert len(a) == len(v) == 5
    assert a[0] == {"options": {"alpha": 2.0}, "lr": 2e-3}
    assert v[0]["options"] == {"sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0}
    assert len({json.dumps(c, sort_keys=True) for c in a}) == 5
    assert mod.sample_configs("vicreg", 5, 0) == v
    if "vicreg-plus-logdet" in mod.METHODS:  # the additive objective, where infossl has it
        add = mod.sample_configs("vicreg-plus-logdet", 5, 0)
        assert add[0]["options"] == {"alpha": 1.0, "sim_coeff": 25.0, "std_coeff": 25.0, "cov_coeff": 1.0}
        assert mod.sample_configs("info-vicreg-logdet", 5, 0) == a  # adding a method leaves the others' draws


def test_protocol_end_to_end_selection_never_sees_the_test_set(tmp_path, monkeypatch):
    mod = _protocol()
    real = mod.load_data
    rec = mod.main(TINY + ["--out", str(tmp_path / "protocol_a")])

    # Same run with the test images replaced by noise and the test labels shuffled: the tuning (every
    # validation score, hence the choice) must come out identical, only the test scores may change.
    def scrambled(dataset, mnist_file=None):
        x, y, xt, yt, aug = real(dataset, mnist_file)
        g = torch.Generator().manual_seed(7)
        return x, y, torch.rand(xt.shape, generator=g), yt[torch.randperm(len(yt), generator=g)], aug

    monkeypatch.setattr(mod, "load_data", scrambled)
    rec2 = mod.main(TINY + ["--out", str(tmp_path / "protocol_b")])
    sel_a = pd.read_csv(tmp_path / "protocol_a_selection.csv").drop(columns="seconds")
    sel_b = pd.read_csv(tmp_path / "protocol_b_selection.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(sel_a, sel_b)
    assert rec["chosen"] == rec2["chosen"]
    runs_a, runs_b = (pd.read_csv(tmp_path / f"protocol_{k}_runs.csv") for k in "ab")
    assert not np.allclose(runs_a.test_augmented, runs_b.test_augmented)

    # The chosen config is the argmax of the mean validation score (augmented, pre-specified), first on ties.
    for method, chosen in rec["chosen"].items():
        score = sel_a[sel_a.method == method].groupby("config").val_augmented.mean()
        assert chosen["config"] == int(np.flatnonzero(score.to_numpy() == score.max())[0])
        assert chosen["val_score"] == pytest.approx(score.max())

    # Final seeds are fresh (disjoint from the tuning seeds); the record names machine and wall time.
    assert set(rec["final_seeds"]).isdisjoint(rec["tune_seeds"]) and len(rec["final_seeds"]) == 2
    assert rec["machine_start"]["cpu_model"] and rec["wall_seconds"] > 0
    assert json.load(open(tmp_path / "protocol_a.json"))["chosen"] == rec["chosen"]

    # The summary's paired interval equals a hand computation on the per-seed differences.
    runs = runs_a.set_index(["method", "seed"])
    d = (runs.loc["info-vicreg-logdet"].test_clean - runs.loc["vicreg"].test_clean).to_numpy()
    half = 12.7062047 * d.std(ddof=1) / math.sqrt(2)  # t quantile 0.975 at 1 dof (tables)
    row = pd.read_csv(tmp_path / "protocol_a_summary.csv").set_index("method").loc["info-vicreg-logdet"]
    assert row.test_clean_minus_baseline_mean == pytest.approx(d.mean())
    assert row.test_clean_minus_baseline_ci_lo == pytest.approx(d.mean() - half, abs=1e-7)
    assert row.test_clean_minus_baseline_ci_hi == pytest.approx(d.mean() + half, abs=1e-7)
    # Controls: raw pixels are one deterministic number; random init is each seed's untrained network.
    raw = runs_a[runs_a.method == "raw-pixels"]
    assert raw.test_clean.nunique() == 1 and set(runs_a.method) >= {"random-init", "raw-pixels"}
    curves = pd.read_csv(tmp_path / "protocol_a_curves.csv")
    assert curves.val_augmented.notna().any() and curves.loss.notna().all()

    # The report gathers both runs; its convergence rows are the chosen configs' validation checkpoints.
    spec = importlib.util.spec_from_file_location("protocol_report",
                                                  os.path.join(ROOT, "analysis", "protocol_report.py"))
    rep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rep)
    table = rep.main(["--results", str(tmp_path)])
    assert len(table) == 2 and table.final_seeds.eq(2).all()
    conv = pd.read_csv(tmp_path / "protocol_convergence.csv")
    label = "mlp/digits info-vicreg-logdet vs vicreg"
    first = conv[(conv.comparison == label) & (conv.method == "vicreg")].iloc[:2]
    pick = rec["chosen"]["vicreg"]["config"]
    want = curves[(curves.method == "vicreg") & (curves.config == pick)].dropna(subset=["val_augmented"])
    assert list(first.epoch) == sorted(want.epoch.unique())
    assert os.path.exists(tmp_path / "protocol_report.png")

    # The convergence check re-runs the chosen configs on validation only; at factor 1 it reproduces the
    # tuning scores of the chosen configs exactly (same split, seeds and generators).
    spec = importlib.util.spec_from_file_location("protocol_epochs",
                                                  os.path.join(ROOT, "analysis", "protocol_epochs.py"))
    ep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ep)
    again = ep.main(["--results", str(tmp_path), "--prefix", "protocol_a", "--subsample", "240",
                     "--factor", "1"])
    last = again[again.epoch == 2].set_index("method").val_augmented
    for method, chosen in rec["chosen"].items():
        assert last[method] == pytest.approx(chosen["val_score"])
    assert os.path.exists(tmp_path / "protocol_a_epochs.csv")
