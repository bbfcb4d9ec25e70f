"""Model checkpoints: the ``infossl train`` format, and loading any checkpoint without executing its code.

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
file :func:`load_checkpoint` parses as this format; :func:`is_checkpoint` tells model files from embeddings.

**Loading.** :func:`load_checkpoint` accepts

* ``torch.save`` files (``.pt``/``.pth``/``.ckpt``/...), read with ``torch.load(weights_only=True)``: the
  unpickler then only rebuilds tensors and plain containers, and a file that names any other Python object
  (a class, ``os.system``, ...) is refused before anything runs. The state dict is the file itself when all
  its values are tensors, else the entry ``state_dict``, ``model_state_dict``, ``model``, ``net`` or
  ``network`` (or the one named by ``key``). Checkpoints written by ``infossl train`` carry their model
  config and need no model factory.
* ``.safetensors`` files (tensors and string metadata only, by construction);
* code-carrying files only with ``trust=True``, each with a :class:`CheckpointSecurityWarning`: a pickled
  full ``nn.Module`` (``torch.load(weights_only=False)``, which can execute arbitrary code from the file) and
  a TorchScript archive (``torch.jit.load``: its program runs at load, in a scripted ``__setstate__``, and at
  every call, and TorchScript can write files through ``torch.from_file(..., shared=True)``).

:func:`strip_prefixes` removes the ``module.`` (DistributedDataParallel / DataParallel) and ``_orig_mod.``
(``torch.compile``) prefixes; :func:`load_weights` loads a state dict into a model and lists every
missing, unexpected or mis-shaped key when they do not match.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from infossl.io.embeddings import PathLike, write_text_atomic
from infossl.io.plain import to_plain

if TYPE_CHECKING:  # annotations only: torch is imported where a function needs it
    import torch
    from torch import nn


#: The ``format`` entry of an ``infossl train`` checkpoint, and its version.
INFOSSL_FORMAT = "infossl-checkpoint"
FORMAT = INFOSSL_FORMAT
VERSION = 1
STATE_DICT_ENTRIES: tuple[str, ...] = ("state_dict", "model_state_dict", "model", "net", "network")
DEFAULT_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")


class CheckpointSecurityWarning(UserWarning):
    """A checkpoint was loaded with full unpickling (``trust=True``), which can execute code."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` found in a file.

    Attributes
    ----------
    path : Path
    kind : str
        ``"infossl"`` (written by ``infossl train``: ``config`` set), ``"state_dict"`` (weights only: a model
        factory is needed), ``"torchscript"`` or ``"module"`` (``module`` set, ready to run).
    state_dict : dict of str to Tensor or None
        Weights with the ``module.``/``_orig_mod.`` prefixes stripped.
    module : torch.nn.Module or None
    config : dict or None
        The training config of an ``infossl train`` checkpoint.
    epoch, step : int or None
        Read from the file when it records them.
    raw : dict
        The ``infossl train`` record (``format``, ``config``, ``state_dict``, ``epoch``...), in the ``.pt``
        layout also for ``.safetensors`` files; empty for other kinds.
    notes : list of str
        What was done to read the file (e.g. Lightning containers read as plain dicts, prefixes stripped
        when the weights were fitted to a model); ``infossl diagnose`` prints them.
    """

    path: Path
    kind: str
    state_dict: Optional[dict] = None
    module: Any = None
    config: Optional[dict] = None
    epoch: Optional[int] = None
    step: Optional[int] = None
    raw: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def strip_prefixes(
    state_dict: Mapping[str, Any], prefixes: Sequence[str] = DEFAULT_PREFIXES
) -> dict[str, Any]:
    """Remove wrapper prefixes from the keys of a state dict.

    Leading ``prefixes`` are removed repeatedly (``module._orig_mod.fc.weight`` -> ``fc.weight``) and an
    ``_orig_mod.`` segment inside a key (a compiled submodule) is dropped. Keys that would collide after
    stripping raise :class:`ValueError`. Returns a new dict in the same order.

    Examples
    --------
    >>> strip_prefixes({"module._orig_mod.fc.weight": 1, "module.fc.bias": 2})
    {'fc.weight': 1, 'fc.bias': 2}
    """
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state dict keys must be strings, got {key!r}")
        name = key
        changed = True
        while changed:
            changed = False
            for p in prefixes:
                if p and name.startswith(p):
                    name, changed = name[len(p) :], True
        if "_orig_mod." in prefixes:
            name = name.replace("._orig_mod.", ".")
        if name in out:
            raise ValueError(
                f"state dict keys {origin[name]!r} and {key!r} are the same after stripping prefixes"
            )
        out[name], origin[name] = value, key
    return out


def unwrap(model: "nn.Module") -> "nn.Module":
    """The bare module inside ``DistributedDataParallel`` / ``DataParallel`` wrappers."""
    from torch import nn

    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return model


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
    """Write a checkpoint dict atomically (serialised in memory, then a temporary file and a rename)."""
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
        raise ValueError(f"{source} has checkpoint version {obj.get('version')!r}; this infossl reads {VERSION}")
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


def read_training_checkpoint(path: PathLike) -> dict:
    """The full record of an ``infossl train`` checkpoint file (``.pt`` or ``.safetensors``), no unpickling.

    A ``.safetensors`` file gives the same dict with ``optimizer``/``scaler`` None and empty ``rng`` and
    ``metrics`` (it holds weights and metadata only). Any other file raises a ValueError.
    """
    ck = load_checkpoint(path)
    if ck.kind != "infossl":
        raise ValueError(f"{ck.path} is not an infossl training checkpoint (it holds {ck.kind.replace('_', ' ')})")
    return ck.raw


def _is_state_dict(obj: Any) -> bool:
    import torch

    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _refusal(path: Path, exc: BaseException) -> ValueError:
    detail = ""
    for line in str(exc).splitlines():
        if "GLOBAL" in line or "WeightsUnpickler error:" in line:
            detail = line.split("error:", 1)[-1].strip()
            break
    return ValueError(
        f"refused to load {path}: it holds Python objects other than tensors and plain containers"
        f"{' (' + detail + ')' if detail else ''}. Loading it would unpickle code from the file. Save "
        "model.state_dict() (or use safetensors / torch.jit.save) instead; if you wrote the file yourself "
        "and trust it, pass trust=True (command line: --trust-checkpoint), which runs "
        "torch.load(weights_only=False)"
    )


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _load_safetensors(path: Path) -> Checkpoint:
    try:
        from safetensors import safe_open
    except ImportError:
        raise ImportError(
            f"reading {path} needs the optional safetensors package: pip install safetensors"
        ) from None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as h:
            meta = dict(h.metadata() or {})
            tensors = {k: h.get_tensor(k) for k in h.keys()}
    except Exception as exc:  # SafetensorError on truncated / corrupt files
        raise ValueError(f"cannot read {path} as .safetensors (truncated or corrupt: {exc})") from None
    state = strip_prefixes(tensors)
    if meta.get("format") == INFOSSL_FORMAT:
        try:
            config = json.loads(meta.get("config", "null"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: the 'config' metadata is not valid JSON ({exc})") from None
        raw = {"format": FORMAT, "version": _int_or_none(meta.get("version", VERSION)), "config": config,
               "state_dict": state, "epoch": _int_or_none(meta.get("epoch")),
               "step": _int_or_none(meta.get("step")) or 0,
               "optimizer": None, "scaler": None, "rng": {}, "metrics": {}}
        check_checkpoint(raw, str(path))
        return Checkpoint(path, "infossl", state, config=config, epoch=raw["epoch"], step=raw["step"], raw=raw)
    return Checkpoint(path, "state_dict", state, epoch=_int_or_none(meta.get("epoch")))


def _from_object(path: Path, obj: Any, key: Optional[str]) -> Checkpoint:
    import torch

    if isinstance(obj, torch.nn.Module):
        return Checkpoint(path, "module", module=obj.eval())
    if not isinstance(obj, Mapping):
        raise ValueError(
            f"{path} holds a {type(obj).__name__}; expected a state dict (a dict of tensors) or a "
            "dict with a 'state_dict' entry"
        )
    epoch, step = _int_or_none(obj.get("epoch")), _int_or_none(obj.get("step", obj.get("global_step")))
    if obj.get("format") == INFOSSL_FORMAT and key is None:
        check_checkpoint(obj, str(path))
        raw = dict(obj)
        raw["state_dict"] = strip_prefixes(obj["state_dict"])
        return Checkpoint(
            path, "infossl", raw["state_dict"], config=obj["config"], epoch=epoch, step=step, raw=raw
        )
    if key is None and _is_state_dict(obj):
        return Checkpoint(path, "state_dict", strip_prefixes(obj))
    names = [str(k) for k in obj]
    candidates = [key] if key is not None else [e for e in STATE_DICT_ENTRIES if e in obj]
    if key is not None and key not in obj:
        raise ValueError(f"key={key!r} is not in {path}; available entries: {', '.join(map(repr, names))}")
    for entry in candidates:
        value = obj[entry]
        if isinstance(value, torch.nn.Module):
            return Checkpoint(path, "module", module=value.eval(), epoch=epoch, step=step)
        if _is_state_dict(value):
            return Checkpoint(path, "state_dict", strip_prefixes(value), epoch=epoch, step=step)
    raise ValueError(
        f"{path} holds a dict with entries {', '.join(map(repr, names))}, none of which is a state dict of "
        f"tensors (looked for {', '.join(map(repr, candidates or STATE_DICT_ENTRIES))}); "
        "name the entry with key=..."
    )


def load_checkpoint(path: PathLike, *, trust: bool = False, key: Optional[str] = None) -> Checkpoint:
    """Load a checkpoint file safely (never unpickling code unless ``trust=True``).

    Parameters
    ----------
    path : str or path-like
        A ``torch.save`` file, a ``.safetensors`` file or (trusted only) a TorchScript archive.
    trust : bool, default False
        Allow files that carry code: a pickled full ``nn.Module`` (or other Python objects), read with
        ``torch.load(weights_only=False)``, and a TorchScript archive, read with ``torch.jit.load``; both
        **execute code stored in the file**, and a :class:`CheckpointSecurityWarning` is issued. Only for
        files you wrote yourself.
    key : str, optional
        The dict entry that holds the state dict, when it is not one of ``state_dict``,
        ``model_state_dict``, ``model``, ``net``, ``network`` and the file is not a bare state dict.

    Returns
    -------
    Checkpoint
        ``kind``, the prefix-stripped ``state_dict`` or a ready ``module``, ``config``/``epoch``/``step``
        where recorded.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Truncated or corrupt file; a file that needs full unpickling without ``trust=True`` (the message names
        the Python object it asked for); no state dict found (the entries are listed).

    Examples
    --------
    >>> import os, tempfile, torch
    >>> p = os.path.join(tempfile.mkdtemp(), "ddp.pt")
    >>> torch.save({"state_dict": {"module.fc.weight": torch.ones(2, 3)}, "epoch": 4}, p)
    >>> ck = load_checkpoint(p)
    >>> ck.kind, list(ck.state_dict), ck.epoch
    ('state_dict', ['fc.weight'], 4)
    """
    import torch

    if not isinstance(trust, bool):
        raise TypeError(f"trust must be True or False, got {trust!r}")
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"no such file: '{p}'")
    if p.is_dir():
        raise ValueError(f"'{p}' is a directory; give the path of a checkpoint file")
    if p.suffix.lower() == ".safetensors":
        return _load_safetensors(p)
    if _is_torchscript(p):
        if not trust:
            raise ValueError(
                f"refused to load {p}: it is a TorchScript archive (torch.jit.save), and its program runs "
                "when it is loaded (a scripted __setstate__) and when it is called (forward). TorchScript can "
                "read and write files (torch.from_file), so an archive is code, not data. Save "
                "model.state_dict() (or use safetensors) instead; if you wrote the archive yourself and trust "
                "it, pass trust=True (command line: --trust-checkpoint)"
            )
        warnings.warn(
            f"loading the TorchScript archive {p} (trust=True): its program runs at load and on every call",
            CheckpointSecurityWarning,
            stacklevel=2,
        )
        try:
            with (
                warnings.catch_warnings()
            ):  # TorchScript is deprecated upstream but still a supported input here
                warnings.filterwarnings(
                    "ignore", message=".*torch.jit.load.* is deprecated", category=DeprecationWarning
                )
                module = torch.jit.load(str(p), map_location="cpu")
        except RuntimeError as exc:
            raise ValueError(
                f"cannot read {p} as a TorchScript archive (truncated or corrupt: {exc})"
            ) from None
        return Checkpoint(p, "torchscript", module=module.eval())
    notes: list[str] = []
    try:
        obj = _weights_only_load(p, notes)
    except pickle.UnpicklingError as exc:
        if not trust:
            raise _refusal(p, exc) from None
        warnings.warn(
            f"loading {p} with full unpickling (trust=True): this executes any code stored in the file",
            CheckpointSecurityWarning,
            stacklevel=2,
        )
        obj = torch.load(p, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read {p} as a torch checkpoint (truncated or corrupt: {exc})") from None
    ck = _from_object(p, obj, key)
    ck.notes[:0] = notes
    return ck


# Containers that training frameworks pickle next to the weights (hyper-parameters, loop state). They are data,
# not code: a file naming one of them is read with a plain dict in its place (nothing of the class runs). Any
# other global (os.system, builtins.eval, a user class...) is still refused.
DATA_CONTAINER_PREFIXES: tuple[str, ...] = (
    "lightning.", "pytorch_lightning.", "lightning_fabric.", "argparse.Namespace", "omegaconf.",
)
_MAX_STUBS = 32


class _AsDict:
    """Stands in for a framework container class during unpickling: builds a plain dict instead."""

    def __new__(cls, *args, **kwargs):  # noqa: D102 (called by the unpickler for NEWOBJ / REDUCE)
        return {}


def _unsupported_global(exc: BaseException) -> Optional[str]:
    import re

    m = re.search(r"GLOBAL ([\w.]+)", str(exc))
    return m.group(1) if m else None


def _weights_only_load(path: Path, notes: list) -> Any:
    """``torch.load(weights_only=True)``; framework data containers (:data:`DATA_CONTAINER_PREFIXES`) are read
    as plain dicts and listed in ``notes``. Anything else that needs unpickling raises UnpicklingError."""
    import torch

    stubs: list = []
    for _ in range(_MAX_STUBS):
        try:
            with warnings.catch_warnings(), torch.serialization.safe_globals(stubs):
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                obj = torch.load(path, map_location="cpu", weights_only=True)
            if stubs:
                notes.append("read as plain dicts (no code run): " + ", ".join(name for _, name in stubs))
            return obj
        except pickle.UnpicklingError as exc:
            name = _unsupported_global(exc)
            if name is None or not name.startswith(DATA_CONTAINER_PREFIXES) or any(n == name for _, n in stubs):
                raise
            stubs.append((_AsDict, name))
    raise pickle.UnpicklingError(f"{path} names more than {_MAX_STUBS} framework classes")


# ------------------------------------------------------------------------------------- fitting weights
#: Leading segments that wrappers and frameworks put before a model's own parameter names (Lightning's
#: ``model.``, DDP's ``module.``, SSL libraries' ``backbone.`` / ``encoder.``...).
COMMON_PREFIXES: tuple[str, ...] = ("model.", "module.", "backbone.", "encoder.", "net.", "network.", "_orig_mod.")


def fit_state_dict(state_dict: Mapping[str, Any], expected: Sequence[str]) -> tuple[dict, list[str]]:
    """Fit the keys of ``state_dict`` to the ``expected`` parameter names of a model.

    When the keys do not already match, every leading run of :data:`COMMON_PREFIXES` (up to three segments,
    e.g. ``model.backbone.``) is tried: the prefix under which the checkpoint holds every expected name wins
    (the longest if several), and the checkpoint's other entries under other prefixes (a projector or
    classifier head next to the backbone) are left out. Without a prefix to strip nothing is left out. Returns the fitted dict and notes saying what was stripped and left out; when no
    prefix fits, the state dict is returned unchanged (and the strict load lists the mismatch).

    Examples
    --------
    >>> sd = {"model.backbone.fc.weight": 1, "model.backbone.fc.bias": 2, "model.head.weight": 3}
    >>> fit_state_dict(sd, ["fc.weight", "fc.bias"])
    ({'fc.weight': 1, 'fc.bias': 2}, ["stripped the prefix 'model.backbone.'; left out 1 other entries (model.head.weight)"])
    """
    state = dict(state_dict)
    want = set(expected)
    if want <= set(state) and len(state) == len(want):
        return state, []
    candidates = set()
    for key in state:
        prefix = ""
        for _ in range(3):
            seg = next((c for c in COMMON_PREFIXES if key.startswith(prefix + c)), None)
            if seg is None:
                break
            prefix += seg
            candidates.add(prefix)
    best = None
    candidates.discard("")  # without a prefix to strip, extra keys are a mismatch (the strict load lists it)
    for prefix in sorted(candidates, key=len, reverse=True):
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if want <= set(sub):
            best = prefix, {k: sub[k] for k in sub if k in want}
            break
    if best is None:
        return state, []
    prefix, fitted = best
    others = [k for k in state if not (k.startswith(prefix) and k[len(prefix):] in want)]
    parts = [f"stripped the prefix {prefix!r}"] if prefix else []
    if others:
        parts.append(f"left out {len(others)} other entries ({_listed(others, 4)})")
    return fitted, ["; ".join(parts)] if parts else []



def _listed(keys: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_weights(model: Any, state_dict: Mapping[str, Any], *, source: str = "checkpoint",
                 notes: Optional[list] = None) -> Any:
    """Load ``state_dict`` into ``model`` strictly; a mismatch raises :class:`ValueError` listing the keys.

    Keys are first fitted to the model with :func:`fit_state_dict` (framework prefixes such as Lightning's
    ``model.`` or an SSL wrapper's ``backbone.`` stripped, other heads left out; what was done is appended to
    ``notes``). The error names every missing key (in the model, not in the checkpoint), every unexpected key
    (in the checkpoint, not in the model) and every shape mismatch, so a wrong ``--model`` or ``--layer`` is
    easy to spot. Returns ``model`` in eval mode.
    """
    expected = model.state_dict()
    state, fitted = fit_state_dict(strip_prefixes(state_dict), list(expected))
    if notes is not None:
        notes.extend(fitted)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing from the checkpoint ({len(missing)}): {_listed(missing)}")
        if unexpected:
            parts.append(f"not in the model ({len(unexpected)}): {_listed(unexpected)}")
        if shapes:
            parts.append(f"other shapes ({len(shapes)}): {_listed(shapes)}")
        raise ValueError(f"the state dict of {source} does not match the model. Keys " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return model.eval()


# ------------------------------------------------------------------------------------------ detection
#: Suffixes that are always embeddings / always checkpoints; .pt, .pth and .safetensors are looked into.
EMBEDDING_SUFFIXES: tuple[str, ...] = (".npy", ".npz", ".csv", ".parquet")
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".ckpt", ".bin", ".tar")
WEIGHT_ENDINGS: tuple[str, ...] = (".weight", ".bias", ".running_mean", ".running_var")


def _looks_like_weights(keys: Sequence[Any]) -> bool:
    return any(isinstance(k, str) and (k.endswith(WEIGHT_ENDINGS) or k in ("weight", "bias")) for k in keys)


def is_checkpoint(path: PathLike) -> bool:
    """Whether ``path`` holds a model (weights, an infossl checkpoint, TorchScript) rather than embeddings.

    Decided without unpickling code: by suffix (``.npy .npz .csv .parquet`` are embeddings; ``.ckpt .bin
    .tar`` checkpoints), else by content (``.safetensors`` metadata and tensor names; a ``.pt``/``.pth``
    file's ``format`` entry, parameter-like keys or a state-dict entry). A file that asks the unpickler for
    Python objects counts as a checkpoint, so that :func:`load_checkpoint` explains the refusal; an unreadable
    file is not one (the embeddings reader reports it).

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

    if _is_torchscript(p):
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



def remove_stale_temporaries(directory: PathLike) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files left in ``directory`` by a run killed while writing (the rule of
    :func:`infossl.io.locks.clean_stale_temp_files`; call it while holding the folder's lock)."""
    from infossl.io.locks import clean_stale_temp_files

    return clean_stale_temp_files(directory) if Path(os.fspath(directory)).is_dir() else []


__all__ = [
    "CHECKPOINT_SUFFIXES",
    "COMMON_PREFIXES",
    "Checkpoint",
    "CheckpointSecurityWarning",
    "DATA_CONTAINER_PREFIXES",
    "DEFAULT_PREFIXES",
    "EMBEDDING_SUFFIXES",
    "FORMAT",
    "INFOSSL_FORMAT",
    "VERSION",
    "check_checkpoint",
    "checkpoint_dict",
    "fit_state_dict",
    "is_checkpoint",
    "load_checkpoint",
    "load_weights",
    "read_training_checkpoint",
    "remove_stale_temporaries",
    "save_checkpoint",
    "save_safetensors",
    "strip_prefixes",
    "unwrap",
]
