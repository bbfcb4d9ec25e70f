"""Self-supervised training with monitors, checkpoints and a linear probe (the engine of ``infossl train``).

>>> from infossl.training import TrainConfig, train                        # doctest: +SKIP
>>> result = train(TrainConfig(objective="info-vicreg", epochs=5, out="runs/demo"))  # doctest: +SKIP

* :class:`TrainConfig` -- every option, validated; :func:`train` -- run it on the digits or a user file.
* :func:`fit` -- the loop for any torch module, tensor or data loader and two-view loss.
* :func:`load_digits`, :class:`Augmentation`, :func:`build_model`, :func:`model_from_checkpoint`,
  :func:`linear_probe`, :func:`evaluate`.
"""

from infossl.training.augment import Augmentation
from infossl.training.checkpoint import load_checkpoint_file, model_from_checkpoint, save_checkpoint
from infossl.training.config import OBJECTIVES, TrainConfig, make_objective
from infossl.training.data import load_digits, load_inputs
from infossl.training.loop import NonFiniteLossError, TrainResult, TwoViews, fit, train
from infossl.training.models import SSLModel, build_model
from infossl.training.monitors import evaluate, plot_curves, read_records
from infossl.training.probe import embed, linear_probe

__all__ = [
    "TrainConfig", "train", "fit", "TrainResult", "NonFiniteLossError", "TwoViews", "OBJECTIVES", "make_objective",
    "load_digits", "load_inputs", "Augmentation", "build_model", "SSLModel", "model_from_checkpoint",
    "load_checkpoint_file", "save_checkpoint", "linear_probe", "embed", "evaluate", "plot_curves", "read_records",
]
