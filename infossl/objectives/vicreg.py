"""VICReg (Bardes, Ponce & LeCun 2022), faithful to the official ``main_vicreg.py``.

The three regularisers are public pure functions on tensors; :class:`VICRegLoss` is a thin
``nn.Module`` that combines them with the official weights and keeps the last call's terms.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from infossl._validation import check_choice, check_float, check_options
from infossl.objectives._base import ViewLoss


def invariance_term(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    r"""Mean squared difference over all n x d entries, :math:`s = \frac{1}{nd}\sum_i\|z_i - z'_i\|^2`.

    This is ``F.mse_loss(x, y)`` of the official code, i.e. the paper's :math:`s(Z, Z')` divided by d.

    Returns
    -------
    torch.Tensor
        0-d mean squared difference.
    """
    return F.mse_loss(z_a, z_b)


def variance_term(z: torch.Tensor, *, gamma: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    r"""Hinge on the per-dimension standard deviation,
    :math:`v = \frac1d\sum_j \max(0, \gamma - \sqrt{\mathrm{Var}(z_{:j}) + \epsilon})`.

    Unbiased (n - 1) variance as in the official code (``x.var(dim=0)``). For a constant batch the value
    is :math:`\gamma - \sqrt{\epsilon}` and the gradient is finite (zero, since the centred data are 0).

    Returns
    -------
    torch.Tensor
        0-d hinge value in :math:`[0, \gamma]`.
    """
    std = torch.sqrt(z.var(dim=0) + eps)  # (d,)
    return F.relu(gamma - std).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    r"""Sum of squared off-diagonal covariances over d, :math:`c = \frac1d\sum_{i\ne j} C_{ij}^2`.

    :math:`C = Z_c^\top Z_c/(n-1)` with n the number of rows of ``z`` (not a configured batch size).
    Computed without a boolean mask as :math:`\sum_{ij} C_{ij}^2 - \sum_i C_{ii}^2`; the diagonal is the
    column variance. When n < d the Frobenius norm is taken from the n x n Gram matrix instead,
    :math:`\|Z_c^\top Z_c\|_F = \|Z_c Z_c^\top\|_F` (the same non-zero spectrum), which costs
    :math:`n^2 d` instead of :math:`n d^2` operations.

    Returns
    -------
    torch.Tensor
        0-d, :math:`c \ge 0`.
    """
    n, d = z.shape
    zc = z - z.mean(dim=0)  # (n, d)
    gram = zc @ zc.T if n < d else zc.T @ zc  # (n, n) or (d, d)
    diag = zc.pow(2).sum(dim=0)  # (d,)
    return (gram.pow(2).sum() - diag.pow(2).sum()) / ((n - 1) ** 2 * d)


class VICRegLoss(ViewLoss):
    r"""VICReg loss of two views, as in facebookresearch/vicreg ``main_vicreg.py``.

    .. math::

        L = \lambda\, s(Z, Z') + \mu\,\tfrac{1}{2}\,[v(Z) + v(Z')] + \nu\,[c(Z) + c(Z')]

    with :func:`invariance_term` s, :func:`variance_term` v and :func:`covariance_term` c, and
    :math:`\lambda=\mu=25`, :math:`\nu=1`, :math:`\gamma=1`, :math:`\epsilon=10^{-4}` by default.

    Parameters
    ----------
    sim_coeff, std_coeff, cov_coeff : float
        :math:`\lambda, \mu, \nu`.
    gamma, eps : float
        Target standard deviation and the constant under the square root.
    variance_form : {"code", "paper"}
        "code" halves the variance term as the official code does; "paper" uses eq. 6 of the paper,
        :math:`\mu[v(Z)+v(Z')]` (the halving is discussed in facebookresearch/vicreg issues 8 and 26).
    gather_distributed : bool
        Compute the variance and covariance terms on the batch gathered from all ranks (with gradients,
        :func:`~infossl._distributed.gather_with_grad`); the invariance term stays on the local
        batch, as in the official code. A no-op without an initialised process group.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        Detached terms of the last forward call: ``"invariance"``, ``"variance"`` (the combined, possibly
        halved value that ``std_coeff`` multiplies), ``"covariance"`` (:math:`c(Z)+c(Z')`) and ``"loss"``.
        They are kept from the forward computation, not recomputed.

    Notes
    -----
    The forward takes ``z_a, z_b`` of shape (n, d) and returns the scalar loss. Differences from the
    official code: the covariance divides by the number of gathered rows minus one (the official code
    uses the configured global batch size, which differs on a short last batch), and the off-diagonal
    sum is mask-free.

    References
    ----------
    .. [1] A. Bardes, J. Ponce, Y. LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
       Self-Supervised Learning", ICLR 2022, arXiv 2105.04906, eqs. 1-6.

    Examples
    --------
    A constant batch: the invariance and covariance terms vanish and each view's hinge is
    :math:`1 - \sqrt{10^{-4}} = 0.99`, so the loss is :math:`25 \times 0.99`.

    >>> import torch
    >>> loss = VICRegLoss()(torch.ones(8, 4), torch.ones(8, 4))
    >>> round(float(loss), 6)
    24.75
    """

    power = 4  # squared covariances

    @check_options("infossl.objectives.VICRegLoss")
    def __init__(self, *, sim_coeff: float = 25.0, std_coeff: float = 25.0, cov_coeff: float = 1.0,
                 gamma: float = 1.0, eps: float = 1e-4, variance_form: str = "code",
                 gather_distributed: bool = False) -> None:
        super().__init__(gather_distributed=gather_distributed)
        self.sim_coeff = check_float(sim_coeff, "sim_coeff", low=0.0)
        self.std_coeff = check_float(std_coeff, "std_coeff", low=0.0)
        self.cov_coeff = check_float(cov_coeff, "cov_coeff", low=0.0)
        self.gamma = check_float(gamma, "gamma", low=0.0)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)
        self.variance_form = check_choice(variance_form, "variance_form", ("code", "paper"))

    def terms(self, z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
        inv = invariance_term(z_a, z_b)  # local, as in the official code
        return self.vicreg_terms(inv, self.gather(z_a), self.gather(z_b))

    def vicreg_terms(self, inv: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor
                     ) -> dict[str, torch.Tensor]:
        """VICReg's terms from the (local) invariance and the (gathered) batches of both views.

        Returns
        -------
        dict of str to 0-d tensor
            ``"invariance"``, ``"variance"``, ``"covariance"`` and their weighted sum ``"loss"``.
        """
        var = (variance_term(z_a, gamma=self.gamma, eps=self.eps)
               + variance_term(z_b, gamma=self.gamma, eps=self.eps))
        if self.variance_form == "code":
            var = var / 2
        cov = covariance_term(z_a) + covariance_term(z_b)
        loss = self.sim_coeff * inv + self.std_coeff * var + self.cov_coeff * cov
        return {"invariance": inv, "variance": var, "covariance": cov, "loss": loss}
