"""Old names that moved keep working for one release, with a ``DeprecationWarning`` naming the new home."""

from __future__ import annotations

import functools
import importlib
import warnings
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def moved_module_getattr(module: str, moved: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``module`` serving the names in ``moved`` from their new homes.

    ``moved`` maps an old name to ``"new.module"`` (same name) or ``"new.module:new_name"``. Access warns
    once per call site (``DeprecationWarning``) and returns the new object; other names raise AttributeError.
    """
    def __getattr__(name: str) -> Any:
        target = moved.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, _, new_name = target.partition(":")
        new_name = new_name or name
        warnings.warn(f"{module}.{name} moved to {new_module}.{new_name}; the old name will be removed in the next "
                      "release", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(new_module), new_name)

    return __getattr__


def renamed(old: str, new: Callable, *, where: str) -> Callable:
    """A function under an old name that warns (``DeprecationWarning``) and calls ``new``."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"{where}.{old} is now {where}.{new.__name__}; the old name will be removed in the next "
                      "release", DeprecationWarning, stacklevel=2)
        return new(*args, **kwargs)

    wrapper.__name__ = old
    wrapper.__qualname__ = old
    wrapper.__doc__ = f"Deprecated alias of :func:`{new.__module__}.{new.__name__}`."
    wrapper.__deprecated__ = f"use {new.__module__}.{new.__name__}"  # type: ignore[attr-defined]
    return wrapper


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Decorator: the old keyword names in ``renames`` (old -> new) keep working for one release.

    A call with an old name warns (``DeprecationWarning`` naming the function and the new keyword) and passes
    the value on under the new name; giving both names is a ``TypeError``. Put it above
    :func:`~infossl._validation.check_options`, which would otherwise refuse the old name as misspelled. The
    signature shown by ``help`` and ``inspect`` is the new one.
    """
    def decorate(fn: F) -> F:
        where = f"{fn.__module__}.{fn.__qualname__}".removesuffix(".__init__")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{where}() got both {new}= and its old name {old}=")
                    warnings.warn(f"{where}({old}=...) is now {new}=...; the old name will be removed in the "
                                  "next release", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
