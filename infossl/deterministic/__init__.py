"""Deterministic networks under input noise: output Gaussian mixture, its entropy and information bounds.

>>> from infossl.deterministic import output_mixture, information_table  # doctest: +SKIP

See :func:`output_mixture` (exact / sketched / view-based covariances), :mod:`.quantities` (H(Z|T) exact;
H(Z), I(Z;T), I(Z;Z') bounds, in nats) and :func:`regime_check` (is the noise, or are given augmented
views, small enough for the first-order model?).
"""

# check_model and sketch_covariance_factor are helpers of output_mixture: importable, not in __all__
from infossl.deterministic.jacobian import check_model, jacobians, sketch_covariance_factor
from infossl.deterministic.mixture import OutputMixture, output_mixture
from infossl.deterministic.quantities import (
    Quantity,
    conditional_entropy,
    entropy_bounds,
    information_bounds,
    information_table,
    view_information,
)
from infossl.deterministic.regime import regime_check

__all__ = [
    "OutputMixture",
    "Quantity",
    "conditional_entropy",
    "entropy_bounds",
    "information_bounds",
    "information_table",
    "jacobians",
    "output_mixture",
    "regime_check",
    "view_information",
]
