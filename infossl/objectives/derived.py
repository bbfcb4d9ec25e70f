r"""The information-theoretic VICReg family: invariance as a conditional-entropy bound, plus entropy terms.

Shwartz-Ziv et al. (arXiv 2207.10081; NeurIPS 2023 version arXiv 2303.00633) read VICReg as maximising
:math:`I(Z; X')` between the representation of one view and the other view. The Barber-Agakov inequality
(Barber & Agakov 2003) gives, for any decoder q,

.. math:: I(Z; X') = H(Z) - H(Z\mid X') \;\ge\; H(Z) - \mathrm{CE}, \qquad
          \mathrm{CE} = -\mathbb E\ln q(Z\mid X') \ge H(Z\mid X'),

and the choice :math:`q(z\mid x') = \mathcal N(z;\, f(x'), I)` turns CE into VICReg's squared-error
invariance term plus a constant. :class:`InfoVICRegLoss` keeps that CE and puts an *estimator*
:math:`\hat H` in place of :math:`H(Z)`, calling the estimator functions of :mod:`infossl.estimators` (or the
VICReg term functions). The result is a lower bound on :math:`I(Z; X')` only where :math:`\hat H \le H(Z)`,
which none of the choices guarantees:

* "gaussian" is the maximum-entropy **upper** bound on :math:`H(Z)` at the batch covariance;
* "logdet" (the default of ``infossl train``), :math:`\tfrac12\ln\det(I + \beta\hat\Sigma)`, is not a bound
  either way: it differs from the Gaussian entropy :math:`\tfrac12\ln\det(2\pi e\hat\Sigma)` by
  :math:`\tfrac12\sum_i \ln\frac{1 + \beta\lambda_i}{2\pi e\,\lambda_i}` over the eigenvalues
  :math:`\lambda_i` of :math:`\hat\Sigma`, a gap that depends on the spectrum and has no fixed sign. The
  default objective is therefore a log-det (coding-rate) entropy surrogate in the Barber-Agakov form, an
  invariance penalty minus a spread reward, not a bound on :math:`I(Z; X')`;
* "pairdist-kl" / "pairdist-bd" bound the entropy of the smoothed batch mixture
  :math:`\frac1n\sum_i\mathcal N(z_i, \sigma^2 I)` from above / below (Kolchinsky & Tracey 2017), not
  :math:`H(Z)`.
"""

from __future__ import annotations

import math
import torch

from infossl._validation import check_choice, check_float, check_options
from infossl.estimators import gaussian_entropy, logdet_entropy, mixture_entropy
from infossl.objectives._base import ViewLoss
from infossl.objectives.vicreg import covariance_term, variance_term

ENTROPIES = ("gaussian", "logdet", "pairdist-kl", "pairdist-bd", "vicreg")


#: The estimators of :func:`entropy_estimate`: ``ENTROPIES`` less the "vicreg" surrogate (no estimator).
ESTIMATORS = ("gaussian", "logdet", "pairdist-kl", "pairdist-bd")


def entropy_estimate(z: torch.Tensor, entropy: str, *, ridge: float = 1e-4, beta: float = 1.0,
                     sigma: float = 1.0) -> torch.Tensor:
    r"""The entropy estimate :math:`\hat H(Z)` of one batch, by name: the one dispatch every objective uses.

    Parameters
    ----------
    z : torch.Tensor, shape (n, d)
        The batch (gradients flow through every estimator).
    entropy : {"gaussian", "logdet", "pairdist-kl", "pairdist-bd"}
        "gaussian": :func:`~infossl.estimators.gaussian_entropy` ``(z, ridge=ridge, bias_correction=False)``;
        "logdet": :func:`~infossl.estimators.logdet_entropy` ``(z, beta=beta)``,
        :math:`\tfrac12\log\det(I+\beta\hat\Sigma)`; "pairdist-kl" / "pairdist-bd":
        :func:`~infossl.estimators.mixture_entropy` of :math:`\frac1n\sum_i\mathcal N(z_i, \sigma^2 I)`
        with the KL (upper bound) or Bhattacharyya (lower bound) distance (Kolchinsky & Tracey 2017).
    ridge, beta, sigma : float
        Read by "gaussian", "logdet" and the pairwise estimators respectively.

    Returns
    -------
    torch.Tensor
        0-d estimate in nats ("logdet" drops the :math:`(2\pi e)^d` constant, see its docstring).
    """
    entropy = check_choice(entropy, "entropy", ESTIMATORS)
    if entropy == "gaussian":
        return gaussian_entropy(z, ridge=ridge, shrinkage=None, bias_correction=False)
    if entropy == "logdet":
        return logdet_entropy(z, beta=beta)
    return mixture_entropy(z, sigma=sigma, distance="kl" if entropy == "pairdist-kl" else "bhattacharyya")


def gaussian_cross_entropy(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    r"""Cross-entropy of view a under :math:`q(z\mid x') = \mathcal N(z;\, z', I)`, in nats.

    .. math:: \mathrm{CE} = \frac{1}{n}\sum_i \tfrac12\|z_i - z'_i\|^2 + \tfrac d2 \ln 2\pi
              \;\ge\; H(Z \mid X')

    (the decoder choice that turns the Barber-Agakov bound into VICReg's invariance term, after
    Shwartz-Ziv et al., arXiv 2207.10081 / 2303.00633). It is the squared-error invariance term plus a
    constant. As a cross-entropy it upper-bounds the conditional entropy, so with the true :math:`H(Z)`,
    :math:`H(Z) - \mathrm{CE}` lower-bounds :math:`I(Z; X')` (Barber & Agakov 2003); with an entropy
    *estimate* in place of :math:`H(Z)` it is a bound only if the estimate is below :math:`H(Z)`.

    Returns
    -------
    torch.Tensor
        0-d cross-entropy in nats.
    """
    d = z_a.shape[1]
    return 0.5 * (z_a - z_b).pow(2).sum(dim=1).mean() + 0.5 * d * math.log(2 * math.pi)


class InfoVICRegLoss(ViewLoss):
    r"""Derived VICReg objective: :math:`L = \mu\,\mathrm{CE}(Z\mid Z') - \alpha\,[\hat H(Z) + \hat H(Z')]`.

    With the defaults :math:`\mu = 1`, :math:`\alpha = \tfrac12` the loss is minus the mean of the two
    Barber-Agakov expressions :math:`\hat H(Z) - \mathrm{CE}` and :math:`\hat H(Z') - \mathrm{CE}`, in nats,
    with an estimate :math:`\hat H` in place of the entropy. That is a lower bound on :math:`I(Z; X')` only
    where :math:`\hat H \le H(Z)`, which none of the estimators below guarantees (see the module docstring);
    with "logdet" it is not a bound, since :math:`\tfrac12\ln\det(I+\beta\hat\Sigma)` is not the Gaussian
    entropy and the gap depends on the spectrum.

    Parameters
    ----------
    entropy : {"gaussian", "logdet", "pairdist-kl", "pairdist-bd", "vicreg"}
        :math:`\hat H`, computed on each view separately:

        * "gaussian": :func:`~infossl.estimators.gaussian_entropy`
          ``(z, ridge=ridge, bias_correction=False)``,
          :math:`\tfrac12\log\det(2\pi e(\hat\Sigma + \delta\bar\sigma^2 I))` with the ridge in units of
          the mean variance. An exactly constant batch has entropy :math:`-\infty` and the estimator raises
          ValueError.
        * "logdet": :func:`~infossl.estimators.logdet_entropy` ``(z, beta=beta)``,
          :math:`\tfrac12\log\det(I+\beta\hat\Sigma)`.
        * "pairdist-kl" / "pairdist-bd": :func:`~infossl.estimators.mixture_entropy` of the mixture
          :math:`\frac1n\sum_i\mathcal N(z_i, \sigma^2 I)` with ``distance="kl"`` (upper bound) or
          ``"bhattacharyya"`` (lower bound).
        * "vicreg": the VICReg surrogate
          :math:`\hat H_{\mathrm{vic}}(Z) = -[\tfrac{\mu_v}{2} v(Z) + \nu\, c(Z)]`
          from :func:`~infossl.objectives.vicreg.variance_term` and
          :func:`~infossl.objectives.vicreg.covariance_term` (``std_coeff`` :math:`\mu_v`, ``cov_coeff``
          :math:`\nu`). It is not in nats: it is the negated VICReg penalty, so higher means "more spread".
          With ``mu = 50 / d`` and ``alpha = 1``, the loss equals :class:`~infossl.objectives.VICRegLoss`
          plus the constant :math:`\mu\tfrac d2\ln 2\pi`.
    mu, alpha : float
        Weights of the cross-entropy and of the entropy sum.
    ridge : float
        Read by "gaussian" (default 1e-4, relative to the mean variance).
    beta : float
        Read by "logdet".
    sigma : float
        Component standard deviation for the pairwise estimators (same units as z).
    std_coeff, cov_coeff, gamma, eps : float
        Read by "vicreg".
    gather_distributed : bool
        Entropies on the batch gathered from all ranks (autograd-correct); the cross-entropy stays local.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        Detached values of the last call: ``"cross_entropy"`` (nats), ``"entropy_a"``, ``"entropy_b"``
        (nats except for "vicreg"), ``"loss"``.
        ``loss == mu * cross_entropy - alpha * (entropy_a + entropy_b)``.

    Notes
    -----
    Cost per view: "gaussian" forms the d x d covariance, and the estimator checks its numerical rank with
    an eigendecomposition before the log-determinant, so it is O(n d^2 + d^3) and much slower than VICReg at
    large d; "logdet" works on the n x n Gram matrix when n < d; the pairwise estimators are O(n^2 d).
    In float32 with n < d, the Gaussian estimator's rank check (tolerance about 10 d eps times the largest
    eigenvalue) can call the ridged covariance singular unless ``ridge`` exceeds that tolerance relative to
    the mean variance; it then emits a :class:`~infossl.DegenerateInputWarning` and adds a further
    1e-6 ridge, and the value stays finite.

    References
    ----------
    .. [1] R. Shwartz-Ziv, R. Balestriero, K. Kawaguchi, T. G. J. Rudner, Y. LeCun, "An Information-Theoretic
       Perspective on Variance-Invariance-Covariance Regularization", NeurIPS 2023, arXiv 2303.00633; the
       workshop version is R. Shwartz-Ziv, R. Balestriero, Y. LeCun, "What Do We Maximize in
       Self-Supervised Learning?", arXiv 2207.10081.
    .. [2] A. Kolchinsky, B. D. Tracey, "Estimating mixture entropy with pairwise distances",
       arXiv 1706.02419.
    .. [3] Z. Zhouyin, D. Liu, "Understanding neural networks with logarithm determinant entropy estimator",
       arXiv 2105.03705.
    .. [4] D. Barber, F. Agakov, "The IM algorithm: a variational approach to information maximization",
       NeurIPS 2003.

    Examples
    --------
    Identical views: the cross-entropy is :math:`\tfrac d2\ln 2\pi` and the loss is that minus the entropy.

    >>> import math, torch
    >>> z = torch.randn(64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> loss = InfoVICRegLoss(entropy="logdet", mu=1.0, alpha=0.5)(z, z)
    >>> from infossl.estimators import logdet_entropy
    >>> bool(torch.isclose(loss, 1.5 * math.log(2 * math.pi) - logdet_entropy(z)))
    True
    """

    power = 4  # the "vicreg" entropy's squared covariances

    @check_options("infossl.objectives.InfoVICRegLoss")
    def __init__(self, *, entropy: str = "logdet", mu: float = 1.0, alpha: float = 0.5, ridge: float = 1e-4,
                 beta: float = 1.0, sigma: float = 1.0, std_coeff: float = 25.0, cov_coeff: float = 1.0,
                 gamma: float = 1.0, eps: float = 1e-4, gather_distributed: bool = False) -> None:
        super().__init__(gather_distributed=gather_distributed)
        self.entropy = check_choice(entropy, "entropy", ENTROPIES)
        self.mu = check_float(mu, "mu", low=0.0)
        self.alpha = check_float(alpha, "alpha", low=0.0)
        self.ridge = check_float(ridge, "ridge", low=0.0)
        self.beta = check_float(beta, "beta", low=0.0, low_open=True)
        self.sigma = check_float(sigma, "sigma", low=0.0, low_open=True)
        self.std_coeff = check_float(std_coeff, "std_coeff", low=0.0)
        self.cov_coeff = check_float(cov_coeff, "cov_coeff", low=0.0)
        self.gamma = check_float(gamma, "gamma", low=0.0)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)

    def entropy_term(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\hat H(z)` for one view, with this module's estimator and options.

        Returns
        -------
        torch.Tensor
            0-d: the estimate (nats, except for "vicreg", the negated VICReg penalty).
        """
        if self.entropy == "vicreg":
            return -(0.5 * self.std_coeff * variance_term(z, gamma=self.gamma, eps=self.eps)
                     + self.cov_coeff * covariance_term(z))
        return entropy_estimate(z, self.entropy, ridge=self.ridge, beta=self.beta, sigma=self.sigma)

    def terms(self, z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
        ce = gaussian_cross_entropy(z_a, z_b)  # local, like VICReg's invariance term
        z_a, z_b = self.gather(z_a), self.gather(z_b)
        h_a, h_b = self.entropy_term(z_a), self.entropy_term(z_b)
        return {"cross_entropy": ce, "entropy_a": h_a, "entropy_b": h_b,
                "loss": self.mu * ce - self.alpha * (h_a + h_b)}
