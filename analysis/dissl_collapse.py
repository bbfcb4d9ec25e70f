"""DISSL trained below and above lambda = 1 + beta (Dubois et al. 2022, arXiv 2209.06235; seed-3 notes Sec. 4.2).

With the batch plug-in estimates, DISSL's loss is exactly
L = -(1 + beta) I(X; M) - (lambda - 1 - beta) H(M) + KL(t || s) + beta KL(t(.|z_x) || t(.|z_a)).
That does not make collapse optimal: the ideal clustering (-lambda ln C) is the global infimum for every
lambda > 0 (dissl_states.py). For lambda < 1 + beta, total collapse (0) scores below the uniform teacher
((1 + beta - lambda) ln C), so training started near uniform can slide into collapse; this script measures
where that happens. Setup: 10 Gaussian classes in
R^20 with "label augmentation" (the two views are two samples of the same class, so the ideal clustering has
10 clusters), an MLP encoder 20-64-32, an MLP teacher 32-64-16 and a linear student 32-16 (16 pseudo-classes),
infossl.objectives.DISSLLoss with beta = 0.8 (threshold 1 + beta = 1.8), Adam (lr 2e-3), minibatches of 256
pairs. Measured on 4000 held-out pairs: H(M) (teacher marginal), I(X; M), exp H(M) (effective clusters), the
number of pseudo-classes used by the argmax, the invariance KL, a linear probe's accuracy on the true labels
from the encoder output, and the affine rank of the encoder's class means (infossl.diagnostics.ideal).

    python analysis/dissl_collapse.py --seed 0 --seeds 5   # 30 trainings, ~15 min CPU
    python analysis/dissl_collapse.py --seed 0 --quick

Over seeds: the summary gives the mean and 95 % t-interval per lambda, and ``*_paired.csv`` the per-seed
difference of each metric between every lambda and lambda = 2.3 (above the threshold, the authors' default)
with its t-interval. ``--reuse-runs CSV`` takes the (lambda, seed) rows with the same step count from an
earlier runs CSV instead of training them again (same code and data: the runs are deterministic on CPU).
"""

import argparse
import math
import os
import platform
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from infossl.diagnostics.ideal import class_mean_rank
from infossl.io import save_csv_atomic, save_figure_atomic
from infossl.objectives import DISSLLoss

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, os.pardir, "benchmarks"))
from _machine import load_1min, machine  # noqa: E402
from _sslrun import mean_ci, paired_cis  # noqa: E402

METRICS = ("marginal_entropy", "mutual_information", "effective_clusters", "argmax_clusters_used",
           "kl_invariance", "probe_accuracy", "class_mean_rank")
REFERENCE_LAMBDA = 2.3
N_CLASSES, D_IN, D_Z, N_HEAD, BETA = 10, 20, 32, 16, 0.8


def sample_pairs(means: torch.Tensor, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    y = torch.randint(0, N_CLASSES, (n,), generator=gen)
    xa = means[y] + torch.randn(n, D_IN, generator=gen)
    xb = means[y] + torch.randn(n, D_IN, generator=gen)
    return xa, xb, y


def run(lambd: float, seed: int, steps: int, means: torch.Tensor, test: tuple) -> dict:
    torch.manual_seed(seed)  # module initialisation only; data use explicit generators
    enc = nn.Sequential(nn.Linear(D_IN, 64), nn.ReLU(), nn.Linear(64, D_Z))
    teacher = nn.Sequential(nn.Linear(D_Z, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, N_HEAD))
    student = nn.Linear(D_Z, N_HEAD)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the lambda < 1 + beta warning is the point here
        loss_fn = DISSLLoss(lambd=lambd, beta=BETA)
    params = [*enc.parameters(), *teacher.parameters(), *student.parameters()]
    opt = torch.optim.Adam(params, lr=2e-3)
    gen = torch.Generator().manual_seed(10_000 + seed)
    for _ in range(steps):
        xa, xb, _ = sample_pairs(means, 256, gen)
        za, zb = enc(xa), enc(xb)
        loss = loss_fn(student_a=student(za), student_b=student(zb), teacher_a=teacher(za), teacher_b=teacher(zb))
        opt.zero_grad()
        loss.backward()
        opt.step()
    enc.eval()
    teacher.eval()
    xa, xb, y = test
    with torch.no_grad():
        za, zb = enc(xa), enc(xb)
        ta, tb = teacher(za), teacher(zb)
        loss_fn(student_a=student(za), student_b=student(zb), teacher_a=ta, teacher_b=tb)
        terms = {k: float(v) for k, v in loss_fn.last_terms.items()}
        log_ta = torch.log_softmax(ta / loss_fn.teacher_temperature, 1)
        log_tb = torch.log_softmax(tb / loss_fn.teacher_temperature, 1)
        kl_inv = float((log_ta.exp() * (log_ta - log_tb)).sum(1).mean())
        used = int(torch.unique(ta.argmax(1)).numel())
    z = za.numpy()
    half = len(z) // 2
    probe = LogisticRegression(max_iter=2000).fit(z[:half], y[:half].numpy())
    return {"lambd": lambd, "beta": BETA, "seed": seed, "steps": steps,
            "marginal_entropy": terms["marginal_entropy"], "mutual_information": terms["mutual_information"],
            "effective_clusters": math.exp(terms["marginal_entropy"]), "argmax_clusters_used": used,
            "kl_invariance": kl_inv, "loss": terms["loss"],
            "probe_accuracy": float(probe.score(z[half:], y[half:].numpy())),
            "class_mean_rank": class_mean_rank(z, y.numpy(), tol=1e-3)}


def summarise(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and 95 % t-interval over seeds per lambda, and per-seed differences against lambda = 2.3.

    Returns
    -------
    tuple of pandas.DataFrame
        (summary: lambd, below_threshold, n_seeds, metric (mean), metric_ci_lo, metric_ci_hi;
        paired: lambd, metric, mean, ci_lo, ci_hi, n_seeds of metric(lambd) - metric(2.3), same seed).
    """
    rows, paired = [], []
    ref = df[df.lambd == REFERENCE_LAMBDA].set_index("seed")
    for lam, sub in df.groupby("lambd"):
        row = {"lambd": lam, "below_threshold": lam < 1 + BETA, "n_seeds": len(sub)}
        for c in METRICS:
            m, lo, hi = mean_ci(sub[c])
            row.update({c: m, f"{c}_ci_lo": lo, f"{c}_ci_hi": hi})
        rows.append(row)
        if lam != REFERENCE_LAMBDA and len(ref):
            paired += [{"lambd": lam, "minus_lambd": REFERENCE_LAMBDA, **d}
                       for d in paired_cis(sub.set_index("seed"), ref, METRICS)]
    return pd.DataFrame(rows), pd.DataFrame(paired)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reuse-runs", default=None, metavar="CSV")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "dissl_collapse"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}")
    gen = torch.Generator().manual_seed(args.seed)
    means = 1.5 * torch.randn(N_CLASSES, D_IN, generator=gen)
    test = sample_pairs(means, 4000, gen)
    lambdas = [0.5, 1.2, 1.8, 2.3, 3.0] if args.quick else [0.5, 1.0, 1.5, 1.8, 2.3, 3.0]
    seeds = list(range(args.seed, args.seed + (1 if args.quick else args.seeds)))
    steps = 400 if args.quick else 600
    old = (pd.read_csv(args.reuse_runs) if args.reuse_runs
           else pd.DataFrame(columns=["lambd", "seed", "steps"]))
    rows = []
    for lam in lambdas:
        for s in seeds:
            hit = old[(old.lambd == lam) & (old.seed == s) & (old.steps == steps)]
            if len(hit):
                rows.append(hit.iloc[0].to_dict())
                continue
            r = run(lam, s, steps, means, test)
            r["load_avg_1min"] = load_1min()
            rows.append(r)
            print(f"lambda={lam:.2f} seed={s}: H(M)={r['marginal_entropy']:.3f} "
                  f"(exp {r['effective_clusters']:.1f}), "
                  f"I(X;M)={r['mutual_information']:.3f}, used {r['argmax_clusters_used']}, "
                  f"KL_inv={r['kl_invariance']:.3f}, probe acc {r['probe_accuracy']:.3f}, "
                  f"rank {r['class_mean_rank']}", flush=True)
    df = pd.DataFrame(rows)
    df["cpu_model"] = machine()["cpu_model"]
    summary, paired = summarise(df)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_csv_atomic(df, args.out + "_runs.csv")
    save_csv_atomic(summary, args.out + ".csv")
    save_csv_atomic(paired, args.out + "_paired.csv")
    print(summary[["lambd", "n_seeds", "marginal_entropy", "marginal_entropy_ci_lo", "marginal_entropy_ci_hi",
                   "probe_accuracy", "argmax_clusters_used"]].to_string(index=False))
    print(paired[paired.metric.isin(["marginal_entropy", "probe_accuracy"])].to_string(index=False))

    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    ax[0].plot(df.lambd, df.marginal_entropy, "o", alpha=0.4, label="runs")
    ax[0].errorbar(summary.lambd, summary.marginal_entropy,
                   yerr=(summary.marginal_entropy - summary.marginal_entropy_ci_lo).fillna(0), fmt="-",
                   capsize=3, label="H(M), mean and 95 % t-interval")
    ax[0].plot(summary.lambd, summary.mutual_information, "--", label="I(X; M), mean")
    ax[0].axhline(math.log(N_CLASSES), color="gray", ls=":", label="log 10 (true classes)")
    ax[0].axvline(1 + BETA, color="r", ls=":", label="lambda = 1 + beta")
    ax[0].set_xlabel("lambda (marginal-entropy weight)")
    ax[0].set_ylabel("nats")
    ax[0].legend(fontsize=7)
    ax[1].plot(summary.lambd, summary.probe_accuracy, "o-", label="linear probe accuracy (true labels)")
    ax[1].plot(summary.lambd, summary.argmax_clusters_used / N_HEAD, "s-", label="pseudo-classes used / 16")
    ax[1].axvline(1 + BETA, color="r", ls=":")
    ax[1].set_xlabel("lambda")
    ax[1].legend(fontsize=7)
    fig.suptitle(f"DISSL, beta = {BETA}, {N_CLASSES} classes, {N_HEAD} pseudo-classes, "
                 f"{int(summary.n_seeds.max())} seeds")
    fig.tight_layout()
    save_figure_atomic(fig, args.out + ".png")
    plt.close(fig)


if __name__ == "__main__":
    main()
