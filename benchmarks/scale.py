"""Scale of ``mutual_information(x, y)`` (method "auto") on wide embeddings: time and peak memory (issue 11).

Targets: n = 10^5 with 512 + 512 dims in minutes on 2 CPU cores with memory bounded by a chunk size, and
2048 + 2048 dims at n = 10^4 in under 2 minutes. Each case runs in a fresh subprocess so that its peak
resident set is its own (Linux: the peak counter is reset just before the call), on two families with
exact MI:

* ``gaussian``: x ~ N(0, I_D), y = 0.8 x + 0.6 e (full dimension; "auto" takes the copula route);
* ``embedded``: the k = 8 pair of :func:`infossl.synthetic.embedded_gaussian_pair` (low intrinsic dimension; "auto"
  takes the latent route).

In the same subprocess and on the same data it times a baseline that any second-order estimator must
pay at least once: the float64 Gram product ``[x y]^T [x y]`` with numpy (BLAS, all threads). The ratio
``seconds / baseline_seconds`` is the machine-independent figure; the load average is recorded beside it.

    python benchmarks/scale.py                    # all cases, writes results/scale_cpu.csv
    python benchmarks/scale.py --quick            # two small cases, a smoke run
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch

# (family, D per side, n, target seconds or None)
CASES = [
    ("gaussian", 512, 100_000, None),
    ("embedded", 512, 100_000, None),
    ("gaussian", 2048, 10_000, 120.0),
    ("embedded", 2048, 10_000, 120.0),
]
QUICK = [("gaussian", 256, 10_000, None), ("embedded", 256, 10_000, None)]
TARGET_MINUTES = 10.0  # "in minutes": we hold the n = 1e5 cases to 10 minutes


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024
    return float("nan")


def _data(family: str, d: int, n: int, seed: int):
    if family == "gaussian":
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, d))
        y = 0.8 * x + 0.6 * rng.standard_normal((n, d))
        return x, y, -0.5 * d * np.log(1 - 0.64)
    from infossl.synthetic import embedded_gaussian_pair

    pair = embedded_gaussian_pair(8, d, mi=2.69, random_state=0)
    x, y = pair.sample(n, random_state=seed)
    return x, y, pair.mutual_information()


def one_case(family: str, d: int, n: int, seed: int) -> dict:
    """Run one case in this process and return its record (called in a fresh subprocess)."""
    import infossl

    x, y, truth = _data(family, d, n, seed)
    infossl.mutual_information(x[:600, :4], y[:600, :4])  # warm up imports and thread pools
    t0 = time.perf_counter()
    xy = np.hstack([x, y])
    xy.T @ xy
    baseline = time.perf_counter() - t0
    del xy
    try:  # Linux: reset the peak-RSS counter so that it covers the call only
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _status_mib("VmRSS")
    routes: list[str] = []  # the route "auto" chose, from its DEBUG record on the "infossl" logger
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: routes.append(record.getMessage())
    log = logging.getLogger("infossl")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    load = os.getloadavg()[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        value = float(infossl.mutual_information(x, y))
        seconds = time.perf_counter() - t0
    peak = _status_mib("VmHWM")
    route = routes[-1].rsplit("-> ", 1)[-1] if routes else "?"
    return dict(family=family, dim_x=d, dim_y=d, n=n, route=route, truth=float(truth), value=value,
                seconds=seconds, baseline_seconds=baseline, ratio_vs_baseline=seconds / baseline,
                input_mib=(x.nbytes + y.nbytes) / 2**20, rss_before_mib=before, peak_rss_mib=peak,
                extra_mib=peak - before, load_1min_before=load, load_1min_after=os.getloadavg()[0],
                warnings=" | ".join(str(w.message) for w in caught)[:300])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two small cases (256 + 256 dims, n = 10^4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "scale_cpu.csv"))
    p.add_argument("--case", nargs=4, metavar=("FAMILY", "D", "N", "SEED"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.case:
        fam, d, n, seed = args.case
        print("RESULT " + json.dumps(one_case(fam, int(d), int(n), int(seed))), flush=True)
        return
    from infossl.io import write_text_atomic

    machine = (f"{platform.platform()} cpus={os.cpu_count()} torch={torch.__version__} "
               f"threads={torch.get_num_threads()}")
    print("machine:", machine, flush=True)
    rows = []
    for fam, d, n, target in (QUICK if args.quick else CASES):
        proc = subprocess.run([sys.executable, __file__, "--case", fam, str(d), str(n), str(args.seed)],
                              capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            raise RuntimeError(f"case {fam} {d}+{d} n={n} failed:\n{proc.stderr[-3000:]}")
        row = json.loads(lines[-1][len("RESULT "):])
        limit = target if target is not None else 60 * TARGET_MINUTES
        row.update(target_seconds=limit, within_target=row["seconds"] <= limit, machine=machine)
        rows.append(row)
        print(f"{fam:9s} {d}+{d} n={n:<7} route={row['route']:13s} {row['seconds']:7.1f} s "
              f"(baseline {row['baseline_seconds']:.2f} s, x{row['ratio_vs_baseline']:.0f}) "
              f"value={row['value']:.3f} truth={row['truth']:.3f} input={row['input_mib']:.0f} MiB "
              f"extra peak={row['extra_mib']:.0f} MiB load={row['load_1min_before']:.2f}", flush=True)
        write_text_atomic(pd.DataFrame(rows).to_csv(index=False, float_format="%.5g"), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
