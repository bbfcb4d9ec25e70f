"""The idealized-SSL objectives of Dubois et al. (2022): CISSL (contrastive) and DISSL (distillation).

Both are written from the paper and the authors' description of their code (arXiv 2209.06235,
``YannDubs/Invariant-Self-Supervised-Learning``: ``issl/losses/contrastive.py`` and ``issl/losses/dissl.py``).
The heads are the caller's modules; the losses take their outputs.
"""

from __future__ import annotations

import math

import torch

from infossl._validation import check_float, check_options
from infossl._warnings import warn
from infossl.objectives._base import HeadLoss
from infossl.objectives._numerics import unit_rows


class CISSLLoss(HeadLoss):
    r"""Contrastive ISSL: InfoNCE between a student and a teacher head, with the example itself a positive.

    For the 2B views (view a rows first), :math:`u_i` = normalised student output and :math:`v_j` =
    normalised teacher output, logits :math:`s_{ij} = u_i^\top v_j / \tau` over **all** 2B candidates
    (self included), and

    .. math:: \ell_i = -\tfrac12\big[\log\mathrm{softmax}_j(s_{i\cdot})_i
                                   + \log\mathrm{softmax}_j(s_{i\cdot})_{i \pm B}\big],
              \qquad L = \frac{1}{2B}\sum_i \ell_i .

    Because the student (linear + BN, matching the downstream probe) and the teacher (an MLP) differ,
    :math:`u_i^\top v_i` is not trivially maximal, so the example itself is a legitimate positive.

    Parameters
    ----------
    temperature : float, default 0.1
        :math:`\tau` (0.1 in the authors' ImageNet configuration, 0.07 on TinyImageNet).
    gather_distributed : bool
        Student anchors stay local; the teacher candidates are gathered from all ranks with gradients, so
        the mean of the loss over ranks equals the global-batch loss.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        Detached ``"loss"`` and ``"mi_lower_bound"`` = :math:`\log(2B) - L`, the quantity the authors log
        as ``I_q_zm``.

    Notes
    -----
    ``forward(student_a, student_b, teacher_a, teacher_b)``, all of shape (B, k). Normalisation is done
    here; batch norm belongs in the heads. With identical heads this is not SimCLR (use
    :class:`~infossl.objectives.InfoNCELoss`): self-similarity would dominate.

    References
    ----------
    .. [1] Y. Dubois, T. Hashimoto, S. Ermon, P. Liang, "Improving Self-Supervised Learning by
       Characterizing Idealized Representations", NeurIPS 2022, arXiv 2209.06235, section 4 (CISSL).

    Examples
    --------
    All outputs equal: every candidate has the same logit, so :math:`L = \log(2B)`.

    >>> import math, torch
    >>> o = torch.ones(4, 3)
    >>> abs(float(CISSLLoss()(o, o, o, o)) - math.log(8)) < 1e-6
    True
    """

    student_batchnorm = True

    @check_options("infossl.objectives.CISSLLoss")
    def __init__(self, *, temperature: float = 0.1, gather_distributed: bool = False) -> None:
        super().__init__(gather_distributed=gather_distributed)
        self.temperature = check_float(temperature, "temperature", low=0.0, low_open=True)

    def terms(self, student_a: torch.Tensor, student_b: torch.Tensor, teacher_a: torch.Tensor,
              teacher_b: torch.Tensor) -> dict[str, torch.Tensor]:
        n = student_a.shape[0]
        rank, world = self.rank_and_world()
        u = unit_rows(torch.cat([student_a, student_b]))  # (2B, k), F.normalize at any scale
        ta, tb = unit_rows(teacher_a), unit_rows(teacher_b)  # (B, k)
        v = torch.cat([self.gather(ta), self.gather(tb)]) if world > 1 else torch.cat([ta, tb])  # (2M, k)
        m = n * world  # global number of examples
        logp = torch.log_softmax(u @ v.T / self.temperature, dim=1)  # (2B, 2M)
        local = torch.arange(n, device=u.device) + rank * n  # global index of each local example
        rows = torch.arange(2 * n, device=u.device)
        own = torch.cat([local, local + m])  # (2B,) the example itself, same view
        other = torch.cat([local + m, local])  # (2B,) the example's other view
        loss = -0.5 * (logp[rows, own] + logp[rows, other]).mean()
        return {"loss": loss, "mi_lower_bound": math.log(2 * m) - loss}


def _marginal_entropy_log(log_p: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of the batch-mean distribution, from the rows' log-probabilities (B, C).

    ``log m = logsumexp_b(log p) - log B`` stays finite where ``m`` underflows to 0 (logits at scale 1e4),
    so ``m log m`` and its gradient ``(log m + 1) m`` are 0 there instead of ``0 * -inf = NaN``.
    """
    log_m = torch.logsumexp(log_p, dim=0) - math.log(log_p.shape[0])  # (C,)
    return -(log_m.exp() * log_m).sum()


class DISSLLoss(HeadLoss):
    r"""Distillation ISSL: a linear student predicts an MLP teacher's pseudo-class of the other view.

    With teacher :math:`t(\cdot\mid z) = \mathrm{softmax}(g(z)/\tau_t)` and student
    :math:`s(\cdot\mid z) = \mathrm{softmax}(h(z)/\tau_s)` over C pseudo-classes, for the view pairs
    (x, a) = (1, 2) and (2, 1), averaged:

    .. math::

        L = \mathbb E_b\big[\mathrm{CE}(t(\cdot\mid z_x)\,\|\,s(\cdot\mid z_a))\big]
            - \lambda\, H\big(\tfrac1B\textstyle\sum_b t(\cdot\mid z_{x,b})\big)
            + \beta\,\mathbb E_b\big[\mathrm{CE}(t(\cdot\mid z_x)\,\|\,t(\cdot\mid z_a))\big]

    (distillation, maximality, invariance + determinism). No stop-gradient, EMA, centring or Sinkhorn:
    the teacher receives gradients from all three terms. Equivalently (exact, batch plug-in)
    :math:`L = -(1+\beta) I(X;\hat M) - (\lambda-1-\beta) H(\hat M) + \mathrm{KL}(t\|s)
    + \beta\,\mathrm{KL}(t\|\tilde t)`, so for :math:`\lambda < 1 + \beta`, lowering :math:`H(\hat M)` at
    fixed :math:`I(X;\hat M)` lowers the loss.

    What that does and does not imply, on the three idealised states (C pseudo-classes, batch size a
    multiple of C, student equal to the teacher):

    * ideal clustering (deterministic, invariant, uniform marginal): :math:`L = -\lambda\ln C`;
    * total collapse (every input in one pseudo-class): :math:`L = 0`;
    * uniform teacher and student (:math:`t = s = 1/C` everywhere): :math:`L = (1 + \beta - \lambda)\ln C`.

    The ideal clustering is the global infimum for **every** :math:`\lambda > 0`: both cross-entropies are
    :math:`\ge 0` and :math:`H(\hat M) \le \ln C`, so :math:`L \ge -\lambda\ln C` (approached, not
    attained, since a softmax student is never exactly one-hot). What :math:`\lambda < 1 + \beta` changes is
    the order of the other two: total collapse (0) then scores lower than the uniform teacher
    (:math:`(1 + \beta - \lambda)\ln C > 0`), so training that starts near the uniform state (small random
    logits) can slide into collapse instead of climbing to the clustering. A :class:`UserWarning` says so.
    The authors' code notes that theory asks for :math:`\lambda \ge 1 + \beta` (arXiv 2209.06235); in our
    runs (``analysis/dissl_collapse.py``) the marginal already recovers between :math:`\lambda` = 1.0 and 1.5
    at :math:`\beta` = 0.8, not sharply at 1.8.

    Parameters
    ----------
    lambd : float, default 2.3
        :math:`\lambda`, weight of the marginal entropy (the authors' ``lambda_maximality``).
    beta : float, default 0.8
        :math:`\beta`, weight of the teacher's cross-view cross-entropy (``beta_det_inv``; 0.6 on ImageNet).
    teacher_temperature, student_temperature : float, default 0.5 and 1.0
        :math:`\tau_t`, :math:`\tau_s`.
    gather_distributed : bool
        The marginal entropy (the only batch-level term) uses the teacher distributions gathered from all
        ranks with gradients; the per-example terms stay local, so the mean of the loss over ranks equals
        the global-batch loss.

    Attributes
    ----------
    last_terms : dict of str to 0-d tensor
        Detached, in nats: ``"distillation"``, ``"marginal_entropy"`` :math:`H(\hat M)`,
        ``"det_inv"``, ``"mutual_information"`` :math:`I(X;\hat M) = H(\hat M) - \mathbb E H(t)`, ``"loss"``
        (each averaged over the two view orders).

    Notes
    -----
    ``forward(student_a, student_b, teacher_a, teacher_b)`` (the order of :class:`CISSLLoss`): the raw head
    outputs (logits), each (B, C).

    References
    ----------
    .. [1] Y. Dubois, T. Hashimoto, S. Ermon, P. Liang, "Improving Self-Supervised Learning by
       Characterizing Idealized Representations", NeurIPS 2022, arXiv 2209.06235, section 4 (DISSL).

    Examples
    --------
    Constant logits: t and s are uniform, each cross-entropy is log C and the marginal entropy is log C.

    >>> import math, torch
    >>> g = torch.zeros(6, 10)
    >>> loss = DISSLLoss(lambd=2.3, beta=0.8)(student_a=g, student_b=g, teacher_a=g, teacher_b=g)
    >>> abs(float(loss) - (1 - 2.3 + 0.8) * math.log(10)) < 1e-6
    True
    """

    student_batchnorm = False

    @check_options("infossl.objectives.DISSLLoss")
    def __init__(self, *, lambd: float = 2.3, beta: float = 0.8, teacher_temperature: float = 0.5,
                 student_temperature: float = 1.0, gather_distributed: bool = False) -> None:
        super().__init__(gather_distributed=gather_distributed)
        self.lambd = check_float(lambd, "lambd", low=0.0)
        self.beta = check_float(beta, "beta", low=0.0)
        self.teacher_temperature = check_float(teacher_temperature, "teacher_temperature", low=0.0,
                                               low_open=True)
        self.student_temperature = check_float(student_temperature, "student_temperature", low=0.0,
                                               low_open=True)
        if self.lambd < 1 + self.beta:
            warn(
                f"lambd={self.lambd} < 1 + beta={1 + self.beta}: total collapse (loss 0) now scores below a "
                "uniform teacher (loss (1 + beta - lambd) ln C > 0), so training started near uniform can "
                "slide into collapse; the ideal clustering (-lambd ln C) is still the lowest possible loss",
                UserWarning)

    def terms(self, student_a: torch.Tensor, student_b: torch.Tensor, teacher_a: torch.Tensor,
              teacher_b: torch.Tensor) -> dict[str, torch.Tensor]:
        tau_t, tau_s = self.teacher_temperature, self.student_temperature
        log_t = [torch.log_softmax(g / tau_t, dim=1) for g in (teacher_a, teacher_b)]  # (B, C) each
        log_s = [torch.log_softmax(h / tau_s, dim=1) for h in (student_a, student_b)]  # (B, C) each
        t = [lt.exp() for lt in log_t]
        distil = marg = detinv = mi = torch.zeros((), dtype=teacher_a.dtype, device=teacher_a.device)
        for x, a in ((0, 1), (1, 0)):  # (view of the teacher, view of the student): both orders, averaged
            distil = distil - (t[x] * log_s[a]).sum(dim=1).mean() / 2
            h_marg = _marginal_entropy_log(self.gather(log_t[x]))
            marg = marg + h_marg / 2
            detinv = detinv - (t[x] * log_t[a]).sum(dim=1).mean() / 2
            mi = mi + (h_marg + (t[x] * log_t[x]).sum(dim=1).mean()) / 2
        return {"distillation": distil, "marginal_entropy": marg, "det_inv": detinv, "mutual_information": mi,
                "loss": distil - self.lambd * marg + self.beta * detinv}
