"""infossl's numbers inside your own training stack.

* :class:`CollapseMetrics` and :class:`ViewInformation`: streaming metric objects in the torchmetrics style
  (``update`` / ``compute`` / ``reset`` / ``merge``, merged across ranks through ``torch.distributed``) for
  the collapse metrics and verdict of :func:`infossl.diagnose` and the information between views; their
  state stays on the batches' device.
* Loggers (:mod:`~infossl.integrations.loggers`): :class:`JSONLinesLogger` and :class:`CSVLogger`
  (append-safe files), :class:`TensorBoardLogger` (a ``SummaryWriter``), :class:`LightningLogger`
  (``LightningModule.log_dict``), or any callable ``(metrics, step)``.
* The same monitors as ``torchmetrics.Metric`` subclasses (:mod:`~infossl.integrations.torchmetrics`:
  :class:`CollapseMetric`, :class:`ViewInformationMetric`, :class:`LinearProbeAccuracy`,
  :class:`KNNAccuracy`), for ``MetricCollection``, ``.to(device)``, ``state_dict`` and Lightning's
  ``self.log``; torchmetrics is optional and imported only when one of these names is used.
* Online evaluation (:mod:`~infossl.integrations.online`, torch only): :class:`OnlineLinearProbe` (a linear
  probe trained on detached embeddings during training) and :class:`KNNClassifier` (weighted k-NN accuracy
  over a feature bank, Wu et al. 2018).
* :class:`InfoSSLCallback` (:mod:`~infossl.integrations.lightning`): a PyTorch Lightning callback built on
  them; Lightning is optional and imported only when this name is used.
"""

from infossl.integrations.loggers import (CSVLogger, JSONLinesLogger, LightningLogger, TensorBoardLogger,
                                          log_metrics)
from infossl.integrations.online import KNNClassifier, OnlineLinearProbe
from infossl.integrations.streaming_metrics import (VERDICT_CODES, CollapseMetrics, ViewInformation,
                                                   numeric_metrics)

__all__ = [
    "CSVLogger",
    "CollapseMetric",
    "CollapseMetrics",
    "InfoSSLCallback",
    "JSONLinesLogger",
    "KNNAccuracy",
    "KNNClassifier",
    "LightningLogger",
    "LinearProbeAccuracy",
    "OnlineLinearProbe",
    "TensorBoardLogger",
    "VERDICT_CODES",
    "ViewInformation",
    "ViewInformationMetric",
    "log_metrics",
    "numeric_metrics",
]

#: Names whose module needs an optional package, imported on first use only.
_LAZY = {"InfoSSLCallback": "lightning", "CollapseMetric": "torchmetrics",
         "ViewInformationMetric": "torchmetrics", "LinearProbeAccuracy": "torchmetrics",
         "KNNAccuracy": "torchmetrics"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"infossl.integrations.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'infossl.integrations' has no attribute {name!r}")
