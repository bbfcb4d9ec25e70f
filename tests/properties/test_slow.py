"""The long sweep (``pytest -m slow``): every input kind with every method, and n = 50 with d = 10 000."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import infossl
from infossl.estimators.dispatch import ENTROPY_METHODS, MI_METHODS
from ._contract import classify
from ._inputs import KINDS, REFUSED, make

pytestmark = pytest.mark.slow

OPTIONS = {"mixture": {"sigma": 1.0}, "infonce": {"steps": 20}, "nwj": {"steps": 20}, "dv": {"steps": 20}}
SWEEP_KINDS = [k for k in KINDS if k != "wide"]


def _sweep(fn, kinds, tmp_path, must_refuse=REFUSED):
    defects = []
    for kind in kinds:
        for n, d, scale in ((40, 3, 1.0), (5, 1, 1e3), (3, 8, 1e-3)):
            call, kwargs = fn(make(kind, n, d, scale, seed=n + d, memmap_dir=str(tmp_path)))
            out = classify(*call, limit=30, **kwargs)
            if out.kind == "defect" or (kind in must_refuse and out.kind != "error"):
                defects.append(f"{kind} (n={n}, d={d}, scale={scale}): {out.detail}")
    return defects


@pytest.mark.parametrize("method", [*ENTROPY_METHODS, "auto"])
def test_entropy_sweep(method, tmp_path):
    defects = _sweep(lambda z: ((infossl.entropy, z), dict(method=method, **OPTIONS.get(method, {}))),
                     SWEEP_KINDS, tmp_path)
    assert not defects, "\n".join(defects)


@pytest.mark.parametrize("method", [*MI_METHODS, "auto"])
def test_mutual_information_sweep(method, tmp_path):
    defects = []
    for kind in SWEEP_KINDS:
        x = make(kind, 40, 3, memmap_dir=str(tmp_path))
        rows = {"empty-rows": 0, "tiny-n": 2}.get(kind, 40)
        out = classify(infossl.mutual_information, x, make("normal", rows, 2, seed=7), method=method, limit=60,
                       **OPTIONS.get(method, {}))
        if out.kind == "defect" or (kind in REFUSED and out.kind != "error"):
            defects.append(f"{kind}: {out.detail}")
    assert not defects, "\n".join(defects)


KNOWN_DIAGNOSE: set = set()  # every kind is swept (meta and sparse are refused since the merge)


def test_diagnose_sweep(tmp_path):
    kinds = [k for k in SWEEP_KINDS if k not in KNOWN_DIAGNOSE]
    defects = _sweep(lambda z: ((infossl.diagnose, z), {}), kinds, tmp_path,
                     must_refuse={"nan", "inf", "empty-rows", "empty-cols", "3d", "0d", "bool", "complex"})
    assert not defects, "\n".join(defects)


# ------------------------------------------------------------------------------- n = 50, d = 10 000
CHILD = textwrap.dedent("""
    import json, sys, time, warnings
    import numpy as np, infossl
    warnings.simplefilter("ignore")
    fn, method = sys.argv[1], sys.argv[2]
    z = np.random.default_rng(0).standard_normal((50, 10_000))
    y = np.random.default_rng(1).standard_normal((50, 2))
    opts = {"mixture": {"sigma": 1.0}, "infonce": {"steps": 10}, "nwj": {"steps": 10}, "dv": {"steps": 10}}
    t = time.perf_counter()
    try:
        if fn == "entropy":
            infossl.entropy(z, method=method, **opts.get(method, {}))
        elif fn == "mutual_information":
            infossl.mutual_information(z, y, method=method, **opts.get(method, {}))
        else:
            infossl.diagnose(z)
        outcome = "ok"
    except (ValueError, TypeError) as exc:
        outcome = "error: " + str(exc)[:200]
    print(json.dumps({"seconds": time.perf_counter() - t, "outcome": outcome}))
""")
WIDE_LIMIT = 20.0  # seconds for one call at n = 50, d = 10 000 (the n x n Gram route makes it well under 1 s)
#: measured over 45 s on the 2-core VM (routes that form the d x d matrix): owner estimators / diagnostics
KNOWN_WIDE_HANGS: set = set()  # every estimator answers n=50, d=10000 quickly (a value or a clear error)


def _wide_cases():
    cases = [("entropy", m) for m in [*ENTROPY_METHODS, "auto"]]
    cases += [("mutual_information", m) for m in [*MI_METHODS, "auto"]]
    cases.append(("diagnose", "-"))
    marks = []
    for case in cases:
        mark = [pytest.mark.xfail(strict=True, reason=f"{case[0]}(method={case[1]!r}) at n=50, d=10000 runs "
                                  f"past {WIDE_LIMIT:g} s (d x d route): owner estimators/diagnostics")] \
            if case in KNOWN_WIDE_HANGS else []
        marks.append(pytest.param(*case, marks=mark, id=f"{case[0]}-{case[1]}"))
    return marks


@pytest.mark.parametrize("fn,method", _wide_cases())
def test_wide_batch_is_fast(fn, method):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, fn, method], capture_output=True, text=True,
                              timeout=WIDE_LIMIT + 40, env=env)  # + the child's import time
    except subprocess.TimeoutExpired:
        pytest.fail(f"{fn}(method={method!r}) on (50, 10000) did not finish in {WIDE_LIMIT + 40:g} s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["seconds"] < WIDE_LIMIT, result
