"""Conversion to plain JSON-able Python values, in one place (records, reports, checkpoints' metrics).

:func:`to_plain` turns numpy scalars and arrays, torch tensors and paths (recursively, inside dicts, lists and
tuples) into Python numbers, lists and strings; :func:`json_default` is the same rule as a ``json.dumps``
``default=`` hook. JSON has no NaN: with ``nonfinite="null"`` NaN and infinities become ``None``.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np


def to_plain(obj: Any, *, nonfinite: str = "keep") -> Any:
    """``obj`` with every numpy / torch / path value replaced by plain Python (dict keys become strings).

    Examples
    --------
    >>> import numpy as np
    >>> to_plain({"a": np.float32(0.5), 1: [np.arange(2), float("nan")]}, nonfinite="null")
    {'a': 0.5, '1': [[0, 1], None]}
    """
    if nonfinite not in ("keep", "null"):
        raise ValueError(f"nonfinite must be 'keep' or 'null', got {nonfinite!r}")
    return _plain(obj, nonfinite == "null")


def _plain(obj: Any, null: bool) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v, null) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, null) for v in obj]
    if isinstance(obj, (str, bool, int)) or obj is None:
        return obj
    if isinstance(obj, float):
        return None if null and not math.isfinite(obj) else obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (np.generic, np.ndarray)) or (hasattr(obj, "tolist") and hasattr(obj, "numel")):
        return _plain(obj.tolist(), null)  # numpy values and torch tensors (scalars give Python numbers)
    return obj


def json_default(obj: Any) -> Any:
    """``json.dumps(..., default=json_default)``: numpy, torch and paths as plain values; else TypeError."""
    plain = _plain(obj, False)
    if plain is obj:
        raise TypeError(f"object of type {type(obj).__name__} is not JSON serializable")
    return plain


__all__ = ["json_default", "to_plain"]
