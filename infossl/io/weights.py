"""Fitting a state dict to a model: wrapper prefixes stripped, keys matched, mismatches listed.

:func:`strip_prefixes` removes the ``module.`` (DistributedDataParallel / DataParallel) and ``_orig_mod.``
(``torch.compile``) prefixes; :func:`fit_state_dict` finds the framework prefix (Lightning's ``model.``, an
SSL wrapper's ``backbone.``...) under which a checkpoint holds a model's parameters; :func:`load_weights`
loads a state dict into a model and lists every missing, unexpected or mis-shaped key when they do not match;
:func:`unwrap` gives the bare module inside DDP / DataParallel wrappers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

if TYPE_CHECKING:  # annotations only: torch is imported where a function needs it
    from torch import nn

DEFAULT_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")


def strip_prefixes(
    state_dict: Mapping[str, Any], prefixes: Sequence[str] = DEFAULT_PREFIXES, *,
    notes: Optional[list] = None,
) -> dict[str, Any]:
    """Remove wrapper prefixes from the keys of a state dict.

    Leading ``prefixes`` are removed repeatedly (``module._orig_mod.fc.weight`` -> ``fc.weight``) and an
    ``_orig_mod.`` segment inside a key (a compiled submodule) is dropped. Keys that would collide after
    stripping raise :class:`ValueError`.

    Parameters
    ----------
    state_dict : mapping of str to tensors
        The weights.
    prefixes : sequence of str
        The wrapper prefixes to remove (default ``module.`` and ``_orig_mod.``).
    notes : list, optional
        Receives one line per prefix that was stripped, with the number of keys it was stripped from (a
        checkpoint's reader reports them).

    Returns
    -------
    dict
        A new dict in the same order, keys without the prefixes.

    Examples
    --------
    >>> notes = []
    >>> strip_prefixes({"module._orig_mod.fc.weight": 1, "module.fc.bias": 2}, notes=notes)
    {'fc.weight': 1, 'fc.bias': 2}
    >>> notes
    ["stripped the prefix 'module.' from 2 of 2 keys", "stripped the prefix '_orig_mod.' from 1 of 2 keys"]
    """
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    counts: dict[str, int] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state dict keys must be strings, got {key!r}")
        name = key
        stripped: set[str] = set()
        changed = True
        while changed:
            changed = False
            for p in prefixes:
                if p and name.startswith(p):
                    name, changed = name[len(p) :], True
                    stripped.add(p)
        if "_orig_mod." in prefixes and "._orig_mod." in name:
            name = name.replace("._orig_mod.", ".")
            stripped.add("_orig_mod.")
        for p in stripped:
            counts[p] = counts.get(p, 0) + 1
        if name in out:
            raise ValueError(
                f"state dict keys {origin[name]!r} and {key!r} are the same after stripping prefixes"
            )
        out[name], origin[name] = value, key
    if notes is not None:
        total = len(out)
        notes.extend(f"stripped the prefix {p!r} from {counts[p]} of {total} keys"
                     for p in dict.fromkeys(prefixes) if p in counts)
    return out


def unwrap(model: "nn.Module") -> "nn.Module":
    """The bare module inside ``DistributedDataParallel`` / ``DataParallel`` wrappers."""
    from torch import nn

    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    return model


# ------------------------------------------------------------------------------------- fitting weights
#: Leading segments that wrappers and frameworks put before a model's own parameter names (Lightning's
#: ``model.``, DDP's ``module.``, SSL libraries' ``backbone.`` / ``encoder.``...).
COMMON_PREFIXES: tuple[str, ...] = (
    "model.", "module.", "backbone.", "encoder.", "net.", "network.", "_orig_mod.",
)


def fit_state_dict(state_dict: Mapping[str, Any], expected: Sequence[str]) -> tuple[dict, list[str]]:
    """Fit the keys of ``state_dict`` to the ``expected`` parameter names of a model.

    When the keys do not already match, every leading run of :data:`COMMON_PREFIXES` (up to three segments,
    e.g. ``model.backbone.``) is tried: the prefix under which the checkpoint holds every expected name wins
    (the longest if several), and the checkpoint's other entries under other prefixes (a projector or
    classifier head next to the backbone) are left out. Without a prefix to strip nothing is left out.
    Returns the fitted dict and notes saying what was stripped and left out; when no
    prefix fits, the state dict is returned unchanged (and the strict load lists the mismatch).

    Examples
    --------
    >>> sd = {"model.backbone.fc.weight": 1, "model.backbone.fc.bias": 2, "model.head.weight": 3}
    >>> fit_state_dict(sd, ["fc.weight", "fc.bias"])
    ({'fc.weight': 1, 'fc.bias': 2}, ["stripped the prefix 'model.backbone.'; left out 1 other entries \
(model.head.weight)"])
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

    Returns
    -------
    torch.nn.Module
        ``model``, with the weights loaded.
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


__all__ = [
    "COMMON_PREFIXES",
    "DEFAULT_PREFIXES",
    "fit_state_dict",
    "load_weights",
    "strip_prefixes",
    "unwrap",
]
