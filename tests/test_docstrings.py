"""Every public callable in the ``__all__`` of infossl and its packages documents what it returns: a numpydoc
``Returns`` (or ``Yields``) section whenever it returns a value; for a class, each public method of its own
that returns one."""

import ast
import functools
import importlib
import inspect
import pathlib
import re
import textwrap

import pytest

import infossl

from .test_exports import PACKAGES

ROOT = pathlib.Path(infossl.__file__).parent
SECTION = re.compile(r"^\s*(Returns|Yields)\s*\n\s*-{3,}\s*$", re.MULTILINE)

def _returns_value(func) -> bool:
    """Whether ``func`` returns something: its return annotation, else a ``return <value>`` or a ``yield`` in
    its own body (not in nested functions)."""
    func = inspect.unwrap(func)
    ann = getattr(func, "__annotations__", {}).get("return", inspect.Signature.empty)
    if ann is not inspect.Signature.empty:
        none = (None, "None", "NoReturn", "typing.NoReturn")
        return ann not in none and getattr(ann, "__name__", "") != "NoReturn"
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    body = tree.body[0]

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            yield child
            yield from walk(child)

    for node in walk(body):
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
    return False


def _owner(obj) -> str:
    try:
        return pathlib.Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve().relative_to(ROOT).as_posix()
    except (TypeError, ValueError):
        return "?"


def _public_callables():
    """(file, qualified name, function) of each public function and public method of each public class."""
    seen = set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if id(obj) in seen or not callable(obj) or _owner(obj) == "?":
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
                    if inspect.isfunction(func):
                        yield _owner(func), f"{obj.__qualname__}.{attr}", func
            elif inspect.isfunction(inspect.unwrap(obj)):
                yield _owner(obj), obj.__qualname__, obj


@functools.lru_cache(maxsize=1)
def _missing():
    return frozenset((owner, qualname) for owner, qualname, func in _public_callables()
                     if _returns_value(func) and not SECTION.search(inspect.getdoc(func) or ""))


def test_every_public_callable_that_returns_documents_its_return_value():
    missing = sorted(_missing())
    assert missing == [], "add a numpydoc Returns (or Yields) section:\n" + "\n".join(
        f"  infossl/{owner}: {name}" for owner, name in missing)


def test_the_check_sees_a_missing_section():
    def documented(x):
        """Twice ``x``.

        Returns
        -------
        float
        """
        return 2 * x

    def undocumented(x):
        """Twice ``x``."""
        return 2 * x

    def nothing(x) -> None:
        """Prints ``x``."""
        print(x)

    assert SECTION.search(inspect.getdoc(documented)) and not SECTION.search(inspect.getdoc(undocumented))
    assert _returns_value(undocumented) and not _returns_value(nothing)
