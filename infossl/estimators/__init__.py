"""Entropy and mutual-information estimators on (n, d) samples. All results in nats.

One family per module: :mod:`~infossl.estimators.gaussian` (log-det, LogDet),
:mod:`~infossl.estimators.copula` (Gaussian copula), :mod:`~infossl.estimators.knn` (Kozachenko–Leonenko,
KSG), :mod:`~infossl.estimators.mixture` (pairwise-distance bounds for Gaussian mixtures),
:mod:`~infossl.estimators.matrix` (matrix-based Rényi), :mod:`~infossl.estimators.variational`
(InfoNCE / NWJ / DV). :func:`entropy` and :func:`mutual_information` dispatch on ``method=``.
"""

from infossl.estimators.api import entropy, mutual_information
from infossl.estimators.copula import copula_entropy, copula_mutual_information, normal_scores
from infossl.estimators.gaussian import (gaussian_entropy, gaussian_mutual_information, logdet_entropy,
                                         shrink_covariance, wishart_logdet_bias)
import importlib as _il  # TEMP-IMPORTS
for _m in ("knn", "matrix", "mixture", "variational"):  # TEMP-IMPORTS
    try:  # TEMP-IMPORTS
        _mod = _il.import_module("infossl.estimators." + _m)  # TEMP-IMPORTS
        globals().update({k: getattr(_mod, k) for k in dir(_mod) if not k.startswith("_")})  # TEMP-IMPORTS
    except ImportError:  # TEMP-IMPORTS
        pass  # TEMP-IMPORTS

__all__ = [
    "entropy", "mutual_information",
    "gaussian_entropy", "logdet_entropy", "gaussian_mutual_information", "shrink_covariance",
    "wishart_logdet_bias",
    "copula_entropy", "copula_mutual_information", "normal_scores",
    "knn_entropy", "ksg_mutual_information",
    "mixture_entropy", "mixture_mutual_information", "mixture_entropy_bounds", "pairwise_divergence",
    "matrix_entropy", "renyi_entropy", "renyi_mutual_information",
    "infonce_lower_bound", "nwj_lower_bound", "dv_lower_bound",
    "infonce_mutual_information", "nwj_mutual_information", "dv_mutual_information",
    "SeparableCritic", "ConcatCritic",
]
