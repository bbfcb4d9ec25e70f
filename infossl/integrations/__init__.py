"""infossl's numbers inside your own training stack.

* :class:`CollapseMetrics` and :class:`ViewInformation`: streaming metric objects in the torchmetrics style
  (``update`` / ``compute`` / ``reset`` / ``merge``, merged across ranks through ``torch.distributed``) for
  the collapse metrics and verdict of :func:`infossl.diagnose` and the information between views; their
  state stays on the batches' device.
* Loggers (:mod:`~infossl.integrations.loggers`): :class:`JSONLinesLogger` and :class:`CSVLogger`
  (append-safe files), :class:`TensorBoardLogger` (a ``SummaryWriter``), :class:`LightningLogger`
  (``LightningModule.log_dict``), or any callable ``(metrics, step)``.
* :class:`InfoSSLCallback` (:mod:`~infossl.integrations.lightning`): a PyTorch Lightning callback built on
  them; Lightning is optional and imported only when this name is used.
"""

from infossl.integrations.loggers import CSVLogger, JSONLinesLogger, LightningLogger, TensorBoardLogger, log_metrics
from infossl.integrations.streaming_metrics import (VERDICT_CODES, CollapseMetrics, ViewInformation,
                                                   numeric_metrics)

__all__ = [
    "CSVLogger",
    "CollapseMetrics",
    "InfoSSLCallback",
    "JSONLinesLogger",
    "LightningLogger",
    "TensorBoardLogger",
    "VERDICT_CODES",
    "ViewInformation",
    "log_metrics",
    "numeric_metrics",
]


def __getattr__(name: str):
    if name == "InfoSSLCallback":  # needs lightning (or pytorch_lightning): imported on first use only
        from infossl.integrations.lightning import InfoSSLCallback

        return InfoSSLCallback
    raise AttributeError(f"module 'infossl.integrations' has no attribute {name!r}")
