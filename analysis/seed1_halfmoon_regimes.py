"""Half moons where the kernel closed form can move with lambda: stronger augmentations, with controls.

``seed1_halfmoon.py`` runs the authors' setting (augmentation noise 0.1): there the closed form scores the
same at every lambda, so that task cannot tell the regimes apart. Here the augmentation strength sigma_aug
(x' = x + sigma_aug eps) is varied over {0.1, 0.3, 1.0} with the rest unchanged (1000 training points, the
two-layer ReLU NTK with a bias input, k = 5 outputs, beta = 25, centring, one clean and one noisy view per
point), and the Tikhonov lambda (penalty convention) over {1e-4, 1e-2, 1, 100}. Controls on the same draws:

* the raw input (x1, x2);
* a randomly initialised MLP of the authors' architecture (2-100-100-20-5, LayerNorm, leaky ReLU), untrained:
  what a representation with no self-supervised training gives to the same least-squares probe;
* kernel PCA: the top 5 centred eigenfunctions of the same NTK on the same 2000 points (the closed form
  without the invariance term), so any gain of the closed form over it is what the augmentation adds.

Downstream: the quadrant of the latent angle (4 classes), least squares on one-hot targets without intercept,
fitted on n_l = 100 fresh labelled points and scored on 10 000 fresh points (``draws`` times per model and
seed, the same draws for every model). Over seeds: mean and 95 % t-interval, and the per-seed differences
closed form(lambda) - closed form(lambda = 1e-2) and closed form - controls.

    python analysis/seed1_halfmoon_regimes.py --seeds 3      # 1048 s wall at load 7-16
    python analysis/seed1_halfmoon_regimes.py --quick
"""

from __future__ import annotations

import argparse
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
from _sslrun import mean_ci  # noqa: E402
from seed1_halfmoon import BETA_A, P, LayerNormMLP, downstream, half_moon, ntk_gram  # noqa: E402

from infossl.io import save_csv_atomic, save_figure_atomic  # noqa: E402
from infossl.spectral import feature_closed_form  # noqa: E402

N_TRAIN = 1000
REFERENCE_LAMBDA = 1e-2


def seed_rows(seed: int, sigmas: list, lams: list, draws: int, n_labels: tuple) -> list:
    """Every model's downstream accuracies for one seed: closed form per (sigma_aug, lambda) and the controls.

    Returns
    -------
    list of dict
        One row per (sigma_aug, model, lambda) with insample and heldout_nl* accuracies and the rank.
    """
    g = torch.Generator().manual_seed(seed)
    x, _ = half_moon(N_TRAIN, g)
    net = LayerNormMLP([2, 100, 100, 20, P], torch.Generator().manual_seed(1000 + seed)).eval()
    rows = []
    for sigma in sigmas:
        gs = torch.Generator().manual_seed(100 * seed + int(round(100 * sigma)))
        xa = x + sigma * torch.randn(x.shape, generator=gs, dtype=x.dtype)
        views = torch.cat([x, xa]).numpy()  # (2000, 2)
        groups = np.r_[np.arange(N_TRAIN), np.arange(N_TRAIN)]
        gram = ntk_gram(views, views)
        # K = Phi Phi^T with Phi = U sqrt(L): an exact feature map on the views, extended by Nystrom
        ev, u = np.linalg.eigh(gram)
        keep = ev > 1e-10 * ev[-1]
        u, ev = u[:, keep], ev[keep]
        phi_views = u * np.sqrt(ev)  # (N, r)

        def kernel_rows(xx, views=views):
            return ntk_gram(xx.numpy(), views)  # (n, N)

        # Every embedding here is affine in the Nystrom features phi(x) = k(x, views) U L^-1/2, so it is
        # folded into one (N, P) matrix on the kernel rows: P columns per point instead of r ~ N features.
        to_features = u / np.sqrt(ev)  # (N, r)
        sols = {lam: feature_closed_form(phi_views, groups, k=P, beta=BETA_A * P, lam=lam, center=True)
                for lam in lams}
        maps = {}
        for lam, sol in sols.items():
            offset = np.asarray(sol.transform(np.zeros((1, phi_views.shape[1]))))    # (1, P)
            linear = np.asarray(sol.transform(np.eye(phi_views.shape[1]))) - offset  # (r, P)
            maps[("closed form", lam)] = (to_features @ linear, offset)
        # kernel PCA on the same features: top-P principal directions of the centred feature covariance
        mean = phi_views.mean(0)
        _, _, vt = np.linalg.svd(phi_views - mean, full_matrices=False)
        pcs = vt[:P].T  # (r, P)
        maps[("kernel PCA", np.nan)] = (to_features @ pcs, -(mean @ pcs)[None, :])
        embeds = {key: (lambda xx, c, w=w, b=b: c @ w + b) for key, (w, b) in maps.items()}
        res = downstream(embeds, torch.Generator().manual_seed(10_000 + seed), draws, n_labels,
                         shared=kernel_rows)
        for (model, lam), acc in res.items():
            rank = int(sols[lam].rank) if model == "closed form" else P
            rows.append({"seed": seed, "sigma_aug": sigma, "model": model, "lam": lam, "rank": rank, **acc,
                         "load_avg_1min": load_1min()})

    def embed_net(xx, _c=None):
        with torch.no_grad():
            return net(xx).numpy()

    res = downstream({"random MLP": embed_net, "raw input": lambda xx, _c=None: xx.numpy()},
                     torch.Generator().manual_seed(10_000 + seed), draws, n_labels)
    for model, acc in res.items():
        for sigma in sigmas:  # controls do not see the augmentation: one value, repeated per sigma_aug
            rows.append({"seed": seed, "sigma_aug": sigma, "model": model, "lam": np.nan,
                         "rank": P if model == "random MLP" else 2, **acc, "load_avg_1min": load_1min()})
    return rows


def summarise(runs: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and t-interval per (sigma_aug, model, lambda); paired differences of the closed form.

    Returns
    -------
    tuple of pandas.DataFrame
        (summary with mean / ci_lo / ci_hi of ``metric``; paired: per sigma_aug, closed form at each lambda
        minus closed form at lambda = 1e-2, and closed form at 1e-2 minus each control, same seeds).
    """
    key = runs.assign(lam=runs.lam.fillna(-1.0))
    summary = []
    for (sigma, model, lam), sub in key.groupby(["sigma_aug", "model", "lam"], sort=False):
        m, lo, hi = mean_ci(sub[metric])
        summary.append({"sigma_aug": sigma, "model": model, "lam": None if lam < 0 else lam,
                        "n_seeds": len(sub), f"{metric}_mean": m, f"{metric}_ci_lo": lo,
                        f"{metric}_ci_hi": hi})
    paired = []
    for sigma, sub in key.groupby("sigma_aug"):
        cf = sub[sub.model == "closed form"]
        ref = cf[cf.lam == REFERENCE_LAMBDA].set_index("seed")[metric]
        others = [(f"closed form lam={lam:g}", cf[cf.lam == lam].set_index("seed")[metric])
                  for lam in sorted(cf.lam.unique()) if lam != REFERENCE_LAMBDA]
        for name in ("kernel PCA", "random MLP", "raw input"):
            others.append((name, sub[sub.model == name].set_index("seed")[metric]))
        for name, other in others:
            common = ref.index.intersection(other.index)
            diff = ref.loc[common] - other.loc[common]
            m, lo, hi = mean_ci(-diff if name.startswith("closed form") else diff)
            label = (f"{name} - closed form lam={REFERENCE_LAMBDA:g}" if name.startswith("closed form")
                     else f"closed form lam={REFERENCE_LAMBDA:g} - {name}")
            paired.append({"sigma_aug": sigma, "comparison": label, "metric": metric, "mean": m, "ci_lo": lo,
                           "ci_hi": hi, "n_seeds": len(common)})
    return pd.DataFrame(summary), pd.DataFrame(paired)


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--draws", type=int, default=3, help="downstream draws of 10 000 points per model")
    ap.add_argument("--sigmas", default="0.1,0.3,1.0")
    ap.add_argument("--lams", default="1e-4,1e-2,1,100")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "seed1_halfmoon_regimes"))
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.draws, args.sigmas, args.lams = 2, 1, "0.1,1.0", "1e-2,100"
    torch.set_num_threads(1)
    info = machine()
    print("machine:", info["cpu_model"], "load", info["load_avg_1min"])
    sigmas = [float(v) for v in args.sigmas.split(",")]
    lams = [float(v) for v in args.lams.split(",")]
    if REFERENCE_LAMBDA not in lams:
        raise ValueError(f"--lams must include the reference lambda {REFERENCE_LAMBDA:g}, got {lams}")
    n_labels = (100,)
    rows = []
    t0 = time.perf_counter()
    for seed in range(args.seed, args.seed + args.seeds):
        rows += seed_rows(seed, sigmas, lams, args.draws, n_labels)
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    runs = pd.DataFrame(rows)
    runs["cpu_model"], runs["torch_threads"] = info["cpu_model"], info["torch_threads"]
    summary, paired = summarise(runs, "heldout_nl100")
    save_csv_atomic(runs, args.out + "_runs.csv")
    save_csv_atomic(summary, args.out + "_summary.csv")
    save_csv_atomic(paired, args.out + "_paired.csv")
    with pd.option_context("display.width", 200):
        print(summary.round(4).to_string(index=False))
        print(paired.round(4).to_string(index=False))

    fig, axes = plt.subplots(1, len(sigmas), figsize=(4.5 * len(sigmas), 3.8), sharey=True)
    for ax, sigma in zip(np.atleast_1d(axes), sigmas):
        s = summary[summary.sigma_aug == sigma]
        cf = s[s.model == "closed form"]
        m = 100 * cf["heldout_nl100_mean"]
        ax.errorbar(cf.lam, m, yerr=np.nan_to_num(m - 100 * cf["heldout_nl100_ci_lo"]), marker="o", capsize=3,
                    color="k", label="kernel closed form")
        controls = s[s.model != "closed form"].groupby("model", sort=False)
        for (name, r), color in zip(controls, ("C0", "C1", "C2")):
            mean, lo, hi = (100 * r[f"heldout_nl100_{c}"].iloc[0] for c in ("mean", "ci_lo", "ci_hi"))
            ax.axhline(mean, color=color, ls="--", label=name)
            if np.isfinite(lo):
                ax.axhspan(lo, hi, color=color, alpha=0.15)
        ax.set_xscale("log")
        ax.set_title(f"augmentation noise sigma_aug = {sigma:g}")
        ax.set_xlabel("lambda (penalty convention)")
    np.atleast_1d(axes)[0].set_ylabel("held-out quadrant accuracy, n_l = 100 (%)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"half moons, {args.seeds} seeds: mean and 95 % t-interval")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png", dpi=110)
    print(f"wrote {args.out}_runs.csv, _summary.csv, _paired.csv, .png")
    return summary


if __name__ == "__main__":
    main()
