"""Variational lower bounds on mutual information evaluated on a critic score matrix: InfoNCE, NWJ, DV.

``scores[i, j] = f(x_i, y_j)`` for a minibatch of ``b`` joint samples ``(x_i, y_i)``; the diagonal holds
the positive (joint) pairs and the ``b (b - 1)`` off-diagonal entries stand for samples of the product of
marginals. :func:`infonce_lower_bound`, :func:`nwj_lower_bound` and :func:`dv_lower_bound` are pure torch,
differentiable and numerically stable (every exponential is taken through ``logsumexp``); contrastive
objectives reuse them as losses, and :mod:`infossl.estimators.variational` trains critics that maximise
them (:data:`BOUND_KERNELS` holds the unchecked kernels it calls).

Off-diagonal convention. The NWJ and DV terms average over the ``b (b - 1)`` pairs ``i != j`` only:
the diagonal pairs are joint samples, not samples of ``p(x) p(y)``, and including them biases the
marginal term upwards. This is the "no-diagonal" convention of Poole et al. (2019), Sec. 2 and
their reference implementation of the TUBA/NWJ and DV bounds. The InfoNCE denominator does include
the positive (Oord et al. 2018, Sec. 2.3; Poole et al. 2019, Sec. 2.3), which is what bounds it by
``log b``.

References
----------
.. [1] B. Poole, S. Ozair, A. van den Oord, A. A. Alemi, G. Tucker, "On variational bounds of
       mutual information", ICML 2019, arXiv:1905.06922 (Sec. 2.2: I_DV, I_TUBA, I_NWJ;
       Sec. 2.3: I_NCE).
.. [2] A. van den Oord, Y. Li, O. Vinyals, "Representation learning with contrastive predictive
       coding", arXiv:1807.03748 (2018), Sec. 2.3 (the InfoNCE loss and the bound
       I >= log N - L_N).
.. [3] X. Nguyen, M. J. Wainwright, M. I. Jordan, "Estimating divergence functionals and the
       likelihood ratio by convex risk minimization", IEEE Trans. Inf. Theory 56(11), 2010.
.. [4] M. D. Donsker, S. R. S. Varadhan, "Asymptotic evaluation of certain Markov process
       expectations for large time, IV", Comm. Pure Appl. Math. 36(2), 1983.
.. [5] M. I. Belghazi et al., "Mutual information neural estimation", ICML 2018, arXiv:1801.04062
       (Definition 3.1: MINE = the DV bound with a neural critic).
"""

from __future__ import annotations

import math
from typing import Callable, Union

import torch

from infossl._backend import ArrayLike, Boundary, full_precision, to_tensor

__all__ = ["infonce_lower_bound", "nwj_lower_bound", "dv_lower_bound", "BOUND_KERNELS"]


def _log_mean_exp_offdiag(scores: torch.Tensor) -> torch.Tensor:
    """log( 1/(b(b-1)) sum_{i != j} exp(scores[i, j]) ), stable, differentiable (0-d)."""
    b = scores.shape[0]
    diag = torch.eye(b, device=scores.device, dtype=torch.bool)  # (b, b)
    off = scores.masked_fill(diag, float("-inf"))  # (b, b); masked entries get zero gradient
    return torch.logsumexp(off.reshape(-1), dim=0) - math.log(b * (b - 1))


def _infonce(scores: torch.Tensor) -> torch.Tensor:
    b = scores.shape[0]
    return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(b)


def _nwj(scores: torch.Tensor) -> torch.Tensor:
    return scores.diagonal().mean() - torch.exp(_log_mean_exp_offdiag(scores) - 1.0)


def _dv(scores: torch.Tensor) -> torch.Tensor:
    return scores.diagonal().mean() - _log_mean_exp_offdiag(scores)


def _check_scores(scores: ArrayLike) -> tuple[torch.Tensor, Boundary]:
    s, boundary = to_tensor(scores, name="scores")
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"scores must be a square (b, b) matrix; got shape {tuple(s.shape)}")
    if s.shape[0] < 2:
        raise ValueError(f"scores needs a batch of at least 2 pairs (b >= 2), got b={s.shape[0]}")
    if not bool(torch.isfinite(s).all()):
        raise ValueError(
            f"scores contains {int(torch.isnan(s).sum())} NaN and {int(torch.isinf(s).sum())} "
            "infinite values; the critic must return finite scores"
        )
    return s, boundary


@full_precision
def infonce_lower_bound(scores: ArrayLike) -> Union[float, torch.Tensor]:
    r"""InfoNCE lower bound on :math:`I(X;Y)` from a critic score matrix, in nats.

    Parameters
    ----------
    scores : array or tensor, shape (b, b)
        ``scores[i, j] = f(x_i, y_j)``; the diagonal holds the ``b`` joint (positive) pairs, ``b >= 2``.

    Returns
    -------
    float or 0-d tensor
        The bound in nats; a differentiable 0-d tensor for tensor input, a float for numpy input.

    Notes
    -----
    .. math::

        I_{\mathrm{NCE}} = \frac{1}{b}\sum_{i=1}^{b}\Big[s_{ii} - \log\sum_{j=1}^{b} e^{s_{ij}}\Big] + \log b

    (Oord et al. 2018, Sec. 2.3; Poole et al. 2019, Sec. 2.3, I_NCE). The denominator includes the positive,
    so every term is :math:`\le 0` and :math:`I_{\mathrm{NCE}} \le \log b` for *any* scores: the
    bound saturates at :math:`\log b` and cannot certify more than :math:`\log b` nats. In exchange
    it has low variance. Tight (as :math:`b \to \infty`) at :math:`f(x, y) = \log p(y|x) + c(y)`.

    Examples
    --------
    A critic that cannot tell pairs apart gives 0; a perfect one approaches :math:`\log b`:

    >>> import numpy as np
    >>> infonce_lower_bound(np.zeros((4, 4)))
    0.0
    >>> import math
    >>> abs(infonce_lower_bound(100.0 * np.eye(4)) - math.log(4)) < 1e-12
    True
    """
    s, boundary = _check_scores(scores)
    return boundary.finish(_infonce(s))


@full_precision
def nwj_lower_bound(scores: ArrayLike) -> Union[float, torch.Tensor]:
    r"""NWJ (f-divergence) lower bound on :math:`I(X;Y)` from a critic score matrix, in nats.

    Parameters
    ----------
    scores : array or tensor, shape (b, b)
        ``scores[i, j] = f(x_i, y_j)``; the diagonal holds the ``b`` joint pairs, ``b >= 2``.

    Returns
    -------
    float or 0-d tensor
        The bound in nats; a differentiable 0-d tensor for tensor input, a float for numpy input.

    Notes
    -----
    Convention: the :math:`e^{-1}`-shifted form (Nguyen, Wainwright & Jordan 2010; the f-GAN KL
    bound; Poole et al. 2019, Sec. 2.2, I_NWJ = I_TUBA with :math:`a(y) = e`),

    .. math::

        I \ge \mathbb{E}_{p(x,y)}[f] - e^{-1}\,\mathbb{E}_{p(x)p(y)}[e^{f}]
        \approx \frac{1}{b}\sum_i s_{ii} - \frac{e^{-1}}{b(b-1)}\sum_{i \ne j} e^{s_{ij}},

    tight at :math:`f^*(x, y) = 1 + \log p(y|x)/p(y)`. The marginal term averages the
    :math:`b(b-1)` off-diagonal pairs only (the diagonal pairs are joint samples). Both terms
    are plain means, so the minibatch estimate is unbiased for the population bound of a fixed
    critic, but its variance grows like :math:`e^{I}` (Poole et al. 2019, Sec. 2.3; McAllester &
    Stratos 2020). The exponential is computed as ``exp(logsumexp(...) - 1)``; scores so large that
    this overflows give ``-inf``, the correct limit of the bound.

    Examples
    --------
    >>> import numpy as np
    >>> import math
    >>> s = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> abs(nwj_lower_bound(s) - (1.0 - math.exp(-1.0))) < 1e-12
    True
    """
    s, boundary = _check_scores(scores)
    return boundary.finish(_nwj(s))


@full_precision
def dv_lower_bound(scores: ArrayLike) -> Union[float, torch.Tensor]:
    r"""Donsker-Varadhan lower bound on :math:`I(X;Y)` from a critic score matrix, in nats.

    Parameters
    ----------
    scores : array or tensor, shape (b, b)
        ``scores[i, j] = f(x_i, y_j)``; the diagonal holds the ``b`` joint pairs, ``b >= 2``.

    Returns
    -------
    float or 0-d tensor
        The value in nats; a differentiable 0-d tensor for tensor input, a float for numpy input.

    Notes
    -----
    .. math::

        I \ge \mathbb{E}_{p(x,y)}[f] - \log \mathbb{E}_{p(x)p(y)}[e^{f}]
        \approx \frac{1}{b}\sum_i s_{ii} - \log\frac{1}{b(b-1)}\sum_{i\ne j} e^{s_{ij}}

    (Donsker & Varadhan 1983; Poole et al. 2019, Sec. 2.2, I_DV; MINE, Belghazi et al. 2018, Def. 3.1), computed
    with ``logsumexp``; the marginal term uses the off-diagonal pairs only. Tight at
    :math:`f = \log p(y|x)/p(y) + c` for any constant :math:`c` (the bound is invariant to shifting
    all scores). The log of a minibatch mean is biased: by Jensen the minibatch value overestimates
    the population bound in expectation, so on a finite batch it is not a strict lower bound, and
    its gradient is biased too (MINE corrects this with a moving average; here the plain minibatch
    gradient is used).

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> dv_lower_bound(s)
    1.0
    """
    s, boundary = _check_scores(scores)
    return boundary.finish(_dv(s))


#: Name -> unchecked kernel (a finite (b, b) score tensor, b >= 2 -> 0-d tensor) of each bound, for callers
#: that build the score matrix themselves (the critic trainer of :mod:`infossl.estimators.variational`).
BOUND_KERNELS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"infonce": _infonce, "nwj": _nwj, "dv": _dv}
