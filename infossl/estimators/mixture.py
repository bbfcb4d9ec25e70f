"""Pairwise-distance bounds on the entropy of a Gaussian mixture (Kolchinsky & Tracey 2017).

For a mixture :math:`p = \\sum_i c_i\\,\\mathcal N(\\mu_i, \\Sigma_i)` in :math:`K` dimensions with component
index :math:`C`, the pairwise estimator with a premetric :math:`D` is

.. math::

    \\hat H_D = \\sum_i c_i H(p_i) - \\sum_i c_i \\ln \\sum_j c_j e^{-D(p_i \\| p_j)},
    \\qquad H(p_i) = \\tfrac12 \\ln\\big((2\\pi e)^K |\\Sigma_i|\\big).

:math:`D = \\mathrm{KL}` gives an upper bound on :math:`H(Z)`, any Chernoff :math:`\\alpha`-divergence
(Bhattacharyya at :math:`\\alpha = 1/2`) a lower bound; both lie in :math:`[H(Z|C), H(Z|C) + H(C)]` and are
exact when the components are well separated. The second term alone, :math:`\\hat I_D`, bounds
:math:`I(Z; C)` in the same directions.

Numerics: the means and covariances are first mapped by a common affine change of coordinates
(centring, division by a common scale :math:`s`, and whitening when one full covariance is shared), under
which every divergence is invariant and every entropy shifts by the known log-Jacobian. Pairwise blocks
are computed ``chunk_size`` rows at a time, so only ``pairwise_divergence`` ever holds an (n, n) matrix.
"""

from __future__ import annotations

import functools
import math

from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import numpy as np
import torch

from infossl._backend import (PAIR_BATCH_BYTES, ArrayLike, Boundary, chunk_size_for, full_precision,
                              iter_chunks, to_tensor)
from infossl._validation import check_choice, check_embeddings, check_float, check_int
from infossl.linalg import gaussian_entropy_from_logdet, logdet_of_cholesky

__all__ = [
    "pairwise_divergence",
    "mixture_entropy",
    "mixture_mutual_information",
    "mixture_entropy_bounds",
    "MixtureEntropyBounds",
]

DISTANCES = ("kl", "bhattacharyya", "chernoff")


class MixtureEntropyBounds(NamedTuple):
    """Bounds on the entropy of a Gaussian mixture, in nats (floats for numpy input, 0-d tensors for torch).

    ``conditional <= lower <= H(Z) <= min(upper, gaussian)`` and ``upper <= conditional + index_entropy``.
    """

    lower: Union[float, torch.Tensor]          # pairwise estimator with the Bhattacharyya distance
    upper: Union[float, torch.Tensor]          # pairwise estimator with the KL divergence
    gaussian: Union[float, torch.Tensor]       # moment-matched Gaussian: 1/2 log det(2 pi e Sigma_Z)
    conditional: Union[float, torch.Tensor]    # H(Z|C) = sum_i c_i H(p_i)
    index_entropy: Union[float, torch.Tensor]  # H(C) = -sum_i c_i ln c_i


@dataclass(frozen=True, eq=False)
class _Mixture:
    """A mixture in transformed coordinates y = T x; entropies in x are those in y plus ``log_jac``."""

    means: torch.Tensor            # (n, K)
    kind: str                      # "shared" (all covariances = I), "iso", "diag" or "full"
    var: Optional[torch.Tensor]    # iso: (n,), diag: (n, K), full: (n, K, K); None for "shared"
    chol: Optional[torch.Tensor]   # full: (n, K, K) lower Cholesky factors
    logdet: torch.Tensor           # (n,) log |Sigma_i| in y coordinates
    weights: torch.Tensor          # (n,)
    log_jac: torch.Tensor          # () log |det T^{-1}|

    @functools.cached_property
    def precision(self) -> torch.Tensor:
        """full: (n, K, K) inverse covariances, computed once and shared by all row chunks."""
        return torch.cholesky_inverse(self.chol)


# --------------------------------------------------------------------------------------- validation


def _common_boundary(*arrays: object) -> tuple[Boundary, torch.dtype, torch.device]:
    """The result follows the first torch input (means first); the dtype promotes over torch inputs only."""
    tensors = [a for a in arrays if isinstance(a, torch.Tensor)]
    if not tensors:
        return Boundary(False, torch.device("cpu"), torch.float64), torch.float64, torch.device("cpu")
    dtype = torch.float32
    for t in tensors:
        if t.dtype == torch.float64:
            dtype = torch.float64
    device = tensors[0].device
    return Boundary(True, device, dtype), dtype, device


def _convert(a: ArrayLike, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    t, _ = to_tensor(a, name=name)
    t = t.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def _first_index(mask: torch.Tensor) -> str:
    idx = torch.nonzero(mask)[0].tolist()
    return ", ".join(str(i) for i in idx)


def _prepare(means: ArrayLike, sigma: object, cov: object, weights: object) -> tuple[_Mixture, Boundary]:
    if (sigma is None) == (cov is None):
        got = "both" if sigma is not None else "neither"
        raise ValueError(f"pass exactly one of sigma= (standard deviations) or cov= (covariances); got {got}")
    boundary, dtype, device = _common_boundary(means, sigma if cov is None else cov, weights)
    m, _ = check_embeddings(means, name="means", min_samples=1)
    m = m.to(device=device, dtype=dtype)
    n, k = m.shape
    if weights is None:
        w = torch.full((n,), 1.0 / n, device=device, dtype=dtype)
    else:
        w = _convert(weights, "weights", dtype, device)
        if w.shape != (n,):
            raise ValueError(f"weights must have shape ({n},) (one per component), got {tuple(w.shape)}")
        if bool((w < 0).any()):
            bad = _first_index(w < 0)
            raise ValueError(f"weights must be non-negative; weights[{bad}] = {float(w[int(bad)])}")
        total = float(w.detach().sum())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights must sum to 1 (within 1e-6), got sum {total:.10g}")

    m = m - m.detach().mean(dim=0)  # translation: divergences and entropies are invariant
    var: Optional[torch.Tensor] = None
    chol: Optional[torch.Tensor] = None
    if sigma is not None:
        s = _convert(sigma, "sigma", dtype, device)
        if s.ndim == 0 or s.shape == (1,):
            s = s.reshape(())
        elif s.shape != (n,):
            raise ValueError(f"sigma must be a scalar or have shape ({n},) (one std per component), "
                             f"got shape {tuple(s.shape)}")
        if bool((s <= 0).any()):
            bad = _first_index((s <= 0).reshape(-1))
            raise ValueError(f"sigma must be positive; sigma[{bad}] = {float(s.reshape(-1)[int(bad)])}")
        scale = s.detach().amax()
        s = s / scale
        if s.ndim == 0:
            kind, logdet = "shared", torch.zeros(n, device=device, dtype=dtype)
            m = m / (scale * s)
            log_jac = k * torch.log(scale * s)
        else:
            kind, var = "iso", s * s                                     # (n,)
            logdet = k * torch.log(var)                                  # (n,)
            m = m / scale
            log_jac = k * torch.log(scale)
    else:
        c = _convert(cov, "cov", dtype, device)
        shapes = f"(n, K) = ({n}, {k}) diagonal, (n, K, K) = ({n}, {k}, {k}) full or ({k}, {k}) shared"
        if c.ndim == 2 and n == k and k > 1:
            raise ValueError(
                f"cov of shape {tuple(c.shape)} is ambiguous with {n} components in {k} dimensions: pass a "
                f"shared full covariance as shape (1, {k}, {k}) or diagonal covariances as full (n, K, K) "
                "matrices (e.g. torch.diag_embed(cov))")
        if c.ndim == 2 and c.shape == (n, k):
            kind = "diag"
        elif (c.ndim == 2 and c.shape == (k, k)) or (c.ndim == 3 and c.shape == (1, k, k)):
            kind, c = "shared", c.reshape(1, k, k)
        elif c.ndim == 3 and c.shape == (n, k, k):
            kind = "full"
        else:
            raise ValueError(f"cov must have shape {shapes}; got {tuple(c.shape)}")
        if kind == "diag":
            if bool((c <= 0).any()):
                i, j = (int(v) for v in torch.nonzero(c <= 0)[0])
                raise ValueError(f"diagonal cov must be positive; cov[{i}, {j}] = {float(c[i, j])} "
                                 f"(component {i} is not positive definite)")
            scale2 = c.detach().amax()
            var = c / scale2                                             # (n, K)
            logdet = torch.log(var).sum(dim=1)                           # (n,)
            m = m / scale2.sqrt()
            log_jac = 0.5 * k * torch.log(scale2)
        else:
            asym = (c - c.transpose(-1, -2)).detach().abs().amax(dim=(-1, -2))       # (n,)
            size = c.detach().abs().amax(dim=(-1, -2))                              # (n,)
            tol = max(1e-6, 100 * torch.finfo(dtype).eps)
            bad_sym = asym > tol * size
            if bool(bad_sym.any()):
                i = int(torch.nonzero(bad_sym)[0])
                raise ValueError(f"cov[{i}] is not symmetric: max |cov - cov^T| = {float(asym[i]):.3g}")
            c = 0.5 * (c + c.transpose(-1, -2))
            diag = c.detach().diagonal(dim1=-2, dim2=-1)                              # (n, K)
            scale2 = diag.amax()
            if not bool(scale2 > 0):
                raise ValueError("cov[0] is not positive definite: its diagonal is not positive")
            c = c / scale2
            chol_c, info = torch.linalg.cholesky_ex(c)                               # (n, K, K)
            if bool((info > 0).any()):
                i = int(torch.nonzero(info > 0)[0])
                which = "the shared cov" if kind == "shared" else f"cov[{i}]"
                raise ValueError(
                    f"{which} is not positive definite (Cholesky failed at leading minor {int(info[i])}); "
                    f"add a small ridge, e.g. cov + 1e-6 * scale * I")
            ld = logdet_of_cholesky(chol_c)                                          # (n,) or (1,)
            m = m / scale2.sqrt()
            if kind == "shared":  # whiten: y = L^{-1} x, every component becomes N(L^{-1} mu_i, I)
                m = torch.linalg.solve_triangular(chol_c[0], m.T, upper=False).T     # (n, K)
                logdet = torch.zeros(n, device=device, dtype=dtype)
                log_jac = 0.5 * k * torch.log(scale2) + 0.5 * ld[0]
            else:
                var, chol, logdet = c, chol_c, ld
                log_jac = 0.5 * k * torch.log(scale2)
    return _Mixture(m, kind, var, chol, logdet, w, log_jac), boundary


def _in_range(value: torch.Tensor, mix: _Mixture, what: str) -> torch.Tensor:
    """``value``, or a ValueError if it holds NaN or infinity.

    The inputs were checked finite and the coordinates scaled, so a non-finite result means the mixture
    itself does not fit the dtype: squared distances between means, in units of the largest standard
    deviation, or the ratio of the largest to the smallest variance, left its range (float32 rows at 1e30
    with unit components give squared distances near 1e61). Returning the NaN would hide that.
    """
    if bool(torch.isfinite(value.detach()).all()):
        return value
    dtype = mix.means.dtype
    span = float(mix.means.detach().abs().amax()) if mix.means.numel() else 0.0
    spread = ""
    if mix.var is not None:
        var = mix.var.detach()
        smallest = float((var.diagonal(dim1=-2, dim2=-1) if mix.kind == "full" else var).amin())
        spread = f", and the smallest variance is {smallest:.3g} times the largest"
    raise ValueError(
        f"{what} is not finite in {dtype}: the component means lie up to {span:.3g} standard deviations "
        f"(of the widest component) from their centre{spread}, and the squared distances or variance ratios "
        f"exceed the {dtype} range ({torch.finfo(dtype).max:.3g}). Pass float64 input, or bring the means and the "
        "component scales closer (e.g. a larger sigma)")


def _check_options(distance: str, alpha: float, chunk_size: Optional[int]) -> tuple[float, Optional[int]]:
    check_choice(distance, "distance", DISTANCES)
    a = check_float(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    if distance == "bhattacharyya":
        a = 0.5
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", low=1)
    return a, chunk_size


# ------------------------------------------------------------------------------------------ kernels


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (rows of a) x (rows of b) by the matmul identity, clamped at 0."""
    sq = (a * a).sum(1, keepdim=True) + (b * b).sum(1) - 2.0 * a @ b.T      # (c, n)
    return sq.clamp(min=0.0)


def _block(mix: _Mixture, rows: slice, distance: str, alpha: float) -> torch.Tensor:
    """D(p_i || p_j) for i in ``rows`` and all j: a (c, n) block."""
    m, k = mix.means, mix.means.shape[1]
    mi = m[rows]                                                             # (c, K)
    kl = distance == "kl"
    ab = alpha * (1.0 - alpha)
    if mix.kind == "shared":
        sq = _sq_dists(mi, m)                                                # (c, n)
        d = 0.5 * sq if kl else 0.5 * ab * sq
    elif mix.kind == "iso":
        sq = _sq_dists(mi, m)                                                # (c, n)
        vi, vj = mix.var[rows, None], mix.var[None, :]                       # (c, 1), (1, n)
        if kl:
            d = 0.5 * (k * vi / vj + sq / vj - k + k * torch.log(vj / vi))
        else:
            vb = (1.0 - alpha) * vi + alpha * vj                             # (c, n)
            d = 0.5 * ab * sq / vb + 0.5 * k * (torch.log(vb) - (1.0 - alpha) * torch.log(vi)
                                                - alpha * torch.log(vj))
    elif mix.kind == "diag":
        dm2 = (m[None, :, :] - mi[:, None, :]) ** 2                          # (c, n, K)
        vi, vj = mix.var[rows, None, :], mix.var[None, :, :]                 # (c, 1, K), (1, n, K)
        if kl:
            d = 0.5 * (vi / vj + dm2 / vj - 1.0 + torch.log(vj / vi)).sum(-1)
        else:
            vb = (1.0 - alpha) * vi + alpha * vj                             # (c, n, K)
            d = (0.5 * ab * dm2 / vb + 0.5 * (torch.log(vb) - (1.0 - alpha) * torch.log(vi)
                                              - alpha * torch.log(vj))).sum(-1)
    elif kl:  # full
        dm = m[None, :, :] - mi[:, None, :]                                  # (c, n, K)
        prec = mix.precision                                                 # (n, K, K)
        tr = mix.var[rows].reshape(-1, k * k) @ prec.reshape(-1, k * k).T    # (c, n): tr(P_j S_i)
        maha = torch.einsum("cja,jab,cjb->cj", dm, prec, dm)                 # (c, n)
        d = 0.5 * (tr + maha - k + mix.logdet[None, :] - mix.logdet[rows, None])
    else:  # full, Chernoff
        ri = torch.arange(m.shape[0], device=m.device)
        i, j = torch.meshgrid(ri[rows], ri, indexing="ij")                   # (c, n) each
        d = _chernoff_pairs(mix, i.reshape(-1), j.reshape(-1), alpha).reshape(i.shape)  # (c, n)
    c = d.shape[0]
    own = torch.arange(c, device=d.device)[:, None] + rows.start == torch.arange(d.shape[1], device=d.device)
    return torch.where(own, torch.zeros_like(d), d.clamp(min=0.0))           # D_ii = 0 exactly


def _default_chunk(mix: _Mixture, distance: str) -> int:
    n, k = mix.means.shape
    item = mix.means.element_size()
    cols = {"shared": n, "iso": n, "diag": n * k, "full": n * k * (1 if distance == "kl" else k)}[mix.kind]
    return chunk_size_for(cols, itemsize=item, factor=4)


def _log_mixing(mix: _Mixture, distance: str, alpha: float, chunk_size: Optional[int]) -> torch.Tensor:
    """(n,) values ln sum_j c_j exp(-D_ij), row by row, without an (n, n) matrix.

    Rows of zero weight get 0 (their value is multiplied by c_i = 0 and must not be -inf)."""
    n = mix.means.shape[0]
    logw = torch.log(mix.weights)                                            # (n,), -inf for zero weights
    if mix.kind == "full" and distance != "kl":
        out = _log_mixing_pruned(mix, logw, alpha, chunk_size)
    else:
        out = torch.cat([torch.logsumexp(logw[None, :] - _block(mix, rows, distance, alpha), dim=1)  # (c,)
                         for rows in iter_chunks(n, chunk_size or _default_chunk(mix, distance))])
    return torch.where(mix.weights > 0, out, torch.zeros_like(out))


def _prune_threshold(logw: torch.Tensor) -> float:
    """A divergence tau beyond which a pair changes no row of the pairwise sum in floating point.

    Row i's sum holds its own term c_i (D_ii = 0); all pairs with D_ij >= tau together add at most
    sum_j c_j e^{-tau} <= e^{-tau}, a relative change <= e^{-tau} / c_i. With
    tau = ln(4 / eps) - ln(min_i c_i) that is below a quarter of the dtype's rounding unit for every row."""
    eps = torch.finfo(logw.dtype).eps
    finite = logw[torch.isfinite(logw)]
    return math.log(4.0 / eps) - float(finite.min())


def _chernoff_pairs(mix: _Mixture, i: torch.Tensor, j: torch.Tensor, alpha: float) -> torch.Tensor:
    """(P,) Chernoff alpha-divergences D_alpha(p_i || p_j) of full-covariance components, pair by pair:
    1/2 a(1-a) dm^T S_a^{-1} dm + 1/2 [ln|S_a| - (1-a) ln|S_i| - a ln|S_j|], S_a = (1-a) S_i + a S_j."""
    s = mix.var
    sb = (1.0 - alpha) * s[i] + alpha * s[j]                                 # (P, K, K)
    lb, info = torch.linalg.cholesky_ex(sb)                                  # (P, K, K)
    if bool((info > 0).any()):
        raise ValueError("an interpolated covariance (1-alpha) cov[i] + alpha cov[j] is numerically "
                         "not positive definite; the covariances are too ill-conditioned")
    dm = (mix.means[j] - mix.means[i]).unsqueeze(-1)                         # (P, K, 1)
    maha = torch.linalg.solve_triangular(lb, dm, upper=False).squeeze(-1).pow(2).sum(-1)  # (P,)
    ldb = logdet_of_cholesky(lb)                                             # (P,)
    d = (0.5 * alpha * (1.0 - alpha) * maha
         + 0.5 * (ldb - (1.0 - alpha) * mix.logdet[i] - alpha * mix.logdet[j]))
    return d.clamp(min=0.0)


def _logsumexp_update(top: torch.Tensor, acc: torch.Tensor, rows: torch.Tensor,
                      vals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Online scatter-logsumexp: rows hold sum_j exp(v_j) = acc * exp(top); fold in (rows, vals)."""
    with torch.no_grad():
        new_top = top.scatter_reduce(0, rows, vals.detach(), reduce="amax", include_self=True)  # (n,)
        shift = torch.where(torch.isfinite(new_top), new_top, torch.zeros_like(new_top))      # (n,)
    added = torch.zeros_like(acc).index_add(0, rows, torch.exp(vals - shift[rows]))  # (n,)
    acc = acc * torch.exp(top - shift) + added
    return new_top, acc


def _log_mixing_pruned(mix: _Mixture, logw: torch.Tensor, alpha: float,
                       chunk_size: Optional[int]) -> torch.Tensor:
    """:func:`_log_mixing` for Chernoff divergences of full covariances, whose cost is one K x K Cholesky
    factorisation per pair. Pairs are skipped when a cheap lower bound already exceeds the threshold of
    :func:`_prune_threshold` (so the result is the dense one to rounding),

    .. math:: D_\\alpha(p_i \\| p_j) \\ge \\frac{\\alpha(1-\\alpha)}{2}
              \\frac{\\|\\mu_i - \\mu_j\\|^2}{(1-\\alpha)\\lambda_{\\max}(\\Sigma_i) + \\alpha\\lambda_{\\max}(\\Sigma_j)},

    (the log-det part is >= 0 by concavity of ln det); well-separated components (the small-noise regime)
    then cost O(K) per pair. The Bhattacharyya divergence (alpha = 1/2) is symmetric, so each unordered pair
    is factorised once and folded into both rows."""
    n, k = mix.means.shape
    m = mix.means
    tau = _prune_threshold(logw)
    with torch.no_grad():
        lam = torch.linalg.eigvalsh(mix.var.detach())[:, -1]                 # (n,) largest eigenvalues
        sqn = (m.detach() * m.detach()).sum(1)                               # (n,)
    symmetric = alpha == 0.5
    coef = 0.5 * alpha * (1.0 - alpha)
    top = logw.detach().clone()                                              # own term: c_i e^{-0}
    acc = torch.exp(logw - torch.where(torch.isfinite(top), top, torch.zeros_like(top)))  # (n,) 1 or 0
    pair_batch = max(16, PAIR_BATCH_BYTES // (k * k * m.element_size()))  # (P, K, K) blocks stay in cache
    for rows in iter_chunks(n, chunk_size or _default_chunk(mix, "kl")):
        with torch.no_grad():
            r0 = rows.start
            sq = (sqn[rows, None] + sqn[None, :] - 2.0 * m.detach()[rows] @ m.detach().T)  # (c, n)
            sq = sq.clamp(min=0.0)
            bound = coef * sq / ((1.0 - alpha) * lam[rows, None] + alpha * lam[None, :])              # (c, n)
            col = torch.arange(n, device=m.device)
            row = torch.arange(r0, r0 + sq.shape[0], device=m.device)[:, None]
            keep = (bound < tau) & (col[None, :] > row if symmetric else col[None, :] != row)         # (c, n)
            ii, jj = torch.nonzero(keep, as_tuple=True)                      # (P,), (P,)
            ii = ii + r0
        for lo in range(0, ii.numel(), pair_batch):
            i, j = ii[lo:lo + pair_batch], jj[lo:lo + pair_batch]
            d = _chernoff_pairs(mix, i, j, alpha)                            # (P,)
            top, acc = _logsumexp_update(top, acc, i, logw[j] - d)
            if symmetric:
                top, acc = _logsumexp_update(top, acc, j, logw[i] - d)
    shift = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return shift + torch.log(acc)


def _index_mi(mix: _Mixture, distance: str, alpha: float, chunk_size: Optional[int]) -> torch.Tensor:
    return 0.0 - (mix.weights * _log_mixing(mix, distance, alpha, chunk_size)).sum()  # 0.0 - : no -0.0


def _conditional(mix: _Mixture) -> torch.Tensor:
    k = mix.means.shape[1]
    return gaussian_entropy_from_logdet((mix.weights * mix.logdet).sum(), k) + mix.log_jac


def _gaussian_bound(mix: _Mixture) -> torch.Tensor:
    m, w = mix.means, mix.weights
    k = m.shape[1]
    mc = m - (w[:, None] * m).sum(0)                                         # (n, K)
    between = (w[:, None] * mc).T @ mc                                       # (K, K)
    eye = torch.eye(k, device=m.device, dtype=m.dtype)
    if mix.kind == "shared":
        within = eye
    elif mix.kind == "iso":
        within = (w * mix.var).sum() * eye
    elif mix.kind == "diag":
        within = torch.diag((w[:, None] * mix.var).sum(0))
    else:
        within = (w[:, None, None] * mix.var).sum(0)
    chol = torch.linalg.cholesky(within + between)
    return gaussian_entropy_from_logdet(logdet_of_cholesky(chol), k) + mix.log_jac


# ------------------------------------------------------------------------------------------- public

@full_precision
def pairwise_divergence(means: ArrayLike, *, cov: object = None, sigma: object = None, distance: str = "kl",
                        alpha: float = 0.5,
                        chunk_size: Optional[int] = None) -> Union[np.ndarray, torch.Tensor]:
    r"""Matrix of divergences :math:`D(p_i \| p_j)` between the Gaussian components of a mixture.

    .. math::

        \mathrm{KL}(p_i\|p_j) = \tfrac12\big[\operatorname{tr}(\Sigma_j^{-1}\Sigma_i)
            + \Delta^\top\Sigma_j^{-1}\Delta - K + \ln|\Sigma_j| - \ln|\Sigma_i|\big],

        C_\alpha(p_i\|p_j) = -\ln\int p_i^\alpha p_j^{1-\alpha}
            = \tfrac{\alpha(1-\alpha)}{2}\Delta^\top\bar\Sigma^{-1}\Delta
            + \tfrac12\ln\frac{|\bar\Sigma|}{|\Sigma_i|^{1-\alpha}|\Sigma_j|^{\alpha}},

    with :math:`\Delta = \mu_j - \mu_i` and :math:`\bar\Sigma = (1-\alpha)\Sigma_i + \alpha\Sigma_j`
    (Bhattacharyya distance: :math:`\alpha = 1/2`).

    Parameters
    ----------
    means, sigma, cov, distance, alpha, chunk_size
        As in :func:`mixture_entropy`.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (n, n)
        :math:`D_{ij} \ge 0` in nats with an exactly zero diagonal: float64 numpy for numpy input, a tensor
        (differentiable) for torch input. KL and Chernoff at :math:`\alpha \ne 1/2` are not symmetric.

    Notes
    -----
    Cost: O(n^2 K) for isotropic or diagonal covariances (a shared full covariance is whitened once),
    O(n^2 K^2) for KL with per-component full covariances, O(n^2 K^3) for Chernoff with them (one Cholesky
    per pair, ``chunk_size`` rows of pairs at a time). Divergences are invariant under a common affine map.
    Small negative rounding errors are clamped to 0.

    References
    ----------
    .. [1] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise distances",
       Entropy 19(7):361, 2017, arXiv:1706.02419 (pairwise estimator and its bounds: Section 3, Theorems 1-2;
       Gaussian KL and Chernoff-alpha closed forms: Section 4).

    Examples
    --------
    Two unit Gaussians at distance 2: KL = 2^2 / 2 = 2, Bhattacharyya = 2^2 / 8 = 0.5.

    >>> import numpy as np
    >>> mu = np.array([[0.0], [2.0]])
    >>> [round(float(pairwise_divergence(mu, sigma=1.0, distance=d)[0, 1]), 12)
    ...  for d in ("kl", "bhattacharyya")]
    [2.0, 0.5]
    """
    a, chunk_size = _check_options(distance, alpha, chunk_size)
    mix, b = _prepare(means, sigma, cov, None)
    n = mix.means.shape[0]
    chunks = iter_chunks(n, chunk_size or _default_chunk(mix, distance))
    d = torch.cat([_block(mix, rows, distance, a) for rows in chunks], dim=0)  # (n, n)
    return b.finish_many(_in_range(d, mix, "pairwise_divergence"))


@full_precision
def mixture_entropy(means: ArrayLike, *, sigma: object = None, cov: object = None, weights: object = None,
                    distance: str = "kl", alpha: float = 0.5,
                    chunk_size: Optional[int] = None) -> Union[float, torch.Tensor]:
    r"""Pairwise-distance estimate of the differential entropy of a Gaussian mixture, in nats.

    .. math::

        \hat H_D = \sum_i c_i\,\tfrac12\ln\big((2\pi e)^K|\Sigma_i|\big)
            - \sum_i c_i \ln \sum_j c_j\, e^{-D(p_i\|p_j)}

    Parameters
    ----------
    means : array_like or torch.Tensor, shape (n, K)
        Component means :math:`\mu_i`. 1-D input of length n is read as n components in one dimension.
    sigma : float or array_like, shape () or (n,), optional
        Isotropic standard deviations, same units as ``means``: one shared value
        (:math:`\Sigma_i = \sigma^2 I`) or one per component (:math:`\Sigma_i = \sigma_i^2 I`).
    cov : array_like, shape (n, K), (n, K, K), (K, K) or (1, K, K), optional
        Covariances in squared units of ``means``: (n, K) diagonal variances, (n, K, K) full matrices,
        (K, K) or (1, K, K) one shared full matrix. Exactly one of ``sigma`` and ``cov`` must be given.
        When n == K > 1 a 2-D ``cov`` is ambiguous and refused.
    weights : array_like, shape (n,), optional
        Mixing weights :math:`c_i`: non-negative, summing to 1 within 1e-6. Default uniform.
    distance : {"kl", "bhattacharyya", "chernoff"}
        "kl" gives the upper bound; "bhattacharyya" and "chernoff" (order ``alpha``) lower bounds.
    alpha : float in (0, 1)
        Order of :math:`C_\alpha(p_i\|p_j) = -\ln\int p_i^\alpha p_j^{1-\alpha}`; read only by "chernoff".
    chunk_size : int, optional
        Rows i of the pairwise block computed at once; None derives it from a ~256 MiB budget.

    Returns
    -------
    float or torch.Tensor
        :math:`\hat H_D` in nats: a float for numpy ``means``; a 0-d tensor for torch input, differentiable
        in ``means``, ``sigma``/``cov`` and ``weights``. An upper bound on :math:`H(Z)` for "kl", a lower
        bound for "bhattacharyya"/"chernoff"; always in :math:`[H(Z|C), H(Z|C) + H(C)]`.

    Notes
    -----
    The mixture is given, not sampled: the components are assumed exactly Gaussian. Both bounds are exact
    for well separated components (value :math:`H(Z|C) + H(C)`) and for identical ones; in between, the
    KL and Bhattacharyya values bracket the truth (typically within a few tenths of a nat). Scaling
    ``means`` by s and covariances by s^2 adds K ln s exactly; inputs at 1e30 or 1e-30 are divided by a
    common scale before any square is formed.

    Equal isotropic components reduce to a log-mean-exp of squared distances; the Bhattacharyya value
    equals the KL value at :math:`\sigma \to 2\sigma` plus :math:`\tfrac K2 \ln\tfrac14`.

    Cost: O(n^2 K) pairs of squared distances for isotropic/diagonal/shared covariances, O(n^2 K^2) for KL
    with per-component full covariances. Chernoff/Bhattacharyya with full covariances need one K x K
    Cholesky factorisation per pair, but only for pairs whose cheap lower bound
    :math:`\tfrac{\alpha(1-\alpha)}{2}\|\mu_i-\mu_j\|^2 / ((1-\alpha)\lambda_{\max}(\Sigma_i)
    + \alpha\lambda_{\max}(\Sigma_j))` is below :math:`\ln(4/\epsilon) - \ln\min_i c_i` (about 43 in
    float64 for 1000 equal weights): the skipped pairs change no row sum by more than a quarter of the
    rounding unit, so the result equals the dense one, and well-separated mixtures (small input noise)
    cost O(n^2 K).

    See Also
    --------
    mixture_entropy_bounds : both bounds and the moment-matched Gaussian bound at once.

    References
    ----------
    .. [1] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise distances",
       Entropy 19(7):361, 2017, arXiv:1706.02419 (pairwise estimator and its bounds: Section 3, Theorems 1-2;
       Gaussian KL and Chernoff-alpha closed forms: Section 4).

    Examples
    --------
    Two unit Gaussians in 1-D, 100 apart, equal weights: H = H(N(0, 1)) + ln 2 for both bounds.

    >>> import math, numpy as np
    >>> h = mixture_entropy(np.array([[0.0], [100.0]]), sigma=1.0, distance="bhattacharyya")
    >>> abs(h - (0.5 * math.log(2 * math.pi * math.e) + math.log(2))) < 1e-12
    True
    """
    a, chunk_size = _check_options(distance, alpha, chunk_size)
    mix, b = _prepare(means, sigma, cov, weights)
    value = _conditional(mix) + _index_mi(mix, distance, a, chunk_size)
    return b.finish(_in_range(value, mix, "mixture_entropy"))


@full_precision
def mixture_mutual_information(means: ArrayLike, *, sigma: object = None, cov: object = None,
                               weights: object = None, distance: str = "kl", alpha: float = 0.5,
                               chunk_size: Optional[int] = None) -> Union[float, torch.Tensor]:
    r"""Pairwise-distance estimate of :math:`I(Z; C)` between a mixture sample and its component index.

    .. math::

        \hat I_D = -\sum_i c_i \ln \sum_j c_j\, e^{-D(p_i\|p_j)} = \hat H_D - H(Z|C)

    When the mixture is the output of a network fed n samples plus small input noise, this is the
    information the output keeps about which sample it came from.

    Parameters
    ----------
    means, sigma, cov, weights, distance, alpha, chunk_size
        As in :func:`mixture_entropy`.

    Returns
    -------
    float or torch.Tensor
        :math:`\hat I_D` in nats, in :math:`[0, H(C)]` (:math:`H(C) = \ln n` for uniform weights): an upper
        bound on :math:`I(Z;C)` for "kl", a lower bound for "bhattacharyya"/"chernoff". Invariant under a
        common affine map of the components.

    References
    ----------
    .. [1] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise distances",
       Entropy 19(7):361, 2017, arXiv:1706.02419 (pairwise estimator and its bounds: Section 3, Theorems 1-2;
       Gaussian KL and Chernoff-alpha closed forms: Section 4).

    Examples
    --------
    Identical components carry no information about the index; separated ones carry ln n:

    >>> import math, numpy as np
    >>> mixture_mutual_information(np.zeros((2, 3)), sigma=1.0)
    0.0
    >>> round(mixture_mutual_information(np.array([[0.0], [50.0]]), sigma=1.0), 12) == round(math.log(2), 12)
    True
    """
    a, chunk_size = _check_options(distance, alpha, chunk_size)
    mix, b = _prepare(means, sigma, cov, weights)
    return b.finish(_in_range(_index_mi(mix, distance, a, chunk_size), mix, "mixture_mutual_information"))


@full_precision
def mixture_entropy_bounds(means: ArrayLike, *, sigma: object = None, cov: object = None,
                           weights: object = None, chunk_size: Optional[int] = None) -> MixtureEntropyBounds:
    r"""Lower (Bhattacharyya) and upper (KL, moment-matched Gaussian) bounds on a mixture's entropy, in nats.

    .. math::

        \hat H_{\mathrm{BD}} \le H(Z) \le \min\Big(\hat H_{\mathrm{KL}},\;
            \tfrac12\ln\det(2\pi e\,\Sigma_Z)\Big),\qquad
        \Sigma_Z = \sum_i c_i\big[\Sigma_i + (\mu_i - \bar\mu)(\mu_i - \bar\mu)^\top\big]

    The Gaussian bound is the maximum entropy at the mixture's covariance; it is not ordered with the KL
    bound in general (it is tighter for strongly overlapping components, looser for separated ones).

    Parameters
    ----------
    means, sigma, cov, weights, chunk_size
        As in :func:`mixture_entropy`.

    Returns
    -------
    MixtureEntropyBounds
        Named tuple ``(lower, upper, gaussian, conditional, index_entropy)`` in nats: the Bhattacharyya and
        KL pairwise estimates, the moment-matched Gaussian bound, :math:`H(Z|C)` and :math:`H(C)`. Floats
        for numpy input, 0-d tensors for torch input.

    References
    ----------
    .. [1] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with pairwise distances",
       Entropy 19(7):361, 2017, arXiv:1706.02419 (pairwise estimator and its bounds: Section 3, Theorems 1-2;
       Gaussian KL and Chernoff-alpha closed forms: Section 4).

    Examples
    --------
    >>> import numpy as np
    >>> b = mixture_entropy_bounds(np.array([[0.0], [1.0]]), sigma=1.0)
    >>> bool(b.conditional <= b.lower <= b.upper <= b.conditional + b.index_entropy)
    True
    """
    _, chunk_size = _check_options("kl", 0.5, chunk_size)
    mix, b = _prepare(means, sigma, cov, weights)
    cond = _in_range(_conditional(mix), mix, "the conditional entropy H(Z|C)")
    w = mix.weights
    return MixtureEntropyBounds(
        lower=b.finish(_in_range(cond + _index_mi(mix, "bhattacharyya", 0.5, chunk_size), mix,
                                 "the lower bound")),
        upper=b.finish(_in_range(cond + _index_mi(mix, "kl", 0.5, chunk_size), mix, "the upper bound")),
        gaussian=b.finish(_in_range(_gaussian_bound(mix), mix, "the Gaussian bound")),
        conditional=b.finish(cond),
        index_entropy=b.finish(-torch.xlogy(w, w).sum()),
    )

