"""No module of infossl imports another module's underscore name: a name shared between modules gets a public,
documented home (``infossl.linalg`` for pure formulas, a public function of the owning module otherwise).

Private *modules* (``infossl._backend``, ``infossl._validation``, ``infossl.estimators._reference``, ...) may be
imported and their public names used; the rule is about ``from infossl.X import _name`` where ``_name`` is not a
submodule and ``infossl.X`` is not the importing file itself.
"""

import ast
import pathlib

import pytest

import infossl

ROOT = pathlib.Path(infossl.__file__).parent
FILES = sorted(ROOT.rglob("*.py"))

#: Crossings still allowed, (importing file, "module.name"). Empty: every name shared between modules has a
#: public home. Do not add to it: give the shared name a public home instead.
ALLOWED: set[tuple[str, str]] = set()


def _module_of(path: pathlib.Path) -> str:
    parts = ("infossl",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_submodule(module: str, name: str) -> bool:
    base = ROOT.parent.joinpath(*module.split("."), name)
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def private_imports(tree: ast.AST, own: str) -> list[tuple[int, str]]:
    """(line, "module.name") of every ``from infossl.X import _name`` in ``tree`` (any depth) that crosses
    from module ``own`` into another module; dunder names and submodules do not count."""
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                and node.module.split(".")[0] == "infossl" and node.module != own):
            continue
        for alias in node.names:
            name = alias.name
            if name.startswith("_") and not name.startswith("__") and not _is_submodule(node.module, name):
                out.append((node.lineno, f"{node.module}.{name}"))
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_another_modules_private_name(path):
    rel = path.relative_to(ROOT).as_posix()
    found = private_imports(ast.parse(path.read_text()), _module_of(path))
    bad = [f"line {line}: from {target.rsplit('.', 1)[0]} import {target.rsplit('.', 1)[1]}"
           for line, target in found if (rel, target) not in ALLOWED]
    assert bad == [], "give the shared name a public, documented home (infossl.linalg or the owning module)"


def test_the_allow_list_has_no_stale_entries():
    found = {(p.relative_to(ROOT).as_posix(), target)
             for p in FILES for _, target in private_imports(ast.parse(p.read_text()), _module_of(p))}
    assert sorted(ALLOWED - found) == []


def test_the_checker_sees_function_local_imports_and_spares_modules_and_own_names():
    src = ("from infossl._backend import to_tensor\n"
           "from infossl.estimators import _reference\n"
           "from infossl.estimators.gaussian import _own\n"
           "def f():\n    from infossl.linalg import _hidden, __all__\n")
    assert private_imports(ast.parse(src), "infossl.estimators.gaussian") == [(5, "infossl.linalg._hidden")]
