"""Input checks at the public boundary. Error messages name the argument, the problem and the values.

Estimator kernels never validate; the public functions call these first.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Optional, Union

import numpy as np
import torch

from infossl._backend import ArrayLike, Boundary, to_tensor


class DegenerateInputWarning(UserWarning):
    """The input is degenerate (constant columns, rank-deficient covariance, duplicate points) and the
    estimator returned the documented finite substitute described in the message."""


def check_embeddings(z: ArrayLike, *, name: str = "z", min_samples: int = 2) -> tuple[torch.Tensor, Boundary]:
    """Validate an (n, d) embedding array and convert it to a tensor.

    * 1-D input of length n is read as (n, 1);
    * 0-D, 3-D or higher input, empty input and fewer than ``min_samples`` rows are errors;
    * NaN or infinite entries are errors that give their count and first position.
    """
    t, boundary = to_tensor(z, name=name)
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    if t.ndim != 2:
        hint = f" Flatten the trailing dimensions first: {name}.reshape(len({name}), -1)." if t.ndim > 2 else ""
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {tuple(t.shape)}.{hint}")
    n, d = t.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} is empty: shape ({n}, {d})")
    if n < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples, got {n}")
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        first = torch.nonzero(~finite)[0].tolist()
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} infinite values (first at row {first[0]}, "
            f"column {first[1]}); remove or impute them before estimating"
        )
    return t, boundary


def check_pair(x: ArrayLike, y: ArrayLike, *, min_samples: int = 2
               ) -> tuple[torch.Tensor, torch.Tensor, Boundary]:
    """Validate two arrays with the same number of rows; the result follows ``x``'s type.

    A numpy array paired with a tensor is allowed; both are computed on ``x``'s device and dtype policy.
    """
    tx, bx = check_embeddings(x, name="x", min_samples=min_samples)
    ty, by = check_embeddings(y, name="y", min_samples=min_samples)
    if tx.shape[0] != ty.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples (rows); got {tx.shape[0]} and {ty.shape[0]}"
        )
    # Compute in the wider dtype on x's device.
    dtype = torch.promote_types(tx.dtype, ty.dtype)
    device = tx.device if bx.is_torch or not by.is_torch else ty.device
    boundary = bx if bx.is_torch or not by.is_torch else by
    return tx.to(device=device, dtype=dtype), ty.to(device=device, dtype=dtype), boundary


def check_int(value: object, name: str, *, low: int = 1, high: Optional[int] = None) -> int:
    """An integer in [low, high]; bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return value


def check_float(value: object, name: str, *, low: Optional[float] = None, high: Optional[float] = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low}"
        hi = "inf)" if high is None else f"{high}" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {lo}, {hi}, got {value}")
    return value


def check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value  # type: ignore[return-value]


def check_random_state(random_state: Union[None, int, np.random.Generator]) -> np.random.Generator:
    """A numpy Generator from None, an int seed or a Generator; the global RNG is never used."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    raise TypeError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")


def check_generator(generator: Union[None, int, torch.Generator], device: torch.device) -> torch.Generator:
    """A torch Generator on ``device`` from None (fresh, nondeterministic), an int seed or a Generator."""
    if isinstance(generator, torch.Generator):
        return generator
    g = torch.Generator(device=device)
    if generator is None:
        g.seed()
    elif isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        g.manual_seed(int(generator))
    else:
        raise TypeError(f"generator must be None, an int seed or a torch.Generator, got {generator!r}")
    return g


def constant_columns(z: torch.Tensor) -> torch.Tensor:
    """Boolean mask (d,) of columns whose values are all equal."""
    return (z == z[:1]).all(dim=0)


def warn_degenerate(message: str) -> None:
    warnings.warn(message, DegenerateInputWarning, stacklevel=3)
