"""Peak memory of the wide (n < d) and memory-mapped paths, one fresh subprocess per case.

Cases (the embedding width d = 10^4 and n = 50 rows unless said otherwise; float32 data):

* ``diagnose_wide``: ``infossl.diagnose(z)``;
* ``diagnose_views``: ``infossl.diagnose(z, views=[z1, z2])``;
* ``collapse_metrics``: ``CollapseMetrics`` fed five batches of 10 rows, then ``compute()``;
* ``view_information``: ``ViewInformation`` fed five batches of 10 pairs, then ``compute()``;
* ``label_mi_gaussian``: ``label_mutual_information(z, y, method="gaussian")`` with 2 classes;
* ``cli_diagnose``: ``python -m infossl diagnose z.npy`` (a 2 MB file);
* ``diagnose_mmap``: ``infossl.diagnose(np.load(path, mmap_mode="r"))`` of a 10^6 x 512 float32 file (2 GB,
  written into a temporary directory and deleted at the end; ``--mmap-rows`` changes n);
* ``cli_mmap``: ``python -m infossl diagnose`` of that file.

Each case runs in a child process whose address space is capped at ``--limit-gb`` (default 6 GiB, so a path
that would need tens of GB fails fast with an out-of-memory error instead of swapping the shared machine).
The child reports its peak resident set over the case alone (``VmHWM`` after resetting it, through
``/proc/self/clear_refs``, once the imports are done) and over its whole life (``ru_maxrss``; for the CLI
cases both are the grandchild's, through ``RUSAGE_CHILDREN``), its resident set after the imports, and the
peak of the Python-level allocations that ``tracemalloc`` sees (numpy's arrays are traced; torch's CPU tensors are not, so they count only in the
RSS). An out-of-memory failure is recorded with status ``oom`` and the peak reached before it. The tree
measured is the one on ``PYTHONPATH``; run the script once per tree and give ``--label``:

    PYTHONPATH=/work/main python benchmarks/memory.py --label before
    PYTHONPATH=$PWD python benchmarks/memory.py --label after

Rows are appended to ``results/memory.csv`` with the CPU model and the load average at the start of each
case.
"""

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
FIELDS = ["label", "case", "n", "d", "status", "case_peak_rss_mib", "peak_rss_mib", "import_rss_mib",
          "tracemalloc_peak_mib",
          "seconds", "detail", "tree", "cpu", "load_1min", "date"]
WIDE_CASES = ["diagnose_wide", "diagnose_views", "collapse_metrics", "view_information", "label_mi_gaussian",
              "cli_diagnose"]
MMAP_CASES = ["diagnose_mmap", "cli_mmap"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _status_mib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# ------------------------------------------------------------------------------------------ child side
def _wide_data(n, d, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d), dtype=np.float32)
    return z, z + 0.1 * rng.standard_normal((n, d), dtype=np.float32)


def _cli(args):
    """Run ``python -m infossl ...`` as a grandchild; its peak RSS is read from RUSAGE_CHILDREN."""
    proc = subprocess.run([sys.executable, "-m", "infossl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def run_case(case, n, d, path):
    """Run one case in this process; returns (detail, peak RSS of a grandchild or None)."""
    import numpy as np

    if case == "diagnose_mmap":
        import infossl

        r = infossl.diagnose(np.load(path, mmap_mode="r"))
        return f"verdict={r.verdict}", None
    if case == "cli_mmap" or case == "cli_diagnose":
        if case == "cli_diagnose":
            z, _ = _wide_data(n, d)
            np.save(path, z)
        return "ok", _cli(["diagnose", "--json", "-q", path])
    z, z2 = _wide_data(n, d)
    if case == "diagnose_wide":
        import infossl

        return f"verdict={infossl.diagnose(z).verdict}", None
    if case == "diagnose_views":
        import infossl

        r = infossl.diagnose(z, views=[z, z2])
        return f"mi_views_gaussian={r['mi_views_gaussian']}", None
    if case == "collapse_metrics":
        from infossl.integrations import CollapseMetrics

        m = CollapseMetrics()
        for start in range(0, n, 10):
            m.update(z[start:start + 10])
        return f"verdict={m.compute()['verdict']}", None
    if case == "view_information":
        from infossl.integrations import ViewInformation

        m = ViewInformation()
        for start in range(0, n, 10):
            m.update(z[start:start + 10], z2[start:start + 10])
        try:
            out = m.compute()
        except ValueError as exc:  # too few pairs for the Gaussian MI: the error is the documented result
            return f"ValueError: {str(exc)[:80]}", None
        return f"lidar={out.get('lidar')}", None
    if case == "label_mi_gaussian":
        from infossl.estimators import label_mutual_information

        y = np.arange(n) % 2
        try:
            value = label_mutual_information(z, y, method="gaussian")
        except ValueError as exc:
            return f"ValueError: {str(exc)[:80]}", None
        return f"value={float(value):.4f}", None
    raise ValueError(f"unknown case {case!r}")


def child(case, n, d, path, limit_gb):
    import tracemalloc

    cap = int(limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    import numpy  # noqa: F401  (the imports are not part of the case's peak)
    import torch  # noqa: F401
    import infossl  # noqa: F401
    import infossl.integrations  # noqa: F401

    import_rss = _status_mib("VmRSS:")
    try:  # reset VmHWM to the current RSS (Linux >= 4.0): the case's own high-water mark, imports excluded
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    tracemalloc.start()
    t0 = time.perf_counter()
    status, detail, grandchild = "ok", "", None
    try:
        detail, grandchild = run_case(case, n, d, path)
    except (MemoryError, RuntimeError) as exc:
        text = str(exc)
        oom = isinstance(exc, MemoryError) or "memory" in text.lower() or "alloc" in text.lower()
        status, detail = ("oom" if oom else "error"), text.strip().splitlines()[-1][:120] if text else ""
    seconds = time.perf_counter() - t0
    _, traced = tracemalloc.get_traced_memory()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    case_peak = _status_mib("VmHWM:")
    if grandchild is not None:
        peak = case_peak = grandchild
    print(json.dumps({"status": status, "case_peak_rss_mib": round(case_peak, 1),
                      "peak_rss_mib": round(peak, 1),
                      "import_rss_mib": round(import_rss, 1),
                      "tracemalloc_peak_mib": round(traced / 2**20, 1), "seconds": round(seconds, 2),
                      "detail": detail}))


# ------------------------------------------------------------------------------------------ parent side
def write_npy(path, n, d, seed=0, block=65536):
    """An (n, d) float32 .npy file written block by block (never held in memory)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    scale = (np.arange(1, d + 1) ** -0.5).astype(np.float32)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
        for start in range(0, n, block):
            fh.write((rng.standard_normal((min(block, n - start), d), dtype=np.float32) * scale).tobytes())


def measure(case, n, d, path, limit_gb, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", case, "--n", str(n), "--d", str(d),
           "--path", path, "--limit-gb", str(limit_gb)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "detail": f"over {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:  # killed (e.g. a failed allocation inside a C library aborts the process)
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        status = "oom" if "memory" in proc.stderr.lower() or "alloc" in proc.stderr.lower() else "error"
        return {"status": status, "detail": f"exit {proc.returncode}: {tail[:120]}"}
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child")
    ap.add_argument("--path", default="")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--d", type=int, default=10_000)
    ap.add_argument("--mmap-rows", type=int, default=1_000_000)
    ap.add_argument("--mmap-dim", type=int, default=512)
    ap.add_argument("--limit-gb", type=float, default=6.0)
    ap.add_argument("--timeout", type=int, default=1200)
    ap.add_argument("--label", default="")
    ap.add_argument("--cases", nargs="*", default=WIDE_CASES + MMAP_CASES)
    ap.add_argument("--out", default=os.path.join(RESULTS, "memory.csv"))
    args = ap.parse_args()
    if args.child:
        child(args.child, args.n, args.d, args.path, args.limit_gb)
        return
    import infossl

    tree = os.path.dirname(os.path.dirname(os.path.abspath(infossl.__file__)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wide_path, mmap_path = os.path.join(tmp, "wide.npy"), os.path.join(tmp, "big.npy")
        if any(c in MMAP_CASES for c in args.cases):
            write_npy(mmap_path, args.mmap_rows, args.mmap_dim)
        for case in args.cases:
            big = case in MMAP_CASES
            n, d = (args.mmap_rows, args.mmap_dim) if big else (args.n, args.d)
            load = os.getloadavg()[0]
            res = measure(case, n, d, mmap_path if big else wide_path, args.limit_gb, args.timeout)
            row = {"label": args.label, "case": case, "n": n, "d": d, "tree": tree, "cpu": cpu_model(),
                   "load_1min": round(load, 2), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            row.update({k: res.get(k, "") for k in FIELDS if k in res})
            rows.append(row)
            print(f"{case:18s} {row.get('status', ''):7s} peak {row.get('case_peak_rss_mib', '')!s:>8} MiB  "
                  f"{row.get('detail', '')}", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    new = not os.path.exists(args.out)
    tmp_out = args.out + ".tmp"
    existing = []
    if not new:
        with open(args.out, newline="") as fh:
            existing = list(csv.DictReader(fh))
    with open(tmp_out, "w", newline="") as fh:  # written whole, then renamed: never a half-written file
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for row in existing + rows:
            writer.writerow({k: row.get(k, "") for k in FIELDS})
    os.replace(tmp_out, args.out)


if __name__ == "__main__":
    main()
