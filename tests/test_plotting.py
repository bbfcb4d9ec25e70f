"""infossl._plotting: figures from matplotlib.figure.Figure, never pyplot; no backend is chosen."""

import pytest

from infossl._plotting import new_figure
from infossl.io import save_figure_atomic

matplotlib = pytest.importorskip("matplotlib")


def test_new_figure_draws_without_touching_the_global_backend(tmp_path):
    backend = matplotlib.get_backend()
    fig, ax = new_figure(figsize=(3.0, 2.0))
    line, = ax.plot([0, 1, 2], [3.0, 1.0, 2.0])
    assert matplotlib.get_backend() == backend
    assert fig.get_size_inches().tolist() == [3.0, 2.0] and fig.axes == [ax]
    assert ax.lines[0] is line and line.get_ydata().tolist() == [3.0, 1.0, 2.0]
    out = save_figure_atomic(fig, tmp_path / "f.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert matplotlib.get_backend() == backend


def test_grid_of_axes_and_no_pyplot_state():
    import sys

    before = set(matplotlib._pylab_helpers.Gcf.figs) if "matplotlib.pyplot" in sys.modules else set()
    fig, axes = new_figure(2, 3)
    assert axes.shape == (2, 3) and len(fig.axes) == 6
    if "matplotlib.pyplot" in sys.modules:  # a Figure made this way is not registered with pyplot
        assert set(matplotlib._pylab_helpers.Gcf.figs) == before
