"""Per-sample Jacobians of a network and the output covariance they induce from Gaussian input noise.

For an encoder :math:`f: \\mathbb R^D \\to \\mathbb R^K` and input noise :math:`\\varepsilon \\sim
\\mathcal N(0, \\Sigma_x)`, the first-order output covariance around :math:`x_i` is (exact only for an affine
network; for a ReLU network Gaussian noise always reaches other activation patterns with positive
probability, so this is an approximation that is good while that probability is small)

.. math::

    C_i = J_i \\Sigma_x J_i^\\top, \\qquad J_i = \\partial f / \\partial x \\,\\big|_{x_i}
    \\in \\mathbb R^{K \\times D}.

Two routes compute it here:

* :func:`jacobians` - exact per-sample Jacobians with ``torch.func`` (``vmap`` over samples of ``jacfwd``
  when :math:`D < K`, ``jacrev`` otherwise).
* :func:`sketch_covariance_factor` - a randomized range finder (Halko, Martinsson & Tropp 2011,
  arXiv:0909.4061, Algorithm 4.1) on :math:`A_i = J_i L` with :math:`\\Sigma_x = L L^\\top`: ``r`` JVPs give
  :math:`Y_i = A_i \\Omega_i`, :math:`Q_i = \\mathrm{orth}(Y_i)`, ``r`` VJPs give :math:`B_i = Q_i^\\top A_i`,
  and :math:`C_i \\approx (Q_i B_i)(Q_i B_i)^\\top = F_i F_i^\\top` with a factor :math:`F_i \\in \\mathbb
  R^{K \\times r}`. It is exact (up to round-off) when :math:`r \\ge \\mathrm{rank}(A_i)`, in particular when
  :math:`r \\ge K`; otherwise the expected error is that of the best rank-r approximation times a small
  factor (HMT Theorem 10.5; :math:`\\|C - F F^\\top\\|` decreases with ``r``).

Both treat samples as independent: the model must be in eval mode (a BatchNorm layer in train mode couples
the samples of a batch and is refused; see :func:`check_model`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from infossl._backend import DEFAULT_MEMORY_BUDGET, chunk_size_for, iter_chunks

__all__ = ["check_model", "jacobians", "noise_factor", "sketch_covariance_factor"]


def check_model(model: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Refuse modules whose forward pass couples the samples of a batch or is random.

    A ``torch.nn.Module`` containing BatchNorm in train mode (batch statistics) or Dropout in train mode
    (random masks) raises ``ValueError``: call ``model.eval()`` first. Plain callables are accepted as they
    are; they must act on each sample independently.
    """
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module or a callable, got {type(model).__name__}")
    if isinstance(model, nn.Module):
        for name, mod in model.named_modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.training:
                raise ValueError(
                    f"model has BatchNorm layer {name or type(mod).__name__!r} in train mode: its output for "
                    "one sample depends on the whole batch, so per-sample Jacobians are undefined. Call "
                    "model.eval() first (the layer then uses its running statistics).")
            if isinstance(mod, nn.modules.dropout._DropoutNd) and mod.training:
                raise ValueError(
                    f"model has Dropout layer {name or type(mod).__name__!r} in train mode: the map is random. "
                    "Call model.eval() first.")


def _flat_model(model: Callable, in_shape: tuple[int, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Batched map (m, D) -> (m, K) with the trailing input shape restored inside."""
    def g(u: torch.Tensor) -> torch.Tensor:
        out = model(u.reshape(u.shape[0], *in_shape))
        return out.reshape(out.shape[0], -1)
    return g


def jacobians(model: Callable, x: torch.Tensor, *, chunk_size: int | None = None,
              mode: str = "auto") -> torch.Tensor:
    """Exact per-sample Jacobians, shape (n, K, D) with D = prod(x.shape[1:]).

    ``mode="auto"`` uses forward mode (``jacfwd``, D JVPs) when D < K and reverse mode (``jacrev``, K VJPs)
    otherwise. ``chunk_size`` samples are processed at a time (default: a ~256 MiB budget for the
    (chunk, K, D) block times a factor 4 for the intermediate tensors).

    Returns
    -------
    torch.Tensor
        (n, K, D) Jacobians of the flattened outputs with respect to the flattened inputs, in ``x``'s dtype.

    Examples
    --------
    The Jacobian of a linear layer is its weight matrix at every input:

    >>> import torch
    >>> lin = torch.nn.Linear(3, 2).double()
    >>> j = jacobians(lin, torch.randn(4, 3, dtype=torch.float64))
    >>> j.shape, bool(torch.allclose(j[1], lin.weight))
    (torch.Size([4, 2, 3]), True)
    """
    in_shape = tuple(x.shape[1:])
    n, d = x.shape[0], math.prod(in_shape)
    g = _flat_model(model, in_shape)

    def single(u: torch.Tensor) -> torch.Tensor:        # (D,) -> (K,)
        return g(u.unsqueeze(0)).squeeze(0)

    with torch.no_grad():
        k = g(x[:1].reshape(1, d)).shape[1]
    if mode == "auto":
        mode = "forward" if d < k else "reverse"
    jac = torch.func.jacfwd(single) if mode == "forward" else torch.func.jacrev(single)
    batched = torch.func.vmap(jac)
    if chunk_size is None:
        chunk_size = chunk_size_for(k * d, itemsize=x.element_size(), factor=4,
                                    memory_budget=DEFAULT_MEMORY_BUDGET)
    flat = x.reshape(n, d)
    out = [batched(flat[s]).detach() for s in iter_chunks(n, chunk_size)]  # each (chunk, K, D)
    return torch.cat(out, dim=0)


def noise_factor(noise_std: float | None, noise_cov: torch.Tensor | None, d: int,
                 like: torch.Tensor) -> tuple[str, torch.Tensor]:
    """The input-noise square root L (Sigma_x = L L^T): ("iso", std), ("diag", (D,) stds) or ("full", (D, D))."""
    if noise_cov is None:
        return "iso", torch.as_tensor(float(noise_std), dtype=like.dtype, device=like.device)
    c = torch.as_tensor(noise_cov, dtype=like.dtype, device=like.device)
    if c.shape == (d,):
        return "diag", c.sqrt()
    chol, info = torch.linalg.cholesky_ex(c)
    if int(info) > 0:
        raise ValueError(f"noise_cov is not positive definite (Cholesky failed at leading minor {int(info)})")
    return "full", chol


def _apply_right(kind: str, l: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """M L for M (..., D) - the input-noise square root applied on the right."""
    return m @ l if kind == "full" else m * l


def sketch_covariance_factor(model: Callable, x: torch.Tensor, kind: str, l: torch.Tensor, rank: int, *,
                             chunk_size: int | None = None,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    """Low-rank factor F (n, K, r) with F_i F_i^T ~ J_i Sigma_x J_i^T from r JVPs and r VJPs per sample.

    Randomized range finder: Omega_i ~ N(0, I_D) (D, r); Y_i = J_i L Omega_i (r JVPs); Q_i = qr(Y_i);
    B_i^T = L^T J_i^T Q_i (r VJPs); B_i = U S V^T; F_i = Q_i U S, so that F_i F_i^T = Q_i B_i B_i^T Q_i^T.
    """
    in_shape = tuple(x.shape[1:])
    n, d = x.shape[0], math.prod(in_shape)
    g = _flat_model(model, in_shape)
    flat = x.reshape(n, d)
    with torch.no_grad():
        k = g(flat[:1]).shape[1]
    if chunk_size is None:
        # r probes of the activations live at once; budget on (r * chunk, D + K) with a generous factor.
        chunk_size = chunk_size_for(rank * (d + k), itemsize=x.element_size(), factor=16)
    out = []
    for s in iter_chunks(n, chunk_size):
        xc = flat[s]                                                          # (c, D)
        c = xc.shape[0]
        omega = torch.randn(rank, c, d, generator=generator, dtype=x.dtype, device=x.device)
        tangents = omega @ l.T if kind == "full" else omega * l               # (r, c, D): rows (L omega)^T
        y = torch.func.vmap(lambda v, xc=xc: torch.func.jvp(g, (xc,), (v,))[1])(tangents)  # (r, c, K)
        q, _ = torch.linalg.qr(y.permute(1, 2, 0))                            # (c, K, min(K, r))
        _, vjp_fn = torch.func.vjp(g, xc)
        bt = torch.func.vmap(lambda u, f=vjp_fn: f(u)[0])(q.permute(2, 0, 1))  # (q, c, D): J^T Q
        bt = _apply_right(kind, l, bt)                                        # (q, c, D): (L^T J^T Q)^T rows
        b = bt.permute(1, 0, 2)                                               # (c, q, D) = Q^T J L
        u, sv, _ = torch.linalg.svd(b, full_matrices=False)                   # (c, q, q), (c, q)
        f = q @ (u * sv.unsqueeze(1))                                         # (c, K, q)
        if f.shape[2] < rank:  # rank > K: pad with zero columns so every chunk has r columns
            f = torch.cat([f, f.new_zeros(c, k, rank - f.shape[2])], dim=2)
        out.append(f.detach())
    return torch.cat(out, dim=0)
