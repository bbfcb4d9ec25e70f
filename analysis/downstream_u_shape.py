"""Finite-sample SSL in the kernel regime -> linear probe: the U-shape in lambda and the gain over kernel ridge.

Cube d = 10, crop width 7 (m views per input), exact two-layer ReLU NTK (+bias) features phi in R^1024,
k = 21, beta = 10, closed-form minimiser from the empirical view moments (penalty convention). Target
f* = chi_{0,1} (degree-2 local parity, T = .36). Exact metrics over the whole cube: population objective
L(psi) (optimum 22.33, zero map beta k = 210), fraction of ||f*||^2 captured by span(1, psi), test MSE of a
ridge probe with an oracle ridge on n_l random labelled points (mean over draws) against kernel ridge regression
with the same kernel and an oracle ridge, and the predicted probe risk (1 - captured) (1 + p / (n_l - p - 1)).

    python analysis/downstream_u_shape.py --seed 0               # ~3 min on 2 cores
    python analysis/downstream_u_shape.py --seed 0 --quick       # ~30 s
    python analysis/downstream_u_shape.py --seeds 5 --n-list 6400,25600   # seeds 0-4, 11.5 min at load 12-19

With ``--seeds K`` (K >= 2) the runs go to ``downstream_u_shape_seeds*``: every seed's rows, the mean and
95 % t-interval over seeds per (n, lambda), and the paired U-shape test at the largest n: per seed, the
probe MSE at each lambda minus that at lambda = 1e-3 (the middle of the U in the single-seed run), with its
t-interval over seeds. Both arms of the U are significant when both differences' intervals exclude 0.
"""

import argparse
import os
import platform
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from infossl.io import save_csv_atomic, save_figure_atomic
from infossl.spectral import (
    captured_fraction,
    crop_eigenvalues,
    crop_views,
    feature_closed_form,
    hypercube,
    kernel_ridge_mse,
    linear_probe_mse,
    moment_closed_form,
    parity_features,
    probe_risk,
    relu_ntk_eigenvalues,
    walsh_subsets,
)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "benchmarks"))
from _machine import load_1min, machine  # noqa: E402
from _sslrun import mean_ci  # noqa: E402

D, WIDTH, K, BETA = 10, 7, 21, 10.0
TARGET = (0, 1)
RIDGES = np.concatenate([[0.0], np.logspace(-8, 1, 10)])
LAMBDAS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
MIDDLE = 1e-3  # the bottom of the U in the single-seed run, the reference of the paired differences
NL_LIST = [10, 25, 50, 100, 200]


def moments_from_views(idx: np.ndarray, phi_cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Second and positive-pair cross moments of views given as cube indices (n, m): counts, then features.

    Identical to the estimator inside feature_closed_form, at O(1024^3) instead of O(N 1024^2).
    """
    n, m = idx.shape
    q = len(phi_cube)
    counts = np.bincount(idx.ravel(), minlength=q).astype(float)
    pairs = np.zeros((q, q))
    for a in range(m):
        for b in range(m):
            if a != b:
                np.add.at(pairs, (idx[:, a], idx[:, b]), 1.0)
    sigma = (phi_cube.T * counts) @ phi_cube / (n * m)
    cross = phi_cube.T @ ((pairs + pairs.T) / 2) @ phi_cube / (n * m * (m - 1))
    return sigma, cross


def population_objective(coef: np.ndarray, mu_s: np.ndarray, t_s: np.ndarray) -> float:
    """beta ||Theta Sigma Theta^T - I||^2 + 2 tr(Theta (Sigma - C) Theta^T), Sigma = diag(mu), C = diag(mu T)."""
    theta = coef.T  # (k, q)
    cov = (theta * mu_s) @ theta.T
    return float(BETA * np.sum((cov - np.eye(len(cov))) ** 2) + 2 * np.sum(theta ** 2 * (mu_s * (1 - t_s))))


def run_seed(seed: int, n_list: list, draws: int, view_budget: bool) -> tuple[list, list, dict]:
    """All (n, lambda) rows of one seed, the view-budget rows, and kernel ridge's test MSE per n_l.

    Returns
    -------
    tuple
        (rows, budget rows, {n_l: KRR test MSE}); every row carries the seed.
    """
    rng = np.random.default_rng(seed)
    subsets = walsh_subsets(D)
    cube = hypercube(D)
    mu = relu_ntk_eigenvalues(D)
    phi_cube = parity_features(cube, mu, subsets)  # (1024, 1024), phi phi^T = NTK Gram
    gram = phi_cube @ phi_cube.T
    mu_s = np.array([mu[len(s)] for s in subsets])
    t_s = crop_eigenvalues(D, WIDTH, subsets)
    f_star = np.prod(cube[:, list(TARGET)], axis=1)  # (1024,)
    bits = (1 << np.arange(D))

    pop = moment_closed_form(np.diag(mu_s), np.diag(mu_s * t_s), k=K, beta=BETA, lam=0.0)
    print(f"population optimum (lam = 0): {pop.objective:.2f}; zero map: {BETA * K:.0f}")

    lam_list = LAMBDAS
    label_draws = [[rng.integers(0, 2 ** D, size=nl) for _ in range(draws)] for nl in NL_LIST]

    krr = {}
    for nl, draws_nl in zip(NL_LIST, label_draws):
        errs = []
        for tr in draws_nl:
            errs.append(min(kernel_ridge_mse(gram[np.ix_(tr, tr)], f_star[tr], gram[:, tr], f_star,
                                             l2_penalty=r)
                            for r in RIDGES[1:]))
        krr[nl] = float(np.mean(errs))
    print("KRR (oracle ridge) test MSE:", {k: round(v, 3) for k, v in krr.items()})

    rows = []
    checked = False
    for n in n_list:
        x = cube[rng.integers(0, 2 ** D, size=n)]
        views = crop_views(x, WIDTH, n_views=2, random_state=rng)  # (n, 2, d)
        idx = ((views < 0).astype(int) * bits).sum(axis=2)  # (n, 2) cube index of each view
        sigma, cross = moments_from_views(idx, phi_cube)
        for lam in lam_list:
            sol = moment_closed_form(sigma, cross, k=K, beta=BETA, lam=lam)
            if not checked:  # the count-based moments give the feature solver's answer
                ref = feature_closed_form(phi_cube[idx.ravel()], np.repeat(np.arange(n), 2), k=K, beta=BETA,
                                          lam=lam)
                gap = np.abs(ref.nu[:K] - sol.nu[:K]).max()
                print(f"check n={n}: count-based moments vs feature_closed_form, max |nu diff| = {gap:.1e}")
                checked = True
            psi = phi_cube @ sol.coef  # (1024, k)
            cap = captured_fraction(psi, f_star)
            row = {"seed": seed, "n": n, "m": 2, "lam": lam, "rank": sol.rank,
                   "population_objective": population_objective(sol.coef, mu_s, t_s), "captured": cap}
            for nl, draws_nl in zip(NL_LIST, label_draws):
                errs = [min(linear_probe_mse(psi[tr], f_star[tr], psi, f_star, l2_penalty=r) for r in RIDGES)
                        for tr in draws_nl]
                row[f"probe_mse_{nl}"] = float(np.mean(errs))
                row[f"predicted_{nl}"] = probe_risk(cap, n_labels=nl, dim=sol.rank)["risk"]
                row[f"krr_mse_{nl}"] = krr[nl]
            row["load_avg_1min"] = load_1min()
            rows.append(row)
            print(f"seed {seed} n={n:6d} lam={lam:g}: rank {sol.rank}, L={row['population_objective']:.2f}, "
                  f"captured {cap:.2f}, probe "
                  + " / ".join(f"{row[f'probe_mse_{nl}']:.2f}" for nl in NL_LIST),
                  flush=True)

    budget = []
    if view_budget:
        for n, m in [(6400, 2), (3200, 4), (1600, 8)]:
            x = cube[rng.integers(0, 2 ** D, size=n)]
            idx = ((crop_views(x, WIDTH, n_views=m, random_state=rng) < 0).astype(int) * bits).sum(axis=2)
            sol = moment_closed_form(*moments_from_views(idx, phi_cube), k=K, beta=BETA, lam=1e-3)
            budget.append({"seed": seed, "n": n, "m": m, "lam": 1e-3, "rank": sol.rank,
                           "population_objective": population_objective(sol.coef, mu_s, t_s),
                           "captured": captured_fraction(phi_cube @ sol.coef, f_star)})
        print(pd.DataFrame(budget).to_string(index=False))
    return rows, budget, krr


def seed_summary(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and 95 % t-interval over seeds per (n, lambda), and the paired U-shape differences at the top n.

    Returns
    -------
    tuple of pandas.DataFrame
        (summary: n, lam, n_seeds and metric_mean / _ci_lo / _ci_hi columns;
        paired: lam, metric, mean, ci_lo, ci_hi, n_seeds of the per-seed difference
        metric(lam) - metric(1e-3)).
    """
    metrics = ["captured"] + [f"probe_mse_{nl}" for nl in NL_LIST]
    rows = []
    for (n, lam), sub in df.groupby(["n", "lam"]):
        row = {"n": n, "lam": lam, "n_seeds": len(sub)}
        for c in metrics:
            m, lo, hi = mean_ci(sub[c])
            row.update({f"{c}_mean": m, f"{c}_ci_lo": lo, f"{c}_ci_hi": hi})
        rows.append(row)
    big = df[df.n == df.n.max()]
    ref = big[big.lam == MIDDLE].set_index("seed")
    paired = []
    for lam, sub in big.groupby("lam"):
        if lam == MIDDLE:
            continue
        sub = sub.set_index("seed")
        for c in metrics:
            m, lo, hi = mean_ci(sub[c] - ref.loc[sub.index, c])
            paired.append({"n": int(df.n.max()), "lam": lam, "minus_lam": MIDDLE, "metric": c, "mean": m,
                           "ci_lo": lo, "ci_hi": hi, "n_seeds": len(sub)})
    return pd.DataFrame(rows), pd.DataFrame(paired)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1, help="run seeds seed .. seed + seeds - 1")
    ap.add_argument("--n-list", default=None, help="comma-separated n (default 400,1600,6400,25600)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--draws", type=int, default=5, help="labelled draws per n_l")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}")
    n_list = ([400, 1600, 6400] if args.quick else [400, 1600, 6400, 25600]) if args.n_list is None else \
        [int(v) for v in args.n_list.split(",")]
    multi = args.seeds > 1
    name = "downstream_u_shape_seeds" if multi else "downstream_u_shape"
    out = args.out or os.path.join(HERE, "results", name)
    rows, budget = [], []
    for seed in range(args.seed, args.seed + args.seeds):
        r, b, krr = run_seed(seed, n_list, args.draws, view_budget=not (args.quick or multi))
        rows += r
        budget += b
    nl_list = NL_LIST
    if multi:
        df = pd.DataFrame(rows)
        info = machine()
        df["cpu_model"], df["torch_threads"] = info["cpu_model"], info["torch_threads"]
        summary, paired = seed_summary(df)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        save_csv_atomic(df, out + ".csv")
        save_csv_atomic(summary, out + "_summary.csv")
        save_csv_atomic(paired, out + "_paired.csv")
        print(paired.round(4).to_string(index=False))
        plot_seeds(summary, out + ".png")
        return

    df = pd.DataFrame(rows)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    save_csv_atomic(df, out + ".csv")
    if budget:
        save_csv_atomic(pd.DataFrame(budget), out + "_view_budget.csv")

    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    big = df[df.n == df.n.max()]
    for nl in nl_list:
        ax[0].loglog(big.lam, big[f"probe_mse_{nl}"], "o-", label=f"probe, n_l={nl}")
        ax[0].axhline(krr[nl], ls=":", lw=1, color=ax[0].lines[-1].get_color())
    ax[0].set_xlabel("lambda (penalty convention)")
    ax[0].set_ylabel("test MSE (dotted: KRR, oracle ridge)")
    ax[0].set_title(f"n = {df.n.max()} unlabelled inputs, k = {K}, beta = {BETA:g}")
    ax[0].legend(fontsize=7)
    best = df.loc[df.groupby("n").captured.idxmax()]
    for _, r in best.iterrows():
        ax[1].loglog(nl_list, [r[f"probe_mse_{nl}"] for nl in nl_list], "o-",
                     label=f"SSL probe n={int(r.n)}, lam={r.lam:g}")
    ax[1].loglog(nl_list, [krr[nl] for nl in nl_list], "k--", label="kernel ridge (same kernel)")
    ax[1].set_xlabel("n_l labelled points")
    ax[1].set_ylabel("test MSE")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, out + ".png")
    plt.close(fig)


def plot_seeds(summary: pd.DataFrame, path: str) -> None:
    """Probe MSE and captured fraction against lambda, mean and 95 % t-interval over seeds, one line per n."""
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for n, sub in summary.groupby("n"):
        for a, c in zip(ax, ("probe_mse_50", "captured")):
            a.errorbar(sub.lam, sub[f"{c}_mean"], yerr=np.nan_to_num(sub[f"{c}_mean"] - sub[f"{c}_ci_lo"]),
                       marker="o", capsize=3, label=f"n = {n}")
    for a, lab in zip(ax, ("probe test MSE, n_l = 50 labels", "fraction of ||f*||^2 captured")):
        a.set_xscale("log")
        a.set_xlabel("lambda (penalty convention)")
        a.set_ylabel(lab)
        a.legend(fontsize=8)
    fig.suptitle(f"U-shape in lambda over {int(summary.n_seeds.max())} seeds (mean, 95 % t-interval)")
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)


if __name__ == "__main__":
    main()
