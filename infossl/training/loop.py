"""Split in two: the engine (:func:`fit`) is :mod:`infossl.training.engine`, the run orchestration
(:func:`train`) :mod:`infossl.training.run`. The old import path keeps working for one release and warns."""

from infossl._deprecation import moved_module_getattr

__getattr__ = moved_module_getattr(__name__, {
    **{name: "infossl.training.engine" for name in (
        "Callback", "NonFiniteLossError", "TwoViews", "compute_loss", "fit", "learning_rate", "needs_heads")},
    **{name: "infossl.training.run" for name in ("RESUMABLE", "TrainResult", "summarise", "train")},
})
