"""The Gaussian-output assumption of seed 2 checked under the training AUGMENTATIONS, per layer, on digits.

Claim (Shwartz-Ziv et al., arXiv 2207.10081): a deterministic network maps the augmentation distribution of
each input to (approximately) a Gaussian N(f(x_i), J_i S_i J_i^T); the model is about augmentations, while
``seed2_trained_regime.py`` perturbs the inputs with isotropic pixel noise only. Here the perturbations are:

* ``augmentation``: the training augmentation of ``infossl train`` (``Augmentation()`` defaults: shift 1 px,
  rotation 10 deg, zoom 0.1, pixel noise 0.05, cutout 3 px with probability 0.5, clipped to [0, 1]);
* ``geometric``: the same without noise and cutout (shift, rotation, zoom);
* ``isotropic (matched)``: Gaussian pixel noise whose standard deviation equals the root-mean-square per-pixel
  displacement of the full augmentation (median over the inputs), i.e. the same input spread made isotropic;
* ``isotropic 0.05``: the training pixel noise alone (the setting of ``seed2_trained_regime.py``).

For augmentations ``infossl.deterministic.regime_check(..., views=...)`` compares the outputs of M augmented
copies with the linearised prediction J_i S_i J_i^T, S_i the covariance of the copies' pixel displacements.
Reported per (training seed, state, layer, perturbation), medians over the test inputs: the share of copies
keeping the clean ReLU pattern, the covariance error over its sampling floor, the share of inputs whose
outputs fail the normality test at 1 % (Bonferroni over output dims), and the mean shift (distance of the
copies' mean output from f(x_i) in units of their spread). The encoder is ``infossl train`` with its defaults
(info-vicreg, CNN 32-64-128, projector 256-256-256, scikit-learn digits), random init (epoch 0) and trained.

    python analysis/assumption_augmentations.py --seeds 2 --n-views 100   # ~19 min wall at load 14-21
    python analysis/assumption_augmentations.py --quick
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
import numpy as np
import pandas as pd
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "benchmarks"))
from _machine import load_1min, machine  # noqa: E402
from _sslrun import mean_ci  # noqa: E402

from infossl.deterministic import regime_check  # noqa: E402
from infossl.io import save_csv_atomic, save_figure_atomic  # noqa: E402
from infossl.training import Augmentation, load_digits, model_from_checkpoint  # noqa: E402

PERTURBATIONS = ("augmentation", "geometric", "isotropic (matched)", "isotropic 0.05")


def truncations(model) -> dict:
    """Each conv block's output (after its ReLU, average-pooled) and the projector output, as modules.

    Returns
    -------
    dict
        Layer name -> ``nn.Module`` in eval mode mapping images to (n, width).
    """
    seq = list(model.backbone.net)
    out, width = {}, None
    for i, m in enumerate(seq):
        if isinstance(m, nn.Conv2d):
            width = m.out_channels
        if isinstance(m, nn.ReLU):
            name = f"block{len(out) + 1} ({width})"
            out[name] = nn.Sequential(*seq[:i + 1], nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    proj = nn.Sequential(model.backbone, model.projector).eval()
    with torch.no_grad():
        k = proj(torch.zeros(2, *model_input_shape(model), dtype=torch.float64)).shape[1]
    out[f"projector ({k})"] = proj
    return out


def model_input_shape(model) -> tuple:
    """(C, H, W) of the digits CNN's input."""
    first = next(m for m in model.backbone.net if isinstance(m, nn.Conv2d))
    return (first.in_channels, 8, 8)


def augmented_copies(x: torch.Tensor, aug: Augmentation, m: int, seed: int) -> torch.Tensor:
    """m augmented copies of each image: (n, m, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([aug(xi.expand(m, *xi.shape).clone(), g) for xi in x])


def summarise_check(df: pd.DataFrame) -> dict:
    """Medians over inputs of one regime_check table (and the share of inputs failing normality).

    Returns
    -------
    dict
        pattern_fraction_median, cov_error_over_floor_median, share_normality_rejected_1pct,
        mean_shift_median.
    """
    return {"pattern_fraction_median": float(df.pattern_fraction.median()),
            "cov_error_over_floor_median": float((df.cov_error / df.cov_error_floor).median()),
            "share_normality_rejected_1pct": float((df.normality_pvalue < 0.01).mean()),
            "mean_shift_median": float(df.mean_shift.median())}


def check_model_state(model, x: torch.Tensor, n_views: int, seed: int) -> list:
    """All perturbations on every layer of one model.

    Returns
    -------
    list of dict
        One row per (layer, perturbation) with :func:`summarise_check`'s fields and the noise level used.
    """
    full, geo = Augmentation(), Augmentation(noise=0.0, cutout=0)
    v_full = augmented_copies(x, full, n_views, seed)
    v_geo = augmented_copies(x, geo, n_views, seed + 1)
    rms = (v_full - x[:, None]).pow(2).mean(dim=(1, 2, 3, 4)).sqrt()                # (n,)
    matched = float(rms.median())
    rows = []
    for layer, sub in truncations(model).items():
        for pert in PERTURBATIONS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if pert == "augmentation":
                    df = regime_check(sub, x, views=v_full)
                elif pert == "geometric":
                    df = regime_check(sub, x, views=v_geo)
                else:
                    sigma = matched if pert == "isotropic (matched)" else 0.05
                    df = regime_check(sub, x, sigma, n_noise=n_views, generator=seed + 2)
            rms_used = matched if pert != "isotropic 0.05" else 0.05
            rows.append({"layer": layer, "perturbation": pert, "pixel_rms": rms_used, **summarise_check(df),
                         "load_avg_1min": load_1min()})
    return rows


def train_run(seed: int, epochs: int, run: str) -> float:
    """``infossl train`` with its defaults into ``run`` (skipped when the last checkpoint exists); seconds."""
    t0 = time.perf_counter()
    if not os.path.exists(os.path.join(run, f"ckpt_epoch{epochs:03d}.pt")):
        cmd = [sys.executable, "-m", "infossl.cli", "train", "--epochs", str(epochs), "--seed", str(seed),
               "--out", run, "--probe-every", str(epochs), "--quiet", "--overwrite"]
        print("running:", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, env=dict(os.environ))
    return time.perf_counter() - t0


def plot(table: pd.DataFrame, path: str, n_seeds: int) -> None:
    """Mean shift, covariance error over its floor, normality-rejection share; per layer and perturbation.

    (The share of copies keeping the whole-network ReLU pattern is 0 for every perturbation here, even pixel
    noise 0.05, so it is in the CSV but not plotted.)
    """
    layers = list(dict.fromkeys(table.layer))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    xs = np.arange(len(layers))
    panels = ("mean_shift_median", "cov_error_over_floor_median", "share_normality_rejected_1pct")
    for j, (pert, color) in enumerate(zip(PERTURBATIONS, ("C3", "C1", "C0", "C2"))):
        for state, marker, ls in (("trained", "o", "-"), ("random init", "x", ":")):
            sub = table[(table.perturbation == pert) & (table.state == state)].set_index("layer").loc[layers]
            for ax, c in zip(axes, panels):
                ax.plot(xs + 0.06 * (j - 1.5), sub[f"{c}_mean"], ls, marker=marker, color=color,
                        label=f"{pert}, {state}")
    for ax, lab in zip(axes, ("median |mean output - f(x)| / spread of the copies",
                              "median covariance error / sampling floor",
                              "share of inputs failing normality (p < 0.01)")):
        ax.set_xticks(xs, layers, fontsize=8)
        ax.set_ylabel(lab)
    axes[1].set_yscale("log")
    axes[1].axhline(1, color="k", lw=0.8)
    axes[0].legend(fontsize=6)
    fig.suptitle(f"digits encoder (infossl train defaults), {n_seeds} training seed(s): training "
                 "augmentation vs isotropic pixel noise (solid: trained, dotted: random init; "
                 "mean over seeds)")
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)
    plt.close(fig)


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=2, help="training seeds seed .. seed + seeds - 1")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--n-inputs", type=int, default=20)
    ap.add_argument("--n-views", type=int, default=200)
    ap.add_argument("--run-dir", default=None, help="keep/reuse the training runs here (default: temporary)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "assumption_augmentations"))
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.n_inputs, args.n_views = 1, 2, 4, 30
    torch.set_num_threads(1)
    info = machine()
    print("machine:", info["cpu_model"], "load", info["load_avg_1min"])
    tmp = tempfile.TemporaryDirectory() if args.run_dir is None else None
    root = args.run_dir or tmp.name
    x, _ = load_digits("test")
    x = x[:: max(1, x.shape[0] // args.n_inputs)][: args.n_inputs].double()
    rows = []
    for seed in range(args.seed, args.seed + args.seeds):
        run = os.path.join(root, f"seed{seed}")
        t_train = train_run(seed, args.epochs, run)
        for state, epoch in (("random init", 0), ("trained", args.epochs)):
            model, _ = model_from_checkpoint(os.path.join(run, f"ckpt_epoch{epoch:03d}.pt"))
            model = model.double().eval()
            t0 = time.perf_counter()
            for r in check_model_state(model, x, args.n_views, 100 * seed):
                rows.append({"seed": seed, "state": state, **r})
            print(f"seed {seed} {state}: checks {time.perf_counter() - t0:.0f} s (training {t_train:.0f} s)",
                  flush=True)
    if tmp is not None:
        tmp.cleanup()
    runs = pd.DataFrame(rows)
    runs["cpu_model"], runs["torch_threads"] = info["cpu_model"], info["torch_threads"]
    metrics = ["pattern_fraction_median", "cov_error_over_floor_median", "share_normality_rejected_1pct",
               "mean_shift_median"]
    summary = []
    for (state, layer, pert), sub in runs.groupby(["state", "layer", "perturbation"], sort=False):
        row = {"state": state, "layer": layer, "perturbation": pert, "n_seeds": len(sub)}
        for c in metrics:
            m, lo, hi = mean_ci(sub[c])
            row.update({f"{c}_mean": m, f"{c}_ci_lo": lo, f"{c}_ci_hi": hi})
        summary.append(row)
    table = pd.DataFrame(summary)
    save_csv_atomic(runs, args.out + "_runs.csv")
    save_csv_atomic(table, args.out + "_summary.csv")
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        print(table[["state", "layer", "perturbation", "n_seeds"] + [f"{c}_mean" for c in metrics]]
              .round(3).to_string(index=False))

    plot(table, args.out + ".png", args.seeds)
    print("wrote", args.out + "_runs.csv", args.out + "_summary.csv", args.out + ".png")
    return table


if __name__ == "__main__":
    main()
