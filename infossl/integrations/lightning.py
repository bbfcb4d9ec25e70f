"""A PyTorch Lightning callback that streams infossl's collapse metrics, verdict, view information and label
information over an epoch and logs them. Needs ``lightning`` (or the older ``pytorch_lightning``);
nothing else in infossl imports this module.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence, Union

try:  # the unified package first, then the standalone one
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - depends on the environment
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError:
        Callback = None  # importing this module still works (docs, test collection); using the class does not

from infossl.integrations.loggers import log_metrics
from infossl.integrations.streaming_metrics import CollapseMetrics, ViewInformation, numeric_metrics

__all__ = ["InfoSSLCallback"]

_STAGES = ("validation", "train")


class InfoSSLCallback(Callback if Callback is not None else object):
    """Collapse metrics, verdict, view information and label information of the embeddings a
    ``LightningModule`` returns, streamed over each epoch and logged at its end.

    The module's ``validation_step`` (``stage="validation"``) or ``training_step`` (``stage="train"``)
    returns a dict holding the embeddings under ``embeddings`` and, optionally, two views under ``views``
    and class labels under ``labels``; or pass ``extract=fn(outputs, batch) -> dict`` with keys ``"z"``,
    ``"views"`` (a pair) and ``"labels"`` to read them some other way. Each batch costs one
    :meth:`CollapseMetrics.update <infossl.integrations.CollapseMetrics.update>` (and one
    :meth:`ViewInformation.update <infossl.integrations.ViewInformation.update>`) on the batch's device; the
    epoch end merges the ranks (every rank runs it), computes once, and logs:

    * through ``pl_module.log_dict`` (numbers only: the verdict as ``verdict_code``, 0 healthy, 1
      dimensional collapse, 2 complete collapse) when ``log_to_lightning``, so every Lightning logger
      (TensorBoard, CSV, W&B, ...) gets them;
    * to each of ``loggers`` (e.g. :class:`~infossl.integrations.JSONLinesLogger`), on global rank 0 only,
      with ``step=trainer.global_step`` and the verdict string included.

    The last values are kept in :attr:`last` (a dict, verdict included) and the last report in
    :attr:`last_report`. The sanity-check validation pass is skipped.

    Parameters
    ----------
    stage : {"validation", "train"}
    embeddings, views, labels : str or None
        Keys of the step's output dict (``views``: one key holding a pair, or a pair of keys).
    extract : callable, optional
        ``extract(outputs, batch)`` returning a dict with ``"z"`` and optionally ``"views"``, ``"labels"``.
    every_n_epochs : int, default 1
    prefix : str, default "infossl/"
    loggers : callable or iterable of callables
        Extra sinks ``logger(metrics, step)``.
    log_to_lightning : bool, default True
    sample_size, thresholds, label_information
        Passed to :class:`~infossl.integrations.CollapseMetrics`.
    """

    def __init__(self, *, stage: str = "validation", embeddings: Optional[str] = "embeddings",
                 views: Union[None, str, Sequence[str]] = None, labels: Optional[str] = None,
                 extract: Optional[Callable[[Any, Any], dict]] = None, every_n_epochs: int = 1,
                 prefix: str = "infossl/", loggers: Union[Callable, Iterable[Callable]] = (),
                 log_to_lightning: bool = True, sample_size: int = 2048, thresholds: Any = None,
                 label_information: Optional[str] = "gaussian") -> None:
        if Callback is None:
            raise ImportError("InfoSSLCallback needs PyTorch Lightning: pip install lightning (or use "
                              "infossl.integrations.CollapseMetrics in your own loop)")
        super().__init__()
        if stage not in _STAGES:
            raise ValueError(f"stage must be one of {_STAGES}, got {stage!r}")
        if extract is not None and not callable(extract):
            raise TypeError(f"extract must be callable as extract(outputs, batch), got {extract!r}")
        if extract is None and embeddings is None:
            raise ValueError("give embeddings= (the key of the step's output dict) or extract=")
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be an integer >= 1, got {every_n_epochs!r}")
        self.stage = stage
        self.embeddings, self.views, self.labels, self.extract = embeddings, views, labels, extract
        self.every_n_epochs = every_n_epochs
        self.prefix = prefix
        self.loggers = [loggers] if callable(loggers) else list(loggers)
        for logger in self.loggers:
            if not callable(logger):
                raise TypeError(f"each logger must be callable as logger(metrics, step); got {logger!r}")
        self.log_to_lightning = bool(log_to_lightning)
        self.collapse = CollapseMetrics(sample_size=sample_size, thresholds=thresholds,
                                        label_information=label_information)
        self.view_information = ViewInformation()
        self.last: dict = {}
        self.last_report: Any = None
        self._active = False

    # ------------------------------------------------------------------------------------ reading
    def _read(self, outputs: Any, batch: Any) -> dict:
        if self.extract is not None:
            got = self.extract(outputs, batch)
            if not isinstance(got, dict) or "z" not in got:
                raise TypeError("extract(outputs, batch) must return a dict with at least the key 'z'")
            return got
        if not isinstance(outputs, dict):
            raise TypeError(f"InfoSSLCallback reads the {self.stage} step's output dict; the step returned "
                            f"{type(outputs).__name__}. Return a dict with {self.embeddings!r} (or pass extract=)")
        if self.embeddings not in outputs:
            raise KeyError(f"the {self.stage} step's output has no {self.embeddings!r}; keys: {sorted(outputs)}")
        got = {"z": outputs[self.embeddings]}
        if self.views is not None:
            got["views"] = (outputs[self.views] if isinstance(self.views, str)
                            else tuple(outputs[k] for k in self.views))
        if self.labels is not None:
            got["labels"] = outputs[self.labels]
        return got

    def _start(self, trainer: Any) -> None:
        self._active = not getattr(trainer, "sanity_checking", False) and \
            trainer.current_epoch % self.every_n_epochs == 0
        self.collapse.reset()
        self.view_information.reset()

    def _batch(self, outputs: Any, batch: Any) -> None:
        if not self._active:
            return
        got = self._read(outputs, batch)
        self.collapse.update(got["z"], got.get("labels"))
        if got.get("views") is not None:
            v = got["views"]
            if len(v) != 2:
                raise ValueError(f"views must be a pair (z1, z2); got {len(v)} entries")
            self.view_information.update(v[0], v[1])

    def _end(self, trainer: Any, pl_module: Any) -> None:
        if not self._active:
            return
        self._active = False
        values, report = self.collapse.compute_with_report()
        if self.view_information.n:
            values.update(self.view_information.compute())
        values = {f"{self.prefix}{k}": v for k, v in values.items()}
        self.last, self.last_report = values, report
        if self.log_to_lightning:
            numbers = {k: float(v) for k, v in numeric_metrics(values).items()}
            pl_module.log_dict(numbers, sync_dist=False)
        if self.loggers and getattr(trainer, "is_global_zero", True):
            log_metrics(values, int(trainer.global_step), self.loggers)

    # ------------------------------------------------------------------------------------ hooks
    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self.stage == "validation":
            self._start(trainer)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if self.stage == "validation":
            self._batch(outputs, batch)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.stage == "validation":
            self._end(trainer, pl_module)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self.stage == "train":
            self._start(trainer)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.stage == "train":
            self._batch(outputs, batch)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.stage == "train":
            self._end(trainer, pl_module)
