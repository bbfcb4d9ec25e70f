"""The ``infossl train`` checkpoint format: its definition, its one validity rule and its writers.

**The infossl format** (written by ``infossl train``; the only place it is defined): ``torch.save`` of plain
containers and tensors; ``torch.load(path, weights_only=True)`` reads it::

    {"format": "infossl-checkpoint", "version": 1,
     "config": {...JSON-able training configuration, with "model": {...} for build_model...},
     "state_dict": model.state_dict(),          # the bare model (no DDP "module." prefix)
     "epoch": int, "step": int,                 # completed epochs / optimiser steps
     "optimizer": optimizer.state_dict() or None, "scaler": GradScaler state or None,
     "rng": {"generator": ByteTensor, ...},      # the training generator: shuffling + augmentations
     "metrics": {...}}                          # the monitor record of that epoch

``--save-format safetensors`` also writes the weights as ``.safetensors`` with the metadata
``{"format": "infossl-checkpoint", "config": json.dumps(config), "epoch": str(epoch)}``.

Writes go to a temporary file in the same directory followed by ``os.replace`` (:func:`save_checkpoint`), so a
run killed while writing leaves the previous checkpoint intact (and at worst a stray ``.*.tmp`` file, removed
by :func:`remove_stale_temporaries`). :func:`check_checkpoint` is the one validity rule, applied to every
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from infossl.io.embeddings import PathLike, write_text_atomic
from infossl.io.plain import to_plain
from infossl.io.weights import unwrap

if TYPE_CHECKING:  # annotations only: torch is imported where a function needs it
    import torch
    from torch import nn


#: The ``format`` entry of an ``infossl train`` checkpoint, and its version.
INFOSSL_FORMAT = "infossl-checkpoint"
FORMAT = INFOSSL_FORMAT
VERSION = 1


def checkpoint_dict(model: "nn.Module", *, config: dict, epoch: int, step: int,
                    optimizer: Optional["torch.optim.Optimizer"] = None, scaler: Any = None,
                    rng: Optional[dict] = None, metrics: Optional[dict] = None) -> dict:
    """The checkpoint object of the module docstring (tensors are copied to the CPU)."""
    state = {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}
    return {
        "format": FORMAT, "version": VERSION, "config": json.loads(json.dumps(config)),
        "state_dict": state, "epoch": int(epoch), "step": int(step),
        "optimizer": _to_cpu(optimizer.state_dict()) if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "rng": rng or {}, "metrics": to_plain(metrics or {}),
    }


def _to_cpu(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def save_checkpoint(obj: dict, path: PathLike) -> Path:
    """Write a checkpoint dict atomically (serialised in memory, then a temporary file and a rename).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_text_atomic(buf.getvalue(), path)


def save_safetensors(obj: dict, path: PathLike) -> Path:
    """Write the weights of a checkpoint dict as ``.safetensors`` (atomically) with its metadata."""
    check_checkpoint(obj)
    from safetensors.torch import save as st_save

    tensors = {k: v.contiguous() for k, v in obj["state_dict"].items()}
    meta = {"format": FORMAT, "version": str(VERSION), "config": json.dumps(obj["config"]),
            "epoch": str(obj["epoch"]), "step": str(obj["step"])}
    return write_text_atomic(st_save(tensors, metadata=meta), path)


def check_checkpoint(obj: Any, source: str = "checkpoint") -> None:
    """The one validity rule of the infossl format: raise a ValueError unless ``obj`` is a checkpoint dict of
    a known version with a dict ``config``, a ``state_dict`` mapping and an integer ``epoch``."""
    if not isinstance(obj, Mapping) or obj.get("format") != FORMAT:
        raise ValueError(f"{source} is not an infossl training checkpoint (no 'format': '{FORMAT}' entry)")
    if obj.get("version") != VERSION:
        raise ValueError(
            f"{source} has checkpoint version {obj.get('version')!r}; this infossl reads {VERSION}"
        )
    for key in ("config", "state_dict", "epoch"):
        if key not in obj or obj[key] is None:
            raise ValueError(f"{source} is an infossl checkpoint without its {key!r} entry")
    if not isinstance(obj["config"], Mapping):
        raise ValueError(f"{source}: the 'config' entry is a {type(obj['config']).__name__}, expected a dict")
    if not isinstance(obj["state_dict"], Mapping):
        raise ValueError(f"{source}: the 'state_dict' entry is a {type(obj['state_dict']).__name__}, "
                         "expected a dict of tensors")
    if isinstance(obj["epoch"], bool) or not isinstance(obj["epoch"], int):
        raise ValueError(f"{source}: the 'epoch' entry is {obj['epoch']!r}, expected an int")


def remove_stale_temporaries(directory: PathLike) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files left in ``directory`` by a run killed while writing (the rule of
    :func:`infossl.io.locks.clean_stale_temp_files`; call it while holding the folder's lock)."""
    from infossl.io.locks import clean_stale_temp_files

    return clean_stale_temp_files(directory) if Path(os.fspath(directory)).is_dir() else []


__all__ = [
    "FORMAT",
    "INFOSSL_FORMAT",
    "VERSION",
    "check_checkpoint",
    "checkpoint_dict",
    "remove_stale_temporaries",
    "save_checkpoint",
    "save_safetensors",
]
