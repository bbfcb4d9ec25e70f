"""The contract every public entry point keeps on bad input, as one checker.

An outcome is acceptable when it is

* a ``ValueError`` / ``TypeError`` (or an entry point's documented extra types) raised by infossl's own
  code -- the raising frame is in an ``infossl`` module, so the message is infossl's, not an inner
  library's -- with a message of some substance; or
* a returned value whose numbers are all finite; or
* a returned value with NaN/Inf accompanied by a warning (the documented NaN).

Anything else is a defect: another exception type, an error raised from inside numpy/torch/scipy, a silent
non-finite result, or a call that runs past its time limit.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch

INFOSSL_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep + "infossl"


class Hang(Exception):
    """Raised by the time guard inside a call that ran past its limit."""


@dataclass
class Outcome:
    kind: str  # "error" | "value" | "nan-with-warning" | "defect"
    detail: str
    exc: Optional[BaseException] = None
    warned: list = field(default_factory=list)
    seconds: float = 0.0


def numbers_of(value: Any) -> list[float]:
    """Every float a result holds (floats, tensors, arrays, DataFrames, reports, dicts, tuples)."""
    out: list[float] = []
    if value is None or isinstance(value, (str, bool)):
        return out
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if t.is_floating_point() or t.is_complex():
            return t.reshape(-1).double().cpu().tolist() if t.numel() <= 10**6 else [float(t.double().sum())]
        return out
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            return value.astype(np.float64).reshape(-1).tolist()
        return out
    if hasattr(value, "select_dtypes"):  # DataFrame: numeric columns, and the numbers in object columns
        out = numbers_of(value.select_dtypes("number").to_numpy(dtype=np.float64))
        for col in value.columns[value.dtypes == object]:
            out += [float(v) for v in value[col] if isinstance(v, (float, int, np.floating, np.integer))
                    and not isinstance(v, (bool, np.bool_))]
        return out
    if isinstance(value, dict):
        for v in value.values():
            out += numbers_of(v)
        return out
    if isinstance(value, (list, tuple)):
        for v in value:
            out += numbers_of(v)
        return out
    if hasattr(value, "metrics"):  # DiagnosisReport: its metric table (documented NaN where a metric is undefined)
        return numbers_of(getattr(value, "metrics"))
    return out


def _undocumented_report_nans(value: Any) -> Optional[list]:
    """For a DiagnosisReport: the non-finite metrics that no entry of ``reasons`` mentions; None otherwise."""
    if not (hasattr(value, "metrics") and hasattr(value, "reasons")):
        return None
    text = " ".join(map(str, value.reasons)).lower().replace("-", "_")
    bad = []
    for name, v in value.metrics["value"].items():
        if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
            stem = str(name).lower().removesuffix("_r2")
            if stem not in text:
                bad.append(str(name))
    return bad


def _raised_in_infossl(exc: BaseException) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.startswith(INFOSSL_DIR)


def _alarm(limit: float):
    """SIGALRM-based guard (main thread, POSIX); returns a cancel function."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise Hang(f"ran past {limit:g} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, limit)

    def cancel():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return cancel


def classify(fn: Callable, *args: Any, limit: float = 20.0, extra_errors: tuple = (), **kwargs: Any) -> Outcome:
    """Call ``fn`` under a time guard and classify what happened (see the module docstring)."""
    start = time.perf_counter()
    cancel = _alarm(limit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn(*args, **kwargs)
            exc = None
        except Hang as h:
            cancel()
            return Outcome("defect", f"hang: {h}", h, seconds=time.perf_counter() - start)
        except BaseException as e:  # noqa: BLE001 - classifying is the point
            exc = e
            value = None
        finally:
            cancel()
    seconds = time.perf_counter() - start
    warned = [str(w.message) for w in caught if not issubclass(w.category, (DeprecationWarning, FutureWarning))]
    if seconds > limit:  # a C call that the alarm could not interrupt
        return Outcome("defect", f"hang: took {seconds:.1f} s > {limit:g} s", seconds=seconds)
    if exc is not None:
        ok_types = (ValueError, TypeError) + tuple(extra_errors)
        text = str(exc)
        if not isinstance(exc, ok_types):
            return Outcome("defect", f"unexplained {type(exc).__name__}: {text[:300]}", exc, warned, seconds)
        if not _raised_in_infossl(exc):
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return Outcome("defect", f"{type(exc).__name__} from inside {where.filename}:{where.lineno}: "
                           f"{text[:300]}", exc, warned, seconds)
        if len(text) < 15:
            return Outcome("defect", f"{type(exc).__name__} without an explanation: {text!r}", exc, warned, seconds)
        return Outcome("error", f"{type(exc).__name__}: {text[:200]}", exc, warned, seconds)
    undocumented = _undocumented_report_nans(value)
    if undocumented is not None:  # a report documents its NaN metrics in ``reasons``
        if undocumented:
            return Outcome("defect", f"silent non-finite metrics {undocumented} (no reason names them)", None,
                           warned, seconds)
        return Outcome("value", "report; every non-finite metric is explained in its reasons", None, warned, seconds)
    nums = numbers_of(value)
    if all(math.isfinite(x) for x in nums):
        return Outcome("value", f"{type(value).__name__} ({len(nums)} numbers, finite)", None, warned, seconds)
    if warned:
        return Outcome("nan-with-warning", f"non-finite with warning: {warned[0][:200]}", None, warned, seconds)
    bad = sum(not math.isfinite(x) for x in nums)
    return Outcome("defect", f"silent non-finite result: {bad} of {len(nums)} numbers ({type(value).__name__})",
                   None, warned, seconds)


def assert_contract(fn: Callable, *args: Any, limit: float = 20.0, extra_errors: tuple = (), **kwargs: Any) -> Outcome:
    out = classify(fn, *args, limit=limit, extra_errors=extra_errors, **kwargs)
    if out.kind == "defect":
        name = getattr(fn, "__qualname__", repr(fn))
        raise AssertionError(f"{name}: {out.detail}") from out.exc
    return out
