"""Diagnose embeddings stored in files, in one streaming pass with O(d^2) memory.

:func:`accumulate_path` reads one file, or several shards whose rows are concatenated, chunk by chunk
(:func:`infossl.io.iter_array_chunks`) into a :class:`~infossl.diagnostics.accumulator.MomentAccumulator`;
:func:`diagnose_path` then turns the accumulated moments into a
:class:`~infossl.diagnostics.report.DiagnosisReport` with
:func:`~infossl.diagnostics.diagnosis.diagnose_statistics`, the same computation :func:`infossl.diagnose` runs on
an in-memory array. Memory is one chunk plus the (d, d) moments and the reservoir sample, whatever n is.

Long passes show a ``tqdm`` progress bar on stderr: by default only when stderr is a terminal and the file
holds at least :data:`PROGRESS_MIN_VALUES` values; ``progress=False`` silences it, ``progress=True``
forces it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from infossl._backend import PASS_CHUNK_BYTES, chunk_size_for  # PASS_CHUNK_BYTES: also importable from here
from infossl._progress import progress_bar, progress_enabled
from infossl._validation import check_labels
from infossl._validation import check_int
from infossl.diagnostics.accumulator import MomentAccumulator
from infossl.io.embeddings import Key, PathLike, load_array
from infossl.io.streaming import open_source

Paths = Union[PathLike, Sequence[PathLike]]

# Show the progress bar (when stderr is a terminal) for files of at least this many values (n * d).
PROGRESS_MIN_VALUES = 20_000_000


def as_paths(paths: Paths, name: str = "paths") -> list[str]:
    """One path or a non-empty sequence of paths as a list of ``str`` (shared with
    :mod:`~infossl.diagnostics.checkpoints`); a TypeError or ValueError names ``name``."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [os.fsdecode(paths)]
    try:
        out = [os.fsdecode(p) for p in paths]
    except TypeError:
        raise TypeError(f"{name} must be a path or a sequence of paths, got {paths!r}") from None
    if not out:
        raise ValueError(f"{name} is empty; give at least one file")
    return out


def show_progress(progress: Optional[bool], values: Optional[int]) -> bool:
    """Whether to draw a bar: ``progress`` when given, else :func:`infossl._progress.progress_enabled`'s rule
    with a pass of ``values`` values worth a bar from :data:`PROGRESS_MIN_VALUES`."""
    return progress_enabled(progress, work=values, min_work=PROGRESS_MIN_VALUES)


def _read_ahead(chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield the chunks of ``chunks`` while the next one is read in a background thread (file reads release
    the GIL, so reading overlaps the accumulator's products). One chunk ahead at most: with the readers'
    two alternating buffers, the chunk being used is never the one being filled."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, chunks, None)
        while True:
            chunk = pending.result()
            if chunk is None:
                return
            pending = pool.submit(next, chunks, None)
            yield chunk


def accumulate_path(
    paths: Paths,
    key: Key = None,
    *,
    chunk_rows: Optional[int] = None,
    progress: Optional[bool] = None,
    accumulator: Optional[MomentAccumulator] = None,
    sample_size: int = 2048,
    random_state: Any = 0,
    distributed: bool = False,
) -> MomentAccumulator:
    """Stream the rows of one file (or of shards, concatenated in order) into a moment accumulator.

    Parameters
    ----------
    paths : path or sequence of paths
        Embedding files (any format of :func:`infossl.io.load_array`); several files are read as one
        (n_1 + n_2 + ..., d) matrix and must have the same number of columns.
    key : str, optional
        Array / column selection, the same for every file.
    chunk_rows : int, optional
        Rows per chunk (default: 128 MiB of the file's dtype, :data:`PASS_CHUNK_BYTES`).
    progress : bool or None, default None
        Progress bar on stderr; ``None`` shows it only on a terminal for large files.
    accumulator : MomentAccumulator, optional
        Continue this accumulator (e.g. one per rank, then :meth:`MomentAccumulator.all_reduce`).
    sample_size, random_state
        Passed to a new :class:`MomentAccumulator` (reservoir sample for pairwise / label metrics).
    distributed : bool, default False
        Split the files over the ranks of the initialised ``torch.distributed`` process group (rank r reads
        files r, r + world, r + 2 world, ...), then :meth:`MomentAccumulator.all_reduce`: every rank returns
        the moments of all files (their row order is then rank order, which moments do not depend on).

    Returns
    -------
    MomentAccumulator
        n, mean (d,), covariance (d, d), normalised-row moments and a reservoir sample.

    Raises
    ------
    ValueError
        Unreadable, truncated or mismatched files, or NaN / infinite values (the message names the file and
        the row). Every file is opened and checked before the pass starts.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> z = np.random.default_rng(0).standard_normal((1000, 3))
    >>> for i, part in enumerate(np.array_split(z, 2)):
    ...     np.save(os.path.join(folder, f"shard{i}.npy"), part)
    >>> acc = accumulate_path([os.path.join(folder, f"shard{i}.npy") for i in range(2)], chunk_rows=128)
    >>> acc.n, bool(np.allclose(acc.covariance.numpy(), np.cov(z, rowvar=False)))
    (1000, True)
    """
    files = as_paths(paths)
    if not isinstance(distributed, bool):
        raise TypeError(f"distributed must be True or False, got {distributed!r}")
    rank = 0
    if distributed:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError("distributed=True needs an initialised torch.distributed process group")
        rank, world = dist.get_rank(), dist.get_world_size()
        d_all = open_source(files[0], key).d  # a rank may get no file; every rank needs d
        files = files[rank::world]
        if accumulator is None:
            accumulator = MomentAccumulator(d_all, sample_size=sample_size, random_state=random_state)
        if not files:
            return accumulator.all_reduce()
    sources = [open_source(p, key) for p in files]  # validate every shard before the long pass
    dims = {s.d for s in sources}
    if len(dims) > 1:
        shapes = ", ".join(f"{p}: {s.d}" for p, s in zip(files, sources))
        raise ValueError(f"the files have different numbers of columns ({shapes})")
    if chunk_rows is not None:
        chunk_rows = check_int(chunk_rows, "chunk_rows")
    acc = (
        accumulator
        if accumulator is not None
        else MomentAccumulator(sources[0].d, sample_size=sample_size, random_state=random_state)
    )
    if not isinstance(acc, MomentAccumulator):
        raise TypeError(f"accumulator must be a MomentAccumulator, got {type(acc).__name__}")
    counts = [s.n for s in sources]
    total = None if any(c is None for c in counts) else sum(counts)
    enabled = show_progress(progress, None if total is None else total * sources[0].d) and rank == 0
    desc = os.path.basename(files[0]) + (f" (+{len(files) - 1} files)" if len(files) > 1 else "")
    with progress_bar(enabled, total=total, desc=desc, unit="rows") as bar:
        for path, src in zip(files, sources):
            start = acc.n
            read = src.read_reusing or src.read  # the accumulator copies what it keeps
            rows = chunk_rows or chunk_size_for(src.d, itemsize=src.itemsize, memory_budget=PASS_CHUNK_BYTES)
            for chunk in _read_ahead(read(rows)):
                try:
                    acc.update(chunk)
                except ValueError as exc:
                    raise ValueError(f"{path} (rows from {start} on): {exc}") from None
                bar.update(len(chunk))
    acc.free_buffers()  # the pass is over: release the chunk workspace before the report
    return acc.all_reduce() if distributed else acc


def row_labels(labels: Any, n: int) -> Optional[np.ndarray]:
    """``labels`` (None, a file path or an array, (n,) or (n, 1)) as one label per row, shape (n,) (shared with
    :mod:`~infossl.diagnostics.checkpoints`), checked by :func:`infossl._validation.check_labels`."""
    if labels is None:
        return None
    if isinstance(labels, (str, bytes, os.PathLike)):
        labels = load_array(labels)
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return check_labels(arr, n)


def _views(files: list[str], views: Any, key: Key) -> Optional[list]:
    """[the embeddings themselves, *views]: the file is view 0, memory-mapped (views are read whole)."""
    if views is None:
        return None
    if len(files) != 1:
        raise ValueError(f"views need a single embeddings file (view 0), got {len(files)} files")
    if isinstance(views, (str, bytes, os.PathLike)):
        views = [views]
    return [load_array(files[0], key)] + [
        load_array(v, key) if isinstance(v, (str, bytes, os.PathLike)) else v for v in views
    ]


def diagnose_path(
    paths: Paths,
    key: Key = None,
    *,
    views: Any = None,
    labels: Any = None,
    chunk_rows: Optional[int] = None,
    progress: Optional[bool] = None,
    sample_size: int = 2048,
    random_state: Any = 0,
    distributed: bool = False,
    **options: Any,
) -> Any:
    """Diagnose collapse of the embeddings in a file (or shards) in one streaming pass.

    Parameters
    ----------
    paths : path or sequence of paths
        Embeddings, rows are samples (see :func:`accumulate_path`).
    key : str, optional
        Array / column selection in every file (also used for the view files).
    views : sequence of paths or arrays, optional
        Other augmented views of the same inputs, row-aligned with the file, which is view 0, for the
        view-based metrics (LiDAR, alignment, invariance ratio, MI between views). With views the file and
        the view files are read whole (memory-mapped where the format allows), so only one file is allowed.
    labels : path or array (n,), optional
        Class labels of the rows, for the label-based checks (NC1, class-mean rank, separability).
    chunk_rows, progress, sample_size, random_state, distributed
        See :func:`accumulate_path` (with ``distributed=True`` every rank returns the same report).
    **options
        Passed to :func:`infossl.diagnostics.diagnosis.diagnose_statistics` (e.g. ``thresholds``, ``eps``).

    Returns
    -------
    DiagnosisReport
        The same report as ``infossl.diagnose(load_array(path))`` (up to floating-point summation order).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "z.npy")
    >>> rng = np.random.default_rng(0)
    >>> np.save(p, rng.standard_normal((5000, 3)) @ rng.standard_normal((3, 6)))   # rank 3 in R^6
    >>> report = diagnose_path(p, chunk_rows=1000, progress=False)
    >>> report.verdict, report.collapse_rank, report.n
    ('dimensional-collapse', 3, 5000)
    """
    from infossl.diagnostics.diagnosis import diagnose_statistics

    files = as_paths(paths)
    if distributed and (views is not None or labels is not None):
        raise ValueError(
            "views and labels are row-aligned with the files; they cannot be used with distributed=True"
        )
    view_list = _views(files, views, key)  # checked before the pass
    acc = accumulate_path(
        files,
        key,
        chunk_rows=chunk_rows,
        progress=progress,
        sample_size=sample_size,
        random_state=random_state,
        distributed=distributed,
    )
    return diagnose_statistics(
        acc, views=view_list, labels=row_labels(labels, acc.n), random_state=random_state, **options
    )


__all__ = ["PROGRESS_MIN_VALUES", "accumulate_path", "diagnose_path", "progress_bar", "show_progress"]
