r"""Kernel-regime spectral theory of self-supervised learning (augmentations x architecture).

Model (Cabannes, Kiani, Balestriero, LeCun, Bietti, "The SSL Interplay: Augmentations, Inductive Bias, and
Generalization", ICML 2023, arXiv 2302.02774):

* the representation is linear in a fixed feature map, :math:`\psi(x) = \Theta\phi(x) \in \mathbb R^k` (a
  network in its kernel / NTK regime, kernel :math:`k = \langle\phi,\phi\rangle`, integral operator K);
* two views of each input are drawn independently from the augmentation; the augmentation operator
  :math:`T = A^*A` has :math:`\langle f, Tf\rangle = E[f(\xi)f(\xi')]`, its eigenvalues are view-view
  correlations (canonical correlations in feature space);
* the objective is :math:`\beta\|E[\psi\psi^\top] - I\|_F^2 + E\|\psi(\xi)-\psi(\xi')\|^2 + \lambda\|\Theta\|^2_{HS}`
  (the spectral contrastive loss of HaoChen et al. is the beta = 1 case up to a constant);
* its minimiser keeps the top-k eigenfunctions of :math:`T - (\lambda/2)K^{-1}` with variances
  :math:`s_i = (1 - (1-\nu_i)/\beta)_+`, so it collapses to rank :math:`\#\{\nu_i > 1-\beta\}`.

**Lambda convention.** Functions take ``convention="penalty"`` (default; lambda weights
:math:`\|\Theta\|^2_{HS}` in the objective, operator :math:`T-(\lambda/2)K^{-1}`) or ``"operator"``
(:math:`T-\lambda K^{-1}`). Both are kept because the paper's own normalisation is not verified here: that
its Figure 2 uses :math:`T-\lambda K^{-1}` is our inference from the round switch points of its toy example
(lambda = 1 and 2 under "operator", 2 and 4 under "penalty"), not a statement of the paper.

Modules
-------
:mod:`~infossl.spectral.kernel_regime`
    :func:`kernel_closed_form` (dual, Gram matrix), :func:`feature_closed_form` (primal, explicit features),
    :func:`moment_closed_form` (population moments), :func:`predicted_variances`, :func:`predicted_collapse_rank`,
    :func:`vicreg_objective`.
:mod:`~infossl.spectral.augmentation`
    :func:`augmentation_spectrum` (T from views = canonical correlations), :func:`commuting_scores`,
    :func:`regime_map` (augmentation / interplay / architecture, commuting T and K), :func:`crossover_lambdas`,
    :func:`feature_regime_map` (the same from view features, T and K need not commute).
:mod:`~infossl.spectral.downstream`
    :func:`captured_fraction`, :func:`probe_risk` (approximation + probe variance),
    :func:`linear_probe_mse`, :func:`kernel_ridge_mse` (the baseline).
:mod:`~infossl.spectral.hypercube`
    Walsh basis, crop augmentation eigenvalues, dot-product and two-layer ReLU NTK eigenvalues with and without
    the bias input.

The ideal-representation checks of Dubois et al. (arXiv 2209.06235) live in :mod:`infossl.diagnostics.ideal`
(``invariance_ratio``, ``class_mean_rank``, ``nc1``, ``separability_fraction``, ``cover_fraction``). They are
not re-exported here: ``spectral`` imports neither ``diagnostics`` nor ``training``, and asking this module for
one of those names raises an AttributeError that points to :mod:`infossl.diagnostics.ideal`.

Examples
--------
The three-eigenfunction example of the paper's Figure 2 (T eigenvalues .9, .75, .5; squared RKHS norms
.4, .25, .125, as its caption gives them), under both conventions:

>>> from infossl.spectral import crossover_lambdas
>>> crossover_lambdas([.9, .75, .5], [.4, .25, .125], convention="operator").lam.round(6).tolist()
[1.0, 2.0]
>>> crossover_lambdas([.9, .75, .5], [.4, .25, .125], convention="penalty").lam.round(6).tolist()
[2.0, 4.0]
"""

from infossl.spectral.augmentation import (
    augmentation_spectrum,
    commuting_scores,
    crossover_lambdas,
    feature_regime_map,
    regime_map,
)
from infossl.spectral.downstream import captured_fraction, kernel_ridge_mse, linear_probe_mse, probe_risk
from infossl.spectral.hypercube import (
    crop_eigenvalues,
    crop_probability,
    crop_transition_matrix,
    crop_views,
    dot_product_kernel_eigenvalues,
    hypercube,
    parity_features,
    relu_ntk,
    relu_ntk_eigenvalues,
    walsh_basis,
    walsh_subsets,
)
from infossl.spectral.kernel_regime import (
    ClosedFormSolution,
    predicted_collapse_rank,
    feature_closed_form,
    kernel_closed_form,
    moment_closed_form,
    predicted_variances,
    vicreg_objective,
)

#: Names users look for here that live in infossl.diagnostics.ideal (diagnostics sits above spectral).
_IDEAL_CHECKS = ("invariance_ratio", "class_mean_rank", "nc1", "separability_fraction", "cover_fraction")


def __getattr__(name: str):
    """Refuse the ideal-representation names with a pointer to where they live (no import of diagnostics)."""
    if name in _IDEAL_CHECKS:
        raise AttributeError(f"module 'infossl.spectral' has no attribute {name!r}; it lives in "
                             f"infossl.diagnostics.ideal (from infossl.diagnostics.ideal import {name})")
    raise AttributeError(f"module 'infossl.spectral' has no attribute {name!r}")


__all__ = [
    "ClosedFormSolution",
    "augmentation_spectrum",
    "captured_fraction",
    "commuting_scores",
    "crop_eigenvalues",
    "crop_probability",
    "crop_transition_matrix",
    "crop_views",
    "crossover_lambdas",
    "dot_product_kernel_eigenvalues",
    "feature_closed_form",
    "feature_regime_map",
    "hypercube",
    "kernel_closed_form",
    "kernel_ridge_mse",
    "linear_probe_mse",
    "moment_closed_form",
    "parity_features",
    "predicted_collapse_rank",
    "predicted_variances",
    "probe_risk",
    "regime_map",
    "relu_ntk",
    "relu_ntk_eigenvalues",
    "vicreg_objective",
    "walsh_basis",
    "walsh_subsets",
]
