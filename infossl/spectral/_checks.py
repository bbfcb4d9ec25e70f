"""Input checks shared by the kernel-regime solvers: view groups, kernel matrices, beta / lambda conventions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from infossl._backend import ArrayLike, Boundary, to_tensor
from infossl._validation import check_choice, check_embeddings, check_float

CONVENTIONS = ("penalty", "operator")


def check_groups(groups: object, n_rows: int, *, name: str = "groups") -> tuple[torch.Tensor, int, int]:
    """Validate one input id per view; every input must have the same number m >= 2 of views.

    Returns ``(inverse, n, m)``: ``inverse`` (N,) int64 maps each view to its input 0..n-1.
    """
    if groups is None:
        raise ValueError(f"{name} is required: one input id per view (row), so that views of the same input can "
                         "be paired; got None")
    if isinstance(groups, torch.Tensor):
        groups = groups.detach().cpu().numpy()
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one id per view), got shape {g.shape}")
    if g.shape[0] != n_rows:
        raise ValueError(f"{name} has {g.shape[0]} ids but there are {n_rows} views (rows)")
    if g.dtype.kind == "f" and not np.all(np.isfinite(g)):
        raise ValueError(f"{name} contains NaN or infinite ids")
    _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    if counts.min() != counts.max():
        raise ValueError(f"{name} must give every input the same number of views; got between {counts.min()} and "
                         f"{counts.max()} views per input")
    m = int(counts[0])
    if m < 2:
        raise ValueError(f"{name} must give every input at least 2 views (positive pairs); got {m} view per input")
    return torch.from_numpy(inverse.astype(np.int64).reshape(-1)), int(counts.shape[0]), m


def check_view_list(views: ArrayLike | Sequence[ArrayLike], groups: object, *, name: str = "views"
                    ) -> tuple[torch.Tensor, torch.Tensor, int, int, Boundary]:
    """Either a sequence of m >= 2 arrays (n, p) (view a of input i in row i of array a) or one (N, p) array
    with ``groups``. Returns the stacked (N, p) tensor, the inverse group index, n, m and the boundary."""
    if isinstance(views, (list, tuple)):
        if groups is not None:
            raise ValueError(f"give {name} either as a list of per-view arrays or as one array with groups, not both")
        if len(views) < 2:
            raise ValueError(f"{name} must hold at least 2 views of each input, got {len(views)}")
        parts = []
        boundary = None
        for a, v in enumerate(views):
            t, b = check_embeddings(v, name=f"{name}[{a}]", min_samples=1)
            boundary = boundary or b
            parts.append(t)
        shapes = {tuple(t.shape) for t in parts}
        if len(shapes) != 1:
            raise ValueError(f"{name} must all have the same shape (n_inputs, n_features); got {sorted(shapes)}")
        n, m = parts[0].shape[0], len(parts)
        x = torch.stack(parts, dim=1).reshape(n * m, -1)  # (n*m, p), views of input i contiguous
        inverse = torch.arange(n).repeat_interleave(m)
        return x, inverse, n, m, boundary  # type: ignore[return-value]
    x, boundary = check_embeddings(views, name=name, min_samples=2)
    inverse, n, m = check_groups(groups, x.shape[0])
    return x, inverse, n, m, boundary


def check_gram(gram: ArrayLike, *, name: str = "gram", tol: float = 1e-10) -> tuple[torch.Tensor, Boundary]:
    """A finite, square, symmetric, positive semi-definite matrix (up to ``tol`` relative to its largest entry)."""
    t, b = to_tensor(gram, name=name)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"{name} must be a square (N, N) kernel matrix, got shape {tuple(t.shape)}")
    if t.shape[0] < 2:
        raise ValueError(f"{name} must have at least 2 rows, got {t.shape[0]}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    top = t.abs().amax()
    if top == 0:
        raise ValueError(f"{name} is identically zero: the kernel has rank 0")
    asym = float((t - t.T).abs().amax() / top)
    sym_tol = 1e-10 if t.dtype == torch.float64 else 1e-5
    if asym > sym_tol:
        raise ValueError(f"{name} must be symmetric; max |K - K^T| / max |K| = {asym:.3g}")
    t = (t + t.T) / 2
    ev = torch.linalg.eigvalsh(t.double())
    psd_tol = max(tol, 1e-12 if t.dtype == torch.float64 else 1e-6)
    if float(ev[0]) < -psd_tol * float(ev[-1].abs()):
        raise ValueError(f"{name} must be positive semi-definite; smallest eigenvalue {float(ev[0]):.4g} "
                         f"(largest {float(ev[-1]):.4g})")
    return t, b


def check_beta_lam(beta: object, lam: object, convention: object) -> tuple[float, float, float]:
    """beta > 0, lam >= 0, the lambda convention; returns (beta, lam, penalty) where ``penalty`` is the weight
    of ||Theta||_HS^2 in the objective (lam for "penalty", 2 lam for "operator")."""
    beta = check_float(beta, "beta", low=0.0, low_open=True)
    lam = check_float(lam, "lam", low=0.0)
    convention = check_choice(convention, "convention", CONVENTIONS)
    return beta, lam, (lam if convention == "penalty" else 2.0 * lam)


def lambda_factor(convention: object) -> float:
    """c in T - c lam K^{-1}: 1/2 for the "penalty" convention, 1 for the "operator" convention."""
    return 0.5 if check_choice(convention, "convention", CONVENTIONS) == "penalty" else 1.0
