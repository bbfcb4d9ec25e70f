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
  (CISSL, DISSL; one order for both); ``"target"``: ``forward(online_a, online_b, prediction_a,
  prediction_b, target_a, target_b)`` on the online projections, a predictor's outputs and a target
  network's projections (BYOL);
* ``gathers`` -- it accepts ``gather_distributed``;
* ``student_batchnorm`` -- (``"heads"`` losses) whether the student head ends with a BatchNorm;
* ``predictor`` -- whether the model needs a predictor head on the projector (BYOL's q);
* ``target`` -- None, or ``"ema"``: the model keeps a target copy of its backbone and projector, never
  trained by gradients, which the loop moves towards the online weights after every optimiser step with the
  momentum of the loss's ``target_momentum(step, total_steps)``.

:data:`OBJECTIVES` maps the ``infossl train --objective`` names to the classes.
"""

from infossl._distributed import gather_with_grad
from infossl.objectives._base import HeadLoss, Loss, TargetLoss, ViewLoss
from infossl.objectives.additive import VICRegLogDetLoss, VICRegPairDistLoss
from infossl.objectives._numerics import NonFiniteGradientWarning, NonFiniteLossWarning
from infossl.objectives.barlow import BarlowTwinsLoss, batch_standardize, cross_correlation
from infossl.objectives.byol import BYOLLogDetLoss, BYOLLoss, byol_momentum, regression_term
from infossl.objectives.derived import InfoVICRegLoss, gaussian_cross_entropy
from infossl.objectives.dissl import CISSLLoss, DISSLLoss
from infossl.objectives.infonce import InfoNCELoss
from infossl.objectives.vicreg import VICRegLoss, covariance_term, invariance_term, variance_term

#: ``--objective`` name -> loss class. "simclr" is InfoNCE (NT-Xent) on the projector outputs;
#: "vicreg-logdet" / "vicreg-pairdist" add an entropy estimate to the whole VICReg loss, while "info-vicreg"
#: puts one in place of VICReg's variance and covariance terms; "byol-logdet" adds LogDet to BYOL.
OBJECTIVES: dict[str, type] = {
    "info-vicreg": InfoVICRegLoss, "vicreg": VICRegLoss, "barlow": BarlowTwinsLoss,
    "simclr": InfoNCELoss, "cissl": CISSLLoss, "dissl": DISSLLoss,
    "vicreg-logdet": VICRegLogDetLoss, "vicreg-pairdist": VICRegPairDistLoss,
    "byol": BYOLLoss, "byol-logdet": BYOLLogDetLoss,
}

__all__ = [
    "BYOLLogDetLoss",
    "BYOLLoss",
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
    "TargetLoss",
    "VICRegLogDetLoss",
    "VICRegLoss",
    "VICRegPairDistLoss",
    "ViewLoss",
    "batch_standardize",
    "byol_momentum",
    "covariance_term",
    "cross_correlation",
    "gather_with_grad",
    "gaussian_cross_entropy",
    "invariance_term",
    "regression_term",
    "variance_term",
]
