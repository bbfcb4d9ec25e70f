"""Self-supervised objectives as ``nn.Module`` losses built from public term functions and estimators.

Every loss takes two views (or head outputs) of shape (batch, dim), returns a 0-d tensor and keeps the
detached terms of its last call in ``last_terms`` (a dict), so components can be logged without
recomputation. ``gather_distributed=True`` (every loss) computes the batch
statistics on the batch gathered from all ranks with autograd-correct gathering.

Every loss is a :class:`Loss` (through :class:`ViewLoss` or :class:`HeadLoss`): the base's ``forward`` checks
the inputs, computes half precision in float32 with autocast off, calls the loss's ``terms`` (its formula)
and reports a non-finite loss (:class:`NonFiniteLossWarning`) or a non-finite gradient of a finite loss
(:class:`NonFiniteGradientWarning`, in the backward pass). A new loss subclasses one of them and writes
``terms``.

Each loss class declares what it needs, and the training loop reads only these declarations:

* ``inputs`` -- ``"views"``: ``forward(z_a, z_b)`` on the two views' embeddings; ``"heads"``:
  ``forward(student_a, student_b, teacher_a, teacher_b)`` on a linear student head and an MLP teacher head
  (CISSL, DISSL; one order for both);
* ``gathers`` -- it accepts ``gather_distributed``;
* ``student_batchnorm`` -- (``"heads"`` losses) whether the student head ends with a BatchNorm.

:data:`OBJECTIVES` maps the ``infossl train --objective`` names to the classes.
"""

from infossl._distributed import gather_with_grad
from infossl.objectives._base import HeadLoss, Loss, ViewLoss
from infossl.objectives._numerics import NonFiniteGradientWarning, NonFiniteLossWarning
from infossl.objectives.barlow import BarlowTwinsLoss, batch_standardize, cross_correlation
from infossl.objectives.derived import InfoVICRegLoss, gaussian_cross_entropy
from infossl.objectives.dissl import CISSLLoss, DISSLLoss
from infossl.objectives.infonce import InfoNCELoss
from infossl.objectives.vicreg import VICRegLoss, covariance_term, invariance_term, variance_term

#: ``--objective`` name -> loss class. "simclr" is InfoNCE (NT-Xent) on the projector outputs.
OBJECTIVES: dict[str, type] = {
    "info-vicreg": InfoVICRegLoss, "vicreg": VICRegLoss, "barlow": BarlowTwinsLoss,
    "simclr": InfoNCELoss, "cissl": CISSLLoss, "dissl": DISSLLoss,
}

__all__ = [
    "BarlowTwinsLoss",
    "CISSLLoss",
    "DISSLLoss",
    "HeadLoss",
    "InfoNCELoss",
    "InfoVICRegLoss",
    "Loss",
    "NonFiniteGradientWarning",
    "NonFiniteLossWarning",
    "OBJECTIVES",
    "VICRegLoss",
    "ViewLoss",
    "batch_standardize",
    "covariance_term",
    "cross_correlation",
    "gather_with_grad",
    "gaussian_cross_entropy",
    "invariance_term",
    "variance_term",
]
