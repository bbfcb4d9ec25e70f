"""What machine a benchmark figure was measured on: one dict, added to every CSV row the benchmarks write.

Speed figures mean little without the CPU model, its vector extensions, the core count, how busy the machine
was and how many threads torch used, so :func:`machine` collects them from ``/proc/cpuinfo`` (Linux) or
``platform`` elsewhere, and :func:`load_1min` is read again beside every timed row.
"""

from __future__ import annotations

import os
import platform

import torch

__all__ = ["load_1min", "machine"]

# widest first; the bfloat16 / int8 matrix units decide how fast the low-precision GEMMs are
_FLAGS = ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx512f", "avx_vnni", "avx2", "fma", "avx",
          "sse4_2", "neon", "asimd")


def _cpuinfo() -> tuple[str, set]:
    """CPU model name and the set of feature flags of the first processor in /proc/cpuinfo."""
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def load_1min() -> float:
    """The 1-minute load average (NaN where the OS does not report one)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return float("nan")


def machine() -> dict:
    """CPU model, its SIMD flags (the widest first), core count, 1-minute load, torch threads and versions.

    Examples
    --------
    >>> sorted(machine())[:3]
    ['cpu_count', 'cpu_flags', 'cpu_model']
    """
    model, flags = _cpuinfo()
    simd = [f for f in _FLAGS if f in flags]
    return {"cpu_model": model, "cpu_flags": "+".join(simd) or "unknown", "cpu_count": os.cpu_count(),
            "load_avg_1min": load_1min(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "platform": platform.platform()}


if __name__ == "__main__":
    print(machine())
