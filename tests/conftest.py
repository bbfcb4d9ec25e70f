"""Shared fixtures, and which tests run over several seeds.

A test that draws random data through ``seed`` (or ``rng``, or any fixture built on them) runs once per seed
only when its checks are statistical: an estimate near a truth, a verdict, an inequality, any tolerance wider
than 1e-6. A test whose every check is exact -- an error or a warning (``pytest.raises`` / ``pytest.warns``),
or a comparison within 1e-6 (``pytest.approx``, ``np.allclose``, ``np.isclose``, ``assert_allclose``,
``assert_close``, ``assert_array_equal`` at their default or a tighter tolerance) -- passes for every draw or
for none, so it runs with the first seed only; the other seeds are deselected. The rule reads the test
function's own source; a statistical check hidden in a helper the test calls keeps the sweep only if the test
itself also checks something inexact or checks nothing. ``--all-seeds`` runs every seed of every test.
"""

import ast
import functools
import inspect
import sys
import textwrap

import numpy as np
import pytest

#: Tolerances at or below this make a comparison exact for the seed rule.
EXACT_TOLERANCE = 1e-6
_CLOSE = {"approx", "allclose", "isclose", "assert_allclose", "assert_close"}
_EQUAL = {"assert_array_equal", "assert_equal"}
_TOLERANCE_KEYWORDS = {"abs", "rel", "atol", "rtol"}


@pytest.fixture(params=[0, 1, 2])
def seed(request):
    """Statistical tests must pass for any seed; three are run (exact tests: the first, see above)."""
    return request.param


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)


# A user's own model module, importable as "user_nets" (model factories "user_nets:build" etc.).
FACTORY_SOURCE = """
import torch
from torch import nn

def build():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 6))

class Nets:
    @staticmethod
    def wide():
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 20))

NOT_CALLABLE = 3
"""


@pytest.fixture
def factory_module(tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text(FACTORY_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_nets"
    sys.modules.pop("user_nets", None)


def _called(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else None
    return getattr(func, "attr", getattr(func, "id", ""))


def _tight(call: ast.Call) -> bool:
    """A tolerance comparison whose tolerances are all literal numbers at most ``EXACT_TOLERANCE``."""
    for keyword in call.keywords:
        if keyword.arg in _TOLERANCE_KEYWORDS:
            try:
                if float(ast.literal_eval(keyword.value)) > EXACT_TOLERANCE:
                    return False
            except (ValueError, TypeError, SyntaxError):  # a computed tolerance: not known to be tight
                return False
    return True


def _exact_comparison(expr: ast.AST) -> bool:
    """``close(a, b)``, ``a == approx(b)``, ``close(a, b).all()`` or an ``and`` of those, all tight."""
    if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.And):
        return all(_exact_comparison(v) for v in expr.values)
    if isinstance(expr, ast.Compare) and all(isinstance(op, ast.Eq) for op in expr.ops):
        sides = [expr.left, *expr.comparators]
        return len(sides) == 2 and any(_exact_comparison(side) for side in sides)
    if isinstance(expr, ast.Call) and _called(expr) == "all" and isinstance(expr.func, ast.Attribute):
        return _exact_comparison(expr.func.value)
    return isinstance(expr, ast.Call) and _called(expr) in _CLOSE and _tight(expr)


@functools.lru_cache(maxsize=None)
def _is_exact(function) -> bool:
    """Whether every check in the test's own source is exact (the rule in this module's docstring)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return False
    checks = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            if not _exact_comparison(node.test):
                return False
            checks += 1
        elif isinstance(node, ast.Call) and _called(node).startswith("assert_"):
            if _called(node) not in _CLOSE | _EQUAL or not _tight(node):
                return False
            checks += 1
        elif isinstance(node, ast.Call) and _called(node) in ("raises", "warns"):
            checks += 1
    return checks > 0


def pytest_addoption(parser):
    parser.addoption("--all-seeds", action="store_true",
                     help="run every seed of every seeded test, exact ones included")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--all-seeds"):
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        later_seed = callspec is not None and callspec.indices.get("seed", 0) > 0
        (drop if later_seed and _is_exact(item.function) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
