"""The layering rule of README "Architecture": a package imports only packages below it, never above or
beside (function-local imports and ``importlib.import_module("infossl....")`` strings included)."""

import ast
import pathlib

import pytest

import infossl

ROOT = pathlib.Path(infossl.__file__).parent

#: Rank of each top-level package or module of infossl; an import must go to a strictly lower rank.
LAYERS = {
    "linalg": 0, "_distributed": 0, "_plotting": 0, "_warnings": 0, "_progress": 0,
    "_backend": 1,
    "_validation": 2,
    "io": 3, "synthetic": 3,
    "estimators": 4, "models": 4, "spectral": 4,
    "deterministic": 5, "objectives": 5,
    "diagnostics": 6,
    "training": 7, "integrations": 7,
    "cli": 8, "__init__": 8, "__main__": 9,
}


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, infossl top-level name) of every import in ``tree``, at any depth."""
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "infossl"]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            names = [node.args[0].value]
        for name in names:
            parts = name.split(".")
            if parts[0] == "infossl" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def _unit(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0].removesuffix(".py")


FILES = sorted(ROOT.rglob("*.py"))


def test_every_package_has_a_layer():
    assert sorted({_unit(p) for p in FILES} - set(LAYERS)) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_only_go_down(path):
    unit = _unit(path)
    bad = [f"line {line}: {unit} (layer {LAYERS[unit]}) imports infossl.{target} (layer {LAYERS.get(target)})"
           for line, target in _imported(ast.parse(path.read_text()))
           if target != unit and (target not in LAYERS or LAYERS[target] >= LAYERS[unit])]
    assert bad == []


def test_the_checker_sees_function_local_and_string_imports():
    src = "def f():\n    from infossl.training import fit\n    importlib.import_module('infossl.cli')\n"
    assert _imported(ast.parse(src)) == [(2, "training"), (3, "cli")]
