"""The two Euclidean first screens of the exact k-NN search, timed in one run: float32 against bfloat16.

``neighbours._euclid_kernel`` picks one screen per width from a measured GEMM tile; this script times the
whole search (``nearest_neighbours``, the engine's workers) with each screen pinned
(``pinned_euclidean_screen``), interleaved, so the choice can be checked against the search it serves. The
neighbours are identical whichever screen runs (checked here on every call). Every row records the CPU
model, flags and load (``benchmarks/_machine.py``).

    python benchmarks/euclid_screens.py --out benchmarks/results/euclid_screens.csv
    python benchmarks/euclid_screens.py --n 100000 --dims 64 --repeats 2 --out /tmp/kl_screens.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import load_1min, machine  # noqa: E402

from infossl.estimators import neighbours as nbr  # noqa: E402
from infossl.io import save_csv_atomic  # noqa: E402

SCREENS = ("float32", "bfloat16")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dims", default="64,256", help="comma-separated widths")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2, help="interleaved rounds of (float32, bfloat16)")
    ap.add_argument("--out", default="benchmarks/results/euclid_screens.csv")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for d in (int(v) for v in args.dims.split(",")):
        z = torch.from_numpy(rng.standard_normal((args.n, d))).float()
        chosen = nbr._euclid_kernel(d, z.device)
        times: dict = {s: [] for s in SCREENS}
        reference = None
        for _ in range(args.repeats):
            for screen in SCREENS:
                with nbr.pinned_euclidean_screen(screen):
                    t0 = time.perf_counter()
                    dist, index = nbr.nearest_neighbours(z, args.k)
                    times[screen].append(time.perf_counter() - t0)
                if reference is None:
                    reference = (dist, index)
                elif not (torch.equal(dist, reference[0]) and torch.equal(index, reference[1])):
                    raise SystemExit(f"d={d}: the {screen} screen gave other neighbours")  # never expected
        for screen in SCREENS:
            best = min(times[screen])
            runs = ";".join(f"{t:.3f}" for t in times[screen])
            rows.append(dict(n=args.n, d=d, k=args.k, screen=screen, chosen=screen == chosen,
                             seconds_min=round(best, 3), seconds_all=runs, load_now=load_1min(), **machine()))
        f32, bf16 = (min(times[s]) for s in SCREENS)
        print(f"n={args.n} d={d}: float32 {f32:.2f} s, bfloat16 {bf16:.2f} s (float32 / bfloat16 "
              f"{f32 / bf16:.2f}); the engine chooses {chosen}; neighbours identical", flush=True)
    save_csv_atomic(pd.DataFrame(rows), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
