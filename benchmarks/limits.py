"""The machine's distance throughput limit, and the kNN estimators' time as a multiple of it.

Part 1 times the best achievable rate of the two distance computations the exact neighbour search needs, in
"pair-features per second" (one |a_f - b_f| folded into a max-norm, or one multiply-add of a dot product),
on all the cores the engine uses (one worker thread per core, each on its own blocks of rows, torch ops
single-threaded inside, as in ``infossl.estimators.neighbours``):

* max-norm: ``pdist`` cross block (it computes the within-block pairs too: rate counted on the useful
  cross pairs), feature-group broadcast kernel, plain broadcast ``(a - b).abs().amax(-1)``, and
  ``torch.cdist(p=inf)``; the limit is the fastest of them;
* Euclidean: a float32 / float64 GEMM (``addmm``) and ``torch.cdist(p=2)``.

Part 2 times the estimators (KSG, ``ksg_mutual_information``; KL, ``knn_entropy``) and divides by the time
the limit allows for the distances they must compute: KSG brute force ``n^2 (d_x + d_y)`` max-norm
pair-features, KL brute force ``n^2 d`` GEMM multiply-adds. ``ratio_to_limit`` = 1 would be a search
that does nothing but distances at the best measured rate. With ``--busy`` each estimator case is timed again
beside one ``python -c 'while True: pass'`` process and the busy / quiet ratio recorded (same run).

Every row carries the CPU model, SIMD flags, core count, 1-minute load and torch threads
(``benchmarks/_machine.py``). Times are medians of ``--repeats`` runs.

    python benchmarks/limits.py --out benchmarks/results/limits_cpu.csv --busy
    python benchmarks/limits.py --quick                # small blocks and n, for a smoke run
    python benchmarks/limits.py --large                # adds KSG n=1e5 16+16 and KL n=1e5 d=64
    python benchmarks/limits.py --large-only --limits-from benchmarks/results/limits_cpu.csv \
        --out benchmarks/results/limits_large_cpu.csv   # only those two, against limits measured before
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import load_1min, machine  # noqa: E402

from infossl.estimators.knn import knn_entropy, ksg_mutual_information  # noqa: E402
from infossl.io import save_csv_atomic  # noqa: E402


# ------------------------------------------------------------------------------------------------ kernels
def _pdist_cross(a, b):
    c = a.shape[0]
    v = torch.nn.functional.pdist(torch.cat([a, b]), p=float("inf"))
    m = c + b.shape[0]
    i = torch.arange(c).unsqueeze(1)
    j = torch.arange(b.shape[0]).unsqueeze(0) + c
    return v[i * m - i * (i + 1) // 2 + (j - i - 1)]


def _features(a, b, group=4):
    at, bt = a.T.unsqueeze(2), b.T.unsqueeze(1)  # (d, c, 1), (d, 1, w)
    out = None
    for f in range(0, at.shape[0], group):
        part = (at[f:f + group] - bt[f:f + group]).abs_().amax(dim=0)
        out = part if out is None else torch.maximum(out, part, out=out)
    return out


def _broadcast(a, b):
    return (a.unsqueeze(1) - b.unsqueeze(0)).abs_().amax(dim=2)


def _cdist_inf(a, b):
    return torch.cdist(a, b, p=float("inf"))


def _gemm(a, b):
    return torch.addmm(torch.zeros(1, dtype=a.dtype), a, b.T, alpha=-2.0)


def _cdist2(a, b):
    return torch.cdist(a, b, p=2.0)


MAXNORM = {"pdist_cross": _pdist_cross, "feature_groups": _features, "broadcast": _broadcast,
           "cdist_inf": _cdist_inf}
EUCLID = {"gemm": _gemm, "cdist_p2": _cdist2}


def kernel_rate(fn, n, d, dtype, block, workers, repeats):
    """Median pair-features per second of ``fn`` over all (block x block) tiles of an (n, n) problem,
    rows split among ``workers`` threads (torch ops single-threaded inside, as the engine runs them)."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, d, generator=gen).to(dtype)
    starts = list(range(0, n, block))

    def strip(s):
        a = z[s:s + block]
        for t in starts:
            fn(a, z[t:t + block])

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        strip(0)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(strip, starts))
            times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return n * n * d / statistics.median(times)


# ------------------------------------------------------------------------------------------- estimators
def _pair(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, 0.8 * x + 0.6 * rng.standard_normal((n, d))


def estimator_cases(quick, large):
    n = 2000 if quick else 10_000
    cases = []
    for dtype in ("float64", "float32"):
        x, y = _pair(n, 64)
        if dtype == "float32":
            x, y = torch.from_numpy(x).float(), torch.from_numpy(y).float()
        cases.append(dict(case=f"ksg n={n} 64+64 {dtype}", kind="ksg", n=n, dims=128, dtype=dtype,
                          fn=lambda x=x, y=y: float(ksg_mutual_information(x, y))))
    z = _pair(n, 64)[0]
    cases.append(dict(case=f"kl n={n} d=64 float64", kind="kl", n=n, dims=64, dtype="float64",
                      fn=lambda z=z: float(knn_entropy(z))))
    if large:
        x, y = _pair(100_000, 16)
        cases.append(dict(case="ksg n=100000 16+16 float64", kind="ksg", n=100_000, dims=32, dtype="float64",
                          fn=lambda: float(ksg_mutual_information(x, y))))
        z = _pair(100_000, 64)[0]
        cases.append(dict(case="kl n=100000 d=64 float64", kind="kl", n=100_000, dims=64, dtype="float64",
                          fn=lambda: float(knn_entropy(z))))
    return cases


def timed(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/results/limits_cpu.csv")
    ap.add_argument("--quick", action="store_true", help="n = 1024 blocks and n = 2000 estimator cases")
    ap.add_argument("--large", action="store_true", help="also KSG n=1e5 16+16 and KL n=1e5 d=64 (minutes)")
    ap.add_argument("--large-only", action="store_true",
                    help="only the --large cases (limit from --limits-from)")
    ap.add_argument("--limits-from",
                    help="a CSV this script wrote: reuse its measured limits instead of timing them")
    ap.add_argument("--only", help="only the estimator cases whose name contains this, e.g. 'kl n=100000'")
    ap.add_argument("--busy", action="store_true",
                    help="time every estimator case again beside a busy process")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    workers = max(1, min(torch.get_num_threads(), os.cpu_count() or 1))
    nk = 1024 if args.quick else 4096
    print("machine:", machine(), flush=True)
    rows, best = [], {}
    if args.limits_from:
        old = pd.read_csv(args.limits_from)
        for r in old[(old["part"] == "limit") & (old["kernel"] == "best")].itertuples():
            best[(r.family, r.dtype, int(r.d))] = float(r.pair_features_per_s)
    for dtype in () if args.limits_from else (torch.float32, torch.float64):
        for d in (16, 64):
            for family, kernels in (("maxnorm", MAXNORM), ("euclidean", EUCLID)):
                for name, fn in kernels.items():
                    block = 1024 if name in ("gemm", "cdist_p2") else (64 if name == "broadcast" else 256)
                    rate = kernel_rate(fn, nk, d, dtype, block, workers, args.repeats)
                    key = (family, str(dtype).split(".")[-1], d)
                    best[key] = max(best.get(key, 0.0), rate)
                    rows.append(dict(part="limit", family=family, kernel=name, dtype=key[1], d=d, n=nk,
                                     workers=workers, pair_features_per_s=f"{rate:.4g}", **machine()))
                    print(f"{family:9s} {name:15s} {key[1]} d={d}: {rate / 1e9:.2f} G pair-features/s",
                          flush=True)
    for key, rate in best.items() if not args.limits_from else ():
        rows.append(dict(part="limit", family=key[0], kernel="best", dtype=key[1], d=key[2], n=nk,
                         workers=workers, pair_features_per_s=f"{rate:.4g}", **machine()))

    def limit_seconds(case):
        # the search's distance work: every ordered pair of rows, every feature; at the best rate measured
        # for the nearest measured width (16 or 64) in the screening dtype (float32 for KSG on the CPU)
        d = 64 if case["dims"] >= 40 else 16
        if case["kind"] == "ksg":
            rate = best[("maxnorm", "float32", d)]
        else:
            rate = best[("euclidean", "float32", d)]
        return case["n"] ** 2 * case["dims"] / rate

    busy_cmd = [sys.executable, "-c", "while True: pass"]
    cases = estimator_cases(args.quick, args.large or args.large_only)
    if args.large_only:
        cases = [c for c in cases if c["n"] > 10_000]
    if args.only:
        cases = [c for c in cases if args.only in c["case"]]
    for case in cases:
        secs, value = timed(case["fn"], args.repeats if case["n"] <= 10_000 else 1)
        lim = limit_seconds(case)
        row = dict(part="estimator", case=case["case"], kind=case["kind"], n=case["n"], dims=case["dims"],
                   dtype=case["dtype"], seconds=round(secs, 3), value=value, limit_seconds=round(lim, 3),
                   ratio_to_limit=round(secs / lim, 2), workers=workers, **machine())
        msg = f"{case['case']}: {secs:.2f} s, {secs / lim:.2f}x the limit ({lim:.2f} s), value {value:.6f}"
        if args.busy:
            proc = subprocess.Popen(busy_cmd)
            try:
                time.sleep(0.5)
                bsecs, bvalue = timed(case["fn"], args.repeats if case["n"] <= 10_000 else 1)
                busy_load = load_1min()
            finally:
                proc.kill()
                proc.wait()
            if bvalue != value:
                raise RuntimeError(f"{case['case']}: value {bvalue!r} beside a busy process "
                                   f"!= {value!r} quiet")
            row.update(busy_seconds=round(bsecs, 3), busy_over_quiet=round(bsecs / secs, 2),
                       busy_load_avg_1min=busy_load)
            msg += f"; beside a busy process {bsecs:.2f} s ({bsecs / secs:.2f}x)"
        rows.append(row)
        print(msg, flush=True)
    fields = ["part", "family", "kernel", "case", "kind", "n", "d", "dims", "dtype", "workers",
              "pair_features_per_s", "seconds", "limit_seconds", "ratio_to_limit", "busy_seconds",
              "busy_over_quiet", "busy_load_avg_1min", "value", "cpu_model", "cpu_flags", "cpu_count",
              "load_avg_1min", "torch_threads", "torch", "platform"]
    save_csv_atomic(pd.DataFrame(rows, columns=fields), args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
