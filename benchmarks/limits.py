"""The machine's distance throughput limit, and the kNN estimators' time as a multiple of it.

Part 1 times the best achievable rate of the two distance computations the exact neighbour search needs, in
"pair-features per second" (one |a_f - b_f| folded into a max-norm, or one multiply-add of a dot product),
on all the cores the engine uses (one worker thread per core, each on its own blocks of rows, torch ops
single-threaded inside, as in ``infossl.estimators.neighbours``):

* max-norm: the engine's own slab kernels (``pdist`` cross block, feature groups, and the feature groups on
  the int16 grid of KSG's screen), a coordinate loop (d passes of sub, abs and max over one tile held in
  cache) at three tile shapes, ``torch.cdist(p=inf)`` and faiss's ``METRIC_Linf`` pairwise distances;
* Euclidean: one GEMM per (rows, 4096) tile, the engine's two first screens (a float32 GEMM tile and its
  running minimum; a bfloat16 GEMM tile and the running integer minimum of its bits, AMX / AVX512-BF16
  where the CPU has them), ``torch.cdist(p=2)`` and faiss's exact ``IndexFlatL2`` search (GEMM and
  selection).

faiss (``faiss-cpu``) is optional: its kernels are timed when it is installed. The limit of each family and
width is the fastest kernel measured (float32 data), so it is an upper bound on the distance throughput
among the kernels tried here, including the engine's own: an estimator whose search did nothing but its
distances with the fastest of them would read ``ratio_to_limit`` = 1.

Part 2 times the estimators (KSG, ``ksg_mutual_information``; KL, ``knn_entropy``) and divides by the time
the limit allows for the distances they must compute: KSG brute force ``n^2 (d_x + d_y)`` max-norm
pair-features, KL brute force ``n^2 d`` GEMM multiply-adds. ``ratio_to_limit`` = 1 would be a search
that does nothing but distances at the best measured rate. With ``--busy`` each estimator case is timed again
beside one ``python -c 'while True: pass'`` process and the busy / quiet ratio recorded (same run);
``--compare-with DIR`` times each case again with another source tree of infossl (a subprocess of the same
run, values compared) and ``--npeet`` times NPEET's KSG on the KSG cases.

Every row carries the CPU model, SIMD flags, core count, 1-minute load and torch threads
(``benchmarks/_machine.py``). Times are medians of ``--repeats`` runs.

    python benchmarks/limits.py --out benchmarks/results/limits_cpu.csv --busy --compare-with OLD --npeet
    python benchmarks/limits.py --quick                # small blocks and n, for a smoke run
    python benchmarks/limits.py --large                # adds KSG n=1e5 16+16 and KL n=1e5 d=64
    python benchmarks/limits.py --large-only --limits-from benchmarks/results/limits_cpu.csv \
        --out benchmarks/results/limits_large_cpu.csv   # only those two, against limits measured before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import load_1min, machine  # noqa: E402

import infossl.estimators.neighbours as nbr  # noqa: E402
from infossl.estimators.knn import knn_entropy, ksg_mutual_information  # noqa: E402
from infossl.io import save_csv_atomic  # noqa: E402

try:  # optional baseline, as in speed.py
    from npeet_plus import estimators as npeet
except ImportError:
    npeet = None

try:  # optional accelerator: when installed its flat indexes join the kernels the limit is the best of
    import faiss
except ImportError:
    faiss = None


# ------------------------------------------------------------------------------------------------ kernels
# Each kernel is a factory make(z) -> strip(rows, scratch): the distances from z[rows] to every row of z (the
# values are written to a buffer and dropped), so a kernel's rate counts only the distance work that a
# search of n rows must do at least once. scratch is private to the worker thread (reusable buffers).
def _engine(name):
    """The engine's own max-norm slabs (``neighbours._slabs``) with its kernel pinned to ``name``."""
    def make(z):
        zt = z.T.contiguous()

        nbr._KERNEL_CHOICE[(z.shape[1], z.dtype)] = name  # pinned; main() forgets it before the estimators

        def strip(rows, scratch):
            c, nb = rows.stop - rows.start, -(-z.shape[0] // nbr._COL_BLOCK)
            out = scratch.get("out")
            if out is None or out.shape[1] != c:
                out = scratch["out"] = torch.empty(nb, c, nbr._COL_BLOCK, dtype=z.dtype)
            nbr._slabs(z, zt if name == "features" else None, rows, nbr._COL_BLOCK, out, scratch)
        return strip
    return make


def _engine_int16():
    """The engine's KSG screen: the same slabs on the data rounded to its int16 grid (``_screens``),
    integer sub, abs and max; for float32 data (the grid is the screening copy of either dtype)."""
    def make(z):
        if z.dtype != torch.float32:
            return None
        zq = nbr._screens(z, z)[0]  # (n, d) int16
        zt = zq.T.contiguous()

        def strip(rows, scratch):
            c, nb = rows.stop - rows.start, -(-zq.shape[0] // nbr._COL_BLOCK)
            out = scratch.get("out")
            if out is None or out.shape[1] != c:
                out = scratch["out"] = torch.empty(nb, c, nbr._COL_BLOCK, dtype=zq.dtype)
            nbr._slabs(zq, zt, rows, nbr._COL_BLOCK, out, scratch)
        return strip
    return make


def _compiled(screen):
    """The compiled KSG kernels' distance pass (``_maxnorm.c``'s count, nothing below its threshold and no
    band, so only the distances and one compare per pair run) on the int16 grid of KSG's screen or on
    float32; None where the kernels cannot be built on this machine."""
    def make(z):
        lib = nbr._native.kernels()
        if lib is None or z.dtype != torch.float32:
            return None
        zs = nbr._screens(z, z)[0] if screen == "int16" else z  # (n, d)
        suffix = "i16" if zs.dtype == torch.int16 else "f32"
        fn = getattr(lib, f"ksg_count_{suffix}")
        n, d = zs.shape
        bj = int(getattr(lib, f"maxnorm_columns_{suffix}")())
        npad = -(-n // bj) * bj
        zt = torch.zeros(d, npad, dtype=zs.dtype)
        zt[:, :n] = zs.T

        def strip(rows, scratch):
            c = rows.stop - rows.start
            lo = torch.zeros(c, dtype=zs.dtype)  # D < 0: never
            hi = torch.full((c,), -1, dtype=zs.dtype)  # lo <= D <= -1: never
            sure, nband = torch.empty(c, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
            band = torch.empty(2, dtype=torch.int64)
            fn(zt.data_ptr(), n, npad, d, rows.start, rows.stop, lo.data_ptr(), hi.data_ptr(), sure.data_ptr(),
               band.data_ptr(), band.data_ptr(), 1, nband.data_ptr())
        return strip
    return make


def _coord_loop(bq, br):
    """Coordinate loop: for each (bq, br) tile, d passes of sub, abs and max over buffers kept in cache."""
    def make(z):
        zt = z.T.contiguous()  # (d, n): one feature's values contiguous
        n, d = z.shape

        def strip(rows, scratch):
            out = scratch.setdefault(("out", bq, br), torch.empty(bq, br, dtype=z.dtype))
            tmp = scratch.setdefault(("tmp", bq, br), torch.empty(bq, br, dtype=z.dtype))
            for i in range(rows.start, rows.stop, bq):
                a = zt[:, i:min(i + bq, rows.stop)].unsqueeze(2)  # (d, q, 1)
                for j in range(0, n, br):
                    b = zt[:, j:j + br].unsqueeze(1)  # (d, 1, w)
                    o, t = out[:a.shape[1], :b.shape[2]], tmp[:a.shape[1], :b.shape[2]]
                    torch.sub(a[0], b[0], out=o).abs_()
                    for f in range(1, d):
                        torch.sub(a[f], b[f], out=t).abs_()
                        torch.maximum(o, t, out=o)
        return strip
    return make


def _cdist(p, cols=1024):
    def make(z):
        def strip(rows, scratch):
            a = z[rows]
            for j in range(0, z.shape[0], cols):
                torch.cdist(a, z[j:j + cols], p=p)
        return strip
    return make


def _gemm(cols=4096):
    """The Euclidean screen's work: one GEMM per (rows, cols) tile (d multiply-adds per pair)."""
    def make(z):
        zt = z.T.contiguous()

        def strip(rows, scratch):
            a = z[rows]
            for j in range(0, z.shape[0], cols):
                a @ zt[:, j:j + cols]
        return strip
    return make


def _tile_minimum(sa, sb, cols, as_int16):
    """A strip of the engine's Euclidean first screen: one GEMM per (rows, cols) tile of ``sa`` rows against
    ``sb`` columns and the running minimum over the tiles (of the bits read as int16 for bfloat16)."""
    def strip(rows, scratch):
        a, low = sa[rows], None
        for j in range(0, sb.shape[1], cols):
            g = a @ sb[:, j:j + cols]
            if as_int16:
                g = g.view(torch.int16)
            if low is None:
                low = g
            else:
                torch.minimum(low[:, :g.shape[1]], g, out=low[:, :g.shape[1]])
    return strip


def _gemm_bf16(cols=4096):
    """The engine's bfloat16 Euclidean screen (``neighbours._bf16_operands``): one bfloat16 GEMM per
    (rows, cols) tile and the running integer minimum of its bits, d + 4 multiply-adds per pair (counted as
    d, the work of the search)."""
    def make(z):
        z32 = z.float()
        z32 = z32 - z32.mean(dim=0)
        sq = z32.pow(2).sum(dim=1)
        sa, sb, _, _ = nbr._bf16_operands(z32, sq, float(sq.max()))
        return _tile_minimum(sa, sb, cols, as_int16=True)
    return make


def _gemm_min(cols=4096):
    """The engine's float32 Euclidean screen: one GEMM per (rows, cols) tile and the running minimum."""
    def make(z):
        za = torch.cat([z, torch.ones(z.shape[0], 1, dtype=z.dtype)], dim=1)
        zb = torch.cat([-2.0 * z, z.pow(2).sum(dim=1, keepdim=True)], dim=1).T.contiguous()
        return _tile_minimum(za, zb, cols, as_int16=False)
    return make


def _faiss(metric_name):
    """faiss's flat search (float32 only): pairwise max-norm distances, or an exact L2 k-NN search (GEMM and
    selection), one OpenMP thread per worker."""
    def make(z):
        if faiss is None or z.dtype != torch.float32:
            return None
        a = np.ascontiguousarray(z.numpy())
        if metric_name == "linf":
            def strip(rows, scratch):
                faiss.pairwise_distances(a[rows], a, faiss.METRIC_Linf)
            return strip
        index = faiss.IndexFlatL2(a.shape[1])
        index.add(a)

        def strip(rows, scratch):
            index.search(a[rows], 12)
        return strip
    return make


MAXNORM = {"engine_pdist": _engine("pdist"), "engine_features": _engine("features"),
           "engine_int16_screen": _engine_int16(),
           "compiled_int16": _compiled("int16"), "compiled_float32": _compiled("float32"),
           "coord_loop_128x512": _coord_loop(128, 512), "coord_loop_256x1024": _coord_loop(256, 1024),
           "coord_loop_64x2048": _coord_loop(64, 2048), "cdist_inf": _cdist(float("inf")),
           "faiss_linf": _faiss("linf")}
EUCLID = {"gemm": _gemm(), "engine_gemm_min_f32": _gemm_min(), "engine_gemm_min_bf16": _gemm_bf16(),
          "cdist_p2": _cdist(2.0), "faiss_l2_knn": _faiss("l2")}


def kernel_rate(make, n, d, dtype, block, workers, repeats):
    """Median pair-features per second of a kernel over an (n, n) problem, strips of ``block`` rows taken
    by ``workers`` threads (torch ops single-threaded inside, as the engine runs them); None when the kernel
    does not apply (faiss absent, or float64 for faiss)."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, d, generator=gen).to(dtype)
    strip = make(z)
    if strip is None:
        return None
    local = threading.local()

    def run(s):
        if not hasattr(local, "scratch"):
            local.scratch = {}
        strip(slice(s, min(s + block, n)), local.scratch)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    if faiss is not None:
        faiss.omp_set_num_threads(1)
    try:
        run(0)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, range(0, n, block)))
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
                          data=(x, y), fn=lambda x=x, y=y: float(ksg_mutual_information(x, y))))
    z = _pair(n, 64)[0]
    cases.append(dict(case=f"kl n={n} d=64 float64", kind="kl", n=n, dims=64, dtype="float64",
                      fn=lambda z=z: float(knn_entropy(z))))
    if large:
        x, y = _pair(100_000, 16)
        cases.append(dict(case="ksg n=100000 16+16 float64", kind="ksg", n=100_000, dims=32, dtype="float64",
                          data=(x, y), fn=lambda: float(ksg_mutual_information(x, y))))
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
    ap.add_argument("--repeats", type=int, default=3, help="runs per kernel rate (median)")
    ap.add_argument("--estimator-repeats", type=int, default=1, help="runs per estimator case (median)")
    ap.add_argument("--compare-with", metavar="DIR",
                    help="a source tree of infossl (e.g. a checkout of the previous engine): every estimator "
                         "case is timed again with it, in a subprocess of the same run, values compared")
    ap.add_argument("--npeet", action="store_true",
                    help="time NPEET's KSG (npeet-plus, optional) on the KSG cases in the same run")
    ap.add_argument("--pin-euclid", choices=("auto", "float32", "bfloat16"), default="auto",
                    help="pin the engine's Euclidean first screen for the estimator cases (default: its "
                         "measured choice), to time each screen with the same data")
    ap.add_argument("--pin-ksg", choices=("auto", "compiled", "torch"), default="auto",
                    help="KSG search engine for the estimator cases (neighbours.pinned_ksg_engine)")
    ap.add_argument("--ckdtree", action="store_true",
                    help="time the plain cKDTree KSG of speed.py on the KSG cases in the same run")
    ap.add_argument("--run-case", help=argparse.SUPPRESS)  # used by --compare-with: one case, JSON out
    args = ap.parse_args()
    if args.run_case:
        case = next(c for c in estimator_cases(args.quick, True) if c["case"] == args.run_case)
        secs, value = timed(case["fn"], args.estimator_repeats)
        print(json.dumps({"seconds": secs, "value": value}))
        return
    workers = max(1, min(torch.get_num_threads(), os.cpu_count() or 1))
    nk = 1024 if args.quick else 4096
    print("machine:", machine(), flush=True)
    rows, best = [], {}
    if args.limits_from:
        old = pd.read_csv(args.limits_from)
        for r in old[(old["part"] == "limit") & (old["kernel"] == "best")].itertuples():
            best[(r.family, r.dtype, int(r.d))] = float(r.pair_features_per_s)
    # float32 only: the limit divides by the float32 rates (the screening dtype of both inputs' searches)
    for dtype in () if args.limits_from else (torch.float32,):
        for d in (16, 64):
            for family, kernels in (("maxnorm", MAXNORM), ("euclidean", EUCLID)):
                for name, fn in kernels.items():
                    block = 256 if name.startswith(("engine", "coord")) else 1024
                    if name.startswith("compiled"):
                        block = nbr._NATIVE_ROWS
                    if name.startswith("engine_gemm"):
                        block = 128 if name.endswith("f32") else 256  # the engine's rows per chunk
                    rate = kernel_rate(fn, nk, d, dtype, block, workers, args.repeats)
                    if rate is None:
                        continue
                    key = (family, str(dtype).split(".")[-1], d)
                    best[key] = max(best.get(key, 0.0), rate)
                    rows.append(dict(part="limit", family=family, kernel=name, dtype=key[1], d=d, n=nk,
                                     workers=workers, pair_features_per_s=f"{rate:.4g}", **machine()))
                    print(f"{family:9s} {name:20s} {key[1]} d={d}: {rate / 1e9:.2f} G pair-features/s",
                          flush=True)
    nbr._KERNEL_CHOICE.clear()  # the engine times its own choice again, unpinned, for the estimators
    if args.pin_euclid != "auto":  # every width, for the rest of the run
        nbr.pinned_euclidean_screen(args.pin_euclid).__enter__()
    if args.pin_ksg != "auto":
        nbr.pinned_ksg_engine(args.pin_ksg).__enter__()
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
    npeet_seconds = {}
    for case in cases:
        secs, value = timed(case["fn"], args.estimator_repeats)
        lim = limit_seconds(case)
        screen = nbr._euclid_kernel(case["dims"], torch.device("cpu")) if case["kind"] == "kl" else ""
        engine = nbr.ksg_engine("cpu") if case["kind"] == "ksg" else ""
        row = dict(part="estimator", case=case["case"], kind=case["kind"], n=case["n"], dims=case["dims"],
                   euclid_kernel=screen, ksg_engine=engine,
                   dtype=case["dtype"], seconds=round(secs, 3), value=value, limit_seconds=round(lim, 3),
                   ratio_to_limit=round(secs / lim, 2), workers=workers, **machine())
        label = case["case"] + (f" [{screen or engine}]" if screen or engine else "")
        msg = f"{label}: {secs:.2f} s, {secs / lim:.2f}x the limit ({lim:.2f} s), value {value:.6f}"
        if args.compare_with:
            cmd = [sys.executable, os.path.abspath(__file__), "--run-case", case["case"],
                   "--estimator-repeats", str(args.estimator_repeats)] + (["--quick"] if args.quick else [])
            env = dict(os.environ, PYTHONPATH=os.path.abspath(args.compare_with))
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            other = json.loads(out.strip().splitlines()[-1])
            if other["value"] != value:
                raise RuntimeError(f"{case['case']}: value {other['value']!r} with {args.compare_with} "
                                   f"!= {value!r} with this tree")
            row.update(compare_seconds=round(other["seconds"], 3),
                       compare_over_this=round(other["seconds"] / secs, 2))
            msg += f"; {args.compare_with}: {other['seconds']:.2f} s ({other['seconds'] / secs:.2f}x)"
        if args.npeet and case["kind"] == "ksg" and npeet is not None:
            key = (case["n"], case["dims"])  # NPEET works in float64: one timing serves both input dtypes
            if key not in npeet_seconds:
                xn, yn = (np.asarray(v, dtype=np.float64) for v in case["data"])
                t0 = time.perf_counter()
                npeet.mi(xn, yn, k=3, base=np.e)
                npeet_seconds[key] = time.perf_counter() - t0
            nsecs = npeet_seconds[key]
            row.update(npeet_seconds=round(nsecs, 3), npeet_over_this=round(nsecs / secs, 2))
            msg += f"; NPEET {nsecs:.2f} s ({nsecs / secs:.1f}x)"
        if args.ckdtree and case["kind"] == "ksg":
            key = ("ckdtree", case["n"], case["dims"])
            if key not in npeet_seconds:
                from speed import ksg_ckdtree  # the plain scipy baseline of speed.py
                xn, yn = (np.asarray(v, dtype=np.float64) for v in case["data"])
                t0 = time.perf_counter()
                ksg_ckdtree(xn, yn)
                npeet_seconds[key] = time.perf_counter() - t0
            csecs = npeet_seconds[key]
            row.update(ckdtree_seconds=round(csecs, 3), ckdtree_over_this=round(csecs / secs, 2))
            msg += f"; cKDTree {csecs:.2f} s ({csecs / secs:.1f}x)"
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
    fields = ["part", "family", "kernel", "case", "euclid_kernel", "ksg_engine", "kind", "n", "d", "dims", "dtype",
              "workers",
              "pair_features_per_s", "seconds", "limit_seconds", "ratio_to_limit", "busy_seconds",
              "busy_over_quiet", "busy_load_avg_1min", "compare_seconds", "compare_over_this",
              "npeet_seconds", "npeet_over_this", "ckdtree_seconds", "ckdtree_over_this", "value",
              "cpu_model", "cpu_flags", "cpu_count",
              "load_avg_1min", "torch_threads", "torch", "platform"]
    save_csv_atomic(pd.DataFrame(rows, columns=fields), args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
