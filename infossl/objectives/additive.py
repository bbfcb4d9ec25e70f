r"""VICReg with an entropy estimator *added*: the "VICReg + LogDet" and "VICReg + PairDist" objectives.

Shwartz-Ziv et al. (arXiv 2303.00633, NeurIPS 2023; workshop version arXiv 2207.10081) read VICReg's variance
and covariance terms as a surrogate for the entropy :math:`H(Z)` and train VICReg with an entropy estimator
as an additional term beside them:

.. math:: L = L_{\mathrm{VICReg}}(Z, Z') - \alpha\,[\hat H(Z) + \hat H(Z')]

with :math:`L_{\mathrm{VICReg}}` exactly :class:`~infossl.objectives.VICRegLoss` (invariance, variance and
covariance terms kept) and :math:`\hat H` the LogDet estimator (:class:`VICRegLogDetLoss`) or the
pairwise-distance estimator of Kolchinsky & Tracey (:class:`VICRegPairDistLoss`). This differs from
:class:`~infossl.objectives.InfoVICRegLoss`, whose entropy estimate *replaces* the variance and covariance
terms. The weight :math:`\alpha` of the entropy sum is an option (default 1, not tuned; choose it on a
validation split): the coefficient the paper used could not be checked against its text here.

Both estimators are computed by :func:`~infossl.objectives.derived.entropy_estimate`, the dispatch that
:class:`~infossl.objectives.InfoVICRegLoss` uses, so the formulas live in :mod:`infossl.estimators` once.
"""

from __future__ import annotations

import torch

from infossl._validation import check_choice, check_float, check_options
from infossl.objectives.derived import entropy_estimate
from infossl.objectives.vicreg import VICRegLoss, invariance_term

#: The ``distance`` choices of :class:`VICRegPairDistLoss` -> the estimator name of ``entropy_estimate``.
PAIR_DISTANCES = {"bhattacharyya": "pairdist-bd", "kl": "pairdist-kl"}


class _AdditiveVICReg(VICRegLoss):
    """VICReg plus :math:`-\\alpha[\\hat H(Z) + \\hat H(Z')]`; a subclass names the estimator."""

    def entropy_term(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\hat H(z)` of one (gathered) view with this loss's estimator.

        Returns
        -------
        torch.Tensor
            0-d estimate in nats.
        """
        return entropy_estimate(z, self.estimator_name(), beta=getattr(self, "beta", 1.0),
                                sigma=getattr(self, "sigma", 1.0))

    def estimator_name(self) -> str:
        """The estimator's name for :func:`~infossl.objectives.derived.entropy_estimate`.

        Returns
        -------
        str
            "logdet", "pairdist-bd" or "pairdist-kl".
        """
        raise NotImplementedError

    def terms(self, z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
        inv = invariance_term(z_a, z_b)  # local, as in VICReg's official code
        z_a, z_b = self.gather(z_a), self.gather(z_b)
        found = self.vicreg_terms(inv, z_a, z_b)
        h_a, h_b = self.entropy_term(z_a), self.entropy_term(z_b)
        found["vicreg_loss"] = found["loss"]
        found.update(entropy_a=h_a, entropy_b=h_b, loss=found["loss"] - self.alpha * (h_a + h_b))
        return found


class VICRegLogDetLoss(_AdditiveVICReg):
    r"""VICReg + LogDet: :math:`L = L_{\mathrm{VICReg}} - \alpha\,[\hat H_\beta(Z) + \hat H_\beta(Z')]`.

    :math:`\hat H_\beta(Z) = \tfrac12\log\det(I + \beta\hat\Sigma_Z)` (:func:`~infossl.estimators.
    logdet_entropy`, Zhouyin & Liu 2021) on each view's batch, added to the full VICReg loss (module
    docstring). The LogDet value is not a bound on :math:`H(Z)` either way; it is a spread reward.

    Parameters
    ----------
    alpha : float, default 1.0
        Weight of the entropy sum (not tuned).
    beta : float, default 1.0
        :math:`\beta` of the LogDet estimator (the scale at which a direction counts).
    sim_coeff, std_coeff, cov_coeff, gamma, eps, variance_form
        VICReg's options, as in :class:`~infossl.objectives.VICRegLoss` (defaults 25, 25, 1, 1, 1e-4,
        "code").
    gather_distributed : bool
        Variance, covariance and entropies on the batch gathered from all ranks; the invariance stays local.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        ``"invariance"``, ``"variance"``, ``"covariance"``, ``"vicreg_loss"`` (their weighted sum),
        ``"entropy_a"``, ``"entropy_b"`` (nats) and ``"loss" = vicreg_loss - alpha (entropy_a + entropy_b)``.

    References
    ----------
    .. [1] R. Shwartz-Ziv, R. Balestriero, K. Kawaguchi, T. G. J. Rudner, Y. LeCun, "An Information-Theoretic
       Perspective on Variance-Invariance-Covariance Regularization", NeurIPS 2023, arXiv 2303.00633.
    .. [2] Z. Zhouyin, D. Liu, "Understanding neural networks with logarithm determinant entropy estimator",
       arXiv 2105.03705.

    Examples
    --------
    >>> import torch
    >>> from infossl.estimators import logdet_entropy
    >>> from infossl.objectives import VICRegLoss
    >>> g = torch.Generator().manual_seed(0)
    >>> za, zb = torch.randn(32, 4, generator=g), torch.randn(32, 4, generator=g)
    >>> loss = VICRegLogDetLoss(alpha=0.5)(za, zb)
    >>> expected = VICRegLoss()(za, zb) - 0.5 * (logdet_entropy(za) + logdet_entropy(zb))
    >>> bool(torch.isclose(loss, expected))
    True
    """

    @check_options("infossl.objectives.VICRegLogDetLoss")
    def __init__(self, *, alpha: float = 1.0, beta: float = 1.0, sim_coeff: float = 25.0,
                 std_coeff: float = 25.0, cov_coeff: float = 1.0, gamma: float = 1.0, eps: float = 1e-4,
                 variance_form: str = "code", gather_distributed: bool = False) -> None:
        super().__init__(sim_coeff=sim_coeff, std_coeff=std_coeff, cov_coeff=cov_coeff, gamma=gamma, eps=eps,
                         variance_form=variance_form, gather_distributed=gather_distributed)
        self.alpha = check_float(alpha, "alpha", low=0.0)
        self.beta = check_float(beta, "beta", low=0.0, low_open=True)

    def estimator_name(self) -> str:
        """The estimator's name for :func:`~infossl.objectives.derived.entropy_estimate`.

        Returns
        -------
        str
            "logdet".
        """
        return "logdet"


class VICRegPairDistLoss(_AdditiveVICReg):
    r"""VICReg + PairDist: :math:`L = L_{\mathrm{VICReg}} - \alpha\,[\hat H_D(Z) + \hat H_D(Z')]`.

    :math:`\hat H_D` is the pairwise-distance estimate (Kolchinsky & Tracey 2017,
    :func:`~infossl.estimators.mixture_entropy`) of the entropy of the batch mixture
    :math:`\frac1n\sum_i\mathcal N(z_i, \sigma^2 I)`, added to the full VICReg loss (module docstring).

    Parameters
    ----------
    alpha : float, default 1.0
        Weight of the entropy sum (not tuned).
    sigma : float, default 1.0
        Standard deviation of the mixture's components, in the units of z.
    distance : {"bhattacharyya", "kl"}
        "bhattacharyya" (default): the pairwise estimate that is a *lower* bound on the mixture's entropy,
        so maximising it never rewards an overestimate; "kl": the upper bound.
    sim_coeff, std_coeff, cov_coeff, gamma, eps, variance_form
        VICReg's options, as in :class:`~infossl.objectives.VICRegLoss`.
    gather_distributed : bool
        Variance, covariance and entropies on the batch gathered from all ranks; the invariance stays local.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        As :class:`VICRegLogDetLoss`: the VICReg terms, ``"vicreg_loss"``, ``"entropy_a"``, ``"entropy_b"``
        and ``"loss"``.

    References
    ----------
    .. [1] R. Shwartz-Ziv et al., arXiv 2303.00633 (NeurIPS 2023).
    .. [2] A. Kolchinsky, B. D. Tracey, "Estimating mixture entropy with pairwise distances",
       Entropy 19(7):361, 2017, arXiv 1706.02419.

    Examples
    --------
    >>> import torch
    >>> from infossl.estimators import mixture_entropy
    >>> from infossl.objectives import VICRegLoss
    >>> g = torch.Generator().manual_seed(0)
    >>> za, zb = torch.randn(32, 4, generator=g), torch.randn(32, 4, generator=g)
    >>> loss = VICRegPairDistLoss(alpha=0.5, sigma=0.5)(za, zb)
    >>> h = [mixture_entropy(z, sigma=0.5, distance="bhattacharyya") for z in (za, zb)]
    >>> bool(torch.isclose(loss, VICRegLoss()(za, zb) - 0.5 * (h[0] + h[1])))
    True
    """

    @check_options("infossl.objectives.VICRegPairDistLoss")
    def __init__(self, *, alpha: float = 1.0, sigma: float = 1.0, distance: str = "bhattacharyya",
                 sim_coeff: float = 25.0, std_coeff: float = 25.0, cov_coeff: float = 1.0, gamma: float = 1.0,
                 eps: float = 1e-4, variance_form: str = "code", gather_distributed: bool = False) -> None:
        super().__init__(sim_coeff=sim_coeff, std_coeff=std_coeff, cov_coeff=cov_coeff, gamma=gamma, eps=eps,
                         variance_form=variance_form, gather_distributed=gather_distributed)
        self.alpha = check_float(alpha, "alpha", low=0.0)
        self.sigma = check_float(sigma, "sigma", low=0.0, low_open=True)
        self.distance = check_choice(distance, "distance", tuple(PAIR_DISTANCES))

    def estimator_name(self) -> str:
        """The estimator's name for :func:`~infossl.objectives.derived.entropy_estimate`.

        Returns
        -------
        str
            "pairdist-bd" or "pairdist-kl", after ``distance``.
        """
        return PAIR_DISTANCES[self.distance]


__all__ = ["PAIR_DISTANCES", "VICRegLogDetLoss", "VICRegPairDistLoss"]
