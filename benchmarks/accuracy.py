"""Accuracy of the estimators against exact answers: bias and RMSE over seeds, n and d sweeps.

Mutual information on the families of ``infossl.synthetic.FAMILIES`` (Gaussian, Student-t, normal-CDF and
half-cube transforms, high MI, collapsed) at dims 1+1 ... 25+25 and beyond; entropy on Gaussian, uniform
and Student-t distributions. One row per (quantity, family, dims, n, method) with the truth, the mean
estimate, bias, RMSE, relative error, seconds, and whether |bias| meets the "auto" target
(within 10 % or 0.1 nats).

    python benchmarks/accuracy.py            # full sweep, writes benchmarks/results/accuracy.csv
    python benchmarks/accuracy.py --quick    # a small smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd
import torch

import infossl
from infossl.io import write_text_atomic
from infossl.synthetic import MultivariateNormal, StudentT, UniformBox, make_family

MI_METHODS = ["auto", "gaussian", "copula", "ksg"]
ENTROPY_METHODS = ["auto", "gaussian", "copula", "knn"]


def within_target(bias: float, truth: float) -> bool:
    return abs(bias) <= max(0.1, 0.1 * abs(truth))


def run_case(fn, samples, truth):
    vals, secs = [], []
    for s in samples:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals.append(float(fn(*s)))
        secs.append(time.perf_counter() - t0)
    vals = np.asarray(vals)
    bias = float(vals.mean() - truth)
    return dict(truth=truth, mean=float(vals.mean()), bias=bias, rmse=float(np.sqrt(((vals - truth) ** 2).mean())),
                rel_error=abs(bias) / abs(truth) if truth else float("nan"), seconds=float(np.mean(secs)),
                within_target=within_target(bias, truth))


def mi_rows(args):
    dims = [1, 2, 5, 25] if args.quick else [1, 2, 3, 5, 10, 25, 50]
    ns = [2000] if args.quick else [1000, 5000]
    for fam in infossl.synthetic.families():
        for d in dims:
            dist = make_family(fam, d)
            truth = dist.mutual_information()
            for n in ns:
                samples = [dist.sample(n, random_state=args.seed + r) for r in range(args.reps)]
                for method in MI_METHODS:
                    if method == "ksg" and 2 * d > 50:
                        continue  # O(n^2 d) and known to fail there; see speed.py for timings
                    row = run_case(lambda x, y: infossl.mutual_information(x, y, method=method), samples, truth)
                    yield dict(quantity="mi", family=fam, dim_x=d, dim_y=d, n=n, method=method, **row)
                    print(f"mi {fam:10s} {d:>3}+{d:<3} n={n:<5} {method:8s} truth={truth:7.3f} "
                          f"mean={row['mean']:7.3f} bias={row['bias']:+.3f} ok={row['within_target']}", flush=True)


def entropy_rows(args):
    dims = [1, 2, 5] if args.quick else [1, 2, 3, 5, 10, 25]
    ns = [2000] if args.quick else [1000, 5000]
    for d in dims:
        rng = np.random.default_rng(1000 + d)
        a = rng.standard_normal((d, d))
        cov = a @ a.T / d + 0.5 * np.eye(d)
        dists = {"gaussian": MultivariateNormal(cov), "uniform": UniformBox(np.zeros(d), np.arange(1, d + 1.0)),
                 "student-t": StudentT(5.0, cov)}
        for fam, dist in dists.items():
            truth = dist.entropy()
            for n in ns:
                samples = [(dist.sample(n, random_state=args.seed + r),) for r in range(args.reps)]
                for method in ENTROPY_METHODS:
                    row = run_case(lambda z: infossl.entropy(z, method=method), samples, truth)
                    yield dict(quantity="entropy", family=fam, dim_x=d, dim_y=0, n=n, method=method, **row)
                    print(f"H  {fam:10s} d={d:<4} n={n:<5} {method:8s} truth={truth:7.3f} "
                          f"mean={row['mean']:7.3f} bias={row['bias']:+.3f} ok={row['within_target']}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reps", type=int, default=None, help="seeds per case (default 5, quick 2)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "accuracy.csv"))
    args = p.parse_args()
    args.reps = args.reps or (2 if args.quick else 5)
    rows = list(mi_rows(args)) + list(entropy_rows(args))
    df = pd.DataFrame(rows)
    df["machine"] = f"{platform.machine()} {platform.system()} cpus={os.cpu_count()} torch={torch.__version__}"
    write_text_atomic(df.to_csv(index=False, float_format="%.5g"), args.out)
    auto = df[df.method == "auto"]
    print(f"\nauto within target: {int(auto.within_target.sum())}/{len(auto)} cases; wrote {args.out}")


if __name__ == "__main__":
    main()
