"""Seed 1's half-moon experiment with the authors' setup, set against the kernel-regime closed form.

Setup (Cabannes et al., arXiv 2302.02774; the experiment as the authors' released script runs it with
``--method Augmentation`` (its default is ``Finite_diff``, a graph-Laplacian loss), VivienCabannes/laplacian
at commit 80524e4: scripts/halfmoons.py with src/pssl, read and re-implemented here, not copied; the script
runs in float32, this one in float64):

* data: angle theta = 2 pi g, g ~ N(0, 1); Z = (cos theta, sin theta); X = Z + 1{<Z, e1> > 0} e2 + sigma U,
  U ~ N(0, I_2), sigma = 0.1; n = 1000 training points;
* augmentation: Gaussian noise, xi' = x + 0.1 eps (one clean and one noisy view);
* network: MLP 2-100-100-20-5, each hidden layer Linear -> LayerNorm (no affine) -> leaky ReLU, linear output;
* objective per batch of 100: (1 / beta_a) mean_{i, j} (f(x)_ij - f(xi')_ij)^2 + ||Cov(f(x)) - I||_F^2 with
  the centred (biased) covariance and beta_a = 5 (the script's ``lambda_reg``); SGD lr 5e-3, no momentum,
  step decay x0.3 every third of the run, 500 epochs;
* downstream: four classes (the quadrant of Z: 1{Z1 > 0} + 2 * 1{Z2 > 0}), one-hot targets, least squares
  without intercept on the 5 outputs, on fresh draws of 10 000 points. The authors fit and score on the same
  draw (100 draws); we report that number and a held-out one (fit on n_l fresh points, score on another 10 000).

Kernel regime (the closed form of ``infossl.spectral``) on the same 1000 points and the same view pairs
(x, x + 0.1 eps), N = 2000 views: the two-layer ReLU NTK with a bias input,
k(x, y) = |x~||y~| h(cos(x~, y~)), x~ = (x, 1), h = ``infossl.spectral.relu_ntk``. The objective of the
script multiplied by beta_a * p (p = 5 outputs) is the library's beta ||E[psi psi^T] - I||^2 +
E||psi(xi) - psi(xi')||^2 with beta = beta_a * p = 25 and centring (``center=True``); the Tikhonov lambda
(penalty convention) is swept. The covariance of the closed form pools both views, the script's only the
clean one (a difference of order sigma^2 = 0.01). ``kernel_closed_form`` eigendecomposes the 2000 x 2000 Gram
matrix again for every lambda (15 s each here); the script decomposes it once and hands the exact feature map
Phi = U Lambda^(1/2) to ``feature_closed_form`` (the same minimiser; checked against ``kernel_closed_form`` at
one lambda on the first seed, column ``dual_check``).

What the paper reports for this experiment could not be read (its body is not retrievable here); the
comparison is the authors' script against the library's closed form.

    python analysis/seed1_halfmoon.py                      # ~8 min on 2 busy cores (3 seeds)
    python analysis/seed1_halfmoon.py --quick              # 50 epochs, 2 seeds
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
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sslrun import machine_line, mean_ci  # noqa: E402

from infossl.io import save_csv_atomic, save_figure_atomic  # noqa: E402
from infossl.spectral import feature_closed_form, kernel_closed_form, relu_ntk  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIGMA_DATA = SIGMA_AUG = 0.1
BETA_A, P = 5.0, 5


def half_moon(n: int, g: torch.Generator, *, sigma: float = SIGMA_DATA):
    """(x (n, 2), quadrant label (n,)) of the authors' two half circles."""
    theta = 2 * np.pi * torch.randn(n, generator=g, dtype=torch.float64)
    z = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)  # (n, 2)
    right = z[:, 0] > 0
    x = z.clone()
    x[right, 1] += 1.0
    x = x + sigma * torch.randn(n, 2, generator=g, dtype=torch.float64)
    quadrant = right.long() + 2 * (z[:, 1] > 0).long()
    return x, quadrant


class LayerNormMLP(nn.Module):
    """Linear -> LayerNorm without affine -> leaky ReLU for each hidden layer, then a linear output."""

    def __init__(self, sizes, generator: torch.Generator):
        super().__init__()
        layers = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(a, b), nn.LayerNorm(b, elementwise_affine=False), nn.LeakyReLU()]
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.net = nn.Sequential(*layers).double()
        with torch.no_grad():  # PyTorch's default init, drawn from our generator
            for m in self.net:
                if isinstance(m, nn.Linear):
                    bound = 1 / np.sqrt(m.in_features)
                    m.weight.uniform_(-bound, bound, generator=generator)
                    m.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x):
        return self.net(x)


def ortho_penalty(z: torch.Tensor) -> torch.Tensor:
    """||Cov(z) - I||_F^2, centred, biased (1/n) covariance."""
    zc = z - z.mean(0)
    c = zc.T @ zc / z.shape[0]
    return (c - torch.eye(z.shape[1], dtype=z.dtype)).pow(2).sum()


def train_mlp(x: torch.Tensor, seed: int, epochs: int, *, batch: int = 100, lr: float = 5e-3):
    g = torch.Generator().manual_seed(1000 + seed)
    net = LayerNormMLP([2, 100, 100, 20, P], g)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    steps = epochs * (x.shape[0] // batch)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 3), gamma=0.3)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(x.shape[0] // batch):
            xb = x[perm[i * batch:(i + 1) * batch]]
            zb = net(xb)
            za = net(xb + SIGMA_AUG * torch.randn(xb.shape, generator=g, dtype=xb.dtype))
            loss = (zb - za).pow(2).mean() / BETA_A + ortho_penalty(zb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    return net


def ntk_gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-layer ReLU NTK with a bias input between the rows of a (n, 2) and b (m, 2)."""
    at = np.c_[a, np.ones(len(a))]
    bt = np.c_[b, np.ones(len(b))]
    na, nb = np.linalg.norm(at, axis=1), np.linalg.norm(bt, axis=1)
    cos = (at @ bt.T) / np.outer(na, nb)
    return np.outer(na, nb) * relu_ntk(cos)


def lstsq_accuracy(phi_fit, y_fit, phi_eval, y_eval) -> float:
    onehot = np.eye(4)[y_fit]
    w, *_ = np.linalg.lstsq(phi_fit, onehot, rcond=None)
    return float((np.argmax(phi_eval @ w, axis=1) == y_eval).mean())


def downstream(embeds: dict, g: torch.Generator, draws: int, n_labels, *, shared=None) -> dict:
    """For each model: the authors' in-sample score on 10 000 points, and held-out scores after fitting on n_l.

    ``embeds`` maps a key to ``f(x, cache)``; every model sees the same draws. ``shared(x)`` is computed once
    per drawn set and handed to each ``f`` as ``cache`` (the kernel rows against the training views).
    """
    acc = {key: {"insample": [], **{f"heldout_nl{n}": [] for n in n_labels}} for key in embeds}
    for _ in range(draws):
        xt, yt = half_moon(10_000, g)
        fits = [half_moon(n, g) for n in n_labels]
        ct = shared(xt) if shared else None
        cf = [shared(xf) if shared else None for xf, _ in fits]
        for key, f in embeds.items():
            phi, y = f(xt, ct), yt.numpy()
            acc[key]["insample"].append(lstsq_accuracy(phi, y, phi, y))
            for n, (xf, yf), c in zip(n_labels, fits, cf):
                acc[key][f"heldout_nl{n}"].append(lstsq_accuracy(f(xf, c), yf.numpy(), phi, y))
    return {key: {k: float(np.mean(v)) for k, v in d.items()} for key, d in acc.items()}


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--draws", type=int, default=5, help="downstream draws of 10 000 points per model")
    ap.add_argument("--lams", default="1e-4,1e-2,1")
    ap.add_argument("--dual-check", type=int, default=1, help="compare with kernel_closed_form once (first seed)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "seed1_halfmoon"))
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.draws, args.lams = 2, 50, 3, "1e-3,1e-1"
    torch.set_num_threads(1)
    print("machine:", machine_line())
    lams = [float(v) for v in args.lams.split(",")]
    n_labels = (20, 100, 1000)
    rows = []
    t_all = time.perf_counter()
    for seed in range(args.seed, args.seed + args.seeds):
        g = torch.Generator().manual_seed(seed)
        x, _ = half_moon(1000, g)
        t0 = time.perf_counter()
        net = train_mlp(x, seed, args.epochs)
        t_train = time.perf_counter() - t0

        def embed_net(xx, _cache=None):
            with torch.no_grad():
                return net(xx).numpy()

        z = embed_net(x)
        cov_eigs = np.sort(np.linalg.eigvalsh(np.cov(z.T, bias=True)))[::-1]
        res = downstream({"net": embed_net, "raw": lambda xx, _c=None: xx.numpy()},
                         torch.Generator().manual_seed(10_000 + seed), args.draws, n_labels)
        rows.append({"seed": seed, "model": "trained MLP (authors' setup)", "lam": np.nan, **res["net"],
                     "variances": " ".join(f"{v:.3f}" for v in cov_eigs), "rank": int((cov_eigs > 1e-3).sum()),
                     "seconds": round(t_train, 1)})
        rows.append({"seed": seed, "model": "raw input (x1, x2)", "lam": np.nan, **res["raw"], "variances": "",
                     "rank": 2, "seconds": 0.0})
        # kernel regime on the same points and the same kind of view pairs
        xa = x + SIGMA_AUG * torch.randn(x.shape, generator=g, dtype=x.dtype)
        views = torch.cat([x, xa]).numpy()  # (2000, 2)
        groups = np.r_[np.arange(1000), np.arange(1000)]
        gram = ntk_gram(views, views)
        # One eigendecomposition of the Gram matrix for all lambdas: K = Phi Phi^T with Phi = U sqrt(L) is an
        # exact finite feature map on the views (Nystrom extension phi(x) = L^-1/2 U^T k(views, x) elsewhere),
        # and the primal closed form on Phi equals the dual one on K (kernel_closed_form's docstring).
        ev, u = np.linalg.eigh(gram)
        keep = ev > 1e-10 * ev[-1]
        u, ev = u[:, keep], ev[keep]
        phi_views = u * np.sqrt(ev)  # (N, r)

        def nystrom(xx):
            return ntk_gram(xx.numpy(), views) @ u / np.sqrt(ev)  # (n, r)

        sols, secs = {}, {}
        for lam in lams:
            t0 = time.perf_counter()
            sols[lam] = feature_closed_form(phi_views, groups, k=P, beta=BETA_A * P, lam=lam, center=True)
            secs[lam] = time.perf_counter() - t0
        embeds = {lam: (lambda xx, c, sol=sol: np.asarray(sol.transform(c))) for lam, sol in sols.items()}
        res = downstream(embeds, torch.Generator().manual_seed(10_000 + seed), args.draws, n_labels,
                         shared=nystrom)
        train_rows = nystrom(x)
        if args.dual_check and seed == args.seed:
            dual = kernel_closed_form(gram, groups, k=P, beta=BETA_A * P, lam=lams[0], center=True)
            dual_gap = float(np.max(np.abs(np.asarray(dual.variances) - np.asarray(sols[lams[0]].variances))))
        else:
            dual_gap = np.nan
        for lam, sol in sols.items():
            zt = np.asarray(sol.transform(train_rows))
            rows.append({"seed": seed, "model": "kernel closed form (ReLU NTK)", "lam": lam, **res[lam],
                         "variances": " ".join(f"{v:.3f}" for v in np.asarray(sol.variances)), "rank": int(sol.rank),
                         "seconds": round(secs[lam], 1),
                         "cca_with_trained": float(np.mean(_canonical_correlations(zt, z) ** 2)),
                         "dual_check": dual_gap if lam == lams[0] else np.nan})
        print(f"seed {seed}: trained in {t_train:.1f} s; "
              + ", ".join(f"{r['model'][:12]} {r['lam']}: {r['insample']:.3f}" for r in rows[-len(lams) - 2:]),
              flush=True)
    runs = pd.DataFrame(rows)
    save_csv_atomic(runs, args.out + "_runs.csv")
    cols = ["insample"] + [f"heldout_nl{n}" for n in n_labels]
    summary = []
    for (model, lam), sub in runs.groupby(["model", "lam"], dropna=False, sort=False):
        row = {"model": model, "lam": lam, "n_seeds": len(sub), "rank_mean": sub["rank"].mean()}
        for c in cols + (["cca_with_trained"] if "cca_with_trained" in sub and sub.cca_with_trained.notna().any()
                         else []):
            m, lo, hi = mean_ci(sub[c])
            row.update({f"{c}_mean": m, f"{c}_ci_lo": lo, f"{c}_ci_hi": hi})
        summary.append(row)
    table = pd.DataFrame(summary)
    save_csv_atomic(table, args.out + "_summary.csv")
    with pd.option_context("display.width", 220, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))
    print(f"total {time.perf_counter() - t_all:.0f} s wall; load average now {os.getloadavg()}")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    cf = table[table.model.str.startswith("kernel")]
    for c, color in zip(cols, ("C0", "C1", "C2", "C3")):
        axes[0].errorbar(cf.lam, 100 * cf[f"{c}_mean"], yerr=100 * (cf[f"{c}_mean"] - cf[f"{c}_ci_lo"]).fillna(0),
                         marker="o", color=color, label=f"closed form, {c}", capsize=3)
        tr = table[table.model.str.startswith("trained")].iloc[0]
        axes[0].axhline(100 * tr[f"{c}_mean"], color=color, ls="--", lw=1)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("lambda (penalty convention)")
    axes[0].set_ylabel("quadrant accuracy, least squares (%)")
    axes[0].set_title("closed form (solid) vs trained MLP (dashed)")
    axes[0].legend(fontsize=7)
    # representation of the last seed on a grid: first two output coordinates
    gx, gy = np.meshgrid(np.linspace(-1.5, 1.5, 80), np.linspace(-1.5, 2.5, 80))
    grid = torch.from_numpy(np.c_[gx.ravel(), gy.ravel()])
    with torch.no_grad():
        zg = net(grid).numpy()
    axes[1].contourf(gx, gy, zg[:, 0].reshape(gx.shape), levels=20, cmap="RdBu")
    axes[1].scatter(x[:, 0], x[:, 1], s=1, c="k", alpha=0.3)
    axes[1].set_title("trained MLP, output 1 (last seed)")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png", dpi=110)
    print("wrote", args.out + "_runs.csv", args.out + "_summary.csv", args.out + ".png")
    return table


def _canonical_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Canonical correlations between the columns of a (n, p) and b (n, q) (centred, whitened, SVD)."""
    def whiten(m):
        m = m - m.mean(0)
        u, s, _ = np.linalg.svd(m, full_matrices=False)
        return u[:, s > 1e-8 * s.max()]

    return np.linalg.svd(whiten(a).T @ whiten(b), compute_uv=False)


if __name__ == "__main__":
    main()
