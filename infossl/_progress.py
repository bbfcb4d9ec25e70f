"""One progress mechanism for everything that can take more than a few seconds.

Every long computation in infossl (a diagnosis over many checkpoints, a k-NN search over many blocks, the
subsamples of ``details=True``, training) draws its bar through :func:`progress_bar`, and decides whether to
draw it with :func:`progress_enabled`. The rule is the same everywhere:

1. an explicit ``progress=True`` / ``progress=False`` argument wins;
2. otherwise no bar while progress is switched off for the process -- :func:`set_progress` (the CLI's ``-q``
   calls it), the :func:`no_progress` context, or the environment variable ``INFOSSL_PROGRESS=0``;
3. otherwise a bar only when stderr is a terminal (never in a log file, a pipe or CI) and the work is long
   enough to be worth one (``work >= min_work`` when the caller knows its size).

Bars go to stderr (stdout stays machine-readable: ``--json``, tables) and are removed when done.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator, Optional

__all__ = ["no_progress", "progress_bar", "progress_enabled", "set_progress"]

#: Process-wide switch: None follows the environment and the terminal, False silences every bar.
_SWITCH: Optional[bool] = None


def set_progress(enabled: Optional[bool]) -> None:
    """Switch progress bars off (``False``) for the whole process, or back to automatic (``None``).

    ``True`` is not accepted: a bar on a non-terminal stream would write control characters into logs; force
    one for a single call with its ``progress=True`` argument instead.
    """
    global _SWITCH
    if enabled not in (None, False):
        raise ValueError(f"set_progress takes False (silence every bar) or None (automatic), got {enabled!r}")
    _SWITCH = enabled


@contextlib.contextmanager
def no_progress() -> Iterator[None]:
    """A context in which no progress bar is drawn (unless a call passes ``progress=True``)."""
    global _SWITCH
    before = _SWITCH
    _SWITCH = False
    try:
        yield
    finally:
        _SWITCH = before


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_enabled(progress: Optional[bool] = None, *, work: Optional[float] = None,
                     min_work: Optional[float] = None) -> bool:
    """Whether to draw a bar, by the module's rule.

    Parameters
    ----------
    progress : bool or None
        The caller's explicit choice; ``None`` (default) decides automatically.
    work, min_work : float, optional
        The size of the work and the size from which a bar is worth drawing (both in the caller's unit:
        values, rows times blocks, checkpoints). Without them the bar is drawn whenever the rest allows.

    Returns
    -------
    bool
        True when a bar should be drawn.
    """
    if progress is not None:
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be True, False or None, got {progress!r}")
        return progress
    if _SWITCH is False or os.environ.get("INFOSSL_PROGRESS", "").strip().lower() in ("0", "false", "no", "off"):
        return False
    if not _stderr_is_terminal():
        return False
    return work is None or min_work is None or work >= min_work


def progress_bar(enabled: bool, *, total: Optional[float], desc: str, unit: str = "it",
                 unit_scale: Optional[bool] = None) -> Any:
    """A ``tqdm`` bar on stderr, removed when closed; a disabled (silent, near-free) one when ``enabled`` is
    False. Use it as a context manager and call ``update(n)`` as work finishes.

    ``unit_scale`` writes counts with SI prefixes ("1.2M rows"); by default only when the total is unknown or
    at least 10,000, so a bar over 3 checkpoints reads "1/3", not "1.00/3.00".

    Returns
    -------
    tqdm.tqdm
        The bar.
    """
    from tqdm.auto import tqdm

    if unit_scale is None:
        unit_scale = total is None or total >= 10_000
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, leave=False)
