"""The seed summaries and paired differences of the multi-seed analysis scripts, on hand-made run tables.

The full runs are recorded in analysis/README.md; these tests check the bookkeeping (which rows are paired,
which sign a difference has, the t-interval) and, marked slow, that each script runs end to end on a tiny
budget.
"""

import importlib.util
import math
import os
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "analysis"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def _load(folder, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, folder, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _t_half_width(values):
    v = np.asarray(values, dtype=float)
    return stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))


def test_u_shape_paired_differences_against_the_middle_lambda():
    mod = _load("analysis", "downstream_u_shape")
    rows = []
    for seed in range(4):
        for lam in mod.LAMBDAS:
            row = {"seed": seed, "n": 100, "lam": lam, "captured": 0.5}
            for nl in mod.NL_LIST:
                row[f"probe_mse_{nl}"] = abs(math.log10(lam) + 3) + 0.1 * seed  # U around 1e-3
            rows.append(row)
    summary, paired = mod.seed_summary(pd.DataFrame(rows))
    assert len(summary) == len(mod.LAMBDAS) and (summary.n_seeds == 4).all()
    p = paired[(paired.metric == "probe_mse_50")].set_index("lam")
    assert mod.MIDDLE not in p.index
    assert p.loc[1e-4, "mean"] == pytest.approx(1.0) and p.loc[1.0, "mean"] == pytest.approx(3.0)
    assert p.loc[1.0, "ci_lo"] == pytest.approx(3.0)  # the seed offset cancels in a paired difference
    mid = summary[summary.lam == mod.MIDDLE].iloc[0]
    assert mid.probe_mse_50_mean == pytest.approx(0.15)
    assert mid.probe_mse_50_ci_hi - 0.15 == pytest.approx(_t_half_width([0, 0.1, 0.2, 0.3]))


def test_dissl_collapse_summary_pairs_each_lambda_with_the_reference():
    mod = _load("analysis", "dissl_collapse")
    rows = []
    for seed in range(3):
        for lam in (0.5, 1.8, mod.REFERENCE_LAMBDA):
            r = {c: float(seed) for c in mod.METRICS}
            r.update(lambd=lam, seed=seed, marginal_entropy=lam + seed)
            rows.append(r)
    summary, paired = mod.summarise(pd.DataFrame(rows))
    assert list(summary.below_threshold) == [True, False, False]  # 1 + beta = 1.8 is not below
    h = paired[paired.metric == "marginal_entropy"].set_index("lambd")
    assert h.loc[0.5, "mean"] == pytest.approx(0.5 - mod.REFERENCE_LAMBDA)
    assert h.loc[0.5, "ci_lo"] == pytest.approx(h.loc[0.5, "ci_hi"])
    assert mod.REFERENCE_LAMBDA not in h.index


def test_coarseness_differences_are_paired_by_seed():
    mod = _load("analysis", "seed3_dimension_coarseness")
    rows = []
    for seed in range(3):
        for setting, acc in (("label", 0.7), ("s=1.0", 0.6), ("s=2.0", 0.5), ("s=0.5", 0.55)):
            rows.append({"setting": setting, "method": "simclr", "seed": seed,
                         "probe_nl10": acc + 0.05 * seed})
    rows.append({"setting": "label", "method": "simclr", "seed": 9, "probe_nl10": 0.0})  # unpaired: ignored
    out = mod.coarseness_differences(pd.DataFrame(rows), ["probe_nl10"]).set_index("comparison")
    assert out.loc["label - s=1.0", "mean"] == pytest.approx(0.1)
    assert out.loc["label - s=1.0", "n_seeds"] == 3
    assert out.loc["s=2.0 - s=0.5", "mean"] == pytest.approx(-0.05)


def test_halfmoon_regimes_summary_and_signs():
    mod = _load("analysis", "seed1_halfmoon_regimes")
    rows = []
    for seed in range(3):
        for lam, acc in ((1e-2, 0.9), (100.0, 0.6)):
            rows.append({"seed": seed, "sigma_aug": 1.0, "model": "closed form", "lam": lam,
                         "heldout_nl100": acc + 0.01 * seed})
        for model, acc in (("kernel PCA", 0.8), ("random MLP", 0.7), ("raw input", 0.75)):
            rows.append({"seed": seed, "sigma_aug": 1.0, "model": model, "lam": np.nan,
                         "heldout_nl100": acc + 0.01 * seed})
    summary, paired = mod.summarise(pd.DataFrame(rows), "heldout_nl100")
    assert len(summary) == 5 and (summary.n_seeds == 3).all()
    p = paired.set_index("comparison")["mean"]
    assert p["closed form lam=100 - closed form lam=0.01"] == pytest.approx(-0.3)
    assert p["closed form lam=0.01 - random MLP"] == pytest.approx(0.2)
    assert p["closed form lam=0.01 - kernel PCA"] == pytest.approx(0.1)


def test_entropy_target_is_units_free():
    mod = _load("benchmarks", "accuracy")
    # the entropy threshold depends only on the dimension, never on the truth (which rescaling moves)
    assert mod.target_nats("entropy", 40.0, 25) == mod.target_nats("entropy", 40.0 + 25 * math.log(1e3), 25)
    assert mod.target_nats("entropy", 1.0, 25) == pytest.approx(0.5)
    assert mod.target_nats("entropy", 1.0, 2) == pytest.approx(0.1)
    assert mod.target_nats("mi", 3.0, 25) == pytest.approx(0.3)
    assert not mod.within_target(-0.54, 40.9, "entropy", 25) and mod.within_target(-0.54, 40.9, "mi", 25)
    with pytest.raises(ValueError, match="quantity must be 'mi' or 'entropy', got 'h'"):
        mod.target_nats("h", 1.0, 1)
    df = pd.DataFrame({"quantity": ["entropy", "mi"], "truth": [58.0, 3.6], "dim_x": [25, 25],
                       "bias": [0.6, 0.3]})
    out = mod.score(df)
    assert list(out.within_target) == [False, True]
    assert out.error_per_dim[0] == pytest.approx(0.024) and np.isnan(out.error_per_dim[1])


def test_dissl_pseudo_classes_pairs_against_c128():
    mod = _load("analysis", "dissl_pseudo_classes")
    rows = [{"C": c, "seed": seed, **{m: c / 1000 + seed for m in mod.METRICS}}
            for seed in range(3) for c in (4, 128, 512)]
    summary, paired = mod.summarise(pd.DataFrame(rows))
    assert list(summary.C) == [4, 128, 512]
    p = paired[paired.metric == "probe_all"].set_index("C")
    assert p.loc[4, "mean"] == pytest.approx(-0.124) and p.loc[512, "mean"] == pytest.approx(0.384)
    assert 128 not in p.index and (p.n_seeds == 3).all()


def test_teacher_usage_counts_argmax_classes():
    import torch

    mod = _load("analysis", "dissl_pseudo_classes")

    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Identity()
            self.projector = torch.nn.Linear(4, 3, bias=False)
            with torch.no_grad():
                self.projector.weight.copy_(torch.eye(3, 4))

    x = torch.tensor([[1.0, 0, 0, 0]] * 3 + [[0, 1.0, 0, 0]])   # classes 0, 0, 0, 1
    used, eff = mod.teacher_usage(Fixed(), x)
    p = np.array([0.75, 0.25])
    assert used == 2 and eff == pytest.approx(float(np.exp(-(p * np.log(p)).sum())))


def test_assumption_summary_of_a_check_table():
    mod = _load("analysis", "assumption_augmentations")
    df = pd.DataFrame({"pattern_fraction": [1.0, 0.5, 0.0], "cov_error": [0.1, 0.4, 0.9],
                       "cov_error_floor": [0.1, 0.2, 0.3], "normality_pvalue": [0.5, 0.001, 0.2],
                       "mean_shift": [0.1, 0.2, 0.3]})
    out = mod.summarise_check(df)
    assert out == {"pattern_fraction_median": 0.5, "cov_error_over_floor_median": 2.0,
                   "share_normality_rejected_1pct": pytest.approx(1 / 3), "mean_shift_median": 0.2}


@pytest.mark.slow
@pytest.mark.parametrize("name, argv", [
    ("seed1_halfmoon_regimes", ["--quick"]),
    ("dissl_pseudo_classes", ["--quick"]),
    ("assumption_augmentations", ["--quick"]),
])
def test_script_runs_on_a_tiny_budget(tmp_path, name, argv):
    mod = _load("analysis", name)
    summary = mod.main(argv + ["--out", str(tmp_path / name)])
    assert len(summary) > 0 and (tmp_path / f"{name}_runs.csv").exists()
