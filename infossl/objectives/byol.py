r"""BYOL (Grill et al. 2020) and BYOL + LogDet (Shwartz-Ziv et al. 2023): a predictor and an EMA target.

The online network (backbone, projector, predictor q) predicts the target network's projection of the other
view; the target (a copy of the backbone and projector) receives no gradient and follows the online weights
as an exponential moving average after every optimiser step,
:math:`\xi \leftarrow \tau\xi + (1 - \tau)\theta`. The losses declare ``predictor = True`` and
``target = "ema"`` (:class:`~infossl.objectives._base.TargetLoss`), and the training loop builds the predictor
and the target from these declarations and calls :meth:`BYOLLoss.target_momentum` for :math:`\tau`.
"""

from __future__ import annotations

import math

import torch

from infossl._validation import check_choice, check_float, check_int, check_options
from infossl.objectives._base import TargetLoss
from infossl.objectives._numerics import unit_rows
from infossl.objectives.derived import entropy_estimate

MOMENTUM_SCHEDULES = ("cosine", "constant")


def regression_term(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""BYOL's normalised squared error, averaged over the rows:
    :math:`\frac1n\sum_i \|\bar q_i - \bar z'_i\|^2 = \frac1n\sum_i (2 - 2\cos(q_i, z'_i))`.

    Parameters
    ----------
    prediction, target : torch.Tensor, shape (n, k)
        The online predictions and the target projections (detach the target for BYOL's stop-gradient).

    Returns
    -------
    torch.Tensor
        0-d, in [0, 4]; 0 when every prediction points along its target.
    """
    return (2 - 2 * (unit_rows(prediction) * unit_rows(target)).sum(dim=1)).mean()


def byol_momentum(base: float, step: int, total_steps: int, schedule: str = "cosine") -> float:
    r"""The target's EMA momentum at optimiser step ``step`` of ``total_steps``.

    "cosine" (BYOL, Grill et al. 2020, Section 3.2):
    :math:`\tau_k = 1 - (1 - \tau_{\mathrm{base}})\,(\cos(\pi k / K) + 1) / 2`, rising from
    :math:`\tau_{\mathrm{base}}` at k = 0 to 1 at k = K; "constant": :math:`\tau_{\mathrm{base}}`.

    Returns
    -------
    float
        :math:`\tau_k` in [base, 1].
    """
    check_choice(schedule, "momentum_schedule", MOMENTUM_SCHEDULES)
    if schedule == "constant" or total_steps <= 0:
        return base
    k = min(max(step, 0), total_steps)
    return 1 - (1 - base) * (math.cos(math.pi * k / total_steps) + 1) / 2


class BYOLLoss(TargetLoss):
    r"""BYOL's symmetrised loss: :math:`L = \frac1n\sum_i [\|\bar q(z_a)_i - \bar z'_{b,i}\|^2
    + \|\bar q(z_b)_i - \bar z'_{a,i}\|^2]`, each term :math:`2 - 2\cos`.

    :math:`q(z_a)` is the online prediction from view a, :math:`z'_b` the target projection of view b
    (stop-gradient), bars are l2 normalisation (:func:`regression_term`). The online projections are not
    used by plain BYOL (they are by :class:`BYOLLogDetLoss`).

    Parameters
    ----------
    momentum : float, default 0.996
        :math:`\tau_{\mathrm{base}}` of the target's EMA (BYOL's ImageNet value).
    momentum_schedule : {"cosine", "constant"}
        "cosine" raises :math:`\tau` to 1 over the run as BYOL does (:func:`byol_momentum`); "constant" keeps
        :math:`\tau_{\mathrm{base}}`.
    gather_distributed : bool
        Accepted for the training loop; BYOL's loss has no batch statistic (DDP's gradient averaging makes the
        per-rank means the global one).

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        ``"regression"`` (the symmetrised sum, in [0, 8]) and ``"loss"``.

    References
    ----------
    .. [1] J.-B. Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
       NeurIPS 2020, arXiv 2006.07733, eq. 2 and Section 3.2.

    Examples
    --------
    Predictions along their targets cost nothing:

    >>> import torch
    >>> z = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    >>> abs(float(BYOLLoss()(z, z, 2 * z, 3 * z, z, z))) < 1e-6
    True
    """

    power = 1  # cosines are scale-free; the value cannot overflow through the inputs' magnitude

    @check_options("infossl.objectives.BYOLLoss")
    def __init__(self, *, momentum: float = 0.996, momentum_schedule: str = "cosine",
                 gather_distributed: bool = False) -> None:
        super().__init__(gather_distributed=gather_distributed)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        self.momentum_schedule = check_choice(momentum_schedule, "momentum_schedule", MOMENTUM_SCHEDULES)

    def target_momentum(self, step: int, total_steps: int) -> float:
        """:func:`byol_momentum` with this loss's ``momentum`` and ``momentum_schedule``.

        Returns
        -------
        float
            The EMA momentum tau of the target update after optimiser step ``step`` (0-based).
        """
        check_int(step, "step", low=0)
        return byol_momentum(self.momentum, step, total_steps, self.momentum_schedule)

    def terms(self, online_a: torch.Tensor, online_b: torch.Tensor, prediction_a: torch.Tensor,
              prediction_b: torch.Tensor, target_a: torch.Tensor, target_b: torch.Tensor
              ) -> dict[str, torch.Tensor]:
        reg = regression_term(prediction_a, target_b) + regression_term(prediction_b, target_a)
        return {"regression": reg, "loss": reg}


class BYOLLogDetLoss(BYOLLoss):
    r"""BYOL + LogDet: :math:`L = L_{\mathrm{BYOL}} - \alpha\,[\hat H_\beta(Z_a) + \hat H_\beta(Z_b)]`.

    :math:`\hat H_\beta(Z) = \tfrac12\log\det(I + \beta\hat\Sigma_Z)`
    (:func:`~infossl.estimators.logdet_entropy`) on the *online projections* of each view's batch, added to
    BYOL's loss (the BYOL variant with an entropy estimator of Shwartz-Ziv et al. 2023).

    Parameters
    ----------
    alpha : float, default 1.0
        Weight of the entropy sum (not tuned; choose it on a validation split).
    beta : float, default 1.0
        :math:`\beta` of the LogDet estimator.
    momentum, momentum_schedule
        As :class:`BYOLLoss`.
    gather_distributed : bool
        The entropies on the online projections gathered from all ranks (autograd-correct).

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        ``"regression"``, ``"entropy_a"``, ``"entropy_b"`` (nats) and
        ``"loss" = regression - alpha (entropy_a + entropy_b)``.

    References
    ----------
    .. [1] R. Shwartz-Ziv, R. Balestriero, K. Kawaguchi, T. G. J. Rudner, Y. LeCun, "An Information-Theoretic
       Perspective on Variance-Invariance-Covariance Regularization", NeurIPS 2023, arXiv 2303.00633.
    .. [2] J.-B. Grill et al., arXiv 2006.07733.

    Examples
    --------
    >>> import torch
    >>> from infossl.estimators import logdet_entropy
    >>> g = torch.Generator().manual_seed(0)
    >>> za, zb, pa, pb = (torch.randn(16, 4, generator=g) for _ in range(4))
    >>> loss = BYOLLogDetLoss(alpha=0.5)(za, zb, pa, pb, zb, za)
    >>> expected = BYOLLoss()(za, zb, pa, pb, zb, za) - 0.5 * (logdet_entropy(za) + logdet_entropy(zb))
    >>> bool(torch.isclose(loss, expected))
    True
    """

    power = 2  # the LogDet's covariance

    @check_options("infossl.objectives.BYOLLogDetLoss")
    def __init__(self, *, alpha: float = 1.0, beta: float = 1.0, momentum: float = 0.996,
                 momentum_schedule: str = "cosine", gather_distributed: bool = False) -> None:
        super().__init__(momentum=momentum, momentum_schedule=momentum_schedule,
                         gather_distributed=gather_distributed)
        self.alpha = check_float(alpha, "alpha", low=0.0)
        self.beta = check_float(beta, "beta", low=0.0, low_open=True)

    def terms(self, online_a: torch.Tensor, online_b: torch.Tensor, prediction_a: torch.Tensor,
              prediction_b: torch.Tensor, target_a: torch.Tensor, target_b: torch.Tensor
              ) -> dict[str, torch.Tensor]:
        found = super().terms(online_a, online_b, prediction_a, prediction_b, target_a, target_b)
        h_a = entropy_estimate(self.gather(online_a), "logdet", beta=self.beta)
        h_b = entropy_estimate(self.gather(online_b), "logdet", beta=self.beta)
        found.update(entropy_a=h_a, entropy_b=h_b, loss=found["regression"] - self.alpha * (h_a + h_b))
        return found


__all__ = ["BYOLLogDetLoss", "BYOLLoss", "MOMENTUM_SCHEDULES", "byol_momentum", "regression_term"]
