"""Separability of all labelings of random points against Cover's (1965) counting formula (Dubois et al. 2022).

Dubois, Hashimoto, Ermon & Liang (arXiv 2209.06235, Theorem 1): a representation is ideal for linear probes iff
it is invariant and the C class codes are affinely independent, i.e. every binary labeling of the classes is
linearly separable. For C codes in general position in R^d the share of separable labelings is Cover's
F(C, d) = 2^(1-C) sum_{k<=d} binom(C-1, k), which is 1 iff C <= d + 1. Here: C Gaussian codes in R^d (general
position almost surely), every labeling checked exactly by a linear programme
(infossl.diagnostics.ideal.separability_fraction), over several random draws; plus a counter-example that is
not in general position (C = 6 codes on a circle inside R^5: affine rank 2, half the labelings fail although
C <= d + 1).

    python analysis/seed3_separability.py --seed 0          # ~1 min of CPU (LP per labeling)
"""

import argparse
import os
import platform

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from infossl.diagnostics.ideal import class_mean_rank, cover_fraction, separability_fraction
from infossl.io import save_csv_atomic, save_figure_atomic

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "seed3_separability"))
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    rng = np.random.default_rng(args.seed)
    draws = 1 if args.quick else 3
    configs = {2: range(2, 10), 3: range(2, 12), 5: range(3, 14)}
    if args.quick:
        configs = {2: range(2, 8), 3: range(2, 9)}
    rows = []
    for d, c_range in configs.items():
        for c in c_range:
            fr = []
            for _ in range(draws):
                codes = rng.standard_normal((c, d))
                fr.append(separability_fraction(codes, np.arange(c), on="means", max_labelings=2 ** 13))
            rows.append({"dim": d, "n_codes": c, "draws": draws, "separable_mean": float(np.mean(fr)),
                         "separable_min": float(np.min(fr)), "separable_max": float(np.max(fr)),
                         "cover": cover_fraction(c, d), "affine_rank": class_mean_rank(codes, np.arange(c))})
    df = pd.DataFrame(rows)
    df["abs_error"] = (df.separable_mean - df.cover).abs()
    # Not in general position: 6 codes on a circle in a 2-D plane of R^5.
    ang = 2 * np.pi * np.arange(6) / 6
    basis = np.linalg.qr(rng.standard_normal((5, 2)))[0]  # (5, 2) orthonormal
    circle = np.column_stack([np.cos(ang), np.sin(ang)]) @ basis.T  # (6, 5)
    circ = {"dim": 5, "n_codes": 6, "separable": separability_fraction(circle, np.arange(6), on="means"),
            "cover_general_position": cover_fraction(6, 5), "cover_in_its_plane": cover_fraction(6, 2),
            "affine_rank": class_mean_rank(circle, np.arange(6))}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_csv_atomic(df, args.out + ".csv")
    save_csv_atomic(pd.DataFrame([circ]), args.out + "_circle.csv")
    print(df.to_string(index=False))
    print(f"max |separable - Cover| over {len(df)} (C, d) settings x {draws} draws: {df.abs_error.max():.3g}")
    print("circle in R^5:", circ)

    fig, ax = plt.subplots(figsize=(6, 4))
    for d in configs:
        sub = df[df.dim == d]
        ax.plot(sub.n_codes, sub.cover, "-", label=f"Cover F(C, {d})")
        ax.plot(sub.n_codes, sub.separable_mean, "o", color=ax.lines[-1].get_color(), label=f"LP, d = {d}")
    ax.plot([6], [circ["separable"]], "kx", ms=9, label="6 codes on a circle in R^5")
    ax.set_xlabel("number of class codes C")
    ax.set_ylabel("share of labelings linearly separable")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png")
    plt.close(fig)


if __name__ == "__main__":
    main()
