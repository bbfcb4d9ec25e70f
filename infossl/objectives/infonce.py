"""InfoNCE / NT-Xent loss of SimCLR (Chen et al. 2020) over 2N views with 2N - 2 negatives per anchor."""

from __future__ import annotations

import math
import torch
import torch.nn.functional as F

from infossl._validation import check_float, check_options
from infossl.objectives._base import ViewLoss
from infossl.objectives._numerics import unit_rows


class InfoNCELoss(ViewLoss):
    r"""Normalised temperature-scaled cross-entropy (NT-Xent), SimCLR eq. 1.

    .. math::

        \ell_{i,j} = -\log \frac{\exp(\mathrm{sim}(z_i, z_j)/\tau)}
                           {\sum_{k=1}^{2N} \mathbb 1_{[k \ne i]} \exp(\mathrm{sim}(z_i, z_k)/\tau)},
        \qquad L = \frac{1}{2N}\sum_{k=1}^{N} [\ell_{2k-1,2k} + \ell_{2k,2k-1}]

    with cosine similarity; each anchor has its other view as positive and the remaining 2N - 2
    views as negatives.

    Parameters
    ----------
    temperature : float, default 0.5
        :math:`\tau`. SimCLR's paper uses 0.5 in its default setting and 0.1 for its best large-batch
        ImageNet runs (Table 5); 0.5 is the common library default.
    gather_distributed : bool
        Anchors stay local; candidates (positives and negatives) are gathered from all ranks with
        gradients, so the negatives number 2N_global - 2 and the mean of the loss over ranks equals the
        global-batch loss.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        Detached ``"loss"`` and ``"mi_lower_bound"`` = :math:`\log(2N-1) - L`, the InfoNCE bound in nats
        on the views' mutual information (van den Oord et al. 2018) with 2N - 1 candidates.

    References
    ----------
    .. [1] T. Chen, S. Kornblith, M. Norouzi, G. Hinton, "A Simple Framework for Contrastive Learning of
       Visual Representations", ICML 2020, arXiv 2002.05709, eq. 1.

    Examples
    --------
    All embeddings equal: every candidate is as similar as the positive, so :math:`L = \log(2N - 1)`.

    >>> import math, torch
    >>> loss = InfoNCELoss()(torch.ones(4, 3), torch.ones(4, 3))
    >>> abs(float(loss) - math.log(7)) < 1e-6
    True
    """

    @check_options("infossl.objectives.InfoNCELoss")
    def __init__(self, *, temperature: float = 0.5, gather_distributed: bool = False) -> None:
        super().__init__(gather_distributed=gather_distributed)
        self.temperature = check_float(temperature, "temperature", low=0.0, low_open=True)

    def terms(self, z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
        n = z_a.shape[0]
        a, b = unit_rows(z_a), unit_rows(z_b)  # (n, d), F.normalize at any scale
        rank, world = self.rank_and_world()
        cand = torch.cat([self.gather(a), self.gather(b)]) if world > 1 else torch.cat([a, b])  # (2m, d)
        m = n * world  # global number of pairs
        logits = torch.cat([a, b]) @ cand.T / self.temperature  # (2n, 2m), the local anchors first
        local = torch.arange(n, device=z_a.device) + rank * n  # global row index of each local pair
        self_idx = torch.cat([local, local + m])  # (2n,)
        pos_idx = torch.cat([local + m, local])  # (2n,)
        logits = logits.masked_fill(F.one_hot(self_idx, 2 * m).bool(), float("-inf"))
        loss = F.cross_entropy(logits, pos_idx)
        return {"loss": loss, "mi_lower_bound": math.log(2 * m - 1) - loss}
