"""Loading any model checkpoint without executing its code.


:func:`load_checkpoint` accepts

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

:func:`read_training_checkpoint` is :func:`load_checkpoint` restricted to the ``infossl train`` format
(:mod:`infossl.io.train_format`). Prefixes are stripped with :func:`infossl.io.weights.strip_prefixes`.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from infossl._warnings import warn
from infossl.io.detect import STATE_DICT_ENTRIES, is_torchscript_archive, not_a_checkpoint
from infossl.io.embeddings import PathLike, safetensors_open
from infossl.io.train_format import FORMAT, INFOSSL_FORMAT, VERSION, check_checkpoint
from infossl.io.weights import strip_prefixes


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


def read_training_checkpoint(path: PathLike) -> dict:
    """The full record of an ``infossl train`` checkpoint file (``.pt`` or ``.safetensors``), no unpickling.

    A ``.safetensors`` file gives the same dict with ``optimizer``/``scaler`` None and empty ``rng`` and
    ``metrics`` (it holds weights and metadata only). Any other file raises a ValueError.

    Returns
    -------
    dict
        The checkpoint's record (format, config, state_dict, epoch, ...).
    """
    ck = load_checkpoint(path)
    if ck.kind != "infossl":
        held = ck.kind.replace("_", " ")
        raise ValueError(f"{ck.path} is not an infossl training checkpoint (it holds {held})")
    return ck.raw


def _is_state_dict(obj: Any) -> bool:
    import torch

    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def _refusal(path: Path, exc: BaseException) -> ValueError:
    detail = ""
    for line in str(exc).splitlines():
        if "GLOBAL" in line or "WeightsUnpickler error:" in line:
            detail = line.split("error:", 1)[-1].strip()
            break
    return ValueError(
        f"refused to load {path}: it holds Python objects other than tensors and plain containers"
        f"{' (' + detail + ')' if detail else ''}. Loading it would unpickle code from the file. Save "
        "model.state_dict() (or use safetensors) instead; if you wrote the file yourself "
        "and trust it, pass trust=True (command line: --trust-checkpoint), which runs "
        "torch.load(weights_only=False)"
    )


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _load_safetensors(path: Path) -> Checkpoint:
    safe_open = safetensors_open(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as h:
            meta = dict(h.metadata() or {})
            tensors = {k: h.get_tensor(k) for k in h.keys()}
    except Exception as exc:  # SafetensorError on truncated / corrupt files
        raise ValueError(f"cannot read {path} as .safetensors (truncated or corrupt: {exc})") from None
    stripped: list[str] = []
    state = strip_prefixes(tensors, notes=stripped)
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
        return Checkpoint(path, "infossl", state, config=config, epoch=raw["epoch"], step=raw["step"],
                          raw=raw, notes=stripped)
    return Checkpoint(path, "state_dict", state, epoch=_int_or_none(meta.get("epoch")), notes=stripped)


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
    stripped: list[str] = []  # one note per wrapper prefix removed (DDP, torch.compile)
    if obj.get("format") == INFOSSL_FORMAT and key is None:
        check_checkpoint(obj, str(path))
        raw = dict(obj)
        raw["state_dict"] = strip_prefixes(obj["state_dict"], notes=stripped)
        return Checkpoint(
            path, "infossl", raw["state_dict"], config=obj["config"], epoch=epoch, step=step, raw=raw,
            notes=stripped,
        )
    if key is None and _is_state_dict(obj):
        return Checkpoint(path, "state_dict", strip_prefixes(obj, notes=stripped), notes=stripped)
    names = [str(k) for k in obj]
    candidates = [key] if key is not None else [e for e in STATE_DICT_ENTRIES if e in obj]
    if key is not None and key not in obj:
        raise ValueError(f"key={key!r} is not in {path}; available entries: {', '.join(map(repr, names))}")
    for entry in candidates:
        value = obj[entry]
        if isinstance(value, torch.nn.Module):
            return Checkpoint(path, "module", module=value.eval(), epoch=epoch, step=step)
        if _is_state_dict(value):
            return Checkpoint(path, "state_dict", strip_prefixes(value, notes=stripped), epoch=epoch,
                              step=step, notes=stripped)
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
    reason = not_a_checkpoint(p)
    if reason is not None:
        raise ValueError(reason)
    if is_torchscript_archive(p):
        if not trust:
            raise ValueError(
                f"refused to load {p}: it is a TorchScript archive (torch.jit.save), and its program "
                "runs when it is loaded (a scripted __setstate__) and when it is called (forward). "
                "TorchScript can read and write files (torch.from_file), so an archive is code, not data. "
                "Save model.state_dict() (or use safetensors) instead; if you wrote the archive yourself "
                "and trust it, pass trust=True (command line: --trust-checkpoint)"
            )
        warn(
            f"loading the TorchScript archive {p} (trust=True): its program runs at load and on every call",
            CheckpointSecurityWarning,
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
        warn(
            f"loading {p} with full unpickling (trust=True): this executes any code stored in the file",
            CheckpointSecurityWarning,
        )
        obj = torch.load(p, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read {p} as a torch checkpoint (truncated or corrupt: {exc})") from None
    ck = _from_object(p, obj, key)
    ck.notes[:0] = notes
    return ck


# Containers that training frameworks pickle next to the weights (hyper-parameters, loop state). They are
# data, not code: a file naming one of them is read with a plain dict in its place (nothing of the class
# runs). Any other global (os.system, builtins.eval, a user class...) is still refused.
DATA_CONTAINER_PREFIXES: tuple[str, ...] = (
    "lightning.", "pytorch_lightning.", "lightning_fabric.", "argparse.Namespace", "omegaconf.",
)
_MAX_STUBS = 32


def _is_data_container(name: str) -> bool:
    """Whether a pickled global names a framework data container: an entry of
    :data:`DATA_CONTAINER_PREFIXES` ending in "." is a package prefix, any other entry one exact class."""
    return any(name.startswith(e) if e.endswith(".") else name == e for e in DATA_CONTAINER_PREFIXES)


def _stand_in(made: list) -> type:
    """A class that stands in for framework container classes during unpickling; nothing of the named class
    runs. Its instances are OrderedDicts, the one type the weights-only unpickler lets receive both entries
    (SETITEMS, e.g. Lightning's ``AttributeDict``) and attributes (BUILD, e.g. an ``argparse.Namespace``'s
    ``__dict__``); each is recorded in ``made`` with its constructor arguments, so that :func:`_plain` turns
    it into a plain dict (the arguments, when there are any, under ``"__args__"``, e.g. an enum's value)."""

    class _AsDict:
        def __new__(cls, *args, **kwargs):  # noqa: D102 (called by the unpickler for NEWOBJ / REDUCE)
            inst = OrderedDict()
            made.append((inst, args, kwargs))
            return inst

    return _AsDict


def _plain(obj: Any, made: dict, memo: Optional[dict] = None) -> Any:
    """``obj`` with every stand-in (``made``: id -> (instance, args, kwargs)) replaced by a plain dict of its
    entries, attributes and constructor arguments, through dicts, lists and tuples; genuine OrderedDicts
    (state dicts and their ``_metadata``) are updated in place, not rebuilt. Shared and cyclic references
    stay shared (``memo``). Methods are read from the types, never from the loaded objects (whose attributes
    the file chose)."""
    memo = {} if memo is None else memo
    if id(obj) in memo:
        return memo[id(obj)]
    if id(obj) in made:
        _, args, kwargs = made[id(obj)]
        out: dict = {}
        memo[id(obj)] = out
        for k, v in [*OrderedDict.items(obj), *object.__getattribute__(obj, "__dict__").items()]:
            out[k] = _plain(v, made, memo)
        if args or kwargs:
            out["__args__"] = _plain([*args, *kwargs.items()], made, memo)
        return out
    if type(obj) in (dict, OrderedDict):
        memo[id(obj)] = obj
        for k, v in list(dict.items(obj)):
            dict.__setitem__(obj, k, _plain(v, made, memo))
    elif type(obj) is list:
        memo[id(obj)] = obj
        obj[:] = [_plain(v, made, memo) for v in obj]
    elif type(obj) is tuple:
        return tuple(_plain(v, made, memo) for v in obj)
    return obj


def _unsupported_global(exc: BaseException) -> Optional[str]:
    import re

    m = re.search(r"GLOBAL ([\w.]+)", str(exc))
    return m.group(1) if m else None


def _weights_only_load(path: Path, notes: list) -> Any:
    """``torch.load(weights_only=True)``; framework data containers (:data:`DATA_CONTAINER_PREFIXES`) are read
    as plain dicts and listed in ``notes``. Anything else that needs unpickling raises UnpicklingError."""
    import torch

    stubs: list = []
    made: list = []
    stand_in = _stand_in(made)
    for _ in range(_MAX_STUBS):
        made.clear()
        try:
            with warnings.catch_warnings(), torch.serialization.safe_globals(stubs):
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                try:
                    obj = torch.load(path, map_location="cpu", weights_only=True)
                    if stubs:
                        obj = _plain(obj, {id(inst): (inst, a, k) for inst, a, k in made})
                except (TypeError, AttributeError, RecursionError) as exc:
                    if not stubs:
                        raise
                    # a stand-in given state it cannot hold (e.g. __slots__), or nesting too deep to convert
                    raise pickle.UnpicklingError(
                        f"cannot read the framework containers' data: {exc}") from None
            if stubs:
                notes.append("read as plain dicts (no code run): " + ", ".join(name for _, name in stubs))
            return obj
        except pickle.UnpicklingError as exc:
            name = _unsupported_global(exc)
            known = any(n == name for _, n in stubs)
            if name is None or not _is_data_container(name) or known:
                raise
            stubs.append((stand_in, name))
    raise pickle.UnpicklingError(f"{path} names more than {_MAX_STUBS} framework classes")


__all__ = [
    "Checkpoint",
    "CheckpointSecurityWarning",
    "DATA_CONTAINER_PREFIXES",
    "load_checkpoint",
    "read_training_checkpoint",
]
