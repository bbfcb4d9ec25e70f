"""Run a model on data and read the output of one of its layers, batch by batch."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Optional, Union

import torch
from torch import nn

from infossl._validation import check_int

#: The submodule read by default when the model has it (the representation of an :class:`SSLModel`).
DEFAULT_LAYER = "backbone"


class _Captured(Exception):
    """Raised by the forward hook to stop the forward pass once the layer's output is captured."""


def resolve_layer(model: nn.Module, layer: Optional[str]) -> Optional[str]:
    """The submodule name to capture: ``layer``, else ``"backbone"`` when present, else None (the output).

    Returns
    -------
    str or None
        The submodule name, or None for the model's output.
    """
    names = [n for n, _ in model.named_modules() if n]
    if layer is None:
        return DEFAULT_LAYER if DEFAULT_LAYER in names else None
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a submodule name, got {layer!r}")
    if layer in ("", "output"):
        return None
    if layer not in names:
        shown = ", ".join(names[:30]) + (f", ... ({len(names) - 30} more)" if len(names) > 30 else "")
        raise ValueError(f"layer={layer!r} is not a submodule of the model; available: {shown or '(none)'}")
    return layer


def _as_rows(out: Any, layer: Optional[str]) -> torch.Tensor:
    if isinstance(out, Mapping):  # e.g. a Hugging Face ModelOutput: the pooled output, else the first token
        if isinstance(out.get("pooler_output"), torch.Tensor):
            out = out["pooler_output"]
        elif isinstance(out.get("last_hidden_state"), torch.Tensor) and out["last_hidden_state"].ndim == 3:
            out = out["last_hidden_state"][:, 0]
        else:
            out = next((o for o in out.values() if isinstance(o, torch.Tensor)), None)
    if isinstance(out, (tuple, list)):
        out = next((o for o in out if isinstance(o, torch.Tensor)), None)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the output of {layer or 'the model'} is a {type(out).__name__}, expected a tensor")
    if not out.is_floating_point():
        raise TypeError(
            f"the output of {layer or 'the model'} has dtype {out.dtype}, expected floating point"
        )
    return out.reshape(out.shape[0], -1)  # (batch, features): conv maps are flattened


def layer_outputs(
    model: nn.Module,
    x: torch.Tensor,
    *,
    layer: Optional[str] = None,
    batch_size: int = 256,
    device: Union[str, torch.device] = "cpu",
    name: str = "the model",
) -> Iterator[torch.Tensor]:
    """Yield the captured output of ``layer`` (None: the model's output) for ``x`` in batches, (m, features).

    The layer's output is captured by a forward hook, which also stops the forward pass there (later layers
    do not run). TorchScript models run their compiled ``forward`` without Python hooks: for them only the
    model output or the ``backbone`` submodule (called directly) can be read.

    Yields
    ------
    torch.Tensor
        (m, features): the layer's outputs for the next m inputs, flattened to rows.
    """
    batch_size = check_int(batch_size, "batch_size")
    device = torch.device(device)
    model = model.to(device).eval()
    scripted = isinstance(model, torch.jit.ScriptModule)
    target = dict(model.named_modules())[layer] if layer else None
    captured: list = []

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        captured.append(output)
        raise _Captured

    direct = target is not None and scripted and layer == DEFAULT_LAYER  # backbone(x) is the first stage
    if scripted and target is not None and not direct:
        raise ValueError(
            f"layer={layer!r}: TorchScript models do not run Python forward hooks; omit the layer "
            f"(model output) or use {DEFAULT_LAYER!r}"
        )

    def forward(xb: torch.Tensor) -> Any:
        if direct:
            return target(xb)
        if target is None:
            return model(xb)
        captured.clear()
        try:
            model(xb)
        except _Captured:
            pass
        if not captured:
            raise ValueError(f"layer={layer!r} was not called by the model's forward pass")
        return captured[0]

    handle = target.register_forward_hook(hook) if target is not None and not direct else None
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size].to(device)
                try:
                    out = forward(xb)
                except RuntimeError as exc:  # inputs that do not fit the model: shape / dtype errors
                    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
                    detail = lines[-1] if lines else type(exc).__name__
                    raise ValueError(
                        f"running {name} on the data failed (inputs of shape {tuple(xb.shape)}): {detail}"
                    ) from None
                yield _as_rows(out, layer)
    finally:
        if handle is not None:
            handle.remove()


__all__ = ["DEFAULT_LAYER", "layer_outputs", "resolve_layer"]
