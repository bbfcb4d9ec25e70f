"""Barlow Twins (Zbontar et al. 2021): cross-correlation of batch-normalised views pushed to the identity."""

from __future__ import annotations

import torch

from infossl._validation import check_float, check_options
from infossl.objectives._base import ViewLoss


def batch_standardize(z: torch.Tensor, *, eps: float = 1e-5) -> torch.Tensor:
    """Batch normalisation without affine parameters: centre each column, divide by sqrt(biased var + eps).

    Returns
    -------
    torch.Tensor
        The standardised batch, the shape of ``z``.
    """
    zc = z - z.mean(dim=0)  # (n, d)
    return zc / torch.sqrt(zc.pow(2).mean(dim=0) + eps)  # (n, d)


def cross_correlation(z_a: torch.Tensor, z_b: torch.Tensor, *, eps: float = 1e-5) -> torch.Tensor:
    """(d, d) empirical cross-correlation :math:`C = \\hat z_a^\\top \\hat z_b / n` of the standardised
    views.

    Returns
    -------
    torch.Tensor
        (d, d) cross-correlation matrix.
    """
    n = z_a.shape[0]
    return batch_standardize(z_a, eps=eps).T @ batch_standardize(z_b, eps=eps) / n  # (d, d)


class BarlowTwinsLoss(ViewLoss):
    r"""Barlow Twins loss :math:`\sum_i (1 - C_{ii})^2 + \lambda \sum_{i \ne j} C_{ij}^2`.

    :math:`C = \hat Z_a^\top \hat Z_b / n` where :math:`\hat Z` is each view batch-normalised without affine
    parameters (biased variance, :math:`\epsilon = 10^{-5}`, as ``nn.BatchNorm1d(affine=False)`` in training
    mode in the official code). The off-diagonal sum is computed without a mask as
    :math:`\sum_{ij} C_{ij}^2 - \sum_i C_{ii}^2`, and when n < d the Frobenius norm comes from the
    n x n Gram matrices, :math:`\|\hat Z_a^\top\hat Z_b\|_F^2 = \langle \hat Z_a\hat Z_a^\top,
    \hat Z_b\hat Z_b^\top\rangle`, at :math:`n^2 d` instead of :math:`n d^2` operations.

    Parameters
    ----------
    lambd : float, default 5e-3
        :math:`\lambda`, the weight of the redundancy-reduction term.
    eps : float, default 1e-5
        Added to the variance in the batch normalisation.
    gather_distributed : bool
        Normalise and correlate the batch gathered from all ranks (autograd-correct), which equals the
        official code's synchronised batch norm followed by an all-reduce of :math:`C/n`.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        Detached ``"on_diagonal"``, ``"off_diagonal"`` (unweighted) and ``"loss"`` of the last call.

    Notes
    -----
    A constant batch standardises to zeros, so :math:`C = 0` and the loss is d with a finite (zero) gradient.

    References
    ----------
    .. [1] J. Zbontar, L. Jing, I. Misra, Y. LeCun, S. Deny, "Barlow Twins: Self-Supervised Learning via
       Redundancy Reduction", ICML 2021, arXiv 2103.03230, eq. 1-2.

    Examples
    --------
    >>> import torch
    >>> float(BarlowTwinsLoss()(torch.ones(8, 5), torch.ones(8, 5)))
    5.0
    """

    @check_options("infossl.objectives.BarlowTwinsLoss")
    def __init__(self, *, lambd: float = 5e-3, eps: float = 1e-5, gather_distributed: bool = False) -> None:
        super().__init__(gather_distributed=gather_distributed)
        self.lambd = check_float(lambd, "lambd", low=0.0)
        self.eps = check_float(eps, "eps", low=0.0, low_open=True)

    def terms(self, z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
        z_a, z_b = self.gather(z_a), self.gather(z_b)
        n, d = z_a.shape
        a, b = batch_standardize(z_a, eps=self.eps), batch_standardize(z_b, eps=self.eps)  # (n, d)
        diag = (a * b).sum(dim=0) / n  # (d,) = diag(C)
        if n < d:  # ||A^T B||_F^2 = sum((A A^T) * (B B^T)): n^2 d instead of n d^2 operations
            frob = ((a @ a.T) * (b @ b.T)).sum() / n**2
        else:
            frob = (a.T @ b).pow(2).sum() / n**2
        on = (1 - diag).pow(2).sum()
        off = frob - diag.pow(2).sum()
        return {"on_diagonal": on, "off_diagonal": off, "loss": on + self.lambd * off}
