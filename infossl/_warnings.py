"""Warnings that point at the caller's line.

:func:`warnings.warn` attributes a warning to a fixed number of frames above the call (``stacklevel``). The
library's public functions reach a warning through a varying depth of helpers (decorators, dispatch, the
``details=True`` checks), so a fixed level lands on one of infossl's own files, where the user can neither
read the cause nor filter it by module. :func:`warn` walks the stack instead and attributes the warning to
the first frame outside the ``infossl`` package (and torch's frames above it): the user's line.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Type

__all__ = ["warn"]

#: The directory of the package, with a trailing separator: a frame whose file lies under it is infossl's own.
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_internal(frame) -> bool:
    """A frame of infossl's own files, or of torch's (a loss's backward hook runs under the autograd engine,
    a forward under ``nn.Module.__call__``: the user's line is behind them)."""
    if os.path.abspath(frame.f_code.co_filename).startswith(PACKAGE_DIR):
        return True
    return str(frame.f_globals.get("__name__", "")).split(".")[0] == "torch"


def caller_stacklevel() -> int:
    """The ``stacklevel`` that, passed to :func:`warnings.warn` by this function's caller, names the first
    frame outside the infossl package (the caller itself counts as level 1)."""
    frame = sys._getframe(1)  # the caller of this function: level 1 from its point of view
    level = 1
    while _is_internal(frame) and frame.f_back is not None:
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: Type[Warning] = UserWarning) -> None:
    """Issue ``message`` as a ``category`` warning attributed to the first stack frame outside infossl.

    The filename and line number of the warning (and so the module a ``warnings.filterwarnings(module=...)``
    filter matches) are the user's, whatever depth of infossl's functions it was raised from. When the whole
    stack is infossl's own (e.g. its command line), the outermost frame is used.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("look here")
    >>> caught[0].filename == __file__ or caught[0].filename.startswith("<doctest")
    True
    """
    warnings.warn(message, category, stacklevel=caller_stacklevel())
