"""What a run shows and records every epoch: loss terms, collapse metrics, information, a linear probe.

Each epoch :func:`evaluate` embeds the held-out set with the model in eval mode and adds to the epoch
record (all information quantities in nats):

* ``<space>_rankme``, ``<space>_effective_rank``, ``<space>_normalized_std`` (std of the l2-normalised
  embeddings, about 1/sqrt(d) when isotropic, 0 when collapsed) and ``<space>_normalized_std_scaled``
  (times sqrt(d)), ``<space>_variance_fraction``, ``<space>_dead_dimensions``, ``<space>_collapse_rank``,
  ``<space>_verdict`` (all from :func:`infossl.diagnostics.diagnose`), ``<space>_dim_std_mean`` /
  ``<space>_dim_std_min`` (per-dimension standard deviations), for ``space`` in ``backbone`` (the
  representation) and ``projector`` (what the loss sees);
* ``collapse_alarm``: the reason given by :func:`collapse_alarm`, or None;
* ``mi_views_gaussian``: the Gaussian estimate of :math:`I(Z_a; Z_b)` between the representations of two
  fixed augmentations of the held-out set -- how much of each view the representation keeps that is shared
  with the other. It is :func:`infossl.estimators.gaussian_mutual_information` with its defaults, the value
  ``diagnose`` and ``ViewInformation`` report under the same name;
* ``probe_clean`` / ``probe_augmented`` / ``probe_train``: accuracy of a logistic-regression probe on the
  frozen representation (:mod:`infossl.training.probe`), when labels exist.

:class:`Monitor` writes each record as one JSON line to ``metrics.jsonl``, drives the training progress bar
(:mod:`infossl._progress`: on stderr, only when stderr is a terminal and progress is not switched off) and
prints a warning the first time the alarm fires (see :func:`collapse_alarm` for the rule);
:func:`plot_curves` draws the final PNG.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from infossl._progress import progress_bar, progress_enabled
from infossl.diagnostics import diagnose
from infossl.estimators import gaussian_mutual_information
from infossl.io import save_figure_atomic
from infossl.io.plain import json_default
from infossl.training.data import TrainData
from infossl.training.probe import embed, linear_probe


REPORT_KEYS = ("rankme", "effective_rank", "normalized_std", "normalized_std_scaled", "variance_fraction",
               "dead_dimensions", "collapse_rank")


def collapse_metrics(z: torch.Tensor, prefix: str) -> dict[str, Any]:
    """Collapse statistics of held-out embeddings ``z`` (n, d) as ``{prefix_name: value}``.

    One :func:`infossl.diagnostics.diagnose` call gives the verdict and the spectrum metrics (RankMe,
    effective rank, std of the l2-normalised rows and its sqrt(d)-scaled version, variance fraction, dead
    dimensions, collapse rank); the per-dimension standard deviations are added here.

    Returns
    -------
    dict
        ``{prefix_name: value}``.
    """
    z = z.double()
    std = z.std(dim=0)  # (d,)
    out: dict[str, Any] = {f"{prefix}_dim_std_mean": float(std.mean()),
                           f"{prefix}_dim_std_min": float(std.min())}
    if not bool(torch.isfinite(z).all()):
        out[f"{prefix}_verdict"] = "non-finite"
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = diagnose(z.numpy()).as_dict()
        except Exception as exc:  # a monitor must not end a training run; the record says what failed
            out[f"{prefix}_verdict"] = f"undetermined ({type(exc).__name__}: {exc})"
            return out
    out[f"{prefix}_verdict"] = report.get("verdict")
    for key in REPORT_KEYS:
        if key in report:
            out[f"{prefix}_{key}"] = float(report[key])
    return out


#: The training alarm (a heuristic on top of the verdict): the embedding the loss sees is flagged when
#: sqrt(d) x the std of its l2-normalised rows stays below ALARM_NORMALIZED_STD ...
ALARM_NORMALIZED_STD = 0.5
#: ... for ALARM_EPOCHS consecutive epochs (from epoch 2 on), i.e. its rows keep filling less than half of
#: the angular spread of isotropic embeddings (about 1 when isotropic, 0 when all rows point the same way;
#: Chen & He 2021, arXiv 2011.10566, sec. 4.1). One epoch is not enough: slowly starting healthy runs on the
#: digits (info-vicreg with the gaussian entropy, or log-det with beta = 10) dipped below 0.5 at epoch 3 only.
ALARM_EPOCHS = 3


def collapse_alarm(record: dict, previous: Sequence[dict] = ()) -> Optional[str]:
    """Why the epoch ``record`` (after the epochs ``previous``) looks collapsed, or None.

    Fires (epoch >= 2) when :func:`~infossl.diagnostics.diagnose` calls either space "complete-collapse",
    or when the projector output's ``normalized_std_scaled`` has been below :data:`ALARM_NORMALIZED_STD` in
    this and the :data:`ALARM_EPOCHS` - 1 preceding epochs, all >= 2. Epochs 0 and 1 never count: the
    held-out embeddings are computed in eval mode, through batch norms whose running statistics (momentum
    0.1) have seen at most one epoch of batches, and look collapsed in healthy runs too. Dimensional collapse
    alone does not fire: a projector wider than its input (256 outputs from a 128-dimensional
    representation here) can leave a few output directions empty, and the representation shows a brief
    dimensional collapse in the first epoch of healthy runs. A collapse into a narrow cone (VICReg without
    its variance term on the digits) keeps full rank, so the verdict calls it healthy; the cone rule
    catches it.

    Returns
    -------
    str or None
        The reason, or None when the epoch looks healthy.
    """
    epoch = record.get("epoch", 0)
    if epoch < 2:
        return None
    for space in ("backbone", "projector"):
        if record.get(f"{space}_verdict") == "complete-collapse":
            return f"the {space} embeddings show complete collapse"
    window = [r for r in previous if r.get("epoch", 0) >= 2][-(ALARM_EPOCHS - 1):] + [record]
    values = [r.get("projector_normalized_std_scaled") for r in window]
    if len(window) == ALARM_EPOCHS and all(isinstance(v, float) and v < ALARM_NORMALIZED_STD for v in values):
        return (f"the projector embeddings point within a narrow cone for {ALARM_EPOCHS} epochs "
                f"(sqrt(d) x std of the l2-normalised rows = {values[-1]:.2f} < {ALARM_NORMALIZED_STD})")
    return None


def mi_views_gaussian(za: torch.Tensor, zb: torch.Tensor) -> float:
    """The ``mi_views_gaussian`` monitor: :func:`~infossl.estimators.gaussian_mutual_information` of two
    views' embeddings ``za``, ``zb`` (n, d) with its default options, in nats.

    Collapsed directions carry no information and are projected out by the estimator (all collapsed: 0).
    Where the estimate is undefined -- fewer held-out rows than the two views' ranks need -- the value is
    NaN (null in ``metrics.jsonl``) instead of an error: a monitor must not end a training run.

    Returns
    -------
    float
        Nats.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the record carries the outcome; a warning per epoch would not help
        try:
            return float(gaussian_mutual_information(za.double().numpy(), zb.double().numpy()))
        except (ValueError, TypeError):
            return float("nan")


def evaluate(model: nn.Module, data: TrainData, *, probe: bool = True) -> dict[str, Any]:
    """The monitor values of the module docstring for ``model`` (an SSLModel: ``.backbone``,
    ``.projector``).

    Returns
    -------
    dict
        The epoch record's monitor entries, name to value.
    """
    out: dict[str, Any] = {}
    h_eval = embed(model.backbone, data.eval_x)  # (m, r)
    plain = isinstance(model.projector, nn.Identity)
    z_eval = h_eval if plain else embed(model.projector, h_eval)  # (m, k)
    out.update(collapse_metrics(h_eval, "backbone"))
    out.update(collapse_metrics(z_eval, "projector"))
    out["mi_views_gaussian"] = mi_views_gaussian(embed(model.backbone, data.eval_view_a),
                                                 embed(model.backbone, data.eval_view_b))
    if probe and data.probe_y is not None and data.eval_y is not None:
        h_train = embed(model.backbone, data.probe_x)  # (n, r)
        h_aug = embed(model.backbone, data.eval_aug_x)  # (m, r)
        try:
            acc = linear_probe(h_train, data.probe_y, {"clean": (h_eval, data.eval_y),
                                                       "augmented": (h_aug, data.eval_y)})
            out.update({"probe_train": acc["train"], "probe_clean": acc["clean"],
                        "probe_augmented": acc["augmented"]})
        except ValueError:
            out.update({key: float("nan") for key in ("probe_train", "probe_clean", "probe_augmented")})
    return out


def baseline_probes(data: TrainData) -> dict[str, float]:
    """Probe accuracies of the raw inputs (flattened pixels / features), the reference every run must beat.

    Returns
    -------
    dict
        ``raw_probe_clean`` and ``raw_probe_augmented`` (fractions), empty without labels.
    """
    if data.probe_y is None or data.eval_y is None:
        return {}
    eval_sets = {"clean": (data.eval_x.flatten(1), data.eval_y),
                 "augmented": (data.eval_aug_x.flatten(1), data.eval_y)}
    acc = linear_probe(data.probe_x.flatten(1), data.probe_y, eval_sets)
    return {"raw_probe_clean": acc["clean"], "raw_probe_augmented": acc["augmented"]}


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


class Monitor:
    """JSON lines + progress bar + collapse warnings for one run.

    Parameters
    ----------
    out : path or None
        Run folder; ``metrics.jsonl`` is written there (nothing is written for None).
    total_steps, initial_steps : int
        For the progress bar.
    quiet : bool
        No bar and no messages.
    progress : bool or None
        Draw the step bar: None (default) follows :func:`infossl._progress.progress_enabled` (stderr a
        terminal, progress not switched off by ``-q``, ``set_progress(False)`` or ``INFOSSL_PROGRESS=0``).
    enabled : bool
        False on ranks other than 0.
    stream : file, optional
        Where the epoch lines go (default standard output).
    records : sequence of dict
        Records of earlier epochs (a resumed run's): the collapse alarm looks back at them.
    """

    def __init__(self, out: Optional[Union[str, os.PathLike]], *, total_steps: int = 0,
                 initial_steps: int = 0, quiet: bool = False, enabled: bool = True, stream: Any = None,
                 records: Sequence[dict] = (), progress: Optional[bool] = None) -> None:
        self.enabled = enabled
        self.stream = stream
        self.quiet = quiet or not enabled
        self.path = Path(out) / "metrics.jsonl" if (out is not None and enabled) else None
        self.records: list[dict] = list(records)
        self.flagged: set[str] = set()
        self.bar = None
        if not self.quiet:
            # whole steps: "203/450", not "203.0/450.0"
            self.bar = progress_bar(progress_enabled(progress), total=total_steps, desc="train", unit="step",
                                    unit_scale=False)
            if initial_steps:
                self.bar.update(initial_steps)  # a resumed run starts where it stopped

    def message(self, text: str) -> None:
        """Print ``text`` (above the bar when one is drawn); nothing when quiet.

        Returns
        -------
        None
        """
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream)

    def log(self, record: dict) -> None:
        """Record one epoch: append a JSON line, update the bar, warn on a new collapse verdict.

        Returns
        -------
        None
        """
        if not self.enabled:
            return
        record = {k: _clean(v) for k, v in record.items()}
        record["collapse_alarm"] = collapse_alarm(record, self.records)
        self.records.append(record)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, default=json_default) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        self.message(format_epoch(record))
        if record.get("collapse_alarm") and not self.flagged:
            self.flagged.add("alarm")
            self.message(f"warning: epoch {record['epoch']}: possible collapse: {record['collapse_alarm']}")

    def close(self) -> None:
        """Close the progress bar (removed from the terminal).

        Returns
        -------
        None
        """
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_epoch(record: dict) -> str:
    """One line per epoch: loss terms, probe accuracies, representation statistics.

    Returns
    -------
    str
    """
    parts = [f"epoch {record['epoch']:>3}"]
    for k in ("loss", "cross_entropy", "entropy_a", "invariance", "variance", "covariance", "on_diagonal",
              "off_diagonal", "mi_lower_bound", "marginal_entropy", "mutual_information"):
        if record.get(k) is not None:
            parts.append(f"{k} {record[k]:.4g}")
    for k in ("probe_clean", "probe_augmented"):
        if record.get(k) is not None:
            parts.append(f"{k} {100 * record[k]:.1f}%")
    for k in ("backbone_rankme", "backbone_normalized_std", "mi_views_gaussian"):
        if record.get(k) is not None:
            parts.append(f"{k} {record[k]:.3g}")
    if record.get("backbone_verdict"):
        parts.append(str(record["backbone_verdict"]))
    return "  ".join(parts)


def read_records(path: Union[str, os.PathLike]) -> list[dict]:
    """The records of a ``metrics.jsonl`` file (a torn last line from a kill is skipped).

    Returns
    -------
    list of dict
    """
    out = []
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def curves_figure(records: Sequence[dict], *, title: str = "") -> Any:
    """The training curves as a matplotlib Figure: loss terms, probe accuracies and held-out ranks against the
    epoch (three panels; one line per recorded numeric key, and a legend entry only for a key that drew
    one). Needs matplotlib.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from infossl._plotting import new_figure

    recs = [r for r in records if isinstance(r.get("epoch"), int)]
    fig, axes = new_figure(1, 3, figsize=(15, 5), what="the training curves")
    skip = {"epoch", "step", "lr", "seconds", "mi_views_gaussian", "collapse_alarm"}
    terms = [k for k in (recs[-1] if recs else {}) if k not in skip
             and k.split("_")[0] not in ("probe", "backbone", "projector", "raw")]
    for i, k in enumerate(terms):
        _line(axes[0], recs, k, style=_STYLES[i % len(_STYLES)])
    axes[0].set_title("loss terms (nats where defined)")
    for i, k in enumerate(("probe_clean", "probe_augmented")):
        _line(axes[1], recs, k, style=_STYLES[i], marker=True)
    for k, colour in (("raw_probe_clean", "tab:blue"), ("raw_probe_augmented", "tab:orange")):
        baseline = [r[k] for r in recs if _number(r.get(k))]
        if baseline:  # measured once, on the raw inputs: a reference level, not a curve
            axes[1].axhline(baseline[0], color=colour, ls=(0, (2, 2)), lw=1, label=f"{k} (baseline)")
    axes[1].set_title("linear probe accuracy")
    for i, k in enumerate(("backbone_rankme", "backbone_effective_rank", "projector_rankme",
                           "projector_effective_rank")):
        _line(axes[2], recs, k, style=_STYLES[i % len(_STYLES)])
    axes[2].set_title("held-out embedding rank")
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # only keys that drew a line; below the panel, over no line
            ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


#: Line styles in turn, so that curves lying on each other (the two views' entropies) stay visible.
_STYLES = ("-", "--", ":", "-.")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _line(ax: Any, records: Sequence[dict], key: str, *, style: str = "-", marker: bool = False) -> None:
    """Plot ``key`` against the epoch where it is a finite number (bools and strings are not); nothing (and
    so no legend entry) when it never is."""
    points = [(r["epoch"], float(r[key])) for r in records if _number(r.get(key))]
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, ls=style, lw=1.8, marker="o" if marker and len(xs) < 30 else None, label=key)


def plot_curves(records: Sequence[dict], path: Union[str, os.PathLike], *, title: str = "") -> Optional[Path]:
    """Write :func:`curves_figure` as a PNG (atomically) and return its path.

    Returns
    -------
    Path or None
        The PNG's path; None (and nothing written) when matplotlib is not installed.
    """
    try:
        fig = curves_figure(records, title=title)
    except ImportError:
        return None
    return save_figure_atomic(fig, path, dpi=110)
