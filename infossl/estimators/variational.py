"""Trained variational estimators of mutual information: critics and the critic trainer.

:func:`infonce_mutual_information`, :func:`nwj_mutual_information` and :func:`dv_mutual_information` fit
a critic (:class:`SeparableCritic`, :class:`ConcatCritic` or a user module) by maximising a bound of
:mod:`infossl.estimators.bounds` (InfoNCE, NWJ, DV on the critic's score matrix) on a training split and
report the bound on a held-out test split. The bounds themselves (:func:`infonce_lower_bound`,
:func:`nwj_lower_bound`, :func:`dv_lower_bound`) live in :mod:`~infossl.estimators.bounds` and are
re-exported here.

References
----------
.. [1] B. Poole, S. Ozair, A. van den Oord, A. A. Alemi, G. Tucker, "On variational bounds of
       mutual information", ICML 2019, arXiv:1905.06922.
.. [2] M. I. Belghazi et al., "Mutual information neural estimation", ICML 2018, arXiv:1801.04062
       (a neural critic trained on the DV bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Optional, Union

import torch
from torch import nn

from infossl._backend import ArrayLike, chunk_size_for, iter_chunks
from infossl._validation import (
    check_choice,
    check_float,
    check_generator,
    check_int,
    check_pair,
    constant_columns,
    warn_degenerate,
)
from infossl.estimators.bounds import BOUND_KERNELS, dv_lower_bound, infonce_lower_bound, nwj_lower_bound
from infossl.linalg import column_std, standardize

__all__ = [
    "CriticTraining",
    "infonce_lower_bound",
    "nwj_lower_bound",
    "dv_lower_bound",
    "SeparableCritic",
    "ConcatCritic",
    "infonce_mutual_information",
    "nwj_mutual_information",
    "dv_mutual_information",
]

CRITICS = ("separable", "concat")


# ----------------------------------------------------------------------------------------------
# Critics
# ----------------------------------------------------------------------------------------------

def _mlp(dim_in: int, hidden: int, dim_out: int, layers: int) -> nn.Sequential:
    """``layers`` hidden ReLU layers of width ``hidden``, then a linear map to ``dim_out``.

    Built on the meta device (no storage, and no draw from the global RNG by the default
    initialisation); :func:`_materialise` gives it storage and generator-drawn weights.
    """
    mods: list[nn.Module] = []
    width = dim_in
    for _ in range(layers):
        mods += [nn.Linear(width, hidden, device="meta"), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, dim_out, device="meta"))
    return nn.Sequential(*mods)


def _materialise(module: nn.Module, generator: Union[None, int, torch.Generator],
                 device: Union[None, str, torch.device], dtype: Optional[torch.dtype]) -> None:
    """Allocate a meta-built module on ``device`` / ``dtype`` and draw its weights from ``generator``."""
    module.to_empty(device=torch.device("cpu") if device is None else device)
    if dtype is not None:
        module.to(dtype=dtype)
    _init_linear_layers(module, check_generator(generator, torch.device("cpu")))


def _init_linear_layers(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw every ``nn.Linear`` from the PyTorch default law U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with ``generator`` (the global RNG is not used). Draws happen on the generator's device."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    if p is None:
                        continue
                    draw = torch.empty(p.shape, device=generator.device, dtype=p.dtype)
                    draw.uniform_(-bound, bound, generator=generator)
                    p.copy_(draw)


def _check_critic_shape(dim_x: int, dim_y: int, hidden: int, layers: int) -> None:
    check_int(dim_x, "dim_x")
    check_int(dim_y, "dim_y")
    check_int(hidden, "hidden")
    check_int(layers, "layers", low=0)


class SeparableCritic(nn.Module):
    r"""Separable critic :math:`f(x, y) = g(x)^\top h(y)` with two MLPs.

    All ``b x b`` scores cost one matrix product, ``scores = g(x) @ h(y).T``.

    Parameters
    ----------
    dim_x, dim_y : int
        Input dimensions.
    hidden : int
        Width of the hidden layers.
    embed : int
        Output dimension of ``g`` and ``h``.
    layers : int
        Number of hidden ReLU layers in each MLP (0 makes ``g`` and ``h`` linear).
    generator : torch.Generator or int, optional
        Source of the initial weights (drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the PyTorch
        default law); the global RNG is not used.
    device, dtype : optional
        Where the parameters live.
    """

    def __init__(self, dim_x: int, dim_y: int, hidden: int = 256, embed: int = 32, layers: int = 2, *,
                 generator: Union[None, int, torch.Generator] = None,
                 device: Union[None, str, torch.device] = None, dtype: Optional[torch.dtype] = None):
        super().__init__()
        _check_critic_shape(dim_x, dim_y, hidden, layers)
        check_int(embed, "embed")
        self.g = _mlp(dim_x, hidden, embed, layers)
        self.h = _mlp(dim_y, hidden, embed, layers)
        _materialise(self, generator, device, dtype)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (b, dim_x), y: (b, dim_y) -> scores (b, b) with scores[i, j] = f(x_i, y_j).

        Returns
        -------
        torch.Tensor
            (b, b) scores, ``scores[i, j] = f(x_i, y_j)``.
        """
        return self.g(x) @ self.h(y).T  # (b, embed) @ (embed, b) -> (b, b)


class ConcatCritic(nn.Module):
    r"""Joint critic :math:`f(x, y) = \mathrm{MLP}([x, y])` evaluated on all ``b x b`` pairs.

    The first layer is linear in the concatenation, so its pre-activation for pair ``(i, j)`` is
    :math:`W_x x_i + W_y y_j + c`: the two halves are computed once per row and broadcast, and the
    ``(b, b, dim_x + dim_y)`` concatenation is never formed. The remaining layers run on blocks of
    ``chunk_size`` rows ``i`` (all ``j``), so one block holds ``chunk_size * b * hidden`` activations.

    Parameters
    ----------
    dim_x, dim_y : int
        Input dimensions.
    hidden : int
        Width of the hidden layers.
    layers : int
        Number of hidden ReLU layers (>= 1).
    chunk_size : int, optional
        Rows ``i`` per block; ``None`` derives it from a ~256 MiB budget.
    generator : torch.Generator or int, optional
        Source of the initial weights; the global RNG is not used.
    device, dtype : optional
        Where the parameters live.

    Notes
    -----
    Under autograd the activations of every block are kept for the backward pass, so training memory
    is still :math:`O(b^2 \cdot \mathrm{hidden})`; chunking bounds the forward temporaries.
    """

    def __init__(self, dim_x: int, dim_y: int, hidden: int = 256, layers: int = 2, *,
                 chunk_size: Optional[int] = None,
                 generator: Union[None, int, torch.Generator] = None,
                 device: Union[None, str, torch.device] = None, dtype: Optional[torch.dtype] = None):
        super().__init__()
        _check_critic_shape(dim_x, dim_y, hidden, layers)
        check_int(layers, "layers", low=1)
        if chunk_size is not None:
            check_int(chunk_size, "chunk_size")
        self.dim_x, self.chunk_size = dim_x, chunk_size
        self.net = _mlp(dim_x + dim_y, hidden, 1, layers)
        _materialise(self, generator, device, dtype)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (b, dim_x), y: (b', dim_y) -> scores (b, b') with scores[i, j] = f([x_i, y_j]).

        Returns
        -------
        torch.Tensor
            (b, b') scores, ``scores[i, j] = f([x_i, y_j])``.
        """
        first, rest = self.net[0], self.net[1:]
        w = first.weight  # (hidden, dim_x + dim_y)
        ax = x @ w[:, : self.dim_x].T + first.bias  # (b, hidden)
        ay = y @ w[:, self.dim_x:].T  # (b', hidden)
        chunk = self.chunk_size or chunk_size_for(y.shape[0] * w.shape[0], itemsize=ax.element_size(),
                                                  factor=2)
        blocks = []
        for rows in iter_chunks(x.shape[0], chunk):
            pre = ax[rows, None, :] + ay[None, :, :]  # (chunk, b', hidden)
            blocks.append(rest(pre).squeeze(-1))  # (chunk, b')
        return torch.cat(blocks, dim=0)  # (b, b')


# ----------------------------------------------------------------------------------------------
# Trained estimators
# ----------------------------------------------------------------------------------------------

def _standardise(x: torch.Tensor, train: torch.Tensor, name: str) -> torch.Tensor:
    """Centre and scale every column with the mean and standard deviation of the training rows
    (:func:`infossl.linalg.standardize`, overflow-safe at 1e+-30); constant columns (on the training rows)
    become 0, with a warning."""
    ref = x[train]  # (n_train, d)
    const = column_std(ref) == 0  # (1, d)
    if bool(const.any()):
        warn_degenerate(
            f"{name} has {int(const.sum())} constant column(s) on the training split; they carry no "
            "information and are set to 0 for the critic"
        )
    return standardize(x, center=True, reference=ref)  # (n, d)


@dataclass(frozen=True)
class CriticTraining:
    """How the variational estimators train their critic and evaluate the bound: one validated record.

    The fields are the keyword options of :func:`infonce_mutual_information`, :func:`nwj_mutual_information`
    and :func:`dv_mutual_information` (documented there), checked once when the record is made.
    """

    critic: Union[str, nn.Module] = "separable"
    steps: int = 1000
    batch_size: int = 256
    lr: float = 5e-4
    test_fraction: float = 0.3
    hidden: int = 256
    embed: int = 32
    layers: int = 2
    standardize: bool = True
    generator: Union[None, int, torch.Generator] = None
    device: Union[None, str, torch.device] = None
    #: Steps per point of the training curve.
    log_every: ClassVar[int] = 50

    def __post_init__(self) -> None:
        check_int(self.steps, "steps")
        check_int(self.batch_size, "batch_size", low=2)
        check_float(self.lr, "lr", low=0.0, low_open=True)
        check_float(self.test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
        check_int(self.hidden, "hidden")
        check_int(self.embed, "embed")
        check_int(self.layers, "layers", low=0)
        if not isinstance(self.standardize, bool):
            raise TypeError(f"standardize must be True or False, got {self.standardize!r}")
        if not isinstance(self.critic, (str, nn.Module)):
            raise TypeError(
                f"critic must be 'separable', 'concat' or a torch.nn.Module mapping (x_batch, y_batch) to a "
                f"(b, b) score matrix; got {self.critic!r}"
            )
        if isinstance(self.critic, str):
            check_choice(self.critic, "critic", CRITICS)
        if self.device is not None:
            try:
                object.__setattr__(self, "device", torch.device(self.device))
            except (RuntimeError, TypeError) as exc:
                raise TypeError(f"device must be None, a string or a torch.device, "
                                f"got {self.device!r}") from exc

    def split(self, n: int) -> tuple[int, int]:
        """(n_train, n_test) for n rows; both must hold a batch."""
        n_test = int(round(self.test_fraction * n))
        n_train = n - n_test
        if min(n_test, n_train) < self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} needs at least {self.batch_size} rows in both splits; with "
                f"n={n} and test_fraction={self.test_fraction} the training split has {n_train} rows and the test "
                f"split {n_test}. Lower batch_size or pass more samples"
            )
        return n_train, n_test

    def build_critic(self, dx: int, dy: int, generator: torch.Generator, device: torch.device,
                     dtype: torch.dtype) -> nn.Module:
        """The user's module, or a built-in critic drawn from ``generator``."""
        if isinstance(self.critic, nn.Module):
            return self.critic
        if self.critic == "separable":
            return SeparableCritic(dx, dy, self.hidden, self.embed, self.layers, generator=generator,
                                   device=device, dtype=dtype)
        return ConcatCritic(dx, dy, self.hidden, max(self.layers, 1), generator=generator, device=device,
                            dtype=dtype)


def _scores(critic: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    s = critic(x, y)
    b = x.shape[0]
    if not isinstance(s, torch.Tensor) or tuple(s.shape) != (b, b):
        shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
        raise ValueError(f"critic must return a ({b}, {b}) score matrix for a batch of {b} pairs; "
                         f"got {shape}")
    return s


def _prepared(tx: torch.Tensor, ty: torch.Tensor, train_idx: torch.Tensor,
              standardize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The two sides standardised on the training rows, or as they are (with a note on constant columns)."""
    if standardize:
        return _standardise(tx, train_idx, "x"), _standardise(ty, train_idx, "y")
    for name, t in (("x", tx), ("y", ty)):
        if bool(constant_columns(t[train_idx]).any()):
            warn_degenerate(f"{name} has constant column(s) on the training split; they carry no information")
    return tx, ty


def _fit(module: nn.Module, bound: Callable[[torch.Tensor], torch.Tensor], tx: torch.Tensor, ty: torch.Tensor,
         train_idx: torch.Tensor, perm: Callable[[int], torch.Tensor],
         training: CriticTraining) -> tuple[list[float], list[int]]:
    """Maximise ``bound`` over the critic's trainable parameters with Adam on minibatches of the training rows
    (reshuffled once per epoch); return the training curve (mean bound per window of steps) and its steps."""
    params = [p for p in module.parameters() if p.requires_grad]
    curve: list[float] = []
    curve_steps: list[int] = []
    if not params:
        return curve, curve_steps
    module.train()
    opt = torch.optim.Adam(params, lr=training.lr)
    # cosine decay to 0: the reported critic is the last iterate, and a vanishing final step size
    # keeps it from being one noisy Adam step away from a good critic
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=training.steps)
    b, n_train = training.batch_size, train_idx.shape[0]
    window = torch.zeros((), device=tx.device, dtype=tx.dtype)
    pos, epoch = n_train, train_idx
    for step in range(1, training.steps + 1):
        if pos + b > n_train:  # reshuffle the training rows once per epoch
            epoch, pos = train_idx[perm(n_train)], 0
        rows = epoch[pos:pos + b]  # (batch_size,)
        pos += b
        value = bound(_scores(module, tx[rows], ty[rows]))
        opt.zero_grad(set_to_none=True)
        (-value).backward()
        opt.step()
        schedule.step()
        window = window + value.detach()
        if step % training.log_every == 0 or step == training.steps:
            width = step - (curve_steps[-1] if curve_steps else 0)
            curve.append(float(window) / width)
            curve_steps.append(step)
            window = torch.zeros((), device=tx.device, dtype=tx.dtype)
    return curve, curve_steps


def _test_values(module: nn.Module, bound: Callable[[torch.Tensor], torch.Tensor], tx: torch.Tensor,
                 ty: torch.Tensor, test_order: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(n_test // batch_size,) bound values of the trained critic on disjoint test minibatches."""
    module.eval()
    n_batches = test_order.shape[0] // batch_size
    with torch.no_grad():
        return torch.stack([bound(_scores(module, tx[rows], ty[rows]))
                            for rows in test_order[: n_batches * batch_size].reshape(n_batches, batch_size)])


def _variational_mi(bound: str, x: ArrayLike, y: ArrayLike, training: CriticTraining,
                    return_details: bool) -> Union[float, torch.Tensor, dict]:
    """Split, (standardise,) train the critic on ``bound`` and report the bound on the test split."""
    tx, ty, boundary = check_pair(x, y, min_samples=2)
    tx, ty = tx.detach(), ty.detach()  # the critic is trained on the data; no gradient flows to it
    if training.device is not None:
        tx, ty = tx.to(training.device), ty.to(training.device)
    dev = tx.device
    n_train, n_test = training.split(tx.shape[0])
    gen = check_generator(training.generator, dev)

    def perm(k: int) -> torch.Tensor:
        return torch.randperm(k, generator=gen, device=gen.device).to(dev)

    order = perm(tx.shape[0])
    train_idx, test_idx = order[:n_train], order[n_train:]  # (n_train,), (n_test,)
    tx, ty = _prepared(tx, ty, train_idx, training.standardize)
    module = training.build_critic(tx.shape[1], ty.shape[1], gen, dev, tx.dtype)
    fn = BOUND_KERNELS[bound]
    curve, curve_steps = _fit(module, fn, tx, ty, train_idx, perm, training)
    values = _test_values(module, fn, tx, ty, test_idx[perm(n_test)], training.batch_size)  # (n_batches,)
    estimate = values.mean()
    if not bool(torch.isfinite(estimate)):
        raise ValueError(
            f"the {bound} bound is not finite on the test split ({float(estimate)}); the critic diverged. "
            "Lower lr or steps"
        )
    result = boundary.finish(estimate)
    if isinstance(result, torch.Tensor):
        result = result.detach()
    if not return_details:
        return result
    n_batches = values.shape[0]
    return {
        "estimate": result,
        "test_batch_values": values.detach().cpu().double().tolist(),
        "standard_error": float(values.std() / math.sqrt(n_batches)) if n_batches > 1 else float("nan"),
        "train_curve": curve,
        "train_curve_steps": curve_steps,
        "cap": math.log(training.batch_size) if bound == "infonce" else math.inf,
        "batch_size": training.batch_size,
        "n_train": n_train,
        "n_test": n_test,
        "critic": module,
    }


_COMMON_DOC = """
    Parameters
    ----------
    x : array or tensor, shape (n, d_x)
    y : array or tensor, shape (n, d_y)
        Paired samples (row ``i`` of ``x`` goes with row ``i`` of ``y``). 1-D input is one column.
    critic : {"separable", "concat"} or torch.nn.Module
        ``"separable"``: :class:`SeparableCritic` (``g(x) . h(y)``); ``"concat"``: :class:`ConcatCritic`
        (an MLP on ``[x, y]``, more flexible, ``b`` times costlier). A module is called as
        ``critic(x_batch, y_batch)`` on standardised batches and must return the ``(b, b)`` score matrix;
        its parameters are trained in place (a module without trainable parameters is only evaluated).
        It must live on the training device and accept its dtype (float64 for numpy input).
    steps : int
        Adam steps, each on a fresh minibatch of the training split (rows reshuffled every epoch).
    batch_size : int
        Pairs per minibatch (``>= 2``), for training and evaluation; both splits need this many rows.
    lr : float
        Initial Adam learning rate, decayed to 0 along a cosine over the ``steps`` (the reported critic is the
        last iterate; the decay keeps it from ending on a noisy step).
    test_fraction : float in (0, 1)
        Share of rows (``round(test_fraction * n)``) held out for the reported value.
    hidden, embed, layers : int
        Width, output dimension (separable only) and number of hidden layers of the built-in critics.
    standardize : bool
        Centre and scale each column with the training split's mean and standard deviation first.
        Constant columns become 0 with a :class:`~infossl._validation.DegenerateInputWarning`.
    generator : torch.Generator or int, optional
        Drives the split, the minibatches and the critic initialisation; a fixed seed makes the result
        reproducible on a given device. ``None`` draws a fresh seed.
    device : str or torch.device, optional
        Where to train; default: the input's device (CUDA tensors train on the GPU).
    return_details : bool
        If True, return a dict with ``estimate``, ``test_batch_values``, ``standard_error`` (over test
        batches), ``train_curve`` (mean training bound over each window of 50 steps, the last window
        possibly shorter) with ``train_curve_steps``, ``cap``, ``batch_size``, ``n_train``, ``n_test`` and
        the trained ``critic``.

    Returns
    -------
    float or 0-d tensor or dict
        The bound on the test split in nats, averaged over its ``n_test // batch_size`` disjoint
        minibatches (left-over rows are unused): a float for numpy input, a detached 0-d tensor for tensor
        input. The number is **not differentiable** with respect to ``x`` or ``y`` (a critic is trained
        inside); use the ``*_lower_bound`` functions on a critic's scores for a differentiable objective.
        The value is not clipped at 0: a slightly negative value means no detectable dependence.
"""


def _estimator(bound: str) -> Callable[..., Union[float, torch.Tensor, dict]]:
    """The public estimator for ``bound``: its keyword options make a :class:`CriticTraining`."""

    def estimate(x: ArrayLike, y: ArrayLike, *, critic: Union[str, nn.Module] = "separable",
                 steps: int = 1000, batch_size: int = 256, lr: float = 5e-4, test_fraction: float = 0.3, hidden: int = 256,
                 embed: int = 32, layers: int = 2, standardize: bool = True,
                 generator: Union[None, int, torch.Generator] = None,
                 device: Union[None, str, torch.device] = None,
                 return_details: bool = False) -> Union[float, torch.Tensor, dict]:
        training = CriticTraining(critic=critic, steps=steps, batch_size=batch_size, lr=lr,
                                  test_fraction=test_fraction, hidden=hidden, embed=embed, layers=layers,
                                  standardize=standardize, generator=generator, device=device)
        return _variational_mi(bound, x, y, training, return_details)

    estimate.__name__ = estimate.__qualname__ = f"{bound}_mutual_information"
    return estimate


infonce_mutual_information = _estimator("infonce")
nwj_mutual_information = _estimator("nwj")
dv_mutual_information = _estimator("dv")

infonce_mutual_information.__doc__ = r"""InfoNCE estimate of :math:`I(X;Y)` in nats with a trained critic.

    Trains a critic to maximise :func:`infonce_lower_bound` on minibatches of a training split and
    reports the bound on a held-out split. The result is **capped at** :math:`\log(\mathrm{batch\_size})`
    (5.55 nats for 256): when the true MI approaches the cap the estimate saturates and underestimates;
    raise ``batch_size`` (the cap is reported as ``cap`` with ``return_details=True``). Low variance.

    .. math::

        \hat I = \frac{1}{B}\sum_{k=1}^{B} I_{\mathrm{NCE}}(S^{(k)}), \qquad S^{(k)}_{ij} = f(x_i, y_j)
        \text{ over test minibatch } k
""" + _COMMON_DOC + r"""
    References
    ----------
    Oord et al. 2018, arXiv:1807.03748, Sec. 2.3; Poole et al. 2019, arXiv:1905.06922, Sec. 2.3.

    Examples
    --------
    Correlated Gaussians, true :math:`I = -\tfrac{d}{2}\log(1-\rho^2) = 0.673` nats for
    :math:`d = 2`, :math:`\rho = 0.7`:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 2))
    >>> y = 0.7 * x + np.sqrt(1 - 0.7**2) * rng.standard_normal((2000, 2))
    >>> est = infonce_mutual_information(x, y, steps=300, batch_size=128, hidden=64, generator=0)
    >>> abs(est - 0.673) < 0.2
    True
"""

nwj_mutual_information.__doc__ = r"""NWJ estimate of :math:`I(X;Y)` in nats with a trained critic.

    Trains a critic to maximise :func:`nwj_lower_bound` (:math:`e^{-1}`-shifted convention) and reports it
    on a held-out split. No :math:`\log b` cap and unbiased for a fixed critic, but the variance of both
    the estimate and the training signal grows like :math:`e^{I}`, so it is only reliable at moderate MI.
""" + _COMMON_DOC + r"""
    References
    ----------
    Nguyen, Wainwright & Jordan 2010; Poole et al. 2019, arXiv:1905.06922, Sec. 2.2 (I_NWJ).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 2))
    >>> y = 0.7 * x + np.sqrt(1 - 0.7**2) * rng.standard_normal((2000, 2))
    >>> est = nwj_mutual_information(x, y, steps=300, batch_size=128, hidden=64, generator=0)
    >>> abs(est - 0.673) < 0.2
    True
"""

dv_mutual_information.__doc__ = r"""Donsker-Varadhan (MINE-style) estimate of :math:`I(X;Y)` in nats.

    Trains a critic to maximise :func:`dv_lower_bound` and reports it on a held-out split. No
    :math:`\log b` cap; the log of the minibatch mean makes the value (and the training gradient) biased,
    upwards in expectation for a fixed critic, by an amount that shrinks with ``batch_size``.
""" + _COMMON_DOC + r"""
    References
    ----------
    Donsker & Varadhan 1983; Belghazi et al. 2018, arXiv:1801.04062, Def. 3.1; Poole et al. 2019,
    arXiv:1905.06922, Sec. 2.2 (I_DV).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 2))
    >>> y = 0.7 * x + np.sqrt(1 - 0.7**2) * rng.standard_normal((2000, 2))
    >>> est = dv_mutual_information(x, y, steps=300, batch_size=128, hidden=64, generator=0)
    >>> abs(est - 0.673) < 0.2
    True
"""
