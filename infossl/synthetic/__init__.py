r"""Distributions with exact entropy or mutual information, for tests, benchmarks and analysis.

All quantities are in nats. Sampling takes ``random_state`` (None, an int seed or a numpy Generator);
the global numpy RNG is never used. Split distributions return ``(x, y)`` from ``sample`` and give
``mutual_information()``; single distributions return one ``(n, d)`` array and give ``entropy()``.

=============================  =====================================================================
``MultivariateNormal``         :math:`\tfrac12\log\det(2\pi e\Sigma)`
``SplitMultinormal``           Gaussian MI from log-determinants of the blocks
``correlated_gaussian``        pairs with correlation rho, MI :math:`-\tfrac d2\log(1-\rho^2)`
``low_rank_gaussian_pair``     collapsed: an r-dim latent pair embedded in high dimension
``UniformBox``                 :math:`\sum_i\log(\mathrm{high}_i-\mathrm{low}_i)`
``StudentT``/``SplitStudentT`` multivariate t entropy; Gaussian MI of the shape + a df correction
``IsotropicGaussianMixture``   Monte Carlo entropy with standard error, pairwise-distance bounds
``Transformed``                monotone per-coordinate maps (MI unchanged)
``make_family``/``FAMILIES``   named benchmark families at given (dim_x, dim_y)
=============================  =====================================================================
"""

from infossl.synthetic._embedded import EmbeddedGaussianPair, embedded_gaussian_pair
from infossl.synthetic._families import FAMILIES, families, make_family
from infossl.synthetic._gaussian import (
    LowRankGaussianPair,
    MultivariateNormal,
    SplitMultinormal,
    correlated_gaussian,
    correlated_gaussian_for_mi,
    low_rank_gaussian_pair,
    rho_for_mi,
)
from infossl.synthetic._mixture import IsotropicGaussianMixture, UniformBox
from infossl.synthetic._student import SplitStudentT, StudentT, student_t_mi_correction
from infossl.synthetic._transforms import (
    TRANSFORMS,
    Transformed,
    inverse_transform,
    log_abs_derivative,
    transform,
)

__all__ = [
    "EmbeddedGaussianPair",
    "FAMILIES",
    "IsotropicGaussianMixture",
    "LowRankGaussianPair",
    "MultivariateNormal",
    "SplitMultinormal",
    "SplitStudentT",
    "StudentT",
    "TRANSFORMS",
    "Transformed",
    "UniformBox",
    "correlated_gaussian",
    "correlated_gaussian_for_mi",
    "families",
    "inverse_transform",
    "log_abs_derivative",
    "low_rank_gaussian_pair",
    "make_family",
    "rho_for_mi",
    "student_t_mi_correction",
    "transform",
]
