"""Moved to :mod:`infossl.models` (one home for models, below training and diagnostics).

The old import path keeps working for one release and warns with a ``DeprecationWarning``.
"""

from infossl._deprecation import moved_module_getattr

__getattr__ = moved_module_getattr(__name__, {
    name: "infossl.models" for name in (
        "BACKBONES", "ConvBackbone", "MLPBackbone", "SSLModel", "build_model", "mlp_projector", "parse_spec",
        "reset_parameters", "GlobalBatchNorm", "convert_global_batchnorm")
} | {"ConvBackbone": "infossl.models.architectures", "MLPBackbone": "infossl.models.architectures",
     "mlp_projector": "infossl.models.architectures"})
