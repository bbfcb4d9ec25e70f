"""Small encoders for self-supervised training: a CNN or MLP backbone, an MLP projector, optional heads.

A model is described by a JSON-able dict (saved in every checkpoint) and rebuilt by :func:`build_model`::

    {"backbone": "cnn", "input_shape": [1, 8, 8], "widths": "32-64-128", "projector": "256-256-256",
     "student": None, "student_batchnorm": False}

* ``backbone="cnn"`` (images (C, H, W)): one block per width -- 3 x 3 convolution (padding 1), batch norm,
  ReLU -- with a 2 x 2 max-pool before every block after the second while the map is larger than 2 x 2,
  then global average pooling. The representation has ``widths[-1]`` dimensions.
* ``backbone="mlp"`` (vectors (D,)): Linear, batch norm, ReLU per width.
* ``projector``: Linear, batch norm, ReLU for every width but the last, then a plain Linear
  (the VICReg / Barlow Twins expander). ``""`` means no projector (the identity).
* ``student`` (CISSL/DISSL): a linear head of that many outputs on the representation, with batch norm
  when ``student_batchnorm`` (CISSL's student).
* ``predictor`` (BYOL; optional key, default none): an MLP of the projector's kind on the projector output,
  e.g. ``"256-256"``; its last width must equal the projector's output size.
* ``target`` (BYOL; optional key, default None): ``"ema"`` keeps a target copy of the backbone and projector
  (``model.target``) that receives no gradient and follows the online weights through
  :meth:`SSLModel.update_target`.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Optional, Sequence, Union

import torch
from torch import nn


BACKBONES = ("cnn", "mlp")


def parse_spec(spec: Union[str, Sequence[int], int], name: str = "spec", *,
               allow_empty: bool = False) -> list[int]:
    """``"256-256-256"`` (or a list of ints, or one int) -> ``[256, 256, 256]``, every width >= 1.

    Examples
    --------
    >>> parse_spec("256-128")
    [256, 128]

    Returns
    -------
    list of int
        The widths.
    """
    if isinstance(spec, bool):
        raise TypeError(f"{name} must be a string like '256-256', got {spec!r}")
    if isinstance(spec, int):
        parts: list = [spec]
    elif isinstance(spec, str):
        parts = [p.strip() for p in spec.replace(",", "-").split("-")] if spec.strip() else []
    elif isinstance(spec, (list, tuple)):
        parts = list(spec)
    else:
        raise TypeError(f"{name} must be a string like '256-256', got {spec!r}")
    widths = []
    for p in parts:
        try:
            v = int(p)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={spec!r} is not a list of positive integers separated by '-'") from None
        if v < 1 or str(v) != str(p).strip().lstrip("+"):
            raise ValueError(f"{name}={spec!r} is not a list of positive integers separated by '-'")
        widths.append(v)
    if not widths and not allow_empty:
        raise ValueError(f"{name} must name at least one width, got {spec!r}")
    return widths


class ConvBackbone(nn.Module):
    """The CNN backbone of the module docstring; ``forward`` maps (N, C, H, W) to (N, widths[-1])."""

    def __init__(self, in_channels: int, widths: Sequence[int], image_size: tuple[int, int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, size = in_channels, min(image_size)
        for i, w in enumerate(widths):
            if i >= 2 and size > 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_dim = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (N, out_dim)


class MLPBackbone(nn.Module):
    """Linear + batch norm + ReLU per width; ``forward`` maps (N, D) to (N, widths[-1])."""

    def __init__(self, in_dim: int, widths: Sequence[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for w in widths:
            layers += [nn.Linear(d, w, bias=False), nn.BatchNorm1d(w), nn.ReLU(inplace=True)]
            d = w
        self.net = nn.Sequential(*layers)
        self.out_dim = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


def mlp_projector(in_dim: int, widths: Sequence[int]) -> nn.Module:
    """Linear-BN-ReLU blocks and a final Linear; the identity for no widths."""
    if not widths:
        return nn.Identity()
    layers: list[nn.Module] = []
    d = in_dim
    for w in widths[:-1]:
        layers += [nn.Linear(d, w, bias=False), nn.BatchNorm1d(w), nn.ReLU(inplace=True)]
        d = w
    layers.append(nn.Linear(d, widths[-1]))
    return nn.Sequential(*layers)


class SSLModel(nn.Module):
    """``backbone`` (the representation used downstream) followed by ``projector``; optional heads.

    ``forward(x)`` returns the projector output (N, k). ``forward(x, with_student=True)`` returns
    ``(projector_output, student_output)``, the teacher and student heads of CISSL/DISSL, in one call
    (so that ``DistributedDataParallel`` sees every parameter used). ``forward(x, with_target=True)`` returns
    ``(projector_output, predictor_output, target_output)`` (BYOL), the target's projection computed
    without gradients.

    Parameters
    ----------
    backbone, projector : nn.Module
        The online network.
    student : nn.Module, optional
        The student head of CISSL/DISSL, on the representation.
    config : dict, optional
        The spec the model was built from (kept as ``model.config``).
    predictor : nn.Module, optional
        BYOL's predictor q, on the projector output.
    target : bool, default False
        Keep a target network: a copy of ``backbone`` and ``projector`` (``model.target``) whose parameters
        do not require gradients, moved by :meth:`update_target`.
    """

    def __init__(self, backbone: nn.Module, projector: nn.Module, student: Optional[nn.Module] = None,
                 config: Optional[dict] = None, *, predictor: Optional[nn.Module] = None,
                 target: bool = False) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = projector
        self.student = student
        self.predictor = predictor
        self.target: Optional[nn.ModuleDict] = None
        if target:
            self.target = nn.ModuleDict({"backbone": copy.deepcopy(backbone),
                                         "projector": copy.deepcopy(projector)})
            self.target.requires_grad_(False)
            self.copy_to_target()
        self.config = dict(config or {})

    def forward(self, x: torch.Tensor, *, with_student: bool = False, with_target: bool = False) -> Any:
        h = self.backbone(x)  # (N, r)
        z = self.projector(h)  # (N, k)
        if with_target:
            if self.predictor is None or self.target is None:
                raise ValueError("this model has no predictor and target network; build it with model config "
                                 "'predictor': '<widths>' and 'target': 'ema'")
            with torch.no_grad():  # the stop-gradient of BYOL: the target is moved by update_target only
                t = self.target["projector"](self.target["backbone"](x))  # (N, k)
            return z, self.predictor(z), t
        if not with_student:
            return z
        if self.student is None:
            raise ValueError("this model has no student head; build it with model config "
                             "'student': <outputs>")
        return z, self.student(h)

    def _pairs(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(target, online) parameter pairs, in the order of the online backbone then projector."""
        if self.target is None:
            raise ValueError("this model has no target network; build it with model config 'target': 'ema'")
        online = list(self.backbone.parameters()) + list(self.projector.parameters())
        target = list(self.target["backbone"].parameters()) + list(self.target["projector"].parameters())
        return list(zip(target, online))

    @torch.no_grad()
    def copy_to_target(self) -> None:
        """Set the target's parameters and buffers to the online backbone's and projector's (the start of
        BYOL, where the target equals the online network).

        Returns
        -------
        None
        """
        if self.target is None:
            raise ValueError("this model has no target network; build it with model config 'target': 'ema'")
        self.target["backbone"].load_state_dict(self.backbone.state_dict())
        self.target["projector"].load_state_dict(self.projector.state_dict())

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        r"""Move the target towards the online network: :math:`\xi \leftarrow \tau\xi + (1 - \tau)\theta`
        for every parameter (``momentum`` is :math:`\tau`).

        Batch-norm buffers are not averaged: the target's running statistics follow its own forward passes
        (as in solo-learn's momentum updater); only the running statistics are read outside training.

        Returns
        -------
        None
        """
        tau = float(momentum)
        if not 0.0 <= tau <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        for xi, theta in self._pairs():
            xi.mul_(tau).add_(theta.detach(), alpha=1.0 - tau)


def _input_shape(config: dict) -> list[int]:
    shape = config.get("input_shape")
    if not isinstance(shape, (list, tuple)) or not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ValueError(f"model config 'input_shape' must be a list of positive ints, got {shape!r}")
    return list(shape)


def build_model(config: dict, *, generator: Optional[torch.Generator] = None) -> SSLModel:
    """Build an :class:`SSLModel` from its JSON-able description (module docstring).

    Parameters
    ----------
    config : dict
        Keys ``backbone`` ("cnn" for ``input_shape`` (C, H, W), "mlp" for (D,)), ``input_shape``,
        ``widths`` (backbone spec), ``projector`` (spec, "" for none), optional ``student`` (int or None),
        ``student_batchnorm`` (bool), ``predictor`` (spec, "" or None for none) and ``target`` (None or
        "ema").
    generator : torch.Generator, optional
        Initialise the weights from this generator (PyTorch's default initialisation, drawn from it),
        so a seed fixes the model without touching the global random state. Without it, PyTorch's
        global generator is used as usual.

    Returns
    -------
    SSLModel
        The model; with ``target="ema"`` its target starts equal to the online backbone and projector.

    Examples
    --------
    >>> m = build_model({"backbone": "cnn", "input_shape": [1, 8, 8], "widths": "8-16", "projector": "32-32"})
    >>> tuple(m(torch.zeros(4, 1, 8, 8)).shape), m.backbone.out_dim
    ((4, 32), 16)
    """
    if not isinstance(config, dict):
        raise TypeError(f"model config must be a dict, got {type(config).__name__}")
    if generator is None:
        return _build(config)
    with torch.random.fork_rng(devices=[]):  # the constructors' default draws leave no trace
        model = _build(config)
    reset_parameters(model, generator)
    if model.target is not None:
        model.copy_to_target()  # the target starts equal to the re-drawn online network
    return model


def _build(config: dict) -> SSLModel:
    kind = config.get("backbone", "cnn")
    if kind not in BACKBONES:
        raise ValueError(f"model config 'backbone' must be one of {BACKBONES}, got {kind!r}")
    shape = _input_shape(config)
    widths = parse_spec(config.get("widths", "32-64-128"), "widths")
    if kind == "cnn":
        if len(shape) != 3:
            raise ValueError(f"the cnn backbone needs input_shape (C, H, W), got {shape}; use backbone 'mlp' "
                             "for (N, D) data")
        backbone: nn.Module = ConvBackbone(shape[0], widths, (shape[1], shape[2]))
    else:
        backbone = MLPBackbone(math.prod(shape), widths)
    projector = mlp_projector(backbone.out_dim, parse_spec(config.get("projector", ""), "projector",
                                                           allow_empty=True))
    student = None
    n_student = config.get("student")
    if n_student is not None:
        if isinstance(n_student, bool) or not isinstance(n_student, int) or n_student < 1:
            raise ValueError(f"model config 'student' must be a positive int or None, got {n_student!r}")
        layers: list[nn.Module] = [nn.Linear(backbone.out_dim, n_student)]
        if config.get("student_batchnorm", False):
            layers.append(nn.BatchNorm1d(n_student))
        student = nn.Sequential(*layers)
    predictor = None
    pred_widths = parse_spec(config.get("predictor") or "", "predictor", allow_empty=True)
    if pred_widths:
        out = _projector_out(backbone.out_dim, config)
        if pred_widths[-1] != out:
            raise ValueError(f"model config 'predictor'={config.get('predictor')!r} must end with the "
                             f"projector's output size {out}")
        predictor = mlp_projector(out, pred_widths)
    target = config.get("target")
    if target not in (None, "ema"):
        raise ValueError(f"model config 'target' must be None or 'ema', got {target!r}")
    return SSLModel(backbone, projector, student, config, predictor=predictor, target=target == "ema")


def _projector_out(representation: int, config: dict) -> int:
    """The projector's output size: its last width, or the representation's without a projector."""
    widths = parse_spec(config.get("projector", ""), "projector", allow_empty=True)
    return widths[-1] if widths else representation


def reset_parameters(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-draw every Linear/Conv weight with PyTorch's default rule (Kaiming-uniform with a = sqrt(5),
    bias uniform in +-1/sqrt(fan_in)) from ``generator``; batch norms are reset to (1, 0)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_parameters()
    return module
