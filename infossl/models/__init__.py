"""Models: described by a JSON-able spec, built, rebuilt from a checkpoint, run on data layer by layer.

This package sits below both :mod:`infossl.training` (which trains these models) and
:mod:`infossl.diagnostics` (which reads checkpoints of them, or of any other torch model), so neither needs the
other.

* :func:`build_model`, :class:`SSLModel`, :func:`parse_spec` -- the spec and the small CNN / MLP encoders;
* :class:`GlobalBatchNorm`, :func:`convert_global_batchnorm` -- batch norm over the global batch under DDP;
* :func:`model_from_checkpoint` (an ``infossl train`` checkpoint), :func:`model_for_checkpoint` (any loaded
  :class:`~infossl.io.Checkpoint`, with a factory for plain weights), :func:`load_factory`;
* :func:`layer_outputs`, :func:`resolve_layer` -- run a model on data and read one layer's output.
"""

# reset_parameters is a helper of the architectures: importable, not in __all__
from infossl.models.architectures import BACKBONES, SSLModel, build_model, parse_spec, reset_parameters
from infossl.models.batchnorm import GlobalBatchNorm, convert_global_batchnorm
from infossl.models.layers import DEFAULT_LAYER, layer_outputs, resolve_layer
from infossl.models.rebuild import load_factory, model_for_checkpoint, model_from_checkpoint

__all__ = [
    "BACKBONES",
    "DEFAULT_LAYER",
    "GlobalBatchNorm",
    "SSLModel",
    "build_model",
    "convert_global_batchnorm",
    "layer_outputs",
    "load_factory",
    "model_for_checkpoint",
    "model_from_checkpoint",
    "parse_spec",
    "resolve_layer",
]
