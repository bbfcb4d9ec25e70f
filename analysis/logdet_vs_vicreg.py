"""VICReg's regulariser against the Gaussian log-determinant it approximates (arXiv:2303.00633, Section 4).

Write the embedding covariance as Sigma = D^{1/2} (I + E) D^{1/2} with D = diag(sigma_k^2) and E the
off-diagonal correlations. Then

    log det Sigma = sum_k log sigma_k^2 + log det(I + E),   log det(I + E) = -1/2 ||E||_F^2 + 1/3 tr E^3 - ...

(tr E = 0), so to second order -1/2 log det(I + E) = 1/4 ||E||_F^2 = (d/4) c(Z) for unit variances, where
c(Z) = (1/d) sum_{i != j} C_ij^2 is VICReg's covariance term; and VICReg's variance term
v(Z) = (1/d) sum_k max(0, gamma - sqrt(sigma_k^2 + eps)) stands in for -(1/d) sum_k log sigma_k.

Part 1 (correlation): z ~ N(0, I + t E0) in d = 16 dims (n = 20000 samples; E0 either a random symmetric
zero-diagonal matrix or the equicorrelation pattern, normalised to ||E0||_F = 1), t up to 95 % of the
positive-definite limit. Columns: exact -log det(I + E) (closed form), the second-order term 1/2 ||E||_F^2,
and d * c(Z) / 2 from samples (``infossl.objectives.covariance_term``); the sample log-det from
``infossl.estimators.gaussian_entropy`` checks the closed form.
Part 2 (variance): z ~ N(0, s^2 I), s from 0.01 to 10: -log s (the per-dimension entropy deficit
-1/(2d) log det Sigma) against v(Z) with gamma = 1 (``infossl.objectives.variance_term``).

    python analysis/logdet_vs_vicreg.py --seed 0      # ~10 s
    python analysis/logdet_vs_vicreg.py --quick
"""

import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from infossl.estimators import gaussian_entropy
from infossl.io import save_csv_atomic, save_figure_atomic
from infossl.objectives import covariance_term, variance_term

HERE = os.path.dirname(os.path.abspath(__file__))
LOG_2PI_E = math.log(2 * math.pi * math.e)


def patterns(d: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    a = torch.randn(d, d, dtype=torch.float64, generator=g)
    rand = (a + a.T) / 2
    rand.fill_diagonal_(0.0)
    equi = torch.ones(d, d, dtype=torch.float64) - torch.eye(d, dtype=torch.float64)
    return {"random": rand / torch.linalg.matrix_norm(rand), "equicorrelated": equi / torch.linalg.matrix_norm(equi)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "logdet_vs_vicreg"))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(args.seed)
    d, n = 16, (5000 if args.quick else 20000)
    steps = 8 if args.quick else 20
    eye = torch.eye(d, dtype=torch.float64)
    rows = []
    for name, e0 in patterns(d, g).items():
        lam_min = float(torch.linalg.eigvalsh(e0)[0])          # I + t E0 is PD for t < 1 / |lam_min|
        for t in np.linspace(0.0, 0.95 / abs(lam_min), steps):
            e = t * e0
            r = eye + e
            neg_logdet = -float(torch.logdet(r))
            z = torch.randn(n, d, dtype=torch.float64, generator=g) @ torch.linalg.cholesky(r).T   # (n, d)
            sample_neg_logdet = -(2 * gaussian_entropy(z.numpy()) - d * LOG_2PI_E)
            rows.append({"seed": args.seed, "part": "correlation", "pattern": name, "frob_E": float(t),
                         "min_eig_I_plus_E": 1 + t * lam_min, "neg_logdet_exact": neg_logdet,
                         "neg_logdet_sample": sample_neg_logdet,
                         "second_order_half_frob2": 0.5 * float(t) ** 2,
                         "vicreg_cov_term_times_d_over_2": d / 2 * float(covariance_term(z)),
                         "rel_error_second_order": (0.5 * t ** 2 - neg_logdet) / neg_logdet if t > 0 else 0.0})
    corr = pd.DataFrame(rows)
    rows = []
    for s in np.logspace(-2, 1, 13 if args.quick else 31):
        z = s * torch.randn(n, d, dtype=torch.float64, generator=g)
        rows.append({"seed": args.seed, "part": "variance", "std": s, "neg_log_std": -math.log(s),
                     "neg_log_std_sample": -(gaussian_entropy(z.numpy()) - d / 2 * LOG_2PI_E) / d,
                     "vicreg_variance_term": float(variance_term(z, gamma=1.0, eps=1e-4))})
    var = pd.DataFrame(rows)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_csv_atomic(corr, args.out + "_correlation.csv")
    save_csv_atomic(var, args.out + "_variance.csv")
    print(corr.to_string(index=False, float_format=lambda f: f"{f:.4g}"))
    print(var.to_string(index=False, float_format=lambda f: f"{f:.4g}"))

    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for name, sub in corr.groupby("pattern"):
        l, = ax[0].plot(sub.frob_E, sub.neg_logdet_exact, "-", label=f"{name}: -log det(I+E)")
        ax[0].plot(sub.frob_E, sub.second_order_half_frob2, "--", color=l.get_color(), label=f"{name}: ||E||^2/2")
        ax[0].plot(sub.frob_E, sub.vicreg_cov_term_times_d_over_2, "o", ms=3, color=l.get_color(),
                   label=f"{name}: d c(Z)/2 (VICReg, sampled)")
        ax[1].plot(sub.min_eig_I_plus_E, sub.rel_error_second_order, "o-", label=name)
    ax[0].set(xlabel="||E||_F", ylabel="nats")
    ax[0].legend(fontsize=7)
    ax[1].set(xlabel="smallest eigenvalue of I + E", ylabel="(||E||^2/2 - (-log det)) / (-log det)")
    ax[1].axhline(0, color="k", lw=0.5)
    ax[1].legend()
    ax[2].semilogx(var["std"], var.neg_log_std, "-", label="-log s (per-dim -1/2 log det / d)")
    ax[2].semilogx(var["std"], var.vicreg_variance_term, "o-", ms=3, label="VICReg v(Z), gamma = 1")
    ax[2].set(xlabel="per-dimension std s", ylabel="per-dimension penalty")
    ax[2].legend()
    fig.suptitle("VICReg regulariser vs Gaussian log-determinant (d = 16)")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png", dpi=120)
    print(f"wrote {args.out}_correlation.csv, {args.out}_variance.csv, {args.out}.png")


if __name__ == "__main__":
    main()
