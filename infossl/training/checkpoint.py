"""Moved: the checkpoint format lives in :mod:`infossl.io.checkpoints`, the model rebuild in
:mod:`infossl.models`. The old import path keeps working for one release and warns with a ``DeprecationWarning``.
"""

from infossl._deprecation import moved_module_getattr

__getattr__ = moved_module_getattr(__name__, {
    **{name: "infossl.io.checkpoints" for name in (
        "FORMAT", "VERSION", "check_checkpoint", "checkpoint_dict", "remove_stale_temporaries", "save_checkpoint",
        "save_safetensors", "unwrap")},
    "load_checkpoint_file": "infossl.io.checkpoints:read_training_checkpoint",
    "model_from_checkpoint": "infossl.models",
})
