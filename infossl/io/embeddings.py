"""Read saved embeddings safely; write result files atomically.

:func:`load_array` reads one numeric array from ``.npy``, ``.npz``, ``.pt``/``.pth``, ``.safetensors``,
``.csv`` or ``.parquet`` without ever executing pickled code: numpy files are opened with
``allow_pickle=False`` and torch files with ``torch.load(weights_only=True)``. Large ``.npy`` (and
zip-format ``.pt``) files are memory-mapped copy-on-write, so pages are read from disk as an estimator
touches them and the file is never modified.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from infossl._backend import PathLike
from infossl._validation import check_int, check_options
from infossl.io.plain import json_default

Key = Union[None, str, Sequence[str]]

SUPPORTED_SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".pt", ".pth", ".safetensors", ".csv", ".parquet")


# --------------------------------------------------------------------------------------------- helpers
def checked_array(arr: np.ndarray, source: str, max_ndim: int = 2) -> np.ndarray:
    """Check the array has 1 to ``max_ndim`` dimensions and is numeric; integers become float64, floats keep
    their dtype."""
    if arr.ndim == 0 or arr.ndim > max_ndim:
        hint = (
            " Flatten the trailing dimensions first (a.reshape(len(a), -1)) and save again."
            if arr.ndim > max_ndim and max_ndim == 2
            else ""
        )
        want = "(n_samples, n_features)" if max_ndim == 2 else f"an array of 1 to {max_ndim} dimensions"
        raise ValueError(f"{source} holds an array of shape {arr.shape}; expected {want}.{hint}")
    kind = arr.dtype.kind
    if kind == "f":
        return arr
    if kind in "iu":
        return arr.astype(np.float64)
    if kind == "b":
        raise TypeError(
            f"{source} holds a boolean array; convert it to float explicitly if the 0/1 values are numbers"
        )
    raise TypeError(f"{source} holds an array of dtype {arr.dtype}, which is not real-valued numeric data")


def pick_key(names: Sequence[str], key: Key, source: str, what: str = "arrays") -> str:
    """Choose one of ``names`` by ``key``; with no key there must be exactly one."""
    listed = ", ".join(map(repr, names))
    if key is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise ValueError(f"{source} holds no {what}")
        raise ValueError(f"{source} holds {len(names)} {what}; choose one with key=...: {listed}")
    if not isinstance(key, str):
        raise TypeError(f"key must be a string for {source}, got {key!r}")
    if key not in names:
        raise ValueError(f"key={key!r} is not in {source}; available {what}: {listed}")
    return key


def _no_key(key: Key, source: str) -> None:
    if key is not None:
        raise ValueError(f"{source} holds a single array; key={key!r} does not apply")


def tensor_to_numpy(t: Any, source: str) -> np.ndarray:
    """Tensor ``t`` as a CPU numpy array (bfloat16 read as float32); TypeError when ``t`` is not a tensor."""
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{source} holds a {type(t).__name__}, expected a tensor")
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16
        t = t.to(torch.float32)
    return t.resolve_conj().resolve_neg().numpy()


# --------------------------------------------------------------------------------------------- readers
def read_npy_array(path: Path, key: Key, mmap: bool) -> np.ndarray:
    """The array of a ``.npy`` file, memory-mapped when ``mmap``; a ``key`` is refused (one array per file)."""
    _no_key(key, str(path))
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise ValueError(
                f"{path} is not a .npy file (no NumPy header); infossl does not unpickle data files"
            )
    try:
        arr = np.load(path, mmap_mode="c" if mmap else None, allow_pickle=False)  # copy-on-write map
    except ValueError as exc:
        if "pickle" in str(exc) or "Python objects" in str(exc):
            raise ValueError(
                f"{path} holds pickled Python objects; infossl does not unpickle data files. "
                "Save a numeric array (np.save(path, a.astype(float)))"
            ) from None
        raise ValueError(f"cannot read {path} as .npy: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as .npy: {exc}") from None
    return arr


def _read_npz(path: Path, key: Key, mmap: bool) -> np.ndarray:
    with open(path, "rb") as fh:
        if fh.read(2) != b"PK":
            raise ValueError(
                f"{path} is not a .npz file (not a zip archive); infossl does not unpickle data files"
            )
    try:
        with np.load(path, allow_pickle=False) as archive:
            name = pick_key(list(archive.files), key, str(path))
            return archive[name]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(
                f"{path} holds pickled Python objects; infossl does not unpickle data files"
            ) from None
        raise
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # truncated or corrupt zip archive
        raise ValueError(f"cannot read {path} as .npz (truncated or corrupt zip archive: {exc})") from None


def read_torch_array(path: Path, key: Key, mmap: bool) -> np.ndarray:
    """The tensor (or the ``key`` entry of a dict of tensors) of a ``.pt`` file, read with ``weights_only``."""
    import torch

    def load(use_mmap: bool) -> Any:
        with warnings.catch_warnings():  # torch's note on TorchScript archives: refused below instead
            warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)

    try:
        try:
            obj = load(mmap)
        except RuntimeError:
            if not mmap:
                raise
            obj = load(False)  # legacy (non-zip) files cannot be memory-mapped
    except pickle.UnpicklingError as exc:
        # Keep torch's one line that names the offending object, e.g. "Unsupported global: GLOBAL a.B".
        detail = next(
            (
                ln.split("error:", 1)[1].split(" was not")[0].strip()
                for ln in str(exc).splitlines()
                if "WeightsUnpickler error:" in ln
            ),
            "",
        )
        raise ValueError(
            f"refused to load {path}: it holds objects other than tensors and plain containers"
            f"{' (' + detail + ')' if detail else ''}, and infossl only reads torch files with "
            f"weights_only=True (it never unpickles arbitrary code). Save the embeddings with "
            f"torch.save(tensor, path) or torch.save({{'name': tensor}}, path)"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        if "TorchScript" in str(exc):
            raise ValueError(f"{path} is a TorchScript archive (a program, not embeddings); infossl does not "
                             "run it. Save the embeddings with torch.save(tensor, path)") from None
        raise ValueError(f"cannot read {path} as a torch file: {exc}") from None
    source = str(path)
    if isinstance(obj, dict):
        names = [str(k) for k in obj]
        name = pick_key(names, key, source, what="entries")
        obj = {str(k): v for k, v in obj.items()}[name]
        source = f"{path}[{name!r}]"
    elif isinstance(obj, (list, tuple)):
        if key is None and len(obj) == 1:
            obj = obj[0]
        else:
            if key is None or not str(key).isdigit() or int(key) >= len(obj):
                raise ValueError(
                    f"{path} holds a {type(obj).__name__} of {len(obj)} entries; choose one with key='0'.."
                    f"'{len(obj) - 1}', got key={key!r}"
                )
            obj = obj[int(key)]
            source = f"{path}[{int(key)}]"
    else:
        _no_key(key, source)
    return tensor_to_numpy(obj, source)


def safetensors_open(path: Path):
    """``safetensors.safe_open``, or an ImportError naming ``path`` and the install command."""
    try:
        from safetensors import safe_open
    except ImportError:
        raise ImportError(
            f"reading {path} needs the optional safetensors package: pip install safetensors"
        ) from None
    return safe_open


def _read_safetensors(path: Path, key: Key, mmap: bool) -> np.ndarray:
    safe_open = safetensors_open(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            name = pick_key(list(handle.keys()), key, str(path), what="tensors")
            tensor = handle.get_tensor(name)
    except (ValueError, TypeError):
        raise
    except Exception as exc:  # safetensors raises its own SafetensorError on malformed files
        raise ValueError(f"cannot read {path} as .safetensors: {exc}") from None
    return tensor_to_numpy(tensor, f"{path}[{name!r}]")


def select_columns(df: Any, key: Key, source: str) -> np.ndarray:
    """The numeric columns of data frame ``df`` (or the ``key`` columns) as an (n, d) array."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    names = [str(c) for c in df.columns]
    df = df.set_axis(names, axis=1)
    if key is None:
        cols = names
    elif isinstance(key, str):
        cols = [key] if key in names else [c.strip() for c in key.split(",") if c.strip()]
    else:
        cols = [str(c) for c in key]
    if not cols:
        raise ValueError(f"{source} has no columns" if key is None else f"key={key!r} selects no columns")
    missing = [c for c in cols if c not in names]
    if missing:
        raise ValueError(
            f"columns {missing} are not in {source}; available columns: {', '.join(map(repr, names))}"
        )
    bad = [c for c in cols if is_bool_dtype(df[c]) or not is_numeric_dtype(df[c])]
    if bad:
        hint = "; select numeric columns with key='a,b,...'" if key is None else ""
        raise ValueError(f"{source} has non-numeric columns {bad}{hint}")
    return df[cols].to_numpy(dtype=np.float64)  # (n, len(cols))


def check_text_complete(path: Path, what: str = ".csv") -> None:
    """Raise a ValueError when the text file ``path`` does not end with a line break.

    The rule for every text format read here: a file cut off while it was written (a full disk, a killed
    writer, a partial copy) ends inside its last line, and a number cut short there still parses (4.0625
    read as 4.06) or leaves the row short. Writers (pandas, numpy.savetxt, csv) end every line with a line
    break, so a file without a final one is refused, naming its last line. An empty file is left to the
    parser's own message.
    """
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) in (b"\n", b"\r"):
            return
        fh.seek(0)
        breaks = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    raise ValueError(
        f"{path} is truncated: its last line (line {breaks + 1}) does not end with a line break, so its last "
        f"value may be cut short or its row incomplete. A {what} file must end with a line break; if the "
        "file is complete, add one (echo >> FILE)"
    )


def _read_csv(path: Path, key: Key, mmap: bool) -> np.ndarray:
    import pandas as pd

    check_text_complete(path)
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path} as .csv: {exc}") from None
    return select_columns(df, key, str(path))


def _read_parquet(path: Path, key: Key, mmap: bool) -> np.ndarray:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(f"reading {path} needs the optional pyarrow package: pip install pyarrow") from None
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except (OSError, pyarrow.ArrowException) as exc:
        raise ValueError(f"cannot read {path} as .parquet: {exc}") from None
    return select_columns(df, key, str(path))


_READERS: dict[str, Callable[[Path, Key, bool], np.ndarray]] = {
    ".npy": read_npy_array,
    ".npz": _read_npz,
    ".pt": read_torch_array,
    ".pth": read_torch_array,
    ".safetensors": _read_safetensors,
    ".csv": _read_csv,
    ".parquet": _read_parquet,
}


def resolve_path(path: PathLike, handlers: dict) -> tuple[Path, Any]:
    """The checked ``Path`` of an existing embeddings file and the handler for its suffix (case-insensitive);
    clear errors for a missing file, a directory or an unknown suffix. Shared by the whole-file and the
    streaming readers."""
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"no such file: '{p}'")
    if p.is_dir():
        raise ValueError(f"'{p}' is a directory; give the path of an embeddings file")
    handler = handlers.get(p.suffix.lower())
    if handler is None:
        raise ValueError(
            f"cannot read '{p}': unknown suffix {p.suffix!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return p, handler


@check_options("infossl.io.load_array")
def load_array(path: PathLike, key: Key = None, *, mmap: bool = True, max_ndim: int = 2) -> np.ndarray:
    """Load one numeric array of embeddings from a file, without executing any pickled code.

    Parameters
    ----------
    path : str or path-like
        A ``.npy``, ``.npz``, ``.pt``/``.pth``, ``.safetensors``, ``.csv`` or ``.parquet`` file
        (suffix matched case-insensitively).
    key : str or sequence of str, optional
        Which array to read. ``.npz``: the array name; ``.pt``: the dict entry (or list index as a string);
        ``.safetensors``: the tensor name. Needed only when the file holds several. ``.csv``/``.parquet``:
        a column name, comma-separated names (``"a,b,c"``) or a list of names; by default every column,
        which must then all be numeric. Not allowed for ``.npy``.
    mmap : bool, default True
        Memory-map ``.npy`` and zip-format ``.pt`` files instead of reading them into memory. The maps are
        copy-on-write: the array is writable (so it converts to a torch tensor without a copy or a warning)
        and writes never reach the file.
    max_ndim : int, default 2
        The most dimensions accepted: 2 for embeddings; e.g. 4 for (N, C, H, W) training images.

    Returns
    -------
    ndarray, shape (n, d) or (n,)
        Floating values (float arrays keep their dtype, integers become float64); a 1-D array is returned
        as stored. ``.csv``/``.parquet`` always give (n, n_columns) float64.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Unknown suffix, unreadable or pickled content, a missing or ambiguous key (the message lists the
        available keys), or an array that is not 1-D/2-D.
    TypeError
        Non-numeric (boolean, complex, string, object) content.
    ImportError
        ``.safetensors`` without ``safetensors`` or ``.parquet`` without ``pyarrow`` installed.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "z.npz")
    >>> np.savez(p, z=np.eye(3))
    >>> load_array(p).shape
    (3, 3)
    """
    p, reader = resolve_path(path, _READERS)
    max_ndim = check_int(max_ndim, "max_ndim", low=1)
    return checked_array(np.asanyarray(reader(p, key, mmap)), str(p), max_ndim)


# --------------------------------------------------------------------------------------------- writers
@check_options("infossl.io.write_text_atomic")
def write_text_atomic(text: Union[str, bytes], path: PathLike, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` (str, or bytes written as they are) to ``path`` atomically: a temporary file in the
    same directory, then ``os.replace``.

    A reader never sees a half-written file, and an interrupted write leaves any previous file intact.
    Missing parent directories are created. Returns the path written. A failed write (a full disk, say)
    removes its temporary file and raises an OSError that names ``path``.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    p = Path(os.fspath(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    mode = p.stat().st_mode & 0o777 if p.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        binary = isinstance(text, bytes)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": encoding})) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):  # e.g. a full disk: the system's message names no file
            raise OSError(exc.errno, f"writing {p} failed ({exc.strerror or exc}); the previous file, if "
                          "any, is intact and no temporary file is left") from exc
        raise
    return p


@check_options("infossl.io.save_csv_atomic")
def save_csv_atomic(table: Any, path: PathLike) -> Path:
    """Write a pandas DataFrame, or a list of row dicts, as CSV with :func:`write_text_atomic`.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    import pandas as pd

    df = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    return write_text_atomic(df.to_csv(index=False), path)


def save_figure_atomic(figure: Any, path: PathLike, **savefig_kwargs: Any) -> Path:
    """Render a matplotlib figure (anything with ``savefig``) to memory, then write it atomically.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    buf = io.BytesIO()
    fmt = Path(os.fspath(path)).suffix.lstrip(".") or "png"
    figure.savefig(buf, format=fmt, **savefig_kwargs)
    return write_text_atomic(buf.getvalue(), path)


_json_default = json_default  # the old private name, kept for its callers


@check_options("infossl.io.save_json_atomic")
def save_json_atomic(obj: Any, path: PathLike, *, indent: Optional[int] = 2) -> Path:
    """Write ``obj`` as JSON with :func:`write_text_atomic` (converts numpy, tensors, paths).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    return write_text_atomic(json.dumps(obj, indent=indent, default=json_default) + "\n", path)
