"""Wall-clock speed of the kNN estimators (KL entropy, KSG MI) against straightforward baselines.

For every case (n in {1e3, 1e4, 1e5}, d in {2, 16, 64}; KSG uses d + d dims) this times, in one run:

* infossl (``knn_entropy`` / ``ksg_mutual_information``, ``algorithm="auto"``, numpy float64 input),
  and for KSG also a float32 torch input (the brute search then works in float32);
* a plain scipy cKDTree implementation written below (KL: one query; KSG: joint query with p=inf and
  ``query_ball_point(return_length=True)`` counts);
* NPEET from the optional ``npeet-plus`` package when importable (max-norm KL and KSG-1, with a 1e-10
  noise it adds itself), converted to nats.

A case whose predicted time (scaled from the previous n with the measured exponent) exceeds
``--max-seconds`` is recorded as skipped with the prediction. Every row records the CPU model, SIMD flags,
cores, 1-minute load and torch threads (``benchmarks/_machine.py``). The peak resident memory of KL at
n = 1e5, d = 64 is measured in a fresh subprocess (``resource.getrusage`` maxrss).

    python benchmarks/speed.py --out benchmarks/results/speed_cpu.csv
    python benchmarks/speed.py --quick            # n in {1e3, 1e4}, d in {2, 64}
    python benchmarks/speed.py --estimators ksg --n 10000 --d 64 --no-memory   # one case
"""

import argparse
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import torch
from scipy.spatial import cKDTree
from scipy.special import digamma

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import load_1min, machine as machine_info  # noqa: E402

from infossl.estimators.knn import knn_entropy, ksg_mutual_information  # noqa: E402
from infossl.io import save_csv_atomic  # noqa: E402

try:
    from npeet_plus import estimators as npeet
except ImportError:  # optional
    npeet = None

K = 3


# ------------------------------------------------------------------------------------------ baselines
def kl_ckdtree(z, k=K):
    """Kozachenko–Leonenko entropy (nats), Euclidean, with one cKDTree query."""
    n, d = z.shape
    r = cKDTree(z).query(z, k=k + 1, workers=-1)[0][:, k]
    log_v = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)
    return digamma(n) - digamma(k) + log_v + d * np.log(r).mean()


def ksg_ckdtree(x, y, k=K):
    """KSG algorithm 1 (nats) with cKDTree: joint max-norm query, strict counts in each marginal."""
    n = len(x)
    eps = cKDTree(np.hstack([x, y])).query(np.hstack([x, y]), k=k + 1, p=np.inf, workers=-1)[0][:, k]
    r = np.nextafter(eps, 0)
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True, workers=-1) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True, workers=-1) - 1
    return digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))


def npeet_entropy(z):
    return npeet.entropy(z, k=K, base=math.e)


def npeet_mi(x, y):
    return npeet.mi(x, y, k=K, base=math.e)


# ------------------------------------------------------------------------------------------- harness
def timed(fn, *args):
    t0 = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - t0, float(value)


def data(kind, n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    if kind == "kl":
        return (x,)
    return x, 0.8 * x + 0.6 * rng.standard_normal((n, d))  # true MI = -d/2 log(1 - 0.64) nats


def memory_case(n, d, seed):
    """Run one KL case and print the peak resident set size in MiB (called in a subprocess)."""
    (z,) = data("kl", n, d, seed)
    knn_entropy(z[:1000])  # warm up lazy imports / thread pools outside the measurement
    try:  # Linux: reset the peak-RSS counter so that it covers the call only
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _status_kib("VmRSS") / 1024
    t, v = timed(knn_entropy, z)
    peak = _status_kib("VmHWM") / 1024 if os.path.exists("/proc/self/status") else (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"{peak:.1f} {before:.1f} {t:.3f} {v!r}")


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _memory_row(n_mem, seed, machine):
    out = subprocess.run([sys.executable, __file__, "--memory-case", str(n_mem), "64", "--seed", str(seed)],
                         capture_output=True, text=True, check=True).stdout.split()
    return dict(estimator="kl", impl="infossl", dtype="float64", n=n_mem, d=64, dims=64,
                truth=round(0.5 * 64 * math.log(2 * math.pi * math.e), 6), status="memory",
                seconds=out[2], value=out[3], ratio_vs_infossl="", load_avg_1min=load_1min(),
                note=f"peak RSS during the call {out[0]} MiB; RSS before it {out[1]} MiB (input "
                     f"{n_mem * 64 * 8 / 2**20:.0f} MiB)", **machine)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n in {1e3, 1e4}, d in {2, 64}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/speed_cpu.csv")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="skip cases predicted to take longer")
    ap.add_argument("--n", nargs="+", type=int, help="sample sizes to run instead of the default grid")
    ap.add_argument("--d", nargs="+", type=int,
                    help="dimensions (per side for KSG) instead of the default grid")
    ap.add_argument("--estimators", nargs="+", choices=("kl", "ksg"), default=("kl", "ksg"))
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocess")
    ap.add_argument("--memory-case", nargs=2, type=int, metavar=("N", "D"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_case:
        memory_case(*args.memory_case, args.seed)
        return

    ns = args.n or ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    ds = args.d or ([2, 64] if args.quick else [2, 16, 64])
    machine = {key: v for key, v in machine_info().items() if key != "load_avg_1min"}
    print("machine:", machine, flush=True)

    impls = {
        "kl": [("infossl", lambda z: knn_entropy(z), "float64"), ("ckdtree", kl_ckdtree, "float64")],
        "ksg": [("infossl", lambda x, y: ksg_mutual_information(x, y), "float64"),
                ("infossl", lambda x, y: float(ksg_mutual_information(torch.from_numpy(x).float(),
                                                                      torch.from_numpy(y).float())), "float32"),
                ("ckdtree", ksg_ckdtree, "float64")],
    }
    if npeet is not None:
        impls["kl"].append(("npeet", npeet_entropy, "float64"))
        impls["ksg"].append(("npeet", npeet_mi, "float64"))

    rows = []
    history = {}  # (estimator, impl, dtype, d) -> list of (n, seconds)
    for estimator in args.estimators:
        for d in ds:
            for n in ns:
                arrays = data(estimator, n, d, args.seed)
                truth = 0.5 * d * math.log(2 * math.pi * math.e) if estimator == "kl" else -0.5 * d * math.log(0.36)
                case = {}
                for impl, fn, dtype in impls[estimator]:
                    key = (estimator, impl, dtype, d)
                    past = history.get(key, [])
                    predicted = None
                    if past:
                        (n0, t0), (n1, t1) = (past[-2] if len(past) > 1 else (past[-1][0] / 10, past[-1][1] / 10)), past[-1]
                        expo = min(2.0, max(1.0, math.log(max(t1, 1e-3) / max(t0, 1e-3)) / math.log(n1 / n0)))
                        predicted = t1 * (n / n1) ** expo
                    row = dict(estimator=estimator, impl=impl, dtype=dtype, n=n, d=d,
                               dims=d if estimator == "kl" else 2 * d, truth=round(truth, 6),
                               load_avg_1min=load_1min(), **machine)
                    if predicted is not None and predicted > args.max_seconds:
                        row.update(status="skipped", seconds="", value="",
                                   note=f"predicted {predicted:.0f} s > {args.max_seconds:.0f} s (from n={past[-1][0]})")
                    else:
                        secs, value = timed(fn, *arrays)
                        history.setdefault(key, []).append((n, secs))
                        case[(impl, dtype)] = secs
                        row.update(status="ok", seconds=round(secs, 4), value=round(value, 6), note="")
                    rows.append(row)
                    print(f"{estimator} n={n} d={d} {impl:8s} {dtype}: {row['status']} {row['seconds']} s "
                          f"value={row['value']} (truth {truth:.4f}) {row['note']}", flush=True)
                for row in rows[-len(impls[estimator]):]:  # baseline / infossl (same dtype family: float64)
                    ours = case.get(("infossl", row["dtype"] if row["impl"] == "infossl" else "float64"))
                    mine = case.get((row["impl"], row["dtype"]))
                    row["ratio_vs_infossl"] = round(mine / ours, 3) if ours and mine else ""

    if not args.no_memory:  # peak memory of KL at the largest n, d = 64, in a fresh process
        rows.append(_memory_row(ns[-1], args.seed, machine))
        print("memory:", rows[-1]["note"], flush=True)

    fields = ["estimator", "impl", "dtype", "n", "d", "dims", "status", "seconds", "ratio_vs_infossl", "value",
              "truth", "note", "load_avg_1min", "cpu_model", "cpu_flags", "cpu_count", "torch_threads", "torch",
              "platform"]
    save_csv_atomic(pd.DataFrame(rows, columns=fields), args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
