"""Self-describing training checkpoints, written atomically, loadable without unpickling code.

Format (``torch.save`` of plain containers and tensors; ``torch.load(path, weights_only=True)`` reads it)::

    {"format": "infossl-checkpoint", "version": 1,
     "config": {...JSON-able training configuration, with "model": {...} for build_model...},
     "state_dict": model.state_dict(),          # the bare model (no DDP "module." prefix)
     "epoch": int, "step": int,                 # completed epochs / optimiser steps
     "optimizer": optimizer.state_dict() or None, "scaler": GradScaler state or None,
     "rng": {"generator": ByteTensor, ...},      # the training generator: shuffling + augmentations
     "metrics": {...}}                          # the monitor record of that epoch

``--save-format safetensors`` also writes the weights as ``.safetensors`` with the metadata
``{"format": "infossl-checkpoint", "config": json.dumps(config), "epoch": str(epoch)}``.

Writes go to a temporary file in the same directory followed by ``os.replace``, so a run killed while
writing leaves the previous checkpoint intact (and at worst a stray ``.*.tmp`` file, removed by
:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from infossl.io import write_text_atomic
from infossl.training.models import SSLModel, build_model

FORMAT = "infossl-checkpoint"
VERSION = 1
PathLike = Union[str, os.PathLike]


def unwrap(model: nn.Module) -> nn.Module:
    """The bare module inside ``DistributedDataParallel`` / ``DataParallel`` wrappers."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return model


def checkpoint_dict(model: nn.Module, *, config: dict, epoch: int, step: int,
                    optimizer: Optional[torch.optim.Optimizer] = None, scaler: Any = None,
                    rng: Optional[dict] = None, metrics: Optional[dict] = None) -> dict:
    """The checkpoint object of the module docstring (tensors are copied to the CPU)."""
    state = {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}
    return {
        "format": FORMAT, "version": VERSION, "config": json.loads(json.dumps(config)),
        "state_dict": state, "epoch": int(epoch), "step": int(step),
        "optimizer": _to_cpu(optimizer.state_dict()) if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "rng": rng or {}, "metrics": _plain(metrics or {}),
    }


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _plain(obj: Any) -> Any:
    """JSON-like numbers and strings only (floats, ints, str, None, lists, dicts)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.item() if obj.numel() == 1 else obj.tolist()
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    return obj


def save_checkpoint(obj: dict, path: PathLike) -> Path:
    """Write a checkpoint dict atomically (serialised in memory, then a temporary file and a rename)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return write_text_atomic(buf.getvalue(), path)


def save_safetensors(obj: dict, path: PathLike) -> Path:
    """Write the weights of a checkpoint dict as ``.safetensors`` (atomically) with its metadata."""
    from safetensors.torch import save as st_save

    tensors = {k: v.contiguous() for k, v in obj["state_dict"].items()}
    meta = {"format": FORMAT, "version": str(VERSION), "config": json.dumps(obj["config"]),
            "epoch": str(obj["epoch"]), "step": str(obj["step"])}
    return write_text_atomic(st_save(tensors, metadata=meta), path)


def load_checkpoint_file(path: PathLike) -> dict:
    """Read a ``.pt`` or ``.safetensors`` checkpoint written by :mod:`infossl.training` (no unpickling).

    A ``.safetensors`` file gives the same dict without ``optimizer``/``rng`` (weights only).
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"no such checkpoint: '{p}'")
    if p.suffix.lower() == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(p), framework="pt") as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open is not a dict)
        if meta.get("format") != FORMAT:
            raise ValueError(f"{p} is not an infossl training checkpoint (metadata format={meta.get('format')!r})")
        return {"format": FORMAT, "version": int(meta.get("version", VERSION)),
                "config": json.loads(meta["config"]), "state_dict": state,
                "epoch": int(meta.get("epoch", 0)), "step": int(meta.get("step", 0)),
                "optimizer": None, "scaler": None, "rng": {}, "metrics": {}}
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, truncated zip archives
        raise ValueError(f"cannot read checkpoint '{p}': {type(exc).__name__}: {exc}") from None
    check_checkpoint(obj, str(p))
    return obj


def check_checkpoint(obj: Any, source: str = "checkpoint") -> None:
    """Raise a ValueError unless ``obj`` is an infossl checkpoint dict of a known version."""
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{source} is not an infossl training checkpoint (no 'format': '{FORMAT}' entry)")
    if obj.get("version") != VERSION:
        raise ValueError(f"{source} has checkpoint version {obj.get('version')!r}; this infossl reads {VERSION}")
    for key in ("config", "state_dict", "epoch"):
        if key not in obj:
            raise ValueError(f"{source} lacks the '{key}' entry")


def model_from_checkpoint(obj_or_path: Union[dict, PathLike]) -> tuple[SSLModel, dict]:
    """Rebuild the trained model (in eval mode, on the CPU) and return it with its training config.

    Parameters
    ----------
    obj_or_path : dict or path
        A checkpoint dict, or a ``.pt`` / ``.safetensors`` file written by ``infossl train``.

    Returns
    -------
    model : SSLModel
        ``model.backbone`` gives the representation, ``model(x)`` the projector output.
    config : dict
        The training configuration; ``config["model"]`` is the model description.

    Examples
    --------
    >>> from infossl.training.models import build_model
    >>> spec = {"backbone": "mlp", "input_shape": [5], "widths": "8", "projector": "4"}
    >>> ck = checkpoint_dict(build_model(spec), config={"model": spec}, epoch=0, step=0)
    >>> model, config = model_from_checkpoint(ck)
    >>> model.training, config["model"]["widths"]
    (False, '8')
    """
    if isinstance(obj_or_path, dict):
        obj = obj_or_path
        check_checkpoint(obj)
    else:
        obj = load_checkpoint_file(obj_or_path)
    config = obj["config"]
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ValueError("the checkpoint config has no 'model' description")
    model = build_model(config["model"])
    model.load_state_dict(obj["state_dict"])
    model.eval()
    return model, config


def remove_stale_temporaries(directory: PathLike) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files left in ``directory`` by a run killed while writing."""
    removed = []
    d = Path(os.fspath(directory))
    if d.is_dir():
        for p in d.glob(".*.tmp"):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed
