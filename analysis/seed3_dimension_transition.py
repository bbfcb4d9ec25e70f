"""Dimension phase transition of ideal representations (Dubois et al. 2022, arXiv 2209.06235, Theorem 1 / Sec. 5).

C = 10 invariant class codes in general position in R^d, d = 1..15. Linear probes: the share of the 2^10
labelings of the classes that are linearly separable follows Cover's F(10, d) and reaches 1 exactly at
d >= C - 1 = 9 (affine rank of the codes = min(d, C - 1)). Universal probes: a small MLP fits random labelings
of the same codes for every d >= 1 ("the dimensionality requirement decreases with the probe's complexity").
The separability and rank come from infossl.diagnostics.ideal.

    python analysis/seed3_dimension_transition.py --seed 0       # ~1 min CPU
"""

import argparse
import os
import platform
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from infossl.diagnostics.ideal import class_mean_rank, cover_fraction, separability_fraction
from infossl.io import save_csv_atomic, save_figure_atomic

HERE = os.path.dirname(os.path.abspath(__file__))
C = 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "seed3_dimension_transition"))
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    rng = np.random.default_rng(args.seed)
    n_tasks = 5 if args.quick else 20
    rows = []
    for d in range(1, 16):
        codes = rng.standard_normal((C, d))
        lab = np.arange(C)
        lin = separability_fraction(codes, lab, on="means", max_labelings=2 ** (C - 1))  # exhaustive (512)
        mlp_acc = []
        for t in range(n_tasks):
            y = rng.integers(0, 2, size=C)
            if np.all(y == y[0]):  # a one-class task is trivial; make it two-class
                y[0] = 1 - y[0]
            clf = MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=3000, tol=1e-6,
                                random_state=int(rng.integers(2 ** 31)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(codes, y)
            mlp_acc.append(clf.score(codes, y))
        rows.append({"dim": d, "n_classes": C, "linear_separable": lin, "cover": cover_fraction(C, d),
                     "affine_rank": class_mean_rank(codes, lab), "mlp_train_acc_mean": float(np.mean(mlp_acc)),
                     "mlp_fit_all_fraction": float(np.mean(np.array(mlp_acc) == 1.0)), "mlp_tasks": n_tasks})
    df = pd.DataFrame(rows)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_csv_atomic(df, args.out + ".csv")
    print(df.to_string(index=False))
    first_full = int(df.dim[df.linear_separable == 1.0].min())
    print(f"linear: all labelings separable from d = {first_full} (theory: C - 1 = {C - 1}); "
          f"max |LP - Cover| = {(df.linear_separable - df.cover).abs().max():.3g}; "
          f"MLP fits every random labeling at {df.mlp_fit_all_fraction.mean():.1%} of (d, task) pairs")

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(df.dim, df.cover, "-", label="Cover F(10, d)")
    ax.plot(df.dim, df.linear_separable, "o", label="linear probe: separable labelings (LP)")
    ax.plot(df.dim, df.mlp_train_acc_mean, "s--", label="MLP probe: mean accuracy on random labelings")
    ax.axvline(C - 1, color="gray", ls=":", label="d = C - 1")
    ax.set_xlabel("representation dimension d")
    ax.set_ylabel("fraction")
    ax.set_title(f"C = {C} invariant class codes in general position")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png")
    plt.close(fig)


if __name__ == "__main__":
    main()
