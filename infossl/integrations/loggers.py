"""Where the values of :class:`~infossl.integrations.CollapseMetrics` / :class:`~infossl.integrations.ViewInformation`
go: each logger is a callable ``logger(metrics, step)``; :func:`log_metrics` sends one dict to several.

* :class:`JSONLinesLogger`: one JSON object per call appended to a file (strings such as the verdict kept,
  NaN and infinities written as ``null``);
* :class:`CSVLogger`: rows ``step,name,value`` appended to a file (a long table, so new metrics never
  break the header; ``pandas.read_csv(path).pivot(index="step", columns="name", values="value")`` gives
  the wide one), or with ``layout="wide"`` one row per call (a step or an epoch) and one column per metric;
* :class:`TensorBoardLogger`: ``SummaryWriter.add_scalar`` for every finite number;
* :class:`LightningLogger`: ``LightningModule.log_dict`` for every finite number.

The two file loggers are append-safe: each call is one ``write`` of the whole record to a descriptor
opened with ``O_APPEND`` (the kernel positions and writes it as one unit, so concurrent writers and a
crash never interleave or tear a line short of a full disk), flushed and closed before the call returns.
The header of a new CSV file is created the same way, once (``O_EXCL``). A wide CSV that meets a metric
it has no column for is rewritten with the column added (earlier rows empty there): written to a
temporary file and renamed over the old one, so a reader sees the old file or the new one, never a part;
two processes adding columns to one wide file at the same moment can lose a row, so give each writer its
own file (or use the long layout).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

import numpy as np
import torch

from infossl._backend import PathLike
from infossl.io.plain import to_plain
from infossl.integrations.streaming_metrics import numeric_metrics

__all__ = ["JSONLinesLogger", "CSVLogger", "TensorBoardLogger", "LightningLogger", "log_metrics"]


def _plain(value: Any) -> Any:
    """A JSON/CSV-ready scalar (the conversion of :func:`infossl.io.plain.to_plain`, NaN/inf to None); metric
    values must be scalars."""
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise ValueError(f"metric values must be scalars; got a tensor of shape {tuple(value.shape)}")
    if isinstance(value, np.ndarray) and value.ndim:
        raise TypeError(f"metric values must be numbers or strings; got {type(value).__name__}")
    value = to_plain(value, nonfinite="null")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"metric values must be numbers or strings; got {type(value).__name__}")


def _check_metrics(metrics: Any) -> dict:
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict of name -> value, got {type(metrics).__name__}")
    for key in metrics:
        if not isinstance(key, str):
            raise TypeError(f"metric names must be strings, got {key!r}")
    return metrics


def _check_step(step: Any) -> Optional[int]:
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"step must be an integer or None, got {step!r}")
    return int(step)


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` with one write on an O_APPEND descriptor (looping only on a short write)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


class JSONLinesLogger:
    """Append one JSON object per call, ``{"step": step, **metrics}``, to ``path`` (append-safe).

    Examples
    --------
    >>> import json, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.jsonl")
    >>> log = JSONLinesLogger(path)
    >>> log({"verdict": "healthy", "rankme": 7.5}, step=1)
    >>> json.loads(open(path).read())
    {'step': 1, 'verdict': 'healthy', 'rankme': 7.5}
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a directory; give a file path such as {self.path / 'metrics.jsonl'}")
        if not self.path.parent.exists():
            raise ValueError(f"the folder of {self.path} does not exist")

    def __call__(self, metrics: dict, step: Optional[int] = None) -> None:
        record = {"step": _check_step(step)}
        record.update({k: _plain(v) for k, v in _check_metrics(metrics).items()})
        _append(self.path, (json.dumps(record, allow_nan=False) + "\n").encode("utf-8"))

    def __repr__(self) -> str:
        return f"JSONLinesLogger({str(self.path)!r})"


class CSVLogger:
    """Append rows ``step,name,value`` (one per metric) to ``path`` (append-safe; header on creation), or with
    ``layout="wide"`` one row per call with a column per metric.

    Parameters
    ----------
    path : path
        The CSV file (appended to when it exists with the same layout's header).
    layout : {"long", "wide"}, default "long"
        "long": rows ``step,name,value``, a fixed header. "wide": header ``step,<metric>,...``, one row per
        call, empty cells for metrics a call lacks; a metric first seen later adds a column (the file is
        rewritten atomically, see the module docstring).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.csv")
    >>> log = CSVLogger(path)
    >>> log({"rankme": 7.5, "verdict": "healthy"}, step=3)
    >>> print(open(path).read(), end="")
    step,name,value
    3,rankme,7.5
    3,verdict,healthy
    >>> wide = CSVLogger(os.path.join(tempfile.mkdtemp(), "wide.csv"), layout="wide")
    >>> wide({"rankme": 7.5, "verdict": "healthy"}, step=1)
    >>> wide({"rankme": 7.1, "lidar": 3.0}, step=2)
    >>> print(open(wide.path).read(), end="")
    step,rankme,verdict,lidar
    1,7.5,healthy,
    2,7.1,,3.0
    """

    HEADER = ("step", "name", "value")

    def __init__(self, path: PathLike, *, layout: str = "long") -> None:
        self.path = Path(path)
        if layout not in ("long", "wide"):
            raise ValueError(f"layout must be 'long' or 'wide', got {layout!r}")
        self.layout = layout
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a directory; give a file path such as {self.path / 'metrics.csv'}")
        if not self.path.parent.exists():
            raise ValueError(f"the folder of {self.path} does not exist")
        first = self._read_header()
        if first is None:
            return
        if layout == "long" and tuple(first) != self.HEADER:
            raise ValueError(f"{self.path} exists with header {first}, not {list(self.HEADER)}; use another "
                             "file (or layout='wide' for a file with one column per metric)")
        if layout == "wide" and (not first or first[0] != "step" or tuple(first) == self.HEADER):
            raise ValueError(f"{self.path} exists with header {first}, not a wide one starting with 'step'; "
                             "use another file")

    def _read_header(self) -> Optional[list]:
        if not (self.path.exists() and self.path.stat().st_size):
            return None
        with open(self.path, encoding="utf-8", newline="") as fh:
            return next(csv.reader(fh), None)

    def _header(self) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        try:
            os.write(fd, (",".join(self.HEADER) + "\r\n").encode("utf-8"))
        finally:
            os.close(fd)

    def __call__(self, metrics: dict, step: Optional[int] = None) -> None:
        step = _check_step(step)
        if self.layout == "wide":
            self._wide(_check_metrics(metrics), step)
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        for name, value in _check_metrics(metrics).items():
            value = _plain(value)
            writer.writerow(["" if step is None else step, name, "" if value is None else value])
        self._header()
        _append(self.path, buf.getvalue().encode("utf-8"))

    def _wide(self, metrics: dict, step: Optional[int]) -> None:
        if "step" in metrics:
            raise ValueError("a metric named 'step' would clash with the step column of a wide CSV; "
                             "rename it")
        values = {name: _plain(value) for name, value in metrics.items()}
        header = self._read_header()
        if header is None:
            header = ["step", *values]
            self._header_row(header)
            header = self._read_header()  # another writer may have created the file first
        missing = [name for name in values if name not in header]
        if missing:
            header = self._add_columns(header, missing)
        cells = ["" if step is None else step]
        cells += ["" if values.get(c) is None else values[c] for c in header[1:]]
        buf = io.StringIO()
        csv.writer(buf).writerow(cells)
        _append(self.path, buf.getvalue().encode("utf-8"))

    def _header_row(self, header: list) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        buf = io.StringIO()
        csv.writer(buf).writerow(header)
        try:
            os.write(fd, buf.getvalue().encode("utf-8"))
        finally:
            os.close(fd)

    def _add_columns(self, header: list, missing: list) -> list:
        """Rewrite the wide file with the columns ``missing`` appended (a temporary file, then a rename)."""
        with open(self.path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))[1:]
        header = header + missing
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row + [""] * (len(header) - len(row)))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        return header

    def __repr__(self) -> str:
        return f"CSVLogger({str(self.path)!r}, layout={self.layout!r})"


class TensorBoardLogger:
    """``writer.add_scalar(name, value, global_step=step)`` for every finite number of the dict.

    ``writer`` is a ``torch.utils.tensorboard.SummaryWriter`` (or anything with ``add_scalar``); without one
    a ``SummaryWriter(log_dir)`` is created, which needs the ``tensorboard`` package. Strings (the verdict)
    are skipped: ``verdict_code`` carries it as a number.
    """

    def __init__(self, writer: Any = None, *, log_dir: Optional[PathLike] = None) -> None:
        if writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise ImportError("TensorBoardLogger needs the tensorboard package (pip install tensorboard), "
                                  "or pass a writer with an add_scalar method") from exc
            writer = SummaryWriter(log_dir=None if log_dir is None else os.fspath(log_dir))
        if not callable(getattr(writer, "add_scalar", None)):
            raise TypeError(f"writer must have an add_scalar method (a SummaryWriter); got {type(writer).__name__}")
        self.writer = writer

    def __call__(self, metrics: dict, step: Optional[int] = None) -> None:
        step = _check_step(step)
        for name, value in numeric_metrics(_check_metrics(metrics)).items():
            self.writer.add_scalar(name, value, global_step=step)


class LightningLogger:
    """``module.log_dict(numbers)`` on a ``LightningModule`` (finite numbers only; ``**log_kwargs`` such
    as ``on_epoch=True`` or ``prog_bar=True`` are passed on). Lightning keeps the step itself."""

    def __init__(self, module: Any, **log_kwargs: Any) -> None:
        if not callable(getattr(module, "log_dict", None)):
            raise TypeError(f"module must have a log_dict method (a LightningModule); got {type(module).__name__}")
        self.module = module
        self.log_kwargs = log_kwargs

    def __call__(self, metrics: dict, step: Optional[int] = None) -> None:
        values = {k: float(v) for k, v in numeric_metrics(_check_metrics(metrics)).items()}
        if values:
            self.module.log_dict(values, **self.log_kwargs)


def log_metrics(metrics: dict, step: Optional[int], loggers: Union[Callable, Iterable[Callable]]) -> None:
    """Send ``metrics`` to every logger (a callable ``(metrics, step)``, or a list of them).

    Returns
    -------
    None
    """
    if callable(loggers):
        loggers = [loggers]
    for logger in loggers:
        if not callable(logger):
            raise TypeError(f"each logger must be callable as logger(metrics, step); got {logger!r}")
        logger(metrics, step)
