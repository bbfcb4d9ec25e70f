"""Seed 3's Fig. 7c / 7a analogues on digits: representation dimension vs C - 1, and augmentation coarseness.

Claims (Dubois, Hashimoto, Ermon, Liang, NeurIPS 2022, arXiv 2209.06235; shared/research/seed3 sections 1-3):
* Theorem 1 [2nd]: an ideal representation for linear probes is invariant with affinely independent class
  codes, so it needs dimension d >= C - 1 (C = number of equivalence classes of the augmentations). Fig. 7c
  (TinyImageNet, CISSL): linear-probe accuracy keeps rising with d (40.3 / 47.0 / 48.4 / 48.8 % at
  d = 128 / 512 / 2048 / 8192), an MLP probe saturates earlier.
* Fig. 7a (DISSL): coarser label-preserving augmentations (fewer classes) give better few-shot accuracy.
* CISSL (linear student head) vs SimCLR (shared head), DISSL vs its baselines, under the same budget.

Here (``--part dim``): the positive view is *another digit of the same label* ("label augmentation" of the
authors' code), so the equivalence classes are the 10 labels and C - 1 = 9 exactly. The backbone is an MLP
64-256-d with d in {2, 4, 9, 32}; methods SimCLR, CISSL, VICReg, DISSL (``infossl train`` defaults:
temperature 0.2; VICReg 25/25/1; DISSL lambda 2.3, beta 0.8, 256 pseudo-classes), 3 seeds, 20 epochs.
Reported: linear and MLP (64 hidden) probe accuracy on the test digits, and the affine rank of the test class
means (``infossl.diagnostics.ideal.class_mean_rank``, tol 1e-3). Prediction: the linear probe rises until
d = 9 and is flat after it; the MLP probe is already high at small d.

``--part coarse``: standard augmentations at strength s in {0.5, 1, 2} (shift round(s) px, rotation 10 s deg,
zoom 0.1 s, noise 0.05 s, cutout round(3 s) px) and the label augmentation (the coarsest: 10 classes), at d = 64;
few-shot linear probes on n_l in {10, 30, 100, all 1352} labelled training digits (stratified draws, 5 per n_l).
Prediction: coarser is better at small n_l, as long as the augmentation preserves labels.

    python analysis/seed3_dimension_coarseness.py --part dim       # ~14 min at load 5-9 (3 seeds); --seeds 2 for less
    python analysis/seed3_dimension_coarseness.py --part coarse --seeds 5   # 1766 s wall at load 11-22
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sslrun import features, machine_line, mean_ci, train_encoder  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks"))
from _machine import load_1min, machine  # noqa: E402

from infossl.diagnostics.ideal import class_mean_rank  # noqa: E402
from infossl.io import save_csv_atomic, save_figure_atomic  # noqa: E402
from infossl.training import Augmentation, linear_probe, load_digits  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("simclr", "cissl", "vicreg", "dissl")


def strength(s: float) -> Augmentation:
    return Augmentation(shift=int(round(s)), rotation=10.0 * s, scale=0.1 * s, noise=0.05 * s,
                        cutout=int(round(3 * s)))


def mlp_probe(ftr, ytr, fte, yte, seed: int) -> float:
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(ftr)
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(sc.transform(ftr), ytr)
    return float(clf.score(sc.transform(fte), yte))


def few_shot(ftr, ytr, fte, yte, n_l: int, draws: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    if n_l >= len(ytr):
        return linear_probe(ftr, ytr, {"t": (fte, yte)})["t"]
    accs = []
    for _ in range(draws):
        per = max(1, n_l // 10)
        idx = np.concatenate([rng.choice(np.flatnonzero(ytr == c), per, replace=False) for c in range(10)])
        accs.append(linear_probe(ftr[idx], ytr[idx], {"t": (fte, yte)})["t"])
    return float(np.mean(accs))


def coarseness_differences(runs: pd.DataFrame, metrics: list) -> pd.DataFrame:
    """Paired (same seed) accuracy differences, coarser minus finer, with the 95 % t-interval over seeds.

    Pairs: the label augmentation against s = 1 (the same image transforms plus the label views), and the
    strongest against the weakest standard augmentation (s = 2 minus s = 0.5).

    Returns
    -------
    pandas.DataFrame
        One row per (comparison, method, metric): mean, ci_lo, ci_hi, n_seeds.
    """
    rows = []
    for coarse, fine in (("label", "s=1.0"), ("s=2.0", "s=0.5")):
        for method, sub in runs.groupby("method", sort=False):
            a = sub[sub.setting == coarse].set_index("seed")
            b = sub[sub.setting == fine].set_index("seed")
            common = a.index.intersection(b.index)
            if len(common) == 0:
                continue
            for c in metrics:
                m, lo, hi = mean_ci(a.loc[common, c] - b.loc[common, c])
                rows.append({"comparison": f"{coarse} - {fine}", "method": method, "metric": c, "mean": m,
                             "ci_lo": lo, "ci_hi": hi, "n_seeds": len(common)})
    return pd.DataFrame(rows)


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("dim", "coarse"), default="dim")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--dims", default="2,4,9,32")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.dims = 1, 2, "2,9"
    torch.set_num_threads(1)
    out = args.out or os.path.join(HERE, "results", f"seed3_{args.part}")
    print("machine:", machine_line())
    x, y = load_digits("train")
    xt, yt = load_digits("test")
    ytr, yte = y.numpy(), yt.numpy()
    methods = [m for m in args.methods.split(",") if m]
    seeds = list(range(args.seed, args.seed + args.seeds))
    if args.part == "dim":
        settings = [(f"d={d}", dict(widths=f"256-{d}", label_views=y, augment=strength(1.0))) for d in
                    (int(v) for v in args.dims.split(","))]
    else:
        settings = [(f"s={s}", dict(widths="256-64", label_views=None, augment=strength(s))) for s in (0.5, 1.0, 2.0)]
        settings.append(("label", dict(widths="256-64", label_views=y, augment=strength(1.0))))
        if args.quick:
            settings = settings[1:2] + settings[-1:]
    rows = []
    t_all = time.perf_counter()
    for seed in seeds:
        for name, st in settings:
            for method in methods:
                model, hist, sec = train_encoder(method, x, widths=st["widths"], projector="256-256",
                                                 epochs=args.epochs, augment=st["augment"], seed=seed,
                                                 label_views=st["label_views"])
                ftr, fte = features(model, x, flatten=True), features(model, xt, flatten=True)
                row = {"part": args.part, "setting": name, "method": method, "seed": seed, "dim": ftr.shape[1],
                       "final_loss": hist[-1]["loss"], "seconds": round(sec, 1), "load_avg_1min": load_1min()}
                if args.part == "dim":
                    row["linear_probe"] = linear_probe(ftr, ytr, {"t": (fte, yte)})["t"]
                    row["mlp_probe"] = mlp_probe(ftr, ytr, fte, yte, seed)
                    row["class_mean_rank"] = class_mean_rank(fte, yte, tol=1e-3)
                else:
                    for n_l in (10, 30, 100, len(ytr)):
                        row[f"probe_nl{n_l}"] = few_shot(ftr, ytr, fte, yte, n_l, 5, seed)
                rows.append(row)
                print(f"  seed {seed} {name:6s} {method:7s} " + " ".join(
                    f"{k} {v:.3f}" for k, v in row.items() if k.startswith(("linear", "mlp", "probe"))) +
                    f" ({sec:.1f} s)", flush=True)
    runs = pd.DataFrame(rows)
    info = machine()
    runs["cpu_model"], runs["torch_threads"] = info["cpu_model"], info["torch_threads"]
    save_csv_atomic(runs, out + "_runs.csv")
    metrics = [c for c in runs.columns if c.startswith(("linear", "mlp", "probe", "class_mean"))]
    summary = []
    for (name, method), sub in runs.groupby(["setting", "method"], sort=False):
        row = {"setting": name, "method": method, "dim": int(sub.dim.iloc[0]), "n_seeds": len(sub)}
        for c in metrics:
            m, lo, hi = mean_ci(sub[c])
            row.update({f"{c}_mean": m, f"{c}_ci_lo": lo, f"{c}_ci_hi": hi})
        summary.append(row)
    table = pd.DataFrame(summary)
    save_csv_atomic(table, out + "_summary.csv")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.round(3).to_string(index=False))
    if args.part == "coarse":
        paired = coarseness_differences(runs, metrics)
        save_csv_atomic(paired, out + "_paired.csv")
        print(paired.round(3).to_string(index=False))
    print(f"{len(rows)} runs in {time.perf_counter() - t_all:.0f} s wall; load average now {os.getloadavg()}")

    if args.part == "dim":
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        for method, color in zip(methods, ("C0", "C1", "C2", "C3")):
            sub = table[table.method == method]
            for ax, c in zip(axes, ("linear_probe", "mlp_probe", "class_mean_rank")):
                scale = 1 if c == "class_mean_rank" else 100
                ax.errorbar(sub.dim, scale * sub[f"{c}_mean"],
                            yerr=scale * (sub[f"{c}_mean"] - sub[f"{c}_ci_lo"]).fillna(0), marker="o",
                            color=color, label=method, capsize=3)
        for ax, lab in zip(axes, ("linear probe accuracy (%)", "MLP probe accuracy (%)",
                                  "affine rank of test class means")):
            ax.axvline(9, color="k", ls=":", lw=1)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("representation dimension d (dotted: C - 1 = 9)")
            ax.set_ylabel(lab)
        axes[0].legend()
        fig.suptitle("digits, label augmentation (C = 10 classes); mean and 95 % t-interval over seeds")
    else:
        nls = [int(c[len("probe_nl"):]) for c in metrics]
        fig, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 3.8), sharey=True)
        for ax, method in zip(np.atleast_1d(axes), methods):
            for (name, _), color in zip(settings, ("C0", "C1", "C2", "C3")):
                r = table[(table.method == method) & (table.setting == name)]
                if r.empty:
                    continue
                mean = np.array([100 * r[f"probe_nl{n}_mean"].iloc[0] for n in nls])
                lo = np.array([100 * r[f"probe_nl{n}_ci_lo"].iloc[0] for n in nls])
                ax.errorbar(nls, mean, yerr=np.nan_to_num(mean - lo), marker="o", color=color, label=name,
                            capsize=3)
            ax.set_xscale("log")
            ax.set_title(method)
            ax.set_xlabel("labelled training digits")
        np.atleast_1d(axes)[0].set_ylabel("linear probe accuracy (%)")
        np.atleast_1d(axes)[0].legend(fontsize=8)
        fig.suptitle("digits, d = 64: augmentation strength s and the label augmentation (coarsest); "
                     "mean and 95 % t-interval over seeds")
    fig.tight_layout()
    save_figure_atomic(fig, out + ".png", dpi=110)
    print("wrote", out + "_runs.csv", out + "_summary.csv", out + ".png")
    return table


if __name__ == "__main__":
    main()
