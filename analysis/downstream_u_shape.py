"""Finite-sample SSL in the kernel regime -> linear probe: the U-shape in lambda and the gain over kernel ridge.

Cube d = 10, crop width 7 (m views per input), exact two-layer ReLU NTK (+bias) features phi in R^1024,
k = 21, beta = 10, closed-form minimiser from the empirical view moments (penalty convention). Target
f* = chi_{0,1} (degree-2 local parity, T = .36). Exact metrics over the whole cube: population objective
L(psi) (optimum 22.33, zero map beta k = 210), fraction of ||f*||^2 captured by span(1, psi), test MSE of a
ridge probe with an oracle ridge on n_l random labelled points (mean over draws) against kernel ridge regression
with the same kernel and an oracle ridge, and the predicted probe risk (1 - captured) (1 + p / (n_l - p - 1)).

    python analysis/downstream_u_shape.py --seed 0               # ~3 min on 2 cores
    python analysis/downstream_u_shape.py --seed 0 --quick       # ~30 s
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
D, WIDTH, K, BETA = 10, 7, 21, 10.0
TARGET = (0, 1)
RIDGES = np.concatenate([[0.0], np.logspace(-8, 1, 10)])


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--draws", type=int, default=5, help="labelled draws per n_l")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "downstream_u_shape"))
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    rng = np.random.default_rng(args.seed)
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

    n_list = [400, 1600, 6400] if args.quick else [400, 1600, 6400, 25600]
    lam_list = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    nl_list = [10, 25, 50, 100, 200]
    label_draws = [[rng.integers(0, 2 ** D, size=nl) for _ in range(args.draws)] for nl in nl_list]

    krr = {}
    for nl, draws in zip(nl_list, label_draws):
        errs = []
        for tr in draws:
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
                ref = feature_closed_form(phi_cube[idx.ravel()], np.repeat(np.arange(n), 2), k=K, beta=BETA, lam=lam)
                gap = np.abs(ref.nu[:K] - sol.nu[:K]).max()
                print(f"check n={n}: count-based moments vs feature_closed_form, max |nu diff| = {gap:.1e}")
                checked = True
            psi = phi_cube @ sol.coef  # (1024, k)
            cap = captured_fraction(psi, f_star)
            row = {"seed": args.seed, "n": n, "m": 2, "lam": lam, "rank": sol.rank,
                   "population_objective": population_objective(sol.coef, mu_s, t_s), "captured": cap}
            for nl, draws in zip(nl_list, label_draws):
                errs = [min(linear_probe_mse(psi[tr], f_star[tr], psi, f_star, l2_penalty=r) for r in RIDGES)
                        for tr in draws]
                row[f"probe_mse_{nl}"] = float(np.mean(errs))
                row[f"predicted_{nl}"] = probe_risk(cap, n_labels=nl, dim=sol.rank)["risk"]
                row[f"krr_mse_{nl}"] = krr[nl]
            rows.append(row)
            print(f"n={n:6d} lam={lam:g}: rank {sol.rank}, L={row['population_objective']:.2f}, captured {cap:.2f}, "
                  "probe " + " / ".join(f"{row[f'probe_mse_{nl}']:.2f}" for nl in nl_list))

    budget = []
    if not args.quick:
        for n, m in [(6400, 2), (3200, 4), (1600, 8)]:
            x = cube[rng.integers(0, 2 ** D, size=n)]
            idx = ((crop_views(x, WIDTH, n_views=m, random_state=rng) < 0).astype(int) * bits).sum(axis=2)
            sol = moment_closed_form(*moments_from_views(idx, phi_cube), k=K, beta=BETA, lam=1e-3)
            budget.append({"seed": args.seed, "n": n, "m": m, "lam": 1e-3, "rank": sol.rank,
                           "population_objective": population_objective(sol.coef, mu_s, t_s),
                           "captured": captured_fraction(phi_cube @ sol.coef, f_star)})
        print(pd.DataFrame(budget).to_string(index=False))

    df = pd.DataFrame(rows)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_csv_atomic(df, args.out + ".csv")
    if budget:
        save_csv_atomic(pd.DataFrame(budget), args.out + "_view_budget.csv")

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
        ax[1].loglog(nl_list, [r[f"probe_mse_{nl}"] for nl in nl_list], "o-", label=f"SSL probe n={int(r.n)}, lam={r.lam:g}")
    ax[1].loglog(nl_list, [krr[nl] for nl in nl_list], "k--", label="kernel ridge (same kernel)")
    ax[1].set_xlabel("n_l labelled points")
    ax[1].set_ylabel("test MSE")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png")
    plt.close(fig)


if __name__ == "__main__":
    main()
