"""Small-noise regime of the output-mixture model: how far can the input noise grow?

On a random 20 -> 64 -> 64 -> 10 ReLU MLP (PyTorch default init, float64) and 20 standard-normal inputs,
``infossl.deterministic.regime_check`` is run for noise_std in 1e-4 .. 1: the fraction of noisy copies that
keep the clean activation pattern, the relative Frobenius error of the sampled output covariance against
sigma^2 J J^T (and the Wishart sampling floor), and the Bonferroni-combined per-dimension normality p-value.

    python analysis/sigma_sweep.py --seed 0            # ~30 s
    python analysis/sigma_sweep.py --quick
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn

from infossl.deterministic import regime_check
from infossl.io import save_csv_atomic, save_figure_atomic

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "sigma_sweep"))
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).double().eval()
    n_inputs, n_noise = (8, 400) if args.quick else (20, 2000)
    x = torch.randn(n_inputs, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(args.seed))
    sigmas = np.logspace(-4, 0, 5 if args.quick else 9)
    frames = []
    for s in sigmas:
        df = regime_check(net, x, float(s), n_noise=n_noise, generator=args.seed)
        df.insert(0, "noise_std", s)
        frames.append(df)
    per_input = pd.concat(frames, ignore_index=True)
    summary = per_input.assign(error_ratio=per_input.cov_error / per_input.cov_error_floor).groupby("noise_std").agg(
        pattern_fraction_mean=("pattern_fraction", "mean"), pattern_fraction_min=("pattern_fraction", "min"),
        cov_error_median=("cov_error", "median"), cov_error_floor_median=("cov_error_floor", "median"),
        error_ratio_median=("error_ratio", "median"),
        normality_pvalue_median=("normality_pvalue", "median"),
        frac_inputs_normality_rejected=("normality_pvalue", lambda p: float((p < 0.01).mean()))).reset_index()
    summary.insert(0, "seed", args.seed)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_csv_atomic(per_input, args.out + "_per_input.csv")
    save_csv_atomic(summary, args.out + ".csv")
    print(summary.to_string(index=False))

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    ax[0].semilogx(summary.noise_std, summary.pattern_fraction_mean, "o-", label="mean over inputs")
    ax[0].semilogx(summary.noise_std, summary.pattern_fraction_min, "s--", label="worst input")
    ax[0].set(xlabel="input noise std", ylabel="fraction keeping activation pattern", ylim=(-0.05, 1.05))
    ax[0].legend()
    ax[1].loglog(summary.noise_std, summary.cov_error_median, "o-", label="||C_hat - s^2 J J^T|| / ||.||")
    ax[1].loglog(summary.noise_std, summary.cov_error_floor_median, "k:", label="sampling floor (Wishart)")
    ax[1].set(xlabel="input noise std", ylabel="relative Frobenius error (median)")
    ax[1].legend()
    ax[2].semilogx(summary.noise_std, summary.frac_inputs_normality_rejected, "o-")
    ax[2].set(xlabel="input noise std", ylabel="fraction of inputs with normality p < 0.01",
              ylim=(-0.05, 1.05))
    fig.suptitle(f"20-64-64-10 ReLU MLP, {n_inputs} inputs x {n_noise} noisy copies (seed {args.seed})")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png", dpi=120)
    print(f"wrote {args.out}.csv, {args.out}_per_input.csv, {args.out}.png")


if __name__ == "__main__":
    main()
