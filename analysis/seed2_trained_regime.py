"""Seed 2's assumption check on a *trained* encoder: small-noise regime and Gaussian outputs, per layer.

Claim (Shwartz-Ziv et al., arXiv 2207.10081 / 2303.00633): a deterministic network maps a Gaussian around
each data point to (approximately) a Gaussian, N(f(x_i), sigma^2 J_i J_i^T), "up to truncation to the
linear region"; the papers report checking this on trained networks (shared/research/seed2 section 5, [R]:
the figures and the exact test could not be read).

What runs: ``infossl train`` with its defaults (info-vicreg, log-det entropy, CNN 32-64-128, projector
256-256-256, 40 epochs on scikit-learn's digits) writes checkpoints; the random-init network (epoch 0) and the
trained one (last epoch) are rebuilt with ``model_from_checkpoint``. For each layer -- the global-average-
pooled output of each conv block (32, 64, 128 channels; the last one is the representation) and the projector
output (256) -- and each input-noise level sigma (pixel values in [0, 1]; the training augmentation adds
pixel noise 0.05), ``infossl.deterministic.regime_check`` draws 200 noisy copies of each of 20 test images and
reports: the share of copies that keep the clean ReLU pattern (``nn.ReLU`` modules only: the max-pool switch
pattern of block 3 is not seen), the relative covariance error against sigma^2 J J^T next to its Wishart
sampling floor, and the D'Agostino-Pearson normality p-value (Bonferroni over output dims). Rows are medians
(and shares of inputs) over the 20 images. Batch norm runs in eval mode, an affine map.

    python analysis/seed2_trained_regime.py            # ~4 min on 2 busy cores (training ~1.5 min)
    python analysis/seed2_trained_regime.py --quick    # 3 epochs, 5 images, 3 noise levels
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sslrun import machine_line  # noqa: E402

from infossl.deterministic import regime_check  # noqa: E402
from infossl.io import save_csv_atomic, save_figure_atomic  # noqa: E402
from infossl.training import load_digits, model_from_checkpoint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def layer_models(model) -> dict[str, nn.Module]:
    """Truncations of the trained CNN: each conv block's output, average-pooled, and the projector output."""
    seq = list(model.backbone.net)
    cut = [i for i, m in enumerate(seq) if isinstance(m, nn.ReLU)]
    out = {}
    for b, i in enumerate(cut, start=1):
        width = seq[i - 2].out_channels
        out[f"block{b} ({width})"] = nn.Sequential(*seq[:i + 1], nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    out[f"projector ({model.projector(torch.zeros(2, model.backbone.out_dim, dtype=torch.float64)).shape[1]})"] = nn.Sequential(
        model.backbone, model.projector).eval()
    return out


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--n-inputs", type=int, default=20)
    ap.add_argument("--n-noise", type=int, default=200)
    ap.add_argument("--sigmas", default="1e-3,1e-2,5e-2,1e-1,3e-1")
    ap.add_argument("--run-dir", default=None, help="reuse/keep the training run here (default: a temp folder)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "seed2_trained_regime"))
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.n_inputs, args.n_noise, args.sigmas = 3, 5, 50, "1e-3,5e-2,3e-1"
    torch.set_num_threads(1)
    print("machine:", machine_line())
    sigmas = [float(s) for s in args.sigmas.split(",")]
    tmp = None
    run = args.run_dir
    if run is None:
        tmp = tempfile.TemporaryDirectory()
        run = os.path.join(tmp.name, "run")
    t0 = time.perf_counter()
    last = os.path.join(run, f"ckpt_epoch{args.epochs:03d}.pt")
    if not os.path.exists(last):
        cmd = [sys.executable, "-m", "infossl.cli", "train", "--epochs", str(args.epochs), "--seed", str(args.seed),
               "--out", run, "--probe-every", str(args.epochs), "--quiet", "--overwrite"]
        print("running:", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, env=dict(os.environ))
    t_train = time.perf_counter() - t0
    print(f"training {t_train:.0f} s")
    x, _ = load_digits("test")
    x = x[:: max(1, x.shape[0] // args.n_inputs)][: args.n_inputs].double()
    rows = []
    t1 = time.perf_counter()
    for state, epoch in (("random init", 0), ("trained", args.epochs)):
        model, _ = model_from_checkpoint(os.path.join(run, f"ckpt_epoch{epoch:03d}.pt"))
        model = model.double().eval()
        for layer, sub in layer_models(model).items():
            for sigma in sigmas:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    df = regime_check(sub, x, sigma, n_noise=args.n_noise, generator=args.seed)
                ratio = df.cov_error / df.cov_error_floor
                rows.append({"state": state, "layer": layer, "sigma": sigma, "n_inputs": len(df),
                             "pattern_fraction_median": df.pattern_fraction.median(),
                             "pattern_fraction_min": df.pattern_fraction.min(),
                             "cov_error_median": df.cov_error.median(),
                             "cov_error_floor_median": df.cov_error_floor.median(),
                             "cov_error_over_floor_median": ratio.median(),
                             "share_normality_rejected_1pct": float((df.normality_pvalue < 0.01).mean())})
            print(f"  {state:11s} {layer:16s} done", flush=True)
    table = pd.DataFrame(rows)
    save_csv_atomic(table, args.out + ".csv")
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
    print(f"training {t_train:.0f} s, checks {time.perf_counter() - t1:.0f} s; load average now {os.getloadavg()}")

    layers = list(dict.fromkeys(table.layer))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for layer, color in zip(layers, ("C0", "C1", "C2", "C3")):
        for state, ls in (("trained", "-"), ("random init", ":")):
            sub = table[(table.layer == layer) & (table.state == state)]
            lab = f"{layer}, {state}"
            axes[0].plot(sub.sigma, sub.pattern_fraction_median, ls, marker="o", color=color, label=lab)
            axes[1].plot(sub.sigma, sub.cov_error_over_floor_median, ls, marker="o", color=color, label=lab)
            axes[2].plot(sub.sigma, sub.share_normality_rejected_1pct, ls, marker="o", color=color, label=lab)
    axes[0].set_ylabel("median share of copies keeping the ReLU pattern")
    axes[1].set_ylabel("median cov error / sampling floor")
    axes[1].axhline(1, color="k", lw=0.8)
    axes[1].set_yscale("log")
    axes[2].set_ylabel("share of inputs with normality rejected (p < 0.01)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("input noise std (pixels in [0, 1])")
        ax.axvline(0.05, color="0.5", lw=0.8, ls="--")
    axes[0].legend(fontsize=6)
    fig.suptitle("digits encoder from `infossl train` (solid: trained, dotted: random init); dashed line: "
                 "training pixel noise")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png", dpi=110)
    print("wrote", args.out + ".csv", args.out + ".png")
    if tmp is not None:
        tmp.cleanup()
    return table


if __name__ == "__main__":
    main()
