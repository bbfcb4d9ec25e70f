"""Start-up cost: how long ``import infossl`` and ``infossl --version`` take, and what they pull in.

Each measurement runs in a fresh interpreter (``--runs`` times; the median and the minimum are kept):

* ``import``: wall time of ``python -c "import infossl"``;
* ``version``: wall time of ``infossl --version`` (the console script when it is on PATH, else
  ``python -m infossl --version``);
* ``python``: wall time of ``python -c "pass"``, the interpreter's own start-up, to subtract by eye;
* ``importtime``: ``python -X importtime -c "import infossl"``: the cumulative import time of ``infossl``
  as the interpreter reports it (microseconds, converted to seconds), the number of modules imported, and
  whether ``torch``, ``scipy.stats``, ``pandas`` and ``matplotlib`` are among them.

``--root`` is the source tree to time (put first on ``PYTHONPATH``; default: the checkout holding this
script), ``--label`` names the rows (e.g. ``before`` / ``after``), and rows are appended to ``--out`` so one
CSV holds both sides. The CPU model and the 1-minute load average before and after each measurement are
recorded beside the numbers, since a shared machine's load moves them.

    python benchmarks/import_time.py --label after --out benchmarks/results/import_time.csv
"""

import argparse
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time

import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
HEAVY = ("torch", "scipy.stats", "pandas", "matplotlib")


def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load1() -> float:
    return os.getloadavg()[0]


def timed(cmd: list, env: dict, cwd: pathlib.Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return elapsed


def importtime(env: dict, cwd: pathlib.Path) -> dict:
    """One ``-X importtime`` run: infossl's cumulative seconds, the module count, which heavy modules load."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import infossl"], env=env, cwd=cwd,
                          capture_output=True, text=True, check=True)
    cumulative, modules = None, set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, _, rest = line.partition(":")
        _self_us, cumulative_us, name = rest.split("|")
        modules.add(name.strip())
        if name.strip() == "infossl" and name[1:2] != " ":  # top level: one space after the bar
            cumulative = int(cumulative_us) / 1e6
    if cumulative is None:
        raise RuntimeError("python -X importtime printed no line for infossl")
    return {"seconds": cumulative, "modules": len(modules),
            **{f"imports_{m}": m in modules for m in HEAVY}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(HERE.parent), help="source tree to time (default: this checkout)")
    ap.add_argument("--label", default="current", help="names the rows, e.g. before / after")
    ap.add_argument("--runs", type=int, default=7, help="fresh interpreters per measurement (default 7)")
    ap.add_argument("--out", default=None, help="CSV to append to (default: print only)")
    args = ap.parse_args()

    root = pathlib.Path(args.root).resolve()
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = shutil.which("infossl")
    version_cmd = [script, "--version"] if script else [sys.executable, "-m", "infossl", "--version"]
    # the commands run in --root: ``python -c`` puts the working folder first on sys.path
    found = subprocess.run([sys.executable, "-c", "import infossl; print(infossl.__file__)"], env=env,
                           cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    if not pathlib.Path(found).resolve().is_relative_to(root):
        raise SystemExit(f"import infossl found {found}, not a module under --root {root}")

    cases = {
        "python": [sys.executable, "-c", "pass"],
        "import": [sys.executable, "-c", "import infossl"],
        "version": version_cmd,
    }
    common = {"label": args.label, "cpu": cpu_model(), "python": platform.python_version(),
              "runs": args.runs, "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    rows = []
    for case, cmd in cases.items():
        timed(cmd, env, root)  # warm the file cache once; not counted
        before = load1()
        times = [timed(cmd, env, root) for _ in range(args.runs)]
        rows.append({**common, "measurement": case, "command": " ".join(pathlib.Path(cmd[0]).name if i == 0
                                                                        else c for i, c in enumerate(cmd)),
                     "median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
                     "load_before": before, "load_after": load1()})
    before = load1()
    runs = [importtime(env, root) for _ in range(args.runs)]
    heavy = {k: v for k, v in runs[0].items() if k.startswith("imports_")}
    rows.append({**common, "measurement": "importtime", "command": "python -X importtime -c 'import infossl'",
                 "median_s": round(statistics.median(r["seconds"] for r in runs), 4),
                 "min_s": round(min(r["seconds"] for r in runs), 4), "load_before": before,
                 "load_after": load1(), "modules": runs[0]["modules"], **heavy})

    table = pd.DataFrame(rows)
    print(table.drop(columns=["cpu", "date_utc", "python"]).to_string(index=False))
    if args.out:
        from infossl.io import save_csv_atomic

        out = pathlib.Path(args.out)
        if out.exists():
            table = pd.concat([pd.read_csv(out), table], ignore_index=True)
        save_csv_atomic(table, out)
        print(f"appended {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
