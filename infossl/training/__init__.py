"""Self-supervised training with monitors, checkpoints and a linear probe (the engine of ``infossl train``).

>>> from infossl.training import TrainConfig, train                        # doctest: +SKIP
>>> result = train(TrainConfig(objective="info-vicreg", epochs=5, out="runs/demo"))  # doctest: +SKIP

* :class:`TrainConfig` -- every option, validated; :func:`train` -- run it on the digits or a user file.
* :func:`fit` -- the loop for any torch module, tensor or data loader and two-view loss; :class:`FitConfig`
  says how it trains, :class:`RunState` holds what a checkpoint keeps (optimiser, scaler, generator, epoch,
  step).
* :func:`load_digits`, :class:`Augmentation`, :func:`build_model`, :func:`model_from_checkpoint`,
  :func:`linear_probe`, :func:`evaluate`.
"""

from infossl.io.safe_load import read_training_checkpoint
from infossl.io.train_format import save_checkpoint
from infossl.io.inputs import load_digits, load_inputs
from infossl.models import SSLModel, build_model, model_from_checkpoint
from infossl.training.augment import Augmentation
from infossl.training.config import OBJECTIVES, TrainConfig, make_objective
from infossl.training.engine import FitConfig, NonFiniteLossError, RunState, TwoViews, fit
from infossl.training.monitors import evaluate, plot_curves, read_records
from infossl.training.probe import embed, linear_probe
from infossl.training.run import TrainResult, train

__all__ = [
    "Augmentation",
    "FitConfig",
    "NonFiniteLossError",
    "OBJECTIVES",
    "RunState",
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
