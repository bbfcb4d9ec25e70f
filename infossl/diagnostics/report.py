"""The result of a collapse diagnosis: verdict, metric table, spectrum; JSON / markdown / PNG forms."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from infossl._backend import PathLike
from infossl.io.plain import to_plain



@dataclass
class DiagnosisReport:
    """Outcome of :func:`~infossl.diagnostics.diagnose` / :func:`~infossl.diagnostics.diagnose_statistics`.

    Attributes
    ----------
    verdict : str
        "healthy", "dimensional-collapse" or "complete-collapse" (rule in :mod:`infossl.diagnostics.verdict`).
    collapse_rank : int
        k, the number of non-collapsed directions (0 for complete collapse; m = min(d, n - 1) when healthy).
    dim : int
        d, the embedding dimension.
    n : int
        Number of rows diagnosed.
    metrics : pandas.DataFrame
        Indexed by metric name; columns ``value``, ``description``, ``group`` (spectrum, scale, geometry,
        views, labels) and ``scale_aware`` (whether the metric sees collapse onto a constant plus noise).
    spectrum : numpy.ndarray (d,)
        Eigenvalues of the centred covariance, descending.
    reasons : list of str
        Which rules fired, and caveats.
    thresholds : dict
        The thresholds the verdict used.
    """

    verdict: str
    collapse_rank: int
    dim: int
    n: int
    metrics: Any
    spectrum: np.ndarray
    reasons: list = field(default_factory=list)
    thresholds: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        """The value of one metric, e.g. ``report["rankme"]``."""
        if name not in self.metrics.index:
            raise KeyError(f"no metric {name!r}; available: {list(self.metrics.index)}")
        return self.metrics.loc[name, "value"]

    def as_dict(self) -> dict:
        """Flat JSON-able dict: verdict, collapse_rank, dim, n, then every metric value (NaN -> None).

        Returns
        -------
        dict
            Flat and JSON-able (NaN as None).
        """
        out: dict = {"verdict": self.verdict, "collapse_rank": int(self.collapse_rank), "dim": int(self.dim),
                     "n": int(self.n)}
        for name, value in self.metrics["value"].items():
            if name not in out:
                out[name] = to_plain(value, nonfinite="null")
        return out

    def to_json(self, path: Optional[PathLike] = None, *, indent: int = 2) -> str:
        """JSON text with the flat metrics plus ``reasons``, ``thresholds`` and ``spectrum``; written
        atomically to ``path`` when given.

        Returns
        -------
        str
            The JSON text.
        """
        doc = self.as_dict()
        doc["reasons"] = list(self.reasons)
        doc["thresholds"] = dict(self.thresholds)
        doc["spectrum"] = to_plain([float(x) for x in np.asarray(self.spectrum)], nonfinite="null")
        text = json.dumps(doc, indent=indent)
        if path is not None:
            from infossl.io import write_text_atomic

            write_text_atomic(text + "\n", path)
        return text

    def to_markdown(self) -> str:
        """A markdown summary: verdict line, reasons, and the metric table.

        Returns
        -------
        str
            Markdown; text from the metrics and reasons is escaped (:func:`markdown_text`), so a ``|`` or an
            ``_`` in a description (``||Z||_F^2``) neither breaks the table nor starts emphasis.
        """
        head = f"**Verdict: {self.verdict}**"
        if self.verdict == "dimensional-collapse":
            head += f" (k = {self.collapse_rank} of d = {self.dim})"
        lines = [head, "", f"n = {self.n}, d = {self.dim}", ""]
        lines += [f"- {markdown_text(r)}" for r in self.reasons]
        lines += ["", "| metric | value | description |", "|---|---|---|"]
        for name, row in self.metrics.iterrows():
            cells = (markdown_text(c) for c in (name, _fmt(row["value"]), row["description"]))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()

    def plot(self, path: Optional[PathLike] = None, *, ax: Any = None) -> Any:
        """Centred covariance spectrum on a log scale, with the collapse cut (rank k) marked.

        Needs matplotlib (the ``plot`` extra; imported here only). Returns the figure; with ``path`` it is
        also written atomically (PNG, or the format of the suffix) through
        :func:`infossl.io.save_figure_atomic`.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (the one of ``ax`` when given).
        """
        if ax is None:
            from infossl._plotting import new_figure

            fig, ax = new_figure(figsize=(6, 4), what="DiagnosisReport.plot")
        else:
            fig = ax.figure
        lam = np.asarray(self.spectrum, dtype=np.float64)
        positive = lam > 0
        ranks = np.arange(1, lam.size + 1)
        if positive.any():
            ax.semilogy(ranks[positive], lam[positive], marker=".", lw=1, label="covariance eigenvalues")
        ax.axvline(self.collapse_rank + 0.5, color="C3", ls="--",
                   label=f"collapse cut k = {self.collapse_rank}")
        ax.set_xlabel("rank i")
        ax.set_ylabel("eigenvalue (centred covariance)")
        ax.set_title(f"{self.verdict} (n = {self.n}, d = {self.dim})")
        ax.legend(loc="best", fontsize="small")
        if path is not None:
            from infossl.io import save_figure_atomic

            save_figure_atomic(fig, path, dpi=120, bbox_inches="tight")
        return fig


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def markdown_text(value: Any) -> str:
    """``value`` as text for a markdown table cell or list item: markdown's special characters (``\\ ` * _
    [ ] < > |``) backslash-escaped and line breaks replaced by spaces.

    Returns
    -------
    str
        The escaped text; it renders as the original characters.

    Examples
    --------
    >>> print(markdown_text("||Z||_F^2"))
    \\|\\|Z\\|\\|\\_F^2
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).splitlines()))


def _fmt(value: Any) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "nan" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)
