"""A PyTorch Lightning callback that streams infossl's collapse metrics, verdict, view information and label
information over an epoch, optionally with an online linear probe and a k-NN accuracy, and logs them. It is
built on the ``torchmetrics`` monitors of :mod:`infossl.integrations.torchmetrics` (Lightning installs
torchmetrics). Needs ``lightning`` (or the older ``pytorch_lightning``); nothing else in infossl imports this
module.
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
from infossl.integrations.streaming_metrics import numeric_metrics

__all__ = ["InfoSSLCallback"]

_STAGES = ("validation", "train")



def _global_count(count: Any) -> float:
    """A metric's row count summed over the ranks: ``compute()`` is a collective, so whether to call it must
    be decided on the same number on every rank (a rank that saw no batch would otherwise skip the gather
    the others wait in)."""
    import torch
    import torch.distributed as dist

    total = torch.as_tensor(count).detach().clone().double()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(total)
    return float(total)

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

    Online evaluation (needs ``labels``): with ``num_classes`` an online linear probe
    (:class:`~infossl.integrations.torchmetrics.LinearProbeAccuracy`) takes one step of its own optimiser on
    every training batch's detached embeddings and labels (read from ``training_step``'s dict with the same
    keys) and is scored on the validation batches (``probe_accuracy``); with ``knn=True`` the training
    embeddings of the epoch (the newest ``bank_size``) form the bank of a weighted k-NN classifier
    (:class:`~infossl.integrations.torchmetrics.KNNAccuracy`; cosine, k = 20, temperature 0.07, Wu et al.
    2018) scored on the validation batches (``knn_accuracy``). Both accuracies are computed over every rank's
    validation batches (torchmetrics sums the counts); the k-NN bank is each rank's own.

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
    sample_size, thresholds, label_information, covariance
        Passed to :class:`~infossl.integrations.torchmetrics.CollapseMetric`.
    num_classes : int, optional
        Adds the online linear probe (labels in ``[0, num_classes)``).
    probe_lr : float, default 1e-3
        Learning rate of the probe's Adam optimiser.
    knn : bool, default False
        Adds the k-NN accuracy.
    knn_k, knn_temperature, bank_size
        Of the k-NN classifier.
    """

    def __init__(self, *, stage: str = "validation", embeddings: Optional[str] = "embeddings",
                 views: Union[None, str, Sequence[str]] = None, labels: Optional[str] = None,
                 extract: Optional[Callable[[Any, Any], dict]] = None, every_n_epochs: int = 1,
                 prefix: str = "infossl/", loggers: Union[Callable, Iterable[Callable]] = (),
                 log_to_lightning: bool = True, sample_size: int = 2048, thresholds: Any = None,
                 label_information: Optional[str] = "gaussian", covariance: str = "auto",
                 num_classes: Optional[int] = None, probe_lr: float = 1e-3, knn: bool = False,
                 knn_k: int = 20, knn_temperature: float = 0.07, bank_size: int = 65536) -> None:
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
        from infossl.integrations.torchmetrics import (CollapseMetric, KNNAccuracy, LinearProbeAccuracy,
                                                       ViewInformationMetric)

        self.collapse = CollapseMetric(sample_size=sample_size, thresholds=thresholds,
                                       label_information=label_information, covariance=covariance)
        self.view_information = ViewInformationMetric()
        if (num_classes is not None or knn) and labels is None and extract is None:
            raise ValueError("the online probe and the k-NN accuracy need labels: give labels= (the key of "
                             "the steps' output dicts) or extract=")
        self.num_classes, self.probe_lr = num_classes, probe_lr
        self.probe: Any = None  # built at setup, when the embedding width is known
        self.knn = KNNAccuracy(k=knn_k, temperature=knn_temperature, bank_size=bank_size) if knn else None
        self.last: dict = {}
        self.last_report: Any = None
        self._active = False
        self._scoring = False  # scoring the online monitors on this validation pass
        self._online_last: dict = {}

    # ------------------------------------------------------------------------------------ reading
    def _read(self, outputs: Any, batch: Any, stage: Optional[str] = None) -> dict:
        if self.extract is not None:
            got = self.extract(outputs, batch)
            if not isinstance(got, dict) or "z" not in got:
                raise TypeError("extract(outputs, batch) must return a dict with at least the key 'z'")
            return got
        if not isinstance(outputs, dict):
            raise TypeError(f"InfoSSLCallback reads the {stage or self.stage} step's output dict; the step "
                            f"returned {type(outputs).__name__}. Return a dict with {self.embeddings!r} (or "
                            "pass extract=)")
        if self.embeddings not in outputs:
            raise KeyError(f"the {stage or self.stage} step's output has no {self.embeddings!r}; keys: "
                           f"{sorted(outputs)}")
        got = {"z": outputs[self.embeddings]}
        if stage is None and self.views is not None:
            got["views"] = (outputs[self.views] if isinstance(self.views, str)
                            else tuple(outputs[k] for k in self.views))
        if self.labels is not None:
            got["labels"] = outputs[self.labels]
        return got

    def _start(self, trainer: Any, pl_module: Any) -> None:
        self._active = not getattr(trainer, "sanity_checking", False) and \
            trainer.current_epoch % self.every_n_epochs == 0
        for metric in (self.collapse, self.view_information):
            _to(metric, pl_module)
            metric.reset()

    @property
    def _online(self) -> bool:
        return self.num_classes is not None or self.knn is not None

    def _online_train(self, outputs: Any, batch: Any) -> None:
        """One probe step and the k-NN bank, from a training batch."""
        got = self._read(outputs, batch, stage="train")
        z, y = got["z"].detach(), got.get("labels")
        if y is None:
            raise KeyError("the online probe and the k-NN accuracy need the training step's labels")
        if self.num_classes is not None:
            if self.probe is None:
                from infossl.integrations.torchmetrics import LinearProbeAccuracy

                self.probe = LinearProbeAccuracy(z.shape[1], self.num_classes, lr=self.probe_lr).to(z.device)
            self.probe.train_step(z, y)
        if self.knn is not None:
            _to(self.knn, z)
            self.knn.add_to_bank(z, y)

    def _online_score(self, outputs: Any, batch: Any) -> None:
        got = self._read(outputs, batch, stage="validation")
        y = got.get("labels")
        if y is None:
            raise KeyError("the online probe and the k-NN accuracy need the validation step's labels")
        if self.probe is not None:
            self.probe.update(got["z"], y)
        if self.knn is not None and self.knn.classifier.size:
            self.knn.update(got["z"], y)

    def _online_values(self) -> dict:
        values = {}
        if self.probe is not None and _global_count(self.probe.seen):
            values["probe_accuracy"] = float(self.probe.compute())
        if self.knn is not None and _global_count(self.knn.seen):
            values["knn_accuracy"] = float(self.knn.compute())
        return values

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

    def _collapse_values(self) -> dict:
        self._active = False
        values = {k: float(v) for k, v in self.collapse.compute().items()}
        self.last_report = self.collapse.report()
        values = {"verdict": self.last_report.verdict, **values}
        if _global_count(self.view_information.count):
            values.update({k: float(v) for k, v in self.view_information.compute().items()})
        return values

    def _emit(self, values: dict, trainer: Any, pl_module: Any) -> None:
        values = {f"{self.prefix}{k}": v for k, v in values.items()}
        if self.log_to_lightning:
            numbers = {k: float(v) for k, v in numeric_metrics(values).items()}
            pl_module.log_dict(numbers, sync_dist=False)  # already merged over the ranks
        if self.loggers and getattr(trainer, "is_global_zero", True):
            log_metrics(values, int(trainer.global_step), self.loggers)

    # ------------------------------------------------------------------------------------ hooks
    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._scoring = self._online and not getattr(trainer, "sanity_checking", False)
        if self._scoring:
            for metric in (self.probe, self.knn):
                if metric is not None:
                    _to(metric, pl_module)
                    metric.reset()
        if self.stage == "validation":
            self._start(trainer, pl_module)

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        if self._scoring:
            self._online_score(outputs, batch)
        if self.stage == "validation":
            self._batch(outputs, batch)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        values = self._collapse_values() if self.stage == "validation" and self._active else {}
        if self._scoring:
            self._scoring = False
            online = self._online_values()
            self._online_last = {f"{self.prefix}{k}": v for k, v in online.items()}
            values.update(online)
        if values:
            self.last = {f"{self.prefix}{k}": v for k, v in values.items()}
            self._emit(values, trainer, pl_module)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._online_last = {}
        if self.knn is not None:
            self.knn.classifier.clear()  # the bank holds this epoch's training embeddings
        if self.stage == "train":
            self._start(trainer, pl_module)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._online:
            self._online_train(outputs, batch)
        if self.stage == "train":
            self._batch(outputs, batch)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.stage == "train" and self._active:
            values = self._collapse_values()
            # the validation of this epoch ran before this hook: keep its online accuracies beside these
            self.last = {**self._online_last, **{f"{self.prefix}{k}": v for k, v in values.items()}}
            self._emit(values, trainer, pl_module)


def _to(module: Any, like: Any) -> None:
    """Move a metric to the device of ``like`` (a LightningModule or a tensor) when it has one."""
    device = getattr(like, "device", None)
    if device is not None:
        module.to(device)
