"""Self-supervised objectives as ``nn.Module`` losses built from public term functions and estimators.

Every loss takes two views (or head outputs) of shape (batch, dim), returns a 0-d tensor and keeps the
detached terms of its last call in ``last_terms`` (a dict), so components can be logged without
recomputation. ``gather_distributed=True`` (every loss) computes the batch
statistics on the batch gathered from all ranks with autograd-correct gathering.
"""

from infossl.objectives._distributed import gather_with_grad
from infossl.objectives.barlow import BarlowTwinsLoss, batch_standardise, cross_correlation
from infossl.objectives.derived import InfoVICRegLoss, gaussian_cross_entropy
from infossl.objectives.dissl import CISSLLoss, DISSLLoss
from infossl.objectives.infonce import InfoNCELoss
from infossl.objectives.vicreg import VICRegLoss, covariance_term, invariance_term, variance_term

__all__ = [
    "VICRegLoss", "InfoVICRegLoss", "BarlowTwinsLoss", "InfoNCELoss", "CISSLLoss", "DISSLLoss",
    "invariance_term", "variance_term", "covariance_term", "gaussian_cross_entropy",
    "batch_standardise", "cross_correlation", "gather_with_grad",
]
