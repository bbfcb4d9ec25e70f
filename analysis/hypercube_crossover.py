"""Hypercube d = 10, crop width 7, two-layer ReLU NTK, k = 41, beta = 10: regimes, crossover and collapse.

Population (exact, no sampling): X = {-1,1}^10 uniform, crop + refresh augmentation (T chi_S = p_S^2 chi_S),
ReLU NTK with a bias input (K chi_S = mu_|S| chi_S). The selected eigenfunctions maximise
p_S^2 - (lam/2)/mu_|S| (penalty convention: lam weights ||Theta||^2). Predicted: the 10 contiguous triples
(T = .25, ||.||^2 ~ 3567) give way to degree-2 parities (T = .16, ||.||^2 ~ 115) at
lam* = 2(.25 - .16)/(3567 - 115) ~ 5.2e-5, and at lam = 1 only 11 eigenvalues pass the beta threshold
(dimensional collapse to rank 11). The commuting formula is cross-checked against the closed-form solver on
the exact 1024 x 1024 population moments built from the enumerated crop transition matrix. Without the bias
input, odd parities of degree >= 3 have mu = 0 (unreachable) and are excluded.

    python analysis/hypercube_crossover.py --seed 0          # ~90 s on 2 cores (--quick: ~5 s)
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
    crop_eigenvalues,
    crop_transition_matrix,
    crossover_lambdas,
    hypercube,
    moment_closed_form,
    parity_features,
    regime_map,
    relu_ntk_eigenvalues,
    walsh_subsets,
)

HERE = os.path.dirname(os.path.abspath(__file__))
D, WIDTH, K, BETA = 10, 7, 41, 10.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="unused (exact computation); kept for the common interface")
    ap.add_argument("--quick", action="store_true", help="skip the 1024-dim population solver cross-check")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "hypercube_crossover"))
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    subsets = walsh_subsets(D)
    degree = np.array([len(s) for s in subsets])
    nu = crop_eigenvalues(D, WIDTH, subsets)
    mu = relu_ntk_eigenvalues(D)
    norms = 1.0 / mu[degree]
    print("NTK+bias eigenvalues by degree:", np.array2string(mu, precision=4))
    cross = crossover_lambdas(nu, norms, k=K)
    lam_star = float(cross.lam.iloc[0])
    formula = 2 * (0.25 - 0.16) / (1 / mu[3] - 1 / mu[2])
    print(f"first crossover lam* = {lam_star:.4e} (formula 2(.25-.16)/(1/mu_3 - 1/mu_2) = {formula:.4e})")
    print(cross.head(6).to_string(index=False))

    lams = np.concatenate([[0.0], np.logspace(-7, 1, 33 if args.quick else 161)])
    rm = regime_map(nu, norms, lams, k=K, beta=BETA)
    rows = []
    sigma = cross_m = None
    if not args.quick:
        x = hypercube(D)
        phi = parity_features(x, mu, subsets)  # (1024, 1024) exact NTK features
        p = crop_transition_matrix(D, WIDTH)
        sigma = phi.T @ phi / 2 ** D
        cross_m = phi.T @ (p.T @ p) @ phi / 2 ** D
    for lam, sel, regime, rank, kth in zip(rm.lam, rm.selected, rm.regime, rm["rank"], rm.kth_score):
        by_deg = np.bincount(degree[sel], minlength=5)[:5]
        row = {"lam": lam, "regime": regime, "rank": rank, "kth_score": kth,
               **{f"n_degree{j}": int(by_deg[j]) for j in range(5)}}
        if sigma is not None and (lam == 0 or np.isclose(np.log10(lam) % 0.5, 0, atol=1e-9)
                                  or np.isclose(np.log10(lam) % 0.5, 0.5, atol=1e-9)):
            sol = moment_closed_form(sigma, cross_m, k=K, beta=BETA, lam=lam)
            top = np.sort(nu - lam / 2 * norms)[::-1][:K]
            row["solver_rank"] = sol.rank
            row["solver_max_abs_nu_error"] = float(np.abs(sol.nu[:K] - top).max())
        rows.append(row)
    df = pd.DataFrame(rows)

    # Without the bias input: degree-3 (and odd >= 3) parities are unreachable; which 41 are selected then?
    mu_nb = relu_ntk_eigenvalues(D, bias=False)
    reach = mu_nb[degree] > 1e-12 * mu_nb.max()
    rm_nb = regime_map(nu[reach], 1.0 / mu_nb[degree[reach]], [1e-6, lam_star, 1.0], k=K, beta=BETA)
    deg_nb = degree[reach]
    nb_rows = [{"lam": lam, "rank": r, **{f"n_degree{j}": int(np.bincount(deg_nb[s], minlength=5)[j]) for j in range(5)}}
               for lam, s, r in zip(rm_nb.lam, rm_nb.selected, rm_nb["rank"])]
    nb = pd.DataFrame(nb_rows)
    print(f"unreachable without bias: degrees {sorted(set(degree[~reach].tolist()))} "
          f"({int((~reach).sum())} parities); selection without bias:\n{nb.to_string(index=False)}")

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_csv_atomic(df, args.out + ".csv")
    save_csv_atomic(cross.assign(entering=cross.entering.astype(str), leaving=cross.leaving.astype(str)),
                    args.out + "_crossovers.csv")
    save_csv_atomic(nb, args.out + "_no_bias.csv")
    at = df.set_index("lam")
    print(f"rank at lam = 1e-2: {int(at['rank'].loc[np.isclose(at.index, 1e-2)].iloc[0])}, "
          f"at lam = 1: {int(at['rank'].loc[np.isclose(at.index, 1.0)].iloc[0])}")
    if "solver_rank" in df:
        chk = df.dropna(subset=["solver_rank"])
        print(f"population solver (1024 features, exact moments) vs commuting formula on {len(chk)} lambdas: "
              f"rank agrees {int((chk.solver_rank == chk['rank']).sum())}/{len(chk)}, "
              f"max |nu error| = {chk.solver_max_abs_nu_error.max():.2e}")
    print(df[["lam", "regime", "rank", "n_degree0", "n_degree1", "n_degree2", "n_degree3", "n_degree4"]]
          .iloc[::20].to_string(index=False))

    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    uniq = np.unique(np.stack([nu, norms], 1), axis=0)
    lg = np.logspace(-7, 1, 400)
    for t_val, n_val in uniq:
        if t_val >= 0.09:
            ax[0].semilogx(lg, t_val - lg / 2 * n_val, lw=1,
                           label=f"T={t_val:.2f}, deg {int(np.argmin(np.abs(1 / mu - n_val)))}")
    ax[0].axvline(lam_star, color="k", ls=":", label=f"lam* = {lam_star:.2e}")
    ax[0].set_ylim(-0.2, 1.05)
    ax[0].set_xlabel("lambda (penalty convention)")
    ax[0].set_ylabel("p_S^2 - (lam/2)/mu_|S|")
    ax[0].legend(fontsize=6, ncol=2)
    ax[1].semilogx(df.lam[1:], df["rank"][1:], "o-", ms=2, label="predicted rank (beta = 10)")
    for j in range(4):
        ax[1].semilogx(df.lam[1:], df[f"n_degree{j}"][1:], lw=1, label=f"# selected of degree {j}")
    ax[1].axvline(lam_star, color="k", ls=":")
    ax[1].set_xlabel("lambda (penalty convention)")
    ax[1].legend(fontsize=7)
    ax[1].set_title(f"d={D}, crop w={WIDTH}, k={K}, beta={BETA:g}")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png")
    plt.close(fig)


if __name__ == "__main__":
    main()
