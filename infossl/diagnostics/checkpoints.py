"""Diagnose collapse across model checkpoints: run each model on data, read one layer, one report each.

For every checkpoint, :func:`diagnose_checkpoints` loads the weights safely
(:func:`infossl.io.load_checkpoint`: no code from the file runs), rebuilds the model (``infossl train``
checkpoints describe their own model; other state dicts need a model factory; trusted TorchScript archives and
trusted pickled modules are models already), runs it on the data in batches under ``torch.inference_mode``,
captures the output of the chosen layer with a forward hook (default: the ``backbone`` submodule when the
model has one, else the model's output), streams the captured rows (flattened to (batch, features)) into a
:class:`~infossl.diagnostics.accumulator.MomentAccumulator` and diagnoses them with
:func:`~infossl.diagnostics.diagnosis.diagnose_statistics`. The reports form a :class:`CheckpointTrajectory`:
a table with one row per checkpoint and a plot of the rank metrics against the epoch.

A model factory named as ``"package.module:function"`` is imported and called: **that executes the named
module's code**, by design (it is the user's own model definition). Only the checkpoint files are treated
as untrusted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch

from infossl.diagnostics.accumulator import MomentAccumulator
from infossl.diagnostics.report import markdown_text
from infossl._progress import progress_bar, progress_enabled
from infossl.diagnostics.stream import show_progress
from infossl.io.safe_load import load_checkpoint
from infossl.io.embeddings import PathLike
from infossl.io.inputs import DIGITS, load_data
from infossl.models import layer_outputs, load_factory, model_for_checkpoint, resolve_layer

# Rank-like metrics drawn (divided by the dimension) in the trajectory plot, when the reports have them.
PLOT_METRICS: tuple[str, ...] = ("rankme", "effective_rank", "nesum", "stable_rank", "collapse_rank")


# ------------------------------------------------------------------------------------------ trajectory
@dataclass
class CheckpointTrajectory:
    """One :class:`~infossl.diagnostics.report.DiagnosisReport` per checkpoint, in the order given.

    Attributes
    ----------
    paths : list of str
    reports : list of DiagnosisReport
    epochs, steps : list of int or None
        As recorded in the checkpoints.
    layer : str
        The layer diagnosed (``"output"`` for the model's output).
    data : str
        Description of the inputs.
    """

    paths: list
    reports: list
    epochs: list
    steps: list
    layer: str
    data: str
    kinds: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @classmethod
    def of_results(cls, results: Sequence["CheckpointResult"]) -> "CheckpointTrajectory":
        """The trajectory of :func:`iter_checkpoint_reports`' results, in their order.

        Returns
        -------
        CheckpointTrajectory
            One report per result; the layer is the common one (names joined by commas when they differ).
        """
        shown = sorted({r.layer for r in results})
        return cls(
            [r.path for r in results],
            [r.report for r in results],
            [r.epoch for r in results],
            [r.step for r in results],
            shown[0] if len(shown) == 1 else ",".join(shown),
            results[0].data if results else "",
            [r.kind for r in results],
            [list(r.notes) for r in results],
        )

    def rows(self) -> list[dict]:
        """One flat dict per checkpoint: checkpoint, epoch, step, then the report's :meth:`as_dict`.

        Returns
        -------
        list of dict
            One flat dict per checkpoint.
        """
        out = []
        for path, report, epoch, step in zip(self.paths, self.reports, self.epochs, self.steps):
            flat = {
                k: v
                for k, v in report.as_dict().items()
                if v is None or isinstance(v, (bool, int, float, str))
            }
            out.append(
                {
                    "checkpoint": os.path.basename(path),
                    "epoch": epoch,
                    "step": step,
                    "layer": self.layer,
                    **flat,
                }
            )
        return out

    @property
    def table(self) -> Any:
        """pandas DataFrame, one row per checkpoint (verdict, collapse rank, every metric value)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def as_dict(self) -> dict:
        """JSON-able: the layer, the data, and per checkpoint its path, epoch, step and report.

        Returns
        -------
        dict
            The JSON-able record.
        """
        return {
            "layer": self.layer,
            "data": self.data,
            "checkpoints": [
                {"path": p, "epoch": e, "step": s, "notes": list(n), **r.as_dict()}
                for p, r, e, s, n in zip(self.paths, self.reports, self.epochs, self.steps,
                                         self.notes or [[] for _ in self.paths])
            ],
        }

    def to_json(self, path: Optional[PathLike] = None) -> str:
        """The :meth:`as_dict` record as JSON text; also written atomically to ``path`` when given.

        Returns
        -------
        str
            The JSON text.
        """
        import json

        from infossl.io.embeddings import save_json_atomic
        from infossl.io.plain import json_default

        if path is not None:
            save_json_atomic(self.as_dict(), path)
        return json.dumps(self.as_dict(), indent=2, default=json_default)

    def to_markdown(self) -> str:
        """A markdown table: checkpoint, epoch, verdict, collapse rank / dim and the plotted rank metrics.

        Returns
        -------
        str
            The table, cells escaped (:func:`~infossl.diagnostics.report.markdown_text`).
        """
        rows = self.rows()
        cols = ["checkpoint", "epoch", "verdict", "collapse_rank", "dim"]
        cols += [m for m in PLOT_METRICS if m != "collapse_rank" and any(m in r for r in rows)]

        def cell(v: Any) -> str:
            return markdown_text(f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v)))

        lines = ["| " + " | ".join(markdown_text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
        return "\n".join(lines)

    def plot(self, path: Optional[PathLike] = None) -> Any:
        """Left: rank metrics / dim against the epoch (or checkpoint index) over bands coloured by verdict;
        right: each checkpoint's covariance spectrum (log scale), coloured by epoch with a colour bar.

        Readable at tens of checkpoints: the legends sit below the axes (no line is covered), the verdict
        bands have a key, the collapse rank is drawn as a step line over the smooth metrics, and the spectra
        are keyed by the colour bar instead of one legend entry each. Needs matplotlib.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (also written atomically to ``path`` when given).
        """
        from infossl._plotting import new_figure

        fig, (ax, ax2) = new_figure(1, 2, figsize=(12, 5.2), what="CheckpointTrajectory.plot")
        fig.set_layout_engine("constrained")
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize
        from matplotlib.patches import Patch
        from matplotlib.ticker import MaxNLocator

        rows = self.rows()
        use_epoch = all(e is not None for e in self.epochs) and len(set(self.epochs)) == len(self.epochs)
        xs = np.asarray(list(self.epochs) if use_epoch else list(range(len(rows))), dtype=float)
        where = "epoch" if use_epoch else "checkpoint"
        marker = "o" if len(rows) <= 12 else None  # 41 markers per line hide the lines themselves
        # Line colours apart from the verdict bands' green / orange / red; rankme dashed because it often
        # equals the effective rank (both exp of the spectral entropy, up to eps).
        styles = {"rankme": ("tab:blue", "--"), "effective_rank": ("tab:purple", "-"),
                  "nesum": ("tab:cyan", "-"), "stable_rank": ("tab:brown", "-")}
        for name in PLOT_METRICS:
            ys = [r.get(name) for r in rows]
            if not all(isinstance(y, (int, float)) and not isinstance(y, bool) for y in ys):
                continue
            ratio = [y / max(int(r.get("dim") or 1), 1) for y, r in zip(ys, rows)]
            if name == "collapse_rank":  # the verdict's own number: a step, drawn on top
                ax.step(xs, ratio, where="mid", color="black", lw=2.2, zorder=4, label="collapse_rank")
            else:
                colour, dash = styles.get(name, ("tab:grey", "-"))
                ax.plot(xs, ratio, dash, marker=marker, ms=4, lw=1.4, color=colour, label=name,
                        zorder=3.5 if dash == "--" else 3)  # the dashed line over the solid it may equal
        marks = {"healthy": "tab:green", "dimensional-collapse": "tab:orange", "complete-collapse": "tab:red"}
        order = np.argsort(xs, kind="stable")
        edges = _band_edges(xs[order])
        seen: dict[str, str] = {}
        for j, k in enumerate(order):
            verdict = str(rows[k].get("verdict"))
            colour = marks.get(verdict, "grey")
            ax.axvspan(edges[j], edges[j + 1], color=colour, alpha=0.13, lw=0, zorder=1)
            seen.setdefault(verdict, colour)
        ax.set_xlim(edges[0], edges[-1])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(where)
        ax.set_ylabel("metric / dimension")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{self.layer}: rank metrics over {len(rows)} checkpoints")
        lines, labels = ax.get_legend_handles_labels()
        bands = [Patch(color=c, alpha=0.35, label=f"verdict: {v}") for v, c in seen.items()]
        ax.legend(lines + bands, labels + [b.get_label() for b in bands], loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=8, frameon=False)
        cmap = colormaps["viridis"]
        norm = Normalize(vmin=float(xs.min()), vmax=float(xs.max()) if xs.max() > xs.min() else xs.min() + 1)
        for x, report in zip(xs, self.reports):
            s = np.asarray(report.spectrum, dtype=float)
            s = s[s > 0]
            if s.size:
                ax2.semilogy(np.arange(1, s.size + 1), s, color=cmap(norm(x)), lw=1.1)
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax2, pad=0.02)
        bar.set_label(where)
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
        ax2.set_xlabel("eigenvalue index")
        ax2.set_ylabel("covariance eigenvalue")
        ax2.set_title("covariance spectra (colour = " + where + ")")
        if path is not None:
            from infossl.io import save_figure_atomic

            save_figure_atomic(fig, path, dpi=120)
        return fig


def _band_edges(xs: np.ndarray) -> np.ndarray:
    """Edges of one band per sorted position ``xs``: midpoints between neighbours, half a gap beyond the
    ends (a single point gets a band of width 1)."""
    if xs.size == 1:
        return np.array([xs[0] - 0.5, xs[0] + 0.5])
    mid = (xs[1:] + xs[:-1]) / 2
    return np.concatenate([[xs[0] - (mid[0] - xs[0])], mid, [xs[-1] + (xs[-1] - mid[-1])]])


class CheckpointResult(NamedTuple):
    """One checkpoint's diagnosis, as :func:`iter_checkpoint_reports` yields it.

    Attributes
    ----------
    path : str
    report : DiagnosisReport
    epoch, step : int or None
        As recorded in the checkpoint.
    layer : str
        The layer diagnosed (``"output"`` for the model's output).
    data : str
        Description of the inputs.
    kind : str
        The checkpoint's kind (``"infossl"``, ``"state_dict"``, ``"torchscript"``, ``"module"``).
    notes : list of str
        What was done to read it (prefixes stripped, containers read as plain dicts).
    """

    path: str
    report: Any
    epoch: Optional[int]
    step: Optional[int]
    layer: str
    data: str
    kind: str
    notes: list


def iter_checkpoint_reports(
    paths: Union[PathLike, Sequence[PathLike]],
    *,
    model: Any = None,
    data: Any = DIGITS,
    data_key: Optional[str] = None,
    labels: Any = None,
    layer: Optional[str] = None,
    trust: bool = False,
    key: Optional[str] = None,
    batch_size: int = 256,
    device: Union[str, torch.device] = "cpu",
    progress: Optional[bool] = None,
    sample_size: int = 2048,
    random_state: Any = 0,
    **options: Any,
) -> Iterator[CheckpointResult]:
    """Diagnose the checkpoints one by one, yielding each result as soon as it is computed.

    Takes the arguments of :func:`diagnose_checkpoints`, which collects these results; a caller that shows
    them as they come (``infossl diagnose`` prints one table row per checkpoint) iterates this instead. Every
    file is read and checked before the first model runs. The progress bar (stderr, by the rule of
    :mod:`infossl._progress`: on a terminal, for two checkpoints or more) counts checkpoints and names the
    one running.

    Yields
    ------
    CheckpointResult
        Path, report, epoch, step, layer, data description, kind and notes of each checkpoint, in order.
    """
    from infossl.diagnostics.diagnosis import diagnose_statistics
    from infossl.diagnostics.stream import as_paths as _as_paths, row_labels as _labels

    files = _as_paths(paths)
    factory = None if model is None else load_factory(model)
    checkpoints = [
        load_checkpoint(p, trust=trust, key=key) for p in files
    ]  # all files checked before running
    x, data_labels, description = load_data(data, key=data_key)
    y = _labels(labels, len(x)) if labels is not None else data_labels
    values = len(x) * len(checkpoints) * (int(np.prod(x.shape[1:])) if x.ndim > 1 else 1)
    # A bar for several checkpoints whatever their size (each runs a model: seconds to minutes), and for one
    # checkpoint on a large input set.
    enabled = progress_enabled(progress, work=len(checkpoints), min_work=2) or show_progress(progress, values)
    with progress_bar(enabled, total=len(checkpoints), desc="checkpoints", unit="ckpt") as bar:
        for path, ck in zip(files, checkpoints):
            base = os.path.basename(ck.path)
            bar.set_postfix_str(base, refresh=True)
            net = model_for_checkpoint(ck, factory)
            name = resolve_layer(net, layer)
            acc = MomentAccumulator(sample_size=sample_size, random_state=random_state)
            for rows in layer_outputs(net, x, layer=name, batch_size=batch_size, device=device, name=base):
                try:
                    acc.update(rows)
                except ValueError as exc:
                    raise ValueError(f"{ck.path}: layer {name or 'output'}: {exc}") from None
            report = diagnose_statistics(acc, labels=y, random_state=random_state, **options)
            bar.update(1)
            yield CheckpointResult(path, report, ck.epoch, ck.step, name or "output", description, ck.kind,
                                   list(ck.notes))


def diagnose_checkpoints(
    paths: Union[PathLike, Sequence[PathLike]],
    *,
    model: Any = None,
    data: Any = DIGITS,
    data_key: Optional[str] = None,
    labels: Any = None,
    layer: Optional[str] = None,
    trust: bool = False,
    key: Optional[str] = None,
    batch_size: int = 256,
    device: Union[str, torch.device] = "cpu",
    progress: Optional[bool] = None,
    sample_size: int = 2048,
    random_state: Any = 0,
    **options: Any,
) -> CheckpointTrajectory:
    """Diagnose the representation of ``layer`` in each checkpoint on the same inputs.

    Parameters
    ----------
    paths : path or sequence of paths
        Checkpoint files (``torch.save`` state dicts or ``infossl train`` checkpoints, ``.safetensors``;
        pickled modules and TorchScript archives only with ``trust=True``). Kept in the given order.
    model : "package.module:factory" or callable, optional
        Builds the model for plain state dicts (**importing it runs that module's code**, see the module
        docstring). Not needed for ``infossl train`` checkpoints or trusted TorchScript archives and modules.
    data : "digits", path or array, default "digits"
        Inputs (see :func:`load_data`); ``data_key`` picks the array inside a file.
    labels : path or array (N,), optional
        Labels of the inputs for the label-based checks; the digits labels are used for ``"digits"``.
    layer : str, optional
        Submodule whose output is diagnosed (``model.named_modules()`` name); default ``"backbone"`` when
        the model has one, else the model output (``"output"`` forces the output).
    trust : bool, default False
        Passed to :func:`infossl.io.load_checkpoint` (full unpickling, executes code from the file).
    key : str, optional
        The entry of the checkpoint dict that holds the state dict, if not a standard one.
    batch_size, device
        How the models run (inference mode).
    progress : bool or None
        Progress bar over all checkpoints (None: on a terminal, for long runs).
    sample_size, random_state, **options
        Passed to :class:`MomentAccumulator` and :func:`~infossl.diagnostics.diagnosis.diagnose_statistics`.

    Returns
    -------
    CheckpointTrajectory
        ``.reports``, ``.table`` (one row per checkpoint), ``.plot()``, ``.to_json()``.

    Examples
    --------
    >>> import os, tempfile
    >>> from torch import nn
    >>> def build():
    ...     return nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 4))
    >>> folder = tempfile.mkdtemp()
    >>> _ = torch.manual_seed(0)
    >>> net = build()
    >>> torch.save({"state_dict": net.state_dict(), "epoch": 1}, os.path.join(folder, "a.pt"))
    >>> with torch.no_grad():
    ...     net[1].weight[2:] = 0.0                               # 6 of the 8 hidden units die
    ...     net[1].bias[2:] = 1.0
    >>> torch.save({"state_dict": net.state_dict(), "epoch": 2}, os.path.join(folder, "b.pt"))
    >>> traj = diagnose_checkpoints([os.path.join(folder, f) for f in ("a.pt", "b.pt")], model=build,
    ...                             layer="2", progress=False)   # the hidden ReLU, on the digits test split
    >>> traj.table[["checkpoint", "epoch", "verdict", "collapse_rank"]].values.tolist()
    [['a.pt', 1, 'healthy', 8], ['b.pt', 2, 'dimensional-collapse', 2]]
    """
    results = list(iter_checkpoint_reports(
        paths, model=model, data=data, data_key=data_key, labels=labels, layer=layer, trust=trust, key=key,
        batch_size=batch_size, device=device, progress=progress, sample_size=sample_size,
        random_state=random_state, **options,
    ))
    return CheckpointTrajectory.of_results(results)


__all__ = ["CheckpointResult", "CheckpointTrajectory", "diagnose_checkpoints",
           "iter_checkpoint_reports"]
