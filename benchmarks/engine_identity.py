"""Every kNN estimator value, bit for bit, with this tree and with another source tree of infossl.

The exact neighbour engine may change how it searches but never what it returns: this script evaluates a
grid of estimator values here and, in a subprocess with ``PYTHONPATH`` set to the other tree, there, and
compares them as Python ``repr`` strings (identical floats). The grid: KSG variants 1 and 2 and KL
(Euclidean and max-norm) with ``algorithm`` auto / brute / kd_tree on float64 numpy, float32 tensors and
data rounded to one decimal (ties and duplicates, ``duplicates="jitter"``, ``random_state=0``), n in
{300, 1200, 5000} (5000 crosses the engine's 4096-column blocks), d in {1, 2, 8, 16, 64} (n = 5000: d in
{8, 64}, brute force only); TwoNN, the Levina–Bickel MLE, the kNN label MI and corrected KSG.
``--euclid-kernel`` pins the Euclidean first screen of this tree (float32 or bfloat16, see
``neighbours._euclid_kernel``) for every width, so that each kernel is compared with the other tree.

    python benchmarks/engine_identity.py --against /path/to/other/tree \
        --out benchmarks/results/engine_values_identity.csv
    python benchmarks/engine_identity.py --against /path/to/other/tree --euclid-kernel bfloat16 \
        --out benchmarks/results/engine_values_identity_bf16.csv
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import torch

from infossl.estimators.corrected import corrected_ksg_mutual_information
from infossl.estimators.intrinsic import mle_dimension, twonn_dimension
from infossl.estimators.knn import knn_entropy, ksg_mutual_information
from infossl.estimators.labels import knn_label_mutual_information
from infossl.io import save_csv_atomic


def _data(kind, n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = 0.8 * x + 0.6 * rng.standard_normal((n, d))
    if kind == "ties":
        x, y = np.round(x, 1), np.round(y, 1)
    if kind == "float32":
        return torch.from_numpy(x).float(), torch.from_numpy(y).float()
    return x, y


def cases():
    """(name, zero-argument function) for every value of the grid."""
    out = []
    for n in (300, 1200, 5000):
        for d in (1, 2, 8, 16, 64):
            if n == 5000 and d not in (8, 64):
                continue
            for kind in ("float64", "float32", "ties"):
                extra = dict(duplicates="jitter", random_state=0) if kind == "ties" else {}
                for algo in ("brute",) if n == 5000 else ("auto", "brute", "kd_tree"):
                    for variant in (1, 2):
                        out.append((f"ksg v{variant} {algo} {kind} n={n} d={d}+{d}",
                                    lambda n=n, d=d, kind=kind, algo=algo, v=variant, e=extra:
                                    ksg_mutual_information(*_data(kind, n, d), variant=v, algorithm=algo,
                                                           **e)))
                    for metric in ("euclidean", "chebyshev"):
                        out.append((f"kl {metric} {algo} {kind} n={n} d={d}",
                                    lambda n=n, d=d, kind=kind, algo=algo, m=metric, e=extra:
                                    knn_entropy(_data(kind, n, d)[0], metric=m, algorithm=algo, **e)))
    for n in (1200, 5000):
        z = _data("float64", n, 8)[0] @ np.random.default_rng(1).standard_normal((8, 20))
        out.append((f"twonn n={n}", lambda z=z: twonn_dimension(z).value))
        out.append((f"mle n={n}", lambda z=z: mle_dimension(z).value))
        labels = (z[:, 0] > 0).astype(int) + (z[:, 1] > 0.5)
        out.append((f"label knn n={n}", lambda z=z, lab=labels: knn_label_mutual_information(z, lab)))
    for d in (8, 16):
        out.append((f"corrected n=1500 d={d}", lambda d=d: corrected_ksg_mutual_information(
            *_data("float64", 1500, d))))
    return out


def values():
    """{case: repr(float(value))} for the whole grid, with this process's infossl."""
    res = {}
    for name, fn in cases():
        try:
            res[name] = repr(float(fn()))
        except Exception as exc:  # an error is a result too: both trees must raise the same one
            res[name] = f"error: {type(exc).__name__}: {exc}"
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", help="the other source tree (its root, holding infossl/)")
    ap.add_argument("--out", default="benchmarks/results/engine_values_identity.csv")
    ap.add_argument("--euclid-kernel", choices=("auto", "float32", "bfloat16"), default="auto",
                    help="pin this tree's Euclidean first screen (default: the engine's measured choice)")
    ap.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)  # the subprocess: JSON out
    args = ap.parse_args()
    if args.emit:
        if args.euclid_kernel != "auto":
            from infossl.estimators.neighbours import pinned_euclidean_screen

            with pinned_euclidean_screen(args.euclid_kernel):
                print(json.dumps(values()))
        else:
            print(json.dumps(values()))
        return
    if not args.against:
        ap.error("--against DIR is required")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(args.against))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--emit"], env=env, capture_output=True,
                          text=True)
    if proc.returncode:
        raise RuntimeError(f"the grid failed with {args.against}:\n{proc.stderr[-3000:]}")
    base = json.loads(proc.stdout.strip().splitlines()[-1])
    here = values()
    rows = [dict(case=c, base_value=base[c], engine_value=v, identical=base[c] == v) for c, v in here.items()]
    table = pd.DataFrame(rows)
    save_csv_atomic(table, args.out)
    same = int(table["identical"].sum())
    print(f"{same} of {len(table)} values identical; wrote {args.out}")
    for r in table[~table["identical"]].itertuples():
        print("DIFFERENT:", r.case, r.base_value, r.engine_value)


if __name__ == "__main__":
    main()
