"""Telling model checkpoints from embeddings files, without unpickling code.

:func:`is_checkpoint` decides by suffix, then by content; :func:`is_torchscript_archive` recognises a
``torch.jit.save`` archive (a program, refused by the loaders unless trusted) by its zip members.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

from infossl.io.embeddings import PathLike
from infossl.io.train_format import FORMAT

#: The entries of a checkpoint dict that may hold the state dict, in the order they are tried.
STATE_DICT_ENTRIES: tuple[str, ...] = ("state_dict", "model_state_dict", "model", "net", "network")

# ------------------------------------------------------------------------------------------ detection
#: Suffixes that are always embeddings / always checkpoints; .pt, .pth and .safetensors are looked into.
EMBEDDING_SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".csv", ".parquet")
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".ckpt", ".bin", ".tar")
WEIGHT_ENDINGS: tuple[str, ...] = (".weight", ".bias", ".running_mean", ".running_var")


def _looks_like_weights(keys: Sequence[Any]) -> bool:
    return any(isinstance(k, str) and (k.endswith(WEIGHT_ENDINGS) or k in ("weight", "bias")) for k in keys)


def not_a_checkpoint(path: Path) -> Optional[str]:
    """Why ``path`` cannot be a model checkpoint, or None when it may be one.

    Decided without unpickling: an embeddings suffix (:data:`EMBEDDING_SUFFIXES`), or content that is
    neither a zip archive (``torch.save``, TorchScript) nor a pickle (legacy ``torch.save``), such as text.
    The loaders raise this one message instead of an unpickler's error about the bytes they did not expect.
    """
    suffix = path.suffix.lower()
    if suffix in EMBEDDING_SUFFIXES:
        return (f"{path} is an embeddings file ({suffix}), not a model checkpoint: read it with "
                "infossl.io.load_array, or give it to 'infossl diagnose' without --checkpoints and the "
                "checkpoint options")
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head[:2] == b"PK" or head[:1] == b"\x80":  # zip archive, or pickle protocol >= 2
        return None
    kind = "a text file" if _is_text(head) else "a binary file without a zip or pickle header"
    return (f"{path} is {kind}, not a model checkpoint: checkpoints are torch.save files (.pt/.pth/.ckpt) "
            "or .safetensors")


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


def is_torchscript_archive(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with ``constants.pkl`` or ``code/`` members)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def is_checkpoint(path: PathLike) -> bool:
    """Whether ``path`` holds a model (weights, an infossl checkpoint, TorchScript) rather than embeddings.

    Decided without unpickling code: by suffix (``.npy .npz .csv .parquet`` are embeddings; ``.ckpt .bin
    .tar`` checkpoints), else by content (``.safetensors`` metadata and tensor names; a ``.pt``/``.pth``
    file's ``format`` entry, parameter-like keys or a state-dict entry). A file that asks the unpickler for
    Python objects counts as a checkpoint, so that :func:`load_checkpoint` explains the refusal; an unreadable
    file is not one (the embeddings reader reports it).

    Returns
    -------
    bool
        True for a model file.

    Examples
    --------
    >>> import os, tempfile, numpy as np, torch
    >>> d = tempfile.mkdtemp()
    >>> torch.save({"fc.weight": torch.ones(2, 2)}, os.path.join(d, "w.pt"))
    >>> torch.save(torch.ones(5, 3), os.path.join(d, "z.pt"))
    >>> is_checkpoint(os.path.join(d, "w.pt")), is_checkpoint(os.path.join(d, "z.pt"))
    (True, False)
    """
    p = Path(os.fspath(path))
    suffix = p.suffix.lower()
    if suffix in EMBEDDING_SUFFIXES or not p.is_file():
        return False
    if suffix in CHECKPOINT_SUFFIXES:
        return True
    if suffix == ".safetensors":
        try:
            from safetensors import safe_open

            with safe_open(str(p), framework="pt") as h:
                meta = h.metadata() or {}
                return meta.get("format") == FORMAT or _looks_like_weights(list(h.keys()))
        except Exception:  # unreadable (or safetensors missing): let the embeddings reader report it
            return False
    if suffix not in (".pt", ".pth"):
        return False
    import torch

    if is_torchscript_archive(p):
        return True
    obj = None
    for mmap in (True, False):  # legacy (non-zip) files cannot be memory-mapped
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = torch.load(p, map_location="cpu", weights_only=True, mmap=mmap)
            break
        except pickle.UnpicklingError:
            return True  # Python objects (a pickled module?): load_checkpoint explains the refusal
        except Exception:  # unreadable: the reader of the chosen mode reports it
            continue
    if not isinstance(obj, dict):
        return False
    if obj.get("format") == FORMAT or _looks_like_weights(list(obj)):
        return True
    return any(isinstance(obj.get(e), dict) and bool(obj[e]) for e in STATE_DICT_ENTRIES)


__all__ = [
    "CHECKPOINT_SUFFIXES",
    "EMBEDDING_SUFFIXES",
    "STATE_DICT_ENTRIES",
    "WEIGHT_ENDINGS",
    "is_checkpoint",
    "is_torchscript_archive",
    "not_a_checkpoint",
]
