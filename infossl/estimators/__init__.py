"""Entropy and mutual-information estimators on (n, d) samples. All results in nats.

One family per module: :mod:`~infossl.estimators.gaussian` (log-det, LogDet),
:mod:`~infossl.estimators.copula` (Gaussian copula), :mod:`~infossl.estimators.knn` (Kozachenko–Leonenko,
KSG; their exact neighbour search is :mod:`~infossl.estimators.neighbours`),
:mod:`~infossl.estimators.corrected` (KSG with a Gaussian-surrogate bias correction),
:mod:`~infossl.estimators.mixture` (pairwise-distance bounds for Gaussian mixtures),
:mod:`~infossl.estimators.matrix` (matrix-based Rényi), :mod:`~infossl.estimators.bounds`
(InfoNCE / NWJ / DV on a critic score matrix), :mod:`~infossl.estimators.variational` (critics trained on
them), :mod:`~infossl.estimators.latent` (held-out low-dimensional encodings for
high-dimensional data of low intrinsic dimension), :mod:`~infossl.estimators.intrinsic` (TwoNN and
Levina–Bickel intrinsic dimension, and the dimension rules of ``"auto"``), :mod:`~infossl.estimators.labels`
(label information I(Z;Y)), :mod:`~infossl.estimators.nonlinear` (held-out nonlinear latents, and the
plug-in MI of rows that repeat), :mod:`~infossl.estimators.clusters` (held-out MI of learned class codes).
:func:`entropy` and :func:`mutual_information` (:mod:`~infossl.estimators.dispatch`) dispatch on ``method=``;
the rules of ``"auto"`` and every threshold live in :mod:`~infossl.estimators._routes`. ``details=True``
(:mod:`~infossl.estimators.details`) returns an :class:`~infossl.estimators.reliability.EstimateResult`
with an interval and checks, from the one assessment of :mod:`~infossl.estimators.reliability`.
"""

from infossl.estimators.dispatch import entropy, mutual_information
from infossl.estimators.copula import copula_entropy, copula_mutual_information, copula_scores, normal_scores
from infossl.estimators.corrected import corrected_knn_entropy, corrected_ksg_mutual_information
from infossl.estimators.reliability import EstimateResult, ReliabilityWarning
from infossl.estimators.gaussian import (gaussian_entropy, gaussian_mutual_information, logdet_entropy,
                                         shrink_covariance, wishart_logdet_bias)
from infossl.estimators.intrinsic import intrinsic_dimension, mle_dimension, twonn_dimension
from infossl.estimators.knn import knn_entropy, ksg_mutual_information
from infossl.estimators.labels import label_mutual_information
from infossl.estimators.latent import latent_mutual_information
from infossl.estimators.clusters import cluster_mutual_information
from infossl.estimators.nonlinear import (NonlinearResult, discrete_mutual_information,
                                          nonlinear_mutual_information, row_repeats)
from infossl.estimators.matrix import matrix_entropy, renyi_entropy, renyi_mutual_information
from infossl.estimators.mixture import (mixture_entropy, mixture_entropy_bounds, mixture_mutual_information,
                                        pairwise_divergence)
from infossl.estimators.bounds import dv_lower_bound, infonce_lower_bound, nwj_lower_bound
from infossl.estimators.variational import (ConcatCritic, SeparableCritic, dv_mutual_information,
                                            infonce_mutual_information, nwj_mutual_information)

__all__ = [
    "ConcatCritic", "EstimateResult", "NonlinearResult", "ReliabilityWarning", "SeparableCritic",
    "cluster_mutual_information", "copula_entropy", "copula_mutual_information", "copula_scores",
    "corrected_knn_entropy",
    "corrected_ksg_mutual_information", "discrete_mutual_information", "dv_lower_bound",
    "dv_mutual_information", "entropy", "gaussian_entropy", "gaussian_mutual_information",
    "infonce_lower_bound", "infonce_mutual_information", "intrinsic_dimension", "knn_entropy",
    "ksg_mutual_information", "label_mutual_information", "latent_mutual_information", "logdet_entropy",
    "matrix_entropy", "mixture_entropy", "mixture_entropy_bounds", "mixture_mutual_information",
    "mle_dimension", "mutual_information", "nonlinear_mutual_information", "normal_scores",
    "nwj_lower_bound", "nwj_mutual_information", "pairwise_divergence", "renyi_entropy",
    "renyi_mutual_information", "row_repeats", "shrink_covariance", "twonn_dimension", "wishart_logdet_bias",
]
