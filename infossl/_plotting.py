"""The one plotting convention: figures from ``matplotlib.figure.Figure``, never pyplot.

No global figure state, no GUI backend chosen at call time (``matplotlib.use`` is never called), and nothing
to close: a figure is freed like any object. Saving goes through :func:`infossl.io.save_figure_atomic`.
matplotlib is imported only when a figure is made.
"""

from __future__ import annotations

from typing import Any


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (6.0, 4.0),
               what: str = "plotting") -> tuple[Any, Any]:
    """``(figure, axes)``: a :class:`matplotlib.figure.Figure` and its subplots (one ``Axes`` when 1 x 1,
    else an array as ``Figure.subplots`` returns). A clear ImportError names ``what`` needs matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(f"{what} needs matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=True)


__all__ = ["new_figure"]
