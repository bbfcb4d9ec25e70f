"""DISSL over the number of pseudo-classes C on digits (Dubois et al. 2022, arXiv 2209.06235).

DISSL's teacher assigns each view to one of C pseudo-classes (its output size; the student head has the same
size). The paper trains with large C and argues that C must be at least the number of downstream classes
for the ideal representation to be reachable; fewer pseudo-classes than classes merge classes. Here:
``infossl train``'s DISSL (lambda 2.3, beta 0.8 and its other defaults) on scikit-learn's digits, MLP backbone
64-256-64, projector (teacher) 256-C with C in {4, 10, 32, 128, 512}, the training augmentation defaults,
20 epochs, AdamW lr 2e-3, batch 256. Reported on the test digits: linear-probe accuracy on all 1352 training
labels and few-shot probes on 10 and 100 (stratified, 5 draws), and how many pseudo-classes the teacher's
argmax uses with the exponential of the entropy of that histogram (effective pseudo-classes). Over seeds:
mean and 95 % t-interval, and per-seed differences against C = 128.

    python analysis/dissl_pseudo_classes.py --seeds 3     # 15 trainings, 187 s wall at load 22
    python analysis/dissl_pseudo_classes.py --quick
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "benchmarks"))
from _machine import load_1min, machine  # noqa: E402
from _sslrun import features, mean_ci, paired_cis, train_encoder  # noqa: E402
from seed3_dimension_coarseness import few_shot  # noqa: E402

from infossl.io import save_csv_atomic, save_figure_atomic  # noqa: E402
from infossl.training import Augmentation, load_digits  # noqa: E402

REFERENCE_C = 128
METRICS = ("probe_nl10", "probe_nl100", "probe_all", "classes_used", "effective_classes")


def teacher_usage(model, x: torch.Tensor) -> tuple[int, float]:
    """Pseudo-classes hit by the teacher's argmax on x, and exp of the entropy of that histogram.

    Returns
    -------
    tuple
        (number used, effective number in [1, number used]).
    """
    with torch.no_grad():
        logits = model.projector(model.backbone(x.flatten(1).to(next(model.parameters()).dtype)))
    counts = torch.bincount(logits.argmax(1), minlength=logits.shape[1]).double()
    p = counts[counts > 0] / counts.sum()
    return int((counts > 0).sum()), float(torch.exp(-(p * p.log()).sum()))


def summarise(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and t-interval per C, and per-seed differences metric(C) - metric(128).

    Returns
    -------
    tuple of pandas.DataFrame
        (summary per C; paired per (C, metric) with mean, ci_lo, ci_hi, n_seeds).
    """
    rows, paired = [], []
    ref = runs[runs.C == REFERENCE_C].set_index("seed")
    for c, sub in runs.groupby("C"):
        row = {"C": c, "n_seeds": len(sub)}
        for m in METRICS:
            mean, lo, hi = mean_ci(sub[m])
            row.update({f"{m}_mean": mean, f"{m}_ci_lo": lo, f"{m}_ci_hi": hi})
        rows.append(row)
        if c != REFERENCE_C and len(ref):
            paired += [{"C": c, "minus_C": REFERENCE_C, **d}
                       for d in paired_cis(sub.set_index("seed"), ref, METRICS)]
    return pd.DataFrame(rows), pd.DataFrame(paired)


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--cs", default="4,10,32,128,512")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "dissl_pseudo_classes"))
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.cs = 2, 1, "4,128"
    torch.set_num_threads(1)
    info = machine()
    print("machine:", info["cpu_model"], "load", info["load_avg_1min"])
    x, y = load_digits("train")
    xt, yt = load_digits("test")
    ytr, yte = y.numpy(), yt.numpy()
    rows = []
    t_all = time.perf_counter()
    for seed in range(args.seed, args.seed + args.seeds):
        for c in (int(v) for v in args.cs.split(",")):
            model, hist, sec = train_encoder("dissl", x, widths="256-64", projector=f"256-{c}",
                                             epochs=args.epochs, augment=Augmentation(), seed=seed)
            ftr, fte = features(model, x, flatten=True), features(model, xt, flatten=True)
            used, eff = teacher_usage(model.eval(), xt)
            row = {"C": c, "seed": seed, "epochs": args.epochs, "final_loss": hist[-1]["loss"],
                   "probe_nl10": few_shot(ftr, ytr, fte, yte, 10, 5, seed),
                   "probe_nl100": few_shot(ftr, ytr, fte, yte, 100, 5, seed),
                   "probe_all": few_shot(ftr, ytr, fte, yte, len(ytr), 1, seed),
                   "classes_used": used, "effective_classes": eff, "seconds": round(sec, 1),
                   "load_avg_1min": load_1min()}
            rows.append(row)
            print(f"seed {seed} C={c:4d}: probe all {row['probe_all']:.3f}, nl10 {row['probe_nl10']:.3f}, "
                  f"used {used}, effective {eff:.1f} ({sec:.0f} s)", flush=True)
    runs = pd.DataFrame(rows)
    runs["cpu_model"], runs["torch_threads"] = info["cpu_model"], info["torch_threads"]
    summary, paired = summarise(runs)
    save_csv_atomic(runs, args.out + "_runs.csv")
    save_csv_atomic(summary, args.out + "_summary.csv")
    save_csv_atomic(paired, args.out + "_paired.csv")
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        print(summary.round(3).to_string(index=False))
        print(paired.round(3).to_string(index=False))
    print(f"{len(rows)} runs in {time.perf_counter() - t_all:.0f} s")

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for m, color in (("probe_all", "C0"), ("probe_nl100", "C1"), ("probe_nl10", "C2")):
        mean = 100 * summary[f"{m}_mean"]
        ax[0].errorbar(summary.C, mean, yerr=np.nan_to_num(mean - 100 * summary[f"{m}_ci_lo"]), marker="o",
                       capsize=3, color=color, label=m.replace("probe_", "labels: "))
    ax[0].set_ylabel("linear probe accuracy on test digits (%)")
    for m, marker in (("classes_used", "o"), ("effective_classes", "s")):
        mean = summary[f"{m}_mean"]
        ax[1].errorbar(summary.C, mean, yerr=np.nan_to_num(mean - summary[f"{m}_ci_lo"]), marker=marker,
                       capsize=3, label=m.replace("_", " "))
    ax[1].plot(summary.C, summary.C, "k:", lw=0.8, label="C")
    ax[1].axhline(10, color="0.5", ls="--", lw=0.8, label="10 digit classes")
    ax[1].set_yscale("log")
    ax[1].set_ylabel("teacher pseudo-classes on test digits")
    for a in ax:
        a.set_xscale("log")
        a.set_xlabel("number of pseudo-classes C")
        a.legend(fontsize=8)
    fig.suptitle(f"DISSL on digits over C, {args.seeds} seeds: mean and 95 % t-interval")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png", dpi=110)
    print("wrote", args.out + "_runs.csv", args.out + "_summary.csv", args.out + ".png")
    return summary


if __name__ == "__main__":
    main()
