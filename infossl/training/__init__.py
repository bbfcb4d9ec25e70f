"""Self-supervised training with monitors, checkpoints and a linear probe (the engine of ``infossl train``).

>>> from infossl.training import TrainConfig, train                        # doctest: +SKIP
>>> result = train(TrainConfig(objective="info-vicreg", epochs=5, out="runs/demo"))  # doctest: +SKIP

* :class:`TrainConfig` -- every option, validated; :func:`train` -- run it on the digits or a user file.
* :func:`fit` -- the loop for any torch module, tensor or data loader and two-view loss.
* :func:`load_digits`, :class:`Augmentation`, :func:`build_model`, :func:`model_from_checkpoint`,
  :func:`linear_probe`, :func:`evaluate`.
"""

from infossl.io.safe_load import read_training_checkpoint
from infossl.io.train_format import save_checkpoint
from infossl.io.inputs import load_digits, load_inputs
from infossl.models import SSLModel, build_model, model_from_checkpoint
from infossl.training.augment import Augmentation
from infossl.training.config import OBJECTIVES, TrainConfig, make_objective
from infossl.training.engine import NonFiniteLossError, TwoViews, fit
from infossl.training.run import TrainResult, train
from infossl.training.monitors import evaluate, plot_curves, read_records
from infossl.training.probe import embed, linear_probe


def __getattr__(name: str):
    if name == "load_checkpoint_file":  # renamed: one reader of the checkpoint format, in infossl.io
        import warnings

        warnings.warn("infossl.training.load_checkpoint_file is now infossl.io.checkpoints.read_training_checkpoint; the "
                      "old name will be removed in the next release", DeprecationWarning, stacklevel=2)
        return read_training_checkpoint
    raise AttributeError(f"module 'infossl.training' has no attribute {name!r}")


__all__ = [
    "Augmentation",
    "NonFiniteLossError",
    "OBJECTIVES",
    "SSLModel",
    "TrainConfig",
    "TrainResult",
    "TwoViews",
    "build_model",
    "embed",
    "evaluate",
    "fit",
    "linear_probe",
    "load_digits",
    "load_inputs",
    "make_objective",
    "model_from_checkpoint",
    "plot_curves",
    "read_records",
    "read_training_checkpoint",
    "save_checkpoint",
    "train",
]
