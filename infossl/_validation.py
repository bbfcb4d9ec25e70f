"""Input checks at the public boundary. Error messages name the argument, the problem and the values.

Estimator kernels never validate; the public functions call these first.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import numbers
from typing import Any, Callable, Iterable, Optional, Sequence, TypeVar, Union

import numpy as np
import torch

from infossl._backend import ArrayLike, Boundary, to_tensor
from infossl._warnings import warn


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
    rows = [getattr(a, "shape", (None,))[0] if getattr(a, "ndim", 1) >= 1 else None for a in (x, y)]
    if None not in rows and rows[0] != rows[1]:  # the pairing problem first: it explains a short side too
        raise ValueError(f"x and y must have the same number of samples (rows); got {rows[0]} and {rows[1]}")
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


def check_labels(labels: Any, n: int, *, name: str = "labels") -> np.ndarray:
    """Validate class labels for ``n`` rows: the one rule of every label argument in infossl.

    Accepted: a 1-D array (numpy, torch, list, pandas) of ``n`` integers, or of floats that are all
    integer-valued (class indices saved as floats, as a CSV reader gives them). Refused: another shape or
    length, booleans, strings, complex and object data, NaN or infinite entries, and fractional values
    (a continuous target, for which the mutual information with ``z`` is the tool).

    Returns
    -------
    ndarray of int64, shape (n,)
        A fresh array; the values are kept (they are not recoded to 0..C-1).

    Examples
    --------
    >>> check_labels([0, 2.0, 1], 3)
    array([0, 2, 1])
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    elif hasattr(labels, "to_numpy") and not isinstance(labels, np.ndarray):  # pandas Series / frame
        labels = labels.to_numpy()
    try:
        lab = np.asarray(labels)
    except (TypeError, ValueError) as exc:  # ragged lists
        raise TypeError(f"{name} could not be read as an array of class labels: {exc}") from None
    if lab.ndim != 1:
        hint = f" Use {name}.reshape(-1) for an (n, 1) column." if lab.ndim == 2 and 1 in lab.shape else ""
        raise ValueError(f"{name} must be 1-D with one class label per row; got shape {lab.shape}.{hint}")
    if lab.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), one entry per row; got {lab.shape[0]} entries")
    if lab.dtype.kind not in "iuf":
        what = {"b": "boolean", "U": "string", "S": "bytes", "O": "object", "c": "complex"}.get(
            lab.dtype.kind, str(lab.dtype))
        raise TypeError(f"{name} must be integer class labels (or integer-valued floats); got {what} "
                        f"values of dtype {lab.dtype}. Encode classes as integers, e.g. with "
                        f"np.unique({name}, return_inverse=True)[1]")
    if lab.dtype.kind == "f":
        finite = np.isfinite(lab)
        if not finite.all():
            raise ValueError(f"{name} contain {int((~finite).sum())} NaN or infinite entries (first at row "
                             f"{int(np.flatnonzero(~finite)[0])}); give every row a class")
        fractional = lab != np.round(lab)
        if fractional.any():
            i = int(np.flatnonzero(fractional)[0])
            raise TypeError(f"{name} has non-integer values (e.g. {float(lab[i])!r} at row {i}); class "
                            "labels must be discrete. For a continuous target use infossl.mutual_information(z, y)")
        if np.abs(lab).max(initial=0.0) >= 2.0**63:
            big = float(lab[np.argmax(np.abs(lab))])
            raise ValueError(f"{name} has values beyond the int64 range (e.g. {big!r})")
    elif lab.dtype.kind == "u" and lab.size and lab.max() >= 2**63:
        raise ValueError(f"{name} has values beyond the int64 range (e.g. {int(lab.max())})")
    return lab.astype(np.int64)


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
    """Issue ``message`` as a :class:`DegenerateInputWarning` at the user's line (``_warnings.warn``)."""
    warn(message, DegenerateInputWarning)


# --------------------------------------------------------------------------- misspelled keyword options
def _accepted_keywords(fn: Callable) -> Optional[set[str]]:
    """The keyword names ``fn`` accepts, or None when it takes arbitrary ``**kwargs`` that nobody declared.

    A function decorated with :func:`check_options` carries its full accepted set (its own parameters plus
    what it forwards) in ``__infossl_options__``; a class is read through its ``__init__``.
    """
    declared = getattr(fn, "__infossl_options__", None)
    if declared is not None:
        return set(declared)
    target = fn.__init__ if isinstance(fn, type) else fn  # type: ignore[misc]
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    names = set()
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.add(p.name)
    names.discard("self")
    return names


def unknown_option_error(public: str, unknown: Iterable[str], accepted: Iterable[str]) -> TypeError:
    """The TypeError for misspelled or unsupported keyword options: it names the public function, each
    unknown option with the closest accepted name (``difflib``), and the accepted names."""
    accepted = sorted(set(accepted))
    parts = []
    for key in sorted(unknown):
        close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    listed = ", ".join(accepted) if accepted else "none"
    noun = "an unexpected keyword argument" if len(parts) == 1 else "unexpected keyword arguments"
    return TypeError(f"{public}() got {noun} {', '.join(parts)}; it accepts: {listed}")


def check_option_names(public: str, options: dict, *targets: Callable, extra: Iterable[str] = ()) -> None:
    """Raise :func:`unknown_option_error` if a key of ``options`` is accepted by none of ``targets``
    (functions or classes the options are forwarded to) nor listed in ``extra``.

    A target that takes undeclared ``**kwargs`` accepts everything, so no check is made then.
    """
    accepted = set(extra)
    for target in targets:
        names = _accepted_keywords(target)
        if names is None:
            return
        accepted |= names
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise unknown_option_error(public, unknown, accepted)


F = TypeVar("F", bound=Callable)


def check_options(public: Optional[str] = None, *, forwards_to: Union[None, Callable, Sequence[Callable],
                  Callable[[dict], Any]] = None, resolve: bool = False) -> Callable[[F], F]:
    """Decorator: a misspelled keyword option fails at the public function, naming it and the close name.

    ``infossl.diagnose(z, sampel_size=10)`` then raises ``TypeError: infossl.diagnose() got an unexpected
    keyword argument 'sampel_size' (did you mean 'sample_size'?); it accepts: ...`` instead of Python's
    error from an inner function.

    Parameters
    ----------
    public : str, optional
        The name shown in the message (default: ``module.qualname`` of the function, with ``infossl.`` kept).
    forwards_to : callable, sequence of callables, or (with ``resolve=True``) a function of the bound arguments
        Where the function's ``**options`` go. Their keyword parameters are accepted as well. With
        ``resolve=True`` it is called with the bound arguments (a dict, defaults applied) and returns the
        callable(s), e.g. the estimator chosen by ``method``; if it raises, no check is made and the function
        runs and reports the problem itself (an unknown method, say).
        Without ``forwards_to`` a function with ``**options`` is not checked (nothing declares them).

    Only keyword arguments are checked; positional arguments are left to Python.
    """
    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        own = {p.name for p in sig.parameters.values()
               if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
        own.discard("self")
        var_kw = next((p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        name = public or f"{fn.__module__}.{fn.__qualname__}"

        def targets(args: tuple, kwargs: dict) -> Optional[list]:
            if forwards_to is None:
                return []
            if resolve:
                try:
                    bound = sig.bind_partial(*args, **kwargs)
                    bound.apply_defaults()
                    found = forwards_to(dict(bound.arguments))  # type: ignore[operator, call-arg]
                except Exception:
                    return None
            else:
                found = forwards_to
            if found is None:
                return []
            return list(found) if isinstance(found, (list, tuple)) else [found]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            extra = [k for k in kwargs if k not in own]
            if extra:
                if var_kw is None:
                    raise unknown_option_error(name, extra, own)
                found = targets(args, kwargs)
                if found is not None and (found or forwards_to is not None):
                    check_option_names(name, {k: kwargs[k] for k in extra}, *found, extra=own)
            return fn(*args, **kwargs)

        if var_kw is None:
            wrapper.__infossl_options__ = frozenset(own)  # type: ignore[attr-defined]
        elif forwards_to is not None and not resolve:
            names: set = set(own)
            for t in (list(forwards_to) if isinstance(forwards_to, (list, tuple)) else [forwards_to]):
                acc = _accepted_keywords(t)
                if acc is None:
                    break
                names |= acc
            else:
                wrapper.__infossl_options__ = frozenset(names)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]
    return decorate
