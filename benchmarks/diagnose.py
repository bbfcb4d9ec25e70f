"""Streaming collapse diagnosis of a large .npy file against numpy's own read + X^T X, and its peak memory.

The script writes an (n, d) float32 .npy file into a temporary directory (default n = 10^6, d = 512, 2 GB;
rows x_i = A g_i with g_i ~ N(0, I) and A a random rotation times a power-law scale diag(j^-0.5), so the
covariance spectrum decays like 1/j), then times, each in a fresh subprocess so that the peak resident set
(``ru_maxrss``) belongs to the operation alone:

* **numpy**: ``x = np.load(path); g = x.T @ x`` (the least work any diagnosis needs: read every byte, one
  Gram matrix in the file's dtype);
* **diagnose**: ``infossl.diagnostics.stream.diagnose_path(path)``: one streaming pass through the
  moment accumulator, then ``diagnose_statistics`` (spectrum, metrics, verdict).

Each operation runs ``--repeats`` times, alternating the order, and the minimum is kept (the machine is
shared, so the minimum is the least disturbed measurement). The file is deleted at the end. Targets
(issue 7): diagnose / numpy <= 2 and the diagnose's peak RSS <= 1 GB.

    python benchmarks/diagnose.py                      # n = 10^6, d = 512, writes results/diagnose.csv
    python benchmarks/diagnose.py --quick              # n = 10^5, d = 256, results/diagnose_quick.csv
    python benchmarks/diagnose.py --quick --profile    # ... and where the diagnose's time goes (cProfile)
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
TARGET_RATIO = 2.0
TARGET_RSS_MB = 1e9 / 2**20  # 1 GB = 10^9 bytes = 953.7 MiB


# ------------------------------------------------------------------------------------------ data
def write_npy(path, n, d, seed, block=65536):
    """Write an (n, d) float32 .npy file block by block (never holding it in memory)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))  # (d, d) random rotation
    a = (q * np.arange(1, d + 1) ** -0.5).astype(np.float32)  # (d, d): columns scaled j^-1/2
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
        for start in range(0, n, block):
            g = rng.standard_normal((min(block, n - start), d), dtype=np.float32)  # (m, d)
            fh.write(np.ascontiguousarray(g @ a.T).tobytes())
    return os.path.getsize(path)


# ------------------------------------------------------------------------------------------ children
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _status_mb(field):
    try:
        with open("/proc/self/status") as fh:
            return next(int(ln.split()[1]) / 1024.0 for ln in fh if ln.startswith(field))
    except (OSError, StopIteration):
        return None


def high_water_mb():
    """VmHWM (peak resident set since the last reset) in MiB, or None off Linux."""
    return _status_mb("VmHWM")


def reset_high_water():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # Linux: reset VmHWM to the current RSS
    except OSError:
        pass


def child(kind, path):
    """Run one operation in this (fresh) process; print a JSON record."""
    if kind == "diagnose":  # import everything first: imports are not part of the operation
        from infossl.diagnostics.diagnosis import diagnose_statistics
        from infossl.diagnostics.stream import accumulate_path
    imports = _status_mb("VmRSS") or rss_mb()  # ru_maxrss would include the parent's RSS copied at fork
    reset_high_water()
    start, cpu_start = time.perf_counter(), time.process_time()
    if kind == "numpy":
        x = np.load(path)
        g = x.T @ x  # (d, d)
        end = time.perf_counter()
        record = {"seconds": end - start, "check": float(np.trace(g))}
    else:
        acc = accumulate_path(path, progress=False)
        mid = time.perf_counter()
        pass_hwm = high_water_mb()
        report = diagnose_statistics(acc)
        end = time.perf_counter()
        record = {
            "seconds": end - start,
            "pass_seconds": mid - start,
            "report_seconds": end - mid,
            "pass_peak_rss_mb": pass_hwm,
            "verdict": report.verdict,
            "collapse_rank": report.collapse_rank,
            "check": float(acc.comoment.trace() + acc.n * (acc.mean**2).sum()),
        }
    record["cpu_seconds"] = time.process_time() - cpu_start  # user + system time of all threads
    hwm = high_water_mb()
    # peak_rss_mb: the process's resident set at its highest during the operation (VmHWM reset after the
    # imports; it starts from the resident imports); maxrss_mb: ru_maxrss, which also covers the imports.
    record.update(
        kind=kind,
        rss_after_imports_mb=imports,
        peak_rss_mb=hwm if hwm is not None else rss_mb(),
        maxrss_mb=rss_mb(),
    )
    print(json.dumps(record))


def profile_child(path, top=14):
    """cProfile of the streaming pass + report (internal time per function), printed as text."""
    import cProfile
    import pstats

    from infossl.diagnostics.diagnosis import diagnose_statistics
    from infossl.diagnostics.stream import accumulate_path

    prof = cProfile.Profile()
    prof.enable()
    diagnose_statistics(accumulate_path(path, progress=False))
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def run_child(kind, path):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", kind, "--file", path],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ main
def machine():
    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="rows (default 10^6, --quick 10^5)")
    ap.add_argument("--d", type=int, default=None, help="columns (default 512, --quick 256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small file (n = 10^5, d = 256)")
    ap.add_argument("--tmpdir", default=None, help="where the temporary .npy goes (default: the system's)")
    ap.add_argument(
        "--out", default=None, help="CSV path (default results/diagnose.csv, quick: diagnose_quick.csv)"
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also run the diagnose once under cProfile and print where its time goes",
    )
    ap.add_argument("--child", choices=["numpy", "diagnose", "profile"], help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "profile":
        profile_child(args.file)
        return 0
    if args.child:
        child(args.child, args.file)
        return 0
    n = args.n or (100_000 if args.quick else 1_000_000)
    d = args.d or (256 if args.quick else 512)
    out = args.out or os.path.join(RESULTS, "diagnose_quick.csv" if args.quick else "diagnose.csv")
    from infossl.io import save_csv_atomic

    info = machine()
    print(f"machine: {info}")
    tmp = tempfile.mkdtemp(prefix="infossl-bench-", dir=args.tmpdir)
    try:
        path = os.path.join(tmp, "z.npy")
        start = time.perf_counter()
        size = write_npy(path, n, d, args.seed)
        print(
            f"wrote {path}: ({n}, {d}) float32, {size / 2**30:.2f} GiB in {time.perf_counter() - start:.1f} s"
        )
        runs = {"numpy": [], "diagnose": []}
        for rep in range(args.repeats):
            order = ("numpy", "diagnose") if rep % 2 == 0 else ("diagnose", "numpy")
            for kind in order:
                load = os.getloadavg()[0]
                rec = run_child(kind, path)
                rec["load_before"] = load
                runs[kind].append(rec)
                print(
                    f"  {kind:8s} {rec['seconds']:8.2f} s (CPU {rec['cpu_seconds']:6.2f} s)  peak RSS {rec['peak_rss_mb']:7.0f} MiB "
                    f"(after imports {rec['rss_after_imports_mb']:.0f})  load {load:.2f}"
                )
        rel = abs(runs["numpy"][0]["check"] - runs["diagnose"][0]["check"]) / abs(runs["numpy"][0]["check"])
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        ratio = best["diagnose"]["seconds"] / best["numpy"]["seconds"]
        med = {k: float(np.median([r["seconds"] for r in v])) for k, v in runs.items()}
        ratio_median = med["diagnose"] / med["numpy"]
        peak = max(r["peak_rss_mb"] for r in runs["diagnose"])
        rows = []
        for kind, recs in runs.items():
            b = best[kind]
            rows.append(
                {
                    "operation": "np.load + X^T X" if kind == "numpy" else "diagnose_path (stream + report)",
                    "n": n,
                    "d": d,
                    "dtype": "float32",
                    "file_gib": round(size / 2**30, 3),
                    "seconds_min": round(b["seconds"], 3),
                    "seconds_all": " ".join(f"{r['seconds']:.3f}" for r in recs),
                    "cpu_seconds_min": round(min(r["cpu_seconds"] for r in recs), 3),
                    "cpu_ratio_to_numpy": round(min(r["cpu_seconds"] for r in recs)
                                                / min(r["cpu_seconds"] for r in runs["numpy"]), 3),
                    "pass_seconds": round(b.get("pass_seconds", float("nan")), 3),
                    "report_seconds": round(b.get("report_seconds", float("nan")), 3),
                    "peak_rss_mib": round(max(r["peak_rss_mb"] for r in recs), 1),
                    "peak_rss_during_pass_mib": (
                        round(max(r["pass_peak_rss_mb"] for r in recs), 1)
                        if recs[0].get("pass_peak_rss_mb") is not None
                        else ""
                    ),
                    "maxrss_mib": round(max(r["maxrss_mb"] for r in recs), 1),
                    "rss_after_imports_mib": round(b["rss_after_imports_mb"], 1),
                    "ratio_to_numpy": round(b["seconds"] / best["numpy"]["seconds"], 3),
                    "seconds_median": round(med[kind], 3),
                    "median_ratio_to_numpy": round(med[kind] / med["numpy"], 3),
                    "verdict": b.get("verdict", ""),
                    "load_before": " ".join(f"{r['load_before']:.2f}" for r in recs),
                    "trace_rel_diff": f"{rel:.2e}",
                    "repeats": args.repeats,
                    "seed": args.seed,
                    "machine": f"{info['platform']} | {info['processor']} | {info['cpu_count']} cpus | "
                    f"torch {info['torch']} ({info['torch_threads']} threads) | numpy {info['numpy']}",
                }
            )
        save_csv_atomic(rows, out)
        ok_ratio, ok_rss = ratio <= TARGET_RATIO, peak <= TARGET_RSS_MB
        print(
            f"ratio diagnose / numpy = {ratio:.2f} (minimum over repeats; "
            f"target <= {TARGET_RATIO}: {'met' if ok_ratio else 'MISSED'}), {ratio_median:.2f} (medians); "
            f"diagnose peak RSS {peak:.0f} MiB "
            f"(target <= {TARGET_RSS_MB:.0f}: {'met' if ok_rss else 'MISSED'}); "
            f"trace agreement {rel:.1e}"
        )
        print(f"wrote {out}")
        if args.profile:
            prof = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child", "profile", "--file", path],
                check=True,
                capture_output=True,
                text=True,
            )
            print(prof.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
